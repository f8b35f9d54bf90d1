#!/usr/bin/env bash
# tools/grade.sh: build what grading needs, and grade your stages.
#
#   tools/grade.sh                       every stage
#   tools/grade.sh 03_masked_windows     one stage (a name or its number: tools/grade.sh 03); builds only it
#   tools/grade.sh --help                the grader's options (--seed, --rubric, --out, --verbose, ...)
#
# Builds only the grader (`swa`) and your stage libraries, not the test suite, in build/student, for the
# GPU of this machine (nvidia-smi's compute capability; without a GPU, sm_90; $SWA_CUDA_ARCHITECTURES
# overrides both). The first build takes a few minutes, later ones only what changed. A stage edited while
# it was being built is built again (tools/build_stages.sh says how). A stage that does not compile scores
# 0, and its compiler output is in grade-results/build-logs/STAGE.log.
#
# The reports go to grade-results/ (or --out DIR): grade.json (every check) and results.json (Gradescope).
# The last line says what the exit status means: 0 every point, 1 something to fix, 2 not graded (bad
# arguments, or the grader did not build), 3 not graded, no GPU (docs/grading.md).
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/lib/kit.sh

finish() {
  echo
  echo "grade.sh: $(swa_exit_meaning "$1")"
  exit "$1"
}

# The stages named on the command line (by name or number) are the ones built; every other argument is
# the grader's. Options that take a value are skipped with their value.
out=grade-results
out_given=0 help=0
stages=() args=()
expect_value=""
for arg in "$@"; do
  if [[ -n $expect_value ]]; then
    [[ $expect_value == --out ]] && { out=$arg; out_given=1; }
    args+=("$arg")
    expect_value=""
    continue
  fi
  case $arg in
    --help | -h) help=1 ;;
    --out=*) out=${arg#--out=}; out_given=1; args+=("$arg") ;;
    --seed | --rubric | --out | --variant | --stages-dir | --solutions-dir | --build-logs) expect_value=$arg; args+=("$arg") ;;
    -*) args+=("$arg") ;;
    *)
      match=$(swa_stage_names | grep -E "^${arg}(_|$)" | head -n 1)
      [[ -n $match ]] && stages+=("$match")
      args+=("$arg")  # the grader names it again, or says which stages there are
      ;;
  esac
done

tools/setup.sh || finish 2
arch=$(swa_cuda_architectures)
build=build/student
# Configured once; again only for another GPU (ninja reruns CMake itself when a CMakeLists.txt changes).
if [[ ! -f $build/build.ninja ]] || ! grep -qE "^CMAKE_CUDA_ARCHITECTURES:[A-Z]+=$arch\$" "$build/CMakeCache.txt"; then
  echo "grade.sh: configuring $build for CUDA architecture $arch (about a minute: CMake tries the compilers)"
  mkdir -p build
  cmake --preset student -DCMAKE_CUDA_ARCHITECTURES="$arch" > "$build.configure.log" 2>&1 || {
    cat "$build.configure.log" >&2
    finish 2
  }
fi
# --help grades nothing: the grader's options, and no line about a grade.
if ((help)); then
  cmake --build "$build" --target swa > /dev/null || finish 2
  exec "$build/swa" grade --help
fi
echo "grade.sh: building the grader and ${stages[*]:-every stage} for sm_${arch//;/, sm_}"
tools/build_stages.sh "$build" "$out/build-logs" "${stages[@]}" || finish 2

# The grader shows a stage's compiler output with its report when it can read the logs (--build-logs).
if "$build/swa" grade --help 2>/dev/null | grep -q -- "--build-logs"; then
  args+=(--build-logs "$out/build-logs")
fi
((out_given)) || args+=(--out "$out")
echo
status=0
"$build/swa" grade "${args[@]}" || status=$?
finish "$status"
