// Planted cheat (report forgery): a library constructor writes a passing result to every descriptor as
// soon as the library is loaded, and the stage computes nothing. The old worker reported on descriptor 3
// and the parent took the last result line. Caught: descriptor 3 is now the runner's socket to the judge,
// and a message that is not the reply asked for is a protocol violation (status "rejected").
#include <unistd.h>

#include "honest04.h"

namespace {
__attribute__((constructor)) void forge() {
  for (int fd = 3; fd < 64; ++fd)
    if (write(fd, planted::kForgedResult, sizeof(planted::kForgedResult) - 1) < 0) continue;
}
}  // namespace

SWA_PLANTED("04_forge_constructor", workspace_bytes, planted::nothing)
