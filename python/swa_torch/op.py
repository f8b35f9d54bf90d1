"""attention(): one of the kit's stages as a PyTorch op.

    import torch, swa_torch
    q, k, v = (torch.randn(4, 16, 4096, 64, device="cuda", dtype=torch.half) for _ in range(3))
    o = swa_torch.attention(q, k, v, pattern="sliding:128", stage="04", variant="solution")   # fp32

The stage library is loaded once (through libswa_torch.so, _native.py) and launched on PyTorch's current
stream; the output, workspace and the pattern's arrays are PyTorch allocations.
"""

import functools

from . import checks
from ._native import native

_NO_BACKWARD = ("swa_torch.attention has no backward: the kit's stages compute the forward pass only. Call it "
                "under torch.no_grad() or torch.inference_mode(), or train with FlexAttention")


def attention(q, k, v, *, pattern="sliding:128", scale=None, stage="04", variant="student", out=None,
              build_dir=None):
    """O[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:] . k[b,h,j,:]) v[b,h,j,:], j over the keys `pattern`
    lets query i see, computed by the kit's stage `stage` ("04" or "04_online_softmax") of `variant`
    ("student": your stages/, "solution": the instructor build's solutions/).

    q, k, v: torch.float16 CUDA tensors [B, H, N, D] on one GPU, contiguous, 16-byte aligned.
    pattern: the kit's text form ("sliding:128", "causal:64", "dilated:W:d", "global:W:g1,g2",
    "adaptive:MIN:MAX"; docs/patterns.md). scale: None means 1/sqrt(D), as in PyTorch.
    out: an optional torch.float32 tensor like q to write O into. build_dir: the build whose stages to
    use (default: $SWA_BUILD_DIR, else the newest build/<preset>/).

    Returns O, torch.float32 [B, H, N, D], enqueued on the current stream (no synchronization).
    Raises TypeError or ValueError for a bad argument (naming it), UnsupportedError when the stage lacks
    the pattern or D, UnsupportedDeviceError for a GPU it was not built for, StageNotBuiltError when
    the stage is not built, StageError when the launch fails.
    """
    B, H, N, D = checks.check_tensors(q, k, v, out)
    checks.check_text("pattern", pattern)
    scale = checks.check_scale(scale, D)
    lib = native(build_dir)
    chosen = lib.stage(stage, variant)
    pat = lib.pattern(pattern, N)
    lib.check(chosen, pat, B, H, N, D, scale)  # ranges, pattern and D: on the host, before touching the GPU

    import torch

    lib.check(chosen, pat, B, H, N, D, scale, _compute_capability(q.device))  # and this GPU

    def run(q, k, v):
        o = out if out is not None else torch.empty((B, H, N, D), dtype=torch.float32, device=q.device)
        workspace_bytes = lib.workspace_bytes(chosen, pat, B, H, N, D, scale)
        # A stream-ordered PyTorch allocation: freed when this returns, reused only after the stage's work.
        workspace = torch.empty(workspace_bytes, dtype=torch.uint8, device=q.device) if workspace_bytes else None
        stream = torch.cuda.current_stream(q.device).cuda_stream
        lib.forward(chosen, pat, (B, H, N, D), scale, pat.device_arrays(q.device), q.data_ptr(), k.data_ptr(),
                    v.data_ptr(), o.data_ptr(), workspace.data_ptr() if workspace is not None else None,
                    workspace_bytes, q.device.index, stream)
        return o

    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        return _no_backward().apply(q, k, v, run)
    return run(q, k, v)


@functools.lru_cache(maxsize=None)
def _compute_capability(device):
    import torch

    major, minor = torch.cuda.get_device_capability(device)
    return 10 * major + minor


@functools.lru_cache(maxsize=None)
def _no_backward():
    import torch

    class StageAttention(torch.autograd.Function):
        """The stage in a graph that needs gradients: the forward runs, a backward says why it cannot."""

        @staticmethod
        def forward(ctx, q, k, v, run):
            return run(q, k, v)

        @staticmethod
        def backward(ctx, grad):
            raise RuntimeError(_NO_BACKWARD)

    return StageAttention


def stage_info(stage="04", variant="student", build_dir=None):
    """What a stage declares: name, patterns, head_dims, tile_m, tile_n, min_compute_capability,
    arch_specific (a Stage; needs no GPU)."""
    return native(build_dir).stage(stage, variant)


def list_stages(variant="student", build_dir=None):
    """The names of the built stages of `variant`, e.g. ['01_naive', ..., '05_bonus_patterns']."""
    return native(build_dir).stage_names(variant)
