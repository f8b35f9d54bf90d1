#!/usr/bin/env bash
# tools/test.sh: install what is missing, build everything, run the whole test suite.
#
# The README's test command; CI runs it (.ci/run). Tests that need a GPU skip, saying why, where
# there is none. Uses the instructor build where solutions/ exists, else the student build.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
if [[ -d solutions ]]; then preset=instructor; else preset=student; fi
[[ ${CI:-} == true && $preset == instructor ]] && preset=ci
cmake --preset "$preset"
cmake --build --preset "$preset"
status=0
ctest --preset "$preset" -j "$(nproc)" || status=$?
# ctest names skipped tests but not why: say it once.
reasons=$(grep -ho "needs a GPU: .*" "build/$preset/Testing/Temporary/LastTest.log" 2>/dev/null | sort -u | head -n 3 || true)
[[ -n $reasons ]] && printf 'Skipped tests: %s\n' "$reasons"
exit $status
