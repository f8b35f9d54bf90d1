#!/usr/bin/env bash
# tools/gpu-check.sh: everything that needs the GPU, in one script, with a short summary last.
#
#   tools/gpu-check.sh                     every section below
#   tools/gpu-check.sh --only tests,grade  some of them (a device call has a time limit: split the run)
#   REPEATS=20 tools/gpu-check.sh --only repeat       (RESUME=1: keep the grades an earlier call left in
#                                                      build/gpu-check/repeat; REPEAT_SECONDS: its time limit)
#   TESTS=TrustGpu tools/gpu-check.sh --only tests   the tests whose names match a regular expression
#   SWA_COMMIT=5f1f585 tools/gpu-check.sh ...         the commit the result files record (default: this
#                                                      checkout's HEAD, "+changes" if the tree differs; a
#                                                      copy of the tree made elsewhere may carry an older .git)
#
# Sections (each writes its logs and JSON to build/gpu-check/, and to $OUT when it is set):
#   build       configure and build preset "gpu" (sm_90, and sm_90a where a stage asks; .deps/ for the
#               header-only dependencies), with stage 07's timing variants; always runs first
#   tests       the whole test suite (GPU tests included; python_gpu runs in "python")
#   grade       starters (expect 0, not implemented), solutions (expect full marks, reference timings
#               recorded), the planted off-by-one (plots' error figure)
#   gradescope  the autograder zip built and run on the solutions as a submission
#   repeat      $REPEATS (default 5) grades of the solutions: verdicts and speed-score spread
#   bench       swa bench of every solution stage (01-02 at fewer sizes: the ladder figure), and stage 05
#               on every pattern
#   variants    stage 07's timing variants (solutions/07_hopper/bench_variants.sh)
#   python      swa_torch: solutions against PyTorch, the bench beside FlexAttention and SDPA, the example
#   ncu         Nsight Compute summaries of stages 06 and 07 at (4, 16, 4096, 64) and (2, 16, 8192, 128)
#               (NCU_STAGES, NCU_SHAPES: fewer; NCU_SHAPES=none: none); NCU_VARIANTS="a_default ...": the
#               stall samples per instruction of stage 07's variants (experiments.cmake's names), at
#               NCU_VARIANT_SHAPES (default 4,16,4096,64)
set -uo pipefail
cd "$(dirname "$0")/.."

all=build,tests,grade,gradescope,repeat,bench,variants,python,ncu
only=$all
while [[ $# -gt 0 ]]; do
  case $1 in
    --only) only="build,$2"; shift 2 ;;
    *) awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0" >&2; exit 2 ;;
  esac
done
want() { [[ ",$only," == *",$1,"* ]]; }

