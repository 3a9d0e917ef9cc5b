#!/usr/bin/env python3
"""A random-weight dense Llama-architecture GGUF in f16 whose widths are all multiples of 256, for
benchmarking the k-quants: SmolLM2-135M's width (576) is not, so llama-quantize's Q4_K_M of it is
mostly q5_0 / q8_0 and only its ffn_down rows are k-quants. Quantize this file with llama.cpp's
llama-quantize (or seek quantize) to Q4_K_M and every matrix is Q4_K or Q6_K, as in a real
7B Q4_K_M file. Default shape: hidden 1024, 8 layers, 16 heads of 64 with 4 KV heads, FFN 2816,
vocabulary 32768 (256 byte tokens plus fillers: benchmarks feed random ids), about 157M parameters.
Written with llama.cpp's gguf-py (pip install gguf numpy), not by seek.

With --tokenizer-from GGUF the vocabulary, merges, special tokens and chat template are copied
from that file instead (e.g. the default model's, so prompts of real text tokenize as they do
for SmolLM2; the serving benchmark on a larger model uses this).

usage: bench/gen_dense_gguf.py [--dim 1024] [--layers 8] [--ff 2816] [--tokenizer-from M.gguf]
                               [-o bench/models/dense-1024.F16.gguf]"""
import argparse
import os
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from byte_level import bytes_to_unicode  # noqa: E402  (GPT-2's byte alphabet)


def copy_tokenizer(w, path):
    """Copies every tokenizer.* key of the GGUF at path into writer w; returns the vocabulary size."""
    r = gguf.GGUFReader(path)
    n = 0
    for key, f in r.fields.items():
        if not key.startswith("tokenizer."):
            continue
        val = f.contents()
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, val, f.types[0], f.types[-1])
        else:
            w.add_key_value(key, val, f.types[0])
        if key == "tokenizer.ggml.tokens":
            n = len(val)
    if not n:
        sys.exit(f"{path}: no tokenizer.ggml.tokens")
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--ff", type=int, default=2816)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=32768)
    ap.add_argument("--tokenizer-from", help="copy the tokenizer.* keys of this GGUF (sets --vocab)")
    ap.add_argument("-o", "--out", default=None)
    a = ap.parse_args()
    if a.dim % 256 or a.ff % 256 or a.dim % a.heads or a.heads % a.kv_heads:
        sys.exit("--dim and --ff must be multiples of 256, --heads must divide --dim and be a multiple of --kv-heads")
    out = a.out or f"bench/models/dense-{a.dim}.F16.gguf"
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    rng = np.random.default_rng(0)
    hd = a.dim // a.heads
    w = gguf.GGUFWriter(out, "llama")
    w.add_name(f"dense llama {a.dim}x{a.layers}, random")
    w.add_context_length(8192)
    w.add_embedding_length(a.dim)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.ff)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    if a.tokenizer_from:
        a.vocab = copy_tokenizer(w, a.tokenizer_from)
    else:
        b2u = bytes_to_unicode()
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("default")
        w.add_token_list([b2u[b] for b in range(256)] + [f"<t{i}>" for i in range(256, a.vocab - 1)] + ["<|end|>"])
        w.add_token_types([1] * (a.vocab - 1) + [3])
        w.add_token_merges(["Ġ t"])
        w.add_bos_token_id(a.vocab - 1)
        w.add_eos_token_id(a.vocab - 1)
    w.add_vocab_size(a.vocab)

    def mat(name, rows, cols):
        w.add_tensor(name, (0.02 * rng.standard_normal((rows, cols), dtype=np.float32)).astype(np.float16))

    def vec(name, n):
        w.add_tensor(name, (1.0 + 0.05 * rng.standard_normal(n)).astype(np.float32))

    mat("token_embd.weight", a.vocab, a.dim)
    vec("output_norm.weight", a.dim)
    mat("output.weight", a.vocab, a.dim)
    for il in range(a.layers):
        p = f"blk.{il}."
        vec(p + "attn_norm.weight", a.dim)
        vec(p + "ffn_norm.weight", a.dim)
        mat(p + "attn_q.weight", a.dim, a.dim)
        mat(p + "attn_k.weight", a.kv_heads * hd, a.dim)
        mat(p + "attn_v.weight", a.kv_heads * hd, a.dim)
        mat(p + "attn_output.weight", a.dim, a.dim)
        mat(p + "ffn_gate.weight", a.ff, a.dim)
        mat(p + "ffn_up.weight", a.ff, a.dim)
        mat(p + "ffn_down.weight", a.dim, a.ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(out)


if __name__ == "__main__":
    main()
