"""The kit's C side, through ctypes: libswa_torch.so (native/swa_torch.cu), built with the project.

It loads the stage libraries (stages/common/problem.h, section 6), reads patterns with the grader's own
parser, asks a stage what it would refuse, and launches it. Nothing here mirrors a struct of problem.h:
the native functions take plain integers and pointers (see native/swa_torch.cu). Needs no PyTorch; only
the launch needs a GPU.
"""

import collections
import ctypes
import functools
import os
import pathlib

from .errors import StageNotBuiltError, from_status

REPO = pathlib.Path(__file__).resolve().parents[2]
LIBRARY = "libswa_torch.so"
_ERROR_CAPACITY = 4096
_PATTERNS_KEPT = 256
_BUILD_HINT = ("build the kit first: tools/test.sh, or cmake --preset student && cmake --build --preset student "
               "(instructor for the solutions); or point SWA_BUILD_DIR (or build_dir=) at a build folder")


def find_build_dir(build_dir=None):
    """The build folder whose stages and native library to use: `build_dir`, else $SWA_BUILD_DIR, else the
    most recently built build/<preset>/ of this repository."""
    chosen = build_dir or os.environ.get("SWA_BUILD_DIR")
    if chosen:
        path = pathlib.Path(chosen).resolve()
        if not (path / "python" / LIBRARY).is_file():
            raise StageNotBuiltError(f"build_dir {path} has no python/{LIBRARY}: {_BUILD_HINT}")
        return path
    built = sorted((REPO / "build").glob(f"*/python/{LIBRARY}"), key=lambda p: p.stat().st_mtime)
    if not built:
        raise StageNotBuiltError(f"no build of the kit under {REPO / 'build'}: {_BUILD_HINT}")
    return built[-1].parents[1]


def _error_buffer():
    return ctypes.create_string_buffer(_ERROR_CAPACITY)


def _text(buffer):
    return buffer.value.decode("utf-8", "replace")


class Stage:
    """A loaded stage library and what it declares (SwaStageInfo)."""

    def __init__(self, lib, path, variant, kinds):
        self._lib = lib
        self.path = str(path)
        self.variant = variant
        error = _error_buffer()
        self._handle = lib.swa_torch_stage_open(self.path.encode(), error, len(error))
        if not self._handle:
            raise StageNotBuiltError(f"stage: {_text(error)}")
        info = (ctypes.c_int32 * 6)()
        self.name = lib.swa_torch_stage_info(self._handle, info).decode()
        patterns, head_dims, self.tile_m, self.tile_n, self.min_compute_capability, arch_specific = list(info)
        self.arch_specific = bool(arch_specific)
        self.patterns = tuple(name for bit, name in enumerate(kinds) if patterns & (1 << bit))
        self.head_dims = tuple(D for D in _head_dims(lib) if head_dims & lib.swa_torch_head_dim_bit(D))

    @property
    def handle(self):
        return self._handle

    def __repr__(self):
        return (f"Stage({self.name!r}, variant={self.variant!r}, patterns={self.patterns}, head_dims={self.head_dims}, "
                f"tiles={self.tile_m}x{self.tile_n}, gpu=sm_{self.min_compute_capability}"
                f"{'a' if self.arch_specific else '+'})")
    # Never unloaded: kernels it enqueued may still be running when Python lets go of it.


