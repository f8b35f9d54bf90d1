// shared_arena.cpp: exportable device memory (shared_arena.h).
#include "shared_arena.h"

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace swa {
namespace {

// A driver API function through the runtime's entry-point query (no link against libcuda).
template <class F>
F driver_function(const char* name) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  const cudaError_t err = cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &found);
  if (err != cudaSuccess || found != cudaDriverEntryPointSuccess || fn == nullptr) {
    cudaGetLastError();
    throw std::runtime_error(std::string("cannot reach the CUDA driver's ") + name + ": " +
                             (err != cudaSuccess ? cudaGetErrorName(err) : "symbol not found in this driver"));
  }
  return reinterpret_cast<F>(fn);
}
#define SWA_DRIVER(name) driver_function<decltype(&::name)>(#name)

void check(CUresult result, const char* step) {
  if (result == CUDA_SUCCESS) return;
  const char* name = nullptr;
  try {
    SWA_DRIVER(cuGetErrorName)(result, &name);
  } catch (const std::exception&) {
  }
  throw std::runtime_error(std::string(step) + " failed: " + (name ? name : "CUresult") + " (" +
                           std::to_string(static_cast<int>(result)) + ")");
}

void check(cudaError_t err, const char* step) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw std::runtime_error(std::string(step) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                           ")");
}

int current_device() {
  check(cudaFree(nullptr), "creating the CUDA context (cudaFree(0))");
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

CUmemAllocationProp vmm_properties(int device) {
  CUmemAllocationProp prop;
  std::memset(&prop, 0, sizeof(prop));
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  return prop;
}

void allow_access(CUdeviceptr ptr, size_t size, int device) {
  CUmemAccessDesc access;
  std::memset(&access, 0, sizeof(access));
  access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  access.location.id = device;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  check(SWA_DRIVER(cuMemSetAccess)(ptr, size, &access, 1), "cuMemSetAccess");
}

}  // namespace

