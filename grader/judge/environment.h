// environment.h: what ran where and when, for the headers of reports and result files.
#pragma once

#include <string>

namespace swa {

// The GPU's name, compute capability and multiprocessors, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)".
std::string gpu_description();
// The commit the sources came from: $SWA_COMMIT if set, else `git rev-parse --short HEAD`, else "unknown".
std::string source_commit();
// The current time in UTC, ISO 8601.
std::string utc_now();

}  // namespace swa
