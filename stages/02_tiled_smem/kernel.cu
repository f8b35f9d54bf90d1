// Stage 02: tiled attention with shared memory.
//
// Adds to stage 01: a block of 256 threads owns a tile of 64 queries and walks the keys 64 at a time. All
// threads copy each tile of Q, K and V into shared memory together (coalesced), then every thread reads
// it from there many times. The window is still applied element by element, and every key tile of the
// sequence is visited, so this stage costs as much as full attention; stage 03 skips what the window
// never reaches. The softmax takes two passes: the row maxima first, then P = exp(S - max) and O = P V.
//
// In stages/ the steps marked TODO(student) are yours to write; the instructor's solutions/ holds the answers.
// Build, test and grade: README.md at the top. What to do: README.md in this folder.
//
// Speed: each K and V element is read from global memory once per query tile instead of once per query,
// and the arithmetic runs from registers and shared memory (tiles.cuh). But the work is O(N^2) whatever
// the window: at N = 4096, W = 128 it computes 16 times more scores than it keeps.
#include "stage.h"
#include "tiles.cuh"

namespace {

using namespace swa::tiles;

// Copy rows row0 .. row0+63 of one head's [N, D] fp16 matrix into the shared tile `tile` (row r at
// tile + r * TileShape<D, Elem>::kRowStride), all 256 threads of the block together. Elem is how the
// tile stores a number: float, or __half on a GPU with less shared memory (tiles.cuh); Elem(x) converts
// a __half x to either.
template <int D, class Elem>
__device__ void stage_tile(Elem* tile, const __half* head, int row0, int N) {
  // Step 1: the cooperative copy. Spread the 64*D elements over the 256 threads so that consecutive
  // threads read consecutive elements of a row (one warp reads 32 neighbouring halves: coalesced).
  // Rows past N do not exist: write zeros there, so a partial tile holds no garbage.
  // TODO(student): write this step.
}

// O = softmax(scale * Q K^T, masked to i - W_left <= j <= i + W_right) V, for one query tile of one
// (batch, head): block_query_tile() and block_batch_head() (tiles.cuh).
template <int D, class Elem>
__global__ void __launch_bounds__(kThreads, 1)  // one block per SM is enough: every key tile is visited
    sliding_window_attention_tiled(swa::Problem p, swa::Tensors t) {
  extern __shared__ __align__(16) unsigned char smem[];  // the tiles are read 16 bytes at a time
  const SharedTiles<D, Elem> tile = SharedTiles<D, Elem>::carve(smem);
  const int bh = block_batch_head();
  const int i0 = block_query_tile() * swa::kTileM;  // first query of the tile
  const int ty = threadIdx.x / kThreadCols, tx = threadIdx.x % kThreadCols;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;  // scores in base 2: exp(x) = exp2(x * log2(e))
  const int num_key_tiles = swa::ceil_div(p.N, swa::kTileN);

  // May query i see key j? apply_mask (tile_mask.h) asks it of each score, at the (query, key) that
  // score_coord (tiles.cuh) gives for each of this thread's 16 registers.
  auto visible = [&](int i, int j) { return j < p.N && i - p.pattern.left <= j && j <= i + p.pattern.right; };

  stage_tile<D>(tile.q, t.q + p.row_offset(bh, 0), i0, p.N);  // Q stays for the whole block

  // Pass 1: m[r], the largest scaled score of row r over every visible key.
  float m[kRowsPerThread];
  for (float& x : m) x = -INFINITY;
  for (int n = 0; n < num_key_tiles; ++n) {
    const int j0 = n * swa::kTileN;
    __syncthreads();  // every thread is done reading the previous K tile before it is overwritten
    stage_tile<D>(tile.k, k_head, j0, p.N);
    __syncthreads();  // the Q tile and this K tile are complete before any thread reads them
    float s[kRowsPerThread][kKeysPerThread];
    tile_scores<D>(s, tile.q, tile.k, ty, tx);  // s = Q K^T, this thread's 4 x 4 piece

    // Step 2: the mask and the row maxima. Hide the scores whose key query i may not see (apply_mask
    // sets them to -infinity), then fold each s * scale_log2 into m[r].
    // TODO(student): write this step.
  }
  // Each thread saw 4 of the 64 keys of every tile: the row max is the max over the 16 threads of the row.
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    m[r] = row_max(m[r]);
    // A row that sees no key at all (only rows past N, which are never stored) keeps m = -infinity;
    // exp2(-inf - -inf) would be NaN, so such a row uses 0: every P is exp2(-inf) = 0.
    if (m[r] == -INFINITY) m[r] = 0.f;
  }

  // Pass 2: P = exp2(S * scale_log2 - m), l = sum of P (per thread, then per row), O = P V.
  float o[kRowsPerThread][TileShape<D>::kColsPerThread] = {};
  float l[kRowsPerThread] = {};
  for (int n = 0; n < num_key_tiles; ++n) {
    const int j0 = n * swa::kTileN;
    __syncthreads();  // every thread is done with the previous K, V and P tiles
    stage_tile<D>(tile.k, k_head, j0, p.N);
    stage_tile<D>(tile.v, v_head, j0, p.N);
    __syncthreads();  // K and V are complete before any thread reads them
    float s[kRowsPerThread][kKeysPerThread];
    tile_scores<D>(s, tile.q, tile.k, ty, tx);

    // Step 3: the probabilities. Hide the scores the window does not allow, as in step 2; then
    // P = exp2(s * scale_log2 - m[r]) (a hidden score, -infinity, gives exactly 0). Add them to l[r],
    // then store them with store_p for the P V product.
    // TODO(student): write this step.
    __syncthreads();  // all of P is in shared memory before any thread reads a row of it
    tile_pv<D>(o, tile.p, tile.v, ty, tx);  // o += P V
  }

  // Step 4: normalise and store: each row's output divided by its sum, written for the rows that
  // exist. store_normalized (tiles.cuh) does it; call it with this thread's o and l.
  // TODO(student): write this step.
}

size_t workspace_bytes(const swa::Problem&) { return 0; }

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  swa::with_head_dim(p.D, [&](auto d) {
    constexpr int D = decltype(d)::value;
    launch_tiled<D, sliding_window_attention_tiled<D, float>, sliding_window_attention_tiled<D, CompactElem<D>>>(
        p, stream, p, t);
  });
}

}  // namespace

// What this stage declares (problem.h, section 6): the grader reads it to choose its cases.
constexpr SwaStageInfo kStage = {"02_tiled_smem",  // name
                                 swa::pattern_bit(swa::PatternKind::kSlidingWindow),  // patterns
                                 swa::kAllHeadDims,  // head dimensions: 16, 32, 64, 128
                                 swa::kTileM,
                                 swa::kTileN,  // query and key tiles
                                 80,
                                 false};  // the GPU it needs: sm_80 or newer

SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
