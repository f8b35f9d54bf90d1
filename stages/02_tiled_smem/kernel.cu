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

// Copy rows row0 .. row0+63 of one head's [N, D] fp16 matrix into the shared fp32 tile `tile`
// (row r at tile + r * TileShape<D>::kRowStride), all 256 threads of the block together.
template <int D>
__device__ void stage_tile(float* tile, const __half* head, int row0, int N) {
  // Step 1: the cooperative copy. Spread the 64*D elements over the 256 threads so that consecutive
  // threads read consecutive elements of a row (one warp reads 32 neighbouring halves: coalesced).
  // Rows past N do not exist: write zeros there, so a partial tile holds no garbage.
  // TODO(student): write this step.
}

// O = softmax(scale * Q K^T, masked to i - W_left <= j <= i + W_right) V, for one query tile of one
// (batch, head): block_query_tile() and block_batch_head() (tiles.cuh).
template <int D>
__global__ void __launch_bounds__(kThreads) sliding_window_attention_tiled(swa::Problem p, swa::Tensors t) {
  extern __shared__ __align__(16) float smem[];  // the tiles are read as float4
  const SharedTiles<D> tile = SharedTiles<D>::carve(smem);
  const int bh = block_batch_head();
  const int i0 = block_query_tile() * swa::kTileM;  // first query of the tile
  const int ty = threadIdx.x / kThreadCols, tx = threadIdx.x % kThreadCols;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;  // scores in base 2: exp(x) = exp2(x * log2(e))
  const int num_key_tiles = swa::ceil_div(p.N, swa::kTileN);

  // This thread's rows are i0 + ty + 16r and its keys j0 + tx + 16c (tiles.cuh). May row i see key j?
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

    // Step 2: the mask and the row maxima. For each of this thread's scores, if the key is visible
    // from the query, fold s * scale_log2 into m[r]; skip the keys the window hides.
    // TODO(student): write this step.
  }
  // Each thread saw 4 of the 64 keys of every tile: the row max is the max over the 16 threads of the row.
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) m[r] = row_max(m[r]);

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

    // Step 3: the probabilities. P = exp2(s * scale_log2 - m[r]) where the key is visible, 0 where it
    // is hidden (choosing 0 instead of computing exp2 of -infinity keeps a row that sees no key of
    // this tile free of NaN). Add them to l[r], then store them with store_p for the P V product.
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
    launch_tiled<D, sliding_window_attention_tiled<D>>(p, stream, p, t);
  });
}

}  // namespace

SWA_EXPORT_STAGE("02_tiled_smem", swa::pattern_bit(swa::PatternKind::kSlidingWindow), workspace_bytes, launch)
