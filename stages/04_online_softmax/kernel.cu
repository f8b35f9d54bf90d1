// Stage 04: online softmax, one pass over the window's tiles (FlashAttention's idea).
//
// Adds to stage 03: no first pass for the row maxima. Each row keeps a running max m and a running sum l;
// when a new key tile raises the max, what was accumulated so far (l and O) is rescaled by
// exp(m_old - m_new), so after the last tile O / l is exactly the softmax-weighted sum. Every score is
// computed once, K and V are read once, and nothing but O is written to global memory.
// The tiles to visit and which of them to mask now come from TileMask (tile_mask.h): the general form of
// what you wrote in stage 03, exact for every pattern.
//
// In stages/ the steps marked TODO(student) are yours to write; the instructor's solutions/ holds the answers.
// Build, test and grade: README.md at the top. What to do: README.md in this folder.
//
// Speed: two thirds of stage 03's score work (S once instead of twice), one loop instead of two.
// docs/online_softmax.md derives the update.
#include "solved/02_load_tile.cuh"  // load_tile: stage 02's copy, vectorised
#include "stage.h"
#include "tiles.cuh"

namespace {

using namespace swa::tiles;

template <int D, class Elem>
__global__ void __launch_bounds__(kThreads, kBlocksPerSM<D, Elem>)
    sliding_window_attention_online(swa::Problem p, swa::Tensors t) {
  extern __shared__ __align__(16) unsigned char smem[];  // the tiles are read 16 bytes at a time
  const SharedTiles<D, Elem> tile = SharedTiles<D, Elem>::carve(smem);
  const int bh = block_batch_head();
  const int m_tile = block_query_tile();  // which query tile
  const int i0 = m_tile * swa::kTileM;
  const int ty = threadIdx.x / kThreadCols, tx = threadIdx.x % kThreadCols;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;
  const swa::TileMask mask{p.pattern, p.N};

  load_tile<D>(tile.q, t.q + p.row_offset(bh, 0), i0, p.N);

  // The running state of each of this thread's rows: max m (of scaled scores), this thread's share of
  // the sum l, and its columns of the unnormalised output o.
  float m[kRowsPerThread], l[kRowsPerThread] = {};
  float o[kRowsPerThread][TileShape<D>::kColsPerThread] = {};
  for (float& x : m) x = -INFINITY;

  for (int n = mask.first_key_tile(m_tile); n < mask.num_key_tiles(); n = mask.next_key_tile(m_tile, n)) {
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
    if (mask.classify(m_tile, n) != swa::TileClass::kFull)  // a partial tile: hide keys past N or the window
      swa::apply_mask(s, score_coord(i0, j0, ty, tx),
                      [&](int i, int j) { return j < p.N && i - p.pattern.left <= j && j <= i + p.pattern.right; });

      // Step 1: the online softmax update of each row r, for this tile's scores s[r][0..3] (base 2):
      //     m_new = max(m, max of the row's scores in this tile)      (row_max: over the 16 threads)
      //     alpha = exp2(m - m_new)                                    (how much the old terms shrink)
      //     P     = exp2(s - m_new)
      //     l     = l * alpha + (sum of this thread's P)
      //     o     = o * alpha                  then   m = m_new
      // and store P with store_p for the P V product below. A row can see no key of a partial tile and
      // none before it either: then m_new is -infinity and exp2(-inf - -inf) would be NaN. Use 0 in place
      // of m_new in the two exp2 for such a row: every term is then exp2(-inf) = 0, as it should be.
      // TODO(student): write this step.
    __syncthreads();  // all of P is in shared memory before any thread reads a row of it
    tile_pv<D>(o, tile.p, tile.v, ty, tx);  // o += P V
  }

  // Step 2: normalise and store: each row's output divided by its sum, written for the rows that
  // exist. store_normalized (tiles.cuh) does it; call it with this thread's o and l.
  // TODO(student): write this step.
}

size_t workspace_bytes(const swa::Problem&) { return 0; }

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  swa::with_head_dim(p.D, [&](auto d) {
    constexpr int D = decltype(d)::value;
    launch_tiled<D, sliding_window_attention_online<D, float>, sliding_window_attention_online<D, CompactElem<D>>>(
        p, stream, p, t);
  });
}

}  // namespace

// What this stage declares (problem.h, section 6): the grader reads it to choose its cases.
constexpr SwaStageInfo kStage = {"04_online_softmax",  // name
                                 swa::pattern_bit(swa::PatternKind::kSlidingWindow),  // patterns
                                 swa::kAllHeadDims,  // head dimensions: 16, 32, 64, 128
                                 swa::kTileM,
                                 swa::kTileN,  // query and key tiles
                                 80,
                                 false};  // the GPU it needs: sm_80 or newer

SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
