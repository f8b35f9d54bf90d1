// Stage 07: the Hopper stage — TMA, mbarrier pipelines, wgmma, warp specialisation.
//
// Adds to stage 06: the H100/H200's own machinery, and a block shaped for the window rather than for
// dense attention. A block owns a band: a run of consecutive query tiles of one (batch, head). One
// producer thread streams the band's key tiles through a ring of shared-memory stages with TMA, each key
// tile once, in order; the consumer warpgroups take the query tiles in turn (64 queries each, wgmma's M)
// and slide along the band: S = Q K^T and O += P V on the tensor cores (wgmma), the online softmax of
// stage 04 on the accumulators, the masks only on the window's edge tiles. A consumer waits for its own
// tensor-core work; the tensor cores stay busy with the other consumers' (four at D = 64, two at 128).
// mbarriers say when a stage has landed (kv_full) and when every consumer is done with it (kv_empty);
// O leaves through TMA stores, each warp its own rows. A band of a single query tile (one head: the
// exercise's shapes) is shared by all consumers, each taking some of its key tiles, and merged at the
// end: its chain of dependent key tiles is shortened.
//
// The instructions are wrapped, one by one, in hopper.cuh (given; its pictures show the swizzle, the
// descriptors and the accumulator layout). In stages/ the steps marked TODO(student) are yours: the
// pipeline's control (who waits on which barrier, when a stage may be refilled) and the online softmax on
// the accumulators. Build, test and grade: README.md at the top; what to do: README.md in this folder.
// Built for sm_90a only (H100, H200); on other GPUs the grader skips it, saying so.
//
// Speed: see README.md in this folder, "Performance". A key tile is loaded once per band, not once per
// query tile; the copy engine, the tensor cores and the consumers' softmax overlap.
#include <algorithm>

#include "hopper.cuh"
#include "stage.h"

// Switches for timing alternatives side by side (solutions/07_hopper/experiments.cmake builds each as a
// library of its own); the defaults are the stage.
#ifndef SWA07_OVERLAP
#define SWA07_OVERLAP 0  // 1: P V of the last key tile runs under the softmax of this one; 0: nothing does
#endif
#ifndef SWA07_SPLIT_KEYS
#define SWA07_SPLIT_KEYS 1  // 0: a band of one query tile is one consumer's; the others idle
#endif
#ifndef SWA07_CONSUMERS_D64
#define SWA07_CONSUMERS_D64 4  // consumer warpgroups at D = 64 (fewer: a deeper ring, more registers each)
#endif
#ifndef SWA07_KEEP_MAX
#define SWA07_KEEP_MAX 1  // 1: a key tile first tries the row maxima it has (softmax_keeping_max); 0: never
#endif
#ifndef SWA07_DIAGNOSTIC
#define SWA07_DIAGNOSTIC 0  // 1: launch and return (the launch's cost); 2: no wgmma (S = 0; the rest runs)
#endif
#ifndef SWA07_DEFER_STORE
#define SWA07_DEFER_STORE 1  // 1: at D = 128 the second half of O is stored at the next tile's first P V (OutputStore)
#endif
#ifndef SWA07_Q_REGISTERS
#define SWA07_Q_REGISTERS 1  // 1: at D = 128 Q is held in registers (S reads it from there); 2: at D = 64 too
#endif
#ifndef SWA07_WIDE_PV
#define SWA07_WIDE_PV 1  // 1: at D = 128 O += P V is one m64n128k16 wgmma per k-step; 0: two of m64n64k16
#endif
#ifndef SWA07_Q_STAGES
#define SWA07_Q_STAGES 0  // Q buffers per consumer: 0 chooses (Shape::kQStages), 1 or 2 forces it
#endif
#ifndef SWA07_NAME
#define SWA07_NAME "07_hopper"
#endif

