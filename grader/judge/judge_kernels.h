// judge_kernels.h: the judge's own GPU work for the timed runs: fresh inputs, a reference, checks.
//
// The speed check verifies every output it times (every launch, every head) right after the runner says
// it is done. The CPU reference in double precision (reference.h) is too slow for that many outputs, so
// the judge computes a reference on the GPU, in fp32, with a plain kernel of its own (one warp per query,
// online softmax over exactly the keys Pattern::allows), and checks it against the double-precision
// reference on the first input set of every shape before trusting it (speed_check.cpp). Its error, about
// 1e-6, is far below the tolerance (1e-3).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "problem.h"

namespace swa::judge_gpu {

// Fills count fp16 values uniform in [-amplitude, amplitude] from (seed, index): fresh inputs that no
// one else can predict without the seed.
void fill_uniform(__half* data, size_t count, uint64_t seed, float amplitude, cudaStream_t stream);

// O for problem p (its pattern's arrays in device memory), fp32, into `out`; for `sets` input sets in one
// launch, set s's Q, K and V `input_stride` halves after set s-1's and its O `output_stride` floats after.
void reference_attention(const Problem& p, const __half* q, const __half* k, const __half* v, float* out,
                         cudaStream_t stream, int sets = 1, size_t input_stride = 0, size_t output_stride = 0);

// What a batch's check found, per launch.
struct LaunchCheck {
  unsigned long long unwritten;  // elements still holding the poison (0xffffffff)
  unsigned long long not_finite;  // NaN or infinity (other than the poison)
  unsigned long long too_far;  // |o - ref| > atol + rtol * |ref|
  unsigned long long same_as_previous;  // bit-identical to the same element of the previous launch's output
  unsigned long long zeros;  // exactly 0
  unsigned long long first_bad_from_end;  // count - (index of the first failing element); 0: none
};

// Checks `launches` outputs, launch k at o + k*o_stride against ref + k*ref_stride (floats), `count`
// elements each, adding into checks[launches] (device memory; zero it first, before the clock starts).
void check_outputs(const float* o, size_t o_stride, const float* ref, size_t ref_stride, size_t count, int launches,
                   float atol, float rtol, LaunchCheck* checks, cudaStream_t stream);

// A 64-bit digest of `regions` regions of `bytes` bytes each (a multiple of 8), `stride` bytes apart: Q, K
// and V of every input set, before and after a batch, must agree.
uint64_t digest(const void* first, size_t bytes, size_t stride, int regions, cudaStream_t stream);

// Whether another process has work on the GPU. The GPU time-slices between processes: while another's
// kernels run, this one's are switched out. The probe runs `chunks` short chunks of fixed work and reads
// the GPU's clock (%globaltimer) after each: a chunk that took far longer than the others was switched
// out. Clock speed changes (an idle GPU runs slower) stretch every chunk alike, so they do not look like that.
struct Probe {
  double longest_chunk_us = 0;  // the longest time between two consecutive clock readings
  double total_ms = 0;
};
Probe probe(int chunks, cudaStream_t stream);

}  // namespace swa::judge_gpu
