// judge_kernels.cu: the judge's GPU work for timed runs (judge_kernels.h).
#include <algorithm>
#include <chrono>

#include "cuda_check.h"
#include "judge_kernels.h"

namespace swa::judge_gpu {
namespace {

constexpr int kWarp = 32;
constexpr int kMaxPerLane = kMaxHeadDim / kWarp;  // 4 output columns per lane at D = 128

__device__ uint64_t mix(uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

__global__ void fill_kernel(__half* data, size_t count, uint64_t seed, float amplitude) {
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint64_t bits = mix(seed + 0x9e3779b97f4a7c15ULL * (e + 1));
    const float u = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    data[e] = __float2half((2.0f * u - 1.0f) * amplitude);
  }
}

// The keys query i may see lie in [lo, hi]; Pattern::allows decides each one.
__device__ void key_range(const Problem& p, int i, int* lo, int* hi) {
  const Pattern& pat = p.pattern;
  long long a = 0, b = p.N - 1;
  switch (pat.kind) {
    case PatternKind::kSlidingWindow:
      a = static_cast<long long>(i) - pat.left, b = static_cast<long long>(i) + pat.right;
      break;
    case PatternKind::kCausalSlidingWindow: a = static_cast<long long>(i) - pat.left, b = i; break;
    case PatternKind::kDilated:
      a = i - static_cast<long long>(pat.left) * pat.dilation, b = i + static_cast<long long>(pat.right) * pat.dilation;
      break;
    case PatternKind::kAdaptive:
      a = i - pat.adaptive_left[i], b = static_cast<long long>(i) + pat.adaptive_right[i];
      break;
    case PatternKind::kGlobalLocal: break;  // global keys anywhere: every key is a candidate
  }
  *lo = static_cast<int>(a < 0 ? 0 : a);
  *hi = static_cast<int>(b > p.N - 1 ? p.N - 1 : b);
}

// One warp per query row: S_ij = scale * Q_i . K_j, online softmax over the allowed j, O_i = sum_j P_ij V_j.
// blockIdx.y picks the input set.
__global__ void reference_kernel(Problem p, const __half* q, const __half* k, const __half* v, float* out,
                                 size_t input_stride, size_t output_stride) {
  q += blockIdx.y * input_stride, k += blockIdx.y * input_stride, v += blockIdx.y * input_stride;
  out += blockIdx.y * output_stride;
  const long long row = blockIdx.x * static_cast<long long>(blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= static_cast<long long>(p.batch_heads()) * p.N) return;
  const int bh = static_cast<int>(row / p.N), i = static_cast<int>(row % p.N);
  const int per_lane = (p.D + kWarp - 1) / kWarp;
  float q_i[kMaxPerLane], acc[kMaxPerLane];
  for (int c = 0; c < kMaxPerLane; ++c) {
    const int d = lane + c * kWarp;
    q_i[c] = c < per_lane && d < p.D ? __half2float(q[p.row_offset(bh, i) + d]) : 0.f;
    acc[c] = 0.f;
  }
  float m_i = -INFINITY, l_i = 0.f;  // running max and sum of the softmax
  int lo, hi;
  key_range(p, i, &lo, &hi);
  for (int j = lo; j <= hi; ++j) {
    if (!p.pattern.allows(i, j)) continue;
    float s = 0.f;
    for (int c = 0; c < per_lane; ++c) {
      const int d = lane + c * kWarp;
      if (d < p.D) s += q_i[c] * __half2float(k[p.row_offset(bh, j) + d]);
    }
    for (int o = kWarp / 2; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
    s *= p.scale;
    const float m_new = fmaxf(m_i, s);
    const float correction = expf(m_i - m_new);  // 0 on the first key (m_i = -inf, m_new finite)
    const float weight = expf(s - m_new);
    l_i = l_i * correction + weight;
    for (int c = 0; c < per_lane; ++c) {
      const int d = lane + c * kWarp;
      const float v_jd = d < p.D ? __half2float(v[p.row_offset(bh, j) + d]) : 0.f;
      acc[c] = acc[c] * correction + weight * v_jd;
    }
    m_i = m_new;
  }
  for (int c = 0; c < per_lane; ++c) {
    const int d = lane + c * kWarp;
    if (d < p.D) out[p.row_offset(bh, i) + d] = l_i > 0.f ? acc[c] / l_i : 0.f;
  }
}

__global__ void check_kernel(const float* o, size_t o_stride, const float* ref, size_t ref_stride, size_t count,
                             float atol, float rtol, LaunchCheck* checks) {
  const int launch = blockIdx.y;
  const float* out = o + launch * o_stride;
  const float* want = ref + launch * ref_stride;
  const float* previous = launch > 0 ? out - o_stride : nullptr;
  unsigned long long unwritten = 0, not_finite = 0, too_far = 0, same = 0, zeros = 0, from_end = 0;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float x = out[e];
    const unsigned bits = __float_as_uint(x);
    bool bad = false;
    if (bits == 0xffffffffu) {
      ++unwritten, bad = true;
    } else if (!isfinite(x)) {
      ++not_finite, bad = true;
    } else if (fabsf(x - want[e]) > atol + rtol * fabsf(want[e])) {
      ++too_far, bad = true;
    }
    if (previous != nullptr && __float_as_uint(previous[e]) == bits) ++same;
    if (x == 0.0f) ++zeros;
    if (bad && count - e > from_end) from_end = count - e;
  }
  if (unwritten) atomicAdd(&checks[launch].unwritten, unwritten);
  if (not_finite) atomicAdd(&checks[launch].not_finite, not_finite);
  if (too_far) atomicAdd(&checks[launch].too_far, too_far);
  if (same) atomicAdd(&checks[launch].same_as_previous, same);
  if (zeros) atomicAdd(&checks[launch].zeros, zeros);
  if (from_end) atomicMax(&checks[launch].first_bad_from_end, from_end);
}

__global__ void digest_kernel(const char* first, size_t count, size_t stride, unsigned long long* sum) {
  const uint64_t* words = reinterpret_cast<const uint64_t*>(first + blockIdx.y * stride);
  unsigned long long local = 0;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<size_t>(gridDim.x) * blockDim.x)  // order-dependent, so a moved word shows
    local += mix(words[e] ^ (0x9e3779b97f4a7c15ULL * (e + 1 + blockIdx.y * count)));
  atomicAdd(sum, local);
}

__device__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

constexpr int kProbeChunk = 2000;  // dependent FMAs per chunk: a few microseconds

__global__ void probe_kernel(int chunks, unsigned long long* result) {
  float x = threadIdx.x;
  const unsigned long long start = global_ns();
  unsigned long long previous = start, longest = 0;
  for (int c = 0; c < chunks; ++c) {
    for (int n = 0; n < kProbeChunk; ++n) x = fmaf(x, 0.999999f, 1e-7f);
    const unsigned long long now = global_ns();
    longest = max(longest, now - previous);
    previous = now;
  }
  if (threadIdx.x == 0) {
    result[0] = longest;
    result[1] = previous - start;
  }
  if (x == 12345.f) result[2] = 1;  // never true: keeps the work
}

}  // namespace

