"""PyTorch's own attention, for the pattern the kit's stages compute: what a stage is checked and timed
against (bench.py, example.py).

    flex = Flex(pattern, B, H, N, D, device, scale)     FlexAttention, torch.compile'd, block mask built once
    flex(q, k, v)                                       fp16 O; the first call of a shape compiles it
    sdpa_full("flash", scale)(q, k, v)                  SDPA full attention, one back end (flash, cudnn)
    sdpa_masked(mask, scale)(q, k, v)                   SDPA with the pattern as a boolean mask [N, N]

The pattern's meaning comes from the kit: FlexAttention's mask_mod is arithmetic for the sliding,
causal and dilated windows (checked against the kit's mask by every bench run), and a lookup in the
kit's own boolean mask (reference.pattern_mask) for the others.
"""

import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from .reference import pattern_mask

SDPA_BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
# Dynamo compiles flex_attention once per shape and window; its default limit of recompilations of one
# function (8) is fewer than a bench run's shapes.
_RECOMPILE_LIMIT = 64


def mask_mod_for(pattern, device):
    """FlexAttention's mask_mod(b, h, q_idx, kv_idx) for a kit pattern (_native.Pattern)."""
    left, right, dilation = pattern.left, pattern.right, pattern.dilation
    if pattern.kind == "sliding":
        return lambda b, h, q, kv: (q - kv <= left) & (kv - q <= right)
    if pattern.kind == "causal":
        return lambda b, h, q, kv: (q - kv <= left) & (kv <= q)
    if pattern.kind == "dilated":
        reach_left, reach_right = left * dilation, right * dilation
        return lambda b, h, q, kv: ((kv - q) % dilation == 0) & (q - kv <= reach_left) & (kv - q <= reach_right)
    dense = pattern_mask(pattern, device)  # [N, N] bool, from problem.h's Pattern::allows
    return lambda b, h, q, kv: dense[q, kv]


_compiled_flex = None


def compiled_flex_attention():
    """torch.compile(flex_attention), made once per process (each new shape recompiles it)."""
    global _compiled_flex
    if _compiled_flex is None:
        from torch.nn.attention.flex_attention import flex_attention

        config = torch._dynamo.config
        name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"  # renamed in 2.6
        setattr(config, name, max(getattr(config, name), _RECOMPILE_LIMIT))
        _compiled_flex = torch.compile(flex_attention, dynamic=False)
    return _compiled_flex


class Flex:
    """FlexAttention for one pattern and shape: the block mask is built here, once, outside any timing."""

    def __init__(self, pattern, B, H, N, D, device, scale):
        from torch.nn.attention.flex_attention import create_block_mask

        self.scale = scale
        self.block_mask = create_block_mask(mask_mod_for(pattern, device), B=None, H=None, Q_LEN=N, KV_LEN=N,
                                            device=device)
        self.flex = compiled_flex_attention()
        self.compile_s = None

    def __call__(self, q, k, v):
        if self.compile_s is None:  # the first call compiles: time it apart from the kernel
            t0 = time.perf_counter()
            out = self.flex(q, k, v, block_mask=self.block_mask, scale=self.scale)
            torch.cuda.synchronize(q.device)
            self.compile_s = time.perf_counter() - t0
            return out
        return self.flex(q, k, v, block_mask=self.block_mask, scale=self.scale)


def sdpa_full(backend, scale):
    """SDPA full attention (every key) with one back end: "flash" or "cudnn"."""
    chosen = SDPA_BACKENDS[backend]

    def call(q, k, v):
        with sdpa_kernel(chosen):
            return F.scaled_dot_product_attention(q, k, v, scale=scale)

    return call


def sdpa_masked(mask, scale):
    """SDPA with a boolean attn_mask [N, N] (True: the key takes part); PyTorch picks the back end."""

    def call(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)

    return call
