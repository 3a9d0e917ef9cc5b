#!/usr/bin/env bash
# Runs each libFuzzer target briefly from a seed corpus made here (a small valid GGUF, a GGUF
# whose metadata is the default model's header, small valid safetensors files and a few texts),
# failing on any crash, leak or sanitizer report. Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
secs=${2:-20}
model=$(./scripts/get-model.sh 2>/dev/null)
work=$build/fuzz-work
rm -rf "$work"
mkdir -p "$work/gguf" "$work/tok" "$work/st" "$work/cfg" "$work/model"
# whole small models for the loader: the tiny fixtures, and (with a release build at hand) an
# arch-seek model from seek train with ALiBi, a window and XL memory
cp tests/fixtures/tiny/llama_linear_q8.gguf tests/fixtures/tiny/qwen2_yarn_f16.gguf "$work/model/"
if [ -x build/seek ]; then
  build/seek train --train README.md --tokenizer byte --n_layer 1 --dim 16 --n_head 2 --n_kv_head 2 --ctx 16 --ffn moe \
    --n_expert 4 --n_expert_used 2 --expert_dim 8 --n_dense_lead 0 --position alibi --sliding_window 6 --xl_memory 4 \
    --micro_batch 2 --seq_len 8 --steps 1 --eval_every 0 --out "$work/xl" >/dev/null 2>&1 && cp "$work/xl/model.gguf" "$work/model/seek_xl.gguf"
fi
cp bench/train_example.json tests/fixtures/train/*/config.json "$work/cfg/" 2>/dev/null || true
for f in tests/fixtures/train/*/config.json; do cp "$f" "$work/cfg/$(basename "$(dirname "$f")").json"; done
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
python3 - "$work/st" <<'PY'
import json, struct, sys
out = sys.argv[1]
def st(header, buf):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + buf
t = lambda dtype, shape, b, e: {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}
open(out + "/tiny.safetensors", "wb").write(st(
    {"__metadata__": {"format": "pt"}, "w": t("F32", [2, 2], 0, 16), "h": t("F16", [], 16, 18),
     "e": t("BF16", [0, 3], 18, 18), "q": t("F8_E4M3", [2], 18, 20)},
    struct.pack("<4fe", 1, 2, 3, 4, 0.5) + b"\x38\xc0"))
open(out + "/two.safetensors", "wb").write(st(
    {"a": t("I64", [1], 0, 8), "b": t("BOOL", [1, 1, 1], 8, 9)}, struct.pack("<q?", -1, True)))
PY
cp tests/fixtures/safetensors/*.safetensors "$work/st/"
# JSON and safetensors words, so mutations reach past the lexer
printf '%s\n' '"{"' '"}"' '"["' '"]"' '":"' '","' '"\"dtype\""' '"\"shape\""' '"\"data_offsets\""' \
  '"\"__metadata__\""' '"\"F32\""' '"\"F16\""' '"\"BF16\""' '"\"F8_E4M3\""' '"\"U8\""' '"\"BOOL\""' \
  '"\"F64\""' '"18446744073709551615"' '"9223372036854775807"' '"-1"' '"0"' '"\\u0000"' >"$work/st.dict"
mkdir -p "$work/api"
printf '\x01{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":16,"temperature":0.7,"stop":["\\n"],"logprobs":true,"top_logprobs":3,"response_format":{"type":"json_object"},"logit_bias":{"42":-100},"stream":true,"stream_options":{"include_usage":true}}' >"$work/api/chat"
printf '\x00{"prompt":"Once upon a time","max_tokens":8,"seed":7,"top_k":40,"top_p":0.9,"min_p":0.05,"presence_penalty":0.5,"logprobs":2}' >"$work/api/completion"
printf '\x00{"prompt":[1,2,3],"n":1,"stop":"x"}' >"$work/api/ids"
printf 'Hello world' >"$work/tok/a"
printf '<|im_start|>user\nHi there! 123 456\t\t  x<|im_end|>' >"$work/tok/b"
printf '\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xff\xfe caf\xc3\xa9' >"$work/tok/c"
for t in gguf safetensors tokenizer openai train_config model; do
  extra=()
  case $t in
    gguf) corpus=$work/gguf ;;
    safetensors) corpus=$work/st extra=(-dict="$work/st.dict") ;;
    tokenizer) corpus=$work/tok ;;
    openai) corpus=$work/api extra=(-dict="$work/st.dict") ;;
    train_config) corpus=$work/cfg extra=(-dict="$work/st.dict") ;;
    model) corpus=$work/model extra=(-max_len=262144) ;;
  esac
  echo "fuzz_$t: ${secs}s"
  SEEK_MODEL=$model ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
    "$build/fuzz_$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=0 \
    "${extra[@]}" "$corpus" 2>"$work/$t.log" || { tail -40 "$work/$t.log"; echo "fuzz_$t FAILED"; exit 1; }
  grep -E 'Done [0-9]+ runs' "$work/$t.log" | tail -1
done
echo "fuzz: 6 passed, 0 failed"
