#!/usr/bin/env bash
# python/run-on-gpu.sh: swa_torch on a GPU machine in one command, after the kit is built there:
# the GPU tests (every solution stage against PyTorch), the bench, the example; the summary comes last.
#
#   python/run-on-gpu.sh [BUILD_DIR [OUT_DIR]]     defaults: build/gpu, $OUT (else python-results)
#   QUICK=1 python/run-on-gpu.sh                   the bench at its two --quick shapes (less torch.compile)
#   STAGES=04,06 python/run-on-gpu.sh              the solution stages to bench (default: every one from 04)
#
# Writes OUT_DIR/torch-bench.json (schema swa-torch-bench/1) and a log of each part. Exit status 0 only
# when the tests, the bench and the example all pass.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
build=${1:-build/gpu}
out=${2:-${OUT:-python-results}}
mkdir -p "$out"
SWA_BUILD_DIR=$(realpath "$build")
export SWA_BUILD_DIR PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1
stages=${STAGES:-$(find "$build/stages/solution" -name '0[4-9]_*.so' -printf '%f\n' 2>/dev/null | sort | cut -c1-2 |
  paste -sd, -)}
if [[ -z $stages ]]; then
  echo "run-on-gpu: no solution stages 04-09 in $build/stages/solution: build the gpu or instructor preset first" >&2
  exit 2
fi

python3 python/tests/run_gpu_tests.py >"$out/python-gpu-tests.log" 2>&1
tests=$?
python3 -m swa_torch.bench --variant solution --stages "$stages" ${QUICK:+--quick} --json "$out/torch-bench.json" \
  >"$out/torch-bench.txt" 2>"$out/torch-bench.log"
bench=$?
python3 -m swa_torch.example --stage "${stages##*,}" --variant solution >"$out/example.txt" 2>"$out/example.log"
example=$?

verdict() {
  if (($1 == 0)); then echo ok; elif (($1 == 77)); then echo "skipped"; else echo "FAILED (exit $1): see $2"; fi
}
echo
echo "== swa_torch on $(python3 -c 'import torch; print(torch.cuda.get_device_name())' 2>/dev/null), build $build"
echo "-- GPU tests: $(verdict $tests "$out/python-gpu-tests.log")"
grep -E "^(Ran |OK|FAILED)|^(FAIL|ERROR):|cases over|skipped" "$out/python-gpu-tests.log" | head -20
echo "-- bench (stages $stages): $(verdict $bench "$out/torch-bench.txt, $out/torch-bench.log")"
if [[ -s $out/torch-bench.txt ]]; then cat "$out/torch-bench.txt"; else tail -n 20 "$out/torch-bench.log"; fi
echo "-- example: $(verdict $example "$out/example.txt, $out/example.log")"
if [[ -s $out/example.txt ]]; then cat "$out/example.txt"; else tail -n 20 "$out/example.log"; fi
((tests == 0 && bench == 0 && example == 0))
