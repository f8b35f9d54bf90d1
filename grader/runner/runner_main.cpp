// runner_main.cpp: swa-runner, the untrusted side of the grader.
//
// `swa grade` starts one runner per stage, in a sandbox (docs/grading.md, "Trust"), with a Unix socket
// on descriptor 3. The runner loads the ONE stage library it is asked to, maps the memory the judge
// shares with it, and launches the stage when asked: that is all it does. It decides nothing: it never
// sees a seed, a rubric, a reference or a report, and whatever it replies is checked by the judge
// (protocol.h). Everything in this process, this file included, is assumed to be under the stage's
// control; the code is kept short so that it is easy to see that nothing here matters to a score.
#include <cuda_runtime_api.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocol.h"
#include "shared_arena.h"
#include "stage_library.h"

namespace {

using namespace swa;
using namespace swa::protocol;

constexpr int kSocket = 3;

struct Runner {
  std::unique_ptr<StageLibrary> stage;
  std::map<uint32_t, std::unique_ptr<MappedArena>> arenas;
  cudaStream_t stream = nullptr;

  void load(const Request& q, Reply& r) {
    try {
      stage = std::make_unique<StageLibrary>(q.library);
    } catch (const StageNotLoaded& e) {
      r.status = kRunnerNoLibrary;
      put_text(r.message, e.what());
      return;
    } catch (const StageInvalid& e) {
      r.status = kRunnerBadLibrary;
      put_text(r.message, e.what());
      return;
    }
    const SwaStageApi& api = stage->api();
    r.abi_version = api.abi_version;
    r.patterns = api.info.patterns;
    r.head_dims = api.info.head_dims;
    r.tile_m = api.info.tile_m, r.tile_n = api.info.tile_n;
    r.min_compute_capability = api.info.min_compute_capability;
    r.arch_specific = api.info.arch_specific;
    put_text(r.name, api.info.name);
  }

  void attach(const Request& q, int fd, Reply& r) {
    try {
      arenas[q.arena] = std::make_unique<MappedArena>(q.sharing, q.bytes, fd, q.ipc_handle);
    } catch (const std::exception& e) {
      r.status = kRunnerSharingFailed;
      put_text(r.message, e.what());
    }
  }

  void workspace(const Request& q, Reply& r) {
    if (!stage) return bad(r, "no stage loaded");
    Problem p = to_problem(q.problem, nullptr);
    // A stage sizes its workspace from the problem's sizes, never from the pattern's arrays (they are GPU
    // memory when it runs): they are not sent for this question. Zeros stand in for them, so that the
    // argument checks see arrays where the pattern has some, and reading them harms nothing.
    std::vector<int32_t> zeros(static_cast<size_t>(std::max(0, p.N)), 0);
    if (p.pattern.num_global > 0 && p.pattern.global_positions == nullptr) p.pattern.global_positions = zeros.data();
    if (p.pattern.kind == PatternKind::kAdaptive) {
      if (p.pattern.adaptive_left == nullptr) p.pattern.adaptive_left = zeros.data();
      if (p.pattern.adaptive_right == nullptr) p.pattern.adaptive_right = zeros.data();
    }
    r.value = stage->api().workspace_bytes(&p);
  }

  void run(const Request& q, Reply& r) {
    if (!stage) return bad(r, "no stage loaded");
    const auto it = arenas.find(q.plan.arena);
    if (it == arenas.end()) return bad(r, "an unknown arena");
    const MappedArena& arena = *it->second;
    const LaunchPlan& plan = q.plan;
    const Problem p = to_problem(q.problem, arena.data());
    const uint64_t in_bytes = p.num_elements() * sizeof(__half), out_bytes = p.num_elements() * sizeof(float);
    const uint64_t last = plan.count == 0 ? 0 : (plan.count - 1) * plan.stride;
    const bool fits = plan.q + last + in_bytes <= arena.size() && plan.k + last + in_bytes <= arena.size() &&
                      plan.v + last + in_bytes <= arena.size() && plan.o + last + out_bytes <= arena.size() &&
                      plan.workspace + plan.workspace_bytes <= arena.size();
    if (!fits) return bad(r, "a launch plan that does not fit its arena");
    if (stream == nullptr && cudaStreamCreate(&stream) != cudaSuccess) stream = nullptr;
    char message[1024] = {};
    r.status = kSwaOk;
    for (uint32_t k = 0; k < plan.count && r.status == kSwaOk; ++k) {
      const uint64_t at = k * plan.stride;
      const Tensors t{reinterpret_cast<const __half*>(arena.data() + plan.q + at),
                      reinterpret_cast<const __half*>(arena.data() + plan.k + at),
                      reinterpret_cast<const __half*>(arena.data() + plan.v + at),
                      reinterpret_cast<float*>(arena.data() + plan.o + at)};
      const Workspace ws{plan.workspace_bytes ? arena.data() + plan.workspace : nullptr, plan.workspace_bytes};
      r.status = stage->api().forward(&p, &t, ws, stream, message, sizeof(message));
      if (r.status == kSwaOk) ++r.launches;
    }
    put_text(r.message, message);
    // Every stream of this process, not only the one the stage was given.
    const cudaError_t err = cudaDeviceSynchronize();
    if (err != cudaSuccess) {
      r.status = kRunnerCudaError;
      put_text(r.message, std::string("the kernel failed while running: ") + cudaGetErrorName(err) + " (" +
                              cudaGetErrorString(err) + ")");
    }
  }

  static void bad(Reply& r, const char* why) {
    r.status = kRunnerBadRequest;
    put_text(r.message, why);
  }
};

}  // namespace

int main() {
  struct stat st {};
  if (fstat(kSocket, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    std::fprintf(stderr, "swa-runner is started by `swa grade`, with its socket on descriptor 3\n");
    return 2;
  }
  Runner runner;
  for (;;) {
    Request buffer;
    const auto packet = receive_packet(kSocket, &buffer, sizeof(buffer), -1);
    if (!packet || packet->closed) return 0;
    std::string why;
    const auto request = parse_request(&buffer, packet->size, &why);
    if (!request) {
      std::fprintf(stderr, "swa-runner: %s\n", why.c_str());
      return 3;
    }
    Reply reply = make_reply(*request);
    switch (request->kind) {
      case Kind::kLoad: runner.load(*request, reply); break;
      case Kind::kAttach: runner.attach(*request, packet->fd, reply); break;
      case Kind::kDetach: runner.arenas.erase(request->arena); break;
      case Kind::kWorkspace: runner.workspace(*request, reply); break;
      case Kind::kRun: runner.run(*request, reply); break;
      case Kind::kQuit: break;
    }
    if (request->kind != Kind::kAttach && packet->fd >= 0) close(packet->fd);
    if (!send_packet(kSocket, &reply, sizeof(reply)).empty()) return 4;
    if (request->kind == Kind::kQuit) return 0;
  }
}
