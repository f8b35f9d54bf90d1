#!/usr/bin/env bash
# tools/gpu-check.sh: everything that needs the GPU, in one call, with a short summary last.
#
#   tools/gpu-check.sh [--quick] [--no-tests] [--no-bench] [--no-grade]
#
# Builds for sm_90 (CMake preset "gpu": header-only dependencies from .deps/, see ../shared/gpu/README.md),
# runs the whole test suite (the GPU tests included), grades the starters and the solutions, and times
# the solutions. Full logs and result files go to $OUT (the device tool brings them back), else to
# build/gpu-check/. --quick: fewer benchmark sizes.
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

out=${OUT:-build/gpu-check}
mkdir -p "$out"
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
  timeout 420 ctest --preset gpu -j 4 > "$out/ctest.log" 2>&1
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

if ((grade)) && [[ -x build/gpu/swa ]] && build/gpu/swa grade --help > /dev/null 2>&1; then
  t0=$(date +%s)
  timeout 150 build/gpu/swa grade --variant student --json "$out/grade-student.json" > "$out/grade-student.txt" 2>&1
  note "grade, starters (expect 0, not implemented): rc $? in $(elapsed "$t0")"
  summary+=("$(grep -E '^TOTAL|^Total' "$out/grade-student.txt")")
  t0=$(date +%s)
  timeout 150 build/gpu/swa grade --variant solution --json "$out/grade-solution.json" > "$out/grade-solution.txt" 2>&1
  rc=$?
  note "grade, solutions (expect full marks): rc $rc in $(elapsed "$t0")"
  summary+=("$(grep -E '^TOTAL|^Total' "$out/grade-solution.txt")")
  ((rc == 0)) || status=1
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
      --fill-sizes "$fast_fill" --json "$out/bench-fast.json"
  } > "$out/bench.txt" 2> "$out/bench-progress.log"
  rc=$?
  note "bench: rc $rc in $(elapsed "$t0") (tables: bench.txt)"
  ((rc == 0)) || { status=1; tail -n 5 "$out/bench-progress.log"; }
fi

echo
echo "==== summary ===="
printf '%s\n' "${summary[@]}"
if ((bench)) && [[ -f $out/bench.txt ]]; then
  echo "---- benchmarks (window = sliding:128; speedup over the same stage at W >= N) ----"
  grep -vE "^wrote|^GPU" "$out/bench.txt" | awk 'NR == 1 || !/^stage/'
fi
exit $status
