// Planted cheat (report forgery): the honest kernel, and a daemon (double fork, a session of its own)
// left behind to rewrite the reports after the grader has finished. Caught: the judge counts the
// processes of the runner before it ends it, and kills them all (status "rejected": "the stage started
// processes of its own"); in the sandbox they could not reach the reports anyway.
#include <unistd.h>

#include <cstdio>

#include "honest04.h"

namespace {
void launch_and_linger(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  static bool forked = false;
  if (!forked) {
    forked = true;
    if (fork() == 0) {
      setsid();
      if (fork() == 0) {
        sleep(20);
        if (FILE* f = std::fopen("grade-results/grade.json", "w")) std::fclose(f);
      }
      _exit(0);
    }
  }
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_linger", workspace_bytes, launch_and_linger)
