// hopper.cuh: the H100/H200's own machinery, one thin wrapper per PTX instruction (stage 07).
//
// Given code: read it, do not change it. Each wrapper is a few lines around one instruction, named after
// it, with a comment on its operands; the pictures below show the layouts the instructions agree on.
//
// Why hand-written wrappers rather than CuTe (CUTLASS's layout algebra): a student reads these in an
// afternoon and sees every instruction the kernel issues; CuTe expresses the same layouts as composed
// layout functions, which are powerful but a course of their own, and its ~1,500 headers would have to
// travel with the kit to GPU machines that have no network. The price is that nothing here checks a layout
// at compile time: grader/tests/test_hopper_gpu.cpp checks each block on the GPU, one at a time.
//
// The pieces, in the order a tile meets them:
//   1. TMA (cp.async.bulk.tensor): the copy engine moves a whole box of a tensor between global and shared
//      memory, described by a tensor map made once on the host (encode_tensor_map). Loads complete on an
//      mbarrier; out-of-bounds rows of a box are filled with zeros; stores skip them.
//   2. mbarrier: a counter in shared memory with a phase bit. It completes a phase when the expected number
//      of threads have arrived and the expected number of bytes (expect_tx) have landed; waiting names the
//      phase by its parity, 0 or 1.
//   3. wgmma: a warpgroup (4 warps, 128 threads) multiplies a 64 x 16 slice of A by a 16 x N slice of B
//      into a 64 x N fp32 accumulator in registers. B (and here A, for S = Q K^T) is read from shared memory
//      through a 64-bit matrix descriptor; for O += P V, A is P, in registers.
//   4. setmaxnreg: warpgroups hand registers to each other (the producer needs few, the consumers many).
//
// The 128-byte swizzle. A tile is stored as rows of 128 bytes (64 fp16 or 32 fp32 values); a wider tile
// is several such column blocks, one after the other. Each row is eight 16-byte chunks, and chunk c of row
// r is stored at chunk position c ^ (r % 8) of that row:
//
//          position in the row:  0  1  2  3  4  5  6  7     (16 bytes each: 8 fp16 or 4 fp32 values)
//     row 0 holds chunk          0  1  2  3  4  5  6  7
//     row 1                      1  0  3  2  5  4  7  6
//     row 2                      2  3  0  1  6  7  4  5
//     row 3                      3  2  1  0  7  6  5  4
//     row 4                      4  5  6  7  0  1  2  3
//     row 5                      5  4  7  6  1  0  3  2
//     row 6                      6  7  4  5  2  3  0  1
//     row 7                      7  6  5  4  3  2  1  0
//     row 8                      0  1  2  3  4  5  6  7     (every 8 rows = 1024 bytes, the pattern repeats)
//
// So the same chunk of 8 consecutive rows lies in 8 different groups of 4 banks: reading a column of
// chunks, as the tensor cores do, takes one pass instead of eight. TMA writes this pattern when its tensor
// map says CU_TENSOR_MAP_SWIZZLE_128B; wgmma reads it when its descriptor says "128B swizzle". Both compute
// the XOR from address bits 7-9 (the row within 1024 bytes), so every tile starts on a 1024-byte boundary.
//
// Built for sm_90a only: wgmma and setmaxnreg exist on that arch-specific target alone.
#pragma once

#include <cuda.h>  // CUtensorMap and its enums (types only: nothing links -lcuda)
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled_v12000
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda_check.h"
#include "mma.cuh"  // ldmatrix_x4 (load_a_fragments)
#include "problem.h"
#include "tile_mask.h"

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "hopper.cuh needs the arch-specific target sm_90a: compile with -gencode=arch=compute_90a,code=sm_90a"
#endif

