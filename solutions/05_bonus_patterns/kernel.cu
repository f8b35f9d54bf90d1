// Stage 05 (bonus): other structured patterns with one kernel, each part of a pattern computed its own way.
//
// Adds to stage 04: the pattern is a parameter. Sliding, causal, dilated, global + local, adaptive,
// exponential, block-diagonal and sink patterns all run through one online-softmax kernel. A pattern is
// made of parts (problem.h, section 2; docs/patterns.md), and each part is computed the way that suits it:
//   - the rows' local windows and the keys every query sees (global keys, sinks): tile by tile as in
//     stage 04, walking only the key tiles they touch (TileWalk, tile_mask.h) and masking only the partial
//     ones, by comparing each key with its row's window (ThreadRows below);
//   - the exponential pattern's offsets, keys i +- W*2^k: gathered one key per row at a time (about
//     2 log2(N/W) of them per query), where visiting their tiles would compute 64 x 64 scores to use 64;
//   - the rows that see every key (global positions): apart, as full attention over the gathered global
//     rows, the key tiles split over several blocks so that no block walks the whole sequence alone; a
//     second, small kernel merges the pieces (their running max, sum and output, as in the online softmax).
//
// In stages/ the steps marked TODO(student) are yours to write; the instructor's solutions/ holds the answers.
// Build, test and grade: README.md at the top. What to do: README.md in this folder.
//
// Speed: proportional to the key tiles the walk visits, as stage 04, plus a few gathered keys per query
// for the exponential pattern. The kernel is compiled once per kind of parts (Parts below), so a
// pattern's mask costs two comparisons a score and carries no code of the other patterns.
#include <algorithm>

#include "solved/02_load_tile.cuh"  // load_tile: stage 02's copy, vectorised
#include "solved/04_online_softmax_update.cuh"  // online_softmax_update: stage 04's answer
#include "stage.h"
#include "tiles.cuh"

