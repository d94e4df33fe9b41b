#!/usr/bin/env bash
# Exports a Rank1 checkpoint (for example jhu-clsp/rank1-0.5b) from the Hugging Face hub into a model folder that
# Rank1.SearchBridge loads. Runs on YOUR machine: it needs the internet and Python 3.10+ (it makes its own venv).
#
#   tools/export-model.sh [--method optimum|builder] [--precision fp32|fp16|int4] [--ep cpu|cuda|dml]
#                         [--venv DIR] [--dry-run] MODEL_ID OUT_DIR
#
#   --method optimum   (default) `optimum-cli export onnx --task text-generation-with-past`: fp32, standard ONNX ops,
#                      int64 input_ids, position_ids, past_key_values.N.key/value. Runs everywhere.
#   --method builder   the onnxruntime-genai model builder: fp16/int4 (MatMulNBits), GroupQueryAttention, no position_ids;
#                      the right choice for DirectML on Windows and for int4 on CPU.
#   --precision        builder: fp32, fp16 or int4 (default int4); optimum: fp32 only. int4 quantizes the output
#                      layer too (the builder's /lm_head/MatMul as MatMulNBits, its default); the export checks that it did.
#   --ep               builder only (refused with optimum): the execution provider the model is built for (cpu, cuda,
#                      dml; default cpu).
#   --dry-run          print the commands without running them.
#
# The result: OUT_DIR/model.onnx (+ external weights), config.json and/or genai_config.json, tokenizer.json,
# tokenizer_config.json. Use it with `rank1-bridge rerank --model OUT_DIR` or RANK1_MODEL_DIR=OUT_DIR.
set -euo pipefail

method=optimum precision=int4 ep=cpu dry=0 venv="${XDG_CACHE_HOME:-$HOME/.cache}/rank1-export-venv" builder_only=()
usage() { sed -n '2,/^[^#]/p' "$0" | sed -n 's/^# \{0,1\}//p'; }
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --method) method="${2:?--method needs a value}"; shift 2 ;;
    --precision) precision="${2:?--precision needs a value}"; [ "$precision" = fp32 ] || builder_only+=(--precision); shift 2 ;;
    --ep) ep="${2:?--ep needs a value}"; builder_only+=(--ep); shift 2 ;;
    --venv) venv="${2:?--venv needs a value}"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --*) echo "export-model.sh: unknown option $1" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -eq 2 ] || { echo "export-model.sh: need MODEL_ID and OUT_DIR (see --help)" >&2; exit 2; }
model="${args[0]}" out="${args[1]}"
case "$method" in optimum|builder) ;; *) echo "export-model.sh: --method must be optimum or builder" >&2; exit 2 ;; esac
case "$precision" in fp32|fp16|int4) ;; *) echo "export-model.sh: --precision must be fp32, fp16 or int4" >&2; exit 2 ;; esac
case "$ep" in cpu|cuda|dml) ;; *) echo "export-model.sh: --ep must be cpu, cuda or dml" >&2; exit 2 ;; esac
# Optimum exports fp32 for any execution provider: a --precision other than fp32, or an --ep, given with it would be
# silently ignored (an "int4" export that is fp32), so it is refused.
if [ "$method" = optimum ] && [ ${#builder_only[@]} -gt 0 ]; then
  echo "export-model.sh: ${builder_only[0]} is for --method builder (--method optimum exports fp32); for an int4 or fp16 model use --method builder ${builder_only[0]} ..." >&2
  exit 2
fi

run() { echo "+ $*"; [ $dry -eq 1 ] || "$@"; }

py="$venv/bin/python"
if [ $dry -eq 1 ] || [ ! -x "$py" ]; then run python3 -m venv "$venv"; fi
if [ "$method" = optimum ]; then
  run "$py" -m pip install --quiet --upgrade "optimum[onnxruntime]>=1.23" "transformers>=4.45"
  run "$venv/bin/optimum-cli" export onnx --model "$model" --task text-generation-with-past "$out"
else
  run "$py" -m pip install --quiet --upgrade "onnxruntime-genai>=0.8" "transformers>=4.45" onnx
  run "$py" -m onnxruntime_genai.models.builder -m "$model" -o "$out" -p "$precision" -e "$ep" -c "$out/.hf-cache"
  # The builder writes genai_config.json and the tokenizer; config.json helps the loader with shapes.
  run "$py" -c "from transformers import AutoConfig; AutoConfig.from_pretrained('$model').save_pretrained('$out')"
fi
[ $dry -eq 1 ] && exit 0

for f in tokenizer.json; do
  [ -f "$out/$f" ] || { echo "export-model.sh: $out/$f is missing after the export" >&2; exit 1; }
done
[ -f "$out/model.onnx" ] || [ -f "$out/genai_config.json" ] || { echo "export-model.sh: no model.onnx or genai_config.json in $out" >&2; exit 1; }
"$py" - "$out/tokenizer.json" <<'PY'
import json, sys
added = {t["content"] for t in json.load(open(sys.argv[1]))["added_tokens"]}
missing = {"<think>", "</think>"} - added
sys.exit(f"export-model.sh: {sys.argv[1]} lacks {sorted(missing)}: is this a Rank1 checkpoint?" if missing else 0)
PY
if [ "$method" = builder ] && [ "$precision" = int4 ]; then
  # The output layer (151,936 x hidden for Qwen2) is a third of a decode step when left fp32: the builder's int4 writes
  # it as MatMulNBits (every MatMul, /lm_head/MatMul included, unless excluded); make sure this builder did.
  "$py" - "$out/model.onnx" <<'PY'
import onnx, sys
graph = onnx.load(sys.argv[1], load_external_data=False).graph
head = sorted({n.op_type for n in graph.node if n.name.startswith("/lm_head/")})
sys.exit(0 if "MatMulNBits" in head else
         f"export-model.sh: the output layer of {sys.argv[1]} is not 4-bit (its /lm_head/ nodes: {head or 'none'}); use an "
         "onnxruntime-genai builder that quantizes /lm_head/MatMul (0.8 or later, without nodes_to_exclude)")
PY
fi
echo "export-model.sh: $model exported to $out ($method). Try: rank1-bridge rerank --model $out --query ... --passages ..."
