// mma.cuh: the tensor-core building blocks of stage 06, written once (sm_80 and newer).
//
// One thin wrapper per PTX instruction, named after it: ldmatrix (shared memory to fragments), mma.sync
// (one 16 x 8 x 16 matrix product on the tensor cores), cp.async (global to shared memory without a trip
// through registers), cvt (two floats to one register of two fp16). What a stage teaches is how the
// fragments of one product become the operands of the next; these wrappers only name the instructions.
// This header is given code; it holds no stage's answer.
//
// ---------------------------------------------------------------------------------------------------
// The fragments of mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32:   D = A B + C
// ---------------------------------------------------------------------------------------------------
// A warp multiplies a 16 x 16 A (fp16) by a 16 x 8 B (fp16) into a 16 x 8 accumulator C = D (fp32), each
// matrix spread over the 32 lanes. Lane l = 4g + t holds, with g = l / 4 (0..7) and t = l % 4 (0..3):
//
//   A, 16 x 16, fp16: 4 registers of 2 halves        B, 16 x 8, fp16: 2 registers of 2 halves
//           k:  0 1   2 3   4 5   6 7 | 8 9 ... 14 15         n:  0    1    2   ...   7
//     m =  0   T0    T1    T2    T3   | T0  ...  T3     k = 0,1    T0   T4   T8   ...  T28
//     m =  1   T4    T5    T6    T7   | T4  ...  T7     k = 2,3    T1   T5   T9   ...  T29
//     ...                                               k = 4,5    T2   T6   T10  ...  T30
//     m =  7   T28   T29   T30   T31  | T28 ...  T31    k = 6,7    T3   T7   T11  ...  T31
//     m =  8   T0    T1    T2    T3   | T0  ...  T3     k = 8,9    T0   T4   T8   ...  T28
//     ...                                               ...
//     m = 15   T28   T29   T30   T31  | T28 ...  T31    k = 14,15  T3   T7   T11  ...  T31
//
//     a[0]: row g,     cols 2t, 2t+1                    b[0]: rows 2t, 2t+1,     col g
//     a[1]: row g + 8, cols 2t, 2t+1                    b[1]: rows 2t+8, 2t+9,   col g
//     a[2]: row g,     cols 2t+8, 2t+9
//     a[3]: row g + 8, cols 2t+8, 2t+9
//
//   C and D, 16 x 8, fp32: 4 floats                  In each register of two halves, the lower column (A)
//           n:  0 1   2 3   4 5   6 7                   or row (B) is in the low 16 bits.
//     m =  0   T0    T1    T2    T3
//     m =  1   T4    T5    T6    T7                   The accumulator's rows g and g + 8 belong to the
//     ...                                             4 lanes 4g .. 4g+3, 2 columns each: a max or a sum
//     m =  7   T28   T29   T30   T31                  over a row is 2 values in each of those lanes, then
//     m =  8   T0    T1    T2    T3                   __shfl_xor_sync with 1 and with 2.
//     ...
//     m = 15   T28   T29   T30   T31                  c[0], c[1]: row g,     cols 2t, 2t+1
//                                                     c[2], c[3]: row g + 8, cols 2t, 2t+1
//
// Compare A with two accumulators side by side: a[0] and a[1] hold the same (row, col) pairs as c[0..1]
// and c[2..3] of the accumulator of columns 0..7, a[2] and a[3] those of columns 8..15. So the 16 x 16
// accumulators of one product, rounded to fp16 in pairs (pack_half2), are the A operand of the next, with
// no data moving between lanes: attention's P goes from S = Q K^T straight into O += P V this way.
//
// B is "col": its column n is 16 consecutive k values. K stored row-major [key][d] is exactly that for
// S = Q K^T (n = key, k = d). V stored [key][d] is not, for P V (n = d, k = key): ldmatrix.trans turns it.
//
// ---------------------------------------------------------------------------------------------------
// ldmatrix.sync.aligned.m8n8.x4{.trans}.shared.b16: four 8 x 8 fp16 matrices from shared memory
// ---------------------------------------------------------------------------------------------------
// Lanes 8q .. 8q+7 give the addresses of the 8 rows (16 bytes each, 16-byte aligned) of matrix q; lane l
// receives in r[q] row l / 4, columns 2(l % 4), 2(l % 4) + 1 of matrix q: an 8 x 8 quarter of the A or C
// pattern above. With .trans it receives rows 2(l % 4), 2(l % 4) + 1 of column l / 4 instead: the matrix
// transposed on the way, an 8 x 8 quarter of the B pattern read from memory whose rows run along k.
//
// One address rule serves every operand here (ldmatrix_row): lane l points at row l % 16, column
// 8 (l / 16) of a 16 x 16 block, so matrix 0 is rows 0-7 x columns 0-7, matrix 1 rows 8-15 x columns
// 0-7, matrix 2 rows 0-7 x columns 8-15, matrix 3 rows 8-15 x columns 8-15. Then:
//   Q block [16 queries][16 d],         ldmatrix_x4:        r = {a[0], a[1], a[2], a[3]}: the A fragment
//   K block [16 keys][16 d],            ldmatrix_x4:        keys 0-7: b = {r[0], r[2]}, keys 8-15: b = {r[1], r[3]}
//   V block [16 keys][16 d],            ldmatrix_x4_trans:  d 0-7:    b = {r[0], r[1]}, d 8-15:    b = {r[2], r[3]}
//
// Bank conflicts: the 8 rows of one matrix are read together, 16 bytes each, and shared memory serves
// 8 such pieces at once only if they fall in the 8 different 16-byte groups of its 32 banks (address / 16
// mod 8). Rows of 2D bytes (D = 64, 128: a multiple of 128 bytes) would all fall in the same group, an
// 8-way conflict. Padding each row by 16 bytes (D + 8 halves) makes the row stride D/8 + 1 = 3, 5, 9 or 17
// groups, an odd number, so 8 consecutive rows land in 8 different groups for every D in {16, 32, 64, 128}.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "problem.h"
#include "tile_mask.h"