namespace swa::hopper {

constexpr int kWarpgroupThreads = 128;
constexpr int kSwizzleBytes = 128;  // a row of a swizzled tile
constexpr int kSwizzleAtomBytes = 1024;  // 8 rows: the period of the swizzle, and every tile's alignment

// Byte offset of byte `byte` of row `row` in a 128B-swizzled tile (the picture above).
SWA_HD int swizzle_128b(int row, int byte) {
  return row * kSwizzleBytes + ((((byte >> 4) ^ row) & 7) << 4) + (byte & 15);
}

// The 32-bit shared-memory address of a pointer into shared memory (what the instructions below take).
__device__ inline uint32_t smem_address(const void* ptr) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(ptr));
}

// ---------------------------------------------------------------------------------------------------
// mbarrier
// ---------------------------------------------------------------------------------------------------
//
// An mbarrier (8 bytes of shared memory) counts arrivals and transaction bytes. Its current phase completes
// when `count` threads have arrived and every byte announced by expect_tx has landed; then the next phase
// starts, with the counts reset. Phases alternate parity 0, 1, 0, ... A waiter names the phase it waits for
// by that parity: wait(parity) returns once the phase of that parity has completed, i.e. once the barrier's
// current phase has the other parity. A fresh barrier is in phase 0, so wait(1) returns at once: the phase
// "before the first" counts as completed (producers use this to find every buffer free at the start).

// mbarrier.init: `count` arrivals complete a phase. One thread initialises, before anyone uses it.
__device__ inline void mbarrier_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_address(bar)), "r"(count) : "memory");
}

// fence.mbarrier_init: makes the initialisations visible to the async proxy (TMA) as well; follow it with
// a __syncthreads() before any thread touches the barriers.
__device__ inline void fence_barrier_init() { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }

// mbarrier.arrive: this thread arrives (one of the `count`).
__device__ inline void mbarrier_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_address(bar)) : "memory");
}

// mbarrier.arrive.expect_tx: this thread arrives and announces `bytes` more bytes that asynchronous copies
// (TMA, complete_tx) will deliver in this phase. Announce the whole box of every load, also of a box that
// hangs over the end of the tensor: TMA writes (and counts) the full box, zeros included.
__device__ inline void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_address(bar)), "r"(bytes)
               : "memory");
}

// mbarrier.try_wait.parity: has the phase of this parity completed? (It may wait a little inside before
// answering no.) Reads that follow a true answer see everything the phase delivered.
__device__ inline bool mbarrier_try_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done;
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
      "selp.u32 %0, 1, 0, p;\n"
      "}\n"
      : "=r"(done)
      : "r"(smem_address(bar)), "r"(parity)
      : "memory");
  return done != 0;
}

// Wait until the phase of this parity has completed.
__device__ inline void mbarrier_wait(uint64_t* bar, uint32_t parity) {
  while (!mbarrier_try_wait(bar, parity)) {
  }
}

// ---------------------------------------------------------------------------------------------------
// TMA: tensor maps (host), bulk tensor copies (device)
// ---------------------------------------------------------------------------------------------------

// A 3-D tensor map over a [outer][rows][cols] row-major array in global memory: the copy engine moves
// boxes of box_rows x box_cols elements (box_cols * element size <= 128 bytes: one swizzled row) at
// coordinates (col, row, outer). Boxes never cross `outer` (for attention: one (batch, head) per outer
// index), so a box that runs past the last row is clipped there: loads fill the missing rows with zeros,
// stores skip them. Made on the host with cuTensorMapEncodeTiled, a driver function that is fetched
// through the runtime (cudaGetDriverEntryPointByVersion), so that nothing links libcuda directly.
inline CUtensorMap encode_tensor_map(const void* base, CUtensorMapDataType type, int element_bytes, int cols, int rows,
                                     int outer, int box_cols, int box_rows) {
  static PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
#if CUDART_VERSION >= 12050
    SWA_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found));
#else
    SWA_CUDA_CHECK(cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &fn, cudaEnableDefault, &found));
