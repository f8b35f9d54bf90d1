"""The native side without a GPU: stage declarations, patterns, and what a stage refuses, through
libswa_torch.so and the stage libraries of the build (skips, saying so, when nothing is built)."""

import unittest

from support import EXAMPLES, FakeTensor, native_or_skip, qkv

import swa_torch
from swa_torch.errors import StageNotBuiltError, UnsupportedDeviceError, UnsupportedError


class Declarations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = native_or_skip()

    def test_pattern_kinds_come_from_problem_h_and_each_has_examples(self):
        kinds = self.lib.pattern_kinds
        self.assertEqual(kinds[0], "sliding")  # PatternKind::kSlidingWindow = 0, the exercise's
        self.assertEqual(len(set(kinds)), len(kinds))
        for kind in kinds:
            self.assertIn(kind, EXAMPLES, f"pattern kind {kind!r} has no examples in tests/support.py: add some")
            for text in EXAMPLES[kind](100):
                self.assertEqual(self.lib.pattern(text, 100).kind, kind, text)

    def test_head_dims_and_alignment(self):
        self.assertEqual(self.lib.head_dims, (16, 32, 64, 128))
        self.assertEqual(self.lib.tensor_alignment, 16)  # what checks.check_tensors assumes by default

    def test_every_built_stage_declares_itself(self):
        variants = [v for v in ("student", "solution") if v in self.lib.variants()]
        self.assertTrue(variants, f"no student or solution stages in {self.lib.stages_dir}")
        for variant in variants:
            for name in self.lib.stage_names(variant):
                stage = swa_torch.stage_info(name[:2], variant)
                self.assertEqual(stage.name, name)
                self.assertIn("sliding", stage.patterns, name)
                self.assertTrue(set(stage.head_dims) <= set(self.lib.head_dims), name)
                self.assertGreaterEqual(stage.tile_m, 1)
                self.assertGreaterEqual(stage.tile_n, 1)
                self.assertIs(self.lib.stage(name, variant), stage)  # loaded once


class Patterns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = native_or_skip()

    def test_sliding_pairs_are_counted_exactly(self):
        for N, W in ((2048, 128), (100, 0), (10, 50), (1, 3)):
            pattern = self.lib.pattern(f"sliding:{W}", N)
            expected = sum(min(N - 1, i + W) - max(0, i - W) + 1 for i in range(N))
            self.assertEqual(pattern.pairs, expected, (N, W))
            self.assertEqual((pattern.kind, pattern.left, pattern.right), ("sliding", W, W))

    def test_arrays(self):
        pattern = self.lib.pattern("global:4:0,7,9", 16)
        self.assertEqual(pattern.global_positions, [0, 7, 9])
        adaptive = self.lib.pattern("adaptive:2:5", 30)
        self.assertEqual(len(adaptive.adaptive_left), 30)
        self.assertTrue(all(2 <= w <= 5 for w in adaptive.adaptive_left + adaptive.adaptive_right))
        self.assertEqual(adaptive.adaptive_left, self.lib.pattern("adaptive:2:5", 30, seed=1).adaptive_left)

    def test_bad_patterns_name_the_text_and_what_is_allowed(self):
        for text, words in (("slidng:3", ["'slidng:3'", "unknown kind", "sliding"]),
                            ("sliding:-1", ["'sliding:-1'", "window left"]),
                            ("global:3:5,2", ["strictly increasing"]),
                            ("global:3:99", ["global position", "[0, 9]"]),
                            ("sliding", ["sliding:W"])):
            with self.assertRaises(ValueError) as caught:
                self.lib.pattern(text, 10)
            for word in words:
                self.assertIn(word, str(caught.exception), text)
        with self.assertRaises(ValueError) as caught:
            self.lib.pattern("sliding:4", 0)
        self.assertIn("N = 0", str(caught.exception))


class StageRefusals(unittest.TestCase):
    """What a stage refuses, asked on the host with the stage's own checks (problem.h)."""

    @classmethod
    def setUpClass(cls):
        cls.lib = native_or_skip()
        variant = "solution" if "solution" in cls.lib.variants() else "student"
        cls.stage04 = cls.lib.stage("04", variant)
        cls.variant = variant

    def check(self, pattern="sliding:8", B=1, H=1, N=64, D=64, scale=0.125, cc=0, stage=None):
        self.lib.check(stage or self.stage04, self.lib.pattern(pattern, N), B, H, N, D, scale, cc)

    def test_a_valid_problem_passes(self):
        self.check()
        self.check(cc=90)
        self.assertGreaterEqual(self.lib.workspace_bytes(self.stage04, self.lib.pattern("sliding:8", 64), 1, 1, 64,
                                                         64, 0.125), 0)

    def test_ranges(self):
        for kwargs, words in (({"D": 48}, ["D = 48", "16, 32, 64, 128"]),
                              ({"B": 65535, "H": 2}, ["B*H = 131070", "65535"]),
                              ({"scale": 0.0}, ["scale"])):
            with self.assertRaises(ValueError) as caught:
                self.check(**kwargs)
            for word in words:
                self.assertIn(word, str(caught.exception), kwargs)

    def test_unsupported_pattern(self):
        undeclared = [k for k in self.lib.pattern_kinds if k not in self.stage04.patterns]
        if not undeclared:
            self.skipTest("stage 04 declares every pattern kind")
        with self.assertRaises(UnsupportedError) as caught:
            self.check(pattern=EXAMPLES[undeclared[0]](64)[0])
        self.assertIn(f"does not implement the {undeclared[0]} pattern", str(caught.exception))

    def test_unsupported_device(self):
        with self.assertRaises(UnsupportedDeviceError) as caught:
            self.check(cc=self.stage04.min_compute_capability - 1)
        self.assertIn("needs sm_", str(caught.exception))

    def test_stage_not_built(self):
        with self.assertRaises(StageNotBuiltError) as caught:
            self.lib.stage("99", self.variant)
        self.assertIn("'99'", str(caught.exception))
        self.assertIn("04_", str(caught.exception))  # lists what is built
        with self.assertRaises(StageNotBuiltError) as caught:
            self.lib.stage("04", "no_such_variant")
        self.assertIn("no_such_variant", str(caught.exception))
        with self.assertRaises(StageNotBuiltError):
            swa_torch.attention(*qkv(), build_dir="/nonexistent")

    def test_attention_refuses_on_the_host_before_needing_pytorch(self):
        """Every refusal above reaches attention()'s caller with no GPU and no PyTorch."""
        q = FakeTensor(shape=(1, 1, 64, 48))
        with self.assertRaises(ValueError) as caught:
            swa_torch.attention(q, q, q, variant=self.variant)
        self.assertIn("D = 48", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            swa_torch.attention(*qkv(), pattern="sliding:x", variant=self.variant)
        self.assertIn("'sliding:x'", str(caught.exception))
        with self.assertRaises(StageNotBuiltError):
            swa_torch.attention(*qkv(), stage="99", variant=self.variant)


if __name__ == "__main__":
    unittest.main()