namespace {

using namespace swa::hopper;

constexpr int kOverlap = SWA07_OVERLAP;
constexpr bool kSplitKeys = SWA07_SPLIT_KEYS != 0;
constexpr bool kTensorCores = SWA07_DIAGNOSTIC != 2;
constexpr bool kKeepMax = SWA07_KEEP_MAX != 0;
constexpr bool kDeferStore = SWA07_DEFER_STORE != 0;
constexpr bool kWidePV = SWA07_WIDE_PV != 0;
constexpr int kStoreRows = 16;  // rows of an O store: one warp's share of a query tile
constexpr int kTileM = 64;  // queries per consumer tile: wgmma's M
constexpr int kTileN = 64;  // keys per key tile: 81% of the (query, key) pairs visited are in a window of 128
constexpr float kLog2e = 1.4426950408889634f;  // exp(x) = exp2(x * log2(e))
constexpr int kSharedMemory = 227 * 1024;  // the most dynamic shared memory a block may have on sm_90

// Sizes for head dimension D. Shared memory holds the K/V ring, each consumer's Q buffers and two O
// staging buffers per consumer; the ring is as deep as the rest leaves room for, up to 10 stages.
template <int D>
struct Shape {
  static_assert(D == 64 || D == 128, "rows of 128 or 256 bytes: one or two swizzled column blocks");
  static constexpr int kColBlocks = D / 64;  // 64 fp16 = 128 bytes: one swizzled row per block
  static constexpr int kBlockBytes = 64 * 128;  // one column block of a 64-row tile
  static constexpr int kTileBytes = kColBlocks * kBlockBytes;  // a Q, K or V tile: 64 rows x D
  static constexpr int kConsumers = D == 64 ? SWA07_CONSUMERS_D64 : 2;  // warpgroup 0 is the producer
  static constexpr int kThreads = kWarpgroupThreads * (1 + kConsumers);
  static constexpr int kConsumerWarps = 4 * kConsumers;  // a stage is free again once each has arrived
  static constexpr int kQStages =  // Q tiles per consumer (2: the next one early)
      SWA07_Q_STAGES > 0 ? SWA07_Q_STAGES : kConsumers == 4 || D == 128 ? 1 : 2;
  // At D = 128 a consumer copies its Q tile into registers (32 of them) as the tile starts and hands the
  // buffer back at once: the producer loads the next Q a whole tile early, and S = Q K^T reads only K from
  // shared memory. At D = 64 the consumers have no 16 registers to spare (112 each).
  static constexpr bool kQInRegisters = (D == 128 || SWA07_Q_REGISTERS == 2) && SWA07_Q_REGISTERS != 0;
  static constexpr int kOutCols = 32;  // fp32 columns per O store: 128 bytes, one swizzled row
  static constexpr int kOutBytes = 2 * kTileM * kOutCols * 4;  // a consumer's two O staging buffers
  static constexpr int kReserved = 1024 + 2048;  // aligning the start; barriers and the merge's rows
  static constexpr int kKVStages =
      std::min(10, (kSharedMemory - kReserved - kConsumers * (kQStages * kTileBytes + kOutBytes)) / (2 * kTileBytes));
  // Registers: the producer gives most of its share to the consumers (setmaxnreg). setmaxnreg only moves
  // registers between the block's warps: the block has what it was launched with, each thread the 64K of
  // the multiprocessor divided by kThreads, rounded down to a multiple of 8 (launch bounds: one block per
  // multiprocessor). Asking for more than that makes setmaxnreg.inc wait forever: a hang, not an error.
  static constexpr int kLaunchRegisters = (64 * 1024 / kThreads) / 8 * 8;
  static constexpr int kProducerRegisters = kConsumers == 2 ? 40 : kConsumers == 3 ? 32 : 24;
  static constexpr int kConsumerRegisters = kConsumers == 2 ? 232 : kConsumers == 3 ? 160 : 112;
  static_assert(kConsumers >= 2 && kConsumers <= 4, "two to four consumer warpgroups");
  static_assert(kWarpgroupThreads * (kProducerRegisters + kConsumers * kConsumerRegisters) <=
                    kThreads * kLaunchRegisters,
                "the warpgroups' registers must fit those the block is launched with");
  static_assert(kKVStages >= 3, "a ring of fewer than 3 stages cannot hold a window of 128");
  static_assert(kOutBytes / kWarpgroupThreads >= 32 * 4 && kQStages * kTileBytes >= (kColBlocks - 1) * kOutBytes,
                "a consumer's O staging (and Q buffers at D = 128) hold its O accumulator when it is merged");
};

// Every tile starts on a 1024-byte boundary (the swizzle's period; hopper.cuh): each array is a multiple of
// 1024 bytes and the struct is aligned to 1024.
template <int D>
struct alignas(kSwizzleAtomBytes) SharedStorage {
  using S = Shape<D>;
  static constexpr int C = S::kConsumers;
  __half k[S::kKVStages][kTileN * D];  // [stage][column block][64 keys][64], 128B-swizzled
  __half v[S::kKVStages][kTileN * D];  // the same, for V
  __half q[C][S::kQStages][kTileM * D];  // [consumer][buffer][column block][64 queries][64]
  float o[C][2][kTileM * S::kOutCols];  // [consumer][buffer][64 queries][32], 128B-swizzled
  uint64_t kv_full[S::kKVStages];  // stage s holds its key tile (TMA: 1 arrival + the tile's bytes)
  uint64_t kv_empty[S::kKVStages];  // every consumer is done with stage s (one arrival per consumer warp)
  uint64_t q_full[C][S::kQStages];  // the Q tile has landed
  uint64_t q_empty[C][S::kQStages];  // the consumer has finished its S = Q K^T (one arrival per warp)
  float merged_rows[C - 1][2][kTileM];  // a shared query tile: each other consumer's row max m and row sum l
};
static_assert(sizeof(SharedStorage<64>) + kSwizzleAtomBytes <= kSharedMemory, "D = 64 fits in shared memory");
static_assert(sizeof(SharedStorage<128>) + kSwizzleAtomBytes <= kSharedMemory, "D = 128 fits in shared memory");

// The causal window is the sliding window with right = 0 (problem.h: "j <= i, so right has no effect"). As
// one kind that the compiler can see, the tile answers below compile to the sliding window's few
// instructions instead of a switch over every pattern.
SWA_HD swa::Pattern as_sliding_window(swa::Pattern w) {
  if (w.kind == swa::PatternKind::kCausalSlidingWindow) w.right = 0;
  w.kind = swa::PatternKind::kSlidingWindow;
  return w;
}

// The band of a block: query tiles [first_tile, end_tile) of one (batch, head), taken by the consumers in
// turn (tile first_tile + t goes to consumer t % kConsumers), and the key tiles their windows reach,
// [first_key, last_key]. For the sliding and causal windows a query tile's key tiles are consecutive and
// move right with it, so the band's key tiles are consecutive too: the producer loads each once, in
// order, the n-th (n = key - first_key) into stage n % kKVStages in lap n / kKVStages: the lap's parity is
// the parity of the barrier phase that says "loaded" (kv_full) and, one lap later, "free again" (kv_empty).
// A band of one query tile is shared: each consumer takes a run of its key tiles (keys_of below).
struct Band {
  swa::TileMask mask;
  int first_tile, end_tile, first_key, last_key;

  __device__ Band(const swa::Problem& p, int run_length) : mask{as_sliding_window(p.pattern), p.N, kTileM, kTileN} {
    first_tile = blockIdx.x * run_length;
    end_tile = swa::min_int(first_tile + run_length, mask.num_query_tiles());
    first_key = mask.first_key_tile(first_tile);
    last_key = mask.last_key_tile(end_tile - 1);
  }
  __device__ bool shared() const { return kSplitKeys && end_tile - first_tile == 1; }

