#!/usr/bin/env bash
# The README's first command: installs the dependencies, builds llmctl (preset $LLMCTL_PRESET, else
# "default"), and shows it working with no GPU and no network: the built-in demo model writes text and
# answers a chat on the CPU, then a bundled config.json of a real model (Qwen2.5-7B-Instruct) is
# inspected and sized for an H100.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/build.sh
export LLMCTL_LOG_LEVEL=warning
show() {  # show ARGS...: prints the command as typed (quoting arguments with spaces), then runs it
  local shown="" arg
  for arg in "$@"; do [[ $arg == *" "* ]] && arg="\"$arg\""; shown+=" $arg"; done
  echo; echo "\$ llmctl$shown"
  build/bin/llmctl "$@"
}
show generate -p "In the beginning God" --max-tokens 60
show generate --chat -p "Hello! Who are you?" --max-tokens 60
model=tests/fixtures/configs/Qwen--Qwen2.5-7B-Instruct
show inspect "$model"
show mem-estimate "$model" --gpu h100-80g
