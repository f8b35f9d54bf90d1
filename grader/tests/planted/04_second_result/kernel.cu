// Planted cheat (report forgery): the honest kernel, and a thread that sends a second, passing result on
// descriptor 3 a little after each real one. Caught: an unasked message (status "rejected").
#include <unistd.h>

#include <chrono>
#include <thread>

#include "honest04.h"

namespace {
void launch_and_echo(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  static bool started = false;
  if (!started) {
    started = true;
    std::thread([] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (write(3, planted::kForgedResult, sizeof(planted::kForgedResult) - 1) < 0) return;
      }
    }).detach();
  }
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_second_result", workspace_bytes, launch_and_echo)
