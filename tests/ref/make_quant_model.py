#!/usr/bin/env python3
"""Writes a small random Llama model as a Hugging Face folder for tests/test_quantize.sh: rows of
256 and 512 values (so every k-quant applies without falling back), 4 layers (so the _M mixes'
use_more_bits picks some layers and not others), tied embeddings (so token_embd follows the
output rule), f16 weights. The tokenizer is tests/fixtures/hf/llama's. Only the standard library
(deterministic: a seeded random.Random), so it runs wherever the tests run.

usage: make_quant_model.py OUTDIR"""
import json
import os
import random
import shutil
import struct
import sys

DIM, FF, LAYERS, HEADS, KV_HEADS, VOCAB = 256, 512, 4, 4, 2, 336
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hf", "llama")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(SRC, f), os.path.join(out, f))
    with open(os.path.join(SRC, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(hidden_size=DIM, intermediate_size=FF, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
               num_key_value_heads=KV_HEADS, head_dim=DIM // HEADS, vocab_size=VOCAB, tie_word_embeddings=True,
               max_position_embeddings=1024, dtype="float16")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    hd = DIM // HEADS
    shapes = {"model.embed_tokens.weight": [VOCAB, DIM], "model.norm.weight": [DIM]}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes.update({p + "input_layernorm.weight": [DIM], p + "post_attention_layernorm.weight": [DIM],
                       p + "self_attn.q_proj.weight": [HEADS * hd, DIM], p + "self_attn.k_proj.weight": [KV_HEADS * hd, DIM],
                       p + "self_attn.v_proj.weight": [KV_HEADS * hd, DIM], p + "self_attn.o_proj.weight": [DIM, HEADS * hd],
                       p + "mlp.gate_proj.weight": [FF, DIM], p + "mlp.up_proj.weight": [FF, DIM],
                       p + "mlp.down_proj.weight": [DIM, FF]})
    rng = random.Random(1234)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, shape in shapes.items():
        n = 1
        for d in shape:
            n *= d
        if len(shape) == 1:
            vals = [1.0 + rng.uniform(-0.1, 0.1) for _ in range(n)]
        else:
            vals = [rng.uniform(-0.12, 0.12) for _ in range(n)]
        blob = struct.pack(f"<{n}e", *vals)
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    main()
