// tiles.cuh: the building blocks of the tiled stages (02 to 05), written once.
//
// What the stages teach is which tiles to visit, how to mask them and how to run the softmax; the small
// matrix products inside a tile are the same in every stage, so they live here. (A later stage replaces
// them with tensor-core instructions.)
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
// The 16 threads that share a row (same ty) are 16 consecutive lanes of one warp, so a row's max or sum
// is a 4-step shuffle among them (row_max, row_sum).
//
// Shared memory holds fp32 tiles, each row padded by kPad floats. With the padding, the float4 reads of
// 8 consecutive threads (one shared-memory wavefront) land in 8 different bank groups: no bank conflicts.
#pragma once

#include <cuda_fp16.h>

#include <cmath>

#include "cuda_check.h"
#include "problem.h"

namespace swa::tiles {

constexpr int kThreads = 256;
constexpr int kThreadRows = 16;  // ty in [0, 16)
constexpr int kThreadCols = 16;  // tx in [0, 16)
constexpr int kRowsPerThread = kTileM / kThreadRows;  // 4 query rows: ty + 16*r
constexpr int kKeysPerThread = kTileN / kThreadCols;  // 4 key columns: tx + 16*c
constexpr int kPad = 4;  // floats; keeps rows 16-byte aligned and spreads them over the banks
static_assert(kThreadRows * kThreadCols == kThreads, "one thread per (ty, tx)");
static_assert(kTileM % kThreadRows == 0 && kTileN % kThreadCols == 0, "tiles split evenly over the threads");
static_assert(kTileN % 4 == 0, "P is read as float4 along the keys");

constexpr float kLog2e = 1.4426950408889634f;  // exp(x) = exp2(x * log2(e)); exp2 is one instruction

// Sizes of the shared-memory tiles for head dimension D, in floats.
template <int D>
struct TileShape {
  static_assert(D % 16 == 0 && D >= 16 && D <= kMaxHeadDim, "D must be 16, 32, 64 or 128");
  static constexpr int kRowStride = D + kPad;  // a Q, K or V tile: [64][D + kPad]
  static constexpr int kPStride = kTileN + kPad;  // the P tile: [64][64 + kPad]
  static constexpr int kQKVFloats = kTileM * kRowStride;
  static constexpr int kPFloats = kTileM * kPStride;
  // Output columns per thread: thread tx owns D/16 columns, in groups of kVec consecutive ones.
  static constexpr int kColsPerThread = D / kThreadCols;
  static constexpr int kVec = kColsPerThread < 4 ? kColsPerThread : 4;
  // Column c of thread tx (c < kColsPerThread): groups of kVec, each group 16*kVec columns apart, so that
  // the 16 threads of a row read one contiguous run of V per group.
  __device__ static int out_col(int tx, int c) { return (c / kVec) * (kThreadCols * kVec) + tx * kVec + c % kVec; }
};

// Shared memory of a tiled stage: Q, K, V tiles and the probabilities P of the current key tile.
template <int D>
struct SharedTiles {
  float* q;  // [kTileM][D + kPad]
  float* k;  // [kTileN][D + kPad]
  float* v;  // [kTileN][D + kPad]
  float* p;  // [kTileM][kTileN + kPad]

  static constexpr size_t bytes() { return (3 * TileShape<D>::kQKVFloats + TileShape<D>::kPFloats) * sizeof(float); }
  __device__ static SharedTiles carve(float* smem) {
    SharedTiles t;
    t.q = smem;
    t.k = t.q + TileShape<D>::kQKVFloats;
    t.v = t.k + TileShape<D>::kQKVFloats;
    t.p = t.v + TileShape<D>::kQKVFloats;
    return t;
  }
};

// Move n consecutive floats (n = 1, 2 or 4) in one 4n-byte access between memory and registers.
// (Reads and writes go through float2/float4 values, never through a pointer to a register array, so
// the registers stay registers.)
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
__device__ void write_vec(float* dst, const float* regs) {
  static_assert(n == 1 || n == 2 || n == 4, "vector width");
  if constexpr (n == 4)
    *reinterpret_cast<float4*>(dst) = make_float4(regs[0], regs[1], regs[2], regs[3]);
  else if constexpr (n == 2)
    *reinterpret_cast<float2*>(dst) = make_float2(regs[0], regs[1]);
  else
    *dst = regs[0];
}

// Blocks of a tiled stage that share a multiprocessor, for __launch_bounds__: two fit in its 228 KB of
// shared memory up to D = 64 (and in its 64K registers at up to 128 registers a thread); at D = 128 only
// one fits, so the compiler may give each thread up to 255 registers rather than spill.
constexpr int kSharedMemoryPerSM = 228 * 1024;
template <int D>
constexpr int kBlocksPerSM = 2 * SharedTiles<D>::bytes() <= kSharedMemoryPerSM ? 2 : 1;

// Copy rows [row0, row0 + 64) of one head's [N, D] fp16 matrix into a shared fp32 tile, all 256 threads
// together: each thread moves 16 bytes (8 halves) at a time, consecutive threads along a row, so each
// warp reads whole rows (coalesced). Rows past N are filled with zeros: a partial tile holds no garbage.
template <int D>
__device__ void load_tile(float* tile, const __half* head, int row0, int N) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int e = threadIdx.x; e < kTileM * kChunks; e += kThreads) {
    const int r = e / kChunks, chunk = e % kChunks;
    float* dst = tile + r * TileShape<D>::kRowStride + chunk * 8;
    if (row0 + r < N) {
      const uint4 raw = *reinterpret_cast<const uint4*>(head + static_cast<size_t>(row0 + r) * D + chunk * 8);
      const __half2* h = reinterpret_cast<const __half2*>(&raw);
      const float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
      const float2 c = __half22float2(h[2]), d = __half22float2(h[3]);
      *reinterpret_cast<float4*>(dst) = make_float4(a.x, a.y, b.x, b.y);
      *reinterpret_cast<float4*>(dst + 4) = make_float4(c.x, c.y, d.x, d.y);
    } else {
      *reinterpret_cast<float4*>(dst) = make_float4(0.f, 0.f, 0.f, 0.f);
      *reinterpret_cast<float4*>(dst + 4) = make_float4(0.f, 0.f, 0.f, 0.f);
    }
  }
}

