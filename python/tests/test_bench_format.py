"""The bench's JSON and table without a GPU: results made by bench.make_result from made-up timings,
checked against swa_torch/bench.schema.json (when jsonschema is installed: plots/requirements.txt) and
printed. `python3 python/tests/test_bench_format.py --write-sample` rewrites python/samples/, the
sample for plots/ (made-up numbers, marked so)."""

import json
import pathlib
import sys
import unittest

import support  # noqa: F401 - the package on the path

from swa_torch import bench

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]
SCHEMA = PYTHON_DIR / "swa_torch" / "bench.schema.json"
SAMPLE = PYTHON_DIR / "samples" / "torch-bench.sample.json"


def sample_document():
    """A run's document with made-up times (the anchors' for the libraries, a guess for the stage), every
    status represented."""
    results = []
    for shape, group in [(s, "exercise") for s in bench.EXERCISE_SHAPES] + [(s, "fill") for s in bench.FILL_SHAPES]:
        B, H, N, D = shape
        pairs = sum(min(N - 1, i + 128) - max(0, i - 128) + 1 for i in range(N))
        anchors = bench.ANCHORS_MS.get(shape, {})
        common = dict(shape=shape, group=group, pattern="sliding:128", pairs_per_head=pairs)
        check = {"passed": True, "max_error": 2e-4, "worst_ratio": 0.2, "failed": 0}
        stage_ms = 0.03 if B * H == 1 else 0.7 * N * B * H / (4096 * 64)
        results.append(bench.make_result(**common, method="stage", name="04_online_softmax", variant="solution",
                                         check=check, timing=_timing(stage_ms)))
        if D == 128:
            results.append(bench.make_result(**common, method="stage", name="07_hopper", variant="solution",
                                             status="unsupported", reason="stage 07_hopper does not support D = 128"))
        for method in bench.LIBRARY_METHODS:
            full = method in ("sdpa_flash", "sdpa_cudnn")
            ms = anchors.get(method, 0.02)
            results.append(bench.make_result(**common, method=method, name=bench.LABELS[method],
                                             computes="full" if full else "pattern", check=check, timing=_timing(ms),
                                             anchor_ms=anchors.get(method),
                                             compile_s=12.5 if method == "flex" else None,
                                             computed_pairs_per_head=N * N if full else None))
    results.append(bench.make_result(shape=(1, 1, 512, 64), group="exercise", pattern="sliding:128", pairs_per_head=1,
                                     method="stage", name="03_masked_windows", variant="student",
                                     status="check_failed", reason="FAILED: 32768 of 32768 elements wrong",
                                     check={"passed": False, "max_error": float("inf"), "worst_ratio": float("inf"),
                                            "failed": 32768}))
    return {"schema": bench.SCHEMA, "date": "2026-12-02T00:00:00Z", "commit": None,
            "gpu": "sample: made-up numbers, not a measurement", "torch": "2.11.0", "cuda": "13.0",
            "pattern": "sliding:128", "variant": "solution",
            "timing": {"statistic": "median", "runs": 50, "warmup": 5, "l2_flush_bytes": 256 << 20,
                       "launch_hidden_by": "torch.cuda._sleep"},
            "results": results}


def _timing(ms):
    return {"median_ms": ms, "min_ms": ms * 0.98, "max_ms": ms * 1.05, "runs": 50}


class BenchDocument(unittest.TestCase):
    def test_useful_tflops_count_the_patterns_pairs(self):
        check = {"passed": True, "max_error": 0, "worst_ratio": 0, "failed": 0}
        r = bench.make_result((4, 16, 4096, 64), "fill", "sliding:128", 1_000_000, "sdpa_flash", "x", computes="full",
                              timing=_timing(2.0), check=check, computed_pairs_per_head=4096 * 4096)
        self.assertAlmostEqual(r["useful_tflops"], 4 * 64 * 1_000_000 * 64 / 2e-3 / 1e12)

    def test_matches_the_schema(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("needs jsonschema (python3 -m pip install -r plots/requirements.txt)")
        schema = json.loads(SCHEMA.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        document = json.loads(json.dumps(sample_document()))  # as a reader gets it
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        self.assertEqual(errors, [])
        # A timed result without its check, or a failed one without a reason, is refused.
        broken = json.loads(json.dumps(document))
        del broken["results"][0]["check"]
        del broken["results"][-1]["reason"]
        self.assertEqual(len(list(validator.iter_errors(broken))), 2)
        self.assertEqual(json.loads(SAMPLE.read_text())["schema"], bench.SCHEMA, f"{SAMPLE}: rewrite it")
        self.assertEqual(list(validator.iter_errors(json.loads(SAMPLE.read_text()))), [])

    def test_table(self):
        table = bench.format_table(sample_document())
        lines = table.splitlines()
        self.assertIn("pattern sliding:128", lines[0])
        row = next(line for line in lines if line.startswith("4,16,4096,64"))
        self.assertIn("04_online_softmax", row)
        flex_row = lines[lines.index(row) + 1 + 0]
        self.assertIn("FlexAttention", flex_row)
        self.assertIn("0.125", flex_row)  # its time and its anchor
        self.assertIn("1", flex_row.split()[-3])  # x Flex of Flex itself
        self.assertIn("UNSUPPORTED: stage 07_hopper does not support D = 128", table)
        self.assertIn("CHECK_FAILED", table)
        self.assertIn("FlexAttention compile", table)
        self.assertTrue(lines[-1].startswith("1 failed: 03_masked_windows at 1,1,512,64"), lines[-1])


class Arguments(unittest.TestCase):
    def test_shapes_and_methods(self):
        args = bench.parse_args(["--shapes", "1,1,256,64 2,4,128,32", "--methods", "flex,sdpa_band"])
        self.assertEqual(bench.shapes_of(args), [((1, 1, 256, 64), "exercise"), ((2, 4, 128, 32), "fill")])
        self.assertEqual(args.methods, ["flex", "sdpa_band"])
        self.assertEqual(bench.parse_args(["--methods", "none"]).methods, [])
        self.assertEqual(len(bench.shapes_of(bench.parse_args(["--quick"]))), len(bench.QUICK_SHAPES))
        self.assertEqual(len(bench.shapes_of(bench.parse_args([]))), 7)

    def test_refused(self):
        for argv in (["--methods", "flash"], ["--shapes", "1,1,64"]):
            with self.assertRaises(SystemExit), open("/dev/null", "w") as devnull:
                stderr, sys.stderr = sys.stderr, devnull
                try:
                    bench.parse_args(argv)
                finally:
                    sys.stderr = stderr


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-sample"]:
        SAMPLE.parent.mkdir(exist_ok=True)
        SAMPLE.write_text(json.dumps(sample_document(), indent=1) + "\n")
        print(f"wrote {SAMPLE}")
    else:
        unittest.main()
