#!/usr/bin/env bash
# Installs every Debian package soma needs to build, test and run. Idempotent:
# packages already present are skipped by apt. Uses sudo only when not root.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ make cmake ninja-build pkg-config git ca-certificates
  # tests and benchmarks; clang and its runtimes for the libFuzzer targets
  libgtest-dev libgmock-dev libbenchmark-dev clang-19 libclang-rt-19-dev
  # libraries
  zlib1g-dev libzstd-dev libedit-dev
  # LLVM JIT backend
  llvm-19-dev
  # Vulkan backend (lavapipe gives a CPU Vulkan device where no GPU is present)
  libvulkan-dev mesa-vulkan-drivers glslang-dev glslang-tools spirv-tools
  vulkan-tools vulkan-validationlayers
  # real data for the examples and end-to-end tests
  dataset-fashion-mnist
  # reference values for the .npy tests
  python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "soma: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
