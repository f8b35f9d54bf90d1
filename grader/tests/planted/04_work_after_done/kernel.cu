// Planted cheat (work on another thread and stream): from the timed runs on (a problem repeated), returns
// at once and has a helper thread launch the kernel a little later on a stream of its own, so that the
// work falls outside the stage's own stream and after its return. Caught: the judge's clock stops only
// after it has checked every output, and the runner synchronises the whole device before it answers:
// "output not written by the time the stage said it was done".
#include <chrono>
#include <thread>

#include "honest04.h"

namespace {
void deferred(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  if (!planted::repeated(p)) return launch(p, t, ws, s);
  std::thread([p, t, ws] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
      launch(p, t, ws, cudaStreamPerThread);
      cudaStreamSynchronize(cudaStreamPerThread);
    } catch (...) {
    }
  }).detach();
}
}  // namespace

SWA_PLANTED("04_work_after_done", workspace_bytes, deferred)
