"""The bench and the example, run small on a GPU: the bench checks and times a stage beside SDPA and
writes JSON that matches its schema; the example's two networks agree. Skips like gpu_test_stages.py."""

import contextlib
import io
import json
import pathlib
import tempfile
import unittest

from support import native_or_skip, torch_gpu_or_skip

from swa_torch import bench, example


def setUpModule():
    torch_gpu_or_skip()


def solution_or_skip(lib):
    built = lib.stage_names("solution") if "solution" in lib.variants() else []
    if "04_online_softmax" not in built:
        raise unittest.SkipTest("needs the solution of stage 04 (an instructor build)")


class Tools(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = native_or_skip()
        solution_or_skip(cls.lib)

    def test_bench_checks_times_and_writes_json(self):
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "bench.json"
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                status = bench.main(["--variant", "solution", "--stages", "04", "--shapes", "1,2,300,64",
                                     "--methods", "sdpa_flash,sdpa_band", "--runs", "30", "--json", str(path)])
            document = json.loads(path.read_text())
        self.assertEqual(status, 0, printed.getvalue())
        self.assertEqual([r["status"] for r in document["results"]], ["ok", "ok", "ok"], printed.getvalue())
        for r in document["results"]:
            self.assertGreater(r["median_ms"], 0)
            self.assertTrue(r["check"]["passed"])
        self.assertIn("04_online_softmax", printed.getvalue())
        try:
            import jsonschema
        except ImportError:
            return
        schema = json.loads((pathlib.Path(bench.__file__).parent / "bench.schema.json").read_text())
        self.assertEqual([e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)], [])

    def test_example_agrees_with_flex_attention(self):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            status = example.main(["--stage", "04", "--variant", "solution", "--batch", "1", "--seq", "300",
                                   "--dim", "128", "--heads", "2", "--layers", "2", "--runs", "30"])
        self.assertEqual(status, 0, printed.getvalue())
        self.assertIn("ok", printed.getvalue())


if __name__ == "__main__":
    unittest.main()
