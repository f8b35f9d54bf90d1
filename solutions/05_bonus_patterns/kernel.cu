// Stage 05 (bonus): other structured patterns with one kernel.
//
// Adds to stage 04: the pattern is a parameter. Causal sliding windows, dilated windows, global + local
// (Longformer) and per-query (adaptive) windows all run through the same online-softmax kernel; what
// changes is which key tiles a query tile visits and how a partial tile is masked. Both answers come
// from the pattern's TileMask and Pattern::allows (problem.h, drawn in docs/patterns.md): the walk
// visits only the tiles the pattern leaves non-empty, in order, and skips the rest without loading them.
// Dilated windows leave gaps inside their reach; a global query's tile visits every key tile.
//
// In stages/ the steps marked TODO(student) are yours to write; the instructor's solutions/ holds the answers.
// Build, test and grade: README.md at the top. What to do: README.md in this folder.
//
// Speed: proportional to the tiles visited, as stage 04. Partial tiles are the costly ones: a dilated
// window has no full tile at all, and each element of a partial tile asks Pattern::allows.
#include "solved/02_load_tile.cuh"  // load_tile: stage 02's copy, vectorised
#include "solved/04_online_softmax_update.cuh"  // online_softmax_update: stage 04's answer
#include "stage.h"
#include "tiles.cuh"

namespace {

using namespace swa::tiles;

template <int D, class Elem>
__global__ void __launch_bounds__(kThreads, kBlocksPerSM<D, Elem>)
    structured_attention_online(swa::Problem p, swa::Tensors t) {
  extern __shared__ __align__(16) unsigned char smem[];  // the tiles are read 16 bytes at a time
  const SharedTiles<D, Elem> tile = SharedTiles<D, Elem>::carve(smem);
  const int bh = block_batch_head();
  const int m_tile = block_query_tile();
  const int i0 = m_tile * swa::kTileM;
  const int ty = threadIdx.x / kThreadCols, tx = threadIdx.x % kThreadCols;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;
  const swa::TileMask mask{p.pattern, p.N};  // this pattern's answers for tiles of 64 x 64
  const int end = mask.num_key_tiles();

  load_tile<D>(tile.q, t.q + p.row_offset(bh, 0), i0, p.N);

  float m[kRowsPerThread], l[kRowsPerThread] = {};
  float o[kRowsPerThread][TileShape<D>::kColsPerThread] = {};
  for (float& x : m) x = -INFINITY;

  // Step 1: the first key tile this query tile visits: the first one the pattern does not leave empty
  // (TileMask::first_key_tile). `end` means there is none.
  int n = end;
  // BEGIN SOLUTION
  n = mask.first_key_tile(m_tile);
  // END SOLUTION
  while (n < end) {
    const int j0 = n * swa::kTileN;
    __syncthreads();  // every thread is done with the previous K, V and P tiles
    load_tile<D>(tile.k, k_head, j0, p.N);
    load_tile<D>(tile.v, v_head, j0, p.N);
    __syncthreads();  // Q, K and V are complete before any thread reads them
    float s[kRowsPerThread][kKeysPerThread];
    tile_scores<D>(s, tile.q, tile.k, ty, tx);
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c) s[r][c] *= scale_log2;

    // Step 2: the mask. A full tile (TileMask::classify) needs none. In a partial tile, hide (-infinity)
    // each score whose key is past N or that the pattern does not allow: apply_mask (problem.h) with
    // the (i, j) of score_coord (tiles.cuh), and TileMask::visible. Ask only about queries that exist
    // (i < N): the adaptive pattern reads a window per query, and a query past N has none.
    // BEGIN SOLUTION
    if (mask.classify(m_tile, n) != swa::TileClass::kFull)
      swa::apply_mask(s, score_coord(i0, j0, ty, tx), [&](int i, int j) { return i < p.N && mask.visible(i, j); });
    // END SOLUTION

    // The online softmax of stage 04. Partial tiles of these patterns often leave a row with no visible
    // key at all (a dilated row whose keys all fall in other tiles, or a row whose window starts after
    // the first tile visited); the update keeps such rows at exactly zero weight rather than NaN.
    online_softmax_update<D>(s, m, l, o);
    store_p(tile.p, s, ty, tx);
    __syncthreads();  // all of P is in shared memory before any thread reads a row of it
    tile_pv<D>(o, tile.p, tile.v, ty, tx);

    // Step 3: the next key tile to visit. Not simply n + 1: a dilated window or the global positions
    // leave empty tiles in between (TileMask::next_key_tile skips them).
    int next = end;
    // BEGIN SOLUTION
    next = mask.next_key_tile(m_tile, n);
    // END SOLUTION
    n = next;
  }

  // Step 4: normalise and store, as in stage 04 (store_normalized).
  // BEGIN SOLUTION
  store_normalized<D>(t.o + p.row_offset(bh, 0), o, l, i0, p.N, ty, tx);
  // END SOLUTION
}

size_t workspace_bytes(const swa::Problem&) { return 0; }

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  swa::with_head_dim(p.D, [&](auto d) {
    constexpr int D = decltype(d)::value;
    launch_tiled<D, structured_attention_online<D, float>, structured_attention_online<D, CompactElem<D>>>(p, stream, p,
                                                                                                           t);
  });
}

}  // namespace

// What this stage declares (problem.h, section 6): the grader reads it to choose its cases.
constexpr SwaStageInfo kStage = {"05_bonus_patterns",  // name
                                 swa::kAllPatterns,  // patterns
                                 swa::kAllHeadDims,  // head dimensions: 16, 32, 64, 128
                                 swa::kTileM,
                                 swa::kTileN,  // query and key tiles
                                 80,
                                 false};  // the GPU it needs: sm_80 or newer

SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
