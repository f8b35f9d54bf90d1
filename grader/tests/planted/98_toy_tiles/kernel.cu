// A toy stage for the grader's own tests of the stage interface: correct, simple, and different from the
// kit's stages in everything a stage declares. Query tiles of 128 (a block of 128 threads, a thread per
// query), key tiles of 64, D = 64 only, the sliding window only, and built for the arch-specific target
// sm_90a (grader/tests/CMakeLists.txt: swa_stage_settings(98 ...)). The grader must draw its partial-tile
// cases from 127/128/129 and 63/64/65, test only D = 64, and count its speed bound in 128 x 64 tiles.
#include "stage.h"

namespace {

constexpr int kTileQ = 128, kTileK = 64, D = 64;

__global__ void __launch_bounds__(kTileQ) toy_attention(swa::Problem p, swa::Tensors t) {
  __shared__ float k_tile[kTileK][D], v_tile[kTileK][D];
  const int bh = blockIdx.x, m = blockIdx.y, i = m * kTileQ + threadIdx.x;
  const swa::TileMask mask{p.pattern, p.N, kTileQ, kTileK};
  float q[D], o[D] = {}, m_i = -INFINITY, l_i = 0.f;
  for (int d = 0; d < D; ++d) q[d] = i < p.N ? __half2float(t.q[p.row_offset(bh, i) + d]) * p.scale : 0.f;
  for (int n = mask.first_key_tile(m); n < mask.num_key_tiles(); n = mask.next_key_tile(m, n)) {
    __syncthreads();  // the previous K and V tiles are no longer read
    for (int e = threadIdx.x; e < kTileK * D; e += kTileQ) {
      const int j = n * kTileK + e / D;
      k_tile[e / D][e % D] = j < p.N ? __half2float(t.k[p.row_offset(bh, j) + e % D]) : 0.f;
      v_tile[e / D][e % D] = j < p.N ? __half2float(t.v[p.row_offset(bh, j) + e % D]) : 0.f;
    }
    __syncthreads();  // K and V are complete
    for (int c = 0; c < kTileK; ++c) {
      const int j = n * kTileK + c;
      if (i >= p.N || !mask.visible(i, j)) continue;
      float s = 0.f;
      for (int d = 0; d < D; ++d) s += q[d] * k_tile[c][d];
      const float m_new = fmaxf(m_i, s), alpha = __expf(m_i - m_new), w = __expf(s - m_new);
      l_i = l_i * alpha + w;
      for (int d = 0; d < D; ++d) o[d] = o[d] * alpha + w * v_tile[c][d];
      m_i = m_new;
    }
  }
  if (i < p.N)
    for (int d = 0; d < D; ++d) t.o[p.row_offset(bh, i) + d] = o[d] / l_i;  // key i is always visible: l_i > 0
}

size_t workspace_bytes(const swa::Problem&) { return 0; }

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  toy_attention<<<dim3(p.batch_heads(), swa::ceil_div(p.N, kTileQ)), kTileQ, 0, stream>>>(p, t);
  SWA_CUDA_CHECK_LAUNCH();
}

}  // namespace

constexpr SwaStageInfo kStage = {"98_toy_tiles",
                                 swa::pattern_bit(swa::PatternKind::kSlidingWindow),
                                 swa::head_dim_bit(64),
                                 kTileQ,
                                 kTileK,
                                 90,
                                 true};
SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
