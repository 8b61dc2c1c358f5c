#!/usr/bin/env bash
# Configures and builds llmctl with a CMake preset (default: "default"; CI uses "ci").
#   packaging/build.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-${LLMCTL_PRESET:-default}}
packaging/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
