#!/usr/bin/env bash
# tools/test_release.sh: the student release and the Gradescope zip, checked without a GPU (CI runs it).
#
#   - tools/make_release.sh, given a relative folder from another folder, writes it there;
#   - the release holds no solution (no solutions/, no "BEGIN SOLUTION" anywhere, its starters are the
#     kit's), none of tools/release-exclude.txt, nothing compiled, only the student's CMake presets, no
#     Markdown link to a file it lacks, and ignores class-results/;
#   - the release configures without the tests on a machine where CMake is told GoogleTest does not
#     exist (the autograder's and class grading's builds do not need it), and with its tests (every file
#     its build names is in it);
#   - tools/make_gradescope.sh writes a zip with setup.sh and run_autograder at its root (executable) and
#     the release in kit/; its results.py adds a failed test with the compiler's output for a stage that
#     did not compile (max points asked of a stand-in grader) and the result follows Gradescope's format
#     (grader/schemas/gradescope.schema.json); run without a GPU, run_autograder grades nothing and
#     writes no results.json, saying why (tools/gradescope_local.sh exits 3).
# Needs a clean git tree (the release is what git tracks): CI's fresh clone is one.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=$PWD
say() { echo "test_release: $*"; }
fail() { echo "test_release: FAILED: $*" >&2; exit 1; }
scratch=$(mktemp -d /tmp/swa-release-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$scratch/caller"
(cd "$scratch/caller" && "$kit/tools/make_release.sh" release) || fail "make_release.sh failed"
release=$scratch/caller/release
[[ -d $release ]] || fail "a relative folder was not taken from the caller's folder ($release is missing)"

python3 - "$kit" "$release" <<'EOF' || fail "the release's contents (above)"
import fnmatch, json, pathlib, re, sys
kit, release = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
problems = []
patterns = [l.strip() for l in (kit / "tools/release-exclude.txt").read_text().splitlines()
            if l.strip() and not l.startswith("#")]
files = [p for p in release.rglob("*") if p.is_file()]
rel = [str(p.relative_to(release)) for p in files]
if (release / "solutions").exists():
    problems.append("solutions/ is in the release")
problems += [f"{r}: instructor-only (tools/release-exclude.txt)" for r in rel if any(fnmatch.fnmatch(r, p) for p in patterns)]
problems += [f"{r}: compiled" for r in rel if r.endswith((".so", ".o", ".a", ".ptx", ".cubin", ".fatbin"))]
for p in files:
    text = p.read_bytes()
    if b"BEGIN SOLUTION" in text or b"END SOLUTION" in text:
        problems.append(f"{p.relative_to(release)}: holds a solution marker")
for starter in sorted((kit / "stages").glob("[0-9][0-9]_*/kernel.cu")):
    shipped = release / starter.relative_to(kit)
    if not shipped.is_file() or shipped.read_bytes() != starter.read_bytes():
        problems.append(f"{starter.relative_to(kit)}: not the kit's starter in the release")
presets = json.loads((release / "CMakePresets.json").read_text())
names = {p["name"] for kind in ("configurePresets", "buildPresets", "testPresets") for p in presets.get(kind, [])}
if names - {"base", "student"}:
    problems.append(f"CMakePresets.json: instructor presets {sorted(names - {'base', 'student'})}")
if "workflowPresets" in presets:
    problems.append("CMakePresets.json: a workflow preset")
if not any(l.strip().strip("/") == "class-results" for l in (release / ".gitignore").read_text().splitlines()):
    problems.append(".gitignore: class-results/ is not ignored")
link = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")
for md in release.rglob("*.md"):
    for target in link.findall(md.read_text()):
        target = target[0]
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (md.parent / target).exists():
            problems.append(f"{md.relative_to(release)}: a link to {target}, which the release lacks")
if problems:
    print("\n".join("  " + p for p in problems))
    sys.exit(1)
print(f"  {len(files)} files: no solution, nothing instructor-only or compiled, student presets, links resolve")
EOF

say "configuring the release without the tests, with GoogleTest hidden from CMake"
cmake -S "$release" -B "$scratch/release-build" -G Ninja -DSWA_BUILD_TESTS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 > "$scratch/configure.log" 2>&1 ||
  { tail -n 30 "$scratch/configure.log"; fail "the release does not configure without GoogleTest"; }

say "configuring the release as a student's tools/test.sh does (the tests included)"
cmake -S "$release" -B "$scratch/release-build-tests" -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 \
  > "$scratch/configure-tests.log" 2>&1 ||
  { tail -n 30 "$scratch/configure-tests.log"; fail "the release does not configure with its tests"; }

say "the Gradescope zip"
tools/make_gradescope.sh "$scratch/gradescope.zip" > /dev/null
python3 - "$scratch/gradescope.zip" <<'EOF' || fail "the zip's layout (above)"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
problems = [f"{n} is not at the zip's root" for n in ("setup.sh", "run_autograder") if n not in names]
problems += [f"{i.filename} is not executable" for i in z.infolist()
             if i.filename in ("setup.sh", "run_autograder") and not (i.external_attr >> 16) & 0o100]
problems += [f"{n}: solutions in the zip" for n in names if n.startswith(("kit/solutions/", "solutions/"))]
problems += [f"{n} is missing" for n in ("kit/CMakeLists.txt", "autograder/submission.py", "autograder/results.py")
             if n not in names]
if problems:
    print("\n".join("  " + p for p in problems))
    sys.exit(1)
print(f"  {len(names)} files; setup.sh and run_autograder at the root; the release in kit/")
EOF
say "results.py completes a grader's results.json and it stays in Gradescope's format"
unzipped=$scratch/unzipped
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$scratch/gradescope.zip" "$unzipped"
mkdir -p "$scratch/rj/logs" "$scratch/rj/libs" "$scratch/rj/results"
first=$(cd stages && ls -d [0-9][0-9]_*/ | head -n 1)
first=${first%/}
for dir in stages/[0-9][0-9]_*/; do
  name=$(basename "$dir")
  [[ $name == "$first" ]] || touch "$scratch/rj/libs/$name.so"  # every stage built but the first
done
printf '%s\n' "kernel.cu(7): error: identifier \"oops\" is undefined" > "$scratch/rj/logs/$first.log"
# A stand-in for swa: its no-GPU run reports every stage it is given at 0 of 100 (as the grader does).
cat > "$scratch/rj/swa" <<'EOF2'
#!/usr/bin/env python3
import json, pathlib, sys
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--out") + 1]); out.mkdir(parents=True, exist_ok=True)
stages = pathlib.Path(args[args.index("--stages-dir") + 1]) / "student"
(out / "grade.json").write_text(json.dumps({"stages": [{"stage": p.stem, "max_score": 100.0} for p in stages.glob("*.so")]}))
EOF2
chmod +x "$scratch/rj/swa"
echo '{"score": 10.0, "output": "report", "tests": [{"name": "02: correctness", "score": 10, "max_score": 40, "status": "failed"}]}' \
  > "$scratch/rj/results/results.json"
python3 "$unzipped/autograder/results.py" "$scratch/rj/results/results.json" --stages-dir stages \
  --libraries "$scratch/rj/libs" --build-logs "$scratch/rj/logs" --swa "$scratch/rj/swa" --elapsed 42 > /dev/null ||
  fail "results.py failed"
python3 tools/validate_json.py grader/schemas/gradescope.schema.json "$scratch/rj/results/results.json" ||
  fail "results.py's results.json is not in Gradescope's format (above)"
python3 - "$scratch/rj/results/results.json" "$first" <<'EOF2' || fail "results.py's additions (above)"
import json, sys
r, first = json.load(open(sys.argv[1])), sys.argv[2]
added = [t for t in r["tests"] if first in t["name"]]
ok = (len(added) == 1 and added[0]["score"] == 0 and added[0]["max_score"] == 100.0 and added[0]["status"] == "failed"
      and "oops" in added[0]["output"] and r["execution_time"] == 42 and r["score"] == 10.0
      and r["output"].startswith(f"{first} does not compile"))
if not ok:
    print(json.dumps(r, indent=1))
    sys.exit(1)
print(f"  a failed test for {first} with its compiler output and 100 points, execution_time; the format holds")
EOF2

if [[ -n $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || true) ]]; then
  say "a GPU is here: the no-GPU run of run_autograder is not tried (tools/gradescope_local.sh grades for real)"
else
  mkdir -p "$scratch/submission/stages"
  cp -r stages/[0-9][0-9]_* "$scratch/submission/stages/"
  status=0
  tools/gradescope_local.sh "$scratch/gradescope.zip" "$scratch/submission" > "$scratch/local.log" 2>&1 || status=$?
  if [[ $status -ne 3 ]] || ! grep -q "NOT GRADED: no GPU" "$scratch/local.log" ||
    [[ -e build/gradescope-local/results/results.json ]]; then
    cat "$scratch/local.log"
    fail "without a GPU, run_autograder must fail visibly and write no results.json (gradescope_local.sh exit $status)"
  fi
  say "without a GPU, run_autograder fails visibly: $(grep -m1 'NOT GRADED' "$scratch/local.log")"
fi
say "passed"
