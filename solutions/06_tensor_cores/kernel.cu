// Stage 06: tensor cores. Stage 04's online softmax, on mma.sync fragments.
//
// Adds to stage 04: S = Q K^T and O += P V run on the tensor cores (mma.sync.m16n8k16: fp16 in, fp32
// accumulate). Each warp owns 16 queries; their scores, probabilities and output stay in registers in the
// accumulator layout that stages/common/mma.cuh draws, each row's max and sum are reduced over the 4 lanes
// that hold it, and P goes from the accumulators of S straight into the A operand of P V, never through
// shared memory. Given: the instructions (mma.cuh), the copies, the walk over key tiles and the mask.
//
// How the block is fed: K and V tiles arrive by cp.async into two shared buffers, the next tile landing
// while the warps compute on this one. Rows are padded by 16 bytes, so ldmatrix reads them without bank
// conflicts. A block holds one or two query tiles of 64 (4 or 8 warps) and walks the union of their key
// tiles, so each K and V tile it needs is loaded once for both; each warp asks TileMask, at its own 16
// rows, whether a key tile concerns it and whether it needs the mask: the tiles in the middle of its window
// (TileMask::full_span) are computed with no per-element mask at all.
//
// In stages/ the steps marked TODO(student) are yours to write; the instructor's solutions/ holds the answers.
// Build, test and grade: README.md at the top. What to do: README.md in this folder.
//
// Speed (README.md, "Performance"): on many heads the tensor-core rate decides; the aim at (4, 16, 4096, 64)
// on an H200 is FlexAttention's 136 useful TFLOP/s, 6x stage 04 (predicted, not yet measured: 155-190). On
// one head (the exercise's (1, 1, 2048)) only 32 blocks run, each for 5 key tiles: a few microseconds of
// latency, not throughput.
#include "mma.cuh"
#include "stage.h"

namespace {

using namespace swa::mma;

constexpr int kWarpRows = 16;  // queries per warp: the M of one mma.m16n8k16
constexpr int kKeys = swa::kTileN;  // keys per key tile: 64
constexpr int kScoreFragments = kKeys / 8;  // 16 x 8 accumulators of S per key tile
constexpr int kPad = 8;  // halves of padding per shared row: 16 bytes (mma.cuh, "Bank conflicts")
constexpr float kLog2e = 1.4426950408889634f;  // exp(x) = exp2(x * log2(e)); exp2 is one instruction

// A block of kWarps warps: kWarps * 16 queries. Shared memory: the block's Q, then kStages stages of one
// K tile and one V tile each, every row padded to D + kPad halves.
template <int D, int kWarps, int kStages>
struct Block {
  static_assert(D % 16 == 0 && D <= swa::kMaxHeadDim, "an mma step covers 16 head dimensions");
  static_assert(kWarps == 4 || kWarps == 8, "one or two query tiles of 64");
  static_assert(kStages >= 2, "the next tile lands while this one computes");
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kQueries = kWarpRows * kWarps;
  static constexpr int kStride = D + kPad;  // halves per shared row; 2 * kStride bytes is a multiple of 16
  static constexpr int kQHalves = kQueries * kStride;  // Q: [kQueries][D + 8]
  static constexpr int kTileHalves = kKeys * kStride;  // one K or V tile: [64][D + 8]
  static constexpr int kStageHalves = 2 * kTileHalves;  // K, then V
  static constexpr size_t kSharedBytes = (kQHalves + kStages * kStageHalves) * sizeof(__half);
  // __launch_bounds__: 16 warps per SM (at most 128 registers a thread) up to D = 64; at D = 128 the
  // output alone takes 64 registers a thread, so 8 warps (up to 255 registers) rather than spill.
  static constexpr int kMinBlocksPerSM = (D <= 64 ? 16 : 8) / kWarps;
};

// Copy rows [row0, row0 + kRows) of one head's [N, D] fp16 matrix into a shared tile of stride D + kPad,
// 16 bytes per cp.async, consecutive threads along a row (coalesced). Each thread copies the same piece
// of a row in every pass, kRowsPerPass rows further on each time, so its addresses differ by constants.
// Rows past N arrive as zeros (cp_async_16 with in_bounds false reads nothing; it is given row 0).
template <int D, int kRows, int kThreads>
__device__ void load_tile_async(__half* tile, const __half* head, int row0, int N) {
  constexpr int kChunks = D / 8;  // 16-byte pieces per row
  constexpr int kRowsPerPass = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0, "a pass copies whole rows");
  const int r = threadIdx.x / kChunks, chunk = threadIdx.x % kChunks;
  const __half* src = head + static_cast<size_t>(row0 + r) * D + chunk * 8;
  __half* dst = tile + r * (D + kPad) + chunk * 8;
#pragma unroll
  for (int pass = 0; pass < (kRows + kRowsPerPass - 1) / kRowsPerPass; ++pass) {
    if (kRows % kRowsPerPass != 0 && r + pass * kRowsPerPass >= kRows) break;  // D = 16: more threads than pieces
    const bool in_bounds = row0 + r + pass * kRowsPerPass < N;
    cp_async_16(dst + pass * kRowsPerPass * (D + kPad), in_bounds ? src + pass * kRowsPerPass * D : head, in_bounds);
  }
}

