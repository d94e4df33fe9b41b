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
#                      the right choice for int4 on CPU and for CUDA. Not for DirectML: see --ep. The only method for a checkpoint
#                      that is already quantized (AWQ or GPTQ, e.g. jhu-clsp/Rank1-7B-awq), which it exports as int4.
#   --precision        builder: fp32, fp16 or int4 (default int4); optimum: fp32 only. int4 quantizes the output
#                      layer too (the builder's /lm_head/MatMul as MatMulNBits, its default); the export checks that it did.
#   --ep               builder only (refused with optimum): the execution provider the model is built for (cpu, cuda,
#                      dml; default cpu). The builder builds fp32 for cpu or cuda, fp16 for cuda or dml, int4 for cpu,
#                      cuda or dml; fp16 for cpu is refused, and so is dml: DirectML's
#                      GroupQueryAttention reads its past from a KV cache kept on the device, which Rank1.SearchBridge
#                      does not keep (the engine refuses such a graph on DirectML). For DirectML, use --method optimum.
#   --venv DIR         the Python venv the exporter is installed in (default $XDG_CACHE_HOME/rank1-export-venv).
#   --dry-run          print the commands and checks without running them.
#
# Before the export, the checkpoint's config.json is downloaded and checked: a quantized checkpoint (its
# quantization_config: AWQ, GPTQ) is refused with --method optimum, and with --method builder unless --precision int4
# (a MODEL_ID ending in -awq or -gptq is taken as quantized before anything runs). The builder reads the checkpoint
# from a local snapshot, $XDG_CACHE_HOME/rank1-export/models/ORG--NAME (kept for the next run), and writes its
# temporary files in $XDG_CACHE_HOME/rank1-export/builder-cache/ORG--NAME: neither is inside OUT_DIR
# ($XDG_CACHE_HOME: ~/.cache if unset).
#
# The result: OUT_DIR/model.onnx (+ external weights), config.json and/or genai_config.json, tokenizer.json,
# tokenizer_config.json. Use it with `rank1-bridge rerank --model OUT_DIR` or RANK1_MODEL_DIR=OUT_DIR.
set -euo pipefail

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}"
method=optimum precision=int4 ep=cpu dry=0 venv="$cache_root/rank1-export-venv" builder_only=()
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
# The builder's DirectML graphs use GroupQueryAttention, whose DirectML kernel binds no past inputs: it reads the past
# from its present outputs, a KV cache kept on the device (onnxruntime DmlOperatorGroupQueryAttention.cpp). The engine
# keeps the cache in host memory, so it refuses such a graph on DirectML (CausalLm.DirectMlRefusal); say so before the export.
if [ "$method" = builder ] && [ "$ep" = dml ]; then
  echo "export-model.sh: --ep dml builder graphs use GroupQueryAttention, whose DirectML kernel reads the past from a KV cache kept on the device, which Rank1.SearchBridge does not keep (it refuses them at load); for DirectML use --method optimum" >&2
  exit 2
fi
# The builder's own list (builder.py get_args: "Valid precision + execution provider combinations are: FP32 CPU,
# FP32 CUDA, FP16 CUDA, FP16 DML, ... INT4 CPU, INT4 CUDA, INT4 DML, ..."), less dml (above): fp16 for cpu falls back to
# fp16 MultiHeadAttention, which the CPU provider does not run.
if [ "$method" = builder ] && [ "$precision/$ep" = fp16/cpu ]; then
  echo "export-model.sh: the builder does not build fp16 for --ep cpu; it builds fp32 or int4 for cpu, and fp32, fp16 or int4 for cuda" >&2
  exit 2
fi
# A checkpoint that is already 4-bit (AWQ, GPTQ): Optimum has no path for it, and the builder's quantized path writes
# its weights as MatMulNBits only at int4 (at fp16/fp32 it asks the quantized layers for a float `weight` they lack).
# Named so, it is refused here; whatever its name, its config.json is checked before the export.
quantized_refusal() { # $1: the checkpoint, $2: its quantization method (and what says so)
  if [ "$method" = optimum ]; then
    echo "export-model.sh: $1 is already quantized ($2), which --method optimum cannot export; use --method builder (int4)"
  elif [ "$precision" != int4 ]; then
    echo "export-model.sh: $1 is already quantized ($2), which the builder exports as int4 only; use --precision int4"
  fi
}
case "$model" in
  *-[aA][wW][qQ]) refusal="$(quantized_refusal "$model" AWQ)" ;;
  *-[gG][pP][tT][qQ]) refusal="$(quantized_refusal "$model" GPTQ)" ;;
  *) refusal= ;;
esac
[ -z "$refusal" ] || { echo "$refusal" >&2; exit 2; }

run() { echo "+ $*"; [ $dry -eq 1 ] || "$@"; }

py="$venv/bin/python"
# One folder per model id, outside OUT_DIR: the snapshot is large and is reused by the next export of the same model.
slug="${model//\//--}"
snapshot="$cache_root/rank1-export/models/$slug"
if [ $dry -eq 1 ] || [ ! -x "$py" ]; then run python3 -m venv "$venv"; fi
if [ "$method" = optimum ]; then
  run "$py" -m pip install --quiet --upgrade "optimum[onnxruntime]>=1.23" "transformers>=4.45"
else
  run "$py" -m pip install --quiet --upgrade "onnxruntime-genai>=0.8" "transformers>=4.45" onnx
fi
# config.json alone first (seconds), so a checkpoint this method cannot export is refused before the long download.
run "$py" -c 'import sys; from huggingface_hub import hf_hub_download; hf_hub_download(sys.argv[1], "config.json", local_dir=sys.argv[2])' "$model" "$snapshot"
if [ $dry -eq 1 ]; then
  echo "+ check $snapshot/config.json: a quantization_config (AWQ, GPTQ) is refused $( [ "$method" = optimum ] && echo "with --method optimum" || echo "unless --precision int4")"
else
  quant="$("$py" -c 'import json, sys; q = json.load(open(sys.argv[1])).get("quantization_config"); print(q.get("quant_method", "unknown") if q else "")' "$snapshot/config.json")"
  if [ -n "$quant" ]; then
    refusal="$(quantized_refusal "$model" "$quant, says its config.json")"
    [ -z "$refusal" ] || { echo "$refusal" >&2; exit 1; }
  fi
fi
if [ "$method" = optimum ]; then
  run "$venv/bin/optimum-cli" export onnx --model "$model" --task text-generation-with-past "$out"
else
  # The builder reads a local folder (-i): its quantized (AWQ/GPTQ) path lists the folder's *.safetensors and has no
  # download of its own, and with -i it takes the config and tokenizer from that folder too (builder.py get_hf_details).
  # -c holds its temporary files; it deletes the folder only when empty, so it is kept out of OUT_DIR.
  run "$py" -c 'import sys; from huggingface_hub import snapshot_download; snapshot_download(sys.argv[1], local_dir=sys.argv[2])' "$model" "$snapshot"
  run "$py" -m onnxruntime_genai.models.builder -i "$snapshot" -o "$out" -p "$precision" -e "$ep" -c "$cache_root/rank1-export/builder-cache/$slug"
  # The builder writes genai_config.json and the tokenizer; config.json helps the loader with shapes.
  run "$py" -c 'import sys; from transformers import AutoConfig; AutoConfig.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2])' "$snapshot" "$out"
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
