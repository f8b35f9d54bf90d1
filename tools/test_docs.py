#!/usr/bin/env python3
"""Run the commands the README and the docs show, as written, where no GPU is needed.

    tools/test_docs.py BUILD_DIR

Reads the ```sh blocks of README.md, docs/*.md, stages/*/README.md and plots/README.md (the docs' blocks of
commands to type; script listings are ```bash, pictures and output plain ```), and takes every line
that starts like a command of the kit (tools/, build/, python3, cmake, ctest, ...). A command
is run from the repository root, with `build/<preset>/` standing for BUILD_DIR, and must exit with 0.
Not run, each with its reason printed: commands marked `# needs a GPU`; commands that build, install or
rewrite files of the kit (CI runs those through tools/test.sh); commands that need the solutions in a
student release. In a student build (SWA_BUILD_SOLUTIONS off, as tools/test.sh makes it), also the
instructor's commands: those of the files a student release leaves out (tools/release-exclude.txt: the
instructor's guide and tools) and those that grade the solutions, so a finished student's run stays green.
Fails if any command fails, or if too few ran to mean anything.
"""
import fnmatch
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ["README.md", "docs/*.md", "stages/*/README.md", "plots/README.md"]
COMMAND = re.compile(r"^(tools/|build/|python3 |cmake |ctest |compute-sanitizer |CUDA_VISIBLE_DEVICES=)")
BUILD_PATH = re.compile(r"\bbuild/(student|instructor|gpu|ci|dev)/")
MIN_RUN = 4  # fewer than this and the test would prove nothing

# (reason, test) for the commands this test leaves alone.
NOT_RUN = [
    ("needs a GPU", lambda c: "needs a GPU" in c),
    ("needs the results of a GPU run", lambda c: "graded first" in c),
    ("builds the kit (tools/test.sh does, in CI)",
     lambda c: re.match(r"(cmake --preset|cmake --build|ctest|tools/test\.sh|tools/grade\.sh)", c)),
    ("installs packages", lambda c: "pip install" in c or (c.startswith("tools/setup.sh") and "--check" not in c)),
    ("rewrites files of the kit", lambda c: (c.startswith("tools/make_starters.py") and "--check" not in c)
     or (c.startswith("python3 plots/make_plots.py") and "--no-readme" not in c)),
    ("makes a release (tools/test_release.sh checks it, in CI)", lambda c: c.startswith("tools/make_release.sh")),
    ("makes the Gradescope zip (tools/test_release.sh checks it, in CI)",
     lambda c: c.startswith(("tools/make_gradescope.sh", "tools/gradescope_local.sh"))),
    ("needs Slurm (tools/test_slurm.sh starts one, in CI)", lambda c: c.startswith("tools/grade_slurm.sh")),
    ("needs solutions/ (not in a student release)",
     lambda c: "make_starters.py" in c and not (ROOT / "solutions").is_dir()),
]


def release_excluded():
    """The shell patterns of tools/release-exclude.txt (the instructor's files); [] in a release."""
    listing = ROOT / "tools" / "release-exclude.txt"
    if not listing.is_file():
        return []
    return [line.strip() for line in listing.read_text().splitlines() if line.strip() and not line.startswith("#")]


def instructor_build(build):
    """Whether `build` is an instructor build (the solutions built too)."""
    cache = build / "CMakeCache.txt"
    return cache.is_file() and re.search(r"^SWA_BUILD_SOLUTIONS:BOOL=(ON|TRUE|1)$", cache.read_text(), re.M) is not None


def instructor_only(path, command, patterns):
    """A command of an instructor's file, or one that runs an instructor's tool or grades the solutions."""
    program = command.split()[0]
    return (any(fnmatch.fnmatch(str(path), p) or fnmatch.fnmatch(program, p) for p in patterns)
            or "--variant solution" in command or "build/instructor/" in command)


def documented_commands():
    """(file, line number, command) for every command line in a ```sh block of the docs."""
    for pattern in DOCS:
        for path in sorted(ROOT.glob(pattern)):
            language = None  # the open block's language, None outside blocks
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                fence = line.lstrip()
                if fence.startswith("```"):
                    language = fence[3:].strip() if language is None else None
                    continue
                text = line.strip()
                if language == "sh" and COMMAND.match(text):
                    yield path.relative_to(ROOT), number, text


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = pathlib.Path(sys.argv[1]).resolve()
    student = not instructor_build(build)
    patterns = release_excluded()
    ran = failed = 0
    for path, number, command in documented_commands():
        where = f"{path}:{number}"
        reason = next((why for why, test in NOT_RUN if test(command)), None)
        if reason is None and student and instructor_only(path, command, patterns):
            reason = "the instructor's (tools/test.sh --instructor runs it)"
        if reason:
            print(f"not run  {where}: {command}\n         ({reason})")
            continue
        shell = BUILD_PATH.sub(str(build) + "/", command.split("  #")[0].split(" # ")[0])
        done = subprocess.run(shell, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
        ran += 1
        if done.returncode != 0:
            failed += 1
            print(f"FAILED   {where}: {command}\n         exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        else:
            print(f"ok       {where}: {command}")
    print(f"{ran} commands ran, {failed} failed")
    if ran < MIN_RUN:
        print(f"only {ran} commands ran (fewer than {MIN_RUN}): the docs test proves nothing", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
