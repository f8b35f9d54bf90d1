#!/usr/bin/env bash
# tools/grade_slurm.sh: grade a class on a Slurm cluster, one submission per task of a job array.
#
#   tools/grade_slurm.sh SUBMISSIONS [--out DIR] [--seed N] [--rubric FILE] [--partition P] [--gpus N]
#                        [--cpus N] [--max-parallel N] [--time MIN] [--swa PATH] [--arch A] [--wait] [--allow-no-gpu]
#                        [-- SBATCH_OPTION...]
#
# Runs where sbatch does (a login node), from a kit on a file system every node sees, with OUT (default
# class-results) there too:
#   1. tools/grade_class.py --prepare builds the kit's grader once (OUT/build/_grader/swa; for --arch, else
#      the login node's GPU, else the kit's default architectures), and draws the class's seed into
#      OUT/class.json (or keeps the one there; --seed overrides);
#   2. a job array, one task per student (tools/grade_class.py --list), each task grading its student as
#      tools/grade_class.py does (sandboxed builds, one seed): OUT/STUDENT/row.json and the reports;
#      each task asks for --gpus GPUs (default 1; 0 on a cluster without GPU scheduling) and --cpus cores
#      (default 2); --swa PATH grades with a grader already built instead;
#   3. a merge job that runs when every task has ended, whatever their states (afterany):
#      tools/grade_class.py --merge writes OUT/class.csv from the rows, keeping the rows of students
#      not graded this time.
# --wait waits for the merge job and exits with its status (grade_class.py's: 0 graded, 1 a submission
# failed, 3 no GPU); without it, the job ids are printed and the script returns at once.
# Each task's output: OUT/slurm/task-INDEX.out; the merge's: OUT/slurm/merge.out.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=$PWD

usage() { sed -n '2,25p' "$0" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
submissions=$1
shift
out=class-results seed=0 rubric="" partition="" gpus=1 cpus=2 max_parallel=0 minutes=120 wait=0 class_args=()
sbatch_extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift ;;
    --seed) seed=$2; shift ;;
    --rubric) rubric=$2; shift ;;
    --partition) partition=$2; shift ;;
    --gpus) gpus=$2; shift ;;
    --cpus) cpus=$2; shift ;;
    --swa) class_args+=(--swa "$(realpath "$2")"); shift ;;
    --arch) class_args+=(--arch "$2"); shift ;;
    --max-parallel) max_parallel=$2; shift ;;
    --time) minutes=$2; shift ;;
    --wait) wait=1 ;;
    --allow-no-gpu | --unsandboxed) class_args+=("$1") ;;
    --) shift; sbatch_extra=("$@"); break ;;
    *) echo "grade_slurm: unknown option $1" >&2; usage ;;
  esac
  shift
done
command -v sbatch >/dev/null || { echo "grade_slurm: sbatch is not here: run it on a Slurm login node" >&2; exit 2; }
[[ -d $submissions ]] || { echo "grade_slurm: $submissions is not a folder of submissions" >&2; exit 2; }
# Every path absolute: the tasks run elsewhere, from another folder.
submissions=$(realpath "$submissions")
mkdir -p "$out" && out=$(realpath "$out")
[[ -z $rubric ]] || { rubric=$(realpath "$rubric"); class_args+=(--rubric "$rubric"); }
((seed == 0)) || class_args+=(--seed "$seed")

mapfile -t students < <(python3 tools/grade_class.py "$submissions" --list)
((${#students[@]})) || { echo "grade_slurm: no student folders in $submissions" >&2; exit 2; }
echo "grade_slurm: ${#students[@]} students; building the grader and choosing the seed first"
python3 tools/grade_class.py "$submissions" --out "$out" --prepare "${class_args[@]}"
mkdir -p "$out/slurm"

common=(--parsable --chdir "$kit" --time "$minutes")
[[ -z $partition ]] || common+=(--partition "$partition")
array=0-$((${#students[@]} - 1))
((max_parallel > 0)) && array+="%$max_parallel"
task=(--array "$array" --job-name swa-grade --output "$out/slurm/task-%a.out" --cpus-per-task "$cpus")
((gpus > 0)) && task+=(--gpus-per-task "$gpus")
# The task: this student's index in the same sorted list; the grader and seed from OUT/class.json.
job=$(sbatch "${common[@]}" "${task[@]}" "${sbatch_extra[@]}" --wrap \
  "python3 '$kit/tools/grade_class.py' '$submissions' --out '$out' --task-index \$SLURM_ARRAY_TASK_ID ${class_args[*]@Q}")
job=${job%%;*}
merge=(--dependency "afterany:$job" --job-name swa-grade-merge --output "$out/slurm/merge.out")
((wait)) && merge+=(--wait)
echo "grade_slurm: job array $job (${#students[@]} tasks); class.csv is merged when every task has ended"
status=0
merge_job=$(sbatch "${common[@]}" "${merge[@]}" --wrap "python3 '$kit/tools/grade_class.py' --merge --out '$out'") || status=$?
echo "grade_slurm: merge job ${merge_job%%;*}"
if ((wait)); then
  cat "$out/slurm/merge.out" 2>/dev/null || true
  echo "grade_slurm: merge job ended with exit status $status; the class: $out/class.csv"
  exit "$status"
fi
echo "grade_slurm: follow with: squeue -j $job; the class will be in $out/class.csv"
