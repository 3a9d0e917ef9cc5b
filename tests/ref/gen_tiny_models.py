#!/usr/bin/env python3
"""Tiny random `qwen2` and `llama` models as GGUF files, with Hugging Face transformers logits.

The default model (SmolLM2, llama, no rope scaling) leaves parts of the forward pass untested;
these fixtures cover them: qwen2 (q/k/v biases, NEOX rope), YaRN and linear rope scaling,
untied and tied output weights, and F32 / F16 / BF16 / Q8_0 weight files.

Each model is built with transformers (random weights, fixed seed), written with gguf-py's
GGUFWriter the way llama.cpp's convert_hf_to_gguf.py would write it (llama: q/k rows permuted
from HF's rotate_half pairs to ggml's adjacent pairs, `LlamaModel.permute`; qwen2: no permutation),
and the reference runs on exactly the weights in the file: each weight is encoded to its file type
and decoded back (gguf.quants) before the HF forward pass.

Writes tests/fixtures/tiny/:
  NAME.gguf         the model
  NAME.ids.txt      the token ids of the fixed sequence (N_TOK, space-separated)
  NAME.logits.f32   HF fp32 logits for every position, (N_TOK, n_vocab) float32 little-endian
  NAME.logits_q8act.f32  (Q8_0 models) the same with every matmul's input rounded to Q8_0
                    blocks, the arithmetic of seek's (and llama.cpp's) fast path
Usage: gen_tiny_models.py   (needs: pip install torch transformers gguf numpy)"""
import os

import gguf
import numpy as np
import torch
from gguf import GGMLQuantizationType as QT
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from byte_level import bytes_to_unicode

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tiny")
N_VOCAB, DIM, N_LAYER, N_HEAD, N_HEAD_KV, N_FF, N_CTX = 300, 64, 2, 4, 2, 128, 256
N_TOK = 100  # positions 0..99: beyond YaRN's original context of 64
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he"]  # a few real merges so the BPE tables are not empty

MODELS = [
    # name, arch, weight type, tied output, rope base, rope scaling (HF rope_parameters extras)
    ("qwen2_f32", "qwen2", QT.F32, False, 1e6, None),
    ("qwen2_yarn_f16", "qwen2", QT.F16, True, 1e4, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}),
    ("llama_linear_q8", "llama", QT.Q8_0, False, 1e4, {"rope_type": "linear", "factor": 2.0}),
    ("llama_bf16", "llama", QT.BF16, True, 1e4, None),
]


def vocab():
    """256 byte tokens by byte value, the merge results, the specials, then <extra_N> fillers."""
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)] + [m.replace(" ", "") for m in MERGES]
    types = [1] * len(tokens)
    tokens += SPECIALS
    types += [3] * len(SPECIALS)
    while len(tokens) < N_VOCAB:
        tokens.append(f"<extra_{len(tokens)}>")
        types.append(3)
    return tokens, types


def make_hf(arch, tied, base, scaling):
    rope = {"rope_type": "default", "rope_theta": base}
    if scaling:
        rope = dict(scaling, rope_theta=base)
    common = dict(vocab_size=N_VOCAB, hidden_size=DIM, intermediate_size=N_FF, num_hidden_layers=N_LAYER,
                  num_attention_heads=N_HEAD, num_key_value_heads=N_HEAD_KV, max_position_embeddings=N_CTX,
                  tie_word_embeddings=tied, rope_parameters=rope)
    if arch == "qwen2":
        cfg = Qwen2Config(rms_norm_eps=1e-6, use_sliding_window=False, **common)
        cls = Qwen2ForCausalLM
    else:
        cfg = LlamaConfig(rms_norm_eps=1e-5, **common)
        cls = LlamaForCausalLM
    cfg._attn_implementation = "eager"
    model = cls(cfg).float().eval()
    # Weights large enough that attention is sharp (so rope errors show) and logits are O(1..5):
    # embeddings N(0, 0.3^2) (tied: also the output matrix), projections N(0, 1/in) (q/k twice
    # that std), biases N(0, 0.5^2), norms 1 + 0.2 N(0,1).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.5 * torch.randn_like(p))
            elif "embed_tokens" in name:
                p.copy_(0.3 * torch.randn_like(p))
            else:
                std = p.shape[1] ** -0.5 * (2.0 if ("q_proj" in name or "k_proj" in name) else 1.0)
                p.copy_(std * torch.randn_like(p))
    return model


def permute(w, n_head):
    """llama.cpp's LlamaModel.permute: per head, rows (i, i+hd/2) -> (2i, 2i+1)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def encode(w, qtype):
    """(file array for GGUFWriter, the same values decoded back to fp32)."""
    w = np.ascontiguousarray(w, dtype=np.float32)
    if qtype == QT.F32:
        return w, w
    enc = gguf.quants.quantize(w, qtype)
    return enc, gguf.quants.dequantize(enc, qtype).astype(np.float32).reshape(w.shape)


def q8_act_hook(module, args):
    """Rounds a Linear's input to Q8_0 blocks along its last dimension and back."""
    x = args[0]
    a = x.reshape(-1, x.shape[-1]).numpy().astype(np.float32)
    a = gguf.quants.dequantize(gguf.quants.quantize(a, QT.Q8_0), QT.Q8_0).astype(np.float32)
    return (torch.from_numpy(a.reshape(x.shape)),)