#endif
    if (found != cudaDriverEntryPointSuccess || fn == nullptr)
      throw std::runtime_error("cuTensorMapEncodeTiled is not available: the NVIDIA driver is older than CUDA 12.0");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  CUtensorMap map;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows),
                              static_cast<cuuint64_t>(outer)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(cols) * element_bytes,  // bytes between rows (16-aligned)
                                 static_cast<cuuint64_t>(cols) * rows * element_bytes};  // between outer slices
  const cuuint32_t box[3] = {static_cast<cuuint32_t>(box_cols), static_cast<cuuint32_t>(box_rows), 1};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  const CUresult result =
      encode(&map, type, 3, const_cast<void*>(base), dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
             CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (result != CUDA_SUCCESS)
    throw std::runtime_error("cuTensorMapEncodeTiled failed (CUresult " + std::to_string(static_cast<int>(result)) +
                             ") for a [" + std::to_string(outer) + "][" + std::to_string(rows) + "][" +
                             std::to_string(cols) + "] tensor with boxes of " + std::to_string(box_rows) + " x " +
                             std::to_string(box_cols));
  return map;
}

// prefetch.tensormap: bring a tensor map (a __grid_constant__ kernel parameter) into the cache early.
__device__ inline void prefetch_tensor_map(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// cp.async.bulk.tensor (load): copy the box at (col, row, outer) of `map` into shared memory at `dst`
// (1024-byte aligned, swizzled as the map says); its bytes count towards `bar`'s expect_tx (complete_tx).
// One thread issues it; the others learn that it landed by waiting on `bar`.
__device__ inline void tma_load(void* dst, const CUtensorMap* map, uint64_t* bar, int col, int row, int outer) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], "
      "[%2];" ::"r"(smem_address(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_address(bar)), "r"(col), "r"(row), "r"(outer)
      : "memory");
}

// cp.async.bulk.tensor (store): copy the box in shared memory at `src` to (col, row, outer) of `map`; rows
// past the tensor's end are not written. Part of this thread's current bulk async-group (commit it below).
// Ordinary stores that filled `src` must be made visible to the copy engine first: fence_proxy_async().
__device__ inline void tma_store(const CUtensorMap* map, const void* src, int col, int row, int outer) {
  asm volatile("cp.async.bulk.tensor.3d.global.shared::cta.tile.bulk_group [%0, {%2, %3, %4}], [%1];" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(smem_address(src)), "r"(col), "r"(row), "r"(outer)
               : "memory");
}

// cp.async.bulk.commit_group: close this thread's current group of bulk stores.
__device__ inline void bulk_commit_group() { asm volatile("cp.async.bulk.commit_group;" ::: "memory"); }

// cp.async.bulk.wait_group.read N: wait until at most the N most recent groups still read their shared
// memory (the older ones are done with it: their source buffers may be overwritten).
template <int N>
__device__ inline void bulk_wait_group_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;" ::"n"(N) : "memory");
}

// cp.async.bulk.wait_group N: wait until at most the N most recent groups are incomplete (writes done).
template <int N>
__device__ inline void bulk_wait_group() {
  asm volatile("cp.async.bulk.wait_group %0;" ::"n"(N) : "memory");
}

// fence.proxy.async.shared::cta: ordinary stores to shared memory (the generic proxy) become visible to
// the async proxy (TMA stores, wgmma) that reads them next. Every thread that stored fences, then they sync.
__device__ inline void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }

