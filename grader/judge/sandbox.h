// sandbox.h: what a runner may see, as a bubblewrap (bwrap) command line.
//
// A runner sees: its own copy of swa-runner and of its one stage library (read-only, /sandbox), the
// system's and CUDA's libraries read-only (/usr and the folders of the libraries the judge itself has
// loaded, such as the driver's), the NVIDIA device files, /proc (its own PID namespace), /sys read-only,
// and an empty private /tmp. It does not see: the kit's sources, solutions or build folder, the output
// folder, other submissions, the network (a network namespace of its own), other processes (a PID
// namespace of its own: it cannot signal the judge). It dies with the judge (--die-with-parent), runs in
// a session of its own, without capabilities, with an environment of four variables at most.
//
// Without bubblewrap (`--sandbox none`, or `auto` where bwrap does not work), the runner is a plain child
// process in a session of its own, with the same copies, limits and environment: the file system and
// other processes are then NOT hidden from it (docs/grading.md, "Trust", says what that leaves open).
#pragma once

#include <string>
#include <vector>

namespace swa {

// The bwrap executable: $SWA_BWRAP if set, else bwrap on PATH; "" if there is none.
std::string find_bwrap();

// The bwrap arguments (after "bwrap") that run `command` (paths inside the sandbox) with `private_dir`
// mounted read-only at /sandbox and `library_dirs` read-only at their own paths; bwrap reports the
// sandbox's PID 1 on descriptor `info_fd`.
std::vector<std::string> bwrap_arguments(const std::string& private_dir, const std::vector<std::string>& library_dirs,
                                         int info_fd, const std::vector<std::string>& command);

// Folders of the shared libraries this process has mapped (the CUDA runtime, the driver and its
// helpers, the C++ runtime), except those under `hidden` (the kit and its build folder): the runner
// needs the same ones. /usr is always there.
std::vector<std::string> library_dirs(const std::vector<std::string>& hidden);

// The runner's environment: PATH, HOME=/tmp, and where set here LD_LIBRARY_PATH, CUDA_VISIBLE_DEVICES,
// CUDA_MODULE_LOADING, SWA_SHARED_MEMORY_LIMIT. Never a seed or a path of the kit.
std::vector<std::string> runner_environment();

}  // namespace swa
