"""Tests of make_plots.py (the package swa_plots/): every figure is drawn from the samples, the README block is added then replaced,
and broken result files are refused with the file and the field named. No GPU needed.

    cd plots && python3 -m unittest -v test_plots

Everything is written into temporary folders: the committed figures and README are never touched.
The pattern figure is drawn from saved `swa pattern` output (samples/swa-pattern/) through a stand-in
program, and also with the real `swa` when one is built ($SWA_BINARY, else build/*/swa).
"""
import contextlib
import copy
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

PLOTS = Path(__file__).resolve().parent
sys.path.insert(0, str(PLOTS))
from swa_plots import cli, common, fig_grade, fig_ladder, fig_patterns, fig_roofline, fig_speedup, fig_time  # noqa: E402
from swa_plots import fig_torch, load, readme  # noqa: E402  (after the path is set)

SAMPLES = PLOTS / "samples"
BENCH_SAMPLES = [SAMPLES / "bench-slow.json", SAMPLES / "bench-fast.json"]
GRADE_SAMPLE = SAMPLES / "grade.json"
TORCH_SAMPLE = SAMPLES / "torch-bench.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_FIGURES = [fig_speedup.FILE, fig_time.FILE, fig_ladder.FILE, fig_roofline.FILE,
               fig_patterns.FILE, "grade" + fig_grade.SUFFIX]  # and fig_torch.FILE from TORCH_SAMPLE
README_TEXT = "# A course kit\n\nSome words before the results.\n"

# A stand-in for `swa pattern SPEC -N n [--tiles t]` that prints the saved output of the real one.
FAKE_SWA = """#!{python}
import os, pathlib, sys
spec, n = sys.argv[2], sys.argv[4]
tile = sys.argv[6] if len(sys.argv) > 6 else "0"
name = spec.replace(":", "_").replace(",", "_") + "-N" + n + "-t" + tile + ".txt"
folder = os.environ.get("SWA_PATTERN_SAMPLES", {samples!r} + "/swa-pattern")
sys.stdout.write((pathlib.Path(folder) / name).read_text())
"""


def sample_text(spec, N, tile):
    return (SAMPLES / "swa-pattern" / fig_patterns.sample_name(spec, N, tile)).read_text()


def real_swa():
    """The built `swa`: $SWA_BINARY (CTest sets it), else the first build/*/swa; None when there is none."""
    if os.environ.get("SWA_BINARY"):
        return Path(os.environ["SWA_BINARY"])
    return fig_patterns.find_swa(None)