class Pattern:
    """A pattern read from its text form for sequences of exactly N (grader/pattern_spec.h)."""

    def __init__(self, native, text, N, seed):
        self.native = native  # the library that read it, and whose functions take it
        lib, kinds = native._lib, native.pattern_kinds
        self._lib = lib
        error = _error_buffer()
        self._handle = lib.swa_torch_pattern_parse(text.encode(), N, seed, error, len(error))
        if not self._handle:
            raise ValueError(_text(error))  # names the pattern text, or N
        fields = (ctypes.c_int32 * 5)()
        pairs = ctypes.c_int64()
        canonical = _error_buffer()
        lib.swa_torch_pattern_describe(self._handle, fields, ctypes.byref(pairs), canonical, len(canonical))
        kind, self.left, self.right, self.dilation, self.num_global = list(fields)
        self.kind = kinds[kind]
        self.text, self.N, self.seed = text, N, seed
        self.canonical = _text(canonical)
        self.pairs = pairs.value  # (i, j) pairs it allows over N: 4*D useful flops each
        adaptive = self.kind == "adaptive"
        globals_ = (ctypes.c_int32 * self.num_global)()
        left = (ctypes.c_int32 * N)() if adaptive else None
        right = (ctypes.c_int32 * N)() if adaptive else None
        lib.swa_torch_pattern_arrays(self._handle, globals_, left, right)
        self.global_positions = list(globals_)
        self.adaptive_left = list(left) if adaptive else None
        self.adaptive_right = list(right) if adaptive else None
        self._on_device = {}

    @property
    def handle(self):
        return self._handle

    def device_arrays(self, device):
        """Pointers to the pattern's arrays on `device` (a torch.device), as swa_torch_forward wants them
        (None where the pattern has none). The copies are made once per device, on the current stream,
        and kept with the pattern; each call tells PyTorch's allocator the current stream uses them."""
        import torch

        key = str(device)
        if key not in self._on_device:

            def upload(values):
                return torch.tensor(values, dtype=torch.int32, device=device) if values else None

            self._on_device[key] = (upload(self.global_positions), upload(self.adaptive_left),
                                    upload(self.adaptive_right))
            torch.cuda.current_stream(device).synchronize()  # copied before any other stream reads them
        stream = torch.cuda.current_stream(device)
        for t in self._on_device[key]:
            if t is not None:
                t.record_stream(stream)  # not reused while this stream's work may still read them
        return tuple(t.data_ptr() if t is not None else None for t in self._on_device[key])

    def __repr__(self):
        return f"Pattern({self.canonical!r}, N={self.N}, pairs={self.pairs})"

    def __del__(self):
        handle, lib = getattr(self, "_handle", None), getattr(self, "_lib", None)
        if handle and lib is not None:
            lib.swa_torch_pattern_free(handle)
            self._handle = None


def _head_dims(lib):
    out = (ctypes.c_int32 * 16)()
    return tuple(out[:lib.swa_torch_head_dims(out, 16)])


class Native:
    """libswa_torch.so of one build folder, and the stages that build made."""

    def __init__(self, build_dir):
        self.build_dir = pathlib.Path(build_dir)
        self.stages_dir = self.build_dir / "stages"
        path = self.build_dir / "python" / LIBRARY
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as e:
            raise StageNotBuiltError(f"cannot load {path}: {e}") from e
        _declare(lib)
        if lib.swa_torch_interface_version() != 1:
            raise StageNotBuiltError(f"{path} is of another version of swa_torch: rebuild it")
        self._lib = lib
        self.pattern_kinds = tuple(lib.swa_torch_pattern_kind_name(k).decode()
                                   for k in range(lib.swa_torch_num_pattern_kinds()))
        self.head_dims = _head_dims(lib)
        self.tensor_alignment = lib.swa_torch_tensor_alignment()
        self._stages = {}
        self._patterns = collections.OrderedDict()

    # Stages ------------------------------------------------------------------------------------------

    def variants(self):
        return sorted(p.name for p in self.stages_dir.glob("*") if p.is_dir()) if self.stages_dir.is_dir() else []

    def stage_names(self, variant):
        return sorted(p.stem for p in (self.stages_dir / variant).glob("[0-9][0-9]_*.so"))

    def stage(self, stage, variant="student"):
        """The stage `stage` ("04", "04_online_softmax" or a path to a .so) of `variant` ("student",
        "solution"), loaded once."""
        if not isinstance(stage, str):
            raise TypeError(f"stage must be a string such as '04' or '04_online_softmax'; got {type(stage).__name__}")
        if not isinstance(variant, str):
            raise TypeError(f"variant must be 'student' or 'solution'; got {type(variant).__name__}")
        if (stage, variant) not in self._stages:
            path = self._stage_path(stage, variant)
            loaded = next((s for s in self._stages.values() if s.path == str(path)), None)
            self._stages[stage, variant] = loaded or Stage(self._lib, path, variant, self.pattern_kinds)
        return self._stages[stage, variant]

    def _stage_path(self, stage, variant):
        if stage.endswith(".so"):
            path = pathlib.Path(stage)
            if not path.is_file():
                raise StageNotBuiltError(f"stage {stage}: no such file")
            return path.resolve()
        if variant not in self.variants():
            raise StageNotBuiltError(f"variant {variant!r} has no stages in {self.stages_dir} (there: "
                                     f"{', '.join(self.variants()) or 'none'}): {_BUILD_HINT}")
        names = self.stage_names(variant)
        number = stage.split("_", 1)[0].zfill(2) if stage.split("_", 1)[0].isdigit() else None
        matches = [n for n in names if n == stage or (number is not None and "_" not in stage and n[:2] == number)]
        if len(matches) != 1:
            raise StageNotBuiltError(f"stage {stage!r} of variant {variant!r} is not built in "
                                     f"{self.stages_dir / variant} (built: {', '.join(names) or 'none'}): "
                                     f"{_BUILD_HINT}")
        return self.stages_dir / variant / f"{matches[0]}.so"

    # Patterns ----------------------------------------------------------------------------------------

    def pattern(self, text, N, seed=1):
        """The pattern `text` ("sliding:128", "causal:64", ...) for sequences of N; the last
        _PATTERNS_KEPT read are kept, with their device arrays."""
        if not isinstance(text, str):
            raise TypeError(f"pattern must be a string such as 'sliding:128'; got {type(text).__name__}")
        key = (text, int(N), int(seed))
        if key in self._patterns:
            self._patterns.move_to_end(key)
        else:
            self._patterns[key] = Pattern(self, text, int(N), int(seed))
            if len(self._patterns) > _PATTERNS_KEPT:
                self._patterns.popitem(last=False)
        return self._patterns[key]

    # Running -----------------------------------------------------------------------------------------

    def check(self, stage, pattern, B, H, N, D, scale, compute_capability=0):
        """Raises what the stage's forward() would refuse: ValueError (a range of problem.h),
        UnsupportedError (pattern or D), UnsupportedDeviceError (when compute_capability > 0)."""
        error = _error_buffer()
        status = self._lib.swa_torch_check(stage.handle, pattern.handle, B, H, N, D, scale, compute_capability,
                                           error, len(error))
        self._raise(status, error)

    def workspace_bytes(self, stage, pattern, B, H, N, D, scale):
        return self._lib.swa_torch_workspace_bytes(stage.handle, pattern.handle, B, H, N, D, scale)

    def forward(self, stage, pattern, shape, scale, arrays, q, k, v, o, workspace, workspace_bytes, device,
                stream):
        B, H, N, D = shape
        error = _error_buffer()
        status = self._lib.swa_torch_forward(stage.handle, pattern.handle, B, H, N, D, scale, *arrays, q, k, v, o,
                                             workspace, workspace_bytes, device, stream, error, len(error))
        self._raise(status, error)

    def fill_mask(self, pattern, row0, rows, arrays, mask, device, stream):
        error = _error_buffer()
        status = self._lib.swa_torch_fill_mask(pattern.handle, row0, rows, *arrays, mask, device, stream, error,
                                               len(error))
        self._raise(status, error)

    def _raise(self, status, error):
        if status != 0:
            raise from_status(self._lib.swa_torch_status_name(status).decode(), _text(error))


