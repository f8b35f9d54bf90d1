// Planted cheat (leaving the GPU busy): the honest kernel, and a thread that keeps the GPU busy with long
// kernels of its own, so that the baseline timed between the stage's runs is slower and the speedup
// larger. Defeated: the runner synchronises its device before "done" and is frozen while the judge times
// the baseline, so only the one kernel launched in between can still run (it ended before the probe in
// the H200 run of 2026-12-02, commit 3dbd648); the baseline's time is the smaller of the alternated one
// and the one with no runner alive. Named when the probe still sees that kernel: "the GPU was still busy
// with the stage's work after it said it was done".
#include <thread>

#include "honest04.h"

namespace {
__global__ void spin(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}

void launch_and_load(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  static bool started = false;
  if (!started) {
    started = true;
    std::thread([] {
      cudaStream_t mine;
      if (cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) != cudaSuccess) return;
      for (;;) {
        spin<<<264, 128, 0, mine>>>(40000000LL);  // ~20 ms at 2 GHz
        cudaStreamSynchronize(mine);
      }
    }).detach();
  }
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_busy_gpu", workspace_bytes, launch_and_load)
