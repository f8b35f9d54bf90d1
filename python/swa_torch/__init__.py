"""swa_torch: the kit's sliding-window attention stages as a PyTorch op, checked and timed beside
FlexAttention and SDPA (python/README.md).

    swa_torch.attention(q, k, v, pattern="sliding:128", stage="04", variant="solution")
    python -m swa_torch.bench      # your stages beside FlexAttention and SDPA
    python -m swa_torch.example    # a small transformer with the stage as its attention

Importing it needs neither PyTorch nor a GPU (the argument checks and stage declarations work without).
"""

from .errors import StageError, StageNotBuiltError, UnsupportedDeviceError, UnsupportedError
from .op import attention, list_stages, stage_info

__all__ = ["attention", "stage_info", "list_stages", "StageError", "StageNotBuiltError", "UnsupportedDeviceError",
           "UnsupportedError"]
