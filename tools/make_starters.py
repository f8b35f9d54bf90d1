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

    tools/make_starters.py           rewrite the starters that are out of date (never an edited one)
    tools/make_starters.py --check   exit 1 (and show the difference) if a starter is out of date
    tools/make_starters.py --force   also overwrite starters that look edited (a copy goes to kernel.cu.orig)

This is the instructor's tool. It never overwrites a student's work without --force: a starter that differs
from the fresh one is rewritten only when it is an untouched starter of the committed kit, that is, when it
equals the starter git has at HEAD or the starter made from the solution git has at HEAD (so whatever it
held is still in git). Anything else, such as a stage a student has worked on, "looks edited": it is left
alone and named, and the exit status is 1. Without git, every starter that differs looks edited.
"""
import argparse
import difflib
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^(\s*)// BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*// END SOLUTION\s*$")
TODO = "// TODO(student): write this step."


def starter_from(solution: pathlib.Path, text=None) -> str:
    """The starter of a solution file (or of `text`, that file's content at some commit)."""
    out, inside, begin_line = [], False, 0
    text = solution.read_text() if text is None else text
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
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


def committed(path: pathlib.Path):
    """The file's content at git's HEAD, or None (no git, not committed)."""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "show", f"HEAD:{path.relative_to(ROOT).as_posix()}"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def untouched_starters(solution: pathlib.Path, starter: pathlib.Path):
    """The starters that are safe to overwrite: the committed one, and the one the committed solution makes."""
    safe = [committed(starter)]
    old_solution = committed(solution)
    if old_solution is not None:
        try:
            safe.append(starter_from(solution, old_solution))
        except SystemExit:  # the committed solution had broken markers: it makes no starter
            pass
    return [s for s in safe if s is not None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the starters are up to date")
    parser.add_argument("--force", action="store_true",
                        help="also overwrite starters that look edited (the old file is kept as kernel.cu.orig)")
    args = parser.parse_args()

    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*/kernel.cu"))
    if not solutions:
        print("make_starters: no solutions/NN_*/kernel.cu here (a student release has none)", file=sys.stderr)
        return 1
    stale = edited = 0
    for solution in solutions:
        starter = ROOT / "stages" / solution.parent.name / "kernel.cu"
        text = starter_from(solution)
        current = starter.read_text() if starter.exists() else ""
        if current == text:
            continue
        if args.check:
            stale += 1
            rel = starter.relative_to(ROOT)
            print(f"{rel} is out of date with its solution. For the instructor: rewrite it with "
                  "tools/make_starters.py. (A student's finished stage differs on purpose: this check belongs to "
                  "`tools/test.sh --instructor`, not to the student's `tools/test.sh`.)", file=sys.stderr)
            sys.stderr.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True), str(rel),
                                                       f"{rel} (from the solution)", n=1))
        elif starter.exists() and current not in untouched_starters(solution, starter) and not args.force:
            edited += 1
            print(f"make_starters: left {starter.relative_to(ROOT)} alone: it differs from its fresh starter and from "
                  "the committed one, so it looks edited (a student's work?). --force overwrites it, keeping a copy "
                  "as kernel.cu.orig", file=sys.stderr)
        else:
            if starter.exists() and current not in untouched_starters(solution, starter):
                backup = starter.with_name(starter.name + ".orig")
                backup.write_text(current)
                print(f"kept the edited {starter.relative_to(ROOT)} as {backup.relative_to(ROOT)}")
            starter.parent.mkdir(parents=True, exist_ok=True)
            starter.write_text(text)
            print(f"wrote {starter.relative_to(ROOT)}")
    if not stale and not edited:
        print(f"make_starters: {len(solutions)} starters {'are up to date' if args.check else 'checked'}")
    return 1 if stale or edited else 0


if __name__ == "__main__":
    sys.exit(main())
