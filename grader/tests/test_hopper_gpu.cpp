// test_hopper_gpu.cpp: the building blocks of stage 07 (stages/common/hopper.cuh), one at a time, on the GPU.
//
// Each test checks one layer against the CPU, so that one run says which layer is wrong:
//   Mbarrier.*          phases and parities of mbarrier.init / arrive / try_wait.parity
//   TmaLoad.*           a box of a 3-D tensor map lands in shared memory 128B-swizzled, completing on an
//                       mbarrier whose expect_tx counts the whole box; rows past the tensor's end are zeros
//                       (not the next head's rows)
//   TmaStore.*          an fp32 box leaves shared memory for global memory; rows past the end are skipped
//   WgmmaSS.*           S = Q K^T with both operands K-major and 128B-swizzled in shared memory (written
//                       with ordinary stores, no TMA): one k-step, 4 k-steps (32-byte descriptor steps), 8
//                       k-steps over two column blocks; and the accumulator layout (AccumulatorCoord)
//   WgmmaRS.*           O = P V with P in registers (the A fragment) and V N-major in shared memory: one
//                       k-step, then P converted from an accumulator as stage 07 does, over 64 keys, D = 128
//   Together.*          TMA loads feeding wgmma: the swizzle TMA writes is the one the descriptor reads
//   Stage07.*           the solution stage on shapes with so many heads that each block streams a band of
//                       many query tiles (the suite's correctness shapes fit in one wave of one-tile blocks)
// Built for sm_90a; every test skips, saying why, without a GPU or on a GPU other than sm_90. A wait that
// never completes is reported as such (bounded waits), never a hang.
//
// Each test runs its GPU work in a process of its own (GPU_TEST below): a kernel that faults (an illegal
// address, say) leaves its CUDA context unusable for the rest of the process, so in one process the first
// fault would fail every later test at its first cudaMalloc and hide what they would have said. The
// child's failures come back to this process with their file and line; a child that dies (a signal, a
// timeout) fails its test, saying so. This process itself never touches CUDA: a child forked after CUDA
// was initialised could not use it.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "compare.h"
#include "device.h"
#include "gpu_test.h"
#include "hopper.cuh"
#include "inputs.h"
#include "pattern_spec.h"
#include "stage_library.h"

namespace swa {
namespace {

using namespace hopper;

// Skips unless the GPU is an sm_90 (H100, H200): the kernels here are built for sm_90a alone.
#define REQUIRE_SM90()                                                                                                 \
  do {                                                                                                                 \
    REQUIRE_GPU();                                                                                                     \
    int device_ = 0, major_ = 0, minor_ = 0;                                                                           \
    ASSERT_EQ(cudaGetDevice(&device_), cudaSuccess);                                                                   \
    ASSERT_EQ(cudaDeviceGetAttribute(&major_, cudaDevAttrComputeCapabilityMajor, device_), cudaSuccess);               \
    ASSERT_EQ(cudaDeviceGetAttribute(&minor_, cudaDevAttrComputeCapabilityMinor, device_), cudaSuccess);               \
    if (major_ != 9 || minor_ != 0)                                                                                    \
      GTEST_SKIP() << "needs sm_90a (H100, H200) for TMA, wgmma and mbarrier tx; this GPU is sm_" << major_ << minor_; \
  } while (0)

// ---------------------------------------------------------------------------------------------------
// One process per test
// ---------------------------------------------------------------------------------------------------

// What a child reports, one record per test-part result: its type, line, file and message.
void write_bytes(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w <= 0) return;
    p += w, n -= static_cast<size_t>(w);
  }
}
void write_record(int fd, int type, int line, const std::string& file, const std::string& message) {
  const int header[4] = {type, line, static_cast<int>(file.size()), static_cast<int>(message.size())};
  write_bytes(fd, header, sizeof(header));
  write_bytes(fd, file.data(), file.size());
  write_bytes(fd, message.data(), message.size());
}
bool read_bytes(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r, n -= static_cast<size_t>(r);
  }
  return true;
}

constexpr int kRecordDone = -1;  // the child finished the test's body
constexpr unsigned kChildTimeoutS = 240;  // under the suite's ctest TIMEOUT (300 s)

