// fake_runner.cpp: a stand-in for swa-runner that misbehaves on purpose, for test_trust.cpp (no GPU).
//
// The judge starts it exactly as it starts swa-runner (sandboxed or not). What it does is chosen by the
// name of the "library" it is asked to load (the file's name, e.g. unasked.so), since its command line and
// environment carry nothing. In every mode it answers the Load request with what it could see and do
// from inside, in the reply's message, so that the tests can check the sandbox.
#include <dirent.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "protocol.h"

extern char** environ;

namespace {

using namespace swa::protocol;

constexpr int kSocket = 3;

void send(const Reply& r) { send_packet(kSocket, &r, sizeof(r)); }

bool exists(const char* path) { return access(path, F_OK) == 0; }

// What the runner can see and do from where it is: "key=value;" pairs.
std::string survey(const std::string& probe_dir) {
  std::string s;
  s += std::string("probe_dir=") + (exists(probe_dir.c_str()) ? "visible" : "hidden") + ";";
  s += std::string("ppid=") + std::to_string(getppid()) + ";";
  s += std::string("pid=") + std::to_string(getpid()) + ";";
  const int net = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(9);
  addr.sin_addr.s_addr = htonl(0x01010101);  // a public address: unreachable without a network
  bool connected = false;
  if (net >= 0) {
    timeval tv{1, 0};
    setsockopt(net, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    connected = connect(net, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(net);
  }
  s += std::string("network=") + (connected ? "yes" : "no") + ";";
  int vars = 0;
  std::string names;
  for (char** e = environ; *e != nullptr; ++e, ++vars)
    names += std::string(*e).substr(0, std::string(*e).find('=')) + ",";
  s += "env=" + names + ";";
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  s += "nofile=" + std::to_string(r.rlim_cur) + ";";
  getrlimit(RLIMIT_CPU, &r);
  s += "cpu=" + std::to_string(r.rlim_cur) + ";";
  // Can it write where it is, or in /tmp (its private one)?
  FILE* f = std::fopen("/tmp/swa-fake-runner-was-here", "w");
  s += std::string("tmp_write=") + (f ? "yes" : "no") + ";";
  if (f) std::fclose(f);
  return s;
}

}  // namespace

int main() {
  std::string mode;
  for (;;) {
    Request q;
    const auto packet = receive_packet(kSocket, &q, sizeof(q), -1);
    if (!packet || packet->closed) return 0;
    Reply r = make_reply(q);
    if (q.kind == Kind::kLoad) {
      std::string library = q.library;
      mode = library.substr(library.rfind('/') + 1);
      mode = mode.substr(0, mode.find('.'));
      // The directory to look for travels in the library's own bytes (the test writes it there).
      std::string probe_dir;
      if (FILE* f = std::fopen(q.library, "r")) {
        char line[512] = {};
        if (std::fgets(line, sizeof(line), f)) probe_dir = line;
        std::fclose(f);
        while (!probe_dir.empty() && probe_dir.back() == '\n') probe_dir.pop_back();
      }
      put_text(r.name, "99_fake");
      r.abi_version = 2;
      r.tile_m = r.tile_n = 64;
      if (mode == "dlopen") {
        void* h = dlopen(probe_dir.c_str(), RTLD_NOW);  // a library outside its own: the judge must see it
        put_text(r.message, h ? "loaded" : dlerror());
        send(r);
        continue;
      }
      put_text(r.message, survey(probe_dir));
      if (mode == "nonce") r.nonce ^= 1;
      if (mode == "short") {
        send_packet(kSocket, &r, sizeof(r) - 8);
        continue;
      }
      if (mode == "fd") {
        send_packet(kSocket, &r, sizeof(r), 0);
        continue;
      }
      if (mode == "status") r.status = 77;
      if (mode == "abort") std::abort();
      if (mode == "hang")
        for (;;) pause();
      if (mode == "linger" && fork() == 0) {  // a process left behind, as a stage could start
        setsid();
        for (;;) pause();
      }
      send(r);
      if (mode == "twice") send(r);  // a second reply right after the real one
      if (mode == "unasked") {  // a message later, unasked, as a thread of the stage could send
        usleep(100000);
        Reply forged = r;
        put_text(forged.message, "forged");
        send(forged);
      }
      continue;
    }
    send(r);
    if (q.kind == Kind::kQuit) return 0;
  }
}
