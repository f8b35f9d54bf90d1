#!/usr/bin/env python3
"""Complete the results.json `swa grade` wrote, for Gradescope (run by run_autograder).

    results.py RESULTS_JSON --stages-dir DIR --build-logs DIR --swa PATH --elapsed SECONDS [--rubric FILE]

- A stage that did not compile has no library, so the grader may not report it. Unless a test of the
  results already names it, one test is added for it: 0 of its points (the grader's rubric, asked of the
  grader), status failed, and the compiler's output (the last lines of BUILD_LOGS/STAGE.log) as its text.
- execution_time (seconds) is set to the whole run, build included, when the grader did not set it.
- The top-level output starts with one line per stage that did not compile.
The file is rewritten in place; exit status 1 if it is missing or not Gradescope's format.
"""
import argparse
import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import submission  # noqa: E402  (copied beside this file by tools/make_gradescope.sh)

LOG_LINES = 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=pathlib.Path)
    parser.add_argument("--stages-dir", type=pathlib.Path, required=True, help="the kit's stages/ (the names)")
    parser.add_argument("--libraries", type=pathlib.Path, required=True, help="the build's stages/student/")
    parser.add_argument("--build-logs", type=pathlib.Path, required=True)
    parser.add_argument("--swa", type=pathlib.Path, required=True)
    parser.add_argument("--elapsed", type=float, required=True)
    parser.add_argument("--rubric", type=pathlib.Path)
    args = parser.parse_args()
    try:
        results = json.loads(args.results.read_text())
    except (OSError, ValueError) as error:
        print(f"results.py: {args.results}: {error}", file=sys.stderr)
        return 1
    if not isinstance(results, dict) or not isinstance(results.get("tests", []), list):
        print(f"results.py: {args.results} is not Gradescope's results format", file=sys.stderr)
        return 1
    tests = results.setdefault("tests", [])
    names = submission.stage_names(args.stages_dir)
    broken = [n for n in names if not (args.libraries / f"{n}.so").is_file()]
    unreported = [n for n in broken if not any(n in str(t.get("name", "")) for t in tests)]
    points = {}
    if unreported:
        with tempfile.TemporaryDirectory() as scratch:
            points = submission.rubric_max_points(args.swa, unreported, pathlib.Path(scratch) / "max", args.rubric)
    for stage in unreported:
        log = args.build_logs / f"{stage}.log"
        text = log.read_text(errors="replace").splitlines() if log.is_file() else ["(no compiler output was kept)"]
        tests.append({"name": f"{stage}: compiles", "score": 0, "max_score": points.get(stage, 0),
                      "status": "failed",
                      "output": f"{stage} does not compile, so it is not graded. The compiler said (last "
                                f"{min(LOG_LINES, len(text))} lines):\n" + "\n".join(text[-LOG_LINES:])})
    if broken:
        notes = "".join(f"{stage} does not compile: its test says why.\n" for stage in broken)
        results["output"] = notes + "\n" + results.get("output", "")
    results.setdefault("execution_time", round(args.elapsed))
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results.py: {len(tests)} tests, score {results.get('score')}, {len(broken)} stages do not compile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