  // The key tiles consumer c reads for query tile q: all of the tile's, or, in a shared band, the c-th of
  // kConsumers runs of nearly equal length (empty when the window has fewer key tiles than consumers).
  template <int kConsumers>
  __device__ swa::TileSpan keys_of(int q, int c) const {
    const swa::TileSpan all{mask.first_key_tile(q), mask.last_key_tile(q)};
    if (!shared()) return all;
    const int run = swa::ceil_div(all.last - all.first + 1, kConsumers);
    return {swa::min_int(all.last + 1, all.first + c * run), swa::min_int(all.last, all.first + (c + 1) * run - 1)};
  }
  // Whether consumer c has a partial result of a shared band's tile to merge: not when the window has fewer
  // key tiles than there are consumers and c's run is empty.
  template <int kConsumers>
  __device__ bool has_partial(int c) const {
    return !keys_of<kConsumers>(first_tile, c).empty();
  }
};

// The keys query i sees, [first, last]: one run for the sliding window (the causal one has right = 0),
// none for a query past N. Clamped to [0, N - 1] without overflow, whatever W.
struct WindowRows {
  int left, right, N;
  SWA_HD void keys_of(int i, int& first, int& last) const {
    first = swa::max_int(0, i - left);
    last = right >= N - 1 - i ? N - 1 : i + right;
    if (i >= N) first = 1, last = 0;
  }
};

// ---------------------------------------------------------------------------------------------------
// The producer: one thread of warpgroup 0
// ---------------------------------------------------------------------------------------------------

// One 64-row tile of a [B*H][N][D] tensor: a TMA box per 64-column block, all completing on `bar`.
template <int D>
__device__ void load_tile(__half* tile, const CUtensorMap* map, uint64_t* bar, int row, int bh) {
#pragma unroll
  for (int b = 0; b < Shape<D>::kColBlocks; ++b) tma_load(tile + b * 64 * 64, map, bar, 64 * b, row, bh);
}

// Loads Q of query tile q into its consumer's next buffer.
template <int D>
__device__ void load_query_tile(SharedStorage<D>& sm, const Band& band, int q, int bh, const CUtensorMap* q_map) {
  using S = Shape<D>;
  const unsigned t = q - band.first_tile;  // unsigned (t >= 0), as n in produce() below
  const int c = t % S::kConsumers;  // the consumer of query tile q ...
  const unsigned turn = t / S::kConsumers;  // ... and its turn-th tile
  const int buffer = turn % S::kQStages, lap = turn / S::kQStages;

  // Step 1: load Q of query tile q (rows q * kTileM ...) into sm.q[c][buffer] with load_tile, completing on
  // q_full[c][buffer], once consumer c has released that buffer's previous tile (q_empty, lap - 1). The
  // barrier must expect the tile's bytes (mbarrier_arrive_expect_tx) before the copies are issued.
  // BEGIN SOLUTION
  mbarrier_wait(&sm.q_empty[c][buffer], (lap & 1) ^ 1);  // lap 0: a fresh barrier's "phase -1", done
  mbarrier_arrive_expect_tx(&sm.q_full[c][buffer], S::kTileBytes);
  load_tile<D>(sm.q[c][buffer], q_map, &sm.q_full[c][buffer], q * kTileM, bh);
  // END SOLUTION
}

// The producer's order: first the Q of each consumer's first tiles (their buffers start free), then the
// band's query tiles in turn: the tile's Q (from the consumers' second round of buffers on), then the key
// tiles its window reaches beyond those already loaded. In this order it never waits for a buffer whose
// consumer needs something the producer has not loaded yet, provided one query tile's window fits in the
// ring (run_length() below sees to it). A shared band has one query tile: one Q, in consumer 0's buffer.
template <int D>
__device__ void produce(SharedStorage<D>& sm, const Band& band, int bh, const CUtensorMap* q_map,
                        const CUtensorMap* k_map, const CUtensorMap* v_map) {
  using S = Shape<D>;
  constexpr int kFirstQs = S::kConsumers * S::kQStages;  // tiles whose Q buffer has never been used
  for (int q = band.first_tile; q < swa::min_int(band.end_tile, band.first_tile + kFirstQs); ++q)
    load_query_tile<D>(sm, band, q, bh, q_map);
  int next_key = band.first_key;  // the band's next key tile to load
  for (int q = band.first_tile; q < band.end_tile; ++q) {
    if (q >= band.first_tile + kFirstQs) load_query_tile<D>(sm, band, q, bh, q_map);
    for (const int last = band.mask.last_key_tile(q); next_key <= last; ++next_key) {
      const unsigned n = next_key - band.first_key;  // unsigned (n >= 0): % and / by 2^k are a mask and a shift
      const int stage = n % S::kKVStages, kv_lap = n / S::kKVStages;
      // Step 2: load K and V of key tile next_key into stage `stage`, completing on kv_full[stage], once
      // every consumer has released the tile the stage held in the previous lap (kv_empty).
      // BEGIN SOLUTION
      mbarrier_wait(&sm.kv_empty[stage], (kv_lap & 1) ^ 1);
      mbarrier_arrive_expect_tx(&sm.kv_full[stage], 2 * S::kTileBytes);  // K and V: whole boxes, zeros too
      load_tile<D>(sm.k[stage], k_map, &sm.kv_full[stage], next_key * kTileN, bh);
      load_tile<D>(sm.v[stage], v_map, &sm.kv_full[stage], next_key * kTileN, bh);
      // END SOLUTION
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The consumers: warpgroups 1 .. kConsumers, 64 queries each
// ---------------------------------------------------------------------------------------------------

// Issues S = Q K^T for a 64 x 64 tile as one wgmma group: D/16 k-steps, both operands K-major in shared
// memory, given by their descriptors (made once per tile or ring, stepped here). A k-step is 16 columns
// (32 bytes) along the swizzled rows; every 4 steps the next column block (hopper.cuh). The caller fences
// before (wgmma_fence) and waits after (wgmma_wait_group).
template <int D>
__device__ void issue_scores(float (&s)[32], uint64_t q_desc, uint64_t k_desc) {
  if constexpr (!kTensorCores) {
    for (float& x : s) x = 0.f;
    return;
  }
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t offset = (kk / 4) * Shape<D>::kBlockBytes + (kk % 4) * 32;
    wgmma_m64n64k16_ss(s, descriptor_plus(q_desc, offset), descriptor_plus(k_desc, offset), kk > 0);
  }
  wgmma_commit_group();
}

// The same with Q in registers (Shape::kQInRegisters): q[kk] is the A fragment of k-step kk, and only K is
// read from shared memory.
template <int D>
__device__ void issue_scores(float (&s)[32], const uint32_t (&q)[D / 16][4], uint64_t k_desc) {
  if constexpr (!kTensorCores) {
    for (float& x : s) x = 0.f;
    return;
  }
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
    wgmma_m64n64k16_rs(s, q[kk], descriptor_plus(k_desc, (kk / 4) * Shape<D>::kBlockBytes + (kk % 4) * 32), kk > 0);
  wgmma_commit_group();
}

// Issues O += P V as one wgmma group: 4 k-steps of 16 keys; A = P from registers, B = V (MN-major, 16 rows =
// 2048 bytes per step), one wgmma of 64 output columns per column block (at D = 128 one of 128 columns,
// kWidePV: half the instructions). With accumulate = false, O = P V: the first k-step ignores what o held.
// Until the group is waited for, neither o nor p may be touched.
template <int D>
__device__ void issue_pv(float (&o)[Shape<D>::kColBlocks][32], const uint32_t (&p)[16], uint64_t v_desc,
                         bool accumulate) {
  if constexpr (!kTensorCores) return;
#pragma unroll
  for (int kk = 0; kk < kTileN / 16; ++kk) {
    const uint32_t a[4] = {p[4 * kk], p[4 * kk + 1], p[4 * kk + 2], p[4 * kk + 3]};
    if constexpr (Shape<D>::kColBlocks == 2 && kWidePV) {
      wgmma_m64n128k16_rs_nmajor(o[0], o[1], a, descriptor_plus(v_desc, kk * 16 * 128), kk > 0 || accumulate);
    } else {
#pragma unroll
      for (int b = 0; b < Shape<D>::kColBlocks; ++b)
        wgmma_m64n64k16_rs_nmajor(o[b], a, descriptor_plus(v_desc, b * Shape<D>::kBlockBytes + kk * 16 * 128),
                                  kk > 0 || accumulate);
    }
  }
  wgmma_commit_group();
}

// O = o / l for consumer c's 64 rows, through the consumer's two swizzled staging buffers of 32 fp32 columns
// and TMA stores, which skip the rows past N: each warp's lane 0 stores the warp's own 16 rows, so no
// barrier across the consumer is needed. A row that saw no key (l = 0) is written as 0. The buffers hold 64
// columns: a half of the row at D = 128. Each half costs one proxy fence, which waits until the warp's
// ordinary stores to shared memory have landed, and one bulk group. At D = 64, store() stores the tile. At
// D = 128 it stores the first half and leaves the second in o; finish() stores that just before o is
// overwritten (the consumer's next tile's first P V, or the end): by then the stores of the first half have
// long read the buffers, so nothing waits for them (SWA07_DEFER_STORE = 0: both halves at once).
template <int D>
struct OutputStore {
  using S = Shape<D>;
  SharedStorage<D>& sm;
  const CUtensorMap* map;
  int c, bh, n;
  float inv_l[2] = {0.f, 0.f};
  int i0 = 0;
  bool pending = false;  // the second half of the tile at i0 is still in o

  __device__ void store(const float (&o)[S::kColBlocks][32], const float (&l)[2], int tile_i0) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float sum = quad_sum(l[r]);  // l was this thread's share of the row
      inv_l[r] = sum > 0.f ? rcp_approx(sum) : 0.f;  // sum >= 1 (some term is 2^0 or more): no denormal
    }
    i0 = tile_i0;
    store_half(o, 0);
    if constexpr (S::kColBlocks == 2) {
      if (kDeferStore) pending = true;
      else store_half(o, 1);
    }
  }
  __device__ void finish(const float (&o)[S::kColBlocks][32]) {
    if constexpr (S::kColBlocks == 2) {
      if (pending) store_half(o, 1);
      pending = false;
    }
  }

 private:
  __device__ void store_half(const float (&o)[S::kColBlocks][32], int half) {
    const int thread = threadIdx.x % kWarpgroupThreads, warp = thread / 32, lane = thread % 32;
    if (lane == 0) bulk_wait_group_read<0>();  // the stores that last read the buffers are done ...
    __syncwarp();  // ... and every lane of the warp knows it
#pragma unroll
    for (int chunk = 0; chunk < 2; ++chunk) {
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {  // the 8-column groups j = 8 half + 4 chunk + jj of the accumulator
        const int j = 8 * half + 4 * chunk + jj;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int row = 16 * warp + lane / 4 + 8 * r;
          const int byte = 4 * (8 * jj + 2 * (lane % 4));
          const float2 value =
              make_float2(o[j / 8][4 * (j % 8) + 2 * r] * inv_l[r], o[j / 8][4 * (j % 8) + 2 * r + 1] * inv_l[r]);
          *reinterpret_cast<float2*>(reinterpret_cast<char*>(sm.o[c][chunk]) + swizzle_128b(row, byte)) = value;
        }
      }
    }
    fence_proxy_async();  // the copy engine reads what these ordinary stores wrote
    __syncwarp();  // the warp's two 16 x 32 boxes are written
    const int row0 = i0 + kStoreRows * warp;
    if (lane == 0 && row0 < n) {
#pragma unroll
      for (int chunk = 0; chunk < 2; ++chunk)
        tma_store(map, sm.o[c][chunk] + kStoreRows * warp * S::kOutCols, S::kOutCols * (2 * half + chunk), row0, bh);
      bulk_commit_group();
    }
  }
};