def _declare(lib):
    """The native functions' C signatures (native/swa_torch.cu)."""
    i32, u32, u64, i64 = ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64
    ptr, text, size, f32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_float
    i32s = ctypes.POINTER(i32)
    signatures = {
        "swa_torch_interface_version": (i32, []),
        "swa_torch_status_name": (text, [i32]),
        "swa_torch_num_pattern_kinds": (i32, []),
        "swa_torch_pattern_kind_name": (text, [i32]),
        "swa_torch_head_dims": (i32, [i32s, i32]),
        "swa_torch_head_dim_bit": (u32, [i32]),
        "swa_torch_tensor_alignment": (i32, []),
        "swa_torch_stage_open": (ptr, [text, text, size]),
        "swa_torch_stage_close": (None, [ptr]),
        "swa_torch_stage_info": (text, [ptr, i32s]),
        "swa_torch_pattern_parse": (ptr, [text, i32, u64, text, size]),
        "swa_torch_pattern_free": (None, [ptr]),
        "swa_torch_pattern_describe": (None, [ptr, i32s, ctypes.POINTER(i64), text, size]),
        "swa_torch_pattern_arrays": (None, [ptr, i32s, i32s, i32s]),
        "swa_torch_check": (i32, [ptr, ptr, i32, i32, i32, i32, f32, i32, text, size]),
        "swa_torch_workspace_bytes": (size, [ptr, ptr, i32, i32, i32, i32, f32]),
        "swa_torch_forward": (i32, [ptr, ptr, i32, i32, i32, i32, f32, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, size,
                                    i32, ptr, text, size]),
        "swa_torch_fill_mask": (i32, [ptr, i32, i32, ptr, ptr, ptr, ptr, i32, ptr, text, size]),
    }
    for name, (result, arguments) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = result, arguments


@functools.lru_cache(maxsize=None)
def _load(build_dir):
    return Native(build_dir)


_default_build_dir = None


def native(build_dir=None):
    """The native library of `build_dir` (see find_build_dir), loaded once per folder; the folder found
    without one is looked up once per process."""
    global _default_build_dir
    if build_dir is None and not os.environ.get("SWA_BUILD_DIR"):
        if _default_build_dir is None:
            _default_build_dir = find_build_dir()
        return _load(_default_build_dir)
    return _load(find_build_dir(build_dir))