// Step 1: S = Q K^T for this warp's 16 queries and the tile's 64 keys, on the tensor cores.
//   q_rows: the warp's 16 rows of Q in shared memory, [16][D + kPad] halves
//   k_tile: the key tile in shared memory, [64 keys][D + kPad] halves
//   s[c]:   the 16 x 8 accumulator of keys 8c .. 8c+7 (zero it first)
// For head dimensions 16kk .. 16kk+15: one ldmatrix_x4 gives Q's A fragment; then for each 16 x 16 block of
// K (16 keys) one ldmatrix_x4 gives two B fragments (mma.cuh: keys 0-7 are {r[0], r[2]}, keys 8-15
// {r[1], r[3]}), and two mma. ldmatrix_row gives this lane's address in a block.
template <int D>
__device__ void tile_scores(float (&s)[kScoreFragments][4], const __half* q_rows, const __half* k_tile, int lane) {
  // BEGIN SOLUTION
#pragma unroll
  for (int c = 0; c < kScoreFragments; ++c) s[c][0] = s[c][1] = s[c][2] = s[c][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t q[4];
    ldmatrix_x4(q, ldmatrix_row(q_rows, D + kPad, 0, 16 * kk, lane));
#pragma unroll
    for (int c = 0; c < kScoreFragments; c += 2) {  // keys 8c .. 8c+15
      uint32_t k[4];
      ldmatrix_x4(k, ldmatrix_row(k_tile, D + kPad, 8 * c, 16 * kk, lane));
      mma_m16n8k16(s[c], q, k[0], k[2]);
      mma_m16n8k16(s[c + 1], q, k[1], k[3]);
    }
  }
  // END SOLUTION
}

// Step 2: the online softmax update for this tile, on the accumulators. This lane holds two rows, g = lane/4
// (registers 0 and 1 of every fragment) and g + 8 (registers 2 and 3), for h = 0 and 1: m[h], l[h] are
// their running max (base 2, scaled) and this lane's share of the running sum, o[*][2h], o[*][2h+1] their
// output columns. Hidden scores are exactly -infinity; the scores are raw (scale not yet applied).
//     m_new = max(m, scale_log2 * (max of the row's 64 scores))    4 lanes share a row: __shfl_xor_sync 1, 2
//     alpha = exp2(m - m_new)
//     P     = exp2(scale_log2 * s - m_new)                         (one fmaf inside exp2_approx)
//     l     = l * alpha + (this lane's sum of P);   o = o * alpha;   m = m_new
// and leave P in s for Step 3. A row that has seen no key yet has m_new = -infinity: use 0 in its place in
// both exp2 (as in stage 04), or -inf - -inf gives NaN.
template <int D>
__device__ void online_softmax(float (&s)[kScoreFragments][4], float (&m)[2], float (&l)[2], float (&o)[D / 8][4],
                               float scale_log2) {
  // BEGIN SOLUTION
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float tile_max = -INFINITY;
#pragma unroll
    for (int c = 0; c < kScoreFragments; ++c) tile_max = fmaxf(tile_max, fmaxf(s[c][2 * h], s[c][2 * h + 1]));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));  // the 4 lanes of the row
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float m_new = fmaxf(m[h], tile_max * scale_log2);
    const float m_use = m_new == -INFINITY ? 0.f : m_new;  // the row has seen no key yet
    const float alpha = exp2_approx(m[h] - m_use);
    float sum = 0.f;