namespace swa::mma {

// The 32-bit shared-memory address PTX wants for a pointer into shared memory.
__device__ inline uint32_t shared_address(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// The address lane `lane` gives ldmatrix_x4 (or _trans) for the 16 x 16 block whose top-left element is
// (row0, col0) of a row-major fp16 tile with `stride` elements per row: row row0 + lane % 16, column
// col0 + 8 (lane / 16) (the address rule above).
__device__ inline const __half* ldmatrix_row(const __half* tile, int stride, int row0, int col0, int lane) {
  return tile + (row0 + lane % 16) * stride + col0 + 8 * (lane / 16);
}

// ldmatrix.sync.aligned.m8n8.x4.shared.b16: r[q] = this lane's two elements of 8 x 8 matrix q.
__device__ inline void ldmatrix_x4(uint32_t (&r)[4], const __half* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row))
               : "memory");
}

// ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16: the same four matrices, each transposed on the way.
__device__ inline void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row))
               : "memory");
}

// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: d += A B, with A in a[0..3] and B in {b0, b1} laid
// out as pictured above; every lane of the warp must execute it together.
__device__ inline void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// cvt.rn.f16x2.f32 d, hi, lo: two floats rounded to fp16 in one register, `lo` in the low 16 bits (the
// lower column of a fragment). Note the order: the instruction's first source goes to the high half.
__device__ inline uint32_t pack_half2(float lo, float hi) {
  uint32_t d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

// ex2.approx.ftz.f32: 2^x in one instruction of the special-function unit, within 2 ulp; 2^-inf = +0.
// .ftz flushes results below 2^-126 to 0 (exp2f keeps them, at the cost of a few more instructions around
// the same one): a softmax term that small is lost against the row's largest, which is 1, anyway.
__device__ inline float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// cp.async.cg.shared.global [dst], [src], 16, src_size: start copying 16 bytes from global to shared
// memory without the registers (.cg: through L2 only, not L1). With in_bounds false, src_size is 0: nothing
// is read and dst receives 16 zero bytes, which is how rows past N arrive as zeros (their scores and values
// must be finite: P = 0 times a garbage V could still be NaN). Both addresses must be 16-byte aligned;
// pass a valid src either way.
__device__ inline void cp_async_16(void* dst, const void* src, bool in_bounds) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)), "l"(src),
               "r"(in_bounds ? 16 : 0)
               : "memory");
}

// cp.async.commit_group: the copies this thread started since the last commit form one group.
__device__ inline void cp_async_commit_group() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// cp.async.wait_group N: wait until at most N of this thread's groups are still in flight (the newest N);
// the older ones have landed. Only this thread's copies: a __syncthreads() after it makes every thread's
// copies visible to the block.
template <int kInFlight>
__device__ inline void cp_async_wait_group() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kInFlight) : "memory");
}

// The (query, key) of register e of a score tile kept as accumulators, float s[kFragments][4]: fragment
// e / 4 holds keys j0 + 8 (e / 4) .. + 7 of the 16 queries from i0, and register e % 4 of this lane is
// row g (+ 8 for registers 2, 3), column 2t (+ 1 for registers 1, 3), with g = lane / 4, t = lane % 4.
// For swa::apply_mask (tile_mask.h), whose two-dimensional form numbers the registers e = 4 * fragment + r:
//     swa::apply_mask(s, mma::AccumulatorCoord{i0, j0, lane}, [&](int i, int j) { return ...; });
struct AccumulatorCoord {
  int i0, j0, lane;
  __device__ QueryKey operator()(int e) const {
    const int fragment = e / 4, r = e % 4;
    return {i0 + lane / 4 + 8 * (r / 2), j0 + 8 * fragment + 2 * (lane % 4) + r % 2};
  }
};

}  // namespace swa::mma
