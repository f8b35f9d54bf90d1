#!/usr/bin/env bash
# tools/make_gradescope.sh ZIP [--rubric FILE]: build the Gradescope autograder zip.
#
# The zip, as Gradescope wants it (its two scripts at the root):
#   setup.sh          installs the kit's dependencies on Gradescope's Ubuntu image; fails if the image
#                     has no CUDA Toolkit 12.0+ (tools/gradescope/setup.sh)
#   run_autograder    builds the submission's stages against the kit and grades them into
#                     /autograder/results/results.json; on a runner without a GPU it grades nothing and
#                     writes no results.json, so Gradescope reports a failure instead of a 0
#                     (tools/gradescope/run_autograder)
#   autograder/       its helpers (submission.py, results.py) and rubric.json when --rubric is given
#   kit/              the student release (tools/make_release.sh): no solutions, nothing compiled
# A relative ZIP is taken from the folder you run this in. Try the zip with tools/gradescope_local.sh.
set -euo pipefail
usage() { sed -n '2,14p' "$0" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
zip=$(realpath -m -- "$1")
shift
rubric=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --rubric) rubric=$(realpath -- "$2"); shift ;;
    *) usage ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
[[ $zip == *.zip ]] || { echo "make_gradescope: $zip: give a name ending in .zip" >&2; exit 2; }
[[ -z $rubric || -f $rubric ]] || { echo "make_gradescope: --rubric $rubric: no such file" >&2; exit 2; }

stage=$(mktemp -d /tmp/swa-gradescope.XXXXXX)
trap 'rm -rf "$stage"' EXIT
tools/make_release.sh "$stage/kit"
mkdir -p "$stage/autograder"
cp tools/gradescope/setup.sh tools/gradescope/run_autograder "$stage/"
cp tools/gradescope/results.py tools/submission.py "$stage/autograder/"
[[ -z $rubric ]] || cp "$rubric" "$stage/autograder/rubric.json"
mkdir -p "$(dirname "$zip")"
rm -f "$zip"
# Python's zipfile (no zip program needed); the scripts keep their execute bits.
python3 - "$stage" "$zip" <<'EOF'
import os, pathlib, sys, zipfile
root, target = pathlib.Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            info = zipfile.ZipInfo.from_file(path, str(path.relative_to(root)))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())
print(f"make_gradescope: {sum(1 for _ in root.rglob('*') if _.is_file())} files")
EOF
echo "make_gradescope: wrote $zip${rubric:+ (rubric: $rubric)}; upload it as the assignment's autograder (on a GPU runner)"