out=build/gpu-check
mkdir -p "$out"
summary=()
note() { summary+=("$*"); echo "== $*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
status=0
B=build/gpu

# Carried dependencies: a bubblewrap binary (the grader's sandbox) and Python wheels.
if [[ -x .deps/bin/bwrap ]]; then
  export PATH="$PWD/.deps/bin:$PATH"
  bwrap --version > /dev/null 2>&1 || export LD_LIBRARY_PATH="$PWD/.deps/bwrap-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    > "$out/wheels.log" 2>&1 && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
# The commit measured; "+changes" when the tree built is not that commit's (a run on uncommitted work).
if [[ -z ${SWA_COMMIT:-} ]]; then
  SWA_COMMIT=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
  [[ $SWA_COMMIT != unknown ]] && ! git diff --quiet HEAD -- 2> /dev/null && SWA_COMMIT+="+changes"
fi
export SWA_COMMIT
note "GPU: $(nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader 2>/dev/null || echo none); bwrap: $(bwrap --version 2>/dev/null || echo none); commit $SWA_COMMIT"

t0=$(date +%s)
if ! { cmake --preset gpu -DSWA_STAGE07_VARIANTS=ON && cmake --build --preset gpu -j "$(nproc)"; } > "$out/build.log" 2>&1; then
  grep -E "error" "$out/build.log" | head -n 30
  note "BUILD FAILED (log: build.log); building what compiles"
  cmake --build --preset gpu -j "$(nproc)" -- -k 0 >> "$out/build.log" 2>&1
  status=1
fi
note "build: $(elapsed "$t0"), ptxas spill warnings: $(grep -ac "Registers are spilled" "$out/build.log")"

if want tests; then
  t0=$(date +%s)
  OMP_NUM_THREADS=4 timeout 450 ctest --preset gpu -j 4 -E '^python_gpu$' ${TESTS:+-R "$TESTS"} --timeout 400 \
    > "$out/ctest.log" 2>&1
  rc=$?
  note "ctest: $(grep -E "tests passed|tests failed" "$out/ctest.log" | tail -n 1) (rc $rc); skipped: $(grep -c "(Skipped)" "$out/ctest.log"); $(elapsed "$t0")"
  ((rc == 0)) || { status=1; summary+=("$(grep -E '\*\*\*Failed|Timeout|Not Run|\(Failed\)' "$out/ctest.log" | head -n 25)"); }
fi

score_table() { sed -n '/^Summary/,/TOTAL/p' "$1"; }
if want grade; then
  for variant in student solution; do
    t0=$(date +%s)
    extra=()
    [[ $variant == solution ]] && extra=(--record-timings "$out/reference-timings.json")
    timeout 300 $B/swa grade --variant $variant "${extra[@]}" --out "$out/grade-$variant" > "$out/grade-$variant.txt" 2>&1
    rc=$?
    cp "$out/grade-$variant/grade.json" "$out/grade-$variant.json" 2> /dev/null
    note "grade $variant ($([[ $variant == student ]] && echo 'expect 0, not implemented' || echo 'expect full marks')): exit $rc in $(elapsed "$t0")"
    summary+=("$(score_table "$out/grade-$variant.txt")")
    [[ $variant == solution ]] && ((rc != 0)) && status=1
  done
  timeout 120 $B/swa grade --variant planted 04_off_by_one --out "$out/grade-planted" > "$out/grade-planted.txt" 2>&1
  cp "$out/grade-planted/grade.json" "$out/grade-off-by-one.json" 2> /dev/null
  note "grade planted 04_off_by_one (expect lost correctness and window points): $(grep -E '^  04_off_by_one' "$out/grade-planted.txt" | head -n 1)"
fi

if want gradescope; then
  t0=$(date +%s)
  { SWA_RELEASE_WORKTREE=1 tools/make_gradescope.sh build/gradescope.zip &&
    timeout 420 tools/gradescope_local.sh build/gradescope.zip solutions; } > "$out/gradescope.txt" 2>&1
  rc=$?
  note "gradescope zip, solutions through run_autograder: rc $rc in $(elapsed "$t0"): $(grep -E '^gradescope_local: score' "$out/gradescope.txt" | tail -n 1)"
  cp build/gradescope-local/results/results.json "$out/gradescope-results.json" 2> /dev/null
  ((rc == 0)) || status=1
fi

if want repeat; then
  t0=$(date +%s)
  timeout "${REPEAT_SECONDS:-500}" python3 grader/tests/repeat_grade.py --swa $B/swa --runs "${REPEATS:-5}" \
    ${RESUME:+--resume} --out "$out/repeat" > "$out/repeat.txt" 2>&1
  rc=$?
  note "repeat grades (${REPEATS:-5}): rc $rc in $(elapsed "$t0")"
  summary+=("$(tail -n 14 "$out/repeat.txt")")
fi

if want bench; then
  t0=$(date +%s)
  fast=$(ls $B/stages/solution/ | sed -n 's/\.so$//p' | grep -vE '^0[12]_' | paste -sd, -)
  {
    timeout 240 $B/swa bench --stages "$fast" --fill-sizes 512,1024,2048,4096,8192,16384 --json "$out/bench-fast.json"
    timeout 120 $B/swa bench --stages 01_naive,02_tiled_smem --fill-sizes 4096 \
      --json "$out/bench-slow.json"
    timeout 150 $B/swa bench --stages 05_bonus_patterns --fill-sizes 4096 --json "$out/bench-patterns.json" \
      --pattern sliding:128 causal:128 dilated:64:2 global:128:0 adaptive:64:192 exponential:128:128 block:256 sinks:128:0:4
  } > "$out/bench.txt" 2> "$out/bench-progress.log"
  rc=$?
  note "bench: rc $rc in $(elapsed "$t0") (tables: bench.txt)"
  ((rc == 0)) || { status=1; tail -n 5 "$out/bench-progress.log"; }
fi

if want variants && [[ -x solutions/07_hopper/bench_variants.sh ]]; then
  t0=$(date +%s)
  OUT="$PWD/$out/variants" timeout 420 solutions/07_hopper/bench_variants.sh gpu > "$out/variants.txt" 2>&1
  note "stage 07 variants: rc $? in $(elapsed "$t0")"
  summary+=("$(tail -n 16 "$out/variants.txt")")
fi

if want python && [[ -x python/run-on-gpu.sh ]] && python3 -c "import torch" 2> /dev/null; then
  t0=$(date +%s)
  timeout 420 python/run-on-gpu.sh $B "$out" > "$out/python.txt" 2>&1
  rc=$?
  note "python (swa_torch tests, bench, example): rc $rc in $(elapsed "$t0")"
  summary+=("$(sed -n '/^== swa_torch/,$p' "$out/python.txt")")
  ((rc == 0)) || status=1
fi

if want ncu && command -v ncu > /dev/null; then
  for shape in ${NCU_SHAPES:-4,16,4096,64 2,16,8192,128}; do
    [[ $shape == none ]] && continue
    for stage in ${NCU_STAGES:-06 07}; do
      log="$out/ncu-$stage-d${shape##*,}.txt"
      PYTHONPATH=python timeout 150 ncu --clock-control none -k regex:sliding_window_attention --launch-skip 1 -c 1 \
        --section SpeedOfLight --section Occupancy --section WarpStateStats --section ComputeWorkloadAnalysis \
        --section MemoryWorkloadAnalysis --section LaunchStats \
        python3 -m swa_torch.profile --stage $stage --variant solution --shape $shape --build-dir $B > "$log" 2>&1
      note "ncu stage $stage ($shape): $(grep -E '^\s+(Duration|DRAM Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per Thread)' "$log" | awk '{$1=$1; print}' | paste -sd';' -)"
      # The tensor pipe's busy share, wgmma instructions and the stall reasons, in a run of their own: a
      # metric name this ncu does not know loses only this file.
      PYTHONPATH=python timeout 150 ncu --clock-control none -k regex:sliding_window_attention --launch-skip 1 -c 1 \
        --metrics sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_elapsed,sm__inst_executed_pipe_tensor_op_gmma.sum,regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio \
        python3 -m swa_torch.profile --stage $stage --variant solution --shape $shape --build-dir $B > "${log%.txt}-pipes.txt" 2>&1
      note "ncu stage $stage ($shape) tensor pipe: $(grep -E 'pipe_tensor_cycles_active' "${log%.txt}-pipes.txt" | awk '{print $NF "%"}' | head -n 1); top stalls: $(grep -E 'issue_stalled' "${log%.txt}-pipes.txt" | awk '{print $NF, $1}' | sort -rn | head -n 3 | sed -E 's/smsp__average_warps_issue_stalled_|_per_issue_active.ratio//g' | paste -sd, -)"
    done
  done
  # Where a stage 07 variant's warps wait, instruction by instruction (NCU_VARIANTS: names from
  # solutions/07_hopper/experiments.cmake): the report, its source page (SASS, stall samples per
  # instruction) as CSV, and its details page.
  for variant in ${NCU_VARIANTS:-}; do
    lib=$B/stages/experiments/solution/07_$variant.so
    [[ -f $lib ]] || { note "ncu variant $variant: not built"; continue; }
    for shape in ${NCU_VARIANT_SHAPES:-4,16,4096,64}; do
      rep="$out/ncu-07_$variant-d${shape##*,}"
      PYTHONPATH=python timeout 200 ncu --clock-control none -k regex:sliding_window_attention --launch-skip 1 -c 1 \
        --section SpeedOfLight --section WarpStateStats --section SourceCounters --section InstructionStats \
        --section SchedulerStats --section Occupancy --import-source no -f -o "$rep" \
        python3 -m swa_torch.profile --stage "$lib" --variant solution --shape "$shape" --build-dir $B \
        > "$rep.log" 2>&1
      ncu --import "$rep.ncu-rep" --page details > "$rep.txt" 2>&1
      ncu --import "$rep.ncu-rep" --page source --csv --print-source sass > "$rep-source.csv" 2>&1
      note "ncu variant $variant ($shape): $(grep -E '^\s+(Duration|Issue Slots Busy|Executed Ipc Active|No Eligible)' "$rep.txt" | awk '{$1=$1; print}' | paste -sd';' -); source page: $(wc -l < "$rep-source.csv") lines"
    done
  done
fi

# $OUT brings back a few files (the device tool returns 8 at most): the results the plots and docs read, and one archive of everything.
if [[ -n ${OUT:-} ]]; then
  for f in bench-fast bench-slow bench-patterns grade-solution grade-off-by-one torch-bench reference-timings; do
    [[ -f $out/$f.json ]] && cp "$out/$f.json" "$OUT/"
  done
  tar -czf "$OUT/gpu-check.tar.gz" --exclude="*.ncu-rep" -C "$out" . 2> /dev/null
fi

echo
echo "==== summary ===="
printf '%s\n' "${summary[@]}"
if want bench && [[ -f $out/bench.txt ]]; then
  echo "---- benchmarks (speedup: over the same stage at W >= N; bound: tile-count bound) ----"
  grep -vE "^wrote|^GPU" "$out/bench.txt" | awk 'NR == 1 || !/^stage/'
fi
exit $status
