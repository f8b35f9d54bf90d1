// protocol.h: the messages between the judge (swa grade) and the runner (swa-runner).
//
//     judge                                   runner (sandboxed; has loaded ONE stage library)
//       Load    {library}                ->   dlopen, check the ABI     <- Reply {abi, info}
//       Attach  {arena, bytes} + an fd   ->   map the judge's memory    <- Reply {ok | why}
//       Workspace {problem}              ->   stage.workspace_bytes()   <- Reply {value = bytes}
//       Run     {problem, plan}          ->   plan.count x forward(), cudaDeviceSynchronize()
//                                                                       <- Reply {status, launches, message}
//       Detach  {arena}                  ->   unmap                     <- Reply {ok}
//       Quit                             ->                             <- Reply {ok}, exit
//
// One request, one reply, in order, over a Unix SOCK_SEQPACKET socket (message boundaries kept). Every
// message is one fixed-size struct; the reply echoes the request's kind and its nonce (64 random bits the
// judge draws per request). The judge parses replies strictly (parse_reply): a packet of another size, a
// wrong magic, kind or nonce, a status out of range, an unterminated string, a file descriptor attached
// to a reply, or any packet nobody asked for is a protocol violation that costs the stage. Nothing in a
// reply can earn a point: outputs are read and checked by the judge, times are the judge's own clock.
//
// The runner knows no seed, no rubric and no report path: a request carries shapes and offsets into
// memory the judge owns, nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "problem.h"

namespace swa::protocol {

constexpr uint32_t kMagic = 0x31415753;  // "SWA1"

enum class Kind : uint32_t { kLoad = 1, kAttach = 2, kDetach = 3, kWorkspace = 4, kRun = 5, kQuit = 6 };
const char* kind_name(Kind kind);

// How the judge's memory reaches the runner (shared_arena.h).
enum class Sharing : uint32_t {
  kVmmFd = 1,  // cuMemCreate'd memory exported as a POSIX file descriptor, sent with SCM_RIGHTS
  kCudaIpc = 2,  // legacy cudaIpcGetMemHandle / cudaIpcOpenMemHandle
};
const char* sharing_name(Sharing sharing);

constexpr uint64_t kNoOffset = ~uint64_t{0};

// A Problem without pointers: the pattern's arrays are offsets into the arena (kNoOffset: none).
struct ProblemSpec {
  int32_t B, H, N, D;
  float scale;
  int32_t kind, left, right, dilation, num_global, block_size, num_sinks;
  uint64_t global_positions, adaptive_left, adaptive_right;
};

// Launch the stage `count` times: launch k reads Q, K, V at q + k*stride (and k, v alike) and writes O at
// o + k*stride; every launch shares the workspace. Offsets are into arena `arena`.
struct LaunchPlan {
  uint32_t arena;
  uint32_t count;
  uint64_t q, k, v, o;
  uint64_t stride;
  uint64_t workspace, workspace_bytes;
};

struct Request {
  uint32_t magic;
  Kind kind;
  uint64_t nonce;
  // kLoad: where the stage library is, as the runner sees it.
  char library[256];
  // kAttach / kDetach: which arena, how it is shared, its size; kCudaIpc's handle travels here, kVmmFd's
  // file descriptor beside the message.
  uint32_t arena;
  Sharing sharing;
  uint64_t bytes;
  unsigned char ipc_handle[64];
  // kWorkspace, kRun
  ProblemSpec problem;
  LaunchPlan plan;
};

// Reply statuses: a SwaStatus (0 .. 6, problem.h) from the stage, or the runner's own outcome.
enum RunnerStatus : int32_t {
  kRunnerCudaError = 100,  // the GPU reported an error while (or after) the stage ran: its context is lost
  kRunnerNoLibrary = 101,  // Load: the library could not be opened (dlopen's message)
  kRunnerBadLibrary = 102,  // Load: no swa_stage_api, another ABI, a null function or name
  kRunnerSharingFailed = 103,  // Attach: the memory could not be mapped (the CUresult or cudaError in the message)
  kRunnerBadRequest = 104,  // the request made no sense (an unknown arena, a size that does not fit)
};
bool valid_status(int32_t status);
std::string status_name(int32_t status);

struct Reply {
  uint32_t magic;
  Kind kind;
  uint64_t nonce;
  int32_t status;  // kSwaOk on success
  uint32_t launches;  // kRun: launches enqueued before the first failure (== plan.count when all went)
  uint64_t value;  // kWorkspace: bytes
  // kLoad: what the library declares (SwaStageInfo) and its ABI version.
  int32_t abi_version;
  uint32_t patterns, head_dims;
  int32_t tile_m, tile_n, min_compute_capability, arch_specific;
  char name[128];
  char message[1024];
};

// Builds a zeroed message with magic, kind and nonce set.
Request make_request(Kind kind, uint64_t nonce);
Reply make_reply(const Request& request);

// Copies text into a fixed array, always NUL-terminated (cut if too long).
template <size_t N>
void put_text(char (&dst)[N], const std::string& text) {
  const size_t n = text.size() < N - 1 ? text.size() : N - 1;
  text.copy(dst, n);
  dst[n] = '\0';
  for (size_t k = n + 1; k < N; ++k) dst[k] = '\0';
}

// The judge's strict reading of a reply packet: the reply, or nullopt with `why` saying what was wrong.
std::optional<Reply> parse_reply(const void* data, size_t size, Kind expected, uint64_t nonce, std::string* why);
// The runner's reading of a request: the request, or nullopt with `why`.
std::optional<Request> parse_request(const void* data, size_t size, std::string* why);

// A problem for the stage, with the pattern's arrays at `base` + their offsets.
Problem to_problem(const ProblemSpec& spec, const char* base);
ProblemSpec to_spec(const Problem& p);  // the shape and scalars; the array offsets kNoOffset

// --- transport: one message per packet --------------------------------------------------------------

// Sends one packet, with `pass_fd` attached (SCM_RIGHTS) when >= 0. Returns "" or why not.
std::string send_packet(int socket, const void* data, size_t size, int pass_fd = -1);

struct Packet {
  size_t size = 0;  // bytes received; > capacity when the packet was cut (MSG_TRUNC)
  int fd = -1;  // a descriptor that came with it, or -1
  bool closed = false;  // the other end is gone
};
// Waits up to timeout_ms (< 0: forever) for one packet. Returns nullopt on timeout; throws
// std::runtime_error for a socket error. Any descriptors beyond the first are closed.
std::optional<Packet> receive_packet(int socket, void* buffer, size_t capacity, int timeout_ms);

}  // namespace swa::protocol
