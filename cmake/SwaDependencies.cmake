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
swa_require(GTest "apt-get install libgtest-dev")
swa_require(CLI11 "apt-get install libcli11-dev" CONFIG)
swa_require(nlohmann_json "apt-get install nlohmann-json3-dev" 3 CONFIG)

# OpenMP only speeds up the CPU reference; without it the reference runs on one core.
find_package(OpenMP QUIET COMPONENTS CXX)
if(NOT OpenMP_CXX_FOUND)
  message(STATUS "OpenMP not found: the CPU reference will use one core")
endif()
