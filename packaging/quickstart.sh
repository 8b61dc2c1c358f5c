#!/usr/bin/env bash
# The README's first command: installs the dependencies, builds llmctl (preset $LLMCTL_PRESET, else
# "default"), and runs it on a bundled config.json of a real model (Qwen2.5-7B-Instruct): what the
# model is, and how it fits on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/build.sh
model=tests/fixtures/configs/Qwen--Qwen2.5-7B-Instruct
echo
echo "\$ llmctl inspect $model"
build/bin/llmctl inspect "$model"
echo
echo "\$ llmctl mem-estimate $model --gpu h100-80g"
build/bin/llmctl mem-estimate "$model" --gpu h100-80g
