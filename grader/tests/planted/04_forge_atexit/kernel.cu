// Planted cheat (report forgery): the honest kernel, and an atexit handler that writes a passing result to
// every descriptor when the process ends, after its real reports. Caught: the judge listens until the
// runner's end of the socket closes; a message then is one nobody asked for (status "rejected").
#include <unistd.h>

#include <cstdlib>

#include "honest04.h"

namespace {
void forge() {
  for (int fd = 3; fd < 64; ++fd)
    if (write(fd, planted::kForgedResult, sizeof(planted::kForgedResult) - 1) < 0) continue;
}
__attribute__((constructor)) void arm() { std::atexit(forge); }
}  // namespace

SWA_PLANTED("04_forge_atexit", workspace_bytes, launch)
