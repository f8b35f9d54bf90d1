#!/usr/bin/env python3
"""Grade a class: every submission's stages, built in a sandbox and graded with one seed, into one table.

    tools/grade_class.py SUBMISSIONS [--out class-results] [--seed N] [--rubric FILE] [--student NAME ...]

SUBMISSIONS holds one folder per student (hidden folders and __MACOSX are passed over). In a student's
folder, NN_name/kernel.cu anywhere (stages/03_masked_windows/kernel.cu, 03_masked_windows/kernel.cu, ...)
is that stage (tools/submission.py); nothing else is taken: the headers, the grader and the build come
from this kit, so a submission cannot change what grades it.

For each student:
  1. their stages are laid over the kit's starters in OUT/work/STUDENT and compiled against the kit, each
     submitted stage on its own, in a bubblewrap sandbox that sees the system, the kit's build files and
     stages/common, and the student's folder, but not solutions/, .git or any build of the kit; no network;
     stdin closed; a time limit per stage (--build-timeout). Compiler output: OUT/STUDENT/build-logs/.
  2. the stages that compiled are graded by the kit's `swa grade` (--seed, --rubric, --build-logs), reports
     in OUT/STUDENT/ (grade.json, results.json, grade.txt).
  3. the student's row is written to OUT/STUDENT/row.json, and merged into OUT/class.csv: regrading one
     student (--student NAME) replaces that row and keeps the others. class.csv ends with a row "(max)"
     holding each stage's points; every row names the seed, commit and GPU it was graded with.

The seed is drawn once and kept in OUT/class.json, so a regrade uses it too (--seed overrides).
A GPU is checked for first: without one nothing is graded (exit 3), unless --allow-no-gpu, which runs
everything (the plumbing test: every stage "no GPU"). Exit status: 0 every submission graded; 1 something
failed for a submission (a build timed out, the grader could not run, a submission is ambiguous); 2 bad
arguments or the kit's grader did not build; 3 no GPU. Submitted stages that do not compile are a
student's result, not a failure: they score 0 and the row says so.

Without bubblewrap (`bwrap`, Debian package bubblewrap) the builds are refused, since a build could read the
solutions (#include "/path/to/kit/solutions/..."). --unsandboxed builds anyway, and says so in class.json.

Parts of this are used by tools/grade_slurm.sh: --prepare (build the grader, draw the seed), --task-index I
(grade the I-th student only, no merge) and --merge (write class.csv from the rows).
"""
import argparse
import csv
import datetime
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import submission  # noqa: E402  (tools/submission.py)
from sandbox import bwrap_works, sandbox_prefix  # noqa: E402  (tools/sandbox.py)

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What a stage's build reads from the kit; nothing else of it is visible in the sandbox.
KIT_BUILD_INPUTS = ["CMakeLists.txt", "CMakePresets.json", "cmake", "grader", "stages/common"]
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_GPU = 0, 1, 2, 3
MAX_ROW = "(max)"


def say(message):
    print(f"grade_class: {message}", flush=True)


def gpu_description():
    """The GPUs nvidia-smi lists ("NVIDIA H200"), or None."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return ", ".join(sorted(set(names))) if done.returncode == 0 and names else None


def cuda_architectures():
    """As tools/lib/kit.sh: $SWA_CUDA_ARCHITECTURES, else this machine's GPUs, else sm_90."""
    if os.environ.get("SWA_CUDA_ARCHITECTURES"):
        return os.environ["SWA_CUDA_ARCHITECTURES"]
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        caps = sorted({line.strip().replace(".", "") for line in done.stdout.splitlines() if line.strip()})
        if done.returncode == 0 and caps and all(c.isdigit() for c in caps):
            return ";".join(caps)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "90"


