#!/usr/bin/env python3
"""Grade a class: every submission's stages, one after the other, into one table.

    tools/grade_class.py SUBMISSIONS [--out class-results] [--seed N] [--arch native]

SUBMISSIONS is a folder with one folder per student. A student's folder holds their stage files, either
as NAME/stages/NN_name/kernel.cu or as NAME/NN_name/kernel.cu; only those kernel.cu files are taken: the
headers, the grader and the build always come from this kit, so a submission cannot change what grades it.

For each student the stages are compiled against this kit (a stage that does not compile scores 0 and its
compiler output is kept), then graded by the kit's `swa grade` with one seed for the whole class. Results:
OUT/STUDENT/grade.json and results.json (as `swa grade` writes them), OUT/STUDENT/build.log, and the
class table OUT/class.csv (a row per student, a column per stage, the total). Needs a GPU and the
instructor build (cmake --preset instructor && cmake --build --preset instructor).
"""
import argparse
import csv
import json
import pathlib
import random
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SWA = ROOT / "build" / "instructor" / "swa"


def kit_stage_names():
    return sorted(p.parent.name for p in (ROOT / "stages").glob("[0-9][0-9]_*/kernel.cu"))


def student_kernels(folder: pathlib.Path, names):
    """The student's kernel.cu of each stage name they submitted."""
    found = {}
    for name in names:
        for candidate in (folder / "stages" / name / "kernel.cu", folder / name / "kernel.cu"):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def build_student(student: str, kernels, out: pathlib.Path, arch: str, log):
    """Lays out the student's stages next to the kit's stages/common and compiles them. Returns the
    stages folder of the build and the names of the stages that compiled."""
    work = out / "work" / student
    shutil.rmtree(work, ignore_errors=True)
    for name in kit_stage_names():  # every stage starts as the kit's starter ...
        (work / name).mkdir(parents=True)
        shutil.copy(ROOT / "stages" / name / "kernel.cu", work / name / "kernel.cu")
    for name, path in kernels.items():  # ... and the submitted ones replace theirs
        shutil.copy(path, work / name / "kernel.cu")
    build = out / "build" / student
    configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                 f"-DSWA_STAGES_DIR={work}", "-DSWA_BUILD_TESTS=OFF", f"-DCMAKE_CUDA_ARCHITECTURES={arch}"]
    subprocess.run(configure, stdout=log, stderr=subprocess.STDOUT, check=True)
    # An earlier run's libraries must not stand in for stages that no longer compile.
    for old in (build / "stages" / "student").glob("*.so"):
        old.unlink()
    # -k 0: a stage that does not compile must not keep the others from being built.
    subprocess.run(["cmake", "--build", str(build), "--target", "student_stages", "--", "-k", "0"],
                   stdout=log, stderr=subprocess.STDOUT)
    built = sorted(p.stem for p in (build / "stages" / "student").glob("*.so"))
    return build / "stages", built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=pathlib.Path, help="a folder with one folder per student")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("class-results"))
    parser.add_argument("--seed", type=int, default=0, help="one seed for the whole class (default: a new one)")
    parser.add_argument("--arch", default="native", help="CUDA architectures to compile for (default: this GPU)")
    args = parser.parse_args()

    if not SWA.exists():
        print(f"grade_class: {SWA} is missing: cmake --preset instructor && cmake --build --preset instructor",
              file=sys.stderr)
        return 2
    if not args.submissions.is_dir():
        print(f"grade_class: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 2
    seed = args.seed or random.randint(1, 10**9)
    names = kit_stage_names()
    students = sorted(p for p in args.submissions.iterdir() if p.is_dir())
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for student_dir in students:
        student = student_dir.name
        result_dir = args.out / student
        result_dir.mkdir(parents=True, exist_ok=True)
        kernels = student_kernels(student_dir, names)
        print(f"{student}: {len(kernels)} stage files", flush=True)
        with open(result_dir / "build.log", "w") as log:
            stages_dir, built = build_student(student, kernels, args.out, args.arch, log)
        row = {"student": student}
        total = 0.0
        graded = [n for n in built if n in kernels]
        if graded:
            grade = [str(SWA), "grade", *graded, "--stages-dir", str(stages_dir), "--variant", "student",
                     "--solutions-dir", str(ROOT / "build" / "instructor" / "stages"), "--seed", str(seed),
                     "--out", str(result_dir)]
            with open(result_dir / "grade.txt", "w") as text:
                subprocess.run(grade, stdout=text, stderr=subprocess.STDOUT)
            report = json.loads((result_dir / "grade.json").read_text())
            for stage in report["stages"]:
                row[stage["stage"]] = stage["score"] if stage["status"] == "graded" else f'0 ({stage["status"]})'
                total += stage["score"]
        for name in names:
            if name not in kernels:
                row[name] = "0 (not submitted)"
            elif name not in built:
                row[name] = "0 (does not compile: see build.log)"
        row["total"] = total
        rows.append(row)
        print(f"  {total:g} points", flush=True)

    with open(args.out / "class.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["student", *names, "total"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out / 'class.csv'} ({len(rows)} students, seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
