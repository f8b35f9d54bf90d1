"""PyTorch's side of the checks: the pattern as a boolean mask, the fp64 masked softmax, the comparison.

The mask comes from problem.h's Pattern::allows itself (swa_torch_fill_mask runs it on the GPU), so the
stage, FlexAttention's mask, SDPA's band mask and the reference all answer "may i see j" one way.
"""

import math

import torch

# An element passes when it is finite and |got - ref| <= ATOL * max(1, max|V|) + RTOL * |ref| (the kit's
# tolerance, grader/compare.h).
ATOL = 1e-3
RTOL = 1e-2
# The bits of an output element no stage wrote (compare.h's poison): a NaN no arithmetic produces.
POISON_BITS = -1  # 0xffffffff as int32
# fp64 score elements per chunk of query rows: bounds the reference's memory (2^26 * 8 B = 512 MiB a buffer).
_CHUNK_ELEMENTS = 1 << 26


def pattern_mask(pattern, device, row0=0, rows=None):
    """mask[r, j] = pattern allows (row0 + r, j): torch.bool [rows, N] on `device`, made on the current
    stream. `pattern`: a _native.Pattern (swa_torch._native.native().pattern(text, N))."""
    rows = pattern.N - row0 if rows is None else rows
    mask = torch.empty((rows, pattern.N), dtype=torch.bool, device=device)
    pattern.native.fill_mask(pattern, row0, rows, pattern.device_arrays(mask.device), mask.data_ptr(),
                             mask.device.index, torch.cuda.current_stream(mask.device).cuda_stream)
    return mask


def reference(q, k, v, pattern, scale):
    """O in fp64 [B, H, N, D]: softmax(scale * Q K^T) V over the keys `pattern` allows (every key when
    pattern is None), a chunk of query rows at a time. A query no key is visible to gets O = 0."""
    B, H, N, D = q.shape
    q64, k64, v64 = q.double(), k.double(), v.double()
    out = torch.empty_like(q64)
    rows = max(1, min(N, _CHUNK_ELEMENTS // (B * H * N)))
    for row0 in range(0, N, rows):
        row1 = min(N, row0 + rows)
        s = torch.matmul(q64[:, :, row0:row1], k64.transpose(-1, -2)).mul_(scale)  # [B, H, rows, N]
        if pattern is not None:
            s.masked_fill_(~pattern_mask(pattern, q.device, row0, row1 - row0), -math.inf)
        p = torch.softmax(s, dim=-1).nan_to_num_(nan=0.0)  # an all -inf row gives NaN: no key, O = 0
        out[:, :, row0:row1] = torch.matmul(p, v64)
        del s, p
    return out


def compare(got, expected, v, atol=ATOL, rtol=RTOL, keep=5):
    """How `got` (any float dtype) matches the fp64 `expected`, both [B, H, N, D]: a dict with passed,
    max_error (over finite elements), worst_ratio (error / allowed; <= 1 passes), failed, unwritten
    (fp32 elements still holding the poison), not_finite, and the first `keep` failures as
    {b, h, i, d, expected, got}."""
    value_scale = max(1.0, float(v.abs().max()))
    got64 = got.double()
    error = (got64 - expected).abs()
    allowed = atol * value_scale + rtol * expected.abs()
    bad = ~(error <= allowed)  # NaN and infinity fail: the comparison is false
    finite = torch.isfinite(got64)
    unwritten = int((got.view(torch.int32) == POISON_BITS).sum()) if got.dtype == torch.float32 else 0
    failures = []
    for index in bad.nonzero()[:keep].tolist():
        b, h, i, d = index
        failures.append({"b": b, "h": h, "i": i, "d": d, "expected": float(expected[b, h, i, d]),
                         "got": float(got64[b, h, i, d])})
    finite_error = error[finite]
    return {
        "passed": bool(got.numel() > 0 and not bad.any()),
        "max_error": float(finite_error.max()) if finite_error.numel() else math.inf,
        "worst_ratio": float((error / allowed)[finite].max()) if finite_error.numel() else math.inf,
        "failed": int(bad.sum()),
        "unwritten": unwritten,
        "not_finite": int((~finite).sum()),
        "elements": got.numel(),
        "first_failures": failures,
    }


def describe(result):
    """One line for a comparison from compare()."""
    if result["passed"]:
        return f"ok (max error {result['max_error']:.2e}, {result['worst_ratio']:.2f} of the tolerance)"
    text = (f"FAILED: {result['failed']} of {result['elements']} elements wrong ({result['unwritten']} never "
            f"written, {result['not_finite']} not finite; max error {result['max_error']:.3g})")
    if result["first_failures"]:
        f = result["first_failures"][0]
        text += (f"; first at (b={f['b']}, h={f['h']}, i={f['i']}, d={f['d']}): {f['got']:.6g}, "
                 f"expected {f['expected']:.6g}")
    return text