namespace {

using namespace swa::tiles;
using swa::PatternKind;

// The parts a pattern has beside its local windows, which decide what the kernel compiles in.
enum class Parts {
  kWindows,  // sliding, causal, adaptive, block-diagonal: the windows alone
  kDilatedWindows,  // dilated: windows of every d-th key
  kWindowsAndSharedKeys,  // global + local, sinks: also keys every query sees (and global rows)
  kWindowsAndOffsets,  // exponential: also the offsets, gathered
};
// The pattern kinds of each: a kernel compiled for one kind of parts leaves out the others' code.
__host__ __device__ constexpr uint32_t kinds_of(Parts parts) {
  using swa::pattern_bit;
  switch (parts) {
    case Parts::kWindows:
      return pattern_bit(PatternKind::kSlidingWindow) | pattern_bit(PatternKind::kCausalSlidingWindow) |
             pattern_bit(PatternKind::kAdaptive) | pattern_bit(PatternKind::kBlockDiagonal);
    case Parts::kDilatedWindows: return pattern_bit(PatternKind::kDilated);
    case Parts::kWindowsAndSharedKeys: return pattern_bit(PatternKind::kGlobalLocal) | pattern_bit(PatternKind::kSinks);
    case Parts::kWindowsAndOffsets: return pattern_bit(PatternKind::kExponential);
  }
  return 0;
}
__host__ __device__ constexpr Parts parts_of(PatternKind kind) {
  return kind == PatternKind::kDilated                                      ? Parts::kDilatedWindows
         : kind == PatternKind::kGlobalLocal || kind == PatternKind::kSinks ? Parts::kWindowsAndSharedKeys
         : kind == PatternKind::kExponential                                ? Parts::kWindowsAndOffsets
                                                                            : Parts::kWindows;
}

// The blocks of one launch, for each (batch, head): first the pieces of the rows that see every key
// (the heaviest blocks, so they start first), then one block per query tile.
struct Schedule {
  int every_key_blocks = 0;  // row tiles * splits: 0 unless the pattern has global positions
  int splits = 1;  // each tile of 64 global rows is split into this many runs of key tiles
  int tiles_per_split = 0;  // key tiles per run
  float* partial_o = nullptr;  // splits > 1: [B*H][splits][num_global][D], the pieces' unnormalised O
  float2* partial_ml = nullptr;  // splits > 1: [B*H][splits][num_global], their (m, l)
};

// ---------------------------------------------------------------------------------------------------
// The mask of a partial tile
// ---------------------------------------------------------------------------------------------------

// What the mask needs to know of this thread's 4 keys j = j_first + 16c of the current tile.
struct ThreadKeys {
  int j_first;  // j0 + tx
  bool shared[kKeysPerThread];  // kWindowsAndSharedKeys: every query sees key j (and j < N)
  // kDilatedWindows: a dilated row sees only the keys j with j - i a multiple of d. For this thread's
  // scores j - i = (j_first - i_first) + 16 (c - r), seven differences: bit c - r + 3 says d divides it.
  uint32_t on_grid;
};
static_assert(kThreadRows == kThreadCols, "a thread's rows and keys are 16 apart alike: j - i steps by 16");
constexpr int kFirstDifference = -(kRowsPerThread - 1);  // the smallest c - r, bit 0 of on_grid
constexpr int kDifferences = kRowsPerThread + kKeysPerThread - 1;  // c - r = -3 .. 3

template <Parts kParts>
__device__ ThreadKeys thread_keys(const swa::Pattern& pattern, int N, int j0, int tx, int i_first) {
  ThreadKeys keys;
  keys.j_first = j0 + tx;
#pragma unroll
  for (int c = 0; c < kKeysPerThread; ++c) {
    const int j = keys.j_first + kThreadCols * c;
    keys.shared[c] = kParts == Parts::kWindowsAndSharedKeys && j < N && pattern.every_query_sees(j);
  }
  keys.on_grid = 0;
  if constexpr (kParts == Parts::kDilatedWindows) {
    const int d = pattern.dilation, step = kThreadCols % d;  // the differences grow by 16 = step (mod d)
    int x = (keys.j_first - i_first + kThreadCols * kFirstDifference) % d;  // the first difference, mod d
    if (x < 0) x += d;
#pragma unroll
    for (int k = 0; k < kDifferences; ++k) {
      keys.on_grid |= static_cast<uint32_t>(x == 0) << k;
      x += step;
      if (x >= d) x -= d;
    }
  }
  return keys;
}

// This thread's rows, i = i0 + ty + 16r, each with its local window cut to the sequence: a partial
// tile's mask compares a key with them (two comparisons) instead of asking the pattern (a switch, and
// for the adaptive windows a memory read). A row past N has an empty window.
template <Parts kParts>
struct ThreadRows {
  int i_first;  // i0 + ty
  int first[kRowsPerThread], last[kRowsPerThread];  // keys [first, last]

  __device__ ThreadRows(const swa::Pattern& pattern, int N, int i0, int ty) : i_first(i0 + ty) {
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r) {
      const int i = i_first + kThreadRows * r;
      const swa::Pattern::LocalWindow w = i < N ? pattern.local_window(i) : swa::Pattern::LocalWindow{1, 0, 1};
      first[r] = static_cast<int>(w.first < 0 ? 0 : w.first);
      last[r] = static_cast<int>(w.last < N ? w.last : N - 1);
    }
  }
  // May query i see key j, i and j the position of one of this thread's scores (score_coord)? The
  // row and the column follow from them: r = (i - i_first) / 16, c = (j - j_first) / 16, constants
  // once apply_mask's loops are unrolled, so the arrays stay in registers.
  __device__ bool sees(int i, int j, const ThreadKeys& keys) const {
    const int r = (i - i_first) / kThreadRows, c = (j - keys.j_first) / kThreadCols;
    bool seen = first[r] <= j && j <= last[r];
    if constexpr (kParts == Parts::kDilatedWindows) seen = seen && ((keys.on_grid >> (c - r - kFirstDifference)) & 1u);
    if constexpr (kParts == Parts::kWindowsAndSharedKeys) seen = seen || keys.shared[c];
    return seen;
  }
};