void fill_uniform(__half* data, size_t count, uint64_t seed, float amplitude, cudaStream_t stream) {
  fill_kernel<<<1024, 256, 0, stream>>>(data, count, seed, amplitude);
  SWA_CUDA_CHECK_LAUNCH();
}

void reference_attention(const Problem& p, const __half* q, const __half* k, const __half* v, float* out,
                         cudaStream_t stream, int sets, size_t input_stride, size_t output_stride) {
  constexpr int kWarpsPerBlock = 8;
  constexpr int kMaxSetsPerLaunch = 65535;  // gridDim.y
  const long long rows = static_cast<long long>(p.batch_heads()) * p.N;
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  for (int first = 0; first < sets; first += kMaxSetsPerLaunch) {
    const dim3 grid(blocks, static_cast<unsigned>(std::min(sets - first, kMaxSetsPerLaunch)));
    reference_kernel<<<grid, kWarpsPerBlock * kWarp, 0, stream>>>(p, q + first * input_stride, k + first * input_stride,
                                                                  v + first * input_stride, out + first * output_stride,
                                                                  input_stride, output_stride);
    SWA_CUDA_CHECK_LAUNCH();
  }
}

void check_outputs(const float* o, size_t o_stride, const float* ref, size_t ref_stride, size_t count, int launches,
                   float atol, float rtol, LaunchCheck* checks, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(std::min<size_t>(256, (count + 255) / 256)), static_cast<unsigned>(launches));
  check_kernel<<<grid, 256, 0, stream>>>(o, o_stride, ref, ref_stride, count, atol, rtol, checks);
  SWA_CUDA_CHECK_LAUNCH();
}

uint64_t digest(const void* first, size_t bytes, size_t stride, int regions, cudaStream_t stream) {
  unsigned long long* sum = nullptr;
  SWA_CUDA_CHECK(cudaMallocAsync(&sum, sizeof(*sum), stream));
  SWA_CUDA_CHECK(cudaMemsetAsync(sum, 0, sizeof(*sum), stream));
  digest_kernel<<<dim3(64, static_cast<unsigned>(regions)), 256, 0, stream>>>(static_cast<const char*>(first),
                                                                              bytes / 8, stride, sum);
  SWA_CUDA_CHECK_LAUNCH();
  unsigned long long host = 0;
  SWA_CUDA_CHECK(cudaMemcpyAsync(&host, sum, sizeof(host), cudaMemcpyDeviceToHost, stream));
  SWA_CUDA_CHECK(cudaFreeAsync(sum, stream));
  SWA_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

Probe probe(int chunks, cudaStream_t stream) {
  static unsigned long long* result = nullptr;
  if (result == nullptr) SWA_CUDA_CHECK(cudaMalloc(&result, 3 * sizeof(unsigned long long)));
  probe_kernel<<<1, 32, 0, stream>>>(chunks, result);
  SWA_CUDA_CHECK_LAUNCH();
  unsigned long long host[3] = {};
  SWA_CUDA_CHECK(cudaMemcpyAsync(host, result, sizeof(host), cudaMemcpyDeviceToHost, stream));
  SWA_CUDA_CHECK(cudaStreamSynchronize(stream));
  return {host[0] / 1e3, host[1] / 1e6};
}

}  // namespace swa::judge_gpu
