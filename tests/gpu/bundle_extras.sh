#!/usr/bin/env bash
# Adds to .gpu/ (made by ../shared/tools/gpu-bundle) what the GPU machine lacks beyond libzip: the
# OpenMP runtime, cpp-httplib and the Brotli libraries it links, and the demo model; with --serve also
# Node.js (xz), the OpenAI SDK and the Qwen2.5 tokenizer of the server tests and benchmark, keeping only
# the programs those need so that the bundle stays under the device tool's 64 MiB.
#   tests/gpu/bundle_extras.sh [--serve]
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
lib=/usr/lib/x86_64-linux-gnu
cp -L "$lib/libgomp.so.1" "$lib"/libcpp-httplib.so.0.11 "$lib"/libbrotli{common,dec,enc}.so.1 .gpu/lib/
# The demo model, found beside bin/: copied from the working tree there, which carries it anyway.
echo 'mkdir -p "$here/share/llmctl" && cp -r "$here/../packaging/demo-model/llmctl-demo" "$here/share/llmctl/"' >>.gpu/env.sh
if [[ ${1:-} == --serve ]]; then
  find .gpu/bin -type f ! -name llmctl-serve ! -name llmctl-bench ! -name llmctl-mem-estimate ! -name gpu_sampling_test -delete
  xz -T2 -3 -c "$(command -v node)" > .gpu/node.xz
  bash tests/integration/serve/fetch_openai_sdk.sh build/test-data/openai-sdk
  tar -cJf .gpu/openai-sdk.tar.xz -C build/test-data openai-sdk
  tar -cJf .gpu/qwen2_5.tar.xz -C build/test-data/tokenizers qwen2_5
fi
du -sh .gpu