// ---------------------------------------------------------------------------------------------------
// Pieces of the online softmax (stage 04), shared by the query tiles and the global rows
// ---------------------------------------------------------------------------------------------------

template <int D>
using Output = float[kRowsPerThread][TileShape<D>::kColsPerThread];  // this thread's columns of O

// Load key tile j0 (K and V) and compute this thread's piece of S = Q K^T, scaled to base 2.
template <int D, class Elem>
__device__ void key_tile_scores(float (&s)[kRowsPerThread][kKeysPerThread], const SharedTiles<D, Elem>& tile,
                                const __half* k_head, const __half* v_head, int j0, int N, float scale_log2, int ty,
                                int tx) {
  __syncthreads();  // every thread is done with the previous K, V and P tiles
  load_tile<D>(tile.k, k_head, j0, N);
  load_tile<D>(tile.v, v_head, j0, N);
  __syncthreads();  // Q, K and V are complete before any thread reads them
  tile_scores<D>(s, tile.q, tile.k, ty, tx);
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) s[r][c] *= scale_log2;
}

// Fold a key tile's scores (hidden ones -infinity) into the rows' m, l and O: P = exp2(S - m), O += P V.
template <int D, class Elem>
__device__ void fold_key_tile(float (&s)[kRowsPerThread][kKeysPerThread], float (&m)[kRowsPerThread],
                              float (&l)[kRowsPerThread], Output<D>& o, const SharedTiles<D, Elem>& tile, int ty,
                              int tx) {
  online_softmax_update<D>(s, m, l, o);
  store_p(tile.p, s, ty, tx);
  __syncthreads();  // all of P is in shared memory before any thread reads a row of it
  tile_pv<D>(o, tile.p, tile.v, ty, tx);
}

// The two halves of a 32-bit word (the first one at the lower address) as floats, by value: no pointer to
// the word is taken, so it stays a register (and a host compiler reading the kernel for the CPU check
// has no type punning to misread).
__device__ inline float2 halves_to_floats(unsigned word) {
  return make_float2(__half2float(__ushort_as_half(static_cast<unsigned short>(word & 0xffffu))),
                     __half2float(__ushort_as_half(static_cast<unsigned short>(word >> 16))));
}

// n = 1, 2 or 4 consecutive halves of K or V, read from global memory in one access and kept as they came
// (8 bytes in two registers for n = 4, not 16 in four) until they are used: fold_offset_keys holds 16
// such reads in flight at once. (Values, not a pointer into a register array: they stay registers.)
template <int n>
struct Halves {
  uint2 bits;
  __device__ void load(const __half* src) {
    if constexpr (n == 4) bits = *reinterpret_cast<const uint2*>(src);
    if constexpr (n == 2) bits.x = *reinterpret_cast<const unsigned*>(src);
    if constexpr (n == 1) bits.x = *reinterpret_cast<const unsigned short*>(src);
  }
  __device__ void clear() { bits = make_uint2(0, 0); }
  __device__ float operator[](int e) const {  // e < n
    const float2 pair = halves_to_floats(e < 2 ? bits.x : bits.y);
    return e % 2 == 0 ? pair.x : pair.y;
  }
};

