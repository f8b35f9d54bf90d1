#!/usr/bin/env bash
# setup.sh (Gradescope): installs what the kit needs on Gradescope's Ubuntu image, once, when the
# autograder's image is built. The CUDA Toolkit cannot be installed here: the image must already have
# it, on a runner with an NVIDIA GPU. Without it this script fails, so the autograder's image does not
# build and the failure shows where the instructor uploads the zip, not on a student's submission.
set -euo pipefail
min_cuda=12.0  # as cmake/SwaDependencies.cmake: stage 07 is built for sm_90a

for dir in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
  [[ -x $dir/nvcc ]] && { export PATH="$dir:$PATH"; break; }
done
if ! command -v nvcc > /dev/null; then
  echo "setup.sh: FAILED: no CUDA Toolkit (nvcc) in this image. The kit compiles CUDA: use an autograder" \
    "image with CUDA $min_cuda or newer, on a runner with an NVIDIA GPU." >&2
  exit 1
fi
cuda=$(nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
if ! printf '%s\n%s\n' "$min_cuda" "$cuda" | sort -V -C; then
  echo "setup.sh: FAILED: CUDA $cuda is too old; the kit needs $min_cuda or newer (stage 07 is built for sm_90a)" >&2
  exit 1
fi
echo "setup.sh: CUDA $cuda ($(command -v nvcc))"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# GoogleTest is not needed: the autograder builds without the test suite (SWA_BUILD_TESTS=OFF).
apt-get install -y -qq --no-install-recommends ca-certificates g++ ninja-build python3 python3-pip \
  libeigen3-dev libcli11-dev nlohmann-json3-dev > /dev/null

# CMake 3.25 or newer (Ubuntu 22.04 has 3.22): from PyPI when the system's is older.
have=$(cmake --version 2> /dev/null | sed -n 's/cmake version \([0-9.]*\).*/\1/p' || true)
if [[ -z $have ]] || ! printf '3.25\n%s\n' "$have" | sort -V -C; then
  echo "setup.sh: CMake ${have:-missing}; installing a newer one with pip"
  python3 -m pip install -q 'cmake>=3.25' || python3 -m pip install -q --break-system-packages 'cmake>=3.25'
  hash -r
fi
echo "setup.sh: $(cmake --version | head -n 1), ninja $(ninja --version), $(g++ --version | head -n 1)"
