// alloc_hook.h: how much device memory a stage allocates during a call.
//
// The `swa` program defines the CUDA runtime's allocation functions itself and exports them, so calls
// from a stage library reach these definitions first; each counts the bytes while a counter is active
// and forwards to the CUDA runtime's own. Kernels must never allocate (scratch memory comes from the
// declared workspace): the memory check adds what a call allocated to what the stage declared.
#pragma once

#include <cstddef>

namespace swa {

class AllocationCounter {
 public:
  AllocationCounter();  // counts from now until destruction (one counter at a time)
  ~AllocationCounter();
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;

  size_t bytes() const;  // device memory asked for since construction
  int calls() const;  // allocation calls since construction
};

// True when this program's allocation functions are the ones the CUDA runtime calls resolve to (the
// program was linked exporting them); the grader says so plainly when they are not.
bool allocation_hooks_exported();

}  // namespace swa