// A shared query tile: consumer c > 0 hands its partial result (its row maxima m, row sums l and the
// unnormalised o, over its run of key tiles) to consumer 0 through shared memory that a shared band leaves
// unused (c's O staging and Q buffers: the tile's Q is in consumer 0's buffer). Named barrier 1 + kConsumers
// + c - 1, for consumer 0 and c: c arrives once it has written, consumer 0 waits before it reads.
template <int D>
__device__ float* partial_o(SharedStorage<D>& sm, int c, int block) {  // 32 floats per thread, [8][128] float4
  return block == 0 ? sm.o[c][0] : reinterpret_cast<float*>(sm.q[c][0]);
}

template <int D>
__device__ void send_partial(SharedStorage<D>& sm, int c, const float (&o)[Shape<D>::kColBlocks][32],
                             const float (&m)[2], const float (&l)[2]) {
  const int thread = threadIdx.x % kWarpgroupThreads, warp = thread / 32, lane = thread % 32;
#pragma unroll
  for (int b = 0; b < Shape<D>::kColBlocks; ++b)
#pragma unroll
    for (int e4 = 0; e4 < 8; ++e4)  // [e4][thread]: a warp writes 512 consecutive bytes, no bank conflicts
      reinterpret_cast<float4*>(partial_o(sm, c, b))[e4 * kWarpgroupThreads + thread] =
          make_float4(o[b][4 * e4], o[b][4 * e4 + 1], o[b][4 * e4 + 2], o[b][4 * e4 + 3]);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float row_sum = quad_sum(l[r]);  // m is already the row's (quad_max)
    if (lane % 4 == 0) {
      sm.merged_rows[c - 1][0][16 * warp + lane / 4 + 8 * r] = m[r];
      sm.merged_rows[c - 1][1][16 * warp + lane / 4 + 8 * r] = row_sum;
    }
  }
  named_barrier_arrive(1 + Shape<D>::kConsumers + c - 1, 2 * kWarpgroupThreads);
}

