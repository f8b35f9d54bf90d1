"""The exceptions swa_torch raises, besides TypeError and ValueError for bad arguments.

Each names what went wrong and the argument that caused it. A stage's own refusal comes back as its
status (stages/common/problem.h, section 6) and maps to one of these by `from_status`.
"""


class StageNotBuiltError(FileNotFoundError):
    """The stage library asked for is not in the build (or no build was found)."""


class UnsupportedError(ValueError):
    """The stage does not implement this pattern or head dimension (it says which it does)."""


class UnsupportedDeviceError(RuntimeError):
    """The stage needs another GPU than this one (an older one, or another arch-specific target)."""


class StageError(RuntimeError):
    """The stage failed while launching: a CUDA error, a launch this GPU rejects, or an internal error."""

    def __init__(self, message, status="internal_error"):
        super().__init__(message)
        self.status = status


# A stage's status name (swa_torch_status_name) -> the exception it raises.
_BY_STATUS = {
    "invalid_argument": ValueError,
    "unsupported": UnsupportedError,
    "unsupported_device": UnsupportedDeviceError,
}


def from_status(status, message):
    """The exception for a stage's status name and its message."""
    kind = _BY_STATUS.get(status)
    if kind is not None:
        return kind(message)
    return StageError(f"{message} (status {status})", status)
