#!/usr/bin/env bash
# tools/gpu-check.sh: everything that needs the GPU, in one call, with a short summary last.
#
#   tools/gpu-check.sh [--quick] [--no-tests] [--no-bench] [--no-grade]
#
# Builds for sm_90 (CMake preset "gpu": header-only dependencies from .deps/, see ../shared/gpu/README.md),
# runs the whole test suite (the GPU tests included), grades the starters and the solutions, and times
# the solutions. Full logs and result files are in build/gpu-check/; with $OUT set (the device tool), the
# JSON results and an archive of the logs are copied there. --quick: fewer benchmark sizes.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0 tests=1 bench=1 grade=1
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --no-tests) tests=0 ;;
    --no-bench) bench=0 ;;
    --no-grade) grade=0 ;;
    *) echo "usage: $0 [--quick] [--no-tests] [--no-bench] [--no-grade]" >&2; exit 2 ;;
  esac
done

# Work in build/gpu-check; at the end the result files (JSON) and one archive of the logs go to $OUT,
# which brings back only a few files.
out=build/gpu-check
rm -rf "$out" && mkdir -p "$out"
summary=()
note() { summary+=("$*"); echo "== $*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

export SWA_COMMIT=${SWA_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,memory.used --format=csv \
  > "$out/gpu.txt" 2>&1
note "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"

t0=$(date +%s)
if ! { cmake --preset gpu && cmake --build --preset gpu -j "$(nproc)"; } > "$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log"
  note "BUILD FAILED (log: build.log)"
  printf '%s\n' "" "==== summary ====" "${summary[@]}"
  exit 1
fi
spills=$(grep -c "bytes spill" "$out/build.log" || true)
note "build: ok in $(elapsed "$t0"), ptxas spill warnings: $spills"

status=0
if ((tests)); then
  t0=$(date +%s)
  # Four test programs at once, each with its share of the cores for the CPU reference.
  OMP_NUM_THREADS=$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 )) timeout 480 ctest --preset gpu -j 4 > "$out/ctest.log" 2>&1
  rc=$?
  line=$(grep -E "tests passed|tests failed" "$out/ctest.log" | tail -n 1)
  skipped=$(grep -c "(Skipped)" "$out/ctest.log" || true)
  note "ctest: ${line:-no summary (rc $rc)}; skipped: $skipped; in $(elapsed "$t0")"
  if ((rc != 0)); then
    status=1
    grep -E "\*\*\*Failed|Timeout|Not Run" "$out/ctest.log" | head -n 15 | sed 's/^/   /'
    summary+=("$(grep -E '\*\*\*Failed|Timeout' "$out/ctest.log" | head -n 5)")
  fi
fi

# The score table of a grade run: the lines from "Summary" to "TOTAL".
score_table() { sed -n '/^Summary/,/TOTAL/p' "$1"; }

if ((grade)); then
  for variant in student solution; do
    t0=$(date +%s)
    timeout 240 build/gpu/swa grade --variant $variant --out "$out/grade-$variant" > "$out/grade-$variant.txt" 2>&1
    rc=$?
    cp "$out/grade-$variant/grade.json" "$out/grade-$variant.json" 2>/dev/null
    expect=$([[ $variant == student ]] && echo "starters: expect 0, not implemented" || echo "solutions: expect full marks")
    note "grade $variant ($expect): exit $rc in $(elapsed "$t0")"
    summary+=("$(score_table "$out/grade-$variant.txt")")
    [[ $variant == solution ]] && ((rc != 0)) && status=1
  done
  # A realistic mistake for figure 5 of plots/ (the window's right edge one key too far).
  if [[ -f build/gpu/stages/planted/04_off_by_one.so ]]; then
    timeout 120 build/gpu/swa grade --variant planted 04_off_by_one --out "$out/grade-planted" > "$out/grade-planted.txt" 2>&1
    note "grade planted 04_off_by_one (expect lost correctness and window points): exit $?, $(grep -E '^04_off_by_one' "$out/grade-planted.txt" | head -n 1)"
    cp "$out/grade-planted/grade.json" "$out/grade-planted.json" 2>/dev/null
  fi
fi

if ((bench)); then
  t0=$(date +%s)
  slow_fill="512,1024,2048,4096"
  fast_fill="512,1024,2048,4096,8192,16384"
  ((quick)) && fast_fill="512,2048,4096" slow_fill="512,4096"
  {
    timeout 200 build/gpu/swa bench --stages 01_naive,02_tiled_smem --fill-sizes "$slow_fill" \
      --json "$out/bench-slow.json" &&
    timeout 200 build/gpu/swa bench --stages 03_masked_windows,04_online_softmax,05_bonus_patterns \
      --fill-sizes "$fast_fill" --json "$out/bench-fast.json" &&
    timeout 150 build/gpu/swa bench --stages 05_bonus_patterns --fill-sizes 4096 \
      --pattern causal:128 dilated:64:2 global:128:0 adaptive:64:192 --json "$out/bench-patterns.json"
  } > "$out/bench.txt" 2> "$out/bench-progress.log"
  rc=$?
  note "bench: rc $rc in $(elapsed "$t0") (tables: bench.txt)"
  ((rc == 0)) || { status=1; tail -n 5 "$out/bench-progress.log"; }
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
