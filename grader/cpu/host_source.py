#!/usr/bin/env python3
"""Rewrite a stage's kernel.cu into C++ for the CPU check (grader/cpu/cuda_cpu.h says why).

    host_source.py IN OUT            one file (a stage's kernel.cu)
    host_source.py --dir IN OUT      every .h/.cuh under IN, into the same tree under OUT (stages/common:
                                     tiles.cuh launches kernels too)
    host_source.py IN OUT --plant NAME
                                     also plant the fault NAME (PLANTS below), for the CPU check's own
                                     tests; fails unless it matches exactly once, so that a fault cannot
                                     quietly disappear when the solution changes

Two pieces of CUDA syntax have no C++ reading, and only these are rewritten, in place, line for line (so
compiler messages point at the student's own lines):
    kernel<<<grid, block, smem, stream>>>(args)   ->  kernel | swa_cpu::Config{grid, block, smem, stream}(args)
    extern __shared__ __align__(16) T name[];     ->  T* name = reinterpret_cast<T*>(swa_cpu::dynamic_shared());
A `#line 1 "IN"` at the top keeps the file name.
"""
import pathlib
import re
import sys

LAUNCH = re.compile(r"<<<([^;]*?)>>>", re.S)
# Faults planted in stage 04's solution: (what to find, what to put there).
PLANTS = {
    # The barrier between loading K and V and reading them.
    "missing_sync": (r"\n\s*__syncthreads\(\);\s*// Q, K and V are complete before any thread reads them",
                     "\n    // (the barrier after the K and V loads is missing)"),
    # The window's right edge, one key too far: j <= i + W + 1.
    "one_key_too_far": (r"j <= i \+ p\.pattern\.right;", "j <= i + p.pattern.right + 1;"),
}
SHARED = re.compile(r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([A-Za-z_][\w:<> ]*?)\s+(\w+)\s*\[\s*\]\s*;")


def rewrite(text: str) -> str:
    text = SHARED.sub(lambda m: f"{m.group(1)}* {m.group(2)} = reinterpret_cast<{m.group(1)}*>(swa_cpu::dynamic_shared());", text)
    # A launch's configuration holds no ';' and its own ">>>" closes it (a ">>>" elsewhere closes templates).
    return LAUNCH.sub(lambda m: " | swa_cpu::Config{" + m.group(1) + "}", text)


def convert(source: pathlib.Path, target: pathlib.Path, plant=None) -> None:
    text = source.read_text(encoding="utf-8")
    if plant:
        pattern, replacement = PLANTS[plant]
        text, count = re.subn(pattern, replacement, text)
        if count != 1:
            sys.exit(f"host_source.py: the fault '{plant}' matched {count} times in {source}, not once")
    out = f'#line 1 "{source}"\n' + rewrite(text)
    if text.lstrip().startswith("#pragma once") or "\n#pragma once" in text:
        out = "#pragma once\n" + out  # before the #line, so that it guards the copy
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text(encoding="utf-8") != out:  # unchanged files keep their time
        target.write_text(out, encoding="utf-8")


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "--dir":
        root, out = pathlib.Path(args[1]), pathlib.Path(args[2])
        for header in sorted(list(root.rglob("*.h")) + list(root.rglob("*.cuh"))):
            convert(header, out / header.relative_to(root))
    elif len(args) == 2:
        convert(pathlib.Path(args[0]), pathlib.Path(args[1]))
    elif len(args) == 4 and args[2] == "--plant" and args[3] in PLANTS:
        convert(pathlib.Path(args[0]), pathlib.Path(args[1]), args[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
