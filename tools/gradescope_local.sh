#!/usr/bin/env bash
# tools/gradescope_local.sh ZIP SUBMISSION: run the autograder zip here as Gradescope would, and check
# what it wrote.
#
#   tools/make_gradescope.sh build/gradescope.zip
#   tools/gradescope_local.sh build/gradescope.zip solutions      # the solutions as a submission (GPU)
#
# Lays out a stand-in for /autograder in build/gradescope-local/ (source/ = the unzipped zip,
# submission/ = a copy of SUBMISSION, results/), runs source/run_autograder there with AUTOGRADER_ROOT
# pointing at it (setup.sh is not run: this machine's packages are used, and CMAKE_PREFIX_PATH, when set,
# or .deps/ of this kit, is where CMake looks for CLI11 and nlohmann-json), then:
#   - when run_autograder wrote results.json: validates it against Gradescope's format
#     (grader/schemas/gradescope.schema.json, tools/validate_json.py), prints the score, tests and
#     leaderboard, and exits 0 if the submission got every point, 1 if not;
#   - when it wrote none: exits 3 if run_autograder failed visibly (non-zero, "NOT GRADED"), else 1.
set -uo pipefail
[[ $# -eq 2 ]] || { sed -n '2,16p' "$0" >&2; exit 2; }
zip=$(realpath -- "$1") || exit 2
submission=$(realpath -- "$2") || exit 2
cd "$(dirname "$0")/.."
kit=$PWD
root=$kit/build/gradescope-local
rm -rf "$root" && mkdir -p "$root/source" "$root/results" || exit 2
# Unzipped keeping each file's mode, as unzip does.
python3 - "$zip" "$root/source" <<'EOF' || exit 2
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        if info.external_attr >> 16:
            os.chmod(path, (info.external_attr >> 16) & 0o777)
EOF
cp -r "$submission" "$root/submission"
[[ -z ${CMAKE_PREFIX_PATH:-} && -d $kit/.deps ]] && export CMAKE_PREFIX_PATH=$kit/.deps

echo "gradescope_local: running run_autograder (AUTOGRADER_ROOT=$root)"
status=0
(cd "$root" && AUTOGRADER_ROOT=$root AUTOGRADER_WORK=$root/work bash source/run_autograder) 2>&1 |
  tee "$root/results/stdout"
status=${PIPESTATUS[0]}
results=$root/results/results.json
if [[ ! -f $results ]]; then
  if ((status != 0)) && grep -q "NOT GRADED" "$root/results/stdout"; then
    echo "gradescope_local: run_autograder failed visibly (exit $status, no results.json): Gradescope would show" \
      "'The autograder failed to execute correctly', not a score"
    exit 3
  fi
  echo "gradescope_local: FAILED: no results.json, and run_autograder exited $status without saying why" >&2
  exit 1
fi
((status == 0)) || { echo "gradescope_local: FAILED: run_autograder wrote results.json but exited $status" >&2; exit 1; }
if python3 -c "import jsonschema" 2> /dev/null; then
  python3 tools/validate_json.py grader/schemas/gradescope.schema.json "$results" ||
    { echo "gradescope_local: FAILED: results.json does not follow Gradescope's format (above)" >&2; exit 1; }
  echo "gradescope_local: results.json follows Gradescope's format (grader/schemas/gradescope.schema.json)"
else
  echo "gradescope_local: WARNING: results.json NOT validated: the Python package jsonschema is missing"
fi
python3 - "$results" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
tests = r.get("tests", [])
top = sum(t.get("max_score", 0) for t in tests)
print(f"gradescope_local: score {r.get('score')} of {top:g} ({len(tests)} tests, execution_time "
      f"{r.get('execution_time', '-')} s)")
for t in tests:
    if t.get("score", 0) < t.get("max_score", 0):
        print(f"  lost points: {t['name']}: {t.get('score')} / {t.get('max_score')}")
for entry in r.get("leaderboard", []):
    print(f"  leaderboard: {entry.get('name')} = {entry.get('value')}")
sys.exit(0 if tests and abs(r.get("score", 0) - top) < 1e-6 else 1)
EOF
