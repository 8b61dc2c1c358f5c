#!/usr/bin/env bash
# The README's test command: installs the dependencies, builds everything (the CUDA code too when nvcc
# is present) and runs the whole test suite. GPU tests report "Skipped" on a machine without a GPU;
# run them on the GPU machine with: ctest --test-dir build -L gpu
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${LLMCTL_PRESET:-default}
packaging/build.sh "$preset"
ctest --preset "$preset"
