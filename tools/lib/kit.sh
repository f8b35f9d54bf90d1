# tools/lib/kit.sh: what the kit's shell tools share (sourced, not run).
#
#   swa_cuda_architectures   the CUDA architectures to build for: $SWA_CUDA_ARCHITECTURES when set, else
#                            the compute capability of every GPU nvidia-smi lists ("9.0" -> 90), else the
#                            default, SWA_DEFAULT_ARCH
#   swa_exit_meaning N       one line: what `swa grade`'s exit status N means (docs/grading.md)
#   swa_stage_names          the stage folders of stages/ (01_naive, ...), one a line

# The architecture when no GPU is present: sm_90 (H100, H200), the GPU the course's numbers come from.
# CMake's "90" is sm_90 machine code plus compute_90 PTX, which newer GPUs compile when they load it.
SWA_DEFAULT_ARCH=90

swa_cuda_architectures() {
  if [[ -n ${SWA_CUDA_ARCHITECTURES:-} ]]; then
    echo "$SWA_CUDA_ARCHITECTURES"
    return
  fi
  local caps
  caps=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d ' .' | grep -E '^[0-9]+$' |
    sort -u | paste -sd ';' || true)
  echo "${caps:-$SWA_DEFAULT_ARCH}"
}

# Whether nvidia-smi sees a GPU (the grader asks the CUDA driver itself; this is the quick look first).
swa_gpu_present() {
  nvidia-smi --query-gpu=name --format=csv,noheader >/dev/null 2>&1 &&
    [[ -n $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null) ]]
}

swa_exit_meaning() {
  case $1 in
    0) echo "exit 0: graded, every stage got every point" ;;
    1) echo "exit 1: graded, something to fix (the report above says what)" ;;
    2) echo "exit 2: not graded, a bad command line or rubric, or the grader did not build (message above)" ;;
    3) echo "exit 3: not graded, no GPU (the reports say \"no GPU\"; grade on a machine with an NVIDIA GPU; meanwhile tools/check-cpu.sh NN checks stages 01-05 on the CPU)" ;;
    *) echo "exit $1: the grader stopped unexpectedly (message above)" ;;
  esac
}

swa_stage_names() {
  local dir
  for dir in stages/[0-9][0-9]_*/; do
    [[ -f $dir/kernel.cu ]] && basename "$dir"
  done
}