// Consumer 0 folds in the other consumers' partials, as the online softmax folds in a key tile: with
// m' = max(m, m_c), o = o 2^(m - m') + o_c 2^(m_c - m'), and l likewise (the other consumer's row sum is
// added to one lane's share of l, which OutputStore sums over the four lanes). A consumer whose run of key
// tiles is empty (a window of fewer key tiles than consumers) sends nothing: there is nothing to add.
template <int D>
__device__ void merge_partials(SharedStorage<D>& sm, const Band& band, float (&o)[Shape<D>::kColBlocks][32],
                               float (&m)[2], float (&l)[2]) {
  const int thread = threadIdx.x % kWarpgroupThreads, warp = thread / 32, lane = thread % 32;
  for (int c = 1; c < Shape<D>::kConsumers; ++c) {
    if (!band.has_partial<Shape<D>::kConsumers>(c)) continue;
    named_barrier_sync(1 + Shape<D>::kConsumers + c - 1, 2 * kWarpgroupThreads);  // c's partial is written
    float a_own[2], a_other[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float m_c = sm.merged_rows[c - 1][0][16 * warp + lane / 4 + 8 * r];
      const float l_c = sm.merged_rows[c - 1][1][16 * warp + lane / 4 + 8 * r];
      const float m_new = fmaxf(m[r], m_c);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;  // no key seen by either: every factor 0, no NaN
      a_own[r] = exp2_approx(m[r] - m_use), a_other[r] = exp2_approx(m_c - m_use);
      l[r] = l[r] * a_own[r] + (lane % 4 == 0 ? l_c * a_other[r] : 0.f);
      m[r] = m_new;
    }
#pragma unroll
    for (int b = 0; b < Shape<D>::kColBlocks; ++b)
#pragma unroll
      for (int e4 = 0; e4 < 8; ++e4) {
        const float4 x = reinterpret_cast<const float4*>(partial_o(sm, c, b))[e4 * kWarpgroupThreads + thread];
        const float other[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          const int e = 4 * e4 + u;
          o[b][e] = o[b][e] * a_own[accumulator_row(e)] + other[u] * a_other[accumulator_row(e)];
        }
      }
  }
}