#pragma unroll
    for (int c = 0; c < kScoreFragments; ++c)
#pragma unroll
      for (int e = 2 * h; e < 2 * h + 2; ++e) {
        s[c][e] = exp2_approx(fmaf(s[c][e], scale_log2, -m_use));
        sum += s[c][e];
      }
    l[h] = l[h] * alpha + sum;
#pragma unroll
    for (int d = 0; d < D / 8; ++d) o[d][2 * h] *= alpha, o[d][2 * h + 1] *= alpha;
    m[h] = m_new;
  }
  // END SOLUTION
}

// Step 3: O += P V. P (in s, fp32) becomes the A operand without leaving the registers: for keys
// 16kk .. 16kk+15, a = {pack_half2(s[2kk][0], s[2kk][1]), pack_half2(s[2kk][2], s[2kk][3]),
// pack_half2(s[2kk+1][0], s[2kk+1][1]), pack_half2(s[2kk+1][2], s[2kk+1][3])} (mma.cuh: compare the A and
// C pictures). V's 16 x 16 blocks (16 keys, 16 dims) come by ldmatrix_x4_trans, two B fragments each
// (dims 0-7: {r[0], r[1]}, dims 8-15: {r[2], r[3]}); o[d] is the accumulator of dims 8d .. 8d+7.
template <int D>
__device__ void tile_pv(float (&o)[D / 8][4], const float (&s)[kScoreFragments][4], const __half* v_tile, int lane) {
  // BEGIN SOLUTION
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) {
    const uint32_t p[4] = {pack_half2(s[2 * kk][0], s[2 * kk][1]), pack_half2(s[2 * kk][2], s[2 * kk][3]),
                           pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                           pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
    for (int d = 0; d < D / 8; d += 2) {  // dims 8d .. 8d+15
      uint32_t v[4];
      ldmatrix_x4_trans(v, ldmatrix_row(v_tile, D + kPad, 16 * kk, 8 * d, lane));
      mma_m16n8k16(o[d], p, v[0], v[1]);
      mma_m16n8k16(o[d + 1], p, v[2], v[3]);
    }
  }
  // END SOLUTION
}

// Step 4: normalise and store. Each row's sum is the sum of its 4 lanes' shares (__shfl_xor_sync 1, 2, in
// every lane); divide the row's output by it (a row with no visible key has l = 0: write 0, not 0/0) and
// write this lane's columns 8d + 2t, 8d + 2t + 1 of rows w0 + g and w0 + g + 8 that exist (< N), as float2.
template <int D>
__device__ void store_normalized(float* o_head, const float (&o)[D / 8][4], const float (&l)[2], int w0, int N,
                                 int lane) {
  // BEGIN SOLUTION
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float row_l = l[h] + __shfl_xor_sync(0xffffffffu, l[h], 1);
    row_l += __shfl_xor_sync(0xffffffffu, row_l, 2);
    const float inv_l = row_l > 0.f ? 1.f / row_l : 0.f;
    const int i = w0 + lane / 4 + 8 * h;
    if (i >= N) continue;
#pragma unroll
    for (int d = 0; d < D / 8; ++d)
      *reinterpret_cast<float2*>(o_head + static_cast<size_t>(i) * D + 8 * d + 2 * (lane % 4)) =
          make_float2(o[d][2 * h] * inv_l, o[d][2 * h + 1] * inv_l);
  }
  // END SOLUTION
}