def tensor_map(arch, layer):
    hf = f"model.layers.{layer}."
    names = {
        "attn_norm.weight": "input_layernorm.weight",
        "attn_q.weight": "self_attn.q_proj.weight",
        "attn_k.weight": "self_attn.k_proj.weight",
        "attn_v.weight": "self_attn.v_proj.weight",
        "attn_output.weight": "self_attn.o_proj.weight",
        "ffn_norm.weight": "post_attention_layernorm.weight",
        "ffn_gate.weight": "mlp.gate_proj.weight",
        "ffn_up.weight": "mlp.up_proj.weight",
        "ffn_down.weight": "mlp.down_proj.weight",
    }
    if arch == "qwen2":
        names.update({f"attn_{x}.bias": f"self_attn.{x}_proj.bias" for x in "qkv"})
    return [(f"blk.{layer}.{g}", hf + h) for g, h in names.items()]


def write_model(name, arch, qtype, tied, base, scaling, seed):
    torch.manual_seed(seed)
    model = make_hf(arch, tied, base, scaling)
    sd = model.state_dict()
    pairs = [("token_embd.weight", "model.embed_tokens.weight"), ("output_norm.weight", "model.norm.weight")]
    if not tied:
        pairs.append(("output.weight", "lm_head.weight"))
    for il in range(N_LAYER):
        pairs += tensor_map(arch, il)

    w = gguf.GGUFWriter(os.path.join(OUT, name + ".gguf"), arch)
    w.add_name(name)
    w.add_context_length(N_CTX)
    w.add_embedding_length(DIM)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(model.config.rms_norm_eps)
    w.add_rope_freq_base(base)
    w.add_rope_dimension_count(DIM // N_HEAD)
    # as convert_hf_to_gguf.py writes them: type + factor (+ original context for YaRN); no
    # attention factor, so the reader derives YaRN's mscale = 1 + 0.1 ln(factor), HF's default
    if scaling:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN if scaling["rope_type"] == "yarn" else gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(scaling["factor"])
        if scaling["rope_type"] == "yarn":
            w.add_rope_scaling_orig_ctx_len(scaling["original_max_position_embeddings"])
    if qtype not in (QT.F32, QT.F16):
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    tokens, types = vocab()
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2" if arch == "qwen2" else "llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    eot = tokens.index("<|endoftext|>")
    w.add_bos_token_id(eot)
    w.add_eos_token_id(tokens.index("<|im_end|>") if arch == "qwen2" else eot)
    w.add_add_bos_token(arch == "llama")

    new_sd = {}
    for gname, hname in pairs:
        t = sd[hname].numpy()
        if t.ndim == 1:  # norms and biases stay F32, as llama.cpp keeps them
            w.add_tensor(gname, t.astype(np.float32))
            continue
        enc, dec = encode(t, qtype)
        new_sd[hname] = torch.from_numpy(dec.copy())
        if arch == "llama" and gname.endswith(("attn_q.weight", "attn_k.weight")):
            # row permutation commutes with row-wise block encoding: permute the encoded rows
            enc = permute(enc, N_HEAD if "attn_q" in gname else N_HEAD_KV)
        w.add_tensor(gname, np.ascontiguousarray(enc), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # the reference runs on the decoded file weights (tied: lm_head shares embed_tokens)
    missing = model.load_state_dict(new_sd, strict=False)
    assert not missing.unexpected_keys, missing.unexpected_keys
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    g = torch.Generator().manual_seed(seed + 1000)
    ids = torch.randint(0, N_VOCAB, (N_TOK,), generator=g)
    with torch.no_grad():
        logits = model(ids[None]).logits[0].float().numpy()
    if qtype == QT.Q8_0:
        # seek's fast path (like llama.cpp's) quantizes each activation row to Q8_0 blocks before
        # a Q8_0 matmul: the same model with that rounding applied to every Linear's input
        for mod in model.modules():
            if isinstance(mod, torch.nn.Linear):
                mod.register_forward_pre_hook(q8_act_hook)
        with torch.no_grad():
            model(ids[None]).logits[0].float().numpy().astype("<f4").tofile(os.path.join(OUT, name + ".logits_q8act.f32"))
    with open(os.path.join(OUT, name + ".ids.txt"), "w") as fh:
        fh.write(" ".join(str(int(i)) for i in ids) + "\n")
    logits.astype("<f4").tofile(os.path.join(OUT, name + ".logits.f32"))
    print(f"{name}: logits range [{logits.min():.2f}, {logits.max():.2f}], std {logits.std():.2f}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, spec in enumerate(MODELS):
        write_model(*spec, seed=1234 + i)
    print("wrote", os.path.abspath(OUT))


if __name__ == "__main__":
    main()