// ---------------------------------------------------------------------------------------------------
// wgmma
// ---------------------------------------------------------------------------------------------------
//
// The shared-memory matrix descriptor (64 bits; addresses and offsets in units of 16 bytes):
//     bits  0-13  start address >> 4
//     bits 16-29  leading-dimension byte offset >> 4 (LBO)
//     bits 32-45  stride-dimension byte offset >> 4 (SBO)
//     bits 49-51  base offset: 0, since every swizzled tile starts on a 1024-byte boundary
//     bits 62-63  swizzle mode: 1 = 128-byte swizzle (2 = 64B, 3 = 32B, 0 = none)
// For the 128B swizzle the offsets mean:
//   K-major (the reduction index runs along a 128-byte row: Q and K, whose rows are [d]):
//     SBO = 1024, from 8 rows to the next 8 rows; LBO is unused (set to 1). A k-step of 16 fp16 is 32 bytes
//     along the row: step the start address by 32 inside a column block, by one column block (rows * 128
//     bytes) every 4 steps; the hardware applies the XOR itself, from the address bits.
//   MN-major (the output index runs along the row, the reduction index down the rows: V, whose rows are
//     keys [j] and whose columns are d, read as B = V with B's N = d):
//     SBO = 1024, from 8 keys to the next 8 keys; LBO = from one 64-column block to the next (only an
//     instruction with N > 64 crosses it). A k-step of 16 keys is 16 rows: 2048 bytes further down.
constexpr uint64_t kDescriptorSwizzle128B = 1ull << 62;

__device__ inline uint64_t make_descriptor(uint32_t address, uint32_t leading_bytes, uint32_t stride_bytes) {
  return static_cast<uint64_t>((address & 0x3FFFF) >> 4) | static_cast<uint64_t>(leading_bytes >> 4) << 16 |
         static_cast<uint64_t>(stride_bytes >> 4) << 32 | kDescriptorSwizzle128B;
}
// A K-major operand at shared address `address` (a 128B-swizzled tile, or 32-byte steps into one).
__device__ inline uint64_t kmajor_descriptor(uint32_t address) { return make_descriptor(address, 16, 1024); }
// An MN-major operand; `block_bytes`: bytes from one 64-column block of the tile to the next.
__device__ inline uint64_t mnmajor_descriptor(uint32_t address, uint32_t block_bytes) {
  return make_descriptor(address, block_bytes, 1024);
}
// The same descriptor `bytes` further on (a multiple of 16): only the start address changes, and it is the
// low field, which never carries into the next one (shared memory ends below 256 KB). One addition of a
// constant per wgmma instead of building each descriptor again: a tile's descriptor is made once and
// stepped along (k-steps, column blocks, ring stages).
__device__ inline uint64_t descriptor_plus(uint64_t descriptor, uint32_t bytes) {
  const uint32_t low = static_cast<uint32_t>(descriptor) + (bytes >> 4);
  return (descriptor & 0xFFFFFFFF00000000ull) | low;
}

// The same descriptor with its start address hidden from the compiler, for one that is made once and
// stepped inside a loop (descriptor_plus). Otherwise nvcc remembers that the field came from
// (address & 0x3FFFF) >> 4 and may rebuild every stepped descriptor from those pieces in the loop (masks,
// shifts and moves per wgmma); hidden, each step is one addition. The empty asm "changes" the value, so
// the compiler can no longer see where it came from; no instruction is emitted for it.
__device__ inline uint64_t hide_address_bits(uint64_t descriptor) {
  uint32_t low = static_cast<uint32_t>(descriptor);
  asm("" : "+r"(low));
  return (descriptor & 0xFFFFFFFF00000000ull) | low;
}

// wgmma.fence: orders this warpgroup's earlier register writes (the accumulator, the A fragment) before
// the wgmma that reads them. Before every batch of wgmma that follows ordinary code touching its registers.
__device__ inline void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }

// wgmma.commit_group: close the batch of wgmma issued so far into one group.
__device__ inline void wgmma_commit_group() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }

// wgmma.wait_group N: wait until at most N groups are in flight. Until then the accumulators and the A
// registers of the pending wgmma must be neither read nor written.
template <int N>
__device__ inline void wgmma_wait_group() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

