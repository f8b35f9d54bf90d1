// remote_stage.cpp: problems in shared arenas, and the stage's runner (remote_stage.h).
#include "remote_stage.h"

#include <cuda_runtime_api.h>
#include <unistd.h>

#include "cuda_check.h"

namespace swa {

using namespace protocol;

ProblemArena::ProblemArena(const Problem& p, const PatternSpec& spec, size_t workspace_bytes, int sets, Sharing sharing)
    : problem_(p), sets_(sets), workspace_bytes_(workspace_bytes) {
  problem_.pattern = spec.view();
  in_bytes_ = p.num_elements() * sizeof(__half);
  out_bytes_ = p.num_elements() * sizeof(float);
  ArenaLayout layout;
  const uint64_t globals = layout.add(spec.global_positions.size() * sizeof(int32_t));
  const uint64_t left = layout.add(spec.adaptive_left.size() * sizeof(int32_t));
  const uint64_t right = layout.add(spec.adaptive_right.size() * sizeof(int32_t));
  workspace_ = layout.add(workspace_bytes);
  stride_ = (3 * in_bytes_ + out_bytes_ + 255) / 256 * 256;
  q_ = layout.add(stride_ * sets);
  k_ = q_ + in_bytes_, v_ = k_ + in_bytes_, o_ = v_ + in_bytes_;
  arena_ = std::make_unique<DeviceArena>(layout.size(), sharing);

  spec_ = to_spec(problem_);
  device_problem_ = problem_;
  auto put = [&](const std::vector<int32_t>& values, uint64_t offset, uint64_t* spec_field, const int32_t** ptr) {
    if (values.empty()) return;
    SWA_CUDA_CHECK(cudaMemcpy(at(offset), values.data(), values.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
    *spec_field = offset;
    *ptr = reinterpret_cast<const int32_t*>(at(offset));
  };
  put(spec.global_positions, globals, &spec_.global_positions, &device_problem_.pattern.global_positions);
  put(spec.adaptive_left, left, &spec_.adaptive_left, &device_problem_.pattern.adaptive_left);
  put(spec.adaptive_right, right, &spec_.adaptive_right, &device_problem_.pattern.adaptive_right);
}

LaunchPlan ProblemArena::plan(uint32_t arena_id, int first_set, int count) const {
  LaunchPlan plan{};
  plan.arena = arena_id;
  plan.count = static_cast<uint32_t>(count);
  plan.q = q_ + first_set * stride_, plan.k = k_ + first_set * stride_;
  plan.v = v_ + first_set * stride_, plan.o = o_ + first_set * stride_;
  plan.stride = stride_;
  plan.workspace = workspace_;
  plan.workspace_bytes = workspace_bytes_;
  return plan;
}

void ProblemArena::upload(int set, const std::vector<__half>& q, const std::vector<__half>& k,
                          const std::vector<__half>& v) {
  SWA_CUDA_CHECK(cudaMemcpy(this->q(set), q.data(), in_bytes_, cudaMemcpyHostToDevice));
  SWA_CUDA_CHECK(cudaMemcpy(this->k(set), k.data(), in_bytes_, cudaMemcpyHostToDevice));
  SWA_CUDA_CHECK(cudaMemcpy(this->v(set), v.data(), in_bytes_, cudaMemcpyHostToDevice));
}

void ProblemArena::poison() {
  for (int s = 0; s < sets_; ++s) SWA_CUDA_CHECK(cudaMemset(o(s), 0xff, out_bytes_));
  if (workspace_bytes_ > 0) SWA_CUDA_CHECK(cudaMemset(at(workspace_), 0xff, workspace_bytes_));
  SWA_CUDA_CHECK(cudaDeviceSynchronize());
}

std::vector<float> ProblemArena::output(int set) const {
  std::vector<float> host(problem_.num_elements());
  SWA_CUDA_CHECK(cudaMemcpy(host.data(), o(set), out_bytes_, cudaMemcpyDeviceToHost));
  return host;
}

const Declared& RemoteStage::load(const std::string& expected_name) {
  Request q = make_request(Kind::kLoad, 0);
  put_text(q.library, process_.library_inside());
  const Reply r = process_.call(q, -1, 60);
  if (r.status == kRunnerNoLibrary) throw StageUnusable("missing", r.message);
  if (r.status == kRunnerBadLibrary) throw StageUnusable("invalid library", r.message);
  if (r.status != kSwaOk)
    throw StageRejected(std::string("the runner answered the load with ") + status_name(r.status));
  declared_.name = r.name;
  declared_.patterns = r.patterns & kAllPatterns;
  declared_.head_dims = r.head_dims & kAllHeadDims;
  declared_.tile_m = r.tile_m, declared_.tile_n = r.tile_n;
  declared_.min_compute_capability = r.min_compute_capability, declared_.arch_specific = r.arch_specific;
  // The rubric, the report's name and the cases come from the name the judge asked for, never from this
  // declaration: a library that calls itself another stage is still graded as the one it was built as.
  (void)expected_name;
  check_code();
  return declared_;
}

size_t RemoteStage::workspace_bytes(const Problem& p, double timeout_s) {
  Request q = make_request(Kind::kWorkspace, 0);
  q.problem = to_spec(p);
  return process_.call(q, -1, timeout_s).value;
}

uint32_t RemoteStage::attach(ProblemArena& a, double timeout_s) {
  Request q = make_request(Kind::kAttach, 0);
  q.arena = next_id_++;
  q.sharing = a.arena().sharing();
  q.bytes = a.arena().size();
  int fd = -1;
  if (q.sharing == Sharing::kVmmFd)
    fd = a.arena().export_fd();
  else
    a.arena().export_ipc(q.ipc_handle);
  Reply r;
  try {
    r = process_.call(q, fd, timeout_s);
  } catch (...) {
    if (fd >= 0) close(fd);
    throw;
  }
  if (fd >= 0) close(fd);
  if (r.status != kSwaOk)
    throw std::runtime_error(std::string("the runner could not map the judge's memory (") + sharing_name(q.sharing) +
                             "): " + r.message);
  return q.arena;
}

void RemoteStage::detach(uint32_t id) {
  Request q = make_request(Kind::kDetach, 0);
  q.arena = id;
  process_.call(q, -1, 30);
}

RunOutcome RemoteStage::run(const ProblemArena& arena, uint32_t id, int first_set, int count, double timeout_s,
                            bool check_code_after) {
  Request q = make_request(Kind::kRun, 0);
  q.problem = arena.spec();
  q.plan = arena.plan(id, first_set, count);
  const Reply r = process_.call(q, -1, timeout_s);
  if (r.status == kRunnerCudaError) throw StageFault(r.message);
  if (r.status == kRunnerBadRequest)
    throw std::runtime_error(std::string("the runner refused a request: ") + r.message);
  if (r.status > kSwaLaunchRejected)
    throw StageRejected(std::string("the runner answered a run with ") + status_name(r.status));
  if (check_code_after) check_code();
  return {r.status, r.launches, r.message};
}

void RemoteStage::check_code() const {
  const std::vector<std::string> foreign = process_.foreign_code();
  if (foreign.empty()) return;
  std::string list;
  for (const std::string& f : foreign) list += (list.empty() ? "" : ", ") + f;
  throw StageRejected("stage loaded another library: " + list);
}

}  // namespace swa
