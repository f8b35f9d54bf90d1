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
cmake --build --preset student
# A student release ships the solutions compiled (tools/make_release.sh): the grader compares times.
extra=()
[[ -d prebuilt/stages/solution ]] && extra=(--solutions-dir prebuilt/stages)
exec build/student/swa grade "${extra[@]}" "$@"