class TempFolderTest(unittest.TestCase):
    """A temporary folder with a README copy and a stand-in `swa`; runs cli.main there."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="plots-test-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.out = self.tmp / "figures"
        self.readme = self.tmp / "README.md"
        self.readme.write_text(README_TEXT)
        self.fake_swa = self.tmp / "swa"
        self.fake_swa.write_text(FAKE_SWA.format(python=sys.executable, samples=str(SAMPLES)))
        self.fake_swa.chmod(0o755)

    def run_main(self, *args):
        """cli.main(args) -> (exit status, what it printed, what it printed on stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main([str(a) for a in args])
        return status, out.getvalue(), err.getvalue()

    def run_on_samples(self, *extra, results=(*BENCH_SAMPLES, GRADE_SAMPLE)):
        return self.run_main("--results", *results, "--out", self.out, "--readme", self.readme,
                             "--swa", self.fake_swa, *extra)

    def write_json(self, name, data):
        path = self.tmp / name
        path.write_text(json.dumps(data))
        return path

    def assert_png(self, path):
        self.assertTrue(path.is_file(), f"{path} was not written")
        self.assertGreater(path.stat().st_size, 0, f"{path} is empty")
        self.assertEqual(path.read_bytes()[:len(PNG_SIGNATURE)], PNG_SIGNATURE, f"{path} is not a PNG")


class FiguresFromSamples(TempFolderTest):
    def test_every_figure_is_written_and_not_empty(self):
        status, out, err = self.run_on_samples()
        self.assertEqual(status, 0, err)
        for name in ALL_FIGURES:
            self.assert_png(self.out / name)
        self.assertIn("wrote", out)

    def test_a_folder_of_results_is_read_like_its_files(self):
        folder = self.tmp / "results"
        folder.mkdir()
        for path in (*BENCH_SAMPLES, GRADE_SAMPLE, TORCH_SAMPLE):
            shutil.copy(path, folder)
        status, _, err = self.run_main("--results", folder, "--out", self.out, "--no-readme", "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        for name in ALL_FIGURES + [fig_torch.FILE]:
            self.assert_png(self.out / name)

    def test_gradescope_results_beside_grade_json_are_passed_over(self):
        folder = self.tmp / "grade-results"  # as `swa grade --out grade-results` leaves it
        folder.mkdir()
        shutil.copy(GRADE_SAMPLE, folder / "grade.json")
        (folder / "results.json").write_text(json.dumps({"score": 8.0, "tests": []}))
        status, out, err = self.run_main("--results", folder, "--out", self.out, "--no-readme", "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assertIn("passed over", out)
        self.assert_png(self.out / ("grade" + fig_grade.SUFFIX))

    def test_a_grade_file_alone_draws_its_figure_without_a_readme(self):
        status, out, err = self.run_main("--results", GRADE_SAMPLE, "--out", self.out, "--no-readme",
                                         "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assert_png(self.out / ("grade" + fig_grade.SUFFIX))
        self.assertFalse((self.out / fig_speedup.FILE).exists())
        self.assertIn(f"skipped {fig_speedup.FILE}", out)

    def test_the_pattern_figure_is_skipped_without_a_swa_program(self):
        with mock.patch.object(common, "REPO_ROOT", self.tmp):  # a repository without build/
            status, out, err = self.run_main("--results", *BENCH_SAMPLES, "--out", self.out, "--no-readme")
        self.assertEqual(status, 0, err)
        self.assertIn(f"skipped {fig_patterns.FILE}: no `swa` program", out)
        self.assertFalse((self.out / fig_patterns.FILE).exists())
        self.assert_png(self.out / fig_speedup.FILE)

    def test_a_chosen_stage_is_drawn_even_when_it_has_nothing_wrong(self):
        status, _, err = self.run_on_samples("--no-readme", "--stage", "01_naive", results=[GRADE_SAMPLE])
        self.assertEqual(status, 0, err)
        self.assert_png(self.out / ("grade" + fig_grade.SUFFIX))

    def test_a_run_that_passed_draws_an_empty_error_map(self):
        grade = json.loads(GRADE_SAMPLE.read_text())
        for stage in grade["stages"]:
            for check in stage.get("checks", []):
                for case in check.get("cases", []):
                    case["passed"] = True
                    case.pop("bad_per_query", None)
                    if "weights" in case:
                        case["weights"]["recovered"] = copy.deepcopy(case["weights"]["expected"])
        path = self.write_json("passed.json", grade)
        status, _, err = self.run_main("--results", path, "--out", self.out, "--no-readme", "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assert_png(self.out / ("passed" + fig_grade.SUFFIX))

    def test_weights_that_are_not_numbers_are_drawn(self):
        grade = json.loads(GRADE_SAMPLE.read_text())
        recovered = grade["stages"][2]["checks"][1]["cases"][0]["weights"]["recovered"]
        # Words grader/checks.cpp writes for outputs that are not numbers.
        recovered[3][3], recovered[4][9], recovered[5][0] = "NaN", "never written", "+inf"
        recovered[-1] = ["never written"] * len(recovered[-1])
        path = self.write_json("words.json", grade)
        status, _, err = self.run_main("--results", path, "--out", self.out, "--no-readme", "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assert_png(self.out / ("words" + fig_grade.SUFFIX))

    def test_a_grade_with_nothing_to_draw_is_skipped_with_a_reason(self):
        grade = json.loads(GRADE_SAMPLE.read_text())
        grade["stages"] = [s for s in grade["stages"] if s["status"] != "graded"]
        # As the grader reports a stage not implemented: its correctness cases, every output never written.
        N = 8
        grade["stages"][0]["checks"] = [{"name": "correctness", "status": "failed", "cases": [
            {"name": "small", "pattern": "sliding:2", "N": N, "D": 4, "passed": False, "bad_per_query": [4] * N}]}]
        path = self.write_json("empty.json", grade)
        status, out, err = self.run_main("--results", path, "--out", self.out, "--no-readme", "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assertIn("skipped empty_errors.png", out)
        self.assertIn("02_tiled_smem not implemented", out)
        self.assertFalse((self.out / "empty_errors.png").exists())


class ReadmeBlock(TempFolderTest):
    def block_of(self, text):
        begin = text.index(readme.README_BEGIN)
        end = text.index(readme.README_END) + len(readme.README_END)
        return text[begin:end]

    def test_the_block_is_added_at_the_end_once(self):
        status, _, err = self.run_on_samples()
        self.assertEqual(status, 0, err)
        text = self.readme.read_text()
        self.assertTrue(text.startswith(README_TEXT), "the text before the block changed")
        self.assertTrue(text.endswith(readme.README_END + "\n"))
        self.assertEqual(text.count(readme.README_BEGIN), 1)

    def test_a_second_run_replaces_only_the_block(self):
        self.run_on_samples()
        first = self.readme.read_text()
        before, after = "# Edited title\n\n", "\n## Written after the block\n\nKept as it is.\n"
        self.readme.write_text(before + self.block_of(first).replace("Measured on", "Stale:") + "\n" + after)
        status, _, err = self.run_on_samples()
        self.assertEqual(status, 0, err)
        second = self.readme.read_text()
        self.assertEqual(second, before + self.block_of(first) + "\n" + after)

    def test_a_copy_of_the_real_readme_changes_only_between_the_markers(self):
        real = (common.REPO_ROOT / "README.md").read_text()
        self.readme.write_text(real)
        status, _, err = self.run_on_samples()
        self.assertEqual(status, 0, err)
        new = self.readme.read_text()
        outside = new.replace(self.block_of(new), "")
        if readme.README_BEGIN in real:
            self.assertEqual(outside, real.replace(self.block_of(real), ""))
        else:
            self.assertEqual(outside.rstrip("\n"), real.rstrip("\n"))

    def test_the_block_names_its_source_and_holds_the_table_and_figures(self):
        self.run_on_samples()
        block = self.block_of(self.readme.read_text())
        bench = json.loads(BENCH_SAMPLES[0].read_text())
        for fact in (bench["gpu"], bench["date"][:10], f"commit {bench['commit']}", "bench-slow.json"):
            self.assertIn(fact, block)
        for stage in ("01_naive", "02_tiled_smem", "03_masked_windows", "04_online_softmax", "05_bonus_patterns"):
            self.assertIn(f"| {stage} | 1, 1, 2048, 64 |", block)
            self.assertIn(f"| {stage} | 4, 16, 4096, 64 |", block)
        for name in ALL_FIGURES:
            self.assertIn(f'src="figures/{name}"', block)  # relative to the README

    def test_a_skipped_run_shows_in_the_table(self):
        bench = json.loads(BENCH_SAMPLES[0].read_text())
        skipped = next(r for r in bench["results"] if r["N"] == 2048 and r["group"] == "exercise")
        skipped["window"] = {"skipped": "needs more memory"}
        del skipped["speedup"]
        path = self.write_json("bench.json", bench)
        self.run_on_samples(results=[path])
        self.assertIn(f"| {skipped['stage']} | 1, 1, 2048, 64 | skipped | - |", self.readme.read_text())

    def test_broken_markers_are_refused_and_the_readme_left_alone(self):
        broken = README_TEXT + readme.README_BEGIN + "\nhalf a block\n"
        self.readme.write_text(broken)
        status, _, err = self.run_on_samples()
        self.assertEqual(status, 1)
        self.assertIn("README.md: expected one line", err)
        self.assertEqual(self.readme.read_text(), broken)

    def test_no_readme_leaves_it_alone(self):
        status, _, err = self.run_on_samples("--no-readme")
        self.assertEqual(status, 0, err)
        self.assertEqual(self.readme.read_text(), README_TEXT)


class BrokenResults(TempFolderTest):
    """Each broken input stops the run with one message naming the file and the field, and writes nothing."""

    def assert_refused(self, results, *expected, extra=()):
        status, _, err = self.run_main("--results", *results, "--out", self.out, "--readme", self.readme,
                                       "--swa", self.fake_swa, *extra)
        self.assertEqual(status, 1, "a broken input was accepted")
        for text in expected:
            self.assertIn(text, err)
        self.assertFalse(self.out.exists() and any(self.out.iterdir()), "figures were written anyway")
        self.assertEqual(self.readme.read_text(), README_TEXT, "the README was changed anyway")
        return err

    def broken_bench(self, change):
        bench = json.loads(BENCH_SAMPLES[1].read_text())
        change(bench)
        return self.write_json("bench.json", bench)

    def broken_grade(self, change):
        grade = json.loads(GRADE_SAMPLE.read_text())
        change(grade)
        return self.write_json("grade.json", grade)

    def test_a_missing_file(self):
        self.assert_refused([self.tmp / "nope.json"], "nope.json: no such file or folder")

    def test_an_empty_folder(self):
        (self.tmp / "results").mkdir()
        self.assert_refused([self.tmp / "results"], "results: no *.json result files")

    def test_a_file_that_is_not_json(self):
        path = self.tmp / "bench.json"
        path.write_text('{"schema": "swa-bench/1",\n  "results": [1, 2,]}')
        self.assert_refused([path], "bench.json: not valid JSON", "line 2")

    def test_gradescope_results_named_as_a_file(self):
        path = self.write_json("results.json", {"score": 8.0, "tests": []})
        self.assert_refused([path], "results.json: this is Gradescope's results.json")

    def test_a_missing_field(self):
        path = self.broken_bench(lambda b: b["results"][3]["window"].pop("median_ms"))
        self.assert_refused([path], "bench.json: results[3].window.median_ms: missing")

    def test_a_field_of_the_wrong_type(self):
        path = self.broken_bench(lambda b: b["results"][0].update(N="512"))
        self.assert_refused([path], 'bench.json: results[0].N: expected an integer, got "512"')

    def test_a_value_out_of_range(self):
        path = self.broken_bench(lambda b: b["results"][2]["full"].update(median_ms=0))
        self.assert_refused([path], "bench.json: results[2].full.median_ms: 0 must be greater than 0")

    def test_a_result_without_its_window_run(self):
        path = self.broken_bench(lambda b: b["results"][1].pop("window"))
        self.assert_refused([path], "bench.json: results[1].window: missing")

    def test_an_unknown_schema(self):
        path = self.broken_bench(lambda b: b.update(schema="swa-bench/2"))
        self.assert_refused([path], 'bench.json: schema: "swa-bench/2" is not a format this script reads')

    def test_no_schema(self):
        path = self.broken_bench(lambda b: b.pop("schema"))
        self.assert_refused([path], "bench.json: schema: missing")

    def test_the_same_measurement_in_two_files(self):
        copy_path = self.tmp / "again.json"
        shutil.copy(BENCH_SAMPLES[1], copy_path)
        self.assert_refused([BENCH_SAMPLES[1], copy_path], "again.json: results[0]:", "is also in")

    def test_a_grade_stage_without_status(self):
        path = self.broken_grade(lambda g: g["stages"][2].pop("status"))
        self.assert_refused([*BENCH_SAMPLES, path], "grade.json: stages[2].status: missing")

    def test_a_grade_status_not_in_the_format(self):
        path = self.broken_grade(lambda g: g["stages"][0].update(status="fine"))
        self.assert_refused([*BENCH_SAMPLES, path], 'grade.json: stages[0].status: "fine" is not one of')

    def test_weights_of_the_wrong_size(self):
        path = self.broken_grade(lambda g: g["stages"][2]["checks"][1]["cases"][0]["weights"]["recovered"].pop())
        self.assert_refused([*BENCH_SAMPLES, path],
                            "grade.json: stages[2].checks[1].cases[0].weights.recovered: 31 rows, "
                            "but the case's N is 32")

    def test_a_weight_that_is_neither_a_number_nor_a_known_word(self):
        def change(grade):
            grade["stages"][2]["checks"][1]["cases"][0]["weights"]["recovered"][3][4] = "oops"
        self.assert_refused([*BENCH_SAMPLES, self.broken_grade(change)],
                            'grade.json: stages[2].checks[1].cases[0].weights.recovered[3][4]: expected a number '
                            'or one of "never written", "NaN", "+inf", "-inf", got "oops"')

    def test_errors_per_query_of_the_wrong_length(self):
        path = self.broken_grade(lambda g: g["stages"][2]["checks"][0]["cases"][1]["bad_per_query"].append(0))
        self.assert_refused([*BENCH_SAMPLES, path], "stages[2].checks[0].cases[1].bad_per_query: 65 values")

    def test_a_readme_without_a_benchmark_file(self):
        self.assert_refused([GRADE_SAMPLE], "needs a swa-bench/1 file", "--no-readme")

    def test_a_stage_the_grade_file_does_not_have(self):
        self.assert_refused([*BENCH_SAMPLES, GRADE_SAMPLE], "grade.json: stages: no stage named 09_nothing",
                            "03_masked_windows", extra=["--stage", "09_nothing"])

    def test_a_swa_that_does_not_exist(self):
        status, _, err = self.run_main("--results", *BENCH_SAMPLES, "--out", self.out, "--no-readme",
                                       "--swa", self.tmp / "no-swa")
        self.assertEqual(status, 1)
        self.assertIn("--swa", err)

    def test_the_command_line_exits_non_zero_with_the_message(self):
        done = subprocess.run([sys.executable, str(PLOTS / "make_plots.py"), "--results", str(self.tmp / "nope.json"),
                               "--out", str(self.out), "--no-readme"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 1)
        self.assertIn("make_plots:", done.stderr)
        self.assertIn("nope.json: no such file or folder", done.stderr)


class PatternText(unittest.TestCase):
    """Figure 4 reads what `swa pattern` prints."""

    def test_the_exercise_picture_is_read_cell_by_cell(self):
        picture = fig_patterns.parse_pattern_output(sample_text("sliding:2", 8, 0), "sliding:2", 8, 0)
        self.assertEqual(len(picture.allowed), 8)
        self.assertEqual(picture.allowed[3], [False, True, True, True, True, True, False, False])  # . x x x x x . .
        self.assertEqual(picture.tiles, [])

    def test_tile_classes_are_read(self):
        picture = fig_patterns.parse_pattern_output(sample_text("sliding:3", 16, 4), "sliding:3", 16, 4)
        self.assertEqual(picture.tiles, ["FP..", "PFP.", ".PFP", "..PF"])
        self.assertTrue(picture.allowed[12][15])
        self.assertFalse(picture.allowed[0][4])

    def test_cut_short_output_is_refused(self):
        text = "\n".join(sample_text("sliding:3", 16, 4).splitlines()[:10])
        with self.assertRaisesRegex(common.ResultError, "printed 7 rows"):
            fig_patterns.parse_pattern_output(text, "sliding:3", 16, 4)

    def test_every_panel_has_saved_output(self):
        for panel in fig_patterns.pattern_panels():
            with self.subTest(panel.spec):
                picture = fig_patterns.parse_pattern_output(sample_text(panel.spec, panel.N, panel.tile),
                                                          panel.spec, panel.N, panel.tile)
                if panel.query_tile is not None:
                    self.assertLess(panel.query_tile, len(picture.tiles))


@unittest.skipIf(real_swa() is None, "no built swa program (set SWA_BINARY or build one under build/)")
class PatternsFromTheRealSwa(TempFolderTest):
    def test_the_real_swa_draws_the_pattern_figure(self):
        status, _, err = self.run_main("--results", *BENCH_SAMPLES, "--out", self.out, "--no-readme",
                                       "--swa", real_swa())
        self.assertEqual(status, 0, err)
        self.assert_png(self.out / fig_patterns.FILE)

    def test_the_saved_output_is_what_swa_prints(self):
        for panel in fig_patterns.pattern_panels():
            if panel.spec.startswith("adaptive"):
                continue  # drawn from a seed: the stand-in's copy may be older than the kit's generator
            with self.subTest(panel.spec):
                real = fig_patterns.run_swa_pattern(real_swa(), panel.spec, panel.N, panel.tile)
                saved = fig_patterns.parse_pattern_output(sample_text(panel.spec, panel.N, panel.tile),
                                                        panel.spec, panel.N, panel.tile)
                self.assertEqual((real.allowed, real.tiles), (saved.allowed, saved.tiles),
                                 "samples/swa-pattern/ is out of date: rerun plots/samples/make_samples.py")


class NewFigures(TempFolderTest):
    """The figures whose inputs may be absent skip cleanly, and the pattern figure draws what samples/ holds."""

    def test_without_a_torch_bench_file_the_pytorch_figure_is_skipped(self):
        status, out, err = self.run_main("--results", *BENCH_SAMPLES, "--out", self.out, "--no-readme",
                                         "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assertIn(f"skipped {fig_torch.FILE}: no swa-torch-bench/1 file", out)
        self.assertFalse((self.out / fig_torch.FILE).exists())

    def test_the_pytorch_figure_alone(self):
        status, _, err = self.run_main("--results", TORCH_SAMPLE, "--out", self.out, "--no-readme")
        self.assertEqual(status, 0, err)
        self.assert_png(self.out / fig_torch.FILE)

    def test_a_broken_torch_bench_file_is_refused_with_its_field(self):
        bench = json.loads(TORCH_SAMPLE.read_text())
        bench["results"][0].pop("median_ms")
        path = self.write_json("torch.json", bench)
        status, _, err = self.run_main("--results", path, "--out", self.out, "--no-readme")
        self.assertEqual(status, 1)
        self.assertIn("torch.json: results[0].median_ms: missing", err)

    def test_the_roofline_is_skipped_for_a_gpu_without_peak_figures(self):
        bench = json.loads(BENCH_SAMPLES[1].read_text())
        bench["gpu"] = "Some Future GPU"
        path = self.write_json("bench.json", bench)
        status, out, err = self.run_main("--results", path, "--out", self.out, "--no-readme", "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assertIn(f"skipped {fig_roofline.FILE}: no peak figures for Some Future GPU", out)
        self.assert_png(self.out / fig_speedup.FILE)

    def test_a_new_saved_pattern_output_is_a_new_panel(self):
        folder = self.tmp / "swa-pattern"
        shutil.copytree(SAMPLES / "swa-pattern", folder)
        text = sample_text("sliding:3", 16, 4).replace("sliding:3, N = 16", "newpattern:3, N = 16", 1)
        (folder / "newpattern_3-N16-t4.txt").write_text(text)
        panels = fig_patterns.pattern_panels(folder)
        self.assertEqual(len(panels), len(fig_patterns.pattern_panels()) + 1)
        added = next(p for p in panels if p.spec == "newpattern:3")
        self.assertEqual((added.N, added.tile, added.query_tile, added.note), (16, 4, 2, "newpattern:3"))
        self.assertEqual(panels[0].tile, 0, "the exercise's picture (no tiles) comes first")
        with mock.patch.object(fig_patterns, "PANELS_DIR", folder), \
                mock.patch.dict(os.environ, {"SWA_PATTERN_SAMPLES": str(folder)}):
            status, _, err = self.run_main("--results", *BENCH_SAMPLES, "--out", self.out, "--no-readme",
                                           "--swa", self.fake_swa)
        self.assertEqual(status, 0, err)
        self.assert_png(self.out / fig_patterns.FILE)

    def test_a_saved_output_with_a_bad_name_is_refused(self):
        folder = self.tmp / "swa-pattern"
        folder.mkdir()
        (folder / "notes.txt").write_text("hello")
        with self.assertRaisesRegex(common.ResultError, "notes.txt: not a saved `swa pattern` output"):
            fig_patterns.pattern_panels(folder)


class SmallHelpers(unittest.TestCase):
    def test_field_paths(self):
        self.assertEqual(load.field_path(["results", 3, "window", "median_ms"]), "results[3].window.median_ms")
        self.assertEqual(load.field_path([]), "(top level)")

    def test_milliseconds_keep_three_or_four_digits(self):
        self.assertEqual([common.format_ms(t) for t in (0.030944, 0.37561, 3.4145, 51.0266, 313.9006)],
                         ["0.0309", "0.376", "3.414", "51.03", "313.9"])

    def test_the_ladder_falls_back_to_the_largest_filling_shape(self):
        results = [{"B": 4, "H": 16, "N": n, "group": "fill"} for n in (512, 2048)]
        results.append({"B": 1, "H": 1, "N": 8192, "group": "exercise"})
        self.assertEqual(fig_ladder.pick_ladder_shape(results), (4, 16, 2048))


if __name__ == "__main__":
    unittest.main()