template <int D>
__device__ void consume(SharedStorage<D>& sm, const Band& band, const swa::Problem& p, int bh, int c,
                        const CUtensorMap* o_map) {
  using S = Shape<D>;
  constexpr int C = S::kConsumers;
  const int thread = threadIdx.x % kWarpgroupThreads, warp = thread / 32, lane = thread % 32;
  const swa::TileMask& mask = band.mask;
  const swa::Pattern w = as_sliding_window(p.pattern);
  const WindowRows window{w.left, w.right, p.N};
  const float scale_log2 = p.scale * kLog2e;
  const bool shared = band.shared();
  int released = band.first_key;  // this consumer has handed back every key tile of the band below this one
  // The K/V ring's wgmma descriptors, made once: key tile k's stage is stage_of(k) tiles further on.
  const uint64_t k_ring = hide_address_bits(kmajor_descriptor(smem_address(sm.k[0])));
  const uint64_t v_ring = hide_address_bits(mnmajor_descriptor(smem_address(sm.v[0]), S::kBlockBytes));
  const auto stage_of = [&](int k) { return static_cast<unsigned>(k - band.first_key) % S::kKVStages; };

  OutputStore<D> out{sm, o_map, c, bh, p.N};  // O's stores (at D = 128 a tile's second half waits in o)
  float o[S::kColBlocks][32];  // O of the current query tile, unnormalised, in the accumulator layout
  float m[2], l[2];  // this thread's two rows (accumulator_row): the running max and its share of the sum
  uint32_t q_frag[D / 16][4];  // Q of the current tile as wgmma A fragments (only with Shape::kQInRegisters)
  for (int q = band.first_tile + (shared ? 0 : c); q < band.end_tile; q += C) {
    const int i0 = q * kTileM;  // the tile's first query
    const unsigned turn = static_cast<unsigned>(q - band.first_tile) / C;  // this consumer's turn-th tile of the band
    const swa::TileSpan keys = band.keys_of<C>(q, c);  // the key tiles this consumer reads for q
    const swa::TileSpan full = mask.full_span(q);  // the unmasked middle of the walk
    // Key tiles from `keep` on are read again by this consumer's next query tile.
    const int keep = !shared && q + C < band.end_tile ? mask.first_key_tile(q + C) : band.last_key + 1;
    const int q_owner = shared ? 0 : c;  // a shared band has one Q, in consumer 0's first buffer
    const int buffer = shared ? 0 : turn % S::kQStages, lap = shared ? 0 : turn / S::kQStages;
    const uint64_t q_desc = hide_address_bits(kmajor_descriptor(smem_address(sm.q[q_owner][buffer])));

    // Step 3: hand back the band's key tiles below keys.first that this consumer has not handed back: it
    // never reads them, but their stages are free only once every consumer warp has arrived on kv_empty,
    // after they have landed (wait for kv_full first: then no arrival counts towards the wrong lap). Lane 0
    // of each warp arrives. Then wait for this tile's Q (q_full[q_owner][buffer], its lap).
    // BEGIN SOLUTION
    for (; released < keys.first; ++released) {
      const unsigned n = released - band.first_key;
      mbarrier_wait(&sm.kv_full[n % S::kKVStages], (n / S::kKVStages) & 1);
      if (lane == 0) mbarrier_arrive(&sm.kv_empty[n % S::kKVStages]);
    }
    mbarrier_wait(&sm.q_full[q_owner][buffer], lap & 1);
    // END SOLUTION
    // Given: at D = 128 (Shape::kQInRegisters) Q goes into registers now, and its buffer back to the
    // producer at once (lane 0 of each warp, once the warp has read it), not in Step 5.
    if constexpr (S::kQInRegisters) {
      load_a_fragments<D>(q_frag, sm.q[q_owner][buffer], warp, lane);  // hopper.cuh
      __syncwarp();
      if (!shared && lane == 0) mbarrier_arrive(&sm.q_empty[c][buffer]);
    }

    // The walk over keys.first .. keys.last. Each of its key tiles k goes through, in this order: wait for
    // K and V (Step 4); S = Q K^T on the tensor cores, issued together with O += P V of tile k - 1; the
    // softmax of S (Steps 5-7); O rescaled by alpha and P packed to fp16; O += P V on the tensor cores
    // (issued with S of tile k + 1); hand the tile back (Step 8) once that P V has finished.
    const auto wait_for_key_tile = [&](int k) {
      const unsigned n = k - band.first_key;
      // Step 4: wait until K and V of key tile k are in stage n % kKVStages (kv_full, lap n / kKVStages).
      // BEGIN SOLUTION
      mbarrier_wait(&sm.kv_full[n % S::kKVStages], (n / S::kKVStages) & 1);
      // END SOLUTION
    };
    float alpha[2];  // how much the softmax's terms so far shrink with the new tile (the online softmax)
    uint32_t p_frag[16];  // P of the previous key tile, fp16 pairs: the A fragment of its O += P V
    // With SWA07_OVERLAP = 1 that P V still reads p_frag while the softmax runs: the next P waits in p_next.
    uint32_t p_next[16];
    uint32_t(&p_out)[16] = kOverlap == 1 ? p_next : p_frag;  // where softmax_keeping_max writes P
    bool kept_max = false;  // the last tile's P is in p_frag already, and o needs no rescale (kKeepMax)
    // Given: most key tiles raise no row's max by much. Such a tile can keep the maxima the rows have:
    // P = 2^(S scale_log2 - m) may then exceed 1, which changes nothing in O = sum P V / sum P as long as
    // fp16 holds P (up to 65504). So a tile first tries that: P straight into p_frag (s stays as it is), and
    // if each of this thread's row sums (so each P) is at most 2^14 on every lane of the warp, the sums go
    // to l and the tile is done: no row max, no alpha, no rescale of o. Otherwise (a max grew by more than
    // 14 in base 2, or a row has no max yet: m = -infinity makes the sums inf or NaN) nothing has changed
    // but p_frag, and Step 7 takes the tile from s. The sums add the fp16 P of p_frag itself, two at a time
    // (half2_row_sum, hopper.cuh): half the instructions of fp32 adds, the very P that P V multiplies V by,
    // within 3 roundings of 2^-11 (the grader allows 1%).
    const auto softmax_keeping_max = [&](const float(&s)[32]) {
#pragma unroll
      for (int r = 0; r < 16; ++r) {  // s[2r], s[2r + 1] are one row's: accumulator_row(2r) = r % 2
        const float p0 = exp2_approx(fmaf(s[2 * r], scale_log2, -m[r % 2]));
        const float p1 = exp2_approx(fmaf(s[2 * r + 1], scale_log2, -m[r % 2]));
        p_out[r] = pack_half2(p0, p1);
      }
      const float row0 = half2_row_sum(p_out, 0), row1 = half2_row_sum(p_out, 1);
      constexpr float kLargestP = 16384.f;  // 2^14; "<=" is false for NaN (and inf: an fp16 sum past 65504)
      if (!__all_sync(0xffffffffu, row0 <= kLargestP && row1 <= kLargestP)) return false;
      l[0] += row0, l[1] += row1;
      return true;
    };
    const auto softmax = [&](float(&s)[32], int k) {
      // Step 5: after the last key tile's S (k == keys.last), this consumer no longer reads its Q buffer:
      // release it (q_empty, lane 0 of each warp), so the producer can load a later tile into it. A shared
      // band's Q is never reloaded: nothing to release. Nor is there anything at D = 128, where the given
      // code after Step 3 has released it already (S::kQInRegisters).
      // BEGIN SOLUTION
      if (!S::kQInRegisters && k == keys.last && !shared && lane == 0) mbarrier_arrive(&sm.q_empty[c][buffer]);
      // END SOLUTION

      // Step 6: outside the unmasked middle `full`, hide (-infinity) every score that the window or N hides.
      // Each query sees one run of keys (window.keys_of); mask_outside_rows (hopper.cuh) takes the runs of
      // the thread's two rows, whose queries AccumulatorCoord gives (e = 0: row 0, e = 2: row 1). Mask s
      // itself: the given code right after this step reads it.
      // BEGIN SOLUTION
      if (!full.contains(k)) {
        const AccumulatorCoord at{i0, k * kTileN, warp, lane};
        int first[2], last[2];
        window.keys_of(at(0).i, first[0], last[0]);
        window.keys_of(at(2).i, first[1], last[1]);
        mask_outside_rows(s, at, first, last);
      }
      // END SOLUTION
      // Given: after a walk's first tile, the common case first (softmax_keeping_max); Step 7 when it declines.
      kept_max = kKeepMax && k > keys.first && softmax_keeping_max(s);
      if (kept_max) return;

      // Step 7: the online softmax of stage 04 on the accumulator, in base 2 (scores times scale_log2). The
      // thread holds two rows (accumulator_row(e)), each shared with three other lanes (quad_max): update m
      // (the row max of s * scale_log2, the same on the row's four lanes: softmax_keeping_max and the merge
      // read it so) and l (this thread's share of the sum of P), set alpha[r] = 2^(m_old - m_new), and
      // overwrite s with P = 2^(s * scale_log2 - m) (exp2_approx). Leave o alone: the given code rescales it
      // afterwards (with SWA07_OVERLAP = 1 the tensor cores may still be adding the previous tile's P V to it
      // meanwhile).
      // A row that has seen no key keeps m = -infinity: use 0 in its place, so that every exp2 is
      // exp2(-inf) = 0, never NaN.
      // BEGIN SOLUTION
      float tile_max[2][2] = {{-INFINITY, -INFINITY}, {-INFINITY, -INFINITY}};  // [row][e & 1]: short chains
#pragma unroll
      for (int e = 0; e < 32; ++e)
        tile_max[accumulator_row(e)][e & 1] = fmaxf(tile_max[accumulator_row(e)][e & 1], s[e]);
      float m_use[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float m_new = fmaxf(m[r], quad_max(fmaxf(tile_max[r][0], tile_max[r][1])) * scale_log2);  // scale > 0
        m_use[r] = m_new == -INFINITY ? 0.f : m_new;
        alpha[r] = exp2_approx(m[r] - m_use[r]);
        m[r] = m_new;
      }
      float tile_sum[2][2] = {{0.f, 0.f}, {0.f, 0.f}};  // [row][e & 1], as tile_max
#pragma unroll
      for (int e = 0; e < 32; ++e) {
        s[e] = exp2_approx(fmaf(s[e], scale_log2, -m_use[accumulator_row(e)]));  // P
        tile_sum[accumulator_row(e)][e & 1] += s[e];
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) l[r] = l[r] * alpha[r] + (tile_sum[r][0] + tile_sum[r][1]);
      // END SOLUTION
    };
    const auto hand_back = [&](int k) {
      // Step 8: P V of key tile k has finished: if this consumer's next query tile does not read key tile k
      // (k < keep), hand its stage back (kv_empty, lane 0 of each warp) and move `released` past it;
      // otherwise it stays for that tile.
      // BEGIN SOLUTION
      if (k < keep) {
        if (lane == 0) mbarrier_arrive(&sm.kv_empty[stage_of(k)]);
        released = k + 1;
      }
      // END SOLUTION
    };
    const auto k_of = [&](int k) { return descriptor_plus(k_ring, stage_of(k) * sizeof(sm.k[0])); };
    const auto v_of = [&](int k) { return descriptor_plus(v_ring, stage_of(k) * sizeof(sm.v[0])); };
    const auto issue_s = [&](float(&s)[32], int k) {  // S = Q K^T of key tile k, Q from shared memory or registers
      if constexpr (S::kQInRegisters) issue_scores<D>(s, q_frag, k_of(k));
      else issue_scores<D>(s, q_desc, k_of(k));
    };

    m[0] = m[1] = -INFINITY, l[0] = l[1] = 0.f;  // o: the walk's first P V writes it (accumulate = false)
    // After the wait for a P V: o and p_frag, which it read and wrote, are ordinary registers again.
    const auto fence_pv_registers = [&] {
#pragma unroll
      for (int b = 0; b < S::kColBlocks; ++b) fence_registers(o[b]);
      fence_registers(p_frag);
    };
    const auto rescale = [&] {  // O *= alpha
#pragma unroll
      for (int b = 0; b < S::kColBlocks; ++b)
#pragma unroll
        for (int e = 0; e < 32; ++e) o[b][e] *= alpha[accumulator_row(e)];
    };
    const auto pack = [&](uint32_t(&to)[16], const float(&p_tile)[32]) {  // P as the A fragment of P V
#pragma unroll
      for (int r = 0; r < 16; ++r) to[r] = pack_half2(p_tile[2 * r], p_tile[2 * r + 1]);
    };
    if (keys.first <= keys.last) {
      float s[32];  // S = Q K^T of a key tile, in the accumulator layout (hopper.cuh); then P
      wait_for_key_tile(keys.first);
      wgmma_fence();  // s's registers were last touched by ordinary code
      issue_s(s, keys.first);
      wgmma_wait_group<0>();
      fence_registers(s);
      softmax(s, keys.first);
      pack(p_frag, s);  // no o yet: nothing to rescale
      out.finish(o);  // the last tile's O, if part of it waits in o: the next P V overwrites o
      // o has no value before the first P V overwrites it: say so to the compiler (no instruction), so that it
      // neither zeroes o nor keeps its registers from the start of the tile on.
#pragma unroll
      for (int b = 0; b < S::kColBlocks; ++b) leave_unset(o[b]);
      bool rescale_o = false;  // SWA07_OVERLAP = 1: o waits for the last softmax's alpha
      for (int k = keys.first + 1; k <= keys.last; ++k) {
        wait_for_key_tile(k);
        if constexpr (kOverlap == 1) {  // S first; then O rescaled and P V issued; P V finishes under the softmax
          wgmma_fence();  // s was last read by ordinary code
          issue_s(s, k);
          if (rescale_o) rescale();  // by the alpha of tile k - 1, while S runs
          wgmma_fence();  // o was rescaled and p_frag written by ordinary code
          issue_pv<D>(o, p_frag, v_of(k - 1), k - 1 > keys.first);
          wgmma_wait_group<1>();  // S is in the registers; P V of tile k - 1 may still run
          fence_registers(s);
          keep_before_wgmma_wait([&](int zero) {  // the tile index made opaque: hopper.cuh says why
            softmax(s, k + zero);
            if (!kept_max) pack(p_next, s);
          });
          wgmma_wait_group<0>();  // O += P V of tile k - 1 is done: o and p_frag are free
          fence_pv_registers();
          hand_back(k - 1);  // V of tile k - 1 is free
#pragma unroll
          for (int r = 0; r < 16; ++r) p_frag[r] = p_next[r];
          rescale_o = !kept_max;
        } else {  // both at once, then the softmax: the other consumers keep the tensor cores busy meanwhile
          wgmma_fence();  // o was rescaled and p_frag written by ordinary code
          issue_pv<D>(o, p_frag, v_of(k - 1), k - 1 > keys.first);
          issue_s(s, k);
          wgmma_wait_group<0>();  // S is in the registers; O += P V of tile k - 1 is done: o and p_frag are free
          fence_registers(s);
          fence_pv_registers();  // the softmax may write the next P into p_frag (softmax_keeping_max)
          softmax(s, k);
          hand_back(k - 1);  // V of tile k - 1 is free
          if (!kept_max) rescale(), pack(p_frag, s);
        }
      }
      // The last key tile's O += P V.
      if (rescale_o) rescale();
      wgmma_fence();
      issue_pv<D>(o, p_frag, v_of(keys.last), keys.last > keys.first);
      wgmma_wait_group<0>();
      fence_pv_registers();
      hand_back(keys.last);
    } else {  // no key tile (a shared band's consumer when the window has fewer tiles than consumers): o = 0
      out.finish(o);
#pragma unroll
      for (int b = 0; b < S::kColBlocks; ++b) set_zero(o[b]);
    }

    // Step 9: store this tile's 64 rows, from query i0 on, with out.store (given: it divides by l). A shared
    // tile is stored once, by consumer 0, after the merge below.
    // BEGIN SOLUTION
    if (!shared) out.store(o, l, i0);
    // END SOLUTION
  }
  out.finish(o);  // the band's last tile of this consumer, if part of it waits in o

  // Step 10: hand back the band's key tiles this consumer has not handed back yet (as in Step 3), up to
  // band.last_key: the other consumers may still be waiting for their stages to be refilled.
  // BEGIN SOLUTION
  for (; released <= band.last_key; ++released) {
    const unsigned n = released - band.first_key;
    mbarrier_wait(&sm.kv_full[n % S::kKVStages], (n / S::kKVStages) & 1);
    if (lane == 0) mbarrier_arrive(&sm.kv_empty[n % S::kKVStages]);
  }
  // END SOLUTION

  // A shared query tile: the other consumers' partials go to consumer 0, which stores the merged tile.
  // After Step 10, so that no consumer holds a stage that another's run of key tiles still needs.
  if (shared) {
    if (c > 0) {
      if (band.has_partial<C>(c)) send_partial<D>(sm, c, o, m, l);
    } else {
      merge_partials<D>(sm, band, o, m, l);
      // Step 9 again, for the shared tile: store it (its first query is band.first_tile * kTileM).
      // BEGIN SOLUTION
      out.store(o, l, band.first_tile * kTileM);
      // END SOLUTION
      out.finish(o);
    }
  }
  // Each warp's O stores have read their staging before the block's shared memory goes. Their writes to
  // global memory need no wait: the kernel's end makes them visible to whatever runs after it.
  if (lane == 0) bulk_wait_group_read<0>();
}