// Fold the keys i - d and i + d of each of this thread's rows i into the rows' softmax (a key outside the
// sequence is left out). The 16 threads of a row each hold D/16 of its columns: each multiplies its
// columns of q_i and k_j, row_sum adds the 16 parts (every thread gets the same score), and each updates
// its own columns of O with p * v_j; the row's sum l is kept in the share of thread tx = 0. K and V come
// straight from global memory (L2 mostly): the 16 threads of a row read one 2*D-byte row together, and
// all 16 reads of a thread are issued before the first is used, so that their latencies overlap.
template <int D, class Elem>
__device__ void fold_offset_keys(long long d, const Elem* q_tile, const __half* k_head, const __half* v_head,
                                 int i_first, int N, float scale_log2, float (&m)[kRowsPerThread],
                                 float (&l)[kRowsPerThread], Output<D>& o, int ty, int tx) {
  using Shape = TileShape<D, Elem>;
  constexpr int kCols = Shape::kColsPerThread, kVec = Shape::kVec, kSides = 2;  // side 0: i - d, side 1: i + d
  constexpr int kGroups = kCols / kVec;  // this thread's columns c = g * kVec + e: group g, element e
  Halves<kVec> k[kSides][kRowsPerThread][kGroups], v[kSides][kRowsPerThread][kGroups];
  bool exists[kSides][kRowsPerThread];
#pragma unroll
  for (int side = 0; side < kSides; ++side)
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r) {
      const int i = i_first + kThreadRows * r;
      const long long j = side == 0 ? i - d : i + d;
      exists[side][r] = i < N && 0 <= j && j < N;
      const size_t at = static_cast<size_t>(exists[side][r] ? j : 0) * D;
#pragma unroll
      for (int g = 0; g < kGroups; ++g) {
        if (exists[side][r]) {
          k[side][r][g].load(k_head + at + Shape::out_col(tx, g * kVec));
          v[side][r][g].load(v_head + at + Shape::out_col(tx, g * kVec));
        } else {
          k[side][r][g].clear(), v[side][r][g].clear();
        }
      }
    }
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    float q[kCols];
#pragma unroll
    for (int c = 0; c < kCols; c += kVec)
      read_vec<kVec>(&q[c], q_tile + (ty + kThreadRows * r) * Shape::kRowStride + Shape::out_col(tx, c));
    float s[kSides];
#pragma unroll
    for (int side = 0; side < kSides; ++side) {
      float part = 0.f;
#pragma unroll
      for (int c = 0; c < kCols; ++c) part += q[c] * k[side][r][c / kVec][c % kVec];
      const float score = row_sum(part) * scale_log2;  // all 32 lanes take part, whatever `exists` says
      s[side] = exists[side][r] ? score : -INFINITY;
    }
    // The online update (solved/04_online_softmax_update.cuh) for a tile of these two keys.
    const float m_new = fmaxf(m[r], fmaxf(s[0], s[1]));
    const float m_use = m_new == -INFINITY ? 0.f : m_new;  // a row that has seen nothing: no NaN
    const float alpha = exp2f(m[r] - m_use), p0 = exp2f(s[0] - m_use), p1 = exp2f(s[1] - m_use);
    l[r] = l[r] * alpha + (tx == 0 ? p0 + p1 : 0.f);
#pragma unroll
    for (int c = 0; c < kCols; ++c)
      o[r][c] = o[r][c] * alpha + p0 * v[0][r][c / kVec][c % kVec] + p1 * v[1][r][c / kVec][c % kVec];
    m[r] = m_new;
  }
}

// Copy the rows row_of(0..63) of one head's [N, D] matrix into a shared tile (a negative row: zeros):
// load_tile for rows that are not consecutive, here the global positions.
template <int D, class Elem, class RowOf>
__device__ void load_rows(Elem* tile, const __half* head, RowOf row_of) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int e = threadIdx.x; e < swa::kTileM * kChunks; e += kThreads) {
    const int r = e / kChunks, chunk = e % kChunks;
    const int row = row_of(r);
    const uint4 raw = row >= 0 ? *reinterpret_cast<const uint4*>(head + static_cast<size_t>(row) * D + chunk * 8)
                               : make_uint4(0, 0, 0, 0);
    Elem* dst = tile + r * TileShape<D, Elem>::kRowStride + chunk * 8;
    if constexpr (std::is_same_v<Elem, __half>) {
      *reinterpret_cast<uint4*>(dst) = raw;  // 8 halves as they are
    } else {
      const float2 a = halves_to_floats(raw.x), b = halves_to_floats(raw.y);
      const float2 c = halves_to_floats(raw.z), d = halves_to_floats(raw.w);
      *reinterpret_cast<float4*>(dst) = make_float4(a.x, a.y, b.x, b.y);
      *reinterpret_cast<float4*>(dst + 4) = make_float4(c.x, c.y, d.x, d.y);
    }
  }
}

