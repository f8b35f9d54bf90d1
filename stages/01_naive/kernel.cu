// Stage 01: naive sliding-window attention.
//
// The formula, one query at a time. A thread per query i walks the keys j in [i - W_left, i + W_right],
// clamped to the sequence, reading Q, K and V straight from global memory. It keeps the scores of its
// query in the workspace (B*H*N*(2W+1) floats: the one stage allowed that much scratch) and runs a
// numerically stable softmax: the max first, then exp(s - max), then the weighted sum of V.
//
// In stages/ the steps marked TODO(student) are yours to write; the instructor's solutions/ holds the answers.
// Build, test and grade: README.md at the top. What to do: README.md in this folder.
//
// Speed: slow on purpose. The 32 threads of a warp work on 32 different queries, so each of their loads
// touches 32 different rows of K or V (not coalesced), and each key is read again by each of the 2W+1
// queries that see it. Stage 02 stages tiles in shared memory to fix both.
#include "stage.h"

namespace {

constexpr int kThreadsPerBlock = 128;  // one thread per query

// Scores kept per query: the widest window, left + right + 1 keys, but never more than N.
int score_width(const swa::Problem& p) {
  const long long width = static_cast<long long>(p.pattern.left) + p.pattern.right + 1;
  return static_cast<int>(width < p.N ? width : p.N);
}

// O[b,h,i,:] = sum_j softmax_j(scale * Q[i].K[j]) V[j] over i - W_left <= j <= i + W_right.
// scores: the workspace, [B*H, N, width] floats.
template <int D>
__global__ void __launch_bounds__(kThreadsPerBlock)
    sliding_window_attention_naive(swa::Problem p, swa::Tensors t, float* scores, int width) {
  const int bh = blockIdx.y;  // which (batch, head)
  const int i = blockIdx.x * blockDim.x + threadIdx.x;  // which query
  if (i >= p.N) return;
  const __half* q = t.q + p.row_offset(bh, i);  // Q[b, h, i, :]
  float* s = scores + (static_cast<size_t>(bh) * p.N + i) * width;  // this query's scores
  float* out = t.o + p.row_offset(bh, i);  // O[b, h, i, :]

  // Step 1: the keys query i sees, first .. last (inclusive): the window i - W_left .. i + W_right,
  // clamped to the sequence 0 .. N-1.
  int first = 0, last = -1;
  // TODO(student): write this step.

  // Step 2: the scores s[j - first] = scale * (Q[i] . K[j]) for every key of the window, and their
  // maximum m.
  float m = -INFINITY;
  // TODO(student): write this step.

  // Step 3: the softmax and the output. With P_j = exp(s_j - m) and l = sum_j P_j,
  //     O[i] = sum_j P_j V[j] / l.
  // Subtracting the maximum changes nothing mathematically (it cancels in P_j / l) but keeps every
  // exp() <= 1, so scores in the thousands cannot overflow. The window always holds key i itself, so
  // l >= 1 and the division is safe.
  // TODO(student): write this step.
}

size_t workspace_bytes(const swa::Problem& p) {
  return static_cast<size_t>(p.batch_heads()) * p.N * score_width(p) * sizeof(float);
}

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t stream) {
  const dim3 grid(swa::ceil_div(p.N, kThreadsPerBlock), p.batch_heads());
  swa::with_head_dim(p.D, [&](auto d) {
    sliding_window_attention_naive<decltype(d)::value>
        <<<grid, kThreadsPerBlock, 0, stream>>>(p, t, static_cast<float*>(ws.ptr), score_width(p));
  });
  SWA_CUDA_CHECK_LAUNCH();
}

}  // namespace

// What this stage declares (problem.h, section 6): the grader reads it to choose its cases.
constexpr SwaStageInfo kStage = {"01_naive",  // name
                                 swa::pattern_bit(swa::PatternKind::kSlidingWindow),  // patterns
                                 swa::kAllHeadDims,  // head dimensions: 16, 32, 64, 128
                                 kThreadsPerBlock,
                                 1,  // "tiles": a block of 128 queries, one key at a time
                                 80,
                                 false};  // the GPU it needs: sm_80 or newer

SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