// s[r][c] = sum_d Q[ty + 16r][d] * K[tx + 16c][d]: this thread's 4 x 4 piece of S = Q K^T.
template <int D>
__device__ void tile_scores(float (&s)[kRowsPerThread][kKeysPerThread], const float* q_tile, const float* k_tile,
                            int ty, int tx) {
  constexpr int kStride = TileShape<D>::kRowStride;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) s[r][c] = 0.f;
#pragma unroll
  for (int d = 0; d < D; d += 4) {
    float4 q[kRowsPerThread], k[kKeysPerThread];
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
      q[r] = *reinterpret_cast<const float4*>(q_tile + (ty + kThreadRows * r) * kStride + d);
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c)
      k[c] = *reinterpret_cast<const float4*>(k_tile + (tx + kThreadCols * c) * kStride + d);
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c)
        s[r][c] += q[r].x * k[c].x + q[r].y * k[c].y + q[r].z * k[c].z + q[r].w * k[c].w;
  }
}

// Store this thread's 4 x 4 piece of P into the shared P tile, for tile_pv to read by rows.
__device__ inline void store_p(float* p_tile, const float (&p)[kRowsPerThread][kKeysPerThread], int ty, int tx) {
  constexpr int kStride = kTileN + kPad;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) p_tile[(ty + kThreadRows * r) * kStride + tx + kThreadCols * c] = p[r][c];
}

// o[r][c] += sum_j P[ty + 16r][j] * V[j][out_col(tx, c)]: this thread's piece of O += P V.
template <int D>
__device__ void tile_pv(float (&o)[kRowsPerThread][TileShape<D>::kColsPerThread], const float* p_tile,
                        const float* v_tile, int ty, int tx) {
  using Shape = TileShape<D>;
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

// One key tile of the online softmax, as stage 04 derives it (docs/online_softmax.md). Folds this
// thread's scores s of the tile (base 2, hidden ones -infinity) into each row's running max m, its share
// of the running sum l and its columns of the unnormalised output o, and turns s into the tile's
// probabilities P = exp2(s - m_new), ready for store_p. A row that has seen no key yet has
// m_new = -infinity; it uses 0 in its place, so that every term is exp2(-inf) = 0, never NaN.
template <int D>
__device__ void online_softmax_update(float (&s)[kRowsPerThread][kKeysPerThread], float (&m)[kRowsPerThread],
                                      float (&l)[kRowsPerThread],
                                      float (&o)[kRowsPerThread][TileShape<D>::kColsPerThread]) {
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    float tile_max = s[r][0];
#pragma unroll
    for (int c = 1; c < kKeysPerThread; ++c) tile_max = fmaxf(tile_max, s[r][c]);
    const float m_new = fmaxf(m[r], row_max(tile_max));
    const float m_use = m_new == -INFINITY ? 0.f : m_new;
    const float alpha = exp2f(m[r] - m_use);  // how much the terms accumulated so far shrink
    float sum = 0.f;
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) {
      s[r][c] = exp2f(s[r][c] - m_use);
      sum += s[r][c];
    }
    l[r] = l[r] * alpha + sum;
#pragma unroll
    for (int c = 0; c < TileShape<D>::kColsPerThread; ++c) o[r][c] *= alpha;
    m[r] = m_new;
  }
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

// Launch a tiled stage's kernel: a block of 256 threads per (batch*head, query tile), with SharedTiles<D>
// of dynamic shared memory. That is more than the default 48 KB from D = 64 on, so the kernel's limit is
// raised first (once per kernel). Usage, inside with_head_dim:
//     tiles::launch_tiled<D, my_kernel<D>>(p, stream, p, t);
template <int D, auto Kernel, class... Args>
void launch_tiled(const Problem& p, cudaStream_t stream, Args... args) {
  static const cudaError_t raised = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                         static_cast<int>(SharedTiles<D>::bytes()));
  SWA_CUDA_CHECK(raised);
  const dim3 grid(p.batch_heads(), ceil_div(p.N, kTileM));  // see block_batch_head()
  Kernel<<<grid, kThreads, SharedTiles<D>::bytes(), stream>>>(args...);
  SWA_CUDA_CHECK_LAUNCH();
}

}  // namespace swa::tiles
