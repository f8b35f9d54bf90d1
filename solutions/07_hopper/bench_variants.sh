#!/usr/bin/env bash
# Stage 07's timing variants side by side, on the GPU machine, in one command:
#
#   solutions/07_hopper/bench_variants.sh [PRESET]      # PRESET: gpu (default) or instructor
#
# Builds the variants of experiments.cmake (kernel.cu's compile-time switches), stage 06 and stage 07, then
# times them with `swa bench` (median of timed runs, L2 flushed before each, CUDA events around the call;
# every output checked against the reference on two heads) at the exercise's shapes (1,1,N,64), N = 512,
# 1024, 2048, and at (4,16,4096,64) and (4,16,8192,128), window sliding:128. Prints one table last; the
# benches' JSON and logs go to $OUT (when set: the GPU machine's folder that comes back) or
# build/PRESET/stage07-variants.
#
# A variant is checked only here, by the bench, at these shapes (the test suite checks the default build on
# awkward sizes). The x_ and y_ variants skip work on purpose (their check fails: they measure the launch
# alone, and everything but the tensor cores' work).
set -euo pipefail

preset="${1:-gpu}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build/$preset"
out="${OUT:-$build/stage07-variants}"
mkdir -p "$out"
cd "$root"

echo "== configure and build ($preset, SWA_STAGE07_VARIANTS=ON)"
cmake --preset "$preset" -DSWA_STAGE07_VARIANTS=ON > "$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build --preset "$preset" --target swa stage07_variants swa_solution_06_tensor_cores swa_solution_07_hopper \
  > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }

# One bench per library and head dimension: a variant that hangs (a protocol bug) or fails loses only its
# own row.
bench() {
  local name="$1" status=0
  shift
  echo "== swa bench $*"
  timeout 240 "$build/swa" bench --pattern sliding:128 --no-full "$@" --json "$out/$name.json" \
    > "$out/$name.txt" 2> "$out/$name.log" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "   FAILED (exit $status$([ "$status" -eq 124 ] && echo ': timed out, a hang?')): see $out/$name.log"
    tail -3 "$out/$name.log"
  fi
}
rm -f "$out"/*.json
# Stage 06 for comparison; stage 07 itself is a_default.
bench "reference-06_tensor_cores-d64" --stages-dir "$build/stages" --variant solution --stages 06_tensor_cores --fill-sizes 4096
bench "reference-06_tensor_cores-d128" --stages-dir "$build/stages" --variant solution --stages 06_tensor_cores -D 128 \
  --fill-sizes 8192
for library in "$build"/stages/experiments/solution/07_*.so; do
  stage="$(basename "$library" .so)"
  bench "variant-$stage-d64" --stages-dir "$build/stages/experiments" --variant solution --stages "$stage" --fill-sizes 4096
  # Variants that change only the D = 64 build (the number of consumers there) are timed at D = 64 alone.
  grep -q "^ *swa_stage07_variant(${stage#07_} .*CONSUMERS_D64" "$root/solutions/07_hopper/experiments.cmake" && continue
  bench "variant-$stage-d128" --stages-dir "$build/stages/experiments" --variant solution --stages "$stage" -D 128 \
    --fill-sizes 8192
done

python3 - "$out" <<'EOF'
import json, pathlib, sys

out = pathlib.Path(sys.argv[1])
columns = [(1, 1, 512, 64), (1, 1, 1024, 64), (1, 1, 2048, 64), (4, 16, 4096, 64), (4, 16, 8192, 128),
           (1, 1, 2048, 128)]
cells, order = {}, []
for path in sorted(out.glob("reference-*.json")) + sorted(out.glob("variant-*.json")):
    for r in json.loads(path.read_text())["results"]:
        stage = r["stage"]
        if stage not in order:
            order.append(stage)
        key = (r["B"], r["H"], r["N"], r["D"])
        w = r.get("window", {})
        if "median_ms" not in w:
            cells[stage, key] = "skipped"
            continue
        text = f"{1000 * w['median_ms']:.1f}"
        if r["B"] * r["H"] > 1:
            text += f" ({w['useful_tflops']:.0f})"
        check = w.get("check", "-")
        if check != "passed":
            diagnostic = stage.startswith(("07_x_", "07_y_"))
            text += " [diag]" if diagnostic else " CHECK FAILED"
        cells[stage, key] = text
print()
print("Stage 07 variants, sliding:128: median us per call (useful TFLOP/s), L2 flushed; 'CHECK FAILED' = wrong output")
head = f"{'stage':<24}" + "".join(f"{','.join(map(str, c)):>20}" for c in columns)
print(head)
print("-" * len(head))
for stage in order:
    print(f"{stage:<24}" + "".join(f"{cells.get((stage, c), '-'):>20}" for c in columns))
print(f"{'issue 11 targets':<24}" + "".join(f"{t:>20}" for t in ["<= 7.9", "<= 5.4", "<= 5.0 (8)", "<= 62 (272)",
                                                                  "(308 at B=2)", "-"]))
print(f"logs and JSON: {out}")
EOF