std::string sharing_supported(protocol::Sharing sharing) {
  try {
    const int device = current_device();
    if (sharing == protocol::Sharing::kCudaIpc) return "";
    int vmm = 0, fd = 0;
    check(SWA_DRIVER(cuDeviceGetAttribute)(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, device),
          "cuDeviceGetAttribute(VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED)");
    check(
        SWA_DRIVER(cuDeviceGetAttribute)(&fd, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, device),
        "cuDeviceGetAttribute(HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED)");
    if (!vmm) return "this GPU or driver does not support CUDA virtual memory management";
    if (!fd) return "this GPU or driver cannot export memory as a POSIX file descriptor";
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

DeviceArena::DeviceArena(size_t bytes, protocol::Sharing sharing) : sharing_(sharing) {
  const int device = current_device();
  if (sharing == protocol::Sharing::kCudaIpc) {
    size_ = bytes;
    void* p = nullptr;
    check(cudaMalloc(&p, size_), "cudaMalloc of a shared arena");
    ptr_ = static_cast<char*>(p);
    return;
  }
  const CUmemAllocationProp prop = vmm_properties(device);
  size_t granularity = 0;
  check(SWA_DRIVER(cuMemGetAllocationGranularity)(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM),
        "cuMemGetAllocationGranularity");
  size_ = (bytes + granularity - 1) / granularity * granularity;
  CUmemGenericAllocationHandle handle = 0;
  check(SWA_DRIVER(cuMemCreate)(&handle, size_, &prop, 0), "cuMemCreate (exportable as a POSIX file descriptor)");
  handle_ = handle;
  CUdeviceptr ptr = 0;
  try {
    check(SWA_DRIVER(cuMemAddressReserve)(&ptr, size_, 0, 0, 0), "cuMemAddressReserve");
    check(SWA_DRIVER(cuMemMap)(ptr, size_, 0, handle, 0), "cuMemMap");
    allow_access(ptr, size_, device);
  } catch (...) {
    if (ptr) SWA_DRIVER(cuMemAddressFree)(ptr, size_);
    SWA_DRIVER(cuMemRelease)(handle);
    throw;
  }
  ptr_ = reinterpret_cast<char*>(ptr);
}

DeviceArena::~DeviceArena() {
  if (ptr_ == nullptr) return;
  try {
    if (sharing_ == protocol::Sharing::kCudaIpc) {
      cudaFree(ptr_);
      return;
    }
    const CUdeviceptr ptr = reinterpret_cast<CUdeviceptr>(ptr_);
    SWA_DRIVER(cuMemUnmap)(ptr, size_);
    SWA_DRIVER(cuMemAddressFree)(ptr, size_);
    SWA_DRIVER(cuMemRelease)(handle_);
  } catch (...) {
  }
}

int DeviceArena::export_fd() const {
  if (sharing_ != protocol::Sharing::kVmmFd) return -1;
  int fd = -1;
  check(SWA_DRIVER(cuMemExportToShareableHandle)(&fd, handle_, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
        "cuMemExportToShareableHandle(POSIX file descriptor)");
  return fd;
}

void DeviceArena::export_ipc(unsigned char (&handle)[64]) const {
  cudaIpcMemHandle_t h;
  check(cudaIpcGetMemHandle(&h, ptr_), "cudaIpcGetMemHandle");
  static_assert(sizeof(h) == 64, "a CUDA IPC handle is 64 bytes");
  std::memcpy(handle, &h, sizeof(h));
}

MappedArena::MappedArena(protocol::Sharing sharing, size_t bytes, int fd, const unsigned char (&ipc_handle)[64])
    : size_(bytes), sharing_(sharing) {
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd >= 0) close(fd);
    }
  } closer{fd};
  const int device = current_device();
  if (sharing == protocol::Sharing::kCudaIpc) {
    cudaIpcMemHandle_t h;
    std::memcpy(&h, ipc_handle, sizeof(h));
    void* p = nullptr;
    check(cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess), "cudaIpcOpenMemHandle");
    ptr_ = static_cast<char*>(p);
    return;
  }
  if (fd < 0) throw std::runtime_error("an attach request without a file descriptor");
  CUmemGenericAllocationHandle handle = 0;
  check(SWA_DRIVER(cuMemImportFromShareableHandle)(&handle, reinterpret_cast<void*>(static_cast<uintptr_t>(fd)),
                                                   CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR),
        "cuMemImportFromShareableHandle(POSIX file descriptor)");
  CUdeviceptr ptr = 0;
  try {
    check(SWA_DRIVER(cuMemAddressReserve)(&ptr, size_, 0, 0, 0), "cuMemAddressReserve (runner)");
    check(SWA_DRIVER(cuMemMap)(ptr, size_, 0, handle, 0), "cuMemMap (runner)");
    allow_access(ptr, size_, device);
  } catch (...) {
    if (ptr) SWA_DRIVER(cuMemAddressFree)(ptr, size_);
    SWA_DRIVER(cuMemRelease)(handle);
    throw;
  }
  SWA_DRIVER(cuMemRelease)(handle);  // the mapping keeps the memory alive
  ptr_ = reinterpret_cast<char*>(ptr);
}

MappedArena::~MappedArena() {
  if (ptr_ == nullptr) return;
  try {
    if (sharing_ == protocol::Sharing::kCudaIpc) {
      cudaIpcCloseMemHandle(ptr_);
      return;
    }
    const CUdeviceptr ptr = reinterpret_cast<CUdeviceptr>(ptr_);
    SWA_DRIVER(cuMemUnmap)(ptr, size_);
    SWA_DRIVER(cuMemAddressFree)(ptr, size_);
  } catch (...) {
  }
}

uint64_t ArenaLayout::add(size_t bytes) {
  const uint64_t offset = end_;
  end_ += (bytes + 255) / 256 * 256;
  if (bytes == 0) end_ += 256;  // a distinct, valid address even for an empty block
  return offset;
}

}  // namespace swa
