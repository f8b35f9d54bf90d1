// tiles.cuh: the building blocks of the CUDA-core tiled stages (02 to 05), written once.
//
// What the stages teach is which tiles to visit, how to mask them and how to run the softmax; the small
// matrix products inside a tile are the same in every stage, so they live here. (Stage 06 replaces them
// with tensor-core instructions, mma.cuh.) This header is given code from stage 02 on; it holds no
// stage's answer. The answers later stages build on are in solved/ (02_load_tile.cuh from stage 03 on,
// 04_online_softmax_update.cuh from stage 05 on): read them after finishing those stages.
//
// A block owns one query tile: kTileM = 64 queries of one (batch, head). Its 256 threads form a 16 x 16
// grid, thread (ty, tx), and each thread keeps a 4 x 4 piece of every 64 x 64 tile in registers:
//
//        key / column  tx, tx+16, tx+32, tx+48
//   row  ty           [ s  s  s  s ]
//        ty+16        [ s  s  s  s ]      S = Q K^T:  rows are queries, columns are keys
//        ty+32        [ s  s  s  s ]
//        ty+48        [ s  s  s  s ]
//
// score_coord() says the same in code: the (query, key) of each of the 16 registers, for apply_mask
// (problem.h). The 16 threads that share a row (same ty) are 16 consecutive lanes of one warp, so a row's
// max or sum is a 4-step shuffle among them (row_max, row_sum).
//
// Shared memory holds the Q, K and V tiles as Elem (float; or __half, the compact configuration for GPUs
// whose shared memory is too small for float tiles: at D = 128 they take 116 KB, and an RTX 3090 allows
// 99 KB), each row padded by 16 bytes, and the P tile as float. With the padding, the 16-byte reads of
// 8 consecutive threads (one shared-memory wavefront) land in 8 different bank groups: no bank conflicts.
// launch_tiled() picks the configuration that fits the GPU it runs on.
#pragma once

#include <cuda_fp16.h>

#include <cmath>
#include <type_traits>

#include "cuda_check.h"
#include "launch.h"
#include "problem.h"
#include "tile_mask.h"

namespace swa::tiles {

constexpr int kThreads = 256;
constexpr int kThreadRows = 16;  // ty in [0, 16)
constexpr int kThreadCols = 16;  // tx in [0, 16)
constexpr int kRowsPerThread = kTileM / kThreadRows;  // 4 query rows: ty + 16*r
constexpr int kKeysPerThread = kTileN / kThreadCols;  // 4 key columns: tx + 16*c
static_assert(kThreadRows * kThreadCols == kThreads, "one thread per (ty, tx)");
static_assert(kTileM % kThreadRows == 0 && kTileN % kThreadCols == 0, "tiles split evenly over the threads");
static_assert(kTileN % 4 == 0, "P is read as float4 along the keys");

constexpr float kLog2e = 1.4426950408889634f;  // exp(x) = exp2(x * log2(e)); exp2 is one instruction

// The (query, key) of register e = 4r + c of a thread's 4 x 4 piece of a score tile whose first query is
// i0 and first key j0: row ty + 16r, column tx + 16c (the picture at the top). For apply_mask.
struct ScoreCoord {
  int i0, j0, ty, tx;
  __device__ QueryKey operator()(int e) const {
    return {i0 + ty + kThreadRows * (e / kKeysPerThread), j0 + tx + kThreadCols * (e % kKeysPerThread)};
  }
};
__device__ inline ScoreCoord score_coord(int i0, int j0, int ty, int tx) { return {i0, j0, ty, tx}; }

// Sizes of the shared-memory tiles for head dimension D whose Q, K, V elements are stored as Elem.
template <int D, class Elem = float>
struct TileShape {
  static_assert(D % 16 == 0 && D >= 16 && D <= kMaxHeadDim, "D must be 16, 32, 64 or 128");
  static constexpr int kPad = 16 / sizeof(Elem);  // elements; keeps rows 16-byte aligned and spreads the banks
  static constexpr int kPPad = 4;  // floats, the same for the P tile
  static constexpr int kRowStride = D + kPad;  // a Q, K or V tile: [64][D + kPad]
  static constexpr int kPStride = kTileN + kPPad;  // the P tile: [64][64 + kPPad]
  static constexpr int kQKVElems = kTileM * kRowStride;
  static constexpr int kPFloats = kTileM * kPStride;
  // Output columns per thread: thread tx owns D/16 columns, in groups of kVec consecutive ones.
  static constexpr int kColsPerThread = D / kThreadCols;
  static constexpr int kVec = kColsPerThread < 4 ? kColsPerThread : 4;
  // Column c of thread tx (c < kColsPerThread): groups of kVec, each group 16*kVec columns apart, so that
  // the 16 threads of a row read one contiguous run of V per group.
  __device__ static int out_col(int tx, int c) { return (c / kVec) * (kThreadCols * kVec) + tx * kVec + c % kVec; }
};

// Shared memory of a tiled stage: Q, K, V tiles and the probabilities P of the current key tile.
template <int D, class Elem = float>
struct SharedTiles {
  using Shape = TileShape<D, Elem>;
  Elem* q;  // [kTileM][D + kPad]
  Elem* k;  // [kTileN][D + kPad]
  Elem* v;  // [kTileN][D + kPad]
  float* p;  // [kTileM][kTileN + kPPad]