// The two patterns this stage runs are one band of keys, i - left <= j <= i + right: the causal window is
// the sliding one with right = 0 (problem.h, section 2). As a sliding window whose kind is a constant, the
// TileMask calls below compile to the band's few comparisons, not to the code of every pattern kind.
__device__ swa::Pattern as_band(const swa::Pattern& pattern) {
  swa::Pattern band = pattern;
  if (pattern.kind == swa::PatternKind::kCausalSlidingWindow) band.right = 0;
  band.kind = swa::PatternKind::kSlidingWindow;
  return band;
}

template <int D, int kWarps, int kStages>
__global__ void __launch_bounds__(Block<D, kWarps, kStages>::kThreads, Block<D, kWarps, kStages>::kMinBlocksPerSM)
    sliding_window_attention_mma(swa::Problem p, swa::Tensors t) {
  using B = Block<D, kWarps, kStages>;
  extern __shared__ __align__(128) unsigned char smem[];
  __half* const q_block = reinterpret_cast<__half*>(smem);  // [kQueries][D + 8]
  __half* const stages = q_block + B::kQHalves;  // [kStages][K, V][64][D + 8]
  const int bh = blockIdx.x;  // (batch, head): up to 65535 on the grid's x
  const int block = blockIdx.y;  // which kQueries queries
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int i0 = block * B::kQueries;  // the block's first query
  const int w0 = i0 + warp * kWarpRows;  // this warp's first query
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;

  // The block walks the key tiles its queries touch (the union of its warps'); each warp asks its own mask,
  // at its 16 rows, whether a tile is empty for it, full (no mask: its middle), or partial.
  const swa::Pattern band = as_band(p.pattern);
  const swa::TileMask block_mask{band, p.N, B::kQueries, kKeys};
  const swa::TileMask warp_mask{band, p.N, kWarpRows, kKeys};
  const int warp_tile = w0 / kWarpRows;
  const bool warp_has_rows = w0 < p.N;  // a ragged last block may have warps entirely past N
  const swa::TileSpan middle = warp_has_rows ? warp_mask.full_span(warp_tile) : swa::TileSpan{};
  const int end = block_mask.num_key_tiles();
  const auto visible = [&](int i, int j) { return i < p.N && block_mask.visible(i, j); };

  // The walk's key tile number `slot` (counting from 0), `tile`, goes into stage slot % kStages; `ahead` is
  // the next tile to load.
  const auto load_key_tile = [&](int tile, int slot) {
    __half* stage = stages + (slot % kStages) * B::kStageHalves;
    load_tile_async<D, kKeys, B::kThreads>(stage, k_head, tile * kKeys, p.N);
    load_tile_async<D, kKeys, B::kThreads>(stage + B::kTileHalves, v_head, tile * kKeys, p.N);
  };
  int n = block_mask.first_key_tile(block), ahead = n;

  // Prologue: Q and the first kStages - 1 key tiles, one group of copies each (Q with the first).
  load_tile_async<D, B::kQueries, B::kThreads>(q_block, t.q + p.row_offset(bh, 0), i0, p.N);
#pragma unroll
  for (int slot = 0; slot < kStages - 1; ++slot) {
    if (ahead < end) {
      load_key_tile(ahead, slot);
      ahead = block_mask.next_key_tile(block, ahead);
    }
    cp_async_commit_group();  // (an empty group past the last tile: one group per slot keeps the count simple)
  }
  const __half* q_rows = q_block + warp * kWarpRows * B::kStride;  // this warp's 16 queries

  // Running state of this lane's rows g and g + 8 (h = 0, 1): max m, share of the sum l, output columns o.
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  float o[D / 8][4] = {};

  for (int step = 0; n < end; ++step, n = block_mask.next_key_tile(block, n)) {
    // cp.async: tile step + kStages - 1 starts landing in the stage freed at the end of the last step,
    // while this one computes.
    if (ahead < end) {
      load_key_tile(ahead, step + kStages - 1);
      ahead = block_mask.next_key_tile(block, ahead);
    }
    cp_async_commit_group();
    cp_async_wait_group<kStages - 1>();  // all groups but the newest kStages - 1 have landed: tile n (and Q)
    __syncthreads();  // ... this thread's copies, and now every thread's: K_n and V_n are in shared memory
    const __half* k_tile = stages + (step % kStages) * B::kStageHalves;
    const __half* v_tile = k_tile + B::kTileHalves;

    const bool full = middle.contains(n);  // the same answer in every lane of the warp: no divergence
    if (warp_has_rows && (full || warp_mask.classify(warp_tile, n) != swa::TileClass::kEmpty)) {
      float s[kScoreFragments][4];
      tile_scores<D>(s, q_rows, k_tile, lane);  // Step 1
      if (!full)  // an edge tile: hide keys past N and outside the pattern, by (query, key) of each register
        swa::apply_mask(s, AccumulatorCoord{w0, n * kKeys, lane}, visible);
      online_softmax<D>(s, m, l, o, scale_log2);  // Step 2
      tile_pv<D>(o, s, v_tile, lane);  // Step 3
    }
    __syncthreads();  // every warp is done with this stage before the next step's copies overwrite it
  }

  store_normalized<D>(t.o + p.row_offset(bh, 0), o, l, w0, p.N, lane);  // Step 4
}

