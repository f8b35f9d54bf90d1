// sandbox.cpp: the bubblewrap command line of a runner (sandbox.h).
#include "sandbox.h"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace swa {
namespace {

bool under(const std::string& path, const std::string& dir) {
  return !dir.empty() && (path == dir || path.rfind(dir.back() == '/' ? dir : dir + "/", 0) == 0);
}

std::vector<std::string> glob_paths(const char* pattern) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob(pattern, 0, nullptr, &g) == 0)
    for (size_t k = 0; k < g.gl_pathc; ++k) out.push_back(g.gl_pathv[k]);
  globfree(&g);
  return out;
}

}  // namespace

std::string find_bwrap() {
  if (const char* explicit_path = std::getenv("SWA_BWRAP"); explicit_path != nullptr && *explicit_path)
    return access(explicit_path, X_OK) == 0 ? explicit_path : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/bwrap";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::vector<std::string> library_dirs(const std::vector<std::string>& hidden) {
  std::vector<std::string> dirs;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string file = line.substr(slash);
    if (file.size() > 10 && file.compare(file.size() - 10, 10, " (deleted)") == 0) continue;
    if (file.find(".so") == std::string::npos || under(file, "/usr") || under(file, "/dev")) continue;
    std::error_code ec;
    file = std::filesystem::canonical(file, ec).string();
    if (ec) continue;
    const std::string dir = std::filesystem::path(file).parent_path().string();
    if (under(dir, "/usr") || dir == "/" || dir.empty()) continue;
    if (std::any_of(hidden.begin(), hidden.end(), [&](const std::string& h) { return under(dir, h) || under(h, dir); }))
      continue;
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  return dirs;
}

std::vector<std::string> bwrap_arguments(const std::string& private_dir, const std::vector<std::string>& library_dirs,
                                         int info_fd, const std::vector<std::string>& command) {
  std::vector<std::string> a = {"--unshare-all",  // user (where possible), IPC, PID, network, UTS, cgroup
                                "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"};
  // /bin, /lib, /lib64, /sbin: links into /usr on merged systems, folders elsewhere.
  for (const char* top : {"/bin", "/lib", "/lib64", "/lib32", "/sbin"}) {
    std::error_code ec;
    if (std::filesystem::is_symlink(top, ec)) {
      a.insert(a.end(), {"--symlink", std::filesystem::read_symlink(top, ec).string(), top});
    } else if (std::filesystem::is_directory(top, ec)) {
      a.insert(a.end(), {"--ro-bind", top, top});
    }
  }
  for (const char* etc : {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"})
    a.insert(a.end(), {"--ro-bind-try", etc, etc});
  // Library folders named by ld.so.conf may not exist (/lib32 on a system without 32-bit libraries).
  for (const std::string& dir : library_dirs) a.insert(a.end(), {"--ro-bind-try", dir, dir});
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--ro-bind", "/sys", "/sys"});
  for (const char* pattern : {"/dev/nvidia*", "/dev/nvidia-caps", "/dev/dri"})
    for (const std::string& dev : glob_paths(pattern)) a.insert(a.end(), {"--dev-bind", dev, dev});
  a.insert(a.end(), {"--tmpfs", "/tmp", "--ro-bind", private_dir, "/sandbox", "--chdir", "/tmp", "--info-fd",
                     std::to_string(info_fd), "--"});
  a.insert(a.end(), command.begin(), command.end());
  return a;
}

std::vector<std::string> runner_environment() {
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=/tmp"};
  for (const char* name : {"LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_MODULE_LOADING", "SWA_SHARED_MEMORY_LIMIT"})
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  return env;
}

}  // namespace swa