// ptxas schedules a wgmma_wait_group as early as its basic block allows (a wait costs it nothing in its
// model), so ordinary code written between issuing a wgmma and waiting for it, the work meant to run while
// the tensor cores do, can end up after the wait. Code passed to keep_before_wgmma_wait runs in a loop of
// its own of one iteration, whose count neither compiler can see, and the wait after it stays after it.
// The compilers may still hoist out of that loop whatever its inputs fix (the loop invariants), running it
// on every path before the loop, branches or not: code(zero) gets a 0 made inside the loop, which the
// code adds to an input (a tile index, say) to keep the work that depends on it inside. Costs a compare and
// a branch.
template <class F>
__device__ inline void keep_before_wgmma_wait(F&& code) {
  int once = 1;
  asm volatile("" : "+r"(once));  // an opaque 1
#pragma unroll 1
  for (int i = 0; i < once; ++i) {
    int zero = 0;
    asm volatile("" : "+r"(zero));  // an opaque 0, made on each iteration: not a loop invariant
    code(zero);
  }
}

// The compiler does not know that wgmma writes its registers asynchronously: after wgmma_wait_group, tie
// the registers to this point, so that no read of the accumulator moves above the wait and no other value
// reuses an A register before it.
template <int N>
__device__ inline void fence_registers(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N>
__device__ inline void fence_registers(uint32_t (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}

// An accumulator that the next wgmma overwrites (accumulate = false): its registers keep whatever they hold,
// and the compiler counts them as written here, with no instruction, so that it neither zeroes them nor
// holds them from earlier on. set_zero: zeros the compiler does not move above the branch they are on.
template <int N>
__device__ inline void leave_unset(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "=f"(r[i]));
}
template <int N>
__device__ inline void set_zero(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("mov.b32 %0, 0;" : "=f"(r[i]));
}

// wgmma.mma_async m64n64k16 f32 += f16 * f16, both operands in shared memory (SS):
//     d[64 x 64] (+)= A[64 x 16] * B[16 x 64]
// a, b: K-major descriptors (A = 16 columns of Q's rows, B = 16 columns of K's rows, so d = Q K^T).
// accumulate = false: d = A * B, ignoring d's old value. d: the accumulator layout below, 32 per thread.
__device__ inline void wgmma_m64n64k16_ss(float (&d)[32], uint64_t a, uint64_t b, bool accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "%32, %33, p, 1, 1, 0, 0;\n"  // scale-d, imm-scale-a = 1, imm-scale-b = 1, no transposes (both K-major)
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(a), "l"(b), "r"(static_cast<int>(accumulate))
      : "memory");
}

// wgmma.mma_async m64n64k16 f32 += f16 * f16, A in registers, B in shared memory transposed (RS, N-major):
//     d[64 x 64] (+)= A[64 x 16] * B[16 x 64]
// a: this thread's A fragment, 4 registers of two fp16 each, laid out like 16 columns of the accumulator
// (below): register r holds A's elements (row(2r), col(2r)) and (row(2r+1), col(2r+1)), low half first.
// b: an MN-major descriptor (B = 16 rows of V, whose columns are B's N). imm-trans-b = 1 says N-major.
__device__ inline void wgmma_m64n64k16_rs_nmajor(float (&d)[32], const uint32_t (&a)[4], uint64_t b, bool accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n"  // scale-d, imm-scale-a = 1, imm-scale-b = 1, imm-trans-b = 1
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(static_cast<int>(accumulate))
      : "memory");
}

// wgmma.mma_async m64n64k16 f32 += f16 * f16, A in registers, B in shared memory (RS, both K-major):
//     d[64 x 64] (+)= A[64 x 16] * B[16 x 64]
// a: this thread's A fragment, laid out as for wgmma_m64n64k16_rs_nmajor (16 columns of Q's rows, loaded once
// with ldmatrix, as in stage 06); b: a K-major descriptor (16 columns of K's rows), so d = Q K^T.
__device__ inline void wgmma_m64n64k16_rs(float (&d)[32], const uint32_t (&a)[4], uint64_t b, bool accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n"  // scale-d, imm-scale-a = 1, imm-scale-b = 1, imm-trans-b = 0
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(static_cast<int>(accumulate))
      : "memory");
}

