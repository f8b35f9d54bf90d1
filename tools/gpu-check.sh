#!/usr/bin/env bash
# tools/gpu-check.sh: everything that needs the GPU, in one call, with a short summary last.
#
#   tools/gpu-check.sh [--quick] [--no-tests] [--no-bench] [--no-grade] [--no-python] [--only SECTION...]
#
# Builds for sm_90 (and sm_90a where a stage asks for it; CMake preset "gpu", header-only dependencies from
# .deps/), runs the whole test suite (the GPU tests included), grades the starters, the solutions and the
# planted stages, times the solutions (swa bench) and, where python/ and PyTorch are there, runs the Python
# package's tests and its benchmark beside FlexAttention and SDPA. Full logs and result files land in
# build/gpu-check/; with $OUT set (the device tool of the kit's developers), the JSON results and one
# archive of the logs are copied there. On a machine without network, carry the dependencies in .deps/
# (tools/pack-gpu-deps.sh) and Python wheels in .whl/; both are picked up when present.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0 tests=1 bench=1 grade=1 python=1
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --no-tests) tests=0 ;;
    --no-bench) bench=0 ;;
    --no-grade) grade=0 ;;
    --no-python) python=0 ;;
    *) echo "usage: $0 [--quick] [--no-tests] [--no-bench] [--no-grade] [--no-python]" >&2; exit 2 ;;
  esac
done

out=build/gpu-check
rm -rf "$out" && mkdir -p "$out"
summary=()
note() { summary+=("$*"); echo "== $*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
status=0

# Carried dependencies: a bubblewrap binary (the grader's sandbox) and Python wheels.
if [[ -x .deps/bin/bwrap ]]; then
  export PATH="$PWD/.deps/bin:$PATH"
  [[ -d .deps/bwrap-lib ]] && ! bwrap --version >/dev/null 2>&1 && export LD_LIBRARY_PATH="$PWD/.deps/bwrap-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    > "$out/wheels.log" 2>&1 && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi

export SWA_COMMIT=${SWA_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,memory.used --format=csv \
  > "$out/gpu.txt" 2>&1
note "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed'); bwrap: $(bwrap --version 2>/dev/null || echo none)"

t0=$(date +%s)
if ! { cmake --preset gpu && cmake --build --preset gpu -j "$(nproc)"; } > "$out/build.log" 2>&1; then
  grep -E "error|Error" "$out/build.log" | head -n 30
  note "BUILD FAILED (log: build.log); building what compiles"
  cmake --build --preset gpu -j "$(nproc)" -- -k 0 >> "$out/build.log" 2>&1
  status=1
fi
spills=$(grep -a "bytes spill stores" "$out/build.log" | grep -vc " 0 bytes spill stores" || true)
note "build: in $(elapsed "$t0"), ptxas spill warnings: $(grep -ac "Registers are spilled" "$out/build.log")"

if ((tests)); then
  t0=$(date +%s)
  # Four test programs at once, each with its share of the cores for the CPU reference; the grader's own
  # end-to-end tests time kernels and run alone (RUN_SERIAL).
  # python_gpu runs below, with the Python package's bench.
  OMP_NUM_THREADS=$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 )) timeout 540 ctest --preset gpu -j 4 -E '^python_gpu$' \
    --output-junit "$PWD/$out/ctest.xml" > "$out/ctest.log" 2>&1
  rc=$?
  line=$(grep -E "tests passed|tests failed" "$out/ctest.log" | tail -n 1)
  skipped=$(grep -c "(Skipped)" "$out/ctest.log" || true)
  note "ctest: ${line:-no summary (rc $rc)}; skipped: $skipped; in $(elapsed "$t0")"
  if ((rc != 0)); then
    status=1
    summary+=("$(grep -E '\*\*\*Failed|Timeout|Not Run|\(Failed\)' "$out/ctest.log" | head -n 25)")
  fi
fi

# The score table of a grade run: the lines from "Summary" to "TOTAL".
score_table() { sed -n '/^Summary/,/TOTAL/p' "$1"; }

if ((grade)); then
  for variant in student solution; do
    t0=$(date +%s)
    timeout 300 build/gpu/swa grade --variant $variant --out "$out/grade-$variant" > "$out/grade-$variant.txt" 2>&1
    rc=$?
    cp "$out/grade-$variant/grade.json" "$out/grade-$variant.json" 2>/dev/null
    expect=$([[ $variant == student ]] && echo "starters: expect 0, not implemented" || echo "solutions: expect full marks")
    note "grade $variant ($expect): exit $rc in $(elapsed "$t0")"
    summary+=("$(score_table "$out/grade-$variant.txt")")
    [[ $variant == solution ]] && ((rc != 0)) && status=1
  done
fi

if ((bench)); then
  t0=$(date +%s)
  slow_fill="512,1024,2048,4096"
  fast_fill="512,1024,2048,4096,8192,16384"
  ((quick)) && fast_fill="512,2048,4096" slow_fill="512,4096"
  fast=$(ls build/gpu/stages/solution/ | sed -n 's/\.so$//p' | grep -vE '^0[12]_' | paste -sd, -)
  {
    ((quick)) || timeout 200 build/gpu/swa bench --stages 01_naive,02_tiled_smem --fill-sizes "$slow_fill" \
      --json "$out/bench-slow.json"
    timeout 300 build/gpu/swa bench --stages "$fast" --fill-sizes "$fast_fill" --json "$out/bench-fast.json"
  } > "$out/bench.txt" 2> "$out/bench-progress.log"
  rc=$?
  note "bench: rc $rc in $(elapsed "$t0") (tables: bench.txt)"
  ((rc == 0)) || { status=1; tail -n 5 "$out/bench-progress.log"; }
fi

# The Python package (python/): every solution stage against PyTorch, the bench beside FlexAttention and
# SDPA (torch-bench.json), and the example; its own script prints its summary.
if ((python)) && [[ -x python/run-on-gpu.sh ]] && python3 -c "import torch" 2>/dev/null; then
  t0=$(date +%s)
  quick_env=()
  ((quick)) && quick_env=(QUICK=1)
  env "${quick_env[@]}" timeout 560 python/run-on-gpu.sh build/gpu "$out" > "$out/python.txt" 2>&1
  rc=$?
  note "python (swa_torch tests, bench, example): rc $rc in $(elapsed "$t0")"
  summary+=("$(sed -n '/^== swa_torch/,$p' "$out/python.txt")")
  ((rc == 0)) || status=1
fi

if [[ -n ${OUT:-} ]]; then
  cp "$out"/*.json "$OUT"/ 2>/dev/null
  tar -czf "$OUT/logs.tar.gz" -C "$out" --exclude='*.json' . 2>/dev/null
fi

echo
echo "==== summary ===="
printf '%s\n' "${summary[@]}"
if ((bench)) && [[ -f $out/bench.txt ]]; then
  echo "---- benchmarks (speedup: over the same stage at W >= N; bound: tile-count bound) ----"
  grep -vE "^wrote|^GPU" "$out/bench.txt" | awk 'NR == 1 || !/^stage/'
fi
exit $status
