// runner_process.h: one swa-runner, started, watched, frozen and stopped by the judge.
//
// The runner runs in a sandbox (sandbox.h) with a copy of its one stage library, in a process group and
// PID namespace of its own, under resource limits, with a socket on descriptor 3 and its output going to
// the stage's log. The judge talks to it only through call(), which checks every reply (protocol.h), and
// looks at it only from outside: /proc/<pid>/maps, /proc/<pid>/status, NVML.
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "protocol.h"

namespace swa {

// How the runner ended up, when it did not answer as asked.
struct RunnerFault : std::runtime_error {
  enum Kind { kCrashed, kTimedOut, kProtocol };
  Kind kind;
  RunnerFault(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
};

struct RunnerLaunch {
  std::string runner;  // the swa-runner executable
  std::string library;  // the stage library on the host (copied into the sandbox)
  std::string log;  // where the runner's stdout and stderr go
  bool sandbox = true;  // bubblewrap; false: a plain child process (sandbox.h says what that leaves open)
  double cpu_seconds = 600;  // RLIMIT_CPU
};

struct HostMemory {
  long long peak_rss = 0;  // VmHWM, bytes, summed over the runner's processes
  long long device_mappings = 0;  // bytes of mappings of /dev/nvidia* files (pinned host memory shows here)
};

class RunnerProcess {
 public:
  explicit RunnerProcess(const RunnerLaunch& launch);  // throws std::runtime_error if it cannot start
  ~RunnerProcess();  // kills every process of the runner
  RunnerProcess(const RunnerProcess&) = delete;
  RunnerProcess& operator=(const RunnerProcess&) = delete;

  // Sends `request` (a fresh nonce is set), with `pass_fd` attached if >= 0, and returns the reply.
  // Throws RunnerFault: kTimedOut (the runner is killed), kCrashed (it died; the message says how), or
  // kProtocol (a malformed, mismatched or unasked-for message).
  protocol::Reply call(protocol::Request request, int pass_fd, double timeout_s);

  // Sends Quit, waits for the runner to end, then kills whatever of it is left. Returns how many
  // processes besides the runner were still there (a stage must start none). Throws RunnerFault
  // kProtocol for a message nobody asked for.
  int stop();

  pid_t pid() const { return pid_; }  // the runner's PID as the judge sees it (NVML, /proc)
  std::vector<pid_t> processes() const;  // the runner and every process it started
  void freeze();  // SIGSTOP every process of the runner: nothing of it can launch GPU work
  void thaw();  // SIGCONT (call() thaws a frozen runner first: a request wants an answer)
  bool sandboxed() const { return sandboxed_; }
  const std::string& library_inside() const { return library_inside_; }  // the library's path as the runner sees it
  // Executable mappings of files other than the runner, its own library and the system's libraries: a
  // library the stage loaded (read from /proc/<pid>/maps of every process of the runner).
  std::vector<std::string> foreign_code() const;
  HostMemory host_memory() const;

 private:
  std::string exit_description();  // waits for the process and says how it ended
  void kill_all();

  pid_t outer_ = -1;  // our child: bwrap, or the runner itself without the sandbox
  pid_t pid_ = -1;
  pid_t sandbox_init_ = -1;  // bwrap's PID 1 of the sandbox (its death ends every process in it)
  int socket_ = -1;
  bool sandboxed_ = false;
  bool exited_ = false;
  bool frozen_ = false;
  int wait_status_ = 0;
  std::string private_dir_, library_inside_, runner_inside_;
  std::vector<std::string> allowed_dirs_;
  uint64_t nonce_state_;
};

}  // namespace swa
