// solved/04_online_softmax_update.cuh: stage 04's answer, the online softmax update of one key tile.
// Given code from stage 05 on; working on stage 04? Derive it first (docs/online_softmax.md).
#pragma once

#include "../tiles.cuh"

namespace swa::tiles {

// Folds this thread's scores s of one key tile (base 2, hidden ones -infinity) into each row's running
// max m, its share of the running sum l and its columns of the unnormalised output o, and turns s into
// the tile's probabilities P = exp2(s - m_new), ready for store_p. A row that has seen no key yet has
// m_new = -infinity; it uses 0 in its place, so that every term is exp2(-inf) = 0, never NaN.
template <int D>
__device__ void online_softmax_update(float (&s)[kRowsPerThread][kKeysPerThread], float (&m)[kRowsPerThread],
                                      float (&l)[kRowsPerThread],
                                      float (&o)[kRowsPerThread][TileShape<D>::kColsPerThread]) {
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    float tile_max = s[r][0];
#pragma unroll
    for (int c = 1; c < kKeysPerThread; ++c) tile_max = fmaxf(tile_max, s[r][c]);
    const float m_new = fmaxf(m[r], row_max(tile_max));
    const float m_use = m_new == -INFINITY ? 0.f : m_new;
    const float alpha = exp2f(m[r] - m_use);  // how much the terms accumulated so far shrink
    float sum = 0.f;
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) {
      s[r][c] = exp2f(s[r][c] - m_use);
      sum += s[r][c];
    }
    l[r] = l[r] * alpha + sum;
#pragma unroll
    for (int c = 0; c < TileShape<D>::kColsPerThread; ++c) o[r][c] *= alpha;
    m[r] = m_new;
  }
}

}  // namespace swa::tiles
