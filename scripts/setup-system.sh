#!/usr/bin/env bash
# Install the Debian packages protobrain's build and tests use, if any are missing.
# Needs root (or sudo) for apt-get; prints the command to run otherwise.
set -euo pipefail

# tool on PATH -> Debian package that provides it
declare -A NEED=(
  [cc]=gcc
  [arm-none-eabi-gcc]=gcc-arm-none-eabi
  [riscv64-unknown-elf-gcc]=gcc-riscv64-unknown-elf
  [qemu-system-arm]=qemu-system-arm
  [qemu-system-riscv32]=qemu-system-misc
  [espeak-ng]=espeak-ng          # speech datasets for `protobrain train speech|synth`
  [clang]=clang                  # `make fuzz`: libFuzzer on the firmware's serial protocol
  [cppcheck]=cppcheck            # static analysis of the generated C (tests/codegen/test_static_analysis.py)
)
# packages with no tool to probe: checked with dpkg
EXTRA_PKGS=(libnewlib-arm-none-eabi picolibc-riscv64-unknown-elf
            libclang-rt-dev)  # libFuzzer and the sanitizer runtimes for clang

missing=()
for tool in "${!NEED[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${NEED[$tool]}")
done
for pkg in "${EXTRA_PKGS[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exec "$(dirname "$0")/fetch-qemu-plugin-header.sh"
fi

echo "setup: installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: not root; run: apt-get install -y ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
exec "$(dirname "$0")/fetch-qemu-plugin-header.sh"
