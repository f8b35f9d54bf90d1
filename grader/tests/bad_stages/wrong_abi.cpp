// A library that claims to be a stage of another ABI version (1, before SwaStageInfo grew its tiles):
// the runner must say so, without reading anything of it past the version (test_trust.cpp).
#include <cstdint>

namespace {
struct OldApi {
  int32_t abi_version;
  const char* name;  // ABI 1 laid out the rest differently
};
const OldApi kOld = {1, "03_masked_windows"};
}  // namespace

extern "C" __attribute__((visibility("default"))) const void* swa_stage_api(void) { return &kOld; }
