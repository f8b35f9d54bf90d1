#!/usr/bin/env python3
"""Find a submission's stage files and lay them over a copy of the kit's stages.

    tools/submission.py SUBMISSION --stages STAGES_DIR [--into DIR]

A submission is a folder as a student hands it in (a Gradescope upload, a folder of a class's
submissions): somewhere in it, NN_name/kernel.cu for each stage it submits, for example
stages/03_masked_windows/kernel.cu, 03_masked_windows/kernel.cu, or my-kit/stages/03_masked_windows/kernel.cu.
Only those kernel.cu files are taken, and only for the stage names STAGES_DIR has; hidden folders and
files (.git, ._kernel.cu) and __MACOSX folders are passed over. Where a stage's kernel.cu is found at two
depths, the shallowest wins; two at the same depth are refused (which one would be graded is not clear).

With --into DIR, DIR/NN_name/kernel.cu is written for every stage of STAGES_DIR: the submitted file where
there is one, else the kit's starter. Prints one line per stage and a JSON summary on request (--json).
Used by tools/grade_class.py and by the Gradescope autograder (tools/gradescope/run_autograder).
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys

STAGE_FILE = "kernel.cu"


class SubmissionError(Exception):
    pass


def stage_names(stages_dir: pathlib.Path):
    """The kit's stage folders with a kernel.cu: 01_naive, 02_tiled_smem, ..."""
    return sorted(p.parent.name for p in stages_dir.glob(f"[0-9][0-9]_*/{STAGE_FILE}"))


def ignored(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


def find_kernels(folder: pathlib.Path, names):
    """{stage name: path of its kernel.cu} for the stages the submission holds."""
    candidates = {}
    for path in sorted(folder.rglob(STAGE_FILE)):
        relative = path.relative_to(folder)
        if any(ignored(part) for part in relative.parts) or not path.is_file():
            continue
        stage = path.parent.name
        if stage in names:
            candidates.setdefault(stage, []).append(path)
    found = {}
    for stage, paths in candidates.items():
        depth = min(len(p.relative_to(folder).parts) for p in paths)
        shallowest = [p for p in paths if len(p.relative_to(folder).parts) == depth]
        if len(shallowest) > 1:
            listed = ", ".join(str(p.relative_to(folder)) for p in shallowest)
            raise SubmissionError(f"{folder}: {stage} is submitted twice ({listed}): keep one")
        found[stage] = shallowest[0]
    return found


def lay_out(kernels, stages_dir: pathlib.Path, into: pathlib.Path):
    """DIR/NN_name/kernel.cu for every kit stage: the submitted one, else the starter (DIR may be the
    stages folder itself: then the starters stay where they are)."""
    for stage in stage_names(stages_dir):
        source, target = kernels.get(stage, stages_dir / stage / STAGE_FILE), into / stage / STAGE_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        if not (target.exists() and target.resolve() == pathlib.Path(source).resolve()):
            shutil.copyfile(source, target)


def rubric_max_points(swa, names, scratch: pathlib.Path, rubric=None):
    """{stage: its points} as the grader's rubric gives them, asked of the grader itself: without a GPU
    (CUDA_VISIBLE_DEVICES empty) `swa grade` reports every stage it is given at 0 of its points, without
    loading it, so empty stand-in libraries do. {} when the grader reports nothing."""
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "stages" / "student").mkdir(parents=True)
    for name in names:
        (scratch / "stages" / "student" / f"{name}.so").touch()
    command = [str(swa), "grade", "--stages-dir", str(scratch / "stages"), "--variant", "student", "--seed", "1",
               "--out", str(scratch / "report")] + (["--rubric", str(rubric)] if rubric else [])
    try:
        subprocess.run(command, capture_output=True, timeout=600, stdin=subprocess.DEVNULL,
                       env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        report = json.loads((scratch / "report" / "grade.json").read_text())
        return {s["stage"]: s["max_score"] for s in report["stages"]}
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", type=pathlib.Path)
    parser.add_argument("--stages", type=pathlib.Path, required=True, help="the kit's stages/ folder")
    parser.add_argument("--into", type=pathlib.Path, help="write every stage here (submitted, else the starter)")
    parser.add_argument("--json", action="store_true", help="print {stage: path} of the submitted stages")
    args = parser.parse_args()
    if not args.submission.is_dir():
        print(f"submission: {args.submission} is not a folder", file=sys.stderr)
        return 2
    names = stage_names(args.stages)
    if not names:
        print(f"submission: no NN_name/{STAGE_FILE} stages in {args.stages}", file=sys.stderr)
        return 2
    try:
        kernels = find_kernels(args.submission, names)
    except SubmissionError as error:
        print(f"submission: {error}", file=sys.stderr)
        return 1
    if args.into:
        lay_out(kernels, args.stages, args.into)
    if args.json:
        print(json.dumps({stage: str(path) for stage, path in kernels.items()}))
    else:
        for stage in names:
            where = kernels[stage].relative_to(args.submission) if stage in kernels else None
            print(f"  {stage}: {'submitted (' + str(where) + ')' if where else 'not submitted: the starter'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
