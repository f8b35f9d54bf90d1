// shared_arena.h: device memory the judge owns and the runner may use.
//
// The judge allocates one arena per problem (Q, K, V, O, the workspace and the pattern's arrays at
// offsets), fills, poisons and reads it in its own CUDA context, and shares it with the runner:
//
//   kVmmFd    cuMemCreate with CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR; the file descriptor from
//             cuMemExportToShareableHandle travels over the Unix socket (SCM_RIGHTS), and the runner
//             imports and maps it. A descriptor is a kernel object: it crosses PID, IPC and mount
//             namespaces, so this works inside the sandbox.
//   kCudaIpc  the legacy cudaIpcGetMemHandle / cudaIpcOpenMemHandle (64 bytes in the message), for
//             drivers or sandboxes where the first does not work.
//
// Every failure throws std::runtime_error naming the step and the CUresult or cudaError, so that one
// run on a new machine says what to fix. The driver API is reached through cudaGetDriverEntryPoint, so
// nothing links libcuda.so.1: `swa` still starts (and says "no GPU") on a machine without a driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol.h"

namespace swa {

// "" when this GPU and driver can export memory as `sharing`, else why not.
std::string sharing_supported(protocol::Sharing sharing);

// The judge's side: an allocation it can share.
class DeviceArena {
 public:
  DeviceArena(size_t bytes, protocol::Sharing sharing);
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  char* data() const { return ptr_; }  // a device pointer in the judge's context
  size_t size() const { return size_; }  // rounded up to the allocation granularity
  protocol::Sharing sharing() const { return sharing_; }
  // A new POSIX descriptor for the runner (kVmmFd; the caller closes it after sending), or -1.
  int export_fd() const;
  // Fills the request's ipc_handle (kCudaIpc).
  void export_ipc(unsigned char (&handle)[64]) const;

 private:
  char* ptr_ = nullptr;
  size_t size_ = 0;
  protocol::Sharing sharing_;
  unsigned long long handle_ = 0;  // CUmemGenericAllocationHandle (kVmmFd)
};

// The runner's side: the judge's arena mapped into this process.
class MappedArena {
 public:
  // Takes ownership of `fd` (kVmmFd) and closes it.
  MappedArena(protocol::Sharing sharing, size_t bytes, int fd, const unsigned char (&ipc_handle)[64]);
  ~MappedArena();
  MappedArena(const MappedArena&) = delete;
  MappedArena& operator=(const MappedArena&) = delete;
  char* data() const { return ptr_; }
  size_t size() const { return size_; }

 private:
  char* ptr_ = nullptr;
  size_t size_ = 0;
  protocol::Sharing sharing_;
};

// Offsets of a problem's buffers inside an arena; every one aligned to 256 bytes.
class ArenaLayout {
 public:
  uint64_t add(size_t bytes);  // the offset of a new block of `bytes`
  size_t size() const { return end_ == 0 ? 256 : end_; }

 private:
  size_t end_ = 0;
};

}  // namespace swa
