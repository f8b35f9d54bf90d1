// memory_check.cpp: the memory check, read from outside the runner (checks.h).
//
// For each shape the judge starts a fresh runner of the stage, maps the problem into it and runs it once,
// then reads what that runner holds: its GPU memory (NVML by PID, else the device's free memory before
// and after) and its host memory (peak RSS, and mappings of the NVIDIA device files, where pinned host
// memory shows), and subtracts what a runner of an empty stage holds (Calibration). Whatever way the stage
// allocated (cudaMalloc, cuMemAlloc, a static __device__ array, pinned host memory, an allocation in a
// constructor, through dlsym(RTLD_NEXT)), it is in those numbers. During the run the judge leaves only the
// limit plus 64 MB of the GPU free (a ballast allocation holds the rest): an allocation beyond fails,
// however briefly it would have lived.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <sstream>

#include "checks.h"
#include "cuda_check.h"
#include "device.h"
#include "judge_kernels.h"
#include "pattern_spec.h"

namespace swa {
namespace {

using nlohmann::json;

constexpr long long kGpuSlack = 8LL << 20;  // a stage's code and the driver's bookkeeping for it
constexpr long long kCapSlack = 64LL << 20;  // room left free during the run, beyond the limit
constexpr long long kHostSlack = 128LL << 20;

// Holds all but `leave` bytes of the GPU's free memory for as long as it lives.
class Ballast {
 public:
  explicit Ballast(long long leave) {
    long long want = GpuMemory::device_free() - leave;
    for (int attempt = 0; attempt < 6 && want > (64LL << 20); ++attempt, want = want * 9 / 10) {
      void* p = nullptr;
      if (cudaMalloc(&p, static_cast<size_t>(want)) == cudaSuccess) {
        ptr_ = p, bytes_ = want;
        return;
      }
      cudaGetLastError();
    }
  }
  ~Ballast() {
    if (ptr_) cudaFree(ptr_);
  }
  long long bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  long long bytes_ = 0;
};

struct Footprint {
  long long gpu_nvml = -1, gpu_device = 0;
  HostMemory host;
};

long long nvml_sum(const JudgeContext& ctx, RunnerProcess& runner) {
  const std::map<pid_t, long long> used = ctx.gpu_memory->by_process();
  long long sum = -1;
  for (pid_t p : runner.processes())
    if (const auto it = used.find(p); it != used.end()) sum = std::max(0LL, sum) + it->second;
  return sum;
}

}  // namespace

json memory_check(JudgeContext& ctx, const GradeTarget& target, RemoteStage& stage, const StageRubric& points) {
  const std::string pattern =
      (points.patterns & pattern_bit(PatternKind::kSlidingWindow)) ? "sliding:128" : points.speed_pattern;
  CaseScope scope;
  scope.head_dims = points.head_dims;
  const int D = scope.base_head_dim();
  const std::vector<CaseSpec> shapes = {{"the exercise's size", 1, 1, 2048, D, default_scale(D), pattern},
                                        {"a size that fills the GPU", 4, 16, 4096, D, default_scale(D), pattern}};
  const Calibration& cal = ctx.calibration;
  json measurements = json::array();
  int passed = 0;
  std::string summary;
  std::vector<size_t> workspace;  // what the stage declares, asked before its main runner is frozen
  for (const CaseSpec& c : shapes) {
    const PatternSpec spec = parse_pattern(c.pattern, c.N, ctx.seed);
    Problem p;
    p.B = c.B, p.H = c.H, p.N = c.N, p.D = c.D, p.scale = c.scale, p.pattern = spec.view();
    workspace.push_back(stage.workspace_bytes(p));
  }
  stage.process().freeze();  // the graded stage's main runner stays still meanwhile
  for (size_t k = 0; k < shapes.size(); ++k) {
    const CaseSpec& c = shapes[k];
    ctx.emit({{"type", "progress"}, {"check", "memory"}, {"case", c.name}, {"index", k}, {"total", shapes.size()}});
    const PatternSpec spec = parse_pattern(c.pattern, c.N, ctx.seed);
    Problem p;
    p.B = c.B, p.H = c.H, p.N = c.N, p.D = c.D, p.scale = c.scale, p.pattern = spec.view();
    const size_t declared = workspace[k];
    const double limit = memory_limit_bytes(points, p);
    json m = {{"B", c.B},
              {"H", c.H},
              {"N", c.N},
              {"D", c.D},
              {"pattern", c.pattern},
              {"workspace_bytes", declared},
              {"limit_bytes", limit}};
    std::ostringstream what;
    bool ok = false;
    if (static_cast<double>(declared) > limit) {
      what << "declares " << megabytes(static_cast<double>(declared)) << " of workspace, over the limit of "
           << megabytes(limit);
    } else {
      ProblemArena arena(p, spec, declared, 1, ctx.sharing);
      const size_t n = p.num_elements();
      DeviceArray<float> reference(n);
      DeviceArray<unsigned char> checks(sizeof(judge_gpu::LaunchCheck));
      judge_gpu::fill_uniform(arena.q(0), n, mix_seed(ctx.seed, 900 + 3 * k), 1.f, ctx.stream);
      judge_gpu::fill_uniform(arena.k(0), n, mix_seed(ctx.seed, 901 + 3 * k), 1.f, ctx.stream);
      judge_gpu::fill_uniform(arena.v(0), n, mix_seed(ctx.seed, 902 + 3 * k), 1.f, ctx.stream);
      judge_gpu::reference_attention(arena.problem(), arena.q(0), arena.k(0), arena.v(0), reference.get(), ctx.stream);
      SWA_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
      arena.poison();
      const long long free_before = GpuMemory::device_free();

      RemoteStage fresh(ctx.launch(target.library, target.name));
      fresh.load(target.name);
      const uint32_t id = fresh.attach(arena);
      std::string why;
      Footprint f;
      {
        const Ballast ballast(static_cast<long long>(limit) - static_cast<long long>(declared) + kCapSlack);
        m["left_free_bytes"] = GpuMemory::device_free();
        try {
          const RunOutcome r = fresh.run(arena, id, 0, 1, ctx.rubric.silence_timeout_s);
          if (r.status != kSwaOk)
            why = "the run failed with the memory its limit allows (" + megabytes(limit + kCapSlack) +
                  " left free): " + r.message;
        } catch (const StageFault& e) {
          why = std::string("the run failed with the memory its limit allows: ") + e.what();
        }
        f.gpu_nvml = nvml_sum(ctx, fresh.process());
        f.gpu_device = free_before - (GpuMemory::device_free() + ballast.bytes());
        f.host = fresh.process().host_memory();
      }
      SWA_CUDA_CHECK(cudaMemsetAsync(checks.get(), 0, sizeof(judge_gpu::LaunchCheck), ctx.stream));
      judge_gpu::check_outputs(arena.o(0), n, reference.get(), n, n, 1, 1e-3f, 1e-2f,
                               reinterpret_cast<judge_gpu::LaunchCheck*>(checks.get()), ctx.stream);
      judge_gpu::LaunchCheck result{};
      SWA_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
      SWA_CUDA_CHECK(cudaMemcpy(&result, checks.get(), sizeof(result), cudaMemcpyDeviceToHost));
      // A kernel that does nothing uses no memory, and earns nothing for it: the run must write its whole
      // output, finite and not mostly zeros (a wrong but real computation, an off-by-one, still counts).
      if (why.empty() && (result.unwritten || result.not_finite || 2 * result.zeros > n))
        why = "the output was not fully written (or is NaN, or zeros), so the run cannot count";
      const int left_behind = fresh.process().stop();
      if (left_behind > 0)
        throw StageRejected("the stage started processes of its own (" + std::to_string(left_behind) + ")");

      // What this runner holds beyond an empty stage's runner.
      const bool by_nvml = f.gpu_nvml >= 0 && cal.empty_gpu_nvml >= 0;
      long long gpu_extra = by_nvml ? f.gpu_nvml - cal.empty_gpu_nvml -
                                          (cal.nvml_counts_imports ? static_cast<long long>(arena.arena().size()) : 0)
                                    : f.gpu_device - cal.empty_gpu_device;
      gpu_extra = std::max(0LL, gpu_extra);
      const long long host_extra = std::max(0LL, f.host.peak_rss - cal.empty_host.peak_rss) +
                                   std::max(0LL, f.host.device_mappings - cal.empty_host.device_mappings);
      m.update({{"gpu_bytes_beyond_empty_stage", gpu_extra},
                {"gpu_measured_by", by_nvml ? "NVML, by process" : "the device's free memory"},
                {"gpu_nvml_bytes", f.gpu_nvml},
                {"gpu_device_bytes", f.gpu_device},
                {"host_bytes_beyond_empty_stage", host_extra},
                {"host_peak_rss_bytes", f.host.peak_rss},
                {"host_device_mapping_bytes", f.host.device_mappings}});
      const double used = static_cast<double>(declared + gpu_extra);
      const bool gpu_ok = used <= limit + kGpuSlack;
      const bool host_ok = static_cast<double>(host_extra) <= limit + kHostSlack;
      ok = why.empty() && gpu_ok && host_ok;
      if (!why.empty())
        what << why;
      else if (!host_ok)
        what << megabytes(static_cast<double>(host_extra))
             << " of host memory beyond an empty stage's, over the limit of " << megabytes(limit) << " (+"
             << megabytes(kHostSlack) << ")";
      else
        what << megabytes(static_cast<double>(declared)) << " declared + " << megabytes(static_cast<double>(gpu_extra))
             << " more GPU memory than an empty stage = " << megabytes(used) << (gpu_ok ? " <= " : " > ") << "limit "
             << megabytes(limit) << " (+" << megabytes(kGpuSlack) << " for code)";
    }
    m["passed"] = ok;
    m["summary"] = c.name + " (B=" + std::to_string(c.B) + " H=" + std::to_string(c.H) + " N=" + std::to_string(c.N) +
                   " " + c.pattern + "): " + what.str();
    passed += ok;
    if (!summary.empty()) summary += "; ";
    summary += what.str();
    measurements.push_back(std::move(m));
  }
  stage.process().thaw();
  std::vector<std::string> hints;
  if (passed < static_cast<int>(shapes.size()))
    hints.push_back(
        points.memory_rule == MemoryRule::kPerScore
            ? "This stage may keep one score per (query, visible key): at most " +
                  std::to_string(static_cast<int>(points.memory_bytes)) +
                  " bytes each, O(B*H*N*W); anything that grows with N^2 is too much."
            : "Later stages keep no scores in global memory: at most " +
                  std::to_string(static_cast<int>(points.memory_bytes)) +
                  " bytes per query row, O(B*H*N); the scores of a tile live in registers and shared memory.");
  json check = check_result("memory", points.memory * passed / static_cast<double>(shapes.size()), points.memory,
                            summary, hints);
  check["measurements"] = measurements;
  return check;
}

}  // namespace swa
