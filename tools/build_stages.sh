#!/usr/bin/env bash
# tools/build_stages.sh: build the grader and the student's stage libraries, and nothing else.
#
#   tools/build_stages.sh [--separately] BUILD_DIR LOG_DIR [STAGE...]
#
# BUILD_DIR is a configured build folder (tools/grade.sh configures build/student); STAGE names stages/
# folders (default: all). Builds `swa` and each stage's library, not the test suite, and then:
#
# - A stage that does not compile does not stop the others (ninja -k 0), and no older library of it is
#   left to be graded by mistake: each stage's library is removed before its build.
# - A kernel.cu edited while the build ran is built again. Ninja compares times: an edit made after the
#   compiler read the file but before it wrote the object leaves an object newer than the source, which
#   the next build would call up to date. So each kernel.cu's content is hashed before the build and
#   after it; a changed one is touched (its time is now newer than its object) and the build runs again.
# - LOG_DIR/<stage>.log is the compiler's output for every stage that did not compile (its build run again
#   alone, for a log of its own); `swa grade --build-logs LOG_DIR` shows it to the student. With
#   --separately, every stage is built alone, one after the other, and every stage gets its log.
#
# $SWA_BUILD_TIMEOUT (seconds): the time limit of each build command (none by default). Builds read no
# input (stdin is closed).
#
# Exit status: 0 when `swa` built (a stage may still have failed: the last lines say which), 2 when it
# did not.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/lib/kit.sh

separately=0
[[ ${1:-} == --separately ]] && { separately=1; shift; }
[[ $# -ge 2 ]] || { echo "usage: $0 [--separately] BUILD_DIR LOG_DIR [STAGE...]" >&2; exit 2; }
build=$1 logs=$2
shift 2
stages=("$@")
((${#stages[@]})) || mapfile -t stages < <(swa_stage_names)
mkdir -p "$logs"
# Ninja's progress: [done/total elapsed] before each step.
export NINJA_STATUS=${NINJA_STATUS:-"[%f/%t %es] "}

limit=()
[[ -n ${SWA_BUILD_TIMEOUT:-} ]] && limit=(timeout --kill-after=10 "$SWA_BUILD_TIMEOUT")
build_targets() { "${limit[@]}" cmake --build "$build" --target "$@" < /dev/null; }

library() { echo "$build/stages/student/$1.so"; }
hashes() { local s; for s in "${stages[@]}"; do sha256sum "stages/$s/kernel.cu" 2>/dev/null || echo "missing $s"; done; }

for stage in "${stages[@]}"; do
  rm -f "$(library "$stage")" "$logs/$stage.log"
done

if ((separately)); then
  build_targets swa || { echo "build_stages: the grader (swa) did not build" >&2; exit 2; }
  for stage in "${stages[@]}"; do
    echo "build_stages: building $stage (log: $logs/$stage.log)"
    build_targets "swa_student_$stage" > "$logs/$stage.log" 2>&1 ||
      echo "build_stages: $stage did not compile"
  done
else
  targets=(swa)
  for stage in "${stages[@]}"; do targets+=("swa_student_$stage"); done
  for pass in 1 2 3; do
    before=$(hashes)
    build_targets "${targets[@]}" -- -k 0
    after=$(hashes)
    [[ $before == "$after" ]] && break
    edited=$(diff <(echo "$before") <(echo "$after") | sed -n 's|^> .*stages/\([^/]*\)/kernel.cu$|\1|p' | sort -u)
    echo "build_stages: edited during the build, so built again: $(echo $edited)"
    for stage in $edited; do
      touch "stages/$stage/kernel.cu"
      rm -f "$(library "$stage")"
    done
    ((pass == 3)) && echo "build_stages: still being edited after 3 builds: grading what was built last" >&2
  done
  [[ -x $build/swa ]] || { echo "build_stages: the grader (swa) did not build" >&2; exit 2; }
  for stage in "${stages[@]}"; do
    [[ -f $(library "$stage") ]] && continue
    # Again alone, for its log (a compile error repeats in seconds).
    build_targets "swa_student_$stage" > "$logs/$stage.log" 2>&1
  done
fi

failed=()
for stage in "${stages[@]}"; do
  [[ -f $(library "$stage") ]] || failed+=("$stage")
done
if ((${#failed[@]})); then
  for stage in "${failed[@]}"; do
    echo "build_stages: $stage did not compile, so it scores 0; the compiler's output: $logs/$stage.log" >&2
    grep -m 3 -E "error" "$logs/$stage.log" | sed 's/^/    /' >&2
  done
fi
echo "build_stages: built $((${#stages[@]} - ${#failed[@]})) of ${#stages[@]} stages"
exit 0
