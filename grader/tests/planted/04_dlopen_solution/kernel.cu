// Planted cheat (using the answers): loads the compiled solution of the same stage (its path is known from
// the build) and forwards every call to it. Caught: in the sandbox the solution's library is not there to
// load, so the stage computes nothing ("not implemented"); without the sandbox, the judge reads the
// runner's mapped files and rejects the stage: "stage loaded another library".
#include <dlfcn.h>

#include "honest04.h"

namespace {
void forward_to_solution(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  static const SwaStageApi* solution = [] {
    void* lib = dlopen(SWA_PLANTED_SOLUTION, RTLD_NOW | RTLD_LOCAL);
    const auto entry = lib ? reinterpret_cast<SwaStageApiFn>(dlsym(lib, SWA_STAGE_API_SYMBOL)) : nullptr;
    return entry ? entry() : nullptr;
  }();
  if (solution == nullptr) return;
  char error[256];
  solution->forward(&p, &t, ws, s, error, sizeof(error));
}
}  // namespace

SWA_PLANTED("04_dlopen_solution", workspace_bytes, forward_to_solution)
