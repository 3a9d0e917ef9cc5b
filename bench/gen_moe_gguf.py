#!/usr/bin/env python3
"""A random-weight GGUF shaped like DeepSeek-V2-Lite with fewer layers, for bench/compare.py:
arch deepseek2 in llama.cpp's MLA layout (attn_k_b / attn_v_b, head_count_kv 1), hidden 2048,
16 heads, kv_lora 512, rope 64 / nope 128 / v 128, YaRN x40 as in V2-Lite's config,
64 routed experts of width 1408 (6 per token) + 2 shared, the first layer dense (10944), vocab
102400. One difference: V2-Lite has no q LoRA, but llama.cpp recognises a LoRA-less deepseek2
file only by its layer count (27), so these files have V2's q LoRA of rank 1536. 2-D weights are Q8_0 (random int8 blocks with small scales), norms and the router f32.
The vocabulary is 256 byte tokens plus fillers (benchmarks feed random ids; no text is made).
Written with llama.cpp's gguf-py (pip install gguf numpy), not by seek.

usage: bench/gen_moe_gguf.py [--layers 4] [-o bench/models/dsv2lite-4l.Q8_0.gguf]"""
import argparse
import os
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from byte_level import bytes_to_unicode  # noqa: E402  (GPT-2's byte alphabet)

Q_LORA, DIM, HEADS, KV_LORA, ROPE, NOPE, VD = 1536, 2048, 16, 512, 64, 128, 128
N_EXP, N_USED, N_SHARED, FF_EXP, FF, VOCAB = 64, 6, 2, 1408, 10944, 102400


def q8_0(rng, rows, cols, scale=0.02):
    """Random Q8_0 data for a (rows, cols) weight: per 32 values an f16 scale and 32 int8."""
    nb = rows * cols // 32
    blocks = np.empty((nb, 34), dtype=np.uint8)
    d = (rng.uniform(0.5, 1.5, nb) * scale / 127).astype(np.float16)
    blocks[:, :2] = d.view(np.uint8).reshape(nb, 2)
    blocks[:, 2:] = rng.integers(-127, 128, (nb, 32), dtype=np.int8).view(np.uint8)
    return blocks.reshape(rows, cols // 32 * 34)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("-o", "--out", default=None)
    a = ap.parse_args()
    out = a.out or f"bench/models/dsv2lite-{a.layers}l.Q8_0.gguf"
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(out, "deepseek2")
    w.add_name(f"DeepSeek-V2-Lite shape, {a.layers} layers, random")
    w.add_context_length(163840)
    w.add_embedding_length(DIM)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(1)
    w.add_key_length(KV_LORA + ROPE)
    w.add_value_length(KV_LORA)
    w.add_uint32("deepseek2.attention.key_length_mla", NOPE + ROPE)
    w.add_uint32("deepseek2.attention.value_length_mla", VD)
    w.add_kv_lora_rank(KV_LORA)
    w.add_q_lora_rank(Q_LORA)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(ROPE)
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(40.0)
    w.add_rope_scaling_orig_ctx_len(4096)
    w.add_float32("deepseek2.rope.scaling.yarn_log_multiplier", 0.0707)
    w.add_leading_dense_block_count(1)
    w.add_expert_count(N_EXP)
    w.add_expert_used_count(N_USED)
    w.add_expert_shared_count(N_SHARED)
    w.add_expert_feed_forward_length(FF_EXP)
    w.add_expert_weights_scale(1.0)
    w.add_expert_weights_norm(False)
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SOFTMAX)
    w.add_vocab_size(VOCAB)
    # tokenizer: byte tokens, fillers, bos/eos as in V2-Lite (100000 / 100001)
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)] + [f"<t{i}>" for i in range(256, VOCAB)]
    tokens[100000], tokens[100001] = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
    types = [1] * VOCAB
    types[100000] = types[100001] = 3
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("deepseek-llm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["Ġ t"])
    w.add_bos_token_id(100000)
    w.add_eos_token_id(100001)
    Q8 = gguf.GGMLQuantizationType.Q8_0

    def mat(name, rows, cols):
        w.add_tensor(name, q8_0(rng, rows, cols), raw_dtype=Q8)

    def vec(name, n, v=1.0):
        w.add_tensor(name, (v + 0.05 * rng.standard_normal(n)).astype(np.float32))

    mat("token_embd.weight", VOCAB, DIM)
    vec("output_norm.weight", DIM)
    mat("output.weight", VOCAB, DIM)
    for il in range(a.layers):
        p = f"blk.{il}."
        vec(p + "attn_norm.weight", DIM)
        vec(p + "ffn_norm.weight", DIM)
        mat(p + "attn_q_a.weight", Q_LORA, DIM)
        vec(p + "attn_q_a_norm.weight", Q_LORA)
        mat(p + "attn_q_b.weight", HEADS * (NOPE + ROPE), Q_LORA)
        mat(p + "attn_kv_a_mqa.weight", KV_LORA + ROPE, DIM)
        vec(p + "attn_kv_a_norm.weight", KV_LORA)
        w.add_tensor(p + "attn_k_b.weight", q8_0(rng, HEADS * KV_LORA, NOPE).reshape(HEADS, KV_LORA, NOPE // 32 * 34), raw_dtype=Q8)
        w.add_tensor(p + "attn_v_b.weight", q8_0(rng, HEADS * VD, KV_LORA).reshape(HEADS, VD, KV_LORA // 32 * 34), raw_dtype=Q8)
        mat(p + "attn_output.weight", DIM, HEADS * VD)
        if il == 0:
            mat(p + "ffn_gate.weight", FF, DIM)
            mat(p + "ffn_up.weight", FF, DIM)
            mat(p + "ffn_down.weight", DIM, FF)
            continue
        w.add_tensor(p + "ffn_gate_inp.weight", (0.02 * rng.standard_normal((N_EXP, DIM))).astype(np.float32))
        for part, (r, c) in (("gate", (FF_EXP, DIM)), ("up", (FF_EXP, DIM)), ("down", (DIM, FF_EXP))):
            w.add_tensor(p + f"ffn_{part}_exps.weight", q8_0(rng, N_EXP * r, c).reshape(N_EXP, r, c // 32 * 34), raw_dtype=Q8)
        mat(p + "ffn_gate_shexp.weight", FF_EXP * N_SHARED, DIM)
        mat(p + "ffn_up_shexp.weight", FF_EXP * N_SHARED, DIM)
        mat(p + "ffn_down_shexp.weight", DIM, FF_EXP * N_SHARED)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(out)


if __name__ == "__main__":
    main()