// Runs `body` (the test's GPU work) in a child process and reports its results here, as if it had run in
// this process. Returns the child's skip message, or "" when it did not skip.
std::string run_in_child(void (*body)()) {
  int fds[2];
  if (pipe(fds) != 0) {
    ADD_FAILURE() << "pipe() failed: cannot start the test's process";
    return "";
  }
  std::fflush(stdout), std::fflush(stderr);  // nothing buffered is printed twice
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork() failed: cannot start the test's process";
    close(fds[0]), close(fds[1]);
    return "";
  }
  if (pid == 0) {  // the child: run the body, send every result, exit without running this process's exit code
    close(fds[0]);
    alarm(kChildTimeoutS);  // SIGALRM ends a child whose kernel never returns
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());  // the parent prints the results
    const ::testing::TestResult& result = *::testing::UnitTest::GetInstance()->current_test_info()->result();
    const int before = result.total_part_count();
    body();
    for (int i = before; i < result.total_part_count(); ++i) {
      const ::testing::TestPartResult& r = result.GetTestPartResult(i);
      write_record(fds[1], static_cast<int>(r.type()), r.line_number(), r.file_name() ? r.file_name() : "",
                   r.message());
    }
    write_record(fds[1], kRecordDone, 0, "", "");
    close(fds[1]);
    std::fflush(stdout), std::fflush(stderr);
    _exit(0);
  }
  close(fds[1]);
  std::string skip;
  bool done = false;
  for (int header[4]; read_bytes(fds[0], header, sizeof(header));) {
    std::string file(static_cast<size_t>(header[2]), '\0'), message(static_cast<size_t>(header[3]), '\0');
    if (!read_bytes(fds[0], file.data(), file.size()) || !read_bytes(fds[0], message.data(), message.size())) break;
    if (header[0] == kRecordDone)
      done = true;
    else if (header[0] == static_cast<int>(::testing::TestPartResult::kSkip))
      skip = message.empty() ? "skipped" : message;
    else if (header[0] != static_cast<int>(::testing::TestPartResult::kSuccess))
      ADD_FAILURE_AT(file.empty() ? __FILE__ : file.c_str(), header[1]) << message;
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!done) {
    if (WIFSIGNALED(status))
      ADD_FAILURE() << "the test's process died of signal " << WTERMSIG(status)
                    << (WTERMSIG(status) == SIGALRM ? " (timed out: a kernel or a wait that never returned)" : "");
    else
      ADD_FAILURE() << "the test's process ended before its test did (exit status " << WEXITSTATUS(status) << ")";
  }
  return skip;
}

