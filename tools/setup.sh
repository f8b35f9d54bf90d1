#!/usr/bin/env bash
# tools/setup.sh: install what the kit needs and is missing, on a Debian or Ubuntu machine.
#
#   tools/setup.sh          check, and install what is missing (apt-get as root, pip for the plots)
#   tools/setup.sh --check  only check: list what is missing, exit 1 if anything is
#
# Needs: the CUDA Toolkit (nvcc; install it from NVIDIA), CMake >= 3.25, Ninja, a C++17 compiler, Eigen 3,
# GoogleTest, CLI11, nlohmann-json, and Python 3 with the packages in plots/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
[[ ${1:-} == --check ]] && check_only=1

missing_apt=()
problems=()

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if ! command -v nvcc >/dev/null 2>&1; then
  for dir in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    [[ -x $dir/nvcc ]] && { export PATH="$dir:$PATH"; break; }
  done
fi
command -v nvcc >/dev/null 2>&1 ||
  problems+=("nvcc (the CUDA Toolkit) is not on PATH: install it from https://developer.nvidia.com/cuda-downloads")

# Tools are looked for as commands (they may come from elsewhere), libraries as Debian packages.
for tool in cmake:cmake ninja:ninja-build g++:g++ python3:python3; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing_apt+=("${tool#*:}")
done
command -v python3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1 && missing_apt+=(python3-pip)
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in libeigen3-dev libgtest-dev libcli11-dev nlohmann-json3-dev; do
    have_pkg "$pkg" || missing_apt+=("$pkg")
  done
else
  problems+=("not a Debian/Ubuntu machine: install Eigen 3, GoogleTest, CLI11 and nlohmann-json yourself")
fi

if ((${#missing_apt[@]})); then
  if ((check_only)); then
    problems+=("missing packages: apt-get install ${missing_apt[*]}")
  elif [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_apt[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    echo "setup: installing ${missing_apt[*]} (sudo)"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_apt[@]}" >/dev/null
  else
    problems+=("missing packages, and no root to install them: apt-get install ${missing_apt[*]}")
  fi
fi

cmake_version=$(cmake --version 2>/dev/null | head -n1 | awk '{print $3}')
if [[ -n $cmake_version ]] && ! printf '3.25\n%s\n' "$cmake_version" | sort -V -C; then
  problems+=("CMake $cmake_version is too old: the kit needs 3.25 or newer (pip install cmake)")
fi

# Python packages for the plots, pinned in plots/requirements.txt.
if [[ -f plots/requirements.txt ]] && command -v python3 >/dev/null 2>&1; then
  if ! python3 - plots/requirements.txt <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, _, wanted = line.partition("==")
    try:
        if wanted and version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
  then
    if ((check_only)); then
      problems+=("Python packages missing: python3 -m pip install -r plots/requirements.txt")
    else
      echo "setup: installing the Python packages in plots/requirements.txt"
      python3 -m pip install -q -r plots/requirements.txt ||
        python3 -m pip install -q --break-system-packages -r plots/requirements.txt
    fi
  fi
fi

if ((${#problems[@]})); then
  printf 'setup: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "setup: everything the kit needs is here"
