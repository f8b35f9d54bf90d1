#!/usr/bin/env bash
# grader/tests/gpu_trust_check.sh [BUILD_DIR] [OUT_DIR]: the grader's trust boundary on the GPU, in one
# command, with a short summary at the end (full outputs in OUT_DIR, default trust-check/).
#
#   1. the solutions graded (full marks expected), their times recorded as reference timings
#   2. the untouched starters graded (every stage "not implemented" expected)
#   3. the GPU tests of the grader: planted cheats caught and named, faults, solutions, starters
#   4. 20 grades of the solutions: verdicts steady, speed scores within 5%, each grade under 60 s
#
# Needs a build with solutions (cmake --preset gpu, or instructor) and bubblewrap (bwrap) on PATH.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/gpu}
out=${2:-trust-check}
swa=$build/swa
mkdir -p "$out"
[[ -x $swa ]] || { echo "gpu_trust_check: $swa is not built" >&2; exit 2; }
command -v bwrap >/dev/null || echo "gpu_trust_check: warning: no bwrap on PATH: runners will not be sandboxed" >&2

start=$(date +%s)
"$swa" grade --variant solution --out "$out/solutions" --record-timings "$out/reference-timings.json" \
  > "$out/solutions.txt" 2>&1
solutions_status=$?
solutions_seconds=$(( $(date +%s) - start ))
"$swa" grade --variant student --out "$out/starters" > "$out/starters.txt" 2>&1
starters_status=$?
(cd "$build" && ctest -R 'TrustGpu|GradeSolutions|GradeStudent|GradePlanted|Runner|Forgery|Sandbox|Reports' \
  --output-on-failure --timeout 1200) > "$out/ctest.txt" 2>&1
ctest_status=$?
python3 grader/tests/repeat_grade.py --swa "$swa" --runs 20 --out "$out/repeat" > "$out/repeat.txt" 2>&1
repeat_status=$?

summary() {
  python3 - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
def report(name):
    p = out / name / "grade.json"
    return json.loads(p.read_text()) if p.exists() else None
s = report("solutions")
if s:
    print(f"solutions: {s['score']:.1f} / {s['max_score']:g}; isolation: {s.get('isolation', {})}")
    for st in s["stages"]:
        speed = next((c for c in st.get("checks", []) if c["name"] == "speed"), None)
        shapes = ", ".join(f"N={m['N']}: {m.get('speedup', 0):.2f}x/{m.get('target', 0):.2f}x "
                           f"(overhead {100 * m.get('request_overhead_share', 0):.2f}%)"
                           for m in (speed or {}).get("measurements", []))
        mem = next((c for c in st.get("checks", []) if c["name"] == "memory"), {})
        extra = ", ".join(f"{m.get('gpu_bytes_beyond_empty_stage', '?')} B GPU / {m.get('host_bytes_beyond_empty_stage', '?')} B host"
                          for m in mem.get("measurements", []))
        print(f"  {st['stage']:22s} {st['score']:6.1f} {st['status']:10s} {shapes}")
        print(f"  {'':22s} memory beyond the empty stage: {extra}")
t = report("starters")
if t:
    print("starters: " + ", ".join(f"{st['stage']}={st['status']}" for st in t["stages"]))
PY
}
echo
echo "== summary (details in $out/)"
summary
echo "solutions grade: exit $solutions_status in ${solutions_seconds} s (0 and under 60 s expected)"
echo "starters grade: exit $starters_status (1 expected, every stage not implemented)"
echo "GPU tests: exit $ctest_status ($(grep -E 'tests passed|tests failed' "$out/ctest.txt" | tail -1))"
grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|Not Run)' "$out/ctest.txt" | sed 's/^/  FAILED /'
echo "repeat grades: exit $repeat_status"
tail -n 12 "$out/repeat.txt"
echo "reference timings recorded in $out/reference-timings.json (commit as grader/reference-timings.json)"
[[ $solutions_status -eq 0 && $starters_status -eq 1 && $ctest_status -eq 0 && $repeat_status -eq 0 ]]