// Normalise this thread's rows and write row r to O's row row_of(r), or nowhere if that is negative:
// store_normalized (tiles.cuh) for rows that are not consecutive or not all this block's to write.
template <int D, class RowOf>
__device__ void store_rows(float* o_head, Output<D>& o, const float (&l)[kRowsPerThread], RowOf row_of, int tx) {
  using Shape = TileShape<D>;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    const float row_l = row_sum(l[r]);  // all 32 lanes take part
    const float inv_l = row_l > 0.f ? 1.f / row_l : 0.f;
    const int i = row_of(r);
    if (i < 0) continue;
#pragma unroll
    for (int c = 0; c < Shape::kColsPerThread; c += Shape::kVec) {
      float x[Shape::kVec];
#pragma unroll
      for (int e = 0; e < Shape::kVec; ++e) x[e] = o[r][c + e] * inv_l;
      write_vec<Shape::kVec>(o_head + static_cast<size_t>(i) * D + Shape::out_col(tx, c), x);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The rows that see every key: full attention over the gathered global rows, in pieces
// ---------------------------------------------------------------------------------------------------

// Block `piece` of head bh: global rows [64 * row_tile, +64) against key tiles [first, last) of its split.
// With one split it writes O; with several, its piece of each row (m, l and the unnormalised O) goes to
// the workspace for merge_every_key_rows.
template <int D, class Elem>
__device__ void every_key_rows(const swa::Problem& p, const swa::Tensors& t, const Schedule& sched, int bh, int piece,
                               const SharedTiles<D, Elem>& tile, int ty, int tx) {
  const swa::Pattern& pat = p.pattern;
  const int row_tile = piece / sched.splits, split = piece % sched.splits;
  const int q0 = row_tile * swa::kTileM;  // this block's rows: global positions #q0 .. #q0+63
  const int rows = swa::min_int(swa::kTileM, pat.num_global - q0);
  const int first = split * sched.tiles_per_split;
  const int last = swa::min_int(first + sched.tiles_per_split, swa::ceil_div(p.N, swa::kTileN));
  load_rows<D>(tile.q, t.q + p.row_offset(bh, 0), [&](int r) { return r < rows ? pat.global_positions[q0 + r] : -1; });

  float m[kRowsPerThread], l[kRowsPerThread] = {};
  Output<D> o = {};
  for (float& x : m) x = -INFINITY;
  for (int n = first; n < last; ++n) {  // every key tile of the run: full, but for keys past N
    const int j0 = n * swa::kTileN;
    float s[kRowsPerThread][kKeysPerThread];
    key_tile_scores<D>(s, tile, t.k + p.row_offset(bh, 0), t.v + p.row_offset(bh, 0), j0, p.N, p.scale * kLog2e, ty,
                       tx);
    if (j0 + swa::kTileN > p.N) swa::apply_mask(s, score_coord(0, j0, ty, tx), [&](int, int j) { return j < p.N; });
    fold_key_tile<D>(s, m, l, o, tile, ty, tx);
  }

  if (sched.splits == 1) {
    store_rows<D>(
        t.o + p.row_offset(bh, 0), o, l,
        [&](int r) {
          const int k = ty + kThreadRows * r;  // this block's row k: global position #(q0 + k)
          return k < rows ? pat.global_positions[q0 + k] : -1;
        },
        tx);
    return;
  }
  using Shape = TileShape<D>;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    const float row_l = row_sum(l[r]);  // all 32 lanes take part
    const int q = q0 + ty + kThreadRows * r;  // global position #q
    if (q - q0 >= rows) continue;
    const size_t at = (static_cast<size_t>(bh) * sched.splits + split) * pat.num_global + q;
    if (tx == 0) sched.partial_ml[at] = make_float2(m[r], row_l);
#pragma unroll
    for (int c = 0; c < Shape::kColsPerThread; c += Shape::kVec)
      write_vec<Shape::kVec>(sched.partial_o + at * D + Shape::out_col(tx, c), &o[r][c]);
  }
}

// O of every global row from its pieces: with M the largest of their maxima m_s,
//     O = sum_s 2^(m_s - M) O_s / sum_s 2^(m_s - M) l_s
// (the online softmax's rescaling, done once at the end). A thread per (row, column); blockIdx.x is the head.
template <int D>
__global__ void merge_every_key_rows(swa::Problem p, swa::Tensors t, Schedule sched) {
  const int bh = blockIdx.x, rows = p.pattern.num_global;
  for (int e = blockIdx.y * blockDim.x + threadIdx.x; e < rows * D; e += gridDim.y * blockDim.x) {
    const int q = e / D, col = e % D;
    const size_t first = static_cast<size_t>(bh) * sched.splits * rows + q;  // piece 0 of row q; then + rows
    float m_max = -INFINITY;
    for (int s = 0; s < sched.splits; ++s) m_max = fmaxf(m_max, sched.partial_ml[first + s * rows].x);
    float l = 0.f, o = 0.f;
    for (int s = 0; s < sched.splits; ++s) {
      const float2 ml = sched.partial_ml[first + s * rows];
      const float w = exp2f(ml.x - m_max);  // each piece saw a key, so m_s and m_max are finite
      l += w * ml.y;
      o += w * sched.partial_o[(first + s * rows) * D + col];
    }
    t.o[p.row_offset(bh, p.pattern.global_positions[q]) + col] = o / l;
  }
}

// ---------------------------------------------------------------------------------------------------
// The kernel
// ---------------------------------------------------------------------------------------------------

template <int D, class Elem, Parts kParts>
__global__ void __launch_bounds__(kThreads, kBlocksPerSM<D, Elem>)
    structured_attention(swa::Problem p, swa::Tensors t, Schedule sched) {
  extern __shared__ __align__(16) unsigned char smem[];  // the tiles are read 16 bytes at a time
  const SharedTiles<D, Elem> tile = SharedTiles<D, Elem>::carve(smem);
  const int bh = block_batch_head();
  const int ty = threadIdx.x / kThreadCols, tx = threadIdx.x % kThreadCols;
  if constexpr (kParts == Parts::kWindowsAndSharedKeys) {
    if (block_query_tile() < sched.every_key_blocks) {  // the same answer for the whole block
      // Step 1: this block is piece number blockIdx.y of the rows that see every key (the global
      // positions; Schedule): compute it with every_key_rows.
      // BEGIN SOLUTION
      every_key_rows<D>(p, t, sched, bh, block_query_tile(), tile, ty, tx);
      // END SOLUTION
      return;
    }
  }
  const int m_tile = block_query_tile() - sched.every_key_blocks;
  const int i0 = m_tile * swa::kTileM;
  const __half* k_head = t.k + p.row_offset(bh, 0);
  const __half* v_head = t.v + p.row_offset(bh, 0);
  const float scale_log2 = p.scale * kLog2e;
  const auto walk = swa::TileWalk<kinds_of(kParts)>::of(p.pattern, p.N, swa::kTileM, swa::kTileN, m_tile);
  const ThreadRows<kParts> rows(p.pattern, p.N, i0, ty);
  const int end = walk.num_key_tiles();

  load_tile<D>(tile.q, t.q + p.row_offset(bh, 0), i0, p.N);

  float m[kRowsPerThread], l[kRowsPerThread] = {};
  Output<D> o = {};
  for (float& x : m) x = -INFINITY;

  // Step 2: the first key tile this query tile visits: the first that holds a key of its rows' local
  // windows or a key every query sees (TileWalk::first). `end` means there is none.
  int n = end;
  // BEGIN SOLUTION
  n = walk.first();
  // END SOLUTION
  while (n < end) {
    const int j0 = n * swa::kTileN;
    float s[kRowsPerThread][kKeysPerThread];
    key_tile_scores<D>(s, tile, k_head, v_head, j0, p.N, scale_log2, ty, tx);

    // Step 3: the mask. A full tile (TileWalk::classify) needs none. In a partial one, hide (-infinity)
    // every score whose key its row does not see: apply_mask (tile_mask.h) with the (i, j) of score_coord
    // (tiles.cuh), asking rows.sees(i, j, keys), where keys = thread_keys<kParts>(p.pattern, p.N, j0, tx,
    // rows.i_first) describes this thread's keys of the tile (keys past N are never seen).
    // BEGIN SOLUTION
    if (walk.classify(n) != swa::TileClass::kFull) {
      const ThreadKeys keys = thread_keys<kParts>(p.pattern, p.N, j0, tx, rows.i_first);
      swa::apply_mask(s, score_coord(i0, j0, ty, tx), [&](int i, int j) { return rows.sees(i, j, keys); });
    }
    // END SOLUTION

    // The online softmax of stage 04. Partial tiles often leave a row with no visible key (a dilated
    // row whose keys all fall in other tiles, a row whose window starts after the tile); the update keeps
    // such rows at exactly zero weight rather than NaN.
    fold_key_tile<D>(s, m, l, o, tile, ty, tx);

    // Step 4: the next key tile to visit (TileWalk::next): not simply n + 1, since a dilated window or
    // the global keys leave empty tiles in between.
    int next = end;
    // BEGIN SOLUTION
    next = walk.next(n);
    // END SOLUTION
    n = next;
  }

  if constexpr (kParts == Parts::kWindowsAndOffsets) {
    __syncthreads();  // all of Q is in shared memory before any thread reads it (the walk's barriers said so too)
    // Step 5: the offsets of the exponential pattern. For every distance d = W * 2^k beyond the local
    // window (Pattern::first_offset_level) and inside the sequence (d < N), fold the keys i - d and
    // i + d of every row into its softmax with fold_offset_keys.
    // BEGIN SOLUTION
    const swa::Pattern& pat = p.pattern;
    for (long long d = static_cast<long long>(pat.dilation) << pat.first_offset_level(); d < p.N; d *= 2)
      fold_offset_keys<D>(d, tile.q, k_head, v_head, rows.i_first, p.N, scale_log2, m, l, o, ty, tx);
    // END SOLUTION
  }

  // Step 6: normalise and store the rows that exist (i < N), as in stage 04 but with store_rows, which
  // writes row r of this thread to the query the given function names (or nowhere, given -1). A row that
  // sees every key (Pattern::sees_every_key) is written by the blocks of the global rows instead.
  // BEGIN SOLUTION
  store_rows<D>(
      t.o + p.row_offset(bh, 0), o, l,
      [&](int r) {
        const int i = rows.i_first + kThreadRows * r;
        const bool elsewhere = kParts == Parts::kWindowsAndSharedKeys && p.pattern.sees_every_key(i);
        return i < p.N && !elsewhere ? i : -1;
      },
      tx);
  // END SOLUTION
}

// ---------------------------------------------------------------------------------------------------
// The launcher
// ---------------------------------------------------------------------------------------------------

// The pieces of the global rows for problem p. Each tile of 64 global rows walks every key tile; split
// into runs about as long as an ordinary query tile's walk (its window's tiles), those blocks take no
// longer than the others, so one head at N = 2048 is not as slow as full attention. The pieces' partial
// results take splits * num_global * (D + 2) floats per head of the workspace, which stays within the
// kit's memory rule of 64 bytes per query row (docs/grading.md); where that leaves fewer than two
// pieces, there is one, which writes O itself.
Schedule schedule(const swa::Problem& p) {
  Schedule s;
  const swa::Pattern& pat = p.pattern;
  if (pat.kind != PatternKind::kGlobalLocal || pat.num_global == 0) return s;
  const int key_tiles = swa::ceil_div(p.N, swa::kTileN), row_tiles = swa::ceil_div(pat.num_global, swa::kTileM);
  const long long window = 1LL + pat.left + pat.right;  // an ordinary query's keys
  const int run = static_cast<int>(std::max(2LL, std::min<long long>(key_tiles, window / swa::kTileN + 2)));
  const long long budget = 64LL * p.N / (static_cast<long long>(pat.num_global) * (p.D + 2) * sizeof(float));
  const long long grid_room = (65535LL - swa::ceil_div(p.N, swa::kTileM)) / row_tiles;  // gridDim.y
  const long long splits = std::min({static_cast<long long>(swa::ceil_div(key_tiles, run)), budget, grid_room});
  s.splits = static_cast<int>(std::max(1LL, splits));
  s.tiles_per_split = swa::ceil_div(key_tiles, s.splits);
  s.splits = swa::ceil_div(key_tiles, s.tiles_per_split);  // no piece without a key tile
  s.every_key_blocks = row_tiles * s.splits;
  return s;
}

size_t partial_o_floats(const swa::Problem& p, const Schedule& s) {
  return static_cast<size_t>(p.batch_heads()) * s.splits * p.pattern.num_global * p.D;
}

size_t workspace_bytes(const swa::Problem& p) {
  const Schedule s = schedule(p);
  if (s.splits == 1) return 0;
  return partial_o_floats(p, s) * sizeof(float) +
         static_cast<size_t>(p.batch_heads()) * s.splits * p.pattern.num_global * sizeof(float2);
}

// As tiles::launch_tiled, with the schedule's blocks in front of the query tiles.
template <int D, Parts kParts>
void launch_parts(const swa::Problem& p, const swa::Tensors& t, const Schedule& s, cudaStream_t stream) {
  const dim3 grid(p.batch_heads(), s.every_key_blocks + swa::ceil_div(p.N, swa::kTileM));
  constexpr auto kFloat = structured_attention<D, float, kParts>;
  constexpr auto kCompact = structured_attention<D, CompactElem<D>, kParts>;
  constexpr size_t kFloatBytes = SharedTiles<D, float>::bytes(),
                   kCompactBytes = SharedTiles<D, CompactElem<D>>::bytes();
  if (kFloatBytes <= static_cast<size_t>(swa::shared_memory_limit())) {
    swa::allow_shared_memory(kFloat, kFloatBytes, "the float tiles");
    kFloat<<<grid, kThreads, kFloatBytes, stream>>>(p, t, s);
  } else {
    swa::allow_shared_memory(kCompact, kCompactBytes, "the compact (fp16) tiles");
    kCompact<<<grid, kThreads, kCompactBytes, stream>>>(p, t, s);
  }
  SWA_CUDA_CHECK_LAUNCH();
}

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t stream) {
  Schedule s = schedule(p);
  if (s.splits > 1) {
    s.partial_o = static_cast<float*>(ws.ptr);
    s.partial_ml = reinterpret_cast<float2*>(s.partial_o + partial_o_floats(p, s));  // 16-byte aligned: D % 4 == 0
  }
  swa::with_head_dim(p.D, [&](auto d) {
    constexpr int D = decltype(d)::value;
    switch (parts_of(p.pattern.kind)) {
      case Parts::kWindows: launch_parts<D, Parts::kWindows>(p, t, s, stream); break;
      case Parts::kDilatedWindows: launch_parts<D, Parts::kDilatedWindows>(p, t, s, stream); break;
      case Parts::kWindowsAndSharedKeys: launch_parts<D, Parts::kWindowsAndSharedKeys>(p, t, s, stream); break;
      case Parts::kWindowsAndOffsets: launch_parts<D, Parts::kWindowsAndOffsets>(p, t, s, stream); break;
    }
    // Step 7: where the schedule split the global rows (s.splits > 1), merge their pieces into O once
    // the kernel is done: launch merge_every_key_rows<D> on the same stream (stream order makes it wait),
    // a block of kThreads per head and per kThreads of the num_global * D values it writes.
    // BEGIN SOLUTION
    if (s.splits > 1) {
      const int rows = p.pattern.num_global;
      const dim3 grid(p.batch_heads(), swa::min_int(swa::ceil_div(rows * D, kThreads), 65535));
      merge_every_key_rows<D><<<grid, kThreads, 0, stream>>>(p, t, s);
      SWA_CUDA_CHECK_LAUNCH();
    }
    // END SOLUTION
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
