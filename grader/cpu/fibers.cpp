// fibers.cpp: blocks and threads of a CPU-run stage (cuda_cpu.h), and the few CUDA runtime calls the
// stages' launchers make.
//
// A block's threads are fibers (ucontext) on one OS thread, run in turn by run_grid(): each runs until it
// reaches __syncthreads (or a warp shuffle), then the next; when every live thread of the block waits at
// the barrier (of its warp, for a shuffle), all are released. SWA_CPU_ORDER=reverse runs them in the
// opposite order, so a missing barrier cannot hide behind one lucky order.
#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_cpu.h"

namespace swa_cpu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;  // a thread's registers and local arrays (o[D] at D = 128 ...)
constexpr int kWarp = 32;

enum class State { kRunnable, kAtBarrier, kAtShuffle, kDone };

struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  Indices ids;
  State state = State::kRunnable;
  float shuffle_value = 0;
};

struct Block {
  std::vector<Fiber> fibers;
  ucontext_t scheduler;
  Fiber* running = nullptr;
  std::vector<unsigned char> dynamic_shared;
  void (*body)(void*) = nullptr;
  void* closure = nullptr;
};

Block* g_block = nullptr;  // the block being run (one at a time)
Indices g_host_indices;  // what indices() answers outside a kernel

void fiber_main() {
  g_block->body(g_block->closure);
  g_block->running->state = State::kDone;
  // uc_link returns to the scheduler
}

void yield() { swapcontext(&g_block->running->context, &g_block->scheduler); }

// Every live fiber of [first, last) has reached `state`: release them all.
bool release_if_all(size_t first, size_t last, State state) {
  bool any = false;
  for (size_t k = first; k < last; ++k) {
    const State s = g_block->fibers[k].state;
    if (s == State::kRunnable) return false;
    if (s == state) any = true;
  }
  if (!any) return false;
  for (size_t k = first; k < last; ++k)
    if (g_block->fibers[k].state == state) g_block->fibers[k].state = State::kRunnable;
  return true;
}

}  // namespace

const Indices& indices() { return g_block && g_block->running ? g_block->running->ids : g_host_indices; }

unsigned char* dynamic_shared() { return g_block->dynamic_shared.data(); }

void syncthreads() {
  g_block->running->state = State::kAtBarrier;
  yield();
}

float shfl_xor(float value, int lane_mask, int width) {
  Fiber* self = g_block->running;
  self->shuffle_value = value;
  self->state = State::kAtShuffle;
  yield();  // back once every live lane of the warp has put its value
  const size_t me = static_cast<size_t>(self - g_block->fibers.data());
  const size_t warp0 = me / kWarp * kWarp;
  const int lane = static_cast<int>(me - warp0);
  const int segment = lane / width * width;
  const int partner = segment + ((lane - segment) ^ lane_mask);
  const float got = warp0 + partner < g_block->fibers.size() ? g_block->fibers[warp0 + partner].shuffle_value : value;
  // Nobody may overwrite its value before every lane has read: a second, silent rendezvous.
  self->state = State::kAtShuffle;
  yield();
  return got;
}

void run_grid(dim3 grid, dim3 block_dim, size_t shared_bytes, void (*body)(void*), void* closure) {
  const bool reverse = [] {
    const char* order = std::getenv("SWA_CPU_ORDER");
    return order != nullptr && std::strcmp(order, "reverse") == 0;
  }();
  const size_t threads = static_cast<size_t>(block_dim.x) * block_dim.y * block_dim.z;
  if (threads == 0 || threads > 1024) throw std::invalid_argument("CPU run: a block must have 1..1024 threads");
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block block;
        block.body = body;
        block.closure = closure;
        // Shared memory starts as NaN, as a GPU's starts as whatever was there: reading it before writing
        // it shows.
        block.dynamic_shared.resize(shared_bytes);
        for (size_t k = 0; k + sizeof(float) <= shared_bytes; k += sizeof(float)) {
          const float nan = std::numeric_limits<float>::quiet_NaN();
          std::memcpy(&block.dynamic_shared[k], &nan, sizeof(float));
        }
        block.fibers.resize(threads);
        g_block = &block;
        for (size_t t = 0; t < threads; ++t) {
          Fiber& f = block.fibers[t];
          f.ids.thread = dim3(t % block_dim.x, t / block_dim.x % block_dim.y, t / (block_dim.x * block_dim.y));
          f.ids.block = dim3(bx, by, bz);
          f.ids.block_dim = block_dim;
          f.ids.grid_dim = grid;
          f.stack.reset(new char[kStackBytes]);
          getcontext(&f.context);
          f.context.uc_stack.ss_sp = f.stack.get();
          f.context.uc_stack.ss_size = kStackBytes;
          f.context.uc_link = &block.scheduler;
          makecontext(&f.context, fiber_main, 0);
        }
        // Run the fibers in turn until all are done; release barriers as they fill.
        for (;;) {
          bool ran = false;
          for (size_t step = 0; step < threads; ++step) {
            Fiber& f = block.fibers[reverse ? threads - 1 - step : step];
            if (f.state != State::kRunnable) continue;
            block.running = &f;
            swapcontext(&block.scheduler, &f.context);
            block.running = nullptr;
            ran = true;
          }
          if (!ran) {
            bool released = false;
            for (size_t w = 0; w < threads; w += kWarp)
              released = release_if_all(w, std::min(threads, w + kWarp), State::kAtShuffle) || released;
            if (!released) released = release_if_all(0, threads, State::kAtBarrier);
            if (!released) break;  // every fiber is done
          }
        }
        g_block = nullptr;
      }
}

}  // namespace swa_cpu

// The CUDA runtime calls the stages make, answered for a CPU that looks like an A100 (sm_80, 163 KB of
// shared memory per block).
extern "C" {
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaPeekAtLastError(void) { return cudaSuccess; }
const char* cudaGetErrorName(cudaError_t error) { return error == cudaSuccess ? "cudaSuccess" : "cudaErrorUnknown"; }
const char* cudaGetErrorString(cudaError_t error) { return error == cudaSuccess ? "no error" : "unknown error"; }
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor: *value = 8; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = 163 * 1024; return cudaSuccess;
    default: *value = 0; return cudaErrorInvalidValue;
  }
}
}
