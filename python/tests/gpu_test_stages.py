"""Every solution stage against PyTorch, on a GPU: awkward sizes, every head dimension and every pattern
kind it declares, output poisoned before each run (an element the stage never writes fails). Then the
op's behaviour as PyTorch code sees it: streams, errors, autograd. Skips, saying why, without PyTorch,
a GPU, or solution stages (a student build); run by tests/run_gpu_tests.py (ctest: python_gpu)."""

import unittest

from support import EXAMPLES, native_or_skip, sequence_lengths, torch_gpu_or_skip

import swa_torch
from swa_torch.errors import StageNotBuiltError, UnsupportedError

B, H = 2, 3  # several batches and heads, so a stage's indexing of them is checked too


def setUpModule():
    global torch, reference
    torch = torch_gpu_or_skip()
    from swa_torch import reference  # noqa: F401 - needs torch


def random_qkv(shape, seed):
    generator = torch.Generator(device="cuda").manual_seed(seed)
    return tuple((torch.rand(shape, generator=generator, device="cuda") * 2 - 1).half() for _ in range(3))


def poisoned(shape):
    out = torch.empty(shape, dtype=torch.float32, device="cuda")
    out.view(torch.int32).fill_(reference.POISON_BITS)
    return out


class SolutionStagesAgainstPyTorch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = native_or_skip()
        if "solution" not in cls.lib.variants() or not cls.lib.stage_names("solution"):
            raise unittest.SkipTest(f"no solution stages in {cls.lib.stages_dir} (a student build): "
                                    f"configure with --preset instructor")
        cls.stages = [cls.lib.stage(name, "solution") for name in cls.lib.stage_names("solution")]

    def test_every_stage_every_declared_pattern_and_head_dim(self):
        seed, cases = 0, 0
        for stage in self.stages:
            unknown = [kind for kind in stage.patterns if kind not in EXAMPLES]
            self.assertFalse(unknown, f"{stage.name} declares {unknown}: add examples to tests/support.py")
            for N in sequence_lengths(stage.tile_m, stage.tile_n):
                for D in stage.head_dims:
                    q, k, v = random_qkv((B, H, N, D), seed)
                    seed += 1
                    for kind in stage.patterns:
                        for text in EXAMPLES[kind](N):
                            with self.subTest(stage=stage.name, pattern=text, N=N, D=D):
                                out = poisoned(q.shape)
                                swa_torch.attention(q, k, v, pattern=text, stage=stage.name, variant="solution",
                                                    out=out)
                                expected = reference.reference(q, k, v, self.lib.pattern(text, N), 1 / D ** 0.5)
                                result = reference.compare(out, expected, v)
                                self.assertTrue(result["passed"], reference.describe(result))
                                cases += 1
        print(f"\n{cases} cases over {len(self.stages)} solution stages", flush=True)

    def test_scale_and_returned_output(self):
        q, k, v = random_qkv((1, 2, 200, 64), 99)
        o = swa_torch.attention(q, k, v, pattern="sliding:16", scale=0.3, stage="04", variant="solution")
        self.assertEqual((o.dtype, o.shape, o.device.type), (torch.float32, q.shape, "cuda"))
        result = reference.compare(o, reference.reference(q, k, v, self.lib.pattern("sliding:16", 200), 0.3), v)
        self.assertTrue(result["passed"], reference.describe(result))

    def test_runs_on_the_current_stream(self):
        """Inputs written on a side stream behind a long spin are seen by the stage only if it runs on
        that stream, after them."""
        src = random_qkv((1, 4, 1024, 64), 7)
        q, k, v = (torch.zeros_like(t) for t in src)
        torch.cuda.synchronize()
        side = torch.cuda.Stream()
        with torch.cuda.stream(side):
            torch.cuda._sleep(50_000_000)  # tens of milliseconds on any GPU
            for dst, s in zip((q, k, v), src):
                dst.copy_(s)
            o = swa_torch.attention(q, k, v, pattern="sliding:128", stage="04", variant="solution")
        side.synchronize()
        expected = reference.reference(*src, self.lib.pattern("sliding:128", 1024), 1 / 8)
        self.assertTrue(reference.compare(o, expected, src[2])["passed"])

    def test_kit_mask_is_pattern_allows(self):
        mask = reference.pattern_mask(self.lib.pattern("sliding:2:5", 40), "cuda").cpu()
        for i in range(40):
            for j in range(40):
                self.assertEqual(bool(mask[i, j]), i - 2 <= j <= i + 5, (i, j))

    def test_flex_mask_mods_agree_with_the_kit(self):
        from torch.nn.attention.flex_attention import create_mask

        from swa_torch.libraries import mask_mod_for

        for text in ("sliding:7", "sliding:3:11", "causal:9", "dilated:5:3", "dilated:2:4:6", "global:4:0,50",
                     "adaptive:0:9"):
            pattern = self.lib.pattern(text, 130)
            flex_mask = create_mask(mask_mod_for(pattern, "cuda"), 1, 1, 130, 130, device="cuda")[0, 0]
            self.assertTrue(torch.equal(flex_mask, reference.pattern_mask(pattern, "cuda")), text)


class ErrorsAsPyTorchCodeSeesThem(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = native_or_skip()
        cls.variant = "solution" if "solution" in cls.lib.variants() else "student"

    def refused(self, error, words, *args, **kwargs):
        with self.assertRaises(error) as caught:
            swa_torch.attention(*args, variant=self.variant, **kwargs)
        for word in words:
            self.assertIn(word, str(caught.exception))

    def test_tensors(self):
        q, k, v = random_qkv((1, 2, 64, 64), 3)
        self.refused(TypeError, ["q must be torch.float16"], q.float(), k, v)
        self.refused(ValueError, ["k must be on a CUDA device"], q, k.cpu(), v)
        self.refused(ValueError, ["v must be contiguous"], q, k, v.transpose(2, 3))
        self.refused(ValueError, ["q must have 4 dimensions"], q[0], k[0], v[0])
        flat = torch.empty(q.numel() + 1, dtype=torch.half, device="cuda")
        self.refused(ValueError, ["q must start on a 16-byte boundary"], flat[1:].view(q.shape), k, v)
        self.refused(ValueError, ["D = 48"], *random_qkv((1, 1, 64, 48), 4))
        self.refused(ValueError, ["N = 0"], *(t[:, :, :0] for t in (q, k, v)))

    def test_stage_and_pattern(self):
        q, k, v = random_qkv((1, 2, 64, 64), 5)
        self.refused(StageNotBuiltError, ["'99'"], q, k, v, stage="99")
        self.refused(ValueError, ["'sliding:'"], q, k, v, pattern="sliding:")
        stage = self.lib.stage("04", self.variant)
        undeclared = [kind for kind in self.lib.pattern_kinds if kind not in stage.patterns]
        if undeclared:
            self.refused(UnsupportedError, [undeclared[0]], q, k, v, pattern=EXAMPLES[undeclared[0]](64)[0])

    def test_backward_says_there_is_none(self):
        q, k, v = (t.requires_grad_() for t in random_qkv((1, 1, 64, 64), 6))
        o = swa_torch.attention(q, k, v, pattern="sliding:8", stage="04", variant=self.variant)
        with self.assertRaises(RuntimeError) as caught:
            o.sum().backward()
        self.assertIn("no backward", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