  static constexpr size_t bytes() { return 3 * Shape::kQKVElems * sizeof(Elem) + Shape::kPFloats * sizeof(float); }
  __device__ static SharedTiles carve(unsigned char* smem) {
    SharedTiles t;
    t.q = reinterpret_cast<Elem*>(smem);
    t.k = t.q + Shape::kQKVElems;
    t.v = t.k + Shape::kQKVElems;
    t.p = reinterpret_cast<float*>(t.v + Shape::kQKVElems);  // 16-byte aligned: every row is
    return t;
  }
};

// The compact configuration's element type: float where float tiles fit the smallest shared memory of
// the GPUs the kit supports (99 KB, sm_86), __half where they do not (D = 128). Where it is float, the
// "compact" kernel is the same kernel, compiled once.
constexpr size_t kSmallestSharedMemory = 99 * 1024;
template <int D>
using CompactElem = std::conditional_t<SharedTiles<D, float>::bytes() <= kSmallestSharedMemory, float, __half>;

// Read 4 consecutive Q, K or V elements of a shared tile as floats (one 16- or 8-byte access).
__device__ inline float4 read4(const float* src) { return *reinterpret_cast<const float4*>(src); }
__device__ inline float4 read4(const __half* src) {
  const uint2 raw = *reinterpret_cast<const uint2*>(src);
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

// Move n consecutive values (n = 1, 2 or 4) in one access between memory and registers.
// (Reads and writes go through vector values, never through a pointer to a register array, so the
// registers stay registers.)
template <int n>
__device__ void read_vec(float* regs, const float* src) {
  static_assert(n == 1 || n == 2 || n == 4, "vector width");
  if constexpr (n == 4) {
    const float4 x = *reinterpret_cast<const float4*>(src);
    regs[0] = x.x, regs[1] = x.y, regs[2] = x.z, regs[3] = x.w;
  } else if constexpr (n == 2) {
    const float2 x = *reinterpret_cast<const float2*>(src);
    regs[0] = x.x, regs[1] = x.y;
  } else {
    regs[0] = *src;
  }
}
template <int n>
__device__ void read_vec(float* regs, const __half* src) {
  static_assert(n == 1 || n == 2 || n == 4, "vector width");
  if constexpr (n == 4) {
    const float4 x = read4(src);
    regs[0] = x.x, regs[1] = x.y, regs[2] = x.z, regs[3] = x.w;
  } else if constexpr (n == 2) {
    const float2 x = __half22float2(*reinterpret_cast<const __half2*>(src));
    regs[0] = x.x, regs[1] = x.y;
  } else {
    regs[0] = __half2float(*src);
  }
}
template <int n>
__device__ void write_vec(float* dst, const float* regs) {
  static_assert(n == 1 || n == 2 || n == 4, "vector width");
  if constexpr (n == 4)
    *reinterpret_cast<float4*>(dst) = make_float4(regs[0], regs[1], regs[2], regs[3]);
  else if constexpr (n == 2)
    *reinterpret_cast<float2*>(dst) = make_float2(regs[0], regs[1]);
  else
    *dst = regs[0];
}

// Blocks of a tiled stage that share a multiprocessor, for __launch_bounds__: two fit in an H100's 228 KB
// of shared memory (and in its 64K registers at up to 128 registers a thread) when the float tiles take at
// most half of it; otherwise only one fits, so the compiler may give each thread up to 255 registers
// rather than spill. The compact tiles run where shared memory is small (99 KB on an RTX 3090): one block.
constexpr int kSharedMemoryPerSM = 228 * 1024;
template <int D, class Elem = float>
constexpr int kBlocksPerSM = std::is_same_v<Elem, float> && 2 * SharedTiles<D, Elem>::bytes() <= kSharedMemoryPerSM ? 2
                                                                                                                    : 1;

// s[r][c] = sum_d Q[ty + 16r][d] * K[tx + 16c][d]: this thread's 4 x 4 piece of S = Q K^T.
template <int D, class Elem>
__device__ void tile_scores(float (&s)[kRowsPerThread][kKeysPerThread], const Elem* q_tile, const Elem* k_tile, int ty,
                            int tx) {
  constexpr int kStride = TileShape<D, Elem>::kRowStride;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) s[r][c] = 0.f;
#pragma unroll
  for (int d = 0; d < D; d += 4) {
    float4 q[kRowsPerThread], k[kKeysPerThread];
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r) q[r] = read4(q_tile + (ty + kThreadRows * r) * kStride + d);
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) k[c] = read4(k_tile + (tx + kThreadCols * c) * kStride + d);
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c)
        s[r][c] += q[r].x * k[c].x + q[r].y * k[c].y + q[r].z * k[c].z + q[r].w * k[c].w;
  }
}