def kit_commit():
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
        return done.stdout.strip() if done.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def run_logged(command, log, timeout, cwd=None):
    """Runs `command` with stdin closed and its output appended to `log`; kills its whole process group at
    the time limit. Returns the exit status, or None when it timed out."""
    with open(log, "a") as out:
        out.write(f"$ {' '.join(map(str, command))}\n")
        out.flush()
        process = subprocess.Popen([str(c) for c in command], stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            out.write(f"\n(stopped: over the time limit of {timeout} s)\n")
            return None


# ---------------------------------------------------------------------------------------------------
# One student
# ---------------------------------------------------------------------------------------------------

class Settings:
    def __init__(self, args, meta, gpu):
        self.out = args.out.resolve()
        self.seed = meta["seed"]
        self.rubric = args.rubric.resolve() if args.rubric else None
        self.arch = args.arch or cuda_architectures()
        self.build_timeout = args.build_timeout
        self.grade_timeout = args.grade_timeout
        self.sandboxed = not args.unsandboxed
        self.swa = pathlib.Path(meta["swa"])
        self.gpu = gpu  # this machine's GPU (on Slurm: the task's node)
        self.commit = meta["commit"]


def build_student(student, kernels, settings, logs):
    """Compiles the submitted stages; returns ({stage: "built" | "does not compile" | "timed out"}, problem)."""
    work = settings.out / "work" / student
    build = settings.out / "build" / student
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    submission.lay_out(kernels, ROOT / "stages", work)
    prefix = []
    if settings.sandboxed:
        prefix = sandbox_prefix([ROOT / p for p in KIT_BUILD_INPUTS if (ROOT / p).exists()] + [work], [build])
    configure = prefix + ["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                          f"-DSWA_STAGES_DIR={work}", "-DSWA_BUILD_TESTS=OFF", "-DSWA_BUILD_SOLUTIONS=OFF",
                          "-DSWA_BUILD_PYTHON=OFF",
                          f"-DCMAKE_CUDA_ARCHITECTURES={settings.arch}"]
    configure_log = logs / "configure.log"
    status = run_logged(configure, configure_log, settings.build_timeout)
    if status != 0:
        why = "timed out" if status is None else f"exit status {status}"
        return {stage: "not built" for stage in kernels}, f"configuring the build failed ({why}): {configure_log}"
    outcome = {}
    for stage in sorted(kernels):
        log = logs / f"{stage}.log"
        log.unlink(missing_ok=True)
        status = run_logged(prefix + ["cmake", "--build", build, "--target", f"swa_student_{stage}"], log,
                            settings.build_timeout)
        built = (build / "stages" / "student" / f"{stage}.so").is_file()
        outcome[stage] = "timed out" if status is None else "built" if status == 0 and built else "does not compile"
    return outcome, None


def grade_student(student_dir, names, settings):
    """Builds and grades one student; writes OUT/STUDENT/row.json and returns the row."""
    student = student_dir.name
    result_dir = settings.out / student
    logs = result_dir / "build-logs"
    shutil.rmtree(result_dir, ignore_errors=True)
    logs.mkdir(parents=True)
    row = {"student": student, "seed": settings.seed, "commit": settings.commit,
           "gpu": settings.gpu or "none", "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
               timespec="seconds"), "problems": []}
    try:
        kernels = submission.find_kernels(student_dir, names)
    except submission.SubmissionError as error:
        kernels = {}
        row["problems"].append(str(error))
    say(f"{student}: {len(kernels)} stage files ({', '.join(sorted(kernels)) or 'none'})")
    outcome, problem = build_student(student, kernels, settings, logs) if kernels else ({}, None)
    if problem:
        row["problems"].append(problem)
    for stage, state in outcome.items():
        if state == "timed out":
            row["problems"].append(f"{stage}: the build ran past {settings.build_timeout} s")
    built = sorted(stage for stage, state in outcome.items() if state == "built")

    report = None
    if built:
        command = [settings.swa, "grade", *built, "--stages-dir", settings.out / "build" / student / "stages",
                   "--variant", "student", "--seed", settings.seed, "--out", result_dir]
        if settings.rubric:
            command += ["--rubric", settings.rubric]
        if supports_build_logs(settings.swa):
            command += ["--build-logs", logs]
        status = run_logged(command, result_dir / "grade.txt", settings.grade_timeout)
        row["grade_exit"] = status
        report_path = result_dir / "grade.json"
        if status in (0, 1, 3) and report_path.is_file():
            report = json.loads(report_path.read_text())
        else:
            why = "timed out" if status is None else f"exit status {status}"
            row["problems"].append(f"swa grade did not finish ({why}): {result_dir / 'grade.txt'}")

    graded = {s["stage"]: s for s in (report or {}).get("stages", [])}
    total = 0.0
    for name in names:
        if name in graded:
            stage = graded[name]
            total += stage["score"]
            row[name] = stage["score"] if stage["status"] == "graded" else f'0 ({stage["status"]})'
            row.setdefault("max_points", {})[name] = stage["max_score"]
        elif name not in kernels:
            row[name] = "0 (not submitted)"
        elif outcome.get(name) == "does not compile":
            row[name] = f"0 (does not compile: see {student}/build-logs/{name}.log)"
        elif outcome.get(name) == "timed out":
            row[name] = "0 (build timed out)"
        else:
            row[name] = "0 (not graded: see problems)"
    row["total"] = round(total, 3)
    row["status"] = ("problems: " + "; ".join(row["problems"])) if row["problems"] else (
        "not graded: no GPU" if not settings.gpu else "graded")
    (result_dir / "row.json").write_text(json.dumps(row, indent=1) + "\n")
    say(f"{student}: {row['total']:g} points ({row['status']})")
    return row


