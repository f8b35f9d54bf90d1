// protocol.cpp: message checks and the packet transport (protocol.h).
#include "protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace swa::protocol {

static_assert(std::is_trivially_copyable_v<Request> && std::is_trivially_copyable_v<Reply>, "messages travel as bytes");

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kLoad: return "load";
    case Kind::kAttach: return "attach";
    case Kind::kDetach: return "detach";
    case Kind::kWorkspace: return "workspace";
    case Kind::kRun: return "run";
    case Kind::kQuit: return "quit";
  }
  return "unknown";
}

const char* sharing_name(Sharing sharing) {
  switch (sharing) {
    case Sharing::kVmmFd: return "CUDA VMM, POSIX file descriptor";
    case Sharing::kCudaIpc: return "CUDA IPC memory handle";
  }
  return "unknown";
}

bool valid_status(int32_t status) {
  return (status >= kSwaOk && status <= kSwaLaunchRejected) ||
         (status >= kRunnerCudaError && status <= kRunnerBadRequest);
}

std::string status_name(int32_t status) {
  switch (status) {
    case kSwaOk: return "ok";
    case kSwaInvalidArgument: return "invalid argument";
    case kSwaUnsupported: return "unsupported";
    case kSwaCudaError: return "CUDA error";
    case kSwaInternalError: return "internal error";
    case kSwaUnsupportedDevice: return "unsupported device";
    case kSwaLaunchRejected: return "launch rejected";
    case kRunnerCudaError: return "CUDA error while running";
    case kRunnerNoLibrary: return "library not loaded";
    case kRunnerBadLibrary: return "invalid library";
    case kRunnerSharingFailed: return "memory sharing failed";
    case kRunnerBadRequest: return "bad request";
  }
  return "status " + std::to_string(status);
}

Request make_request(Kind kind, uint64_t nonce) {
  Request r;
  std::memset(&r, 0, sizeof(r));
  r.magic = kMagic;
  r.kind = kind;
  r.nonce = nonce;
  return r;
}

Reply make_reply(const Request& request) {
  Reply r;
  std::memset(&r, 0, sizeof(r));
  r.magic = kMagic;
  r.kind = request.kind;
  r.nonce = request.nonce;
  return r;
}

namespace {

template <size_t N>
bool terminated(const char (&text)[N]) {
  return std::memchr(text, '\0', N) != nullptr;
}

bool known_kind(Kind kind) { return static_cast<uint32_t>(kind) >= 1 && static_cast<uint32_t>(kind) <= 6; }

}  // namespace

std::optional<Reply> parse_reply(const void* data, size_t size, Kind expected, uint64_t nonce, std::string* why) {
  auto fail = [&](const std::string& text) -> std::optional<Reply> {
    if (why) *why = text;
    return std::nullopt;
  };
  if (size != sizeof(Reply))
    return fail("a reply of " + std::to_string(size) + " bytes (a reply is " + std::to_string(sizeof(Reply)) + ")");
  Reply r;
  std::memcpy(&r, data, sizeof(r));
  if (r.magic != kMagic) return fail("a reply without the protocol's magic number");
  if (r.kind != expected)
    return fail(std::string("a '") + (known_kind(r.kind) ? kind_name(r.kind) : "unknown") + "' reply where a '" +
                kind_name(expected) + "' reply was due");
  if (r.nonce != nonce) return fail("a reply to a request that was never sent (wrong nonce)");
  if (!valid_status(r.status)) return fail("a reply with an unknown status " + std::to_string(r.status));
  if (!terminated(r.name) || !terminated(r.message)) return fail("a reply with an unterminated string");
  return r;
}

std::optional<Request> parse_request(const void* data, size_t size, std::string* why) {
  auto fail = [&](const std::string& text) -> std::optional<Request> {
    if (why) *why = text;
    return std::nullopt;
  };
  if (size != sizeof(Request)) return fail("a request of " + std::to_string(size) + " bytes");
  Request r;
  std::memcpy(&r, data, sizeof(r));
  if (r.magic != kMagic) return fail("a request without the magic number");
  if (!known_kind(r.kind)) return fail("a request of unknown kind");
  if (!terminated(r.library)) return fail("an unterminated library path");
  return r;
}

Problem to_problem(const ProblemSpec& s, const char* base) {
  Problem p;
  p.B = s.B, p.H = s.H, p.N = s.N, p.D = s.D, p.scale = s.scale;
  p.pattern.kind = static_cast<PatternKind>(s.kind);
  p.pattern.left = s.left, p.pattern.right = s.right, p.pattern.dilation = s.dilation;
  p.pattern.num_global = s.num_global;
  p.pattern.block_size = s.block_size, p.pattern.num_sinks = s.num_sinks;
  auto at = [base](uint64_t offset) {
    return offset == kNoOffset ? nullptr : reinterpret_cast<const int32_t*>(base + offset);
  };
  p.pattern.global_positions = at(s.global_positions);
  p.pattern.adaptive_left = at(s.adaptive_left);
  p.pattern.adaptive_right = at(s.adaptive_right);
  return p;
}

ProblemSpec to_spec(const Problem& p) {
  ProblemSpec s;
  std::memset(&s, 0, sizeof(s));
  s.B = p.B, s.H = p.H, s.N = p.N, s.D = p.D, s.scale = p.scale;
  s.kind = static_cast<int32_t>(p.pattern.kind);
  s.left = p.pattern.left, s.right = p.pattern.right, s.dilation = p.pattern.dilation;
  s.num_global = p.pattern.num_global;
  s.block_size = p.pattern.block_size, s.num_sinks = p.pattern.num_sinks;
  s.global_positions = s.adaptive_left = s.adaptive_right = kNoOffset;
  return s;
}

std::string send_packet(int socket, const void* data, size_t size, int pass_fd) {
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  for (;;) {
    const ssize_t n = sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(size)) return "";
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? std::string("sendmsg: ") + std::strerror(errno) : "sendmsg sent part of a message";
  }
}

std::optional<Packet> receive_packet(int socket, void* buffer, size_t capacity, int timeout_ms) {
  pollfd pfd{socket, POLLIN, 0};
  for (;;) {
    const int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (ready == 0) return std::nullopt;
    break;
  }
  iovec iov{buffer, capacity};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(8 * sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(socket, &msg, MSG_TRUNC | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  Packet packet;
  if (n < 0) {
    if (errno == ECONNRESET) {
      packet.closed = true;
      return packet;
    }
    throw std::runtime_error(std::string("recvmsg: ") + std::strerror(errno));
  }
  if (n == 0) {
    packet.closed = true;
    return packet;
  }
  packet.size = static_cast<size_t>(n);
  if (msg.msg_flags & MSG_TRUNC) packet.size = capacity + 1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count; ++k) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      if (packet.fd < 0)
        packet.fd = fd;
      else
        close(fd);
    }
  }
  return packet;
}

}  // namespace swa::protocol