// TEST whose body runs in a process of its own (run_in_child).
#define GPU_TEST(suite, name)                                       \
  void suite##_##name##_body();                                     \
  TEST(suite, name) {                                               \
    const std::string skip_ = run_in_child(&suite##_##name##_body); \
    if (!skip_.empty()) GTEST_SKIP() << skip_;                      \
  }                                                                 \
  void suite##_##name##_body()

// Device memory for one test.
template <class T>
struct Buffer {
  T* ptr = nullptr;
  size_t count = 0;
  explicit Buffer(size_t n) : count(n) { EXPECT_EQ(cudaMalloc(&ptr, n * sizeof(T)), cudaSuccess); }
  Buffer(const std::vector<T>& host) : Buffer(host.size()) {
    EXPECT_EQ(cudaMemcpy(ptr, host.data(), count * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~Buffer() { cudaFree(ptr); }
  std::vector<T> download() const {
    std::vector<T> host(count);
    EXPECT_EQ(cudaMemcpy(host.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
};

// Launch-and-wait, with the kernel's error (if any) in the failure message.
#define LAUNCHED(what)                                                                             \
  do {                                                                                             \
    const cudaError_t launch_ = cudaGetLastError();                                                \
    ASSERT_EQ(launch_, cudaSuccess) << what << ": launch failed: " << cudaGetErrorString(launch_); \
    const cudaError_t run_ = cudaDeviceSynchronize();                                              \
    ASSERT_EQ(run_, cudaSuccess) << what << ": the kernel failed: " << cudaGetErrorString(run_);   \
  } while (0)

// The first few differences between `got` and `want`, with a name for each index: "" when none.
template <class Name>
std::string differences(const std::vector<float>& got, const std::vector<float>& want, Name name, float tol = 0.f) {
  std::ostringstream out;
  int wrong = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const bool same = std::isnan(want[i]) ? std::isnan(got[i]) : std::fabs(got[i] - want[i]) <= tol;
    if (same) continue;
    if (wrong < 8) out << "\n  " << name(i) << ": expected " << want[i] << ", got " << got[i];
    ++wrong;
  }
  if (wrong == 0) return "";
  return std::to_string(wrong) + " of " + std::to_string(want.size()) + " elements wrong, the first:" + out.str();
}

// fp16 values that are small integers: every product and sum below is exact in fp32.
std::vector<float> small_integers(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(-3, 3);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(pick(rng));
  return v;
}
std::vector<__half> to_half(const std::vector<float>& v) {
  std::vector<__half> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = __float2half(v[i]);
  return h;
}

// A 1024-aligned view of dynamic shared memory (the swizzle's period; the kernels ask for 1 KB more).
__device__ unsigned char* aligned_smem() {
  extern __shared__ unsigned char smem_raw[];
  const uint32_t misalign = smem_address(smem_raw) % kSwizzleAtomBytes;
  return smem_raw + (kSwizzleAtomBytes - misalign) % kSwizzleAtomBytes;
}

// A wait that gives up: false after about a second of polling.
__device__ bool wait_bounded(uint64_t* bar, uint32_t parity) {
  for (int i = 0; i < (1 << 20); ++i)
    if (mbarrier_try_wait(bar, parity)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------
// mbarrier
// ---------------------------------------------------------------------------------------------------

// answers[k]: what try_wait said at step k (1 true, 0 false, -1 the bounded wait timed out).
__global__ void mbarrier_phases(int* answers) {
  __shared__ uint64_t bar;
  if (threadIdx.x == 0) {
    mbarrier_init(&bar, blockDim.x);
    fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    answers[0] = mbarrier_try_wait(&bar, 1);  // fresh: "phase -1" (parity 1) counts as completed
    answers[1] = mbarrier_try_wait(&bar, 0);  // phase 0 is not complete
  }
  __syncthreads();
  mbarrier_arrive(&bar);  // every thread: phase 0 completes
  const bool done0 = wait_bounded(&bar, 0);
  __syncthreads();
  if (threadIdx.x == 0) {
    answers[2] = done0 ? 1 : -1;
    answers[3] = mbarrier_try_wait(&bar, 0);  // phase 0 completed
    answers[4] = mbarrier_try_wait(&bar, 1);  // phase 1, the current one, is not
  }
  __syncthreads();
  mbarrier_arrive(&bar);  // phase 1 completes
  const bool done1 = wait_bounded(&bar, 1);
  __syncthreads();
  if (threadIdx.x == 0) {
    answers[5] = done1 ? 1 : -1;
    answers[6] = mbarrier_try_wait(&bar, 1);  // phase 1 completed
    answers[7] = mbarrier_try_wait(&bar, 0);  // phase 2 (parity 0) is the current one: not complete
  }
}

GPU_TEST(Mbarrier, PhasesAlternateParity) {
  REQUIRE_SM90();
  Buffer<int> answers(8);
  mbarrier_phases<<<1, 128>>>(answers.ptr);
  LAUNCHED("mbarrier_phases");
  const std::vector<int> got = answers.download();
  const int want[8] = {1, 0, 1, 1, 0, 1, 1, 0};
  const char* what[8] = {"a fresh barrier: try_wait(parity 1)",
                         "a fresh barrier: try_wait(parity 0)",
                         "after 128 arrivals: the wait for phase 0 completed (-1: timed out)",
                         "after phase 0: try_wait(0)",
                         "after phase 0: try_wait(1)",
                         "after 128 more arrivals: the wait for phase 1 completed (-1: timed out)",
                         "after phase 1: try_wait(1)",
                         "after phase 1: try_wait(0)"};
  for (int k = 0; k < 8; ++k) EXPECT_EQ(got[k], want[k]) << what[k];
}

// ---------------------------------------------------------------------------------------------------
// TMA loads and stores
// ---------------------------------------------------------------------------------------------------

// Loads the 64 x 64 fp16 box at (col, row, outer) of `map` with one TMA copy, expecting the full box's bytes,
// and copies the shared memory out byte for byte (still swizzled). status: 1 landed, -1 timed out.
__global__ void tma_load_box(const __grid_constant__ CUtensorMap map, int col, int row, int outer, __half* out,
                             int* status) {
  unsigned char* smem = aligned_smem();
  __half* tile = reinterpret_cast<__half*>(smem);
  uint64_t* bar = reinterpret_cast<uint64_t*>(smem + 64 * 128);
  if (threadIdx.x == 0) {
    mbarrier_init(bar, 1);
    fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    mbarrier_arrive_expect_tx(bar, 64 * 128);  // the whole box, rows past the end included
    tma_load(tile, &map, bar, col, row, outer);
  }
  const bool landed = wait_bounded(bar, 0);
  if (threadIdx.x == 0) *status = landed ? 1 : -1;
  for (int e = threadIdx.x; e < 64 * 64; e += blockDim.x) out[e] = tile[e];
}

// A [outer][rows][cols] fp16 tensor of distinct small integers (exact in fp16).
std::vector<float> numbered_tensor(int outer, int rows, int cols) {
  std::vector<float> v(static_cast<size_t>(outer) * rows * cols);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<int>((i * 7919) % 2001) - 1000);
  return v;
}

void check_tma_load(int outer, int rows, int cols, int col, int row, int at_outer) {
  const std::vector<float> host = numbered_tensor(outer, rows, cols);
  Buffer<__half> tensor(to_half(host));
  const CUtensorMap map = encode_tensor_map(tensor.ptr, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, cols, rows, outer, 64, 64);
  Buffer<__half> out(64 * 64);
  Buffer<int> status(1);
  const size_t smem = 64 * 128 + 64 + kSwizzleAtomBytes;
  tma_load_box<<<1, 128, smem>>>(map, col, row, at_outer, out.ptr, status.ptr);
  LAUNCHED("tma_load_box");
  ASSERT_EQ(status.download()[0], 1) << "the mbarrier never completed: expect_tx does not match the bytes TMA "
                                        "delivered, or the copy did not run";
  const std::vector<__half> raw = out.download();
  std::vector<float> got(64 * 64), want(64 * 64);
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < 64; ++c) {
      const int at = swizzle_128b(r, 2 * c) / 2;  // where the 128B swizzle puts element (r, c)
      got[r * 64 + c] = __half2float(raw[at]);
      const bool inside = row + r < rows && col + c < cols;
      want[r * 64 + c] = inside ? host[(static_cast<size_t>(at_outer) * rows + row + r) * cols + col + c] : 0.f;
    }
  const std::string diff = differences(got, want, [&](size_t i) {
    std::ostringstream s;
    s << "box element (row " << i / 64 << ", col " << i % 64 << ") = tensor[" << at_outer << "][" << row + i / 64
      << "][" << col + i % 64 << "]" << (row + static_cast<int>(i / 64) >= rows ? " (past the end: zero)" : "");
    return s.str();
  });
  EXPECT_TRUE(diff.empty()) << "TMA box at (col " << col << ", row " << row << ", outer " << at_outer << ") of a ["
                            << outer << "][" << rows << "][" << cols << "] tensor, read back through the 128B "
                            << "swizzle: " << diff;
}

GPU_TEST(TmaLoad, BoxInsideTheTensorLandsSwizzled) {
  REQUIRE_SM90();
  check_tma_load(1, 256, 64, 0, 64, 0);  // a 2-D tensor (outer = 1)
}

GPU_TEST(TmaLoad, SecondColumnBlockOfAWideRow) {
  REQUIRE_SM90();
  check_tma_load(2, 130, 128, 64, 64, 1);  // D = 128: columns 64..127 of head 1
}

GPU_TEST(TmaLoad, RowsPastTheEndAreZerosNotTheNextHead) {
  REQUIRE_SM90();
  check_tma_load(3, 100, 64, 0, 64, 1);  // rows 100..127 of head 1 would be head 2's rows 0..27 in 2-D
}

GPU_TEST(TmaLoad, BoxLargerThanTheTensor) {
  REQUIRE_SM90();
  check_tma_load(2, 1, 64, 0, 0, 1);  // N = 1: one row, 63 rows of zeros
}

// Writes a 64 x 32 fp32 box into shared memory (128B-swizzled, ordinary stores), then stores it with TMA
// at (col, row, outer). value(r, c) = 1000 r + c + 0.5.
__global__ void tma_store_box(const __grid_constant__ CUtensorMap map, int col, int row, int outer) {
  float* tile = reinterpret_cast<float*>(aligned_smem());
  for (int e = threadIdx.x; e < 64 * 32; e += blockDim.x) {
    const int r = e / 32, c = e % 32;
    *reinterpret_cast<float*>(reinterpret_cast<char*>(tile) + swizzle_128b(r, 4 * c)) = 1000.f * r + c + 0.5f;
  }
  fence_proxy_async();  // the ordinary stores, visible to the copy engine
  __syncthreads();
  if (threadIdx.x == 0) {
    tma_store(&map, tile, col, row, outer);
    bulk_commit_group();
    bulk_wait_group<0>();
  }
}

GPU_TEST(TmaStore, Fp32BoxWithRowsPastTheEndSkipped) {
  REQUIRE_SM90();
  const int outer = 2, rows = 100, cols = 64, col = 32, row = 64, at_outer = 0;
  const float sentinel = -7.25f;
  Buffer<float> tensor(std::vector<float>(static_cast<size_t>(outer) * rows * cols, sentinel));
  const CUtensorMap map = encode_tensor_map(tensor.ptr, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, cols, rows, outer, 32, 64);
  tma_store_box<<<1, 128, 64 * 128 + kSwizzleAtomBytes>>>(map, col, row, at_outer);
  LAUNCHED("tma_store_box");
  const std::vector<float> got = tensor.download();
  std::vector<float> want(got.size(), sentinel);
  for (int r = 0; r < 64 && row + r < rows; ++r)
    for (int c = 0; c < 32; ++c)
      want[(static_cast<size_t>(at_outer) * rows + row + r) * cols + col + c] = 1000.f * r + c + 0.5f;
  const std::string diff = differences(got, want, [&](size_t i) {
    std::ostringstream s;
    s << "tensor[" << i / (rows * cols) << "][" << i / cols % rows << "][" << i % cols << "]";
    return s.str();
  });
  EXPECT_TRUE(diff.empty()) << "TMA store of a 64 x 32 fp32 box at (col " << col << ", row " << row
                            << ") of a [2][100][64] tensor (box rows 36..63 lie past the end and must not be "
                               "written; unwritten elements hold "
                            << sentinel << "): " << diff;
}

// ---------------------------------------------------------------------------------------------------
// wgmma
// ---------------------------------------------------------------------------------------------------

// Bytes of a rows x cols fp16 tile kept as stage 07 keeps its tiles: 64-column blocks of rows x 128 bytes,
// one after the other, each 128B-swizzled. A row of a block is 128 bytes whatever the number of columns:
// a tile of 16 columns (one k-step) still takes 128 bytes a row, of which the first 32 hold its values.
SWA_HD int swizzled_tile_bytes(int rows, int cols) { return ceil_div(cols, 64) * rows * kSwizzleBytes; }

// Writes rows x cols fp16 (row-major in `src`) into shared memory in that layout.
__device__ void store_swizzled(__half* tile, const __half* src, int rows, int cols) {
  for (int e = threadIdx.x; e < rows * cols; e += blockDim.x) {
    const int r = e / cols, c = e % cols, block = c / 64;
    char* base = reinterpret_cast<char*>(tile) + block * rows * 128;
    *reinterpret_cast<__half*>(base + swizzle_128b(r, 2 * (c % 64))) = src[e];
  }
}

// Where a computed S [64][64] differs from A B^T (A, B [64][K], row-major) taken in double: "" when nowhere.
std::string scores_differ(const std::vector<float>& got, const std::vector<float>& a, const std::vector<float>& b,
                          int K) {
  std::vector<float> want(64 * 64);
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 64; ++j) {
      double sum = 0;
      for (int k = 0; k < K; ++k) sum += static_cast<double>(a[i * K + k]) * b[j * K + k];
      want[i * 64 + j] = static_cast<float>(sum);
    }
  return differences(got, want, [](size_t i) {
    return "S[" + std::to_string(i / 64) + "][" + std::to_string(i % 64) + "]";
  });
}

// s = A B^T for A [64][K] and B [64][K] (both K-major), K / 16 wgmma k-steps, as stage 07's scores().
// out[i][j] is written through AccumulatorCoord.
__global__ void wgmma_ss_product(const __half* a, const __half* b, int K, float* out) {
  __half* a_tile = reinterpret_cast<__half*>(aligned_smem());
  __half* b_tile = a_tile + swizzled_tile_bytes(64, K) / 2;  // 1024-aligned: a multiple of 8 rows of 128 bytes
  store_swizzled(a_tile, a, 64, K);
  store_swizzled(b_tile, b, 64, K);
  fence_proxy_async();  // ordinary stores, read next by wgmma (the async proxy)
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float s[32];
  wgmma_fence();
  for (int kk = 0; kk < K / 16; ++kk) {  // K is 16, 64 or 128
    const uint32_t offset = (kk / 4) * 64 * 128 + (kk % 4) * 32;
    wgmma_m64n64k16_ss(s, kmajor_descriptor(smem_address(a_tile) + offset),
                       kmajor_descriptor(smem_address(b_tile) + offset), kk > 0);
  }
  wgmma_commit_group();
  wgmma_wait_group<0>();
  fence_registers(s);
  const AccumulatorCoord coord{0, 0, warp, lane};
  for (int e = 0; e < 32; ++e) out[coord(e).i * 64 + coord(e).j] = s[e];
}

void check_wgmma_ss(int K, uint32_t seed) {
  const std::vector<float> a = small_integers(64 * K, seed), b = small_integers(64 * K, seed + 1);
  Buffer<__half> da(to_half(a)), db(to_half(b));
  Buffer<float> out(std::vector<float>(64 * 64, NAN));
  wgmma_ss_product<<<1, 128, 2 * swizzled_tile_bytes(64, K) + kSwizzleAtomBytes>>>(da.ptr, db.ptr, K, out.ptr);
  LAUNCHED("wgmma_ss_product");
  const std::string diff = scores_differ(out.download(), a, b, K);
  EXPECT_TRUE(diff.empty() || K > 16) << "one wgmma m64n64k16 (SS, K-major, 128B swizzle): the descriptor or the "
                                         "accumulator layout (AccumulatorCoord) is wrong: "
                                      << diff;
  EXPECT_TRUE(diff.empty() || K == 16) << "S = A B^T over K = " << K
                                       << " (k-steps of 32 bytes inside a swizzled row, then the next 64-column "
                                          "block): "
                                       << diff;
}

GPU_TEST(WgmmaSS, OneKStep) {
  REQUIRE_SM90();
  check_wgmma_ss(16, 11);
}

GPU_TEST(WgmmaSS, FourKStepsAlongASwizzledRow) {
  REQUIRE_SM90();
  check_wgmma_ss(64, 12);
}

GPU_TEST(WgmmaSS, TwoColumnBlocks) {
  REQUIRE_SM90();
  check_wgmma_ss(128, 13);
}

// s = A B^T as wgmma_ss_product, with A in registers: its swizzled tile read by load_a_fragments (ldmatrix),
// as stage 07 holds Q at D = 128; B K-major in shared memory (imm-trans-b = 0).
template <int K>
__global__ void wgmma_rs_kmajor_product(const __half* a, const __half* b, float* out) {
  __half* a_tile = reinterpret_cast<__half*>(aligned_smem());
  __half* b_tile = a_tile + swizzled_tile_bytes(64, K) / 2;
  store_swizzled(a_tile, a, 64, K);
  store_swizzled(b_tile, b, 64, K);
  fence_proxy_async();
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  uint32_t frag[K / 16][4];
  load_a_fragments<K>(frag, a_tile, warp, lane);
  float s[32];
  wgmma_fence();
  for (int kk = 0; kk < K / 16; ++kk)
    wgmma_m64n64k16_rs(s, frag[kk], kmajor_descriptor(smem_address(b_tile) + (kk / 4) * 64 * 128 + (kk % 4) * 32),
                       kk > 0);
  wgmma_commit_group();
  wgmma_wait_group<0>();
  fence_registers(s);
  const AccumulatorCoord coord{0, 0, warp, lane};
  for (int e = 0; e < 32; ++e) out[coord(e).i * 64 + coord(e).j] = s[e];
}

template <int K>
void check_wgmma_rs_kmajor(uint32_t seed) {
  const std::vector<float> a = small_integers(64 * K, seed), b = small_integers(64 * K, seed + 1);
  Buffer<__half> da(to_half(a)), db(to_half(b));
  Buffer<float> out(std::vector<float>(64 * 64, NAN));
  wgmma_rs_kmajor_product<K><<<1, 128, 2 * swizzled_tile_bytes(64, K) + kSwizzleAtomBytes>>>(da.ptr, db.ptr, out.ptr);
  LAUNCHED("wgmma_rs_kmajor_product");
  const std::string diff = scores_differ(out.download(), a, b, K);
  EXPECT_TRUE(diff.empty()) << "S = A B^T over K = " << K << " with A from registers (load_a_fragments: ldmatrix "
                            << "from the swizzled tile) and B K-major (wgmma_m64n64k16_rs): " << diff;
}

GPU_TEST(WgmmaRS, KMajorBAndAFromLdmatrixOneColumnBlock) {
  REQUIRE_SM90();
  check_wgmma_rs_kmajor<64>(31);
}

GPU_TEST(WgmmaRS, KMajorBAndAFromLdmatrixTwoColumnBlocks) {
  REQUIRE_SM90();
  check_wgmma_rs_kmajor<128>(32);
}

// o = P V for P [64][keys] and V [keys][D] (keys = 16 or 64, D = 64 or 128), as stage 07's accumulate_pv():
// P is held as an accumulator of 64 x keys (AccumulatorCoord), packed in pairs into A fragments; V is
// stored as a tile of `keys` rows of D, N-major for wgmma. out[i][d] is written through AccumulatorCoord.
// wide (D = 128): one wgmma of 128 columns per k-step (wgmma_m64n128k16_rs_nmajor, the descriptor's LBO
// stepping from one column block of V to the next) instead of one of 64 per column block.
__global__ void wgmma_rs_product(const float* p, const __half* v, int keys, int D, bool wide, float* out) {
  __half* v_tile = reinterpret_cast<__half*>(aligned_smem());
  store_swizzled(v_tile, v, keys, D);
  fence_proxy_async();
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float o[2][32] = {};
  for (int kk = 0; kk < keys / 16; ++kk) {
    // The accumulator of P's columns 16 kk .. 16 kk + 15: 8 registers, packed into the 4 of the A fragment.
    float s[8];
    const AccumulatorCoord coord{0, 16 * kk, warp, lane};
    for (int e = 0; e < 8; ++e) s[e] = p[coord(e).i * keys + coord(e).j];
    const uint32_t a[4] = {pack_half2(s[0], s[1]), pack_half2(s[2], s[3]), pack_half2(s[4], s[5]),
                           pack_half2(s[6], s[7])};
    wgmma_fence();
    if (wide)
      wgmma_m64n128k16_rs_nmajor(o[0], o[1], a, mnmajor_descriptor(smem_address(v_tile) + kk * 16 * 128, keys * 128),
                                 true);
    else
      for (int b = 0; b < D / 64; ++b)
        wgmma_m64n64k16_rs_nmajor(
            o[b], a, mnmajor_descriptor(smem_address(v_tile) + b * keys * 128 + kk * 16 * 128, keys * 128), true);
    wgmma_commit_group();
    wgmma_wait_group<0>();
    fence_registers(o[0]);
    fence_registers(o[1]);
  }
  const AccumulatorCoord coord{0, 0, warp, lane};
  for (int b = 0; b < D / 64; ++b)
    for (int e = 0; e < 32; ++e) out[coord(e).i * D + 64 * b + coord(e).j] = o[b][e];
}

void check_wgmma_rs(int keys, int D, uint32_t seed, bool wide = false) {
  const std::vector<float> p = small_integers(64 * keys, seed), v = small_integers(keys * D, seed + 1);
  Buffer<float> dp(p);
  Buffer<__half> dv(to_half(v));
  Buffer<float> out(std::vector<float>(64 * D, NAN));
  const size_t smem = swizzled_tile_bytes(keys, D) + kSwizzleAtomBytes;
  wgmma_rs_product<<<1, 128, smem>>>(dp.ptr, dv.ptr, keys, D, wide, out.ptr);
  LAUNCHED("wgmma_rs_product");
  std::vector<float> want(64 * D);
  for (int i = 0; i < 64; ++i)
    for (int d = 0; d < D; ++d) {
      double sum = 0;
      for (int j = 0; j < keys; ++j) sum += static_cast<double>(p[i * keys + j]) * v[j * D + d];
      want[i * D + d] = static_cast<float>(sum);
    }
  const std::string diff = differences(out.download(), want, [&](size_t i) {
    return "O[" + std::to_string(i / D) + "][" + std::to_string(i % D) + "]";
  });
  EXPECT_TRUE(diff.empty()) << "O = P V with P from registers (A fragment = accumulator pairs packed to fp16) and "
                            << "V N-major in shared memory (imm-trans-b = 1), " << keys << " keys, D = " << D
                            << (wide ? " (one m64n128k16 per k-step)"
                                : keys == 16 ? " (one wgmma per column block)" : " (k-steps of 16 rows = 2048 bytes)")
                            << ": " << diff;
}

GPU_TEST(WgmmaRS, OneKStepTransposedB) {
  REQUIRE_SM90();
  check_wgmma_rs(16, 64, 21);
}

GPU_TEST(WgmmaRS, AccumulatorAsAFragmentOver64Keys) {
  REQUIRE_SM90();
  check_wgmma_rs(64, 64, 22);
}

GPU_TEST(WgmmaRS, TwoColumnBlocksOfV) {
  REQUIRE_SM90();
  check_wgmma_rs(64, 128, 23);
}

GPU_TEST(WgmmaRS, OneWideWgmmaAcrossBothColumnBlocksOfV) {
  REQUIRE_SM90();
  check_wgmma_rs(64, 128, 24, true);
}

// ---------------------------------------------------------------------------------------------------
// TMA feeding wgmma
// ---------------------------------------------------------------------------------------------------

// S = Q K^T with Q, K [64][D] loaded by TMA (3-D maps, 64 x 64 boxes, one per column block), as stage 07.
__global__ void tma_then_wgmma(const __grid_constant__ CUtensorMap q_map, const __grid_constant__ CUtensorMap k_map,
                               int D, float* out, int* status) {
  unsigned char* smem = aligned_smem();
  __half* q_tile = reinterpret_cast<__half*>(smem);
  __half* k_tile = q_tile + 64 * D;
  uint64_t* bar = reinterpret_cast<uint64_t*>(k_tile + 64 * D);
  if (threadIdx.x == 0) {
    mbarrier_init(bar, 1);
    fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    mbarrier_arrive_expect_tx(bar, 2 * 64 * D * 2);
    for (int b = 0; b < D / 64; ++b) {
      tma_load(q_tile + b * 64 * 64, &q_map, bar, 64 * b, 0, 0);
      tma_load(k_tile + b * 64 * 64, &k_map, bar, 64 * b, 0, 0);
    }
  }
  const bool landed = wait_bounded(bar, 0);
  if (threadIdx.x == 0) *status = landed ? 1 : -1;
  if (!landed) return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float s[32];
  wgmma_fence();
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t offset = (kk / 4) * 64 * 128 + (kk % 4) * 32;
    wgmma_m64n64k16_ss(s, kmajor_descriptor(smem_address(q_tile) + offset),
                       kmajor_descriptor(smem_address(k_tile) + offset), kk > 0);
  }
  wgmma_commit_group();
  wgmma_wait_group<0>();
  fence_registers(s);
  const AccumulatorCoord coord{0, 0, warp, lane};
  for (int e = 0; e < 32; ++e) out[coord(e).i * 64 + coord(e).j] = s[e];
}

GPU_TEST(Together, TmaSwizzleIsTheOneWgmmaReads) {
  REQUIRE_SM90();
  for (int D : {64, 128}) {
    const std::vector<float> q = small_integers(64 * D, 31 + D), k = small_integers(64 * D, 32 + D);
    Buffer<__half> dq(to_half(q)), dk(to_half(k));
    const CUtensorMap q_map = encode_tensor_map(dq.ptr, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, D, 64, 1, 64, 64);
    const CUtensorMap k_map = encode_tensor_map(dk.ptr, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, D, 64, 1, 64, 64);
    Buffer<float> out(std::vector<float>(64 * 64, NAN));
    Buffer<int> status(1);
    tma_then_wgmma<<<1, 128, 2 * swizzled_tile_bytes(64, D) + 64 + kSwizzleAtomBytes>>>(q_map, k_map, D, out.ptr,
                                                                                        status.ptr);
    LAUNCHED("tma_then_wgmma");
    ASSERT_EQ(status.download()[0], 1) << "D = " << D << ": the TMA loads never completed the mbarrier";
    const std::string diff = scores_differ(out.download(), q, k, D);
    EXPECT_TRUE(diff.empty()) << "D = " << D << ": Q, K loaded by TMA (CU_TENSOR_MAP_SWIZZLE_128B), S = Q K^T by "
                              << "wgmma (descriptor swizzle 128B). If WgmmaSS passes and this fails, TMA's swizzle "
                              << "and the descriptor disagree: " << diff;
  }
}

// ---------------------------------------------------------------------------------------------------
// The stage: long bands
// ---------------------------------------------------------------------------------------------------

// Stage 07's solution where its blocks stream bands of many query tiles: enough heads that the tiles
// outnumber the multiprocessors many times (a band is then up to a whole head), windows that keep key tiles
// for the next query tile and windows too wide for the ring (then a query tile per consumer and band), both
// patterns, D = 64 and 128; and where they do not (one head: a query tile shared by the consumers, merged
// at the end). Every output element must be written and finite; up to four heads are compared with
// the reference.
GPU_TEST(Stage07, LongBandsMatchTheReference) {
  REQUIRE_SM90();
  const StageLibrary stage(stage_path(SWA_STAGE_DIR, "solution", "07_hopper"));
  struct Case {
    int BH, N, D;
    PatternSpec spec;
    float amplitude;
  };
  std::vector<Case> cases;
  for (int W : {0, 1, 63, 64, 127, 128, 129, 200})
    for (bool causal : {false, true})
      cases.push_back({512, 257, 64, causal ? PatternSpec::causal(W) : PatternSpec::sliding(W), 1.f});
  cases.push_back({264, 1013, 64, PatternSpec::sliding(128), 1.f});
  cases.push_back({264, 1013, 64, PatternSpec::causal(128), 100.f});
  cases.push_back({264, 1013, 64, PatternSpec::sliding(7, 90), 1.f});
  cases.push_back({264, 1013, 128, PatternSpec::sliding(128), 1.f});
  cases.push_back({264, 1013, 128, PatternSpec::causal(129), 1.f});
  // A ring holds all but one of a window's key tiles for long bands (run_length): 8 stages at D = 64, 5 at 128.
  cases.push_back({64, 2048, 64, PatternSpec::sliding(250), 1.f});  // 9 key tiles a window: long bands
  cases.push_back({64, 2048, 64, PatternSpec::sliding(300), 1.f});  // 11: too wide, bands of four
  cases.push_back({64, 2048, 128, PatternSpec::sliding(128), 1.f});  // 5: long bands, the ring holds the window
  cases.push_back({64, 2048, 128, PatternSpec::causal(300), 1.f});  // 6: long bands, the ring holds all but one
  cases.push_back({64, 2048, 128, PatternSpec::sliding(129), 1.f});  // 7: too wide, bands of two
  cases.push_back({16, 2048, 64, PatternSpec::sliding(2048), 1.f});  // full attention
  // Few query tiles (one head): each block's single query tile is shared by the consumers and merged.
  cases.push_back({1, 2048, 64, PatternSpec::sliding(128), 1.f});
  cases.push_back({1, 2048, 64, PatternSpec::sliding(2048), 1.f});  // 32 key tiles through a ring of 8
  cases.push_back({1, 2048, 128, PatternSpec::sliding(129), 1.f});
  cases.push_back({3, 1013, 64, PatternSpec::causal(128), 100.f});
  cases.push_back({2, 130, 64, PatternSpec::sliding(0), 1.f});  // one key tile: the second consumer gets none
  uint64_t seed = 70;
  for (const Case& c : cases) {
    Problem p;
    p.B = 1, p.H = c.BH, p.N = c.N, p.D = c.D, p.scale = default_scale(c.D);
    p.pattern = c.spec.view();
    const std::string what = c.spec.to_string() + " B*H=" + std::to_string(c.BH) + " N=" + std::to_string(c.N) +
                             " D=" + std::to_string(c.D) + (c.amplitude != 1.f ? " |inputs|<=100" : "");
    const HostInputs in = random_inputs(p, seed++, c.amplitude);
    DeviceProblem gpu(p, c.spec, 0);
    gpu.upload(in);
    gpu.poison_output();
    std::string error;
    ASSERT_EQ(gpu.run(stage.api(), nullptr, &error), kSwaOk) << what << ": " << error;
    const std::vector<float> out = gpu.output();
    size_t bad = 0, first_bad = 0;
    for (size_t e = 0; e < out.size(); ++e)
      if (!std::isfinite(out[e]) && bad++ == 0) first_bad = e;
    EXPECT_EQ(bad, 0u) << what << ": " << bad
                       << " elements unwritten or not finite, the first O[bh=" << first_bad / (c.N * c.D)
                       << ", i=" << first_bad / c.D % c.N << ", d=" << first_bad % c.D << "]";
    const Comparison cmp = compare_heads(p, in, out, {0, std::min(1, c.BH - 1), c.BH / 2, c.BH - 1});
    EXPECT_TRUE(cmp.passed()) << what << ": " << cmp.summary();
    if (::testing::Test::HasFailure()) return;  // the first failing case says enough
  }
}

}  // namespace
}  // namespace swa
