"""The argument checks of swa_torch.attention, on tensor look-alikes: no PyTorch, no GPU, no build."""

import unittest

from support import FakeDevice, FakeTensor, qkv

from swa_torch import checks


class TensorChecks(unittest.TestCase):
    def assert_refused(self, error, words, **changes):
        """check_tensors on q, k, v with `changes` raises `error` with every one of `words` in its message."""
        out = changes.pop("out", None)
        with self.assertRaises(error) as caught:
            checks.check_tensors(*qkv(**changes), out=out)
        for word in words:
            self.assertIn(word, str(caught.exception))

    def test_valid_inputs_give_the_shape(self):
        self.assertEqual(checks.check_tensors(*qkv()), (1, 2, 64, 64))
        self.assertEqual(checks.check_tensors(*qkv(), out=FakeTensor(dtype="torch.float32")), (1, 2, 64, 64))

    def test_not_a_tensor(self):
        with self.assertRaises(TypeError) as caught:
            checks.check_tensors([[1.0]], *qkv()[1:])
        self.assertIn("q must be a torch.Tensor", str(caught.exception))

    def test_dtype(self):
        self.assert_refused(TypeError, ["k must be torch.float16", "torch.float32", "k.half()"],
                            k={"dtype": "torch.float32"})
        self.assert_refused(TypeError, ["v must be torch.float16", "torch.bfloat16"], v={"dtype": "torch.bfloat16"})

    def test_device(self):
        self.assert_refused(ValueError, ["q must be on a CUDA device", "cpu", "q.cuda()"],
                            q={"device": FakeDevice("cpu", None)})
        self.assert_refused(ValueError, ["v is on cuda:1 but q is on cuda:0"], v={"device": FakeDevice("cuda", 1)})

    def test_shape(self):
        self.assert_refused(ValueError, ["q must have 4 dimensions", "(2, 64, 64)"], q={"shape": (2, 64, 64)})
        self.assert_refused(ValueError, ["k has shape (1, 2, 65, 64) but q has (1, 2, 64, 64)"],
                            k={"shape": (1, 2, 65, 64)})

    def test_layout(self):
        self.assert_refused(ValueError, ["v must be contiguous", "v.contiguous()"], v={"contiguous": False})

    def test_alignment(self):
        self.assert_refused(ValueError, ["k must start on a 16-byte boundary", "0x10002"], k={"address": 0x10002})
        checks.check_tensors(*qkv(q={"address": 0x10010}))  # 16-byte aligned is enough

    def test_output(self):
        self.assert_refused(TypeError, ["out must be torch.float32", "torch.float16"], out=FakeTensor())
        self.assert_refused(ValueError, ["out has shape (1, 2, 64, 32)"],
                            out=FakeTensor(shape=(1, 2, 64, 32), dtype="torch.float32"))
        self.assert_refused(ValueError, ["out must start on a 16-byte boundary"],
                            out=FakeTensor(dtype="torch.float32", address=0x10004))


class ScaleChecks(unittest.TestCase):
    def test_default_is_one_over_sqrt_d(self):
        self.assertAlmostEqual(checks.check_scale(None, 64), 0.125)
        self.assertEqual(checks.check_scale(2, 64), 2.0)

    def test_refused(self):
        for bad in (0, -1.0, float("nan"), float("inf")):
            with self.assertRaises(ValueError) as caught:
                checks.check_scale(bad, 64)
            self.assertIn("scale", str(caught.exception))
        for bad in ("0.1", True, [0.1]):
            with self.assertRaises(TypeError):
                checks.check_scale(bad, 64)


class AttentionRefusesBeforeLoadingAnything(unittest.TestCase):
    """swa_torch.attention checks its tensors before it looks for a build or imports PyTorch."""

    def test_bad_tensor(self):
        import swa_torch

        with self.assertRaises(TypeError) as caught:
            swa_torch.attention(*qkv(q={"dtype": "torch.float32"}), build_dir="/nonexistent")
        self.assertIn("q must be torch.float16", str(caught.exception))

    def test_bad_pattern_type(self):
        import swa_torch

        with self.assertRaises(TypeError) as caught:
            swa_torch.attention(*qkv(), pattern=128, build_dir="/nonexistent")
        self.assertIn("pattern must be a string", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
