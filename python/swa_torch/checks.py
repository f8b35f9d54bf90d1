"""Argument checks for swa_torch.attention, on anything shaped like a tensor.

They read only .dtype, .device (.type, .index), .shape, .is_contiguous() and .data_ptr(), so they run
and are tested without PyTorch (tests/test_checks.py passes plain objects). Each failure names the
argument, what it is and what it must be. The ranges of the problem itself (N, B*H, ...) are the
stage's to check: problem.h's check_problem, asked through the native library before anything runs.
"""

import numbers

FP16 = "torch.float16"
FP32 = "torch.float32"


def _describe_device(device):
    index = getattr(device, "index", None)
    return f"{device.type}:{index}" if index is not None else str(device.type)


def _check_tensor(name, t, dtype, alignment):
    for attribute in ("dtype", "device", "shape", "is_contiguous", "data_ptr"):
        if not hasattr(t, attribute):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if str(t.dtype) != dtype:
        hint = f" (convert with {name}.half())" if dtype == FP16 else ""
        raise TypeError(f"{name} must be {dtype}; got {t.dtype}{hint}")
    if t.device.type != "cuda":
        raise ValueError(f"{name} must be on a CUDA device; it is on {_describe_device(t.device)} "
                         f"(move it with {name}.cuda())")
    shape = tuple(int(x) for x in t.shape)
    if len(shape) != 4:
        raise ValueError(f"{name} must have 4 dimensions [B, H, N, D]; got shape {shape}")
    if not t.is_contiguous():
        raise ValueError(f"{name} must be contiguous in the layout [B, H, N, D]; it is not "
                         f"(a transposed or sliced view?): pass {name}.contiguous()")
    address = int(t.data_ptr())
    if address % alignment != 0:
        raise ValueError(f"{name} must start on a {alignment}-byte boundary (the stages load {alignment} bytes "
                         f"at a time); its data starts at 0x{address:x}: pass {name}.clone()")
    return shape


def check_tensors(q, k, v, out=None, alignment=16):
    """Returns (B, H, N, D) when q, k, v (and out, if given) can be handed to a stage, else raises
    TypeError (not a tensor, wrong dtype) or ValueError (device, shape, layout, alignment)."""
    shape = _check_tensor("q", q, FP16, alignment)
    for name, t in (("k", k), ("v", v)):
        other = _check_tensor(name, t, FP16, alignment)
        if other != shape:
            raise ValueError(f"{name} has shape {other} but q has {shape}: q, k and v must all be [B, H, N, D]")
        if _describe_device(t.device) != _describe_device(q.device):
            raise ValueError(f"{name} is on {_describe_device(t.device)} but q is on {_describe_device(q.device)}: "
                             f"q, k and v must be on one GPU")
    if out is not None:
        other = _check_tensor("out", out, FP32, alignment)
        if other != shape:
            raise ValueError(f"out has shape {other} but q has {shape}: out must be [B, H, N, D] like q")
        if _describe_device(out.device) != _describe_device(q.device):
            raise ValueError(f"out is on {_describe_device(out.device)} but q is on {_describe_device(q.device)}")
    return shape


def check_scale(scale, D):
    """The softmax scale: 1/sqrt(D) (PyTorch's default, as SDPA and FlexAttention) when None; otherwise a
    finite number > 0."""
    if scale is None:
        return 1.0 / float(D) ** 0.5
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a number or None; got {type(scale).__name__}")
    scale = float(scale)
    if not (scale > 0.0 and scale != float("inf")):
        raise ValueError(f"scale = {scale} is out of range: scale must be finite and > 0 (None means 1/sqrt(D))")
    return scale


def check_text(name, value):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string; got {type(value).__name__}")
    return value
