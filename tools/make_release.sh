#!/usr/bin/env bash
# tools/make_release.sh DIR: write the student release of the kit into DIR (a new folder).
#
# The release is this kit without the solutions' sources: stages/ (the starters), grader/, docs/, plots/,
# tools/, cmake/, the build files. The solutions go in compiled, as prebuilt/stages/solution/*.so (for the
# GPU architectures of the default build, without source lines, stripped), so that students' grader runs
# report their time against the solution's. The grader's own tests of the solutions and of planted faults stay out; the student build
# runs the tests that need no solutions.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dest=$1
[[ ! -e $dest ]] || { echo "make_release: $dest exists; give a new folder" >&2; exit 2; }
[[ -d solutions ]] || { echo "make_release: no solutions/ here: run it in the instructor's kit" >&2; exit 2; }
tools/make_starters.py --check || { echo "make_release: the starters are out of date: run tools/make_starters.py" >&2; exit 1; }
# The release is made of what git tracks: anything not committed would silently be left out.
if [[ -n $(git status --porcelain) ]]; then
  echo "make_release: the working tree has changes or untracked files; commit them first (git status)" >&2
  exit 1
fi

# The solutions as shipped: no source lines in them (-lineinfo off), no symbols (stripped).
build=build/release-solutions
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWA_BUILD_SOLUTIONS=ON -DSWA_BUILD_TESTS=OFF \
  -DSWA_LINEINFO=OFF > /dev/null
cmake --build "$build" --target solution_stages
mkdir -p "$dest"
# Everything git tracks, except the solutions and the tests that need them.
git ls-files -z | grep -zv -e '^solutions/' -e '^grader/tests/planted/' -e '^grader/tests/test_stages.cpp' \
  -e '^grader/tests/test_grader_gpu.cpp' | xargs -0 -I{} cp --parents {} "$dest"/
mkdir -p "$dest/prebuilt/stages/solution"
cp "$build"/stages/solution/*.so "$dest/prebuilt/stages/solution/"
strip --strip-unneeded "$dest"/prebuilt/stages/solution/*.so
echo "make_release: wrote $dest ($(git rev-parse --short HEAD 2>/dev/null || echo 'uncommitted')); the solutions are only in $dest/prebuilt, compiled"
