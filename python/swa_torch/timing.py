"""GPU time of one call, by the method behind the libraries' anchor figures in bench.py (ANCHORS_MS).

For each run: write a 256 MiB buffer (the L2 cache, 60 MB on an H200, holds none of the inputs after),
enqueue a spin kernel (torch.cuda._sleep) long enough to cover the CPU time of enqueuing the call, then
CUDA events around the call alone. The GPU is still spinning when the call's kernels arrive, so the
events measure the kernels, not Python or the launch. Warm-up runs first; the median of the rest counts.
"""

import statistics
import time

import torch

FLUSH_BYTES = 256 << 20


class GpuTimer:
    def __init__(self, device, runs=50, warmup=5, flush_bytes=FLUSH_BYTES):
        if not hasattr(torch.cuda, "_sleep"):
            raise RuntimeError(f"torch {torch.__version__} has no torch.cuda._sleep, which the timing uses to hide "
                               f"the launch overhead")
        if runs < 1 or warmup < 1:
            raise ValueError(f"runs = {runs} and warmup = {warmup} must both be >= 1")
        self.device = torch.device(device)
        self.runs, self.warmup = runs, warmup
        self.flush = torch.empty(flush_bytes, dtype=torch.uint8, device=self.device)
        self.cycles_per_ms = self._calibrate()

    def _calibrate(self):
        """Clock cycles of the spin kernel per millisecond on this GPU (its clock is not fixed)."""
        cycles = 2_000_000
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(cycles)  # the first launch loads the kernel
        start.record()
        torch.cuda._sleep(cycles)
        end.record()
        end.synchronize()
        return cycles / start.elapsed_time(end)

    def time(self, fn):
        """Times fn() (which enqueues GPU work on the current stream); returns median_ms, min_ms, max_ms,
        runs, warmup and spin_ms (the spin that hid the enqueue)."""
        enqueue_ms = []
        for _ in range(self.warmup):
            self.flush.zero_()
            torch.cuda.synchronize(self.device)
            t0 = time.perf_counter()
            fn()
            enqueue_ms.append((time.perf_counter() - t0) * 1e3)
        torch.cuda.synchronize(self.device)
        # Three times the slowest warm enqueue, and at least 50 us: the call's kernels never wait for the CPU.
        spin_ms = min(50.0, max(0.05, 3.0 * max(enqueue_ms[len(enqueue_ms) // 2:])))
        spin_cycles = int(spin_ms * self.cycles_per_ms)
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(self.runs)]
        for start, end in events:
            self.flush.zero_()  # evict L2: write 256 MiB
            torch.cuda._sleep(spin_cycles)  # the GPU spins while the lines below are enqueued
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(self.device)
        times = [start.elapsed_time(end) for start, end in events]
        return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
                "runs": self.runs, "warmup": self.warmup, "spin_ms": spin_ms}
