// gpu_test.h: what the GPU tests share.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "device.h"

// Skips the test, saying why, where no GPU can be used; with one, the test runs and must pass.
#define REQUIRE_GPU()                                                        \
  do {                                                                       \
    std::string why_;                                                        \
    if (!swa::gpu_available(&why_)) GTEST_SKIP() << "needs a GPU: " << why_; \
  } while (0)
