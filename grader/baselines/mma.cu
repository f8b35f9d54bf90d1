// mma.cu: the frozen tensor-core full-attention baseline (baselines.h), for the stages on mma.sync.
//
// FlashAttention-2's loop at D = 64, every key, no window: a block of 4 warps per 64 queries, each warp 16
// query rows; the 64-key tiles of the whole sequence in turn, staged by cp.async three deep in shared
// memory (rows padded by 16 bytes: no ldmatrix bank conflicts); S = Q K^T and O += P V with
// mma.sync.m16n8k16 (fp16 in, fp32 accumulate); the online softmax on the accumulators, P reused from the
// registers as the A operand. Written out here with its own few lines of PTX (not built from mma.cuh)
// so that no change to the stages' headers changes it. Needs sm_80 or newer.
#include <cuda_fp16.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "baselines.h"
#include "cuda_check.h"

namespace swa {
namespace {

constexpr int D = kBaselineHeadDim;
constexpr int kTile = 64;  // queries per block and keys per step
constexpr int kWarps = 4;  // 16 query rows each
constexpr int kThreads = 32 * kWarps;
constexpr int kStages = 3;  // key tiles in flight
constexpr int kStride = D + 8;  // halves per shared row
constexpr int kTileHalves = kTile * kStride;
constexpr size_t kSharedBytes = (kTileHalves + kStages * 2 * kTileHalves) * sizeof(__half);  // Q, then K/V stages
constexpr float kLog2e = 1.4426950408889634f;
static_assert(D % 16 == 0, "mma steps of 16 dims");

__device__ uint32_t smem_address(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// Lane l points at row l % 16, column 8 (l / 16) of the 16 x 16 block at (row, col).
__device__ uint32_t block_row(const __half* tile, int row, int col, int lane) {
  return smem_address(tile + (row + lane % 16) * kStride + col + 8 * (lane / 16));
}
__device__ void ldsm_x4(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
}
__device__ void ldsm_x4_trans(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
}
__device__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ uint32_t pack(float lo, float hi) {
  uint32_t d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}
__device__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Rows [row0, row0 + 64) of a [N, D] head into a padded shared tile; rows past N become zeros.
__device__ void load(__half* tile, const __half* head, int row0, int N) {
  constexpr int kChunks = D / 8, kRowsPerPass = kThreads / kChunks;
  const int r = threadIdx.x / kChunks, chunk = threadIdx.x % kChunks;
#pragma unroll
  for (int pass = 0; pass < kTile / kRowsPerPass; ++pass) {
    const int row = row0 + r + pass * kRowsPerPass;
    const __half* src = head + (row < N ? static_cast<size_t>(row) * D + chunk * 8 : 0);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(
                     smem_address(tile + (r + pass * kRowsPerPass) * kStride + chunk * 8)),
                 "l"(src), "r"(row < N ? 16 : 0)
                 : "memory");
  }
}

__global__ void __launch_bounds__(kThreads, 4) full_attention_mma(Problem p, Tensors t) {
  extern __shared__ __align__(128) unsigned char smem[];
  __half* const q_tile = reinterpret_cast<__half*>(smem);
  __half* const stages = q_tile + kTileHalves;  // [kStages][K, V][64][kStride]
  const int bh = blockIdx.x, i0 = blockIdx.y * kTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;
  const int tiles = (p.N + kTile - 1) / kTile;

  load(q_tile, t.q + p.row_offset(bh, 0), i0, p.N);
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {  // Q with the first tile, then one group per tile
    if (s < tiles) {
      load(stages + s * 2 * kTileHalves, k_head, s * kTile, p.N);
      load(stages + s * 2 * kTileHalves + kTileHalves, v_head, s * kTile, p.N);
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  }

  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, o[D / 8][4] = {};
  for (int n = 0; n < tiles; ++n) {
    const int ahead = n + kStages - 1;
    if (ahead < tiles) {
      __half* stage = stages + (ahead % kStages) * 2 * kTileHalves;
      load(stage, k_head, ahead * kTile, p.N);
      load(stage + kTileHalves, v_head, ahead * kTile, p.N);
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 1) : "memory");  // tile n (and Q) landed
    __syncthreads();  // for every thread's copies
    const __half* k_tile = stages + (n % kStages) * 2 * kTileHalves;
    const __half* v_tile = k_tile + kTileHalves;

    float s[kTile / 8][4] = {};  // S = Q K^T: s[c] holds keys 8c .. 8c+7 of the warp's 16 rows
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t q[4];
      ldsm_x4(q, block_row(q_tile, warp * 16, 16 * kk, lane));
#pragma unroll
      for (int c = 0; c < kTile / 8; c += 2) {
        uint32_t k[4];
        ldsm_x4(k, block_row(k_tile, 8 * c, 16 * kk, lane));
        mma(s[c], q, k[0], k[2]);
        mma(s[c + 1], q, k[1], k[3]);
      }
    }
    const int j0 = n * kTile;
    if (j0 + kTile > p.N)  // the last tile: keys past N do not exist
#pragma unroll
      for (int c = 0; c < kTile / 8; ++c)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (j0 + 8 * c + 2 * (lane % 4) + e % 2 >= p.N) s[c][e] = -INFINITY;

#pragma unroll
    for (int h = 0; h < 2; ++h) {  // rows lane/4 and lane/4 + 8: registers 2h, 2h + 1
      float mx = -INFINITY;
#pragma unroll
      for (int c = 0; c < kTile / 8; ++c) mx = fmaxf(mx, fmaxf(s[c][2 * h], s[c][2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[h], mx * scale_log2);  // finite: every tile has a key
      const float alpha = ex2(m[h] - m_new);
      float sum = 0.f;
#pragma unroll
      for (int c = 0; c < kTile / 8; ++c)
#pragma unroll
        for (int e = 2 * h; e < 2 * h + 2; ++e) {
          s[c][e] = ex2(fmaf(s[c][e], scale_log2, -m_new));
          sum += s[c][e];
        }
      l[h] = l[h] * alpha + sum;
#pragma unroll
      for (int d = 0; d < D / 8; ++d) o[d][2 * h] *= alpha, o[d][2 * h + 1] *= alpha;
      m[h] = m_new;
    }

#pragma unroll
    for (int kk = 0; kk < kTile / 16; ++kk) {  // O += P V, P straight from the accumulators
      const uint32_t a[4] = {pack(s[2 * kk][0], s[2 * kk][1]), pack(s[2 * kk][2], s[2 * kk][3]),
                             pack(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int d = 0; d < D / 8; d += 2) {
        uint32_t v[4];
        ldsm_x4_trans(v, block_row(v_tile, 16 * kk, 8 * d, lane));
        mma(o[d], a, v[0], v[1]);
        mma(o[d + 1], a, v[2], v[3]);
      }
    }
    __syncthreads();  // every warp is done with this stage before it is loaded again
  }

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float row_l = l[h] + __shfl_xor_sync(0xffffffffu, l[h], 1);
    row_l += __shfl_xor_sync(0xffffffffu, row_l, 2);
    const int i = i0 + warp * 16 + lane / 4 + 8 * h;
    if (i >= p.N) continue;
    const float inv_l = 1.f / row_l;  // >= 1: the row's largest term is exp2(0)
#pragma unroll
    for (int d = 0; d < D / 8; ++d)
      *reinterpret_cast<float2*>(t.o + p.row_offset(bh, i) + 8 * d + 2 * (lane % 4)) =
          make_float2(o[d][2 * h] * inv_l, o[d][2 * h + 1] * inv_l);
  }
}

size_t baseline_workspace(const Problem*) { return 0; }

int32_t fail(int32_t status, const std::string& message, char* error, size_t capacity) {
  if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", message.c_str());
  return status;
}

int32_t baseline_forward(const Problem* p, const Tensors* t, Workspace, cudaStream_t stream, char* error,
                         size_t capacity) {
  if (p == nullptr || t == nullptr) return fail(kSwaInvalidArgument, "problem or tensors is null", error, capacity);
  std::string why = check_problem(*p);
  if (why.empty()) why = check_tensors(*p, *t);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, error, capacity);
  if (p->D != D) return fail(kSwaUnsupported, "the baseline runs at D = 64 only", error, capacity);
  static const cudaError_t raised = cudaFuncSetAttribute(
      full_attention_mma, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSharedBytes));
  if (raised != cudaSuccess) return fail(kSwaLaunchRejected, cudaGetErrorString(raised), error, capacity);
  const dim3 grid(p->batch_heads(), (p->N + kTile - 1) / kTile);
  full_attention_mma<<<grid, kThreads, kSharedBytes, stream>>>(*p, *t);
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess) return fail(kSwaCudaError, cudaGetErrorString(launched), error, capacity);
  return kSwaOk;
}

}  // namespace

const SwaStageApi& mma_baseline() {
  // It ignores the pattern, so it accepts every pattern kind.
  static const SwaStageApi api = {kSwaAbiVersion,
                                  {"baseline_mma", kAllPatterns, head_dim_bit(D), kTile, kTile, 80, 0},
                                  &baseline_workspace,
                                  &baseline_forward};
  return api;
}

}  // namespace swa
