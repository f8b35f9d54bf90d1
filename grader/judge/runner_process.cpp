// runner_process.cpp: starting, talking to, watching and stopping a runner (runner_process.h).
#include "runner_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "report.h"
#include "sandbox.h"

extern char** environ;

namespace swa {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// The children of a process: /proc/PID/task/TID/children where the kernel has it, else every process
// whose parent is PID (from /proc/*/stat; slower, and what some sandboxed kernels offer).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  bool listed = false;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    listed = listed || static_cast<bool>(in);
    for (pid_t c; in >> c;) out.push_back(c);
  }
  if (listed) return out;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    const size_t close = text.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    std::string state;
    pid_t parent = 0;
    if (rest >> state >> parent && parent == pid) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::vector<pid_t> descendants_of(pid_t root) {
  std::vector<pid_t> all, todo = children_of(root);
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    if (std::find(all.begin(), all.end(), p) != all.end()) continue;
    all.push_back(p);
    for (pid_t c : children_of(p)) todo.push_back(c);
  }
  return all;
}

void copy_file(const std::string& from, const std::string& to, fs::perms mode) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, mode);
}

}  // namespace

RunnerProcess::RunnerProcess(const RunnerLaunch& launch) {
  nonce_state_ = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  // A private folder with copies of the runner and the library: the runner sees nothing of the kit.
  std::string templ = (fs::temp_directory_path() / "swa-runner-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error(errno_text("mkdtemp"));
  private_dir_ = templ;
  const std::string library_name = fs::path(launch.library).filename().string();
  copy_file(launch.runner, private_dir_ + "/swa-runner",
            fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                fs::perms::others_exec);
  copy_file(launch.library, private_dir_ + "/" + library_name,
            fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  sandboxed_ = launch.sandbox;
  const std::string inside = sandboxed_ ? "/sandbox" : private_dir_;
  runner_inside_ = inside + "/swa-runner";
  library_inside_ = inside + "/" + library_name;

  std::vector<std::string> hidden = {fs::path(launch.runner).parent_path().string(),
                                     fs::path(launch.library).parent_path().string(), private_dir_};
  allowed_dirs_ = library_dirs(hidden);
  for (const char* d : {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"}) allowed_dirs_.push_back(d);

  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0)
    throw std::runtime_error(errno_text("socketpair"));
  socket_ = sockets[0];
  int info[2] = {-1, -1};
  if (sandboxed_ && pipe2(info, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("pipe2"));
  const int log = open(launch.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0) throw std::runtime_error(errno_text(("open " + launch.log).c_str()));

  std::vector<std::string> args;
  std::string program;
  if (sandboxed_) {
    program = find_bwrap();
    if (program.empty()) throw std::runtime_error("bwrap (bubblewrap) is not installed");
    args = bwrap_arguments(private_dir_, allowed_dirs_, 4, {runner_inside_});
    args.insert(args.begin(), program);
  } else {
    program = runner_inside_;
    args = {program};
  }
  std::vector<std::string> env = runner_environment();
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const rlim_t cpu = static_cast<rlim_t>(launch.cpu_seconds);
  const std::string chdir_to = private_dir_;
  // Closed by a successful exec (close-on-exec); a failed one writes its errno first.
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("pipe2"));

  outer_ = fork();
  if (outer_ < 0) throw std::runtime_error(errno_text("fork"));
  if (outer_ == 0) {  // the child: only async-signal-safe calls until execve
    if (sandboxed_)
      setpgid(0, 0);  // bwrap in a group of its own; the sandbox makes its own session inside
    else
      setsid();  // the runner in a session and process group of its own
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    dup2(sockets[1], 3);
    if (sandboxed_) dup2(info[1], 4);
    const int report = sandboxed_ ? 5 : 4;  // the exec report, just above the descriptors kept
    dup2(exec_pipe[1], report);
    fcntl(report, F_SETFD, FD_CLOEXEC);
    if (syscall(SYS_close_range, report + 1, ~0U, 0) != 0)  // older kernels: one by one
      for (int fd = report + 1; fd < 4096; ++fd) close(fd);
    const rlimit cpu_limit{cpu, cpu + 5}, files{256, 256}, file_size{64 << 20, 64 << 20}, no_core{0, 0},
        processes{4096, 4096};
    setrlimit(RLIMIT_CPU, &cpu_limit);
    setrlimit(RLIMIT_NOFILE, &files);
    setrlimit(RLIMIT_FSIZE, &file_size);
    setrlimit(RLIMIT_CORE, &no_core);
    setrlimit(RLIMIT_NPROC, &processes);
    if (!sandboxed_ && chdir(chdir_to.c_str()) != 0) _exit(126);
    execve(program.c_str(), argv.data(), envp.data());
    const int error = errno;
    if (write(report, &error, sizeof(error)) < 0) _exit(126);
    _exit(127);
  }
  close(exec_pipe[1]);
  int exec_error = 0;
  ssize_t got;
  do {
    got = read(exec_pipe[0], &exec_error, sizeof(exec_error));
  } while (got < 0 && errno == EINTR);
  close(exec_pipe[0]);
  close(sockets[1]);
  close(log);
  close(null);
  if (got == sizeof(exec_error)) {
    kill_all();
    throw std::runtime_error("cannot start " + program + ": " + std::strerror(exec_error));
  }
  if (!sandboxed_) {
    pid_ = outer_;
    return;
  }
  close(info[1]);
  // bwrap writes {"child-pid": N, ...} on the info descriptor once the sandbox's PID 1 exists.
  std::string text;
  const Clock::time_point start = Clock::now();
  for (char buffer[512];;) {
    pollfd pfd{info[0], POLLIN, 0};
    if (poll(&pfd, 1, 200) > 0) {
      const ssize_t n = read(info[0], buffer, sizeof(buffer));
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
      const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (!j.is_discarded() && j.contains("child-pid")) {
        sandbox_init_ = j["child-pid"].get<pid_t>();
        break;
      }
    }
    if (Clock::now() - start > std::chrono::seconds(15)) break;
  }
  close(info[0]);
  while (sandbox_init_ > 0 && Clock::now() - start < std::chrono::seconds(15)) {
    const std::vector<pid_t> kids = children_of(sandbox_init_);
    if (!kids.empty()) {
      pid_ = kids.front();
      break;
    }
    int status = 0;
    if (waitpid(outer_, &status, WNOHANG) == outer_) {
      exited_ = true, wait_status_ = status;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (pid_ < 0) {
    const std::string how = exit_description();
    kill_all();
    throw std::runtime_error("the sandbox (bubblewrap) did not start the runner: bwrap " + how + "; its output (" +
                             launch.log + "):" + log_tail(launch.log, 6));
  }
}

RunnerProcess::~RunnerProcess() {
  kill_all();
  if (socket_ >= 0) close(socket_);
  std::error_code ec;
  if (!private_dir_.empty()) fs::remove_all(private_dir_, ec);
}

void RunnerProcess::kill_all() {
  if (outer_ <= 0) return;
  for (pid_t p : processes()) kill(p, SIGKILL);
  if (sandbox_init_ > 0) kill(sandbox_init_, SIGKILL);  // PID 1 of the sandbox: its death ends everything in it
  if (!sandboxed_) kill(-outer_, SIGKILL);  // the runner's process group
  kill(outer_, SIGKILL);
  if (!exited_) {
    int status = 0;
    if (waitpid(outer_, &status, 0) == outer_) exited_ = true, wait_status_ = status;
  }
}

std::vector<pid_t> RunnerProcess::processes() const {
  if (sandboxed_) return sandbox_init_ > 0 ? descendants_of(sandbox_init_) : std::vector<pid_t>{};
  if (pid_ <= 0 || exited_) return {};
  std::vector<pid_t> all = descendants_of(pid_);
  all.insert(all.begin(), pid_);
  return all;
}

void RunnerProcess::freeze() {
  for (int pass = 0; pass < 2; ++pass)  // twice: a process started meanwhile is caught the second time
    for (pid_t p : processes()) kill(p, SIGSTOP);
  frozen_ = true;
}

void RunnerProcess::thaw() {
  for (pid_t p : processes()) kill(p, SIGCONT);
  frozen_ = false;
}

std::string RunnerProcess::exit_description() {
  if (!exited_) {
    int status = 0;
    for (int k = 0; k < 400 && !exited_; ++k) {  // up to 2 s for it to finish dying
      if (waitpid(outer_, &status, WNOHANG) == outer_)
        exited_ = true, wait_status_ = status;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!exited_) {
      kill_all();
      return "closed its connection but did not exit (killed)";
    }
  }
  const int s = wait_status_;
  int signal_number = WIFSIGNALED(s) ? WTERMSIG(s) : 0;
  int code = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  if (sandboxed_ && code > 128 && code < 160) signal_number = code - 128;  // bwrap reports a signal as 128 + n
  if (signal_number) return "died of signal " + std::to_string(signal_number) + " (" + strsignal(signal_number) + ")";
  return "exited with status " + std::to_string(code);
}

protocol::Reply RunnerProcess::call(protocol::Request request, int pass_fd, double timeout_s) {
  using protocol::Reply;
  if (frozen_) thaw();
  // Anything waiting now was sent without being asked for.
  Reply buffer;
  if (const auto early = protocol::receive_packet(socket_, &buffer, sizeof(buffer), 0)) {
    if (early->fd >= 0) close(early->fd);
    if (early->closed) throw RunnerFault(RunnerFault::kCrashed, "the runner " + exit_description());
    throw RunnerFault(RunnerFault::kProtocol, "the runner sent a message nobody asked for");
  }
  nonce_state_ = nonce_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  request.nonce = nonce_state_ ^ (nonce_state_ >> 29);
  const std::string sent = protocol::send_packet(socket_, &request, sizeof(request), pass_fd);
  if (!sent.empty()) throw RunnerFault(RunnerFault::kCrashed, "the runner " + exit_description());
  const auto packet = protocol::receive_packet(socket_, &buffer, sizeof(buffer), static_cast<int>(timeout_s * 1000));
  if (!packet) {
    kill_all();
    char text[64];
    std::snprintf(text, sizeof(text), "%.0f", timeout_s);
    throw RunnerFault(RunnerFault::kTimedOut, std::string("no answer within ") + text + " s");
  }
  if (packet->closed) throw RunnerFault(RunnerFault::kCrashed, "the runner " + exit_description());
  if (packet->fd >= 0) {
    close(packet->fd);
    throw RunnerFault(RunnerFault::kProtocol, "the runner attached a file descriptor to its reply");
  }
  std::string why;
  const auto reply = protocol::parse_reply(&buffer, packet->size, request.kind, request.nonce, &why);
  if (!reply) throw RunnerFault(RunnerFault::kProtocol, "the runner sent " + why);
  return *reply;
}

int RunnerProcess::stop() {
  if (exited_) return 0;
  // Whatever else of the runner lives once it is idle was started by the stage.
  std::vector<pid_t> others = processes();
  others.erase(std::remove(others.begin(), others.end(), pid_), others.end());
  call(protocol::make_request(protocol::Kind::kQuit, 0), -1, 10);
  // Until the runner has gone (its end of the socket closes), anything it sends was not asked for: an
  // atexit handler's, say. A stage's leftover process keeps the socket open: then 2 s is the most we wait.
  bool unasked = false;
  const Clock::time_point start = Clock::now();
  for (protocol::Reply buffer; Clock::now() - start < std::chrono::seconds(2);) {
    const auto late = protocol::receive_packet(socket_, &buffer, sizeof(buffer), 100);
    if (!late) continue;
    if (late->fd >= 0) close(late->fd);
    if (late->closed) break;
    unasked = true;
  }
  for (int k = 0; k < 200 && !exited_; ++k) {
    int status = 0;
    if (waitpid(outer_, &status, WNOHANG) == outer_)
      exited_ = true, wait_status_ = status;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill_all();
  for (pid_t p : others) kill(p, SIGKILL);  // orphans are no longer in the runner's tree
  if (unasked) throw RunnerFault(RunnerFault::kProtocol, "the runner sent a message nobody asked for");
  return static_cast<int>(others.size());
}

std::vector<std::string> RunnerProcess::foreign_code() const {
  std::vector<std::string> found;
  for (pid_t p : processes()) {
    std::ifstream maps("/proc/" + std::to_string(p) + "/maps");
    for (std::string line; std::getline(maps, line);) {
      std::istringstream fields(line);
      std::string range, perms, offset, device, inode;
      fields >> range >> perms >> offset >> device >> inode;
      std::string path;
      std::getline(fields >> std::ws, path);
      if (perms.size() < 3 || perms[2] != 'x' || path.empty() || path[0] != '/') continue;
      if (path == runner_inside_ || path == library_inside_) continue;
      const bool system = std::any_of(allowed_dirs_.begin(), allowed_dirs_.end(),
                                      [&](const std::string& d) { return path.rfind(d + "/", 0) == 0; });
      if (!system && std::find(found.begin(), found.end(), path) == found.end()) found.push_back(path);
    }
  }
  return found;
}

HostMemory RunnerProcess::host_memory() const {
  HostMemory m;
  for (pid_t p : processes()) {
    std::ifstream status("/proc/" + std::to_string(p) + "/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmHWM:", 0) == 0) m.peak_rss += std::stoll(line.substr(6)) * 1024;
    std::ifstream maps("/proc/" + std::to_string(p) + "/maps");
    for (std::string line; std::getline(maps, line);) {
      if (line.find("/dev/nvidia") == std::string::npos) continue;
      unsigned long long lo = 0, hi = 0;
      if (std::sscanf(line.c_str(), "%llx-%llx", &lo, &hi) == 2) m.device_mappings += static_cast<long long>(hi - lo);
    }
  }
  return m;
}

}  // namespace swa
