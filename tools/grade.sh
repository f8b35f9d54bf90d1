#!/usr/bin/env bash
# tools/grade.sh: install what is missing, build your stages, and grade them.
#
#   tools/grade.sh                       every stage
#   tools/grade.sh 03_masked_windows     one stage (a name or its number: tools/grade.sh 03)
#   tools/grade.sh --help                the grader's options (--seed, --rubric, --out, --verbose, ...)
#
# The reports go to grade-results/: grade.json (every check) and results.json (Gradescope). Exit status:
# 0 every point, 1 something to fix, 2 bad arguments, 3 no GPU (docs/grading.md).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake --preset student > /dev/null
# Build every stage that compiles: one that does not must not keep the others from being graded. The
# stage libraries are removed first, so that an old build of a stage that no longer compiles is not graded.
rm -f build/student/stages/student/*.so
cmake --build --preset student -- -k 0 || echo "grade.sh: part of the build failed (errors above)" >&2
[[ -x build/student/swa ]] || { echo "grade.sh: the grader itself did not build" >&2; exit 2; }
for dir in stages/[0-9][0-9]_*/; do
  name=$(basename "$dir")
  [[ -f build/student/stages/student/$name.so ]] || echo "grade.sh: $name did not compile, so it is not graded" >&2
done
# A student release ships the solutions compiled (tools/make_release.sh): the grader compares times.
extra=()
[[ -d prebuilt/stages/solution ]] && extra=(--solutions-dir prebuilt/stages)
exec build/student/swa grade "${extra[@]}" "$@"
