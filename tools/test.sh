#!/usr/bin/env bash
# tools/test.sh: install what is missing, build, and run the test suite.
#
#   tools/test.sh               the student's run: your stages/ and every test that needs no solutions
#                               (CMake preset "student", for this machine's GPU, or sm_90 without one)
#   tools/test.sh --instructor  the instructor's run: also the solutions/, the planted faults, and the
#                               check that the starters are the solutions with the answers taken out
#                               (preset "instructor", or "ci" under CI, for the default architectures)
#
# The student's run stays green on finished work: nothing in it compares your stages with the starters.
# CI runs the instructor's (.ci/run). Tests that need a GPU skip, saying why, where there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/kit.sh

mode=student
case ${1:-} in
  "") ;;
  --instructor) mode=instructor ;;
  -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--instructor]" >&2; exit 2 ;;
esac

tools/setup.sh
configure=()
if [[ $mode == instructor ]]; then
  [[ -d solutions ]] || { echo "test.sh: --instructor needs solutions/ (a student release has none): run tools/test.sh" >&2; exit 2; }
  preset=instructor
  [[ ${CI:-} == true ]] && preset=ci
else
  preset=student
  configure=(-DCMAKE_CUDA_ARCHITECTURES="$(swa_cuda_architectures)")
fi
echo "test.sh: the $mode's tests (CMake preset $preset)"
cmake --preset "$preset" "${configure[@]}"
cmake --build --preset "$preset"
status=0
ctest --preset "$preset" -j "$(nproc)" || status=$?
# ctest names skipped tests but not why: say it once.
reasons=$(grep -ho "needs a GPU: .*" "build/$preset/Testing/Temporary/LastTest.log" 2>/dev/null | sort -u | head -n 3 || true)
[[ -n $reasons ]] && printf 'Skipped tests: %s\n' "$reasons"
if ((status)) && [[ $mode == student ]]; then
  echo "test.sh: a test failed (above). This run checks the kit and your build, never that your stages equal" \
    "the starters; to grade your stages, run tools/grade.sh." >&2
fi
exit $status
