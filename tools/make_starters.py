#!/usr/bin/env python3
"""Write each stage's starter, stages/NN_*/kernel.cu, from its solution, solutions/NN_*/kernel.cu.

In a solution, the student's part of each step sits between two marker lines:

        // Step 2: what to compute, and hints (kept in the starter)
        // BEGIN SOLUTION
        ...the answer...
        // END SOLUTION

The starter is the solution with every such block replaced by one line, `// TODO(student): write this
step.`, at the block's indentation. So starter and solution differ only inside the marked blocks, and
`diff stages/NN_x/kernel.cu solutions/NN_x/kernel.cu` reads as the answer key.

    tools/make_starters.py           rewrite the starters
    tools/make_starters.py --check   exit 1 (and show the difference) if a starter is out of date
"""
import argparse
import difflib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^(\s*)// BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*// END SOLUTION\s*$")
TODO = "// TODO(student): write this step."


def starter_from(solution: pathlib.Path) -> str:
    out, inside, begin_line = [], False, 0
    for number, line in enumerate(solution.read_text().splitlines(keepends=True), start=1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                sys.exit(f"{solution}:{number}: BEGIN SOLUTION inside the block opened at line {begin_line}")
            inside, begin_line = True, number
            out.append(f"{begin.group(1)}{TODO}\n")
        elif END.match(line):
            if not inside:
                sys.exit(f"{solution}:{number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        sys.exit(f"{solution}:{begin_line}: BEGIN SOLUTION is never closed")
    if not any(TODO in line for line in out):
        sys.exit(f"{solution}: no BEGIN SOLUTION block: the starter would be the whole answer")
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the starters are up to date")
    args = parser.parse_args()

    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*/kernel.cu"))
    if not solutions:
        print("make_starters: no solutions/NN_*/kernel.cu here (a student release has none)", file=sys.stderr)
        return 1
    stale = 0
    for solution in solutions:
        starter = ROOT / "stages" / solution.parent.name / "kernel.cu"
        text = starter_from(solution)
        current = starter.read_text() if starter.exists() else ""
        if current == text:
            continue
        if args.check:
            stale += 1
            rel = starter.relative_to(ROOT)
            print(f"{rel} is out of date with its solution; run tools/make_starters.py", file=sys.stderr)
            sys.stderr.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True), str(rel),
                                                       f"{rel} (from the solution)", n=1))
        else:
            starter.parent.mkdir(parents=True, exist_ok=True)
            starter.write_text(text)
            print(f"wrote {starter.relative_to(ROOT)}")
    if not stale:
        print(f"make_starters: {len(solutions)} starters {'are up to date' if args.check else 'checked'}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
