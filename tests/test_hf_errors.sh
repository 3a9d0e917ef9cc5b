#!/usr/bin/env bash
# Bad Hugging Face folders through the CLI (seek info / run / convert): each case must exit
# non-zero with one clear line on stderr naming the file and the field or tensor, never crash,
# hang or leak (make test runs this again under ASan/UBSan). The folders are copies of the tiny
# fixtures of tests/ref/gen_hf_models.py with one thing broken each (by python3 below).
# Usage: test_hf_errors.sh path/to/seek
set -u
seek=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fix=tests/fixtures/hf
python3 - "$fix" "$dir" <<'PY'
import json, os, shutil, struct, sys
fix, out = sys.argv[1], sys.argv[2]
def copy(src, name):
    d = os.path.join(out, name)
    shutil.copytree(os.path.join(fix, src), d)
    return d
def edit_config(d, f):
    p = os.path.join(d, "config.json")
    c = json.load(open(p))
    f(c)
    json.dump(c, open(p, "w"))
def st_parts(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]
def st_write(p, hdr, buf):
    h = json.dumps(hdr).encode()
    h += b" " * ((-len(h)) % 8)
    open(p, "wb").write(struct.pack("<Q", len(h)) + h + buf)
edit_config(copy("dsv3", "no_hidden"), lambda c: c.pop("hidden_size"))
edit_config(copy("dsv3", "no_kv_lora"), lambda c: c.pop("kv_lora_rank"))
edit_config(copy("llama", "unknown_arch"), lambda c: c.update(architectures=["MambaForCausalLM"]))
edit_config(copy("llama", "bad_heads"), lambda c: c.update(num_key_value_heads=3))
d = copy("llama", "bad_json")
open(os.path.join(d, "config.json"), "a").write("{ trailing")
# a header whose offsets run past the buffer
d = copy("llama", "lying_offsets")
p = os.path.join(d, "model.safetensors")
hdr, buf = st_parts(p)
k = sorted(x for x in hdr if x != "__metadata__")[0]
hdr[k]["data_offsets"][1] += 1 << 20
st_write(p, hdr, buf)
# two tensors over the same bytes
d = copy("llama", "overlap")
p = os.path.join(d, "model.safetensors")
hdr, buf = st_parts(p)
ks = sorted((x for x in hdr if x != "__metadata__"), key=lambda x: hdr[x]["data_offsets"][0])
a, b = ks[0], ks[1]
hdr[b]["data_offsets"] = list(hdr[a]["data_offsets"])
hdr[b]["shape"] = list(hdr[a]["shape"])
hdr[b]["dtype"] = hdr[a]["dtype"]
st_write(p, hdr, buf)
# a header length over 100 MB
d = copy("llama", "huge_header")
p = os.path.join(d, "model.safetensors")
open(p, "r+b").write(struct.pack("<Q", 200_000_000))
# a shard index naming a missing file
d = copy("dsv2", "missing_shard")
idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
shard = sorted(set(idx["weight_map"].values()))[-1]
os.remove(os.path.join(d, shard))
# a tensor the model needs is absent
d = copy("llama", "missing_tensor")
p = os.path.join(d, "model.safetensors")
hdr, buf = st_parts(p)
k = "model.layers.1.self_attn.o_proj.weight"
b0, b1 = hdr[k]["data_offsets"]
del hdr[k]
for x in hdr:
    if x != "__metadata__" and hdr[x]["data_offsets"][0] >= b1:
        hdr[x]["data_offsets"] = [o - (b1 - b0) for o in hdr[x]["data_offsets"]]
st_write(p, hdr, buf[:b0] + buf[b1:])
# no tokenizer.json
d = copy("llama", "no_tokenizer")
os.remove(os.path.join(d, "tokenizer.json"))
PY
source tests/expect.sh

expect no_hidden "no_hidden/config.json: field 'hidden_size' is missing" "$seek" info "$dir/no_hidden"
expect no_kv_lora "config.json: field 'kv_lora_rank' is missing" "$seek" run -m "$dir/no_kv_lora" -p hi
expect unknown_arch "architecture 'MambaForCausalLM' is not supported" "$seek" info "$dir/unknown_arch"
expect bad_heads "num_key_value_heads 3" "$seek" info "$dir/bad_heads"
expect bad_json "bad_json/config.json: line" "$seek" info "$dir/bad_json"
expect lying_offsets "lying_offsets/model.safetensors.*data_offsets" "$seek" info "$dir/lying_offsets"
expect overlap "overlap/model.safetensors.*overlap" "$seek" info "$dir/overlap"
expect huge_header "huge_header/model.safetensors.*header" "$seek" info "$dir/huge_header"
expect missing_shard "missing_shard.*model-0000" "$seek" info "$dir/missing_shard"
expect missing_tensor "model.layers.1.self_attn.o_proj.weight' is missing" "$seek" info "$dir/missing_tensor"
expect no_tokenizer "no_tokenizer/tokenizer.json" "$seek" info "$dir/no_tokenizer"
expect convert_bad "field 'hidden_size' is missing" "$seek" convert "$dir/no_hidden" -o "$dir/x.gguf"
[ ! -e "$dir/x.gguf" ] && [ ! -e "$dir/x.gguf.tmp" ] || { fail=$((fail + 1)); echo "FAIL convert_bad left a file behind"; }
expect convert_type "unknown --type 'q3'" "$seek" convert "$fix/llama" -o "$dir/y.gguf" --type q3
expect convert_not_folder "not a Hugging Face model folder" "$seek" convert "$dir/nowhere" -o "$dir/z.gguf"

# and the good path: convert, then run the GGUF and the folder with the same greedy output
if "$seek" convert "$fix/dsv3" -o "$dir/dsv3.gguf" --type f32 2>"$dir/err" &&
   a=$("$seek" run -m "$dir/dsv3.gguf" -p "To be or not" -n 12 --temp 0 2>/dev/null) &&
   b=$("$seek" run -m "$fix/dsv3" -p "To be or not" -n 12 --temp 0 2>/dev/null) && [ -n "$a" ] && [ "$a" = "$b" ]; then
  pass=$((pass + 1))
else
  fail=$((fail + 1))
  echo "FAIL convert+run: '$a' vs '$b'"; cat "$dir/err"
fi
echo "test_hf_errors: $pass passed, $fail failed"
[ $fail -eq 0 ]
