#!/usr/bin/env bash
# tools/test_finished_student.sh: a student who has finished every stage runs tools/test.sh: it must be
# green (CI runs this).
#
# Clones this kit's HEAD into a scratch folder, replaces every starter with its solution (as a student
# who solved everything would have it), and runs the student's test command there, as the README gives
# it. Also checks that tools/make_starters.py, run there without --force, leaves the finished stages alone.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "test_finished_student: $*"; }
fail() { echo "test_finished_student: FAILED: $*" >&2; exit 1; }
scratch=$(mktemp -d /tmp/swa-finished.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
git clone -q "$PWD" "$scratch/kit"
cd "$scratch/kit"
for solution in solutions/[0-9][0-9]_*/kernel.cu; do
  cp "$solution" "stages/$(basename "$(dirname "$solution")")/kernel.cu"
done
say "every starter replaced by its solution in $scratch/kit"

before=$(sha256sum stages/*/kernel.cu)
python3 tools/make_starters.py > /dev/null 2>&1 && fail "make_starters.py overwrote finished stages, or said nothing"
[[ $before == "$(sha256sum stages/*/kernel.cu)" ]] || fail "make_starters.py without --force changed a finished stage"
say "tools/make_starters.py left the finished stages alone"

status=0
tools/test.sh || status=$?
((status == 0)) || fail "tools/test.sh exited $status on a finished student's kit"
say "passed: a finished student's tools/test.sh is green"