_build_logs_support = {}


def supports_build_logs(swa):
    """Whether this grader takes --build-logs (it shows a stage's compiler output in its report)."""
    if swa not in _build_logs_support:
        try:
            done = subprocess.run([str(swa), "grade", "--help"], capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
            _build_logs_support[swa] = "--build-logs" in done.stdout
        except (OSError, subprocess.TimeoutExpired):
            _build_logs_support[swa] = False
    return _build_logs_support[swa]


# ---------------------------------------------------------------------------------------------------
# The class
# ---------------------------------------------------------------------------------------------------

def list_students(submissions: pathlib.Path):
    return sorted(p for p in submissions.iterdir() if p.is_dir() and not submission.ignored(p.name))


def prepare(args):
    """Builds the kit's grader (swa) once, draws or keeps the seed, and writes OUT/class.json."""
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "class.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if args.seed:
        meta["seed"] = args.seed
    meta.setdefault("seed", random.randint(1, 10**9))
    meta["commit"] = kit_commit()
    meta["gpu"] = gpu_description()
    meta["sandboxed"] = not args.unsandboxed
    if args.swa:
        swa = args.swa.resolve()
    else:
        build = out / "build" / "_grader"
        log = out / "grader-build.log"
        log.unlink(missing_ok=True)
        say(f"building the kit's grader in {build} (log: {log})")
        # For --arch, else this machine's GPU, else the kit's default list (sm_80, sm_86, sm_90 and PTX): a
        # Slurm login node without a GPU builds a grader that runs on the nodes' GPUs.
        arch = args.arch or (cuda_architectures() if meta["gpu"] else None)
        configure = ["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                     "-DSWA_BUILD_TESTS=OFF", "-DSWA_BUILD_SOLUTIONS=OFF", "-DSWA_BUILD_PYTHON=OFF"]
        configure += [f"-DCMAKE_CUDA_ARCHITECTURES={arch}"] if arch else []
        for command in (configure,
                        ["cmake", "--build", build, "--target", "swa"]):
            if run_logged(command, log, args.grader_timeout) != 0:
                say(f"the kit's grader did not build: {log}")
                return None
        swa = build / "swa"
    if not os.access(swa, os.X_OK):
        say(f"{swa}: no grader program there")
        return None
    meta["swa"] = str(swa)
    meta["max_points"] = submission.rubric_max_points(swa, submission.stage_names(ROOT / "stages"),
                                                      out / "build" / "_max_points", args.rubric)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def read_rows_csv(path: pathlib.Path):
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f) if row.get("student") and row["student"] != MAX_ROW}


def merge(out: pathlib.Path, names):
    """class.csv from the existing table and every OUT/STUDENT/row.json (a row.json wins over the table)."""
    table = out / "class.csv"
    rows = read_rows_csv(table)
    meta_path = out / "class.json"
    points = json.loads(meta_path.read_text()).get("max_points", {}) if meta_path.is_file() else {}
    problems = 0
    for row_file in sorted(out.glob("*/row.json")):
        row = json.loads(row_file.read_text())
        points = {**row.get("max_points", {}), **points}  # the rubric's, else what a report said
        problems += bool(row.get("problems"))
        rows[row["student"]] = {k: v for k, v in row.items() if k not in ("max_points", "problems", "grade_exit")}
    fields = ["student", *names, "total", "status", "seed", "commit", "gpu", "graded_at"]
    older = sorted({k for row in rows.values() for k in row if k not in fields})  # an older kit's stages
    fields[1:1] = older
    maximum = {"student": MAX_ROW, **{n: points.get(n, "") for n in names}}
    if all(isinstance(points.get(n), (int, float)) for n in names):
        maximum["total"] = sum(points[n] for n in names)
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows[s] for s in sorted(rows))
        writer.writerow(maximum)
    say(f"wrote {table} ({len(rows)} students)")
    return rows


