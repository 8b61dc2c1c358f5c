#!/usr/bin/env bash
# Writes the demo model's training text: the King James Bible (1611, public domain), one verse per line
# ("Ge1:1 In the beginning God created the heaven and the earth."), 31,102 lines. Debian's
# bible-kjv-text keeps it in a compressed format that only the `bible` program of bible-kjv decodes,
# so both packages are downloaded (no root needed) and unpacked into a scratch folder.
#   packaging/demo-model/corpus.sh OUT.txt
set -euo pipefail
out=${1:?usage: corpus.sh OUT.txt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download bible-kjv bible-kjv-text >/dev/null 2>&1) ||
  { echo "corpus.sh: apt-get download bible-kjv bible-kjv-text failed (a Debian or Ubuntu apt source is needed)" >&2; exit 1; }
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
"$work/root/usr/bin/bible" -f -p "$work/root/usr/lib" gen1:1-rev22:21 >"$out"
# The text the published model was trained on (bible-kjv-text 4.38, Debian 12).
echo "cd45f0c9cedab8e4439bd6486c8952c77cc8b0ecc5d1f6ae3513f2039f47229d  $out" | sha256sum --check --quiet