// Warp `warp`'s 16 rows of a 64-row, K-column fp16 tile, kept as TMA writes it (64-column blocks of 64 rows
// x 128 bytes, each 128B-swizzled), as the A fragments of wgmma: a[kk] for k-step kk (columns 16 kk ..
// 16 kk + 15). One ldmatrix_x4 per k-step with stage 06's address rule (mma.cuh: lane l reads row l % 16,
// columns 8 (l / 16) of the step); each lane's 16 bytes sit where swizzle_128b puts them.
template <int K>
__device__ inline void load_a_fragments(uint32_t (&a)[K / 16][4], const __half* tile, int warp, int lane) {
  const int row = 16 * warp + lane % 16;
#pragma unroll
  for (int kk = 0; kk < K / 16; ++kk) {
    const char* block = reinterpret_cast<const char*>(tile) + (kk / 4) * 64 * kSwizzleBytes;
    const int byte = (kk % 4) * 32 + 16 * (lane / 16);
    swa::mma::ldmatrix_x4(a[kk], reinterpret_cast<const __half*>(block + swizzle_128b(row, byte)));
  }
}

// wgmma.mma_async m64n128k16 f32 += f16 * f16, A in registers, B in shared memory transposed (RS, N-major):
//     [d0 d1][64 x 128] (+)= A[64 x 16] * B[16 x 128]
// As wgmma_m64n64k16_rs_nmajor with twice the columns: one instruction where that takes two (O += P V at
// D = 128). The accumulator of 128 columns is two of 64 side by side: d0 holds columns 0-63, d1 64-127, each
// in the layout below. b: an MN-major descriptor whose LBO steps from one 64-column block of V to the next.
__device__ inline void wgmma_m64n128k16_rs_nmajor(float (&d0)[32], float (&d1)[32], const uint32_t (&a)[4], uint64_t b,
                                                  bool accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n"  // scale-d, imm-scale-a = 1, imm-scale-b = 1, imm-trans-b = 1
      "}\n"
      : "+f"(d0[0]), "+f"(d0[1]), "+f"(d0[2]), "+f"(d0[3]), "+f"(d0[4]), "+f"(d0[5]), "+f"(d0[6]), "+f"(d0[7]),
        "+f"(d0[8]), "+f"(d0[9]), "+f"(d0[10]), "+f"(d0[11]), "+f"(d0[12]), "+f"(d0[13]), "+f"(d0[14]), "+f"(d0[15]),
        "+f"(d0[16]), "+f"(d0[17]), "+f"(d0[18]), "+f"(d0[19]), "+f"(d0[20]), "+f"(d0[21]), "+f"(d0[22]),
        "+f"(d0[23]), "+f"(d0[24]), "+f"(d0[25]), "+f"(d0[26]), "+f"(d0[27]), "+f"(d0[28]), "+f"(d0[29]),
        "+f"(d0[30]), "+f"(d0[31]), "+f"(d1[0]), "+f"(d1[1]), "+f"(d1[2]), "+f"(d1[3]), "+f"(d1[4]), "+f"(d1[5]),
        "+f"(d1[6]), "+f"(d1[7]), "+f"(d1[8]), "+f"(d1[9]), "+f"(d1[10]), "+f"(d1[11]), "+f"(d1[12]), "+f"(d1[13]),
        "+f"(d1[14]), "+f"(d1[15]), "+f"(d1[16]), "+f"(d1[17]), "+f"(d1[18]), "+f"(d1[19]), "+f"(d1[20]),
        "+f"(d1[21]), "+f"(d1[22]), "+f"(d1[23]), "+f"(d1[24]), "+f"(d1[25]), "+f"(d1[26]), "+f"(d1[27]),
        "+f"(d1[28]), "+f"(d1[29]), "+f"(d1[30]), "+f"(d1[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(static_cast<int>(accumulate))
      : "memory");
}

// The accumulator of wgmma m64nNk16 (PTX ISA, "Matrix Fragments for wgmma.mma_async.m64nNk16"): warp w of
// the warpgroup owns rows 16w .. 16w + 15; in it, lane l holds, for every 8 columns j = 0 .. N/8 - 1,
//
//     d[4j + 0], d[4j + 1]:  row 16w + l/4,      columns 8j + 2(l%4), 8j + 2(l%4) + 1
//     d[4j + 2], d[4j + 3]:  row 16w + l/4 + 8,  the same columns
//
//            columns 0-1  2-3  4-5  6-7 | 8-9 ...
//     row 0       l0   l1   l2   l3     | l0 ...      (lanes of warp 0; each pair is d[0], d[1] of that lane)
//     row 1       l4   l5   l6   l7     | l4
//     ...
//     row 7       l28  l29  l30  l31    | l28
//     row 8       l0   l1   l2   l3     | (d[2], d[3] of the same lanes)
//
// So a thread holds two rows of the tile, `accumulator_row(e)` = 0 (row l/4) or 1 (row l/4 + 8), and the
// four lanes l/4 * 4 .. + 3 hold a row together: a row's max or sum is two shuffles (quad_max, quad_sum).
// The A fragment of m64nNk16 (for O += P V) has this same layout for 16 columns: the accumulator of
// columns 16k .. 16k + 15, packed in pairs to fp16, is the A fragment of k-step k.
SWA_HD int accumulator_row(int e) { return (e >> 1) & 1; }
SWA_HD int accumulator_col(int e, int lane) { return 8 * (e >> 2) + 2 * (lane & 3) + (e & 1); }

// (query, key) of each accumulator register, for swa::apply_mask (tile_mask.h): the tile's first query i0 and
// first key j0, the warp within the warpgroup and the lane. Usage, on the 32 scores of a 64 x 64 tile:
//     swa::apply_mask(s, hopper::AccumulatorCoord{i0, j0, warp, lane}, visible);
struct AccumulatorCoord {
  int i0, j0, warp, lane;
  SWA_HD QueryKey operator()(int e) const {
    return {i0 + 16 * warp + lane / 4 + 8 * accumulator_row(e), j0 + accumulator_col(e, lane)};
  }
};

// Hides (sets to -infinity) every score of the accumulator outside its row's run of visible keys: the
// thread's row 0 (accumulator_row(e) = 0) keeps keys first[0] .. last[0], row 1 keeps first[1] .. last[1]
// (key positions, not tile columns; first > last hides the whole row). A sliding window shows each query
// one run of keys, so two bounds per row replace a test per score: the thread's columns are the constants
// 8j + (e & 1) plus its lane's 2(lane % 4), so each score costs a compare against a constant per bound that
// cuts into the tile, and a select. A window's edge tile is cut on one side only (its left edge or its
// right one), so the one-sided loops are the common ones.
__device__ inline void mask_outside_rows(float (&s)[32], const AccumulatorCoord& at, const int (&first)[2],
                                         const int (&last)[2]) {
  constexpr int kLastCol = 8 * 7 + 1;  // accumulator_col(31, 0): the thread's last column, before its lane's
  const int lane_col = at.j0 + 2 * (at.lane & 3);  // key of the thread's column 0
  int lo[2], hi[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) lo[r] = first[r] - lane_col, hi[r] = last[r] - lane_col;
  const bool cut_left = lo[0] > 0 || lo[1] > 0, cut_right = hi[0] < kLastCol || hi[1] < kLastCol;
  if (cut_left && cut_right) {
#pragma unroll
    for (int e = 0; e < 32; ++e) {
      const int col = accumulator_col(e, 0);  // a constant once unrolled
      if (col < lo[accumulator_row(e)] || col > hi[accumulator_row(e)]) s[e] = -INFINITY;
    }
  } else if (cut_left) {
#pragma unroll
    for (int e = 0; e < 32; ++e)
      if (accumulator_col(e, 0) < lo[accumulator_row(e)]) s[e] = -INFINITY;
  } else if (cut_right) {
#pragma unroll
    for (int e = 0; e < 32; ++e)
      if (accumulator_col(e, 0) > hi[accumulator_row(e)]) s[e] = -INFINITY;
  }
}

// ex2.approx.ftz.f32: 2^x in one MUFU.EX2 instruction (relative error about 2^-22). Results below 2^-126
// flush to zero and exp2(-inf) = 0. exp2f() keeps such tiny results exact with three more instructions per
// call, which the softmax's probabilities (summed next to the row's largest, 1) never notice.
__device__ inline float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// rcp.approx.ftz.f32: 1/x in one MUFU.RCP (relative error about 2^-23); __fdividef(1, x) adds a range check
// for huge x. For a softmax's row sum, which is at least 1.
__device__ inline float rcp_approx(float x) {
  float y;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// The max and the sum of a row over the four lanes that hold it.
__device__ inline float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ inline float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Two floats as one register of two fp16, `lo` in the low half (the A fragment's element order).
__device__ inline uint32_t pack_half2(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

// The sum of row `row` (0 or 1) of a thread's P packed as an A fragment: p[r] holds the pair (2r, 2r + 1) of the
// accumulator, whose row is r % 2 (accumulator_row). Its 8 pairs are added in fp16 in a tree (7 HADD2, each
// element rounded at most 3 times by 2^-11), then the pair's halves in fp32. An fp16 sum past 65504 is inf.
__device__ inline float half2_row_sum(const uint32_t (&p)[16], int row) {
  __half2 h[8];
#pragma unroll
  for (int u = 0; u < 8; ++u) h[u] = *reinterpret_cast<const __half2*>(&p[2 * u + row]);
#pragma unroll
  for (int w = 4; w >= 1; w /= 2)
#pragma unroll
    for (int u = 0; u < w; ++u) h[u] = __hadd2(h[u], h[u + w]);
  const float2 f = __half22float2(h[0]);
  return f.x + f.y;
}

// ---------------------------------------------------------------------------------------------------
// Warpgroups: registers and barriers
// ---------------------------------------------------------------------------------------------------

// setmaxnreg: every warp of this warpgroup now owns `kRegisters` registers per thread, giving the rest back
// to the block's pool (dec) or taking them from it (inc: waits until the pool has them). All four warps of
// the warpgroup execute it. The kernel needs __launch_bounds__(threads, 1), which fixes the starting count:
// 65,536 / threads, rounded down to a multiple of 8, and the pool is that times threads. An inc that the
// pool cannot cover waits forever (640 threads start with 96 each, so four warpgroups of 120 never get them).
template <int kRegisters>
__device__ inline void setmaxnreg_dec() {
  static_assert(kRegisters % 8 == 0 && kRegisters >= 24 && kRegisters <= 256, "24 .. 256, a multiple of 8");
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegisters));
}
template <int kRegisters>
__device__ inline void setmaxnreg_inc() {
  static_assert(kRegisters % 8 == 0 && kRegisters >= 24 && kRegisters <= 256, "24 .. 256, a multiple of 8");
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegisters));
}

// bar.sync id, threads: a barrier for `threads` threads (a warpgroup: 128) on hardware barrier `id` (1-15;
// __syncthreads() is barrier 0 and needs every thread of the block, some of which may have exited).
__device__ inline void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

// bar.arrive id, threads: count this thread towards barrier `id` without waiting for it. A warpgroup that
// hands data to another arrives after writing it; the other waits with named_barrier_sync (same id and
// count: both warpgroups, 256), after which it sees what was written before the arrival.
__device__ inline void named_barrier_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

}  // namespace swa::hopper
