// Stage 03: visit only the key tiles the window touches; mask only the partial ones.
//
// Adds to stage 02: a query tile i0 .. i0+63 sees keys from i0 - W_left to i0 + 63 + W_right at most,
// so the block walks only the key tiles in that range (5 of 32 at N = 2048, W = 128) and never loads the
// others. Of those, the tiles every query sees completely ("full") need no mask; only the tiles on the
// window's edges ("partial") are masked element by element. The softmax still takes two passes over
// the visited tiles. Tiles are copied with load_tile (tiles.cuh), the vectorised form of stage 02's copy.
//
// In stages/ the steps marked TODO(student) are yours to write; the instructor's solutions/ holds the answers.
// Build, test and grade: README.md at the top. What to do: README.md in this folder.
//
// Speed: work O(N * (W + 64)) instead of O(N^2). Against its own full-attention run the speedup tends to
// the ratio of tiles visited, 6.65 at N = 2048 (an interior query tile visits 5 of the 32 key tiles, the
// tiles at the ends fewer); the two passes compute every score twice, which stage 04 removes.
#include "solved/02_load_tile.cuh"  // load_tile: stage 02's copy, vectorised
#include "stage.h"
#include "tiles.cuh"

namespace {

using namespace swa::tiles;

template <int D, class Elem>
__global__ void __launch_bounds__(kThreads, kBlocksPerSM<D, Elem>)
    sliding_window_attention_window_tiles(swa::Problem p, swa::Tensors t) {
  extern __shared__ __align__(16) unsigned char smem[];  // the tiles are read 16 bytes at a time
  const SharedTiles<D, Elem> tile = SharedTiles<D, Elem>::carve(smem);
  const int bh = block_batch_head();
  const int i0 = block_query_tile() * swa::kTileM;  // first query of the tile
  const int i_last = min(p.N, i0 + swa::kTileM) - 1;  // last query of the tile that exists
  const int ty = threadIdx.x / kThreadCols, tx = threadIdx.x % kThreadCols;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;
  const int left = p.pattern.left, right = p.pattern.right;

  // Step 1: the range of key tiles the window of this query tile touches, n_first .. n_last.
  // Query i sees keys i - left .. i + right, so the tile sees keys (i0 - left) .. (i_last + right),
  // clamped to 0 .. N-1; key j lies in key tile j / kTileN.
  int n_first = 0, n_last = -1;
  // TODO(student): write this step.

  // Step 2: is key tile n full, that is, does every query of the tile see every key of it? Then the
  // tile needs no mask. It must also be complete: a tile that runs past N holds keys that do not exist.
  // The tightest constraints come from the corners: the last query must still see the first key
  // (j0 >= i_last - left), the first query must already see the last key (j0 + 63 <= i0 + right).
  auto is_full = [&](int n) {
    bool full = false;
    // TODO(student): write this step.
    return full;
  };

  // Step 3: the element mask of a partial tile: hide (set to -infinity) each of this thread's scores
  // whose key j is past N or outside the window of query i. apply_mask (tile_mask.h) visits the 16 scores
  // with their (i, j) from score_coord (tiles.cuh); say which pairs are visible.
  auto mask_partial = [&](float(&s)[kRowsPerThread][kKeysPerThread], int j0) {
    // TODO(student): write this step.
  };

  load_tile<D>(tile.q, t.q + p.row_offset(bh, 0), i0, p.N);

  // Pass 1: the row maxima m[r] of the scaled scores, over the visited tiles only.
  float m[kRowsPerThread];
  for (float& x : m) x = -INFINITY;
  for (int n = n_first; n <= n_last; ++n) {
    __syncthreads();  // every thread is done reading the previous K tile
    load_tile<D>(tile.k, k_head, n * swa::kTileN, p.N);
    __syncthreads();  // Q and this K tile are complete before any thread reads them
    float s[kRowsPerThread][kKeysPerThread];
    tile_scores<D>(s, tile.q, tile.k, ty, tx);
    if (!is_full(n)) mask_partial(s, n * swa::kTileN);  // the same answer for the whole block: no divergence
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c) m[r] = fmaxf(m[r], s[r][c] * scale_log2);
  }
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    m[r] = row_max(m[r]);
    // A row that sees no key at all (only rows past N, which are never stored) keeps m = -infinity;
    // exp2(-inf - -inf) would be NaN, so such a row uses 0: every P is exp2(-inf) = 0.
    if (m[r] == -INFINITY) m[r] = 0.f;
  }

  // Pass 2: P = exp2(S * scale_log2 - m) over the same tiles, l = sum of P, O = P V.
  float o[kRowsPerThread][TileShape<D>::kColsPerThread] = {};
  float l[kRowsPerThread] = {};
  for (int n = n_first; n <= n_last; ++n) {
    __syncthreads();  // every thread is done with the previous K, V and P tiles
    load_tile<D>(tile.k, k_head, n * swa::kTileN, p.N);
    load_tile<D>(tile.v, v_head, n * swa::kTileN, p.N);
    __syncthreads();  // K and V are complete before any thread reads them
    float s[kRowsPerThread][kKeysPerThread];
    tile_scores<D>(s, tile.q, tile.k, ty, tx);
    if (!is_full(n)) mask_partial(s, n * swa::kTileN);
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c) {
        s[r][c] = exp2f(s[r][c] * scale_log2 - m[r]);  // a hidden score, -infinity, gives exactly 0
        l[r] += s[r][c];
      }
    store_p(tile.p, s, ty, tx);
    __syncthreads();  // all of P is in shared memory before any thread reads a row of it
    tile_pv<D>(o, tile.p, tile.v, ty, tx);
  }

  // Step 4: normalise and store: each row's output divided by its sum, written for the rows that
  // exist. store_normalized (tiles.cuh) does it; call it with this thread's o and l.
  // TODO(student): write this step.
}

size_t workspace_bytes(const swa::Problem&) { return 0; }

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  swa::with_head_dim(p.D, [&](auto d) {
    constexpr int D = decltype(d)::value;
    launch_tiled<D, sliding_window_attention_window_tiles<D, float>,
                 sliding_window_attention_window_tiles<D, CompactElem<D>>>(p, stream, p, t);
  });
}

}  // namespace

// What this stage declares (problem.h, section 6): the grader reads it to choose its cases.
constexpr SwaStageInfo kStage = {"03_masked_windows",  // name
                                 swa::pattern_bit(swa::PatternKind::kSlidingWindow),  // patterns
                                 swa::kAllHeadDims,  // head dimensions: 16, 32, 64, 128
                                 swa::kTileM,
                                 swa::kTileN,  // query and key tiles
                                 80,
                                 false};  // the GPU it needs: sm_80 or newer

SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
