"""What the tests share: the package on the path, tensor look-alikes, the awkward sizes and example
patterns, and the reasons a test skips.

Run them from anywhere:  python3 -m unittest discover -s python/tests -v
"""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # python/: the swa_torch package

# ---------------------------------------------------------------------------------------------------
# Tensor look-alikes: the argument checks read only dtype, device, shape, is_contiguous() and data_ptr(),
# so they are tested without PyTorch.
# ---------------------------------------------------------------------------------------------------


class FakeDevice:
    def __init__(self, type_="cuda", index=0):
        self.type, self.index = type_, index


class FakeTensor:
    def __init__(self, shape=(1, 2, 64, 64), dtype="torch.float16", device=None, contiguous=True, address=0x10000):
        self.shape, self.dtype = tuple(shape), dtype
        self.device = device or FakeDevice()
        self._contiguous, self._address = contiguous, address

    def is_contiguous(self):
        return self._contiguous

    def data_ptr(self):
        return self._address


def qkv(**changes):
    """q, k, v that pass the checks; `changes` maps 'q', 'k' or 'v' to the FakeTensor arguments to change."""
    return tuple(FakeTensor(**changes.get(name, {})) for name in ("q", "k", "v"))


# ---------------------------------------------------------------------------------------------------
# Sizes and patterns. A kind that problem.h gains must get examples here: test_native.py fails until it
# has them, and the GPU tests run every stage on the examples of every kind it declares.
# ---------------------------------------------------------------------------------------------------

# Example patterns of each kind for a sequence of N (the kit's text forms, grader/pattern_spec.h): the
# window 0, a window inside the sequence, one past it (W >= N: every key), asymmetric ones.
EXAMPLES = {
    "sliding": lambda N: ["sliding:0", "sliding:1", "sliding:64", f"sliding:{N}", "sliding:3:17"],
    "causal": lambda N: ["causal:0", "causal:5", f"causal:{N}"],
    "dilated": lambda N: ["dilated:4:3", "dilated:2:9:2", f"dilated:{N}:1"],
    "global": lambda N: ["global:3:0", "global:0:" + ",".join(str(g) for g in sorted({0, N // 2, N - 1})),
                         "global:8:"],
    "adaptive": lambda N: ["adaptive:0:40", f"adaptive:0:{N}"],
    "exponential": lambda N: ["exponential:1", "exponential:4:2", f"exponential:{N}:3"],
    "block": lambda N: ["block:1", "block:7", f"block:{N}"],
    "sinks": lambda N: ["sinks:3:2", "sinks:5:0:4", f"sinks:{N}:1"],
}

# Sequence lengths of every stage's test: one query, around the exercise's tile of 64, a long odd one. Each
# stage adds its own tiles' tile - 1, tile, tile + 1 (gpu_test_stages.py).
SEQUENCE_LENGTHS = (1, 63, 64, 65, 1013)


def sequence_lengths(tile_m, tile_n):
    around = {t + d for t in (tile_m, tile_n) for d in (-1, 0, 1)}
    return sorted(n for n in set(SEQUENCE_LENGTHS) | around if n >= 1)


# ---------------------------------------------------------------------------------------------------
# Skips, with the reason
# ---------------------------------------------------------------------------------------------------


def native_or_skip():
    """The native library of the build (SWA_BUILD_DIR or the newest build/*), or skip: nothing is built."""
    from swa_torch._native import native
    from swa_torch.errors import StageNotBuiltError

    try:
        return native()
    except StageNotBuiltError as e:
        raise unittest.SkipTest(f"needs the build: {e}") from e


def torch_gpu_or_skip():
    """PyTorch with a CUDA device, or skip saying which is missing."""
    try:
        import torch
    except ImportError as e:
        raise unittest.SkipTest(f"needs a GPU: these tests run through PyTorch with CUDA, and import torch failed ({e})") from e
    if not torch.cuda.is_available():
        raise unittest.SkipTest(f"needs a GPU: torch {torch.__version__} sees no CUDA device")
    return torch
