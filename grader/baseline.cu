// baseline.cu: full attention, one pass, for the speed check (see baseline.h).
#include "baseline.h"
#include "stage.h"
#include "tiles.cuh"

namespace swa {
namespace {

using namespace tiles;

template <int D>
__global__ void __launch_bounds__(kThreads, kBlocksPerSM<D>) full_attention(Problem p, Tensors t) {
  extern __shared__ __align__(16) float smem[];  // the tiles are read as float4
  const SharedTiles<D> tile = SharedTiles<D>::carve(smem);
  const int bh = block_batch_head();
  const int i0 = block_query_tile() * kTileM;
  const int ty = threadIdx.x / kThreadCols, tx = threadIdx.x % kThreadCols;
  const float scale_log2 = p.scale * kLog2e;

  load_tile<D>(tile.q, t.q + p.row_offset(bh, 0), i0, p.N);
  float m[kRowsPerThread], l[kRowsPerThread] = {};
  float o[kRowsPerThread][TileShape<D>::kColsPerThread] = {};
  for (float& x : m) x = -INFINITY;

  for (int j0 = 0; j0 < p.N; j0 += kTileN) {
    __syncthreads();  // every thread is done with the previous K, V and P tiles
    load_tile<D>(tile.k, t.k + p.row_offset(bh, 0), j0, p.N);
    load_tile<D>(tile.v, t.v + p.row_offset(bh, 0), j0, p.N);
    __syncthreads();  // Q, K and V are complete before any thread reads them
    float s[kRowsPerThread][kKeysPerThread];
    tile_scores<D>(s, tile.q, tile.k, ty, tx);
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c)
        s[r][c] = j0 + tx + kThreadCols * c < p.N ? s[r][c] * scale_log2 : -INFINITY;  // keys past N do not exist
    online_softmax_update<D>(s, m, l, o);
    store_p(tile.p, s, ty, tx);
    __syncthreads();  // all of P is in shared memory before any thread reads a row of it
    tile_pv<D>(o, tile.p, tile.v, ty, tx);
  }
  store_normalized<D>(t.o + p.row_offset(bh, 0), o, l, i0, p.N, ty, tx);
}

size_t no_workspace(const Problem&) { return 0; }

void launch(const Problem& p, const Tensors& t, Workspace, cudaStream_t stream) {
  with_head_dim(p.D, [&](auto d) {
    constexpr int D = decltype(d)::value;
    launch_tiled<D, full_attention<D>>(p, stream, p, t);
  });
}

size_t baseline_workspace(const Problem* p) { return stage_detail::workspace(no_workspace, p); }

int32_t baseline_forward(const Problem* p, const Tensors* t, Workspace ws, cudaStream_t stream, char* error,
                         size_t capacity) {
  // It ignores the pattern, so it accepts every pattern kind.
  return stage_detail::forward("baseline_full_attention", kAllPatterns, no_workspace, launch, p, t, ws, stream, error,
                               capacity);
}

}  // namespace

const SwaStageApi& full_attention_baseline() {
  static const SwaStageApi api = {kSwaAbiVersion, "baseline_full_attention", kAllPatterns, &baseline_workspace,
                                  &baseline_forward};
  return api;
}

}  // namespace swa
