// cuda_core.cu: the frozen CUDA-core full-attention baseline (baselines.h).
//
// The algorithm of stage 04 without a window: a block of 256 threads per 64-query tile, every 64-key tile
// of the sequence in turn, fp32 shared tiles, 4 x 4 register pieces, one-pass online softmax. Written
// out here in full (not built from tiles.cuh) so that no change to the stages' headers changes it.
#include <cuda_fp16.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "baselines.h"
#include "cuda_check.h"

namespace swa {
namespace {

constexpr int D = kBaselineHeadDim;
constexpr int kTile = 64;  // queries per block and keys per step
constexpr int kThreads = 256;  // a 16 x 16 grid: thread (ty, tx) holds rows ty + 16r, columns tx + 16c
constexpr int kSide = 16;
constexpr int kPer = kTile / kSide;  // 4 rows and 4 keys per thread
constexpr int kStride = D + 4;  // padded fp32 rows of Q, K, V
constexpr int kPStride = kTile + 4;
constexpr int kCols = D / kSide;  // output columns per thread, in one group of 4
constexpr size_t kSharedBytes = (3 * kTile * kStride + kTile * kPStride) * sizeof(float);
constexpr float kLog2e = 1.4426950408889634f;

__device__ void load(float* tile, const __half* head, int row0, int N) {
  for (int e = threadIdx.x; e < kTile * (D / 8); e += kThreads) {
    const int r = e / (D / 8), chunk = e % (D / 8);
    float* dst = tile + r * kStride + chunk * 8;
    const uint4 raw = row0 + r < N
                          ? *reinterpret_cast<const uint4*>(head + static_cast<size_t>(row0 + r) * D + chunk * 8)
                          : make_uint4(0, 0, 0, 0);
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
    const float2 a = __half22float2(h[0]), b = __half22float2(h[1]), c = __half22float2(h[2]), d = __half22float2(h[3]);
    *reinterpret_cast<float4*>(dst) = make_float4(a.x, a.y, b.x, b.y);
    *reinterpret_cast<float4*>(dst + 4) = make_float4(c.x, c.y, d.x, d.y);
  }
}

__device__ float shuffle_max(float x) {
#pragma unroll
  for (int o = kSide / 2; o > 0; o /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o, kSide));
  return x;
}
__device__ float shuffle_sum(float x) {
#pragma unroll
  for (int o = kSide / 2; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o, kSide);
  return x;
}

__global__ void __launch_bounds__(kThreads, 2) full_attention(Problem p, Tensors t) {
  extern __shared__ __align__(16) float smem[];
  float* q_tile = smem;
  float* k_tile = q_tile + kTile * kStride;
  float* v_tile = k_tile + kTile * kStride;
  float* p_tile = v_tile + kTile * kStride;
  const int bh = blockIdx.x, i0 = blockIdx.y * kTile;
  const int ty = threadIdx.x / kSide, tx = threadIdx.x % kSide;
  const float scale_log2 = p.scale * kLog2e;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);

  load(q_tile, t.q + p.row_offset(bh, 0), i0, p.N);
  float m[kPer], l[kPer] = {}, o[kPer][kCols] = {};
  for (float& x : m) x = -INFINITY;
  for (int j0 = 0; j0 < p.N; j0 += kTile) {
    __syncthreads();  // the previous K, V, P tiles are no longer read
    load(k_tile, k_head, j0, p.N);
    load(v_tile, v_head, j0, p.N);
    __syncthreads();  // Q, K, V are complete
    float s[kPer][kPer] = {};
#pragma unroll
    for (int d = 0; d < D; d += 4) {
      float4 q[kPer], k[kPer];
#pragma unroll
      for (int r = 0; r < kPer; ++r) q[r] = *reinterpret_cast<const float4*>(q_tile + (ty + kSide * r) * kStride + d);
#pragma unroll
      for (int c = 0; c < kPer; ++c) k[c] = *reinterpret_cast<const float4*>(k_tile + (tx + kSide * c) * kStride + d);
#pragma unroll
      for (int r = 0; r < kPer; ++r)
#pragma unroll
        for (int c = 0; c < kPer; ++c) s[r][c] += q[r].x * k[c].x + q[r].y * k[c].y + q[r].z * k[c].z + q[r].w * k[c].w;
    }
#pragma unroll
    for (int r = 0; r < kPer; ++r) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int c = 0; c < kPer; ++c) {
        s[r][c] = j0 + tx + kSide * c < p.N ? s[r][c] * scale_log2 : -INFINITY;  // keys past N do not exist
        tile_max = fmaxf(tile_max, s[r][c]);
      }
      const float m_new = fmaxf(m[r], shuffle_max(tile_max));
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      const float alpha = exp2f(m[r] - m_use);
      float sum = 0.f;
#pragma unroll
      for (int c = 0; c < kPer; ++c) {
        s[r][c] = exp2f(s[r][c] - m_use);
        sum += s[r][c];
        p_tile[(ty + kSide * r) * kPStride + tx + kSide * c] = s[r][c];
      }
      l[r] = l[r] * alpha + sum;
#pragma unroll
      for (int c = 0; c < kCols; ++c) o[r][c] *= alpha;
      m[r] = m_new;
    }
    __syncthreads();  // all of P is stored
#pragma unroll 4
    for (int j = 0; j < kTile; j += 4) {  // O += P V, four keys at a time
      float4 pr[kPer];
#pragma unroll
      for (int r = 0; r < kPer; ++r) pr[r] = *reinterpret_cast<const float4*>(p_tile + (ty + kSide * r) * kPStride + j);
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
        const float4 v = *reinterpret_cast<const float4*>(v_tile + (j + jj) * kStride + tx * 4);
#pragma unroll
        for (int r = 0; r < kPer; ++r) {
          const float w = jj == 0 ? pr[r].x : jj == 1 ? pr[r].y : jj == 2 ? pr[r].z : pr[r].w;
          o[r][0] += w * v.x, o[r][1] += w * v.y, o[r][2] += w * v.z, o[r][3] += w * v.w;
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kPer; ++r) {
    const float row_l = shuffle_sum(l[r]);
    const float inv_l = row_l > 0.f ? 1.f / row_l : 0.f;
    const int i = i0 + ty + kSide * r;
    if (i < p.N)
      *reinterpret_cast<float4*>(t.o + p.row_offset(bh, i) + tx * 4) =
          make_float4(o[r][0] * inv_l, o[r][1] * inv_l, o[r][2] * inv_l, o[r][3] * inv_l);
  }
}
static_assert(kCols == 4, "each thread writes one float4 of each row: D = 64");

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
  static const cudaError_t raised =
      cudaFuncSetAttribute(full_attention, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSharedBytes));
  if (raised != cudaSuccess) return fail(kSwaLaunchRejected, cudaGetErrorString(raised), error, capacity);
  const dim3 grid(p->batch_heads(), (p->N + kTile - 1) / kTile);
  full_attention<<<grid, kThreads, kSharedBytes, stream>>>(*p, *t);
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess) return fail(kSwaCudaError, cudaGetErrorString(launched), error, capacity);
  return kSwaOk;
}

}  // namespace

const SwaStageApi& cuda_core_baseline() {
  // It ignores the pattern, so it accepts every pattern kind.
  static const SwaStageApi api = {kSwaAbiVersion,
                                  {"baseline_cuda_core", kAllPatterns, head_dim_bit(D), kTile, kTile, 80, 0},
                                  &baseline_workspace,
                                  &baseline_forward};
  return api;
}

}  // namespace swa