// ---------------------------------------------------------------------------------------------------
// The kernel: a block per band; warpgroup 0 produces, warpgroups 1 .. kConsumers consume
// ---------------------------------------------------------------------------------------------------

template <int D>
__global__ void __launch_bounds__(Shape<D>::kThreads, 1)
    sliding_window_attention_wgmma(const __grid_constant__ CUtensorMap q_map, const __grid_constant__ CUtensorMap k_map,
                                   const __grid_constant__ CUtensorMap v_map, const __grid_constant__ CUtensorMap o_map,
                                   const swa::Problem p, const int run_length) {
  using S = Shape<D>;
  if constexpr (SWA07_DIAGNOSTIC == 1) return;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t misalign = smem_address(smem_raw) % kSwizzleAtomBytes;  // launch() allows for this
  SharedStorage<D>& sm =
      *reinterpret_cast<SharedStorage<D>*>(smem_raw + (kSwizzleAtomBytes - misalign) % kSwizzleAtomBytes);
  const Band band(p, run_length);
  const int bh = blockIdx.y;
  // Lane 0's, so that the compiler knows it is the same on every lane (uniform registers, fewer moves).
  const int warpgroup = __shfl_sync(0xffffffffu, threadIdx.x / kWarpgroupThreads, 0);

  if (threadIdx.x == 0) {
    for (int s = 0; s < S::kKVStages; ++s) {
      mbarrier_init(&sm.kv_full[s], 1);  // the producer's arrive_expect_tx; the bytes complete it
      mbarrier_init(&sm.kv_empty[s], S::kConsumerWarps);
    }
    for (int c = 0; c < S::kConsumers; ++c)
      for (int b = 0; b < S::kQStages; ++b) {
        mbarrier_init(&sm.q_full[c][b], 1);
        mbarrier_init(&sm.q_empty[c][b], 4);  // the consumer's four warps
      }
    fence_barrier_init();
  }
  __syncthreads();  // every barrier is initialised before any thread uses one

  if (warpgroup == 0) {
    setmaxnreg_dec<S::kProducerRegisters>();  // the producer needs few registers: give them to the consumers
    if (threadIdx.x == 0) {
      prefetch_tensor_map(&q_map), prefetch_tensor_map(&k_map), prefetch_tensor_map(&v_map);
      produce<D>(sm, band, bh, &q_map, &k_map, &v_map);
    }
    return;
  }
  setmaxnreg_inc<S::kConsumerRegisters>();
  if (threadIdx.x == kWarpgroupThreads) prefetch_tensor_map(&o_map);
  consume<D>(sm, band, p, bh, warpgroup - 1, &o_map);
}

