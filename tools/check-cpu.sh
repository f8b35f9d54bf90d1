#!/usr/bin/env bash
# tools/check-cpu.sh: check a stage on the CPU, without a GPU (the CUDA-core stages 01-05).
#
#   tools/check-cpu.sh 04             your stages/04_*/kernel.cu, compiled for the host, through the grader's
#                                     correctness and window cases with the grader's feedback
#   tools/check-cpu.sh 04 --max-n 300 --seed 7 -v
#
# Every block's threads take turns, forward and then in reverse, so a missing __syncthreads shows every
# time; when the two orders give different outputs it names a race. What it cannot show: speed, races that depend on real timing, the tensor-core stages. The grade
# that counts is the GPU's (tools/grade.sh). Exit status: 0 every case passed, 1 something failed,
# 2 bad arguments, 4 not implemented.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 && $1 != -* ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
stage=$1
shift
tools/setup.sh > /dev/null
cmake --preset student > /dev/null
dir=$(ls -d stages/"$stage"* 2>/dev/null | head -n 1 || true)
[[ -n $dir ]] || { echo "check-cpu.sh: no stage $stage in stages/" >&2; exit 2; }
name=$(basename "$dir")
cmake --build --preset student --target swa-cpu "swa_cpu_student_$name" ||
  { echo "check-cpu.sh: $name does not compile for the CPU check (errors above)" >&2; exit 1; }
exec build/student/swa-cpu "$name" "$@"
