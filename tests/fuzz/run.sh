#!/usr/bin/env bash
# Runs each libFuzzer target briefly from a seed corpus made here (a small valid GGUF, a GGUF
# whose metadata is the default model's header, and a few texts), failing on any crash, leak or
# sanitizer report. Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
secs=${2:-20}
model=$(./scripts/get-model.sh 2>/dev/null)
work=$build/fuzz-work
rm -rf "$work"
mkdir -p "$work/gguf" "$work/tok"
python3 - "$work/gguf" "$model" <<'PY'
import struct, sys
out, model = sys.argv[1], sys.argv[2]
def s(x): b = x.encode(); return struct.pack("<Q", len(b)) + b
kv = s("general.architecture") + struct.pack("<I", 8) + s("llama")
kv += s("a.arr") + struct.pack("<IIQ", 9, 4, 3) + struct.pack("<3I", 1, 2, 3)
kv += s("a.strs") + struct.pack("<IIQ", 9, 8, 2) + s("x") + s("yz")
ti = s("t") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 2) + struct.pack("<IQ", 0, 0)
blob = b"GGUF" + struct.pack("<IQQ", 3, 1, 3) + kv + ti
blob += b"\0" * ((-len(blob)) % 32) + struct.pack("<8f", *range(8))
open(out + "/tiny.gguf", "wb").write(blob)
# the real model's header and metadata, tensor data cut off
open(out + "/model_head.gguf", "wb").write(open(model, "rb").read()[:300000])
PY
printf 'Hello world' >"$work/tok/a"
printf '<|im_start|>user\nHi there! 123 456\t\t  x<|im_end|>' >"$work/tok/b"
printf '\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xff\xfe caf\xc3\xa9' >"$work/tok/c"
for t in gguf tokenizer; do
  case $t in gguf) corpus=$work/gguf ;; tokenizer) corpus=$work/tok ;; esac
  echo "fuzz_$t: ${secs}s"
  SEEK_MODEL=$model ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
    "$build/fuzz_$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=0 \
    "$corpus" 2>"$work/$t.log" || { tail -40 "$work/$t.log"; echo "fuzz_$t FAILED"; exit 1; }
  grep -E 'Done [0-9]+ runs' "$work/$t.log" | tail -1
done
echo "fuzz: 2 passed, 0 failed"
