#!/usr/bin/env bash
# tools/make_release.sh DIR: write the student release of the kit into DIR (a new folder; a relative DIR
# is taken from the folder you run this in).
#
# The release is the kit a student gets: the starters (stages/), the grader's sources, docs, plots, the
# student's tools and build files. Left out (tools/release-exclude.txt): the solutions and everything
# built from them (the grader's tests of the solutions, the planted faults), docs/instructor.md, and the
# instructor's tools (releases, Gradescope, class grading, the starters' generator, the GPU check, CI).
# In what remains:
#   - CMakePresets.json keeps only the student's presets;
#   - Markdown links to files that were left out lose their link (a list item that is only such a link
#     goes), so the release's docs do not point at what it lacks;
#   - no compiled code at all: no solution library, no PTX, no paths of this machine. The grader measures
#     speed against its own frozen baselines (grader/baselines/); the instructor's recorded reference
#     timings, grader/reference-timings.json, go in when they exist, committed or not.
# It refuses to run while the starters are out of date, or while git sees changes or untracked files
# (the release is what git tracks: anything uncommitted would silently be left out). Without git (a copy
# of the kit that is not a repository, or with SWA_RELEASE_WORKTREE=1 to try uncommitted work), every file
# goes in except the folders .gitignore names.
set -euo pipefail
if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  [[ $# -eq 1 && ($1 == -h || $1 == --help) ]] && exit 0 || exit 2
fi
dest=$(realpath -m -- "$1")  # before the cd below: relative to the caller's folder
cd "$(dirname "$0")/.."
kit=$PWD
[[ ! -e $dest ]] || { echo "make_release: $dest exists; give a new folder" >&2; exit 2; }
case $dest/ in "$kit"/*) [[ $dest == "$kit"/build/* ]] ||
  { echo "make_release: $dest is inside the kit; put the release elsewhere (or under build/)" >&2; exit 2; } ;;
esac
[[ -d solutions ]] || { echo "make_release: no solutions/ here: run it in the instructor's kit" >&2; exit 2; }
tools/make_starters.py --check > /dev/null || { echo "make_release: the starters are out of date: run tools/make_starters.py" >&2; exit 1; }

if [[ -z ${SWA_RELEASE_WORKTREE:-} ]] && git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  if [[ -n $(git status --porcelain) ]]; then
    echo "make_release: the working tree has changes or untracked files; commit them first (git status)" >&2
    exit 1
  fi
  listing=git
  commit=$(git rev-parse --short HEAD)
else
  listing=walk
  commit=${SWA_COMMIT:-unknown}
  echo "make_release: ${SWA_RELEASE_WORKTREE:+SWA_RELEASE_WORKTREE is set, or }not a git repository: taking every file" \
    "but the folders .gitignore names"
fi

mkdir -p "$dest"
python3 - "$kit" "$dest" "$listing" <<'EOF'
import fnmatch, json, os, pathlib, re, shutil, subprocess, sys

kit, dest, listing = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
patterns = [line.strip() for line in (kit / "tools/release-exclude.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
excluded = lambda path: any(fnmatch.fnmatch(path, p) for p in patterns)

if listing == "git":
    files = subprocess.run(["git", "-C", str(kit), "ls-files", "-z"], capture_output=True, text=True,
                           check=True).stdout.split("\0")
else:  # the top-level folders and the names .gitignore lists
    skip_dirs = {".git", "build", ".deps", ".whl", "results", "grade-results", "class-results", "__pycache__"}
    files = []
    for folder, dirs, names in os.walk(kit):
        rel = pathlib.Path(folder).relative_to(kit)
        dirs[:] = [d for d in dirs if d not in skip_dirs or (d == "results" and rel != pathlib.Path("."))]
        files += [str(rel / n) if str(rel) != "." else n for n in names
                  if not n.endswith((".pyc", ".orig"))]
files = sorted(f for f in files if f and not excluded(f))
for f in files:
    (dest / f).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(kit / f, dest / f)

# The recorded reference timings (grader/reference-timings.json, written on the GPU by the instructor).
timings = "grader/reference-timings.json"
if (kit / timings).is_file() and not (dest / timings).exists():
    shutil.copy2(kit / timings, dest / timings)

# Only the student's presets.
presets_path = dest / "CMakePresets.json"
presets = json.loads(presets_path.read_text())
keep = lambda p: p["name"] in ("base", "student")
for kind in ("configurePresets", "buildPresets", "testPresets"):
    presets[kind] = [p for p in presets.get(kind, []) if keep(p)]
presets.pop("workflowPresets", None)
presets_path.write_text(json.dumps(presets, indent=2) + "\n")

# Links to what was left out: the link goes (the words stay); a list item that is only that link goes.
link = re.compile(r"\[([^\]]*)\]\(([^)#\s]*)(#[^)\s]*)?\)")
for md in dest.rglob("*.md"):
    here = md.parent
    def target_left_out(target):
        if not target or "://" in target:
            return False
        path = os.path.normpath(os.path.join(os.path.relpath(here, dest), target))
        return excluded(path) or excluded(path + "/x")
    lines = []
    for line in md.read_text().splitlines(keepends=True):
        first = link.search(line)
        if first and line.lstrip().startswith(("- [", "* [")) and target_left_out(first.group(2)):
            continue
        lines.append(link.sub(lambda m: m.group(1) if target_left_out(m.group(2)) else m.group(0), line))
    md.write_text("".join(lines))

# Nothing compiled may go out.
binaries = [str(p.relative_to(dest)) for p in dest.rglob("*")
            if p.is_file() and p.suffix in (".so", ".o", ".a", ".ptx", ".cubin", ".fatbin")]
if binaries:
    sys.exit(f"make_release: compiled files in the release: {binaries}")
print(f"make_release: {len(files)} files")
EOF
echo "$commit" > "$dest/RELEASE"
if [[ -f $dest/grader/reference-timings.json ]]; then
  timings="with the reference timings (grader/reference-timings.json)"
else
  timings="WITHOUT reference timings: grader/reference-timings.json is not there (record it on the GPU first, see docs/instructor.md)"
fi
echo "make_release: wrote $dest (kit commit $commit), no solutions and nothing compiled, $timings"
