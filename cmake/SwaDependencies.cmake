# SwaDependencies.cmake: find everything the kit needs. A missing package stops configuration with a
# message that names it and the command that installs it (tools/setup.sh installs them all).

# swa_require(<package> <how to install> [find_package arguments...])
macro(swa_require package install)
  find_package(${package} ${ARGN} QUIET)
  if(NOT ${package}_FOUND)
    message(FATAL_ERROR
      "Required package ${package} was not found.\n"
      "Install it with:  ${install}\n"
      "(tools/setup.sh installs every dependency), or add its prefix to CMAKE_PREFIX_PATH.")
  endif()
endmacro()

swa_require(CUDAToolkit "the CUDA Toolkit from https://developer.nvidia.com/cuda-downloads (nvcc on PATH)")

# The oldest CUDA Toolkit the kit builds with: stage 07 is compiled for the arch-specific target sm_90a
# (wgmma, setmaxnreg), which nvcc knows from CUDA 12.0 on. An older nvcc would fail later with
# "Unsupported gpu architecture"; say it here, with both versions.
set(SWA_MIN_CUDA_VERSION 12.0)
foreach(version_var CMAKE_CUDA_COMPILER_VERSION CUDAToolkit_VERSION)
  if(DEFINED ${version_var} AND ${version_var} VERSION_LESS SWA_MIN_CUDA_VERSION)
    message(FATAL_ERROR
      "The CUDA Toolkit is too old: ${version_var} is ${${version_var}} (${CMAKE_CUDA_COMPILER}), and the kit "
      "needs CUDA ${SWA_MIN_CUDA_VERSION} or newer (stage 07 is built for sm_90a).\n"
      "Install a newer toolkit from https://developer.nvidia.com/cuda-downloads and point the build at its nvcc "
      "(-DCMAKE_CUDA_COMPILER=/usr/local/cuda-12.x/bin/nvcc, in a new build folder).")
  endif()
endforeach()
# Eigen is header-only: where a package installed the headers without its CMake config, use the headers.
find_package(Eigen3 3.3 NO_MODULE QUIET)
if(NOT Eigen3_FOUND)
  find_path(SWA_EIGEN_INCLUDE_DIR Eigen/Dense PATH_SUFFIXES eigen3)
  if(SWA_EIGEN_INCLUDE_DIR)
    add_library(Eigen3::Eigen INTERFACE IMPORTED)
    target_include_directories(Eigen3::Eigen INTERFACE "${SWA_EIGEN_INCLUDE_DIR}")
    message(STATUS "Eigen3: headers in ${SWA_EIGEN_INCLUDE_DIR} (no CMake config)")
  endif()
endif()
if(NOT TARGET Eigen3::Eigen)
  swa_require(Eigen3 "apt-get install libeigen3-dev" 3.3 NO_MODULE)
endif()
# GoogleTest only for the test suite: a build with SWA_BUILD_TESTS=OFF (tools/grade.sh, the Gradescope
# autograder, class grading) configures without it.
if(SWA_BUILD_TESTS)
  swa_require(GTest "apt-get install libgtest-dev (or configure with -DSWA_BUILD_TESTS=OFF)")
endif()
swa_require(CLI11 "apt-get install libcli11-dev" CONFIG)
swa_require(nlohmann_json "apt-get install nlohmann-json3-dev" 3 CONFIG)

# OpenMP only speeds up the CPU reference; without it the reference runs on one core.
find_package(OpenMP QUIET COMPONENTS CXX)
if(NOT OpenMP_CXX_FOUND)
  message(STATUS "OpenMP not found: the CPU reference will use one core")
endif()
