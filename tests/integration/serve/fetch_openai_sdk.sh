#!/usr/bin/env bash
# Fetches the OpenAI Node SDK the server tests use as a real client: npm's openai@6.49.0 (no
# dependencies; runs on Node 18 and later), pinned by sha256, unpacked as DEST/node_modules/openai.
# Already fetched: reused.
#   usage: fetch_openai_sdk.sh DEST
set -euo pipefail
dest=${1:?usage: fetch_openai_sdk.sh DEST}
version=6.49.0
sha=e48de0f4c5dbecebdeb864233f5ea49be07cd3e0ff3bd3e1e6745dc5e168cced
target=$dest/node_modules/openai
[[ -f $target/.sha256 && $(cat "$target/.sha256") == "$sha" ]] && exit 0
command -v npm >/dev/null || { echo "fetch_openai_sdk.sh: npm is needed (packaging/install-deps.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(cd "$work" && npm pack --silent "openai@$version" 2>/dev/null | tail -1)
[[ -n $tarball && -f $work/$tarball ]] || { echo "fetch_openai_sdk.sh: npm pack openai@$version failed" >&2; exit 1; }
actual=$(sha256sum "$work/$tarball" | cut -d' ' -f1)
[[ $actual == "$sha" ]] || { echo "fetch_openai_sdk.sh: $tarball has sha256 $actual, expected $sha" >&2; exit 1; }
mkdir -p "$work/unpacked"
tar -xzf "$work/$tarball" -C "$work/unpacked"
echo "$sha" > "$work/unpacked/package/.sha256"
rm -rf "$target"
mkdir -p "$(dirname "$target")"
mv "$work/unpacked/package" "$target"
echo "fetch_openai_sdk.sh: openai@$version"