def exit_status(rows):
    """1 when a submission could not be graded, else 3 when a row was graded without a GPU, else 0."""
    statuses = [str(r.get("status", "")) for r in rows]
    if any(s.startswith("problems") for s in statuses):
        return EXIT_FAILED
    if any(s == "not graded: no GPU" for s in statuses):
        return EXIT_NO_GPU
    return EXIT_OK


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("submissions", type=pathlib.Path, nargs="?", help="a folder with one folder per student")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("class-results"),
                        help="results folder (default: class-results)")
    parser.add_argument("--seed", type=int, default=0, help="one seed for the class (default: kept in class.json, "
                        "or a new one)")
    parser.add_argument("--rubric", type=pathlib.Path, help="a JSON rubric for swa grade (docs/grading.md)")
    parser.add_argument("--student", action="append", default=[], help="grade only this student (repeatable)")
    parser.add_argument("--arch", help="CUDA architectures to compile for (default: this machine's GPU)")
    parser.add_argument("--build-timeout", type=int, default=600, help="seconds for each stage's build (600)")
    parser.add_argument("--grade-timeout", type=int, default=3600, help="seconds for one student's grading (3600)")
    parser.add_argument("--grader-timeout", type=int, default=1800, help="seconds to build the kit's grader (1800)")
    parser.add_argument("--swa", type=pathlib.Path, help="a built `swa` to grade with, instead of building one")
    parser.add_argument("--allow-no-gpu", action="store_true",
                        help="run without a GPU (to test the plumbing: every stage is 'no GPU'; exit 3)")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="build without bubblewrap: a submission's build could then read solutions/")
    parser.add_argument("--prepare", action="store_true", help="(grade_slurm.sh) build the grader, keep the seed")
    parser.add_argument("--task-index", type=int, help="(grade_slurm.sh) grade the I-th student only, no merge")
    parser.add_argument("--merge", action="store_true", help="(grade_slurm.sh) write class.csv from the rows")
    parser.add_argument("--list", action="store_true", help="print the students, one a line, and stop")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    names = submission.stage_names(ROOT / "stages")
    if args.merge:
        return exit_status(merge(args.out.resolve(), names).values())
    if args.submissions is None or not args.submissions.is_dir():
        say(f"{args.submissions}: not a folder of submissions (one folder per student)")
        return EXIT_USAGE
    students = list_students(args.submissions)
    if args.list:
        print("\n".join(s.name for s in students))
        return EXIT_OK
    if args.student:
        unknown = sorted(set(args.student) - {s.name for s in students})
        if unknown:
            say(f"no such student in {args.submissions}: {', '.join(unknown)}")
            return EXIT_USAGE
        students = [s for s in students if s.name in args.student]
    if args.task_index is not None:
        if not 0 <= args.task_index < len(students):
            say(f"--task-index {args.task_index}: there are {len(students)} students (0 to {len(students) - 1})")
            return EXIT_USAGE
        students = [students[args.task_index]]
    if args.rubric and not args.rubric.is_file():
        say(f"--rubric {args.rubric}: no such file")
        return EXIT_USAGE

    if args.prepare:  # on a Slurm login node, which may have no GPU: the tasks check theirs
        return EXIT_OK if prepare(args) else EXIT_USAGE
    gpu = gpu_description()
    if gpu is None and not args.allow_no_gpu:
        say("no GPU here (nvidia-smi lists none): nothing was graded. Grade on a machine with an NVIDIA GPU "
            "(or pass --allow-no-gpu to test the plumbing).")
        return EXIT_NO_GPU
    if not args.unsandboxed:
        why = bwrap_works()
        if why:
            say(f"{why}. The submissions' builds run in a bubblewrap sandbox so that they cannot read solutions/. "
                "Install it, or pass --unsandboxed to build without one.")
            return EXIT_USAGE
    else:
        say("WARNING: --unsandboxed: the submissions' builds can read every file this user can, solutions/ too")

    if args.task_index is None or not (args.out / "class.json").is_file():
        meta = prepare(args)
    else:
        meta = json.loads((args.out / "class.json").read_text())
    if meta is None:
        return EXIT_USAGE
    settings = Settings(args, meta, gpu)
    say(f"{len(students)} students, seed {settings.seed}, GPU {settings.gpu or 'none'}, "
        f"architecture {settings.arch}, {'sandboxed' if settings.sandboxed else 'UNSANDBOXED'} builds")
    rows = [grade_student(s, names, settings) for s in students]
    if args.task_index is not None:
        return exit_status(rows)
    merge(settings.out, names)
    return exit_status(rows)


if __name__ == "__main__":
    sys.exit(main())