int multiprocessor_count() {
  int device = 0, count = 0;
  SWA_CUDA_CHECK(cudaGetDevice(&device));
  SWA_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
}

template <int D, int kWarps, int kStages>
void launch_blocks(const swa::Problem& p, const swa::Tensors& t, cudaStream_t stream) {
  using B = Block<D, kWarps, kStages>;
  const auto kernel = sliding_window_attention_mma<D, kWarps, kStages>;
  swa::allow_shared_memory(kernel, B::kSharedBytes, "Q and the K/V stages");  // or throws LaunchRejected
  const dim3 grid(p.batch_heads(), swa::ceil_div(p.N, B::kQueries));
  kernel<<<grid, B::kThreads, B::kSharedBytes, stream>>>(p, t);
  SWA_CUDA_CHECK_LAUNCH();
}

size_t workspace_bytes(const swa::Problem&) { return 0; }

// Many heads: two query tiles per block (8 warps), each K/V tile the two share loaded once, two stages;
// the blocks resident on an SM hide each other's waits. Few blocks (one head: 32 query tiles for 132 SMs),
// one query tile per block, so that the busiest block walks 5 key tiles rather than 6, and the key tiles
// loaded 3 ahead (2 at D = 128, where 3 stages would not fit a 99 KB GPU): each block waits alone on
// memory. README.md, "Performance", says why.
constexpr int kSmallGridStages(int D) { return D == 128 ? 2 : 4; }

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  swa::with_head_dim(p.D, [&](auto d) {
    constexpr int D = decltype(d)::value;
    using Pairs = Block<D, 8, 2>;
    const long long pair_blocks = static_cast<long long>(p.batch_heads()) * swa::ceil_div(p.N, Pairs::kQueries);
    if (pair_blocks >= multiprocessor_count() &&
        Pairs::kSharedBytes <= static_cast<size_t>(swa::shared_memory_limit()))  // 102 KB at D = 128
      launch_blocks<D, 8, 2>(p, t, stream);
    else
      launch_blocks<D, 4, kSmallGridStages(D)>(p, t, stream);
  });
}

}  // namespace

// What this stage declares (problem.h, section 6): the grader reads it to choose its cases.
constexpr SwaStageInfo kStage = {"06_tensor_cores",  // name
                                 swa::pattern_bit(swa::PatternKind::kSlidingWindow) |
                                     swa::pattern_bit(swa::PatternKind::kCausalSlidingWindow),  // patterns
                                 swa::kAllHeadDims,  // head dimensions: 16, 32, 64, 128
                                 swa::kTileM,
                                 swa::kTileN,  // query tile (a group of 4 warps) and key tile
                                 80,
                                 false};  // the GPU it needs: sm_80 or newer (mma.sync.m16n8k16, cp.async)

SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