// ---------------------------------------------------------------------------------------------------
// The launcher
// ---------------------------------------------------------------------------------------------------

size_t workspace_bytes(const swa::Problem&) { return 0; }

// Query tiles per band. One block fills a multiprocessor (it takes nearly all of its shared memory), so
// the bands are as long as one wave of blocks allows: every key tile is then loaded once per band and the
// pipeline runs long. A band of one query tile (when the tiles do not outnumber the multiprocessors: one
// head) is shared by the consumers. A consumer keeps key tiles for its next query tile, which is safe only
// while the ring holds all but one of a window's key tiles: a consumer waiting for its next Q holds the key
// tiles from that tile's first on, and the producer loads that Q only after the previous query tile's last
// key tile, which lies window_tiles - 2 further on; the ring must reach it. Otherwise each would wait for
// the other (protocol_sim.py finds the hang). For a wider window (W >= N, say) each consumer takes at most
// one query tile, and every key tile is handed back as soon as it has been read.
template <int D>
int run_length(const swa::Problem& p) {
  using S = Shape<D>;
  const int tiles = swa::ceil_div(p.N, kTileM);
  const swa::Pattern w = as_sliding_window(p.pattern);
  const long long window_tiles = (kTileN - 1LL + w.right) / kTileN + (w.left + kTileN - 1LL) / kTileN + 1;
  int device = 0, multiprocessors = 0;
  SWA_CUDA_CHECK(cudaGetDevice(&device));
  SWA_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
  const long long total = static_cast<long long>(tiles) * p.batch_heads();
  const int run = static_cast<int>(std::min<long long>(tiles, (total + multiprocessors - 1) / multiprocessors));
  return window_tiles > S::kKVStages + 1 ? std::min(run, S::kConsumers) : run;
}

// The four tensor maps of a problem: [B*H][N][D] tensors, boxes of 64 rows by 128 bytes (64 fp16 columns
// of Q, K, V; 32 fp32 columns of O). A map describes only addresses and shapes, so the last ones made are
// kept and made again only for other tensors: a timed loop passes the same ones, and encoding four costs
// microseconds of host time before the launch, which a single head's few microseconds would feel.
struct TensorMaps {
  CUtensorMap q, k, v, o;
};

template <int D>
const TensorMaps& tensor_maps(const swa::Problem& p, const swa::Tensors& t) {
  struct Key {
    const void *q, *k, *v, *o;
    int N, bh;
    bool operator==(const Key& x) const {
      return q == x.q && k == x.k && v == x.v && o == x.o && N == x.N && bh == x.bh;
    }
  };
  thread_local Key last{};
  thread_local TensorMaps maps;
  const Key key{t.q, t.k, t.v, t.o, p.N, p.batch_heads()};
  if (!(key == last)) {
    maps.q = encode_tensor_map(t.q, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, D, p.N, key.bh, 64, kTileM);
    maps.k = encode_tensor_map(t.k, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, D, p.N, key.bh, 64, kTileN);
    maps.v = encode_tensor_map(t.v, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, D, p.N, key.bh, 64, kTileN);
    maps.o = encode_tensor_map(t.o, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, D, p.N, key.bh, Shape<D>::kOutCols, kStoreRows);
    last = key;
  }
  return maps;
}

template <int D>
void launch_with(const swa::Problem& p, const swa::Tensors& t, cudaStream_t stream) {
  const TensorMaps& maps = tensor_maps<D>(p, t);
  const int run = run_length<D>(p);
  const dim3 grid(swa::ceil_div(swa::ceil_div(p.N, kTileM), run), p.batch_heads());  // a block per band
  constexpr size_t bytes = sizeof(SharedStorage<D>) + kSwizzleAtomBytes;  // + room to align the start
  swa::allow_shared_memory(sliding_window_attention_wgmma<D>, bytes, "the K/V ring, Q and O staging buffers");
  sliding_window_attention_wgmma<D>
      <<<grid, Shape<D>::kThreads, bytes, stream>>>(maps.q, maps.k, maps.v, maps.o, p, run);
  SWA_CUDA_CHECK_LAUNCH();
}

constexpr uint32_t kHeadDimsOfStage = swa::head_dim_bit(64) | swa::head_dim_bit(128);

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  swa::with_head_dim<kHeadDimsOfStage>(p.D, [&](auto d) { launch_with<decltype(d)::value>(p, t, stream); });
}

}  // namespace

// What this stage declares (problem.h, section 6): the grader reads it to choose its cases.
constexpr SwaStageInfo kStage = {
    SWA07_NAME,  // name: "07_hopper" (another for a timed variant of it)
    swa::pattern_bit(swa::PatternKind::kSlidingWindow) | swa::pattern_bit(swa::PatternKind::kCausalSlidingWindow),
    kHeadDimsOfStage,  // head dimensions: 64, 128
    kTileM,  // a consumer warpgroup's query tile
    kTileN,  // key tile
    90,
    true};  // the GPU it needs: exactly sm_90a (H100, H200)

SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
