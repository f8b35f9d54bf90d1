// solved/02_load_tile.cuh: stage 02's answer, the cooperative tile copy, vectorised. Given code from
// stage 03 on; working on stage 02? Write your own copy first (stages/02_tiled_smem/README.md).
#pragma once

#include "../tiles.cuh"

namespace swa::tiles {

// Copy rows [row0, row0 + 64) of one head's [N, D] fp16 matrix into a shared tile of Elem (float or
// __half), all 256 threads together: each thread moves 16 bytes (8 halves) at a time, consecutive threads
// along a row, so each warp reads whole rows (coalesced). Rows past N are filled with zeros: a partial
// tile holds no garbage.
template <int D, class Elem>
__device__ void load_tile(Elem* tile, const __half* head, int row0, int N) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int e = threadIdx.x; e < kTileM * kChunks; e += kThreads) {
    const int r = e / kChunks, chunk = e % kChunks;
    Elem* dst = tile + r * TileShape<D, Elem>::kRowStride + chunk * 8;
    const uint4 raw = row0 + r < N
                          ? *reinterpret_cast<const uint4*>(head + static_cast<size_t>(row0 + r) * D + chunk * 8)
                          : make_uint4(0, 0, 0, 0);  // +0.0 in fp16 is all zero bits
    if constexpr (std::is_same_v<Elem, __half>) {
      *reinterpret_cast<uint4*>(dst) = raw;  // 8 halves as they are
    } else {
      const __half2* h = reinterpret_cast<const __half2*>(&raw);
      const float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
      const float2 c = __half22float2(h[2]), d = __half22float2(h[3]);
      *reinterpret_cast<float4*>(dst) = make_float4(a.x, a.y, b.x, b.y);
      *reinterpret_cast<float4*>(dst + 4) = make_float4(c.x, c.y, d.x, d.y);
    }
  }
}

}  // namespace swa::tiles