// Store this thread's 4 x 4 piece of P into the shared P tile, for tile_pv to read by rows.
__device__ inline void store_p(float* p_tile, const float (&p)[kRowsPerThread][kKeysPerThread], int ty, int tx) {
  constexpr int kStride = TileShape<kMaxHeadDim>::kPStride;  // the same for every D and Elem
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) p_tile[(ty + kThreadRows * r) * kStride + tx + kThreadCols * c] = p[r][c];
}

// o[r][c] += sum_j P[ty + 16r][j] * V[j][out_col(tx, c)]: this thread's piece of O += P V.
template <int D, class Elem>
__device__ void tile_pv(float (&o)[kRowsPerThread][TileShape<D>::kColsPerThread], const float* p_tile,
                        const Elem* v_tile, int ty, int tx) {
  using Shape = TileShape<D, Elem>;
  constexpr int kCols = Shape::kColsPerThread;
#pragma unroll 4
  for (int j = 0; j < kTileN; j += 4) {
    float4 p[kRowsPerThread];
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
      p[r] = *reinterpret_cast<const float4*>(p_tile + (ty + kThreadRows * r) * Shape::kPStride + j);
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) {
      float v[kCols];
#pragma unroll
      for (int c = 0; c < kCols; c += Shape::kVec)
        read_vec<Shape::kVec>(&v[c], v_tile + (j + jj) * Shape::kRowStride + Shape::out_col(tx, c));
#pragma unroll
      for (int r = 0; r < kRowsPerThread; ++r) {
        const float pr = jj == 0 ? p[r].x : jj == 1 ? p[r].y : jj == 2 ? p[r].z : p[r].w;
#pragma unroll
        for (int c = 0; c < kCols; ++c) o[r][c] += pr * v[c];
      }
    }
  }
}

// The max and the sum of a value over the 16 threads that share a row (lanes 0-15 or 16-31 of a warp).
__device__ inline float row_max(float x) {
#pragma unroll
  for (int offset = kThreadCols / 2; offset > 0; offset /= 2)
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset, kThreadCols));
  return x;
}
__device__ inline float row_sum(float x) {
#pragma unroll
  for (int offset = kThreadCols / 2; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset, kThreadCols);
  return x;
}

// The end of every tiled stage: add up the 16 threads' shares of each row sum l, divide the row's output
// by it, and write the rows that exist to O. Only a row past N can see no key at all (l = 0); it is
// never stored, and 1/l is replaced by 0 there so that it stays finite anyway.
template <int D>
__device__ void store_normalized(float* o_head, float (&o)[kRowsPerThread][TileShape<D>::kColsPerThread],
                                 const float (&l)[kRowsPerThread], int i0, int N, int ty, int tx) {
  using Shape = TileShape<D>;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    const float row_l = row_sum(l[r]);
    const float inv_l = row_l > 0.f ? 1.f / row_l : 0.f;
#pragma unroll
    for (int c = 0; c < Shape::kColsPerThread; ++c) o[r][c] *= inv_l;
    const int i = i0 + ty + kThreadRows * r;
    if (i >= N) continue;
#pragma unroll
    for (int c = 0; c < Shape::kColsPerThread; c += Shape::kVec)
      write_vec<Shape::kVec>(o_head + static_cast<size_t>(i) * D + Shape::out_col(tx, c), &o[r][c]);
  }
}

// The grid of a tiled stage: blockIdx.x is the (batch, head), blockIdx.y the query tile. Heads vary
// fastest, so the blocks of one query position start together across all heads: the light tiles at the
// ends of the sequence (their windows are cut off) run first and last, and the heavy ones in between.
// Interleaving them instead (query tile fastest) leaves a few heavy blocks running alone at the end.
__device__ inline int block_batch_head() { return blockIdx.x; }
__device__ inline int block_query_tile() { return blockIdx.y; }

// Launch a tiled stage's kernel: a block of 256 threads per (batch*head, query tile), with SharedTiles of
// dynamic shared memory. Give it the kernel compiled for float tiles and for the compact ones; it
// launches the float one where the GPU's shared memory holds it (launch.h), else the compact one, else
// throws LaunchRejected. Usage, inside with_head_dim:
//     tiles::launch_tiled<D, my_kernel<D, float>, my_kernel<D, tiles::CompactElem<D>>>(p, stream, p, t);
template <int D, auto FloatKernel, auto CompactKernel, class... Args>
void launch_tiled(const Problem& p, cudaStream_t stream, Args... args) {
  const dim3 grid(p.batch_heads(), ceil_div(p.N, kTileM));  // see block_batch_head()
  constexpr size_t kFloatBytes = SharedTiles<D, float>::bytes();
  constexpr size_t kCompactBytes = SharedTiles<D, CompactElem<D>>::bytes();
  if (kFloatBytes <= static_cast<size_t>(shared_memory_limit())) {
    allow_shared_memory(FloatKernel, kFloatBytes, "the float tiles");
    FloatKernel<<<grid, kThreads, kFloatBytes, stream>>>(args...);
  } else {
    allow_shared_memory(CompactKernel, kCompactBytes, "the compact (fp16) tiles");
    CompactKernel<<<grid, kThreads, kCompactBytes, stream>>>(args...);
  }
  SWA_CUDA_CHECK_LAUNCH();
}

}  // namespace swa::tiles
