// Planted cheat (patching the timer): overwrites cudaEventElapsedTime in its own process with a function
// that reports 1 us, and skips the work of the timed runs (a problem repeated). The old grader timed with
// CUDA events in the process that had loaded the stage. Caught: the judge's clock is its own, in another
// process, and every timed output is checked: "output not written by the time the stage said it was done".
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "honest04.h"

namespace {
cudaError_t fake_elapsed(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 0.001f;
  return cudaSuccess;
}

__attribute__((constructor)) void patch() {
  for (const char* name : {"cudaEventElapsedTime", "cudaEventElapsedTime_v2"}) {
    void* target = dlsym(RTLD_DEFAULT, name);
    if (target == nullptr) continue;
    const long page = sysconf(_SC_PAGESIZE);
    void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(target) & ~static_cast<uintptr_t>(page - 1));
    if (mprotect(start, 2 * page, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) continue;
    unsigned char jump[12] = {0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe0};  // movabs rax, fake; jmp rax
    const uint64_t to = reinterpret_cast<uint64_t>(&fake_elapsed);
    std::memcpy(jump + 2, &to, sizeof(to));
    std::memcpy(target, jump, sizeof(jump));
    mprotect(start, 2 * page, PROT_READ | PROT_EXEC);
  }
}

void skip_timed(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  if (planted::repeated(p)) return;
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_patch_event_timer", workspace_bytes, skip_timed)
