#!/usr/bin/env python3
"""Tiny random Hugging Face model folders (llama, qwen2, DeepSeek-V2-Lite, V2, V3, V3-FP8, DeepSeekMoE)
with reference logits, plus GGUF copies of three of them written with gguf-py.

Every model is built with fixed seeds in fp32 (eager attention): with transformers' own classes
(LlamaForCausalLM, Qwen2ForCausalLM, DeepseekV2ForCausalLM, DeepseekV3ForCausalLM), and for
DeepSeekMoE 16B (`DeepseekForCausalLM`, which transformers lacks) with a small PyTorch module in
this file written after DeepSeek's hub code (deepseek-ai/deepseek-moe-16b-base modeling_deepseek.py).
All norms are 1 + 0.2 N(0,1), biases N(0, 0.5^2), weights N(0, 1/fan_in) or larger, so logits are
O(1..5) and MoE routing spreads the tokens over the experts; the script checks the routing margins
(no near-ties that rounding could flip: otherwise it moves on to the next seed), that each MoE layer
uses all but at most one expert, and (dsv3) that e_score_correction_bias changes some choices.
Checks at the end: each transformers folder reloads with AutoModelForCausalLM and reproduces its
logits; transformers' AutoTokenizer agrees with tokenizer_cases.txt; each GGUF opens with GGUFReader,
holds the folder's weights, and an independent numpy forward pass with llama.cpp's semantics
(gguf_forward) reproduces the logits.

Tokenizers: byte-level BPEs trained on tinyshakespeare (`tokenizers`), one per pre-tokenizer family:
  deepseek  DeepSeek-V3's pre-tokenizer (Split \\p{N}{1,3}, Split CJK/kana, Split V3 regex, ByteLevel)
            (also used by the DeepSeekMoE fixture: one tokenizer for the whole DeepSeek family)
  qwen2     NFC + Qwen2's Split regex + ByteLevel
  llama     Llama-3's Split regex + ByteLevel
Vocab: 256 byte tokens, 40 trained merges, then EXTRA_MERGES (hand-picked so that a pre-tokenizer
splitting in the wrong place gives other ids) (ids 0..N-1), then the added tokens <｜begin▁of▁sentence｜> (bos),
<｜end▁of▁sentence｜> (eos), <｜User｜>, <｜Assistant｜> (special), <think>, </think> (not special),
then special <｜place▁holder▁no▁K｜> fillers up to N_VOCAB. The model's vocab_size is N_VOCAB.
deepseek and llama add a BOS (post-processor TemplateProcessing; add_bos_token true), qwen2 does not.
Chat templates: DeepSeek-R1's (dsv3, dsv3_fp8; llama without the {{bos_token}}), DeepSeek-V2's
"User: ...\n\nAssistant:" (dsv2*, deepseek_moe), ChatML (qwen2).

Writes tests/fixtures/hf/:
  NAME/                 config.json, model.safetensors (dsv2: model-0000K-of-0000M.safetensors +
                        model.safetensors.index.json), generation_config.json (HF models),
                        tokenizer.json, tokenizer_config.json
      llama         LlamaForCausalLM, GQA 4/2 heads, untied, rope_theta 1e4
      qwen2         Qwen2ForCausalLM, q/k/v biases, tied embeddings, rope_theta 1e6
      dsv2_lite     DeepseekV2 (q_lora_rank null, greedy softmax top-2, YaRN mscale 0.707);
                    config.json in the hub's v4 form (rope_theta + rope_scaling {"type": "yarn"})
      dsv2          DeepseekV2 (q_lora 48, group_limited_greedy 4 groups / 2, scale 16, top-3,
                    no rope scaling; 2 layers), saved in 2+ shards
      dsv3          DeepseekV3 (sigmoid + e_score_correction_bias, noaux_tc 4 groups / 2, top-2,
                    norm_topk_prob, scale 2.5, YaRN mscale 1.0), v5 config form (rope_parameters)
      dsv3_fp8      dsv3 with FP8 (F8_E4M3) weights + F32 `*.weight_scale_inv` in 32x32 blocks and
                    quantization_config; v4 config form
      deepseek_moe  DeepseekForCausalLM (model_type deepseek), written by this script
  NAME.ids.txt          N_TOK token ids (space-separated): the HF tokenizer's encoding of TEXT
                        (with BOS where the family adds one), cut to N_TOK
  NAME.logits.f32       fp32 logits of one forward pass over those ids, (N_TOK, N_VOCAB) little-endian.
                        dsv3_fp8: the model with weights float32(bfloat16(float32(q) * scale_inv)),
                        the values seek's FP8 -> BF16 load gives
  tokenizer_cases.txt   FAMILY TAB hex(utf-8 text) TAB ids (tokenizer.encode(text, add_special_tokens=False))
  dsv2_lite_legacy.gguf dsv2_lite in llama.cpp's old deepseek2 layout (attn_kv_b, head_count_kv = n_head,
                        key_length 24 / value_length 16, no *_mla keys, no expert_gating_func), F32
  dsv3_mla.gguf         dsv3 in llama.cpp's MLA layout (attn_k_b / attn_v_b, head_count_kv 1, key_length
                        kv_lora+rope, value_length kv_lora, key/value_length_mla, exp_probs_b.bias), F32
  deepseek_moe.gguf     deepseek_moe as arch `deepseek` (q/k rows permuted as LlamaModel.permute), F32
  (the GGUFs hold exactly the weights of their folders: NAME.logits.f32 is their reference too)

Usage: python3 tests/ref/gen_hf_models.py [--data tinyshakespeare.txt]
Needs: pip install torch transformers>=5 tokenizers safetensors gguf numpy"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile

import gguf
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, processors, trainers
from tokenizers import pre_tokenizers as P
from torch import nn
from transformers import (AutoModelForCausalLM, AutoTokenizer, DeepseekV2Config, DeepseekV2ForCausalLM, DeepseekV3Config,
                          DeepseekV3ForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from byte_level import bytes_to_unicode  # noqa: E402
from gen_chat_fixtures import DEEPSEEK_R1  # noqa: E402  (DeepSeek-R1's chat template)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "hf")
DEFAULT_DATA = "/work/shared/data/tinyshakespeare.txt"

N_TRAIN = 296    # BPE vocab from training: 256 byte tokens + 40 merges (+ EXTRA_MERGES)
N_VOCAB = 336    # + 6 added tokens + placeholders
N_TOK = 48       # positions 0..47: past YaRN's original context of 32
DIM = 64
MAX_POS = 128    # = YaRN factor 4 x original 32
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
SPECIALS = [BOS, EOS, "<｜User｜>", "<｜Assistant｜>"]
NON_SPECIAL = ["<think>", "</think>"]

TEXT = ("First Citizen:\n<think>Speak, speak 12345!</think> You are all resolved rather to die than to famish?\n"
        "All: Resolved. resolved.")

# ---- tokenizers -------------------------------------------------------------------------------

DS3_SPLITS = [  # DeepSeek-V3 tokenizer.json, byte for byte (literal CR/LF inside the classes)
    "\\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
    "|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
]
QWEN2_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
               "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
LLAMA3_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

FAMILIES = ("deepseek", "qwen2", "llama")

TOKENIZER_CASES = [
    "Hello world",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "12345 and 3.14159, 1,000,000 or 42nd",
    "Wait!!! What?!... (yes) -- no; [ok] {x} \"quoted\" 'single'",
    "line one\nline two\r\n\n\nend\n",
    "日本語のテキスト、中文字符和カタカナ。",
    "<｜User｜>hi<｜Assistant｜>",
    "<think>x</think>",
    "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\nadd\n</think>\n\n4<｜end▁of▁sentence｜>",
    "trailing spaces   ",
    "  leading and  double  spaces\t\ttabs \t",
    "don't you'll I'M we've THEY'RE",
    "naïve café Ünïcödé e\u0301 Å",
    "emoji 🦙🚀 ok",
    "x=a+b*c/d; if(x>=10){return -1;}",
]


def split(pattern):
    return P.Split(Regex(pattern), behavior="isolated", invert=False)


def byte_chars(data: bytes) -> str:
    """Bytes in GPT-2's byte-level alphabet (the ByteLevel pre-tokenizer's mapping)."""
    table = P.ByteLevel.alphabet()
    m = bytes_to_unicode()
    assert set(m.values()) == set(table)
    return "".join(m[b] for b in data)


# Merges appended (lowest priority) to the trained ones, chosen so that a pre-tokenizer that splits
# in the wrong place gives other ids: digit runs (\p{N}{1,3} vs \p{N}: "34" only forms across a
# wrong boundary inside "12345"), space / newline / punctuation runs, "、中" (one piece for
# Llama-3/Qwen2, two for DeepSeek-V3's CJK split), a combining accent (kept with its letter by
# V3's [\p{L}\p{M}]+, split off by \p{L}+; NFC composes it for qwen2), and case-insensitive 'RE.
EXTRA_MERGES = [
    (b"3", b"4"), (b"1", b"2"), (b"12", b"3"), (b"4", b"5"), (b"0", b"0"), (b"00", b"0"), (b"2", b"0"), (b"20", b"2"),
    (b" ", b" "), (b"  ", b" "), (b"  ", b"  "), (b"\n", b"\n"), (b"\r", b"\n"), (b" ", b"\n"),
    (b"!", b"!"), (b"!!", b"!"), (b".", b"."), (b"..", b"."), (b"?", b"!"), (b"-", b"-"),
    (b"\xe4", b"\xb8"), (b"\xe4\xb8", b"\xad"), (b"\xe3", b"\x80"), (b"\xe3\x80", b"\x81"), (b"\xe3\x80\x81", b"\xe4\xb8\xad"),
    (b"\xcc", b"\x81"), (b"e", b"\xcc\x81"), (b"'", b"R"), (b"'R", b"E"),
]


def build_tokenizer(family, text):
    tok = Tokenizer(models.BPE(byte_fallback=False))
    byte_level = P.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)
    if family == "deepseek":
        tok.normalizer = normalizers.Sequence([])
        tok.pre_tokenizer = P.Sequence([split(p) for p in DS3_SPLITS] + [byte_level])
    elif family == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = P.Sequence([split(QWEN2_SPLIT), byte_level])
    else:
        tok.pre_tokenizer = P.Sequence([split(LLAMA3_SPLIT), byte_level])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=N_TRAIN, initial_alphabet=P.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([text], trainer=trainer)
    assert tok.get_vocab_size() == N_TRAIN, tok.get_vocab_size()
    model = json.loads(tok.to_str())["model"]
    vocab = model["vocab"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    for a, b in EXTRA_MERGES:
        a, b = byte_chars(a), byte_chars(b)
        assert a in vocab and b in vocab, (a, b)
        if (a, b) not in merges:
            merges.append((a, b))
            vocab.setdefault(a + b, len(vocab))
    assert sorted(vocab.values()) == list(range(len(vocab))) and len(vocab) <= N_VOCAB - len(SPECIALS) - len(NON_SPECIAL)
    normalizer, pre_tokenizer = tok.normalizer, tok.pre_tokenizer
    tok = Tokenizer(models.BPE(vocab, merges, byte_fallback=False))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, pre_tokenizer, decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in NON_SPECIAL])
    k = 0
    while tok.get_vocab_size() < N_VOCAB:
        tok.add_special_tokens([AddedToken(f"<｜place▁holder▁no▁{k}｜>", special=True, normalized=False)])
        k += 1
    bos = tok.token_to_id(BOS)
    if family == "qwen2":
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    else:  # Llama-3 / R1-distill style: the tokenizer itself puts BOS first
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{BOS}:0 $A:0", pair=f"{BOS}:0 $A:0 {BOS}:1 $B:1", special_tokens=[(BOS, bos)]),
        ])
    return tok


CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
DEEPSEEK_V2 = ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}"
               "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}"
               "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}"
               "{% elif message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% endif %}{% endfor %}"
               "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")


def chat_template(name):
    if name.startswith("dsv3"):
        return DEEPSEEK_R1
    if name in ("qwen2", "llama"):
        return CHATML if name == "qwen2" else DEEPSEEK_R1.replace("{{bos_token}}", "")  # llama: the tokenizer adds BOS
    return DEEPSEEK_V2


def write_tokenizer(tok, family, name, folder):
    tok.save(os.path.join(folder, "tokenizer.json"))
    cfg = {
        "add_bos_token": family != "qwen2",
        "add_eos_token": False,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_POS,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": chat_template(name),
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)
        f.write("\n")


def fixture_ids(tok, folder):
    ids = tok.encode(TEXT).ids
    assert len(ids) >= N_TOK, len(ids)
    ids = ids[:N_TOK]
    hf = AutoTokenizer.from_pretrained(folder)(TEXT).input_ids[:N_TOK]  # the transformers tokenizer agrees
    assert hf == ids, (hf, ids)
    assert tok.token_to_id("<think>") in ids
    return ids


def write_tokenizer_cases(toks):
    lines = ["# FAMILY\thex(utf-8 text)\tids of tokenizers' encode(text, add_special_tokens=False)"]
    for fam in FAMILIES:
        for text in TOKENIZER_CASES:
            ids = toks[fam].encode(text, add_special_tokens=False).ids
            lines.append(f"{fam}\t{text.encode('utf-8').hex()}\t{' '.join(map(str, ids))}")
    with open(os.path.join(OUT, "tokenizer_cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


# ---- weights ----------------------------------------------------------------------------------

def randomize(model, gen_scale=None, gate_scale=2.0):
    """norms 1 + 0.2 N, biases 0.5 N, embeddings 0.3 N, weights N(0, 1/fan_in) (q/k-side x1.5),
    router weights gate_scale/sqrt(fan_in); fused experts per expert the same way."""
    gen_scale = gen_scale or {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.5 * torch.randn_like(p))
            elif "embed_tokens" in name:
                p.copy_(0.3 * torch.randn_like(p))
            elif name.endswith("mlp.gate.weight"):
                p.copy_(gate_scale * p.shape[-1] ** -0.5 * torch.randn_like(p))
            else:
                std = p.shape[-1] ** -0.5
                if any(k in name for k in ("q_proj", "k_proj", "q_a_proj", "q_b_proj", "kv_a_proj")):
                    std *= 1.5
                for k, s in gen_scale.items():
                    if k in name:
                        std *= s
                p.copy_(std * torch.randn_like(p))


def routing_margins(kind, scores, top_k, n_group=1, topk_group=1, bias=None):
    """Smallest gap between a chosen and an unchosen candidate over all tokens (group choice and
    expert choice), on the scores that select. Returns (min margin, expert use counts)."""
    s = scores.double()
    sel = s + bias.double() if bias is not None else s
    n_tok, n_exp = s.shape
    margins = []
    if n_group > 1:
        g = sel.view(n_tok, n_group, -1)
        gs = g.topk(2, dim=-1)[0].sum(-1) if kind == "v3" else g.max(-1).values
        srt = gs.sort(-1, descending=True).values
        margins.append((srt[:, topk_group - 1] - srt[:, topk_group]).min().item())
        keep = torch.zeros_like(gs, dtype=torch.bool).scatter_(1, gs.topk(topk_group, -1)[1], True)
        sel = sel.masked_fill(~keep.repeat_interleave(n_exp // n_group, 1), float("-inf"))
    srt = sel.sort(-1, descending=True).values
    margins.append((srt[:, top_k - 1] - srt[:, top_k]).min().item())
    counts = torch.bincount(sel.topk(top_k, -1)[1].flatten(), minlength=n_exp)
    return min(margins), counts.tolist()


MIN_MARGIN = 1e-4  # routing scores this close could swap order under another summation order


def routing_ok(name, records, n_exp):
    """Prints each MoE layer's expert use; False on a near-tie, an unused-expert layer, or (V3) a
    correction bias that changes no token's experts."""
    ok = True
    for layer, rec in records.items():
        margin, counts = rec[:2]
        used = sum(c > 0 for c in counts)
        extra = ""
        if len(rec) > 2:
            n_bias, n_zero = rec[2:]
            extra = f"; bias changes {n_bias} tokens' experts, 0.0-masking (hub code) would change {n_zero}"
            ok = ok and n_bias > 0
        print(f"  {name} layer {layer}: expert use {counts}, min routing margin {margin:.2e}{extra}")
        ok = ok and margin > MIN_MARGIN and used >= n_exp - 1
    return ok


def v3_select(scores, bias, k, n_group, topk_group, fill):
    """noaux_tc expert choice (sorted ids per token); unselected groups are set to `fill`."""
    sel = scores + bias
    n_tok, n_exp = sel.shape
    g = sel.view(n_tok, n_group, -1).topk(2, dim=-1)[0].sum(-1)
    keep = torch.zeros_like(g, dtype=torch.bool).scatter_(1, g.topk(topk_group, -1)[1], True)
    sel = sel.masked_fill(~keep.repeat_interleave(n_exp // n_group, 1), fill)
    return sel.topk(k, -1)[1].sort(-1).values


SEED_TRIES = 20  # the first seed (base + 1000 k) whose routing has no near-ties


def hf_routing_hooks(model, kind):
    """Records routing margins of transformers' DeepseekV2/V3 routers during a forward pass."""
    records, handles = {}, []
    cfg = model.config
    for i, layer in enumerate(model.model.layers):
        gate = getattr(layer.mlp, "gate", None)
        if gate is None or not hasattr(gate, "weight") or gate.weight.dim() != 2 or gate.weight.shape[0] != cfg.n_routed_experts:
            continue

        def hook(mod, args, out, i=i):
            x = args[0].reshape(-1, mod.weight.shape[1]).float()
            logits = x @ mod.weight.float().t()
            if kind == "v3":
                sc, bias = logits.sigmoid(), mod.e_score_correction_bias
                args_ = (cfg.num_experts_per_tok, cfg.n_group, cfg.topk_group)
                chosen = v3_select(sc, bias, *args_, float("-inf"))
                n_bias = (chosen != v3_select(sc, torch.zeros_like(bias), *args_, float("-inf"))).any(-1).sum().item()
                n_zero = (chosen != v3_select(sc, bias, *args_, 0.0)).any(-1).sum().item()
                rec = routing_margins("v3", sc, *args_, bias) + (n_bias, n_zero)
            else:
                grouped = cfg.topk_method == "group_limited_greedy"
                rec = routing_margins("v2", logits.softmax(-1), cfg.num_experts_per_tok, cfg.n_group if grouped else 1,
                                      cfg.topk_group if grouped else 1)
            records[i] = rec
        handles.append(gate.register_forward_hook(hook))
    return records, handles


def save_logits(name, logits, ids):
    logits = logits.detach().float().numpy()
    assert logits.shape == (N_TOK, N_VOCAB) and np.isfinite(logits).all()
    logits.astype("<f4").tofile(os.path.join(OUT, name + ".logits.f32"))
    with open(os.path.join(OUT, name + ".ids.txt"), "w") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    print(f"{name}: logits range [{logits.min():.2f}, {logits.max():.2f}], std {logits.std():.2f}")


def forward(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def edit_config(folder, fn):
    path = os.path.join(folder, "config.json")
    cfg = json.load(open(path))
    fn(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def legacy_rope(cfg):
    """config.json as the hub's DeepSeek checkpoints write it: rope_theta + rope_scaling {"type": ...},
    torch_dtype, and none of transformers v5's derived fields (head_dim = qk_rope_head_dim, qk_head_dim)."""
    for k in ("head_dim", "qk_head_dim"):
        cfg.pop(k, None)
    cfg["torch_dtype"] = cfg.pop("dtype")
    rp = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rp.pop("rope_theta")
    rtype = rp.pop("rope_type")
    cfg["rope_scaling"] = dict(rp, type=rtype) if rtype != "default" else None


# ---- transformers models ----------------------------------------------------------------------

YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 32,
        "beta_fast": 32, "beta_slow": 1}


def hf_common(tok):
    return dict(vocab_size=N_VOCAB, hidden_size=DIM, max_position_embeddings=MAX_POS,
                bos_token_id=tok.token_to_id(BOS), eos_token_id=tok.token_to_id(EOS), pad_token_id=None)


def make_model(name, tok):
    c = hf_common(tok)
    if name == "llama":
        cfg = LlamaConfig(intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          rms_norm_eps=1e-5, tie_word_embeddings=False,
                          rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **c)
        cls = LlamaForCausalLM
    elif name == "qwen2":
        cfg = Qwen2Config(intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
                          rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, **c)
        cls = Qwen2ForCausalLM
    elif name == "dsv2_lite":
        cfg = DeepseekV2Config(intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=3, num_attention_heads=4,
                               num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=32, qk_nope_head_dim=16,
                               qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=8, n_shared_experts=2,
                               num_experts_per_tok=2, topk_method="greedy", n_group=1, topk_group=1,
                               first_k_dense_replace=1, moe_layer_freq=1, norm_topk_prob=False, routed_scaling_factor=1.0,
                               scoring_func="softmax", aux_loss_alpha=0.001, seq_aux=True, rms_norm_eps=1e-6,
                               tie_word_embeddings=False, rope_parameters=dict(YARN, mscale=0.707, mscale_all_dim=0.707), **c)
        cls = DeepseekV2ForCausalLM
    elif name == "dsv2":
        cfg = DeepseekV2Config(intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16,
                               qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=8, n_shared_experts=2,
                               num_experts_per_tok=3, topk_method="group_limited_greedy", n_group=4, topk_group=2,
                               first_k_dense_replace=1, moe_layer_freq=1, norm_topk_prob=False, routed_scaling_factor=16.0,
                               scoring_func="softmax", aux_loss_alpha=0.003, seq_aux=True, rms_norm_eps=1e-6,
                               tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **c)
        cls = DeepseekV2ForCausalLM
    elif name == "dsv3":
        cfg = DeepseekV3Config(intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=3, num_attention_heads=4,
                               num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16,
                               qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=8, n_shared_experts=1,
                               num_experts_per_tok=2, n_group=4, topk_group=2, first_k_dense_replace=1, moe_layer_freq=1,
                               norm_topk_prob=True, routed_scaling_factor=2.5, scoring_func="sigmoid", topk_method="noaux_tc",
                               rms_norm_eps=1e-6, tie_word_embeddings=False, num_nextn_predict_layers=0,
                               rope_parameters=dict(YARN, mscale=1.0, mscale_all_dim=1.0), **c)
        cls = DeepseekV3ForCausalLM
    else:
        raise ValueError(name)
    cfg._attn_implementation = "eager"
    model = cls(cfg).float().eval()
    # dsv2's routed output is scaled by 16: smaller routed experts keep the residual stream O(1)
    randomize(model, gen_scale={"mlp.experts.down_proj": 1 / 8} if name == "dsv2" else None)
    if name == "dsv3":
        with torch.no_grad():
            for layer in model.model.layers:
                if hasattr(layer.mlp, "gate"):
                    layer.mlp.gate.e_score_correction_bias.copy_(0.25 * torch.randn(cfg.n_routed_experts))
    return model


def build_hf(name, seed, tok, family):
    folder = os.path.join(OUT, name)
    fresh_dir(folder)
    write_tokenizer(tok, family, name, folder)
    ids = fixture_ids(tok, folder)
    for k in range(SEED_TRIES):
        torch.manual_seed(seed + 1000 * k)
        model = make_model(name, tok)
        records, handles = hf_routing_hooks(model, "v3" if name == "dsv3" else "v2") if name.startswith("ds") else ({}, [])
        logits = forward(model, ids)
        for h in handles:
            h.remove()
        if not records or routing_ok(name, records, model.config.n_routed_experts):
            break
        print(f"  {name}: seed {seed + 1000 * k} rejected")
    else:
        raise RuntimeError(f"{name}: no seed without routing near-ties")
    model.save_pretrained(folder, max_shard_size="200KB" if name == "dsv2" else "50GB")
    if name == "dsv2_lite":
        edit_config(folder, legacy_rope)
    save_logits(name, logits, ids)
    return model, ids, logits


def hf_state(folder):
    """The folder's tensors by HF name (all shards)."""
    sd = {}
    index = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    for fn in files:
        sd.update(load_file(os.path.join(folder, fn)))
    return sd


# ---- DeepSeek-V3 FP8 --------------------------------------------------------------------------

FP8_BLOCK = 32
FP8_SKIP = ("embed_tokens", "lm_head", "norm", "mlp.gate.weight", "e_score_correction_bias")


def fp8_quantize(w):
    """Per 32x32 block: scale_inv = amax/448, q = e4m3(w / scale_inv). Returns (q, scale_inv)."""
    out, inp = w.shape
    bo, bi = math.ceil(out / FP8_BLOCK), math.ceil(inp / FP8_BLOCK)
    pad = torch.zeros(bo * FP8_BLOCK, bi * FP8_BLOCK)
    pad[:out, :inp] = w
    blocks = pad.view(bo, FP8_BLOCK, bi, FP8_BLOCK)
    amax = blocks.abs().amax(dim=(1, 3))
    scale_inv = torch.where(amax > 0, amax / 448.0, torch.ones_like(amax)).float()
    q = (blocks / scale_inv[:, None, :, None]).view_as(pad)[:out, :inp].to(torch.float8_e4m3fn)
    return q, scale_inv


def fp8_dequant_bf16(q, scale_inv):
    s = scale_inv.repeat_interleave(FP8_BLOCK, 0).repeat_interleave(FP8_BLOCK, 1)[:q.shape[0], :q.shape[1]]
    return (q.float() * s).to(torch.bfloat16).float()


def build_dsv3_fp8(model, tok, family, ids):
    src, folder = os.path.join(OUT, "dsv3"), os.path.join(OUT, "dsv3_fp8")
    fresh_dir(folder)
    sd = hf_state(src)
    out, deq = {}, {}
    for name, w in sorted(sd.items()):
        if w.dim() == 2 and not any(k in name for k in FP8_SKIP):
            q, s = fp8_quantize(w.float())
            out[name], out[name + "_scale_inv"] = q, s
            deq[name] = fp8_dequant_bf16(q, s)
        else:
            out[name] = w
            deq[name] = w
    save_file(out, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    cfg = json.load(open(os.path.join(src, "config.json")))
    cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                  "weight_block_size": [FP8_BLOCK, FP8_BLOCK]}
    legacy_rope(cfg)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    write_tokenizer(tok, family, "dsv3_fp8", folder)
    assert fixture_ids(tok, folder) == ids

    # reference: the dsv3 model with the dequantized weights (per-expert -> transformers' fused experts)
    ref = DeepseekV3ForCausalLM(model.config).float().eval()
    ref.load_state_dict(model.state_dict())
    new = {}
    for name, p in ref.state_dict().items():
        if name.endswith("mlp.experts.gate_up_proj"):
            pre = name[:-len("gate_up_proj")]
            new[name] = torch.stack([torch.cat([deq[f"{pre}{e}.gate_proj.weight"], deq[f"{pre}{e}.up_proj.weight"]])
                                     for e in range(p.shape[0])])
        elif name.endswith("mlp.experts.down_proj"):
            pre = name[:-len("down_proj")]
            new[name] = torch.stack([deq[f"{pre}{e}.down_proj.weight"] for e in range(p.shape[0])])
        elif name in deq:
            new[name] = deq[name]
    ref.load_state_dict(new, strict=False)
    n_fp8 = sum(1 for k in out if k.endswith("_scale_inv"))
    print(f"  dsv3_fp8: {n_fp8} FP8 weights, max |W_bf16(fp8) - W| = "
          f"{max((deq[k] - sd[k].float()).abs().max().item() for k in deq):.4f}")
    records, handles = hf_routing_hooks(ref, "v3")
    logits = forward(ref, ids)
    for h in handles:
        h.remove()
    assert routing_ok("dsv3_fp8", records, ref.config.n_routed_experts), "dsv3_fp8: routing near-tie"
    save_logits("dsv3_fp8", logits, ids)


# ---- DeepSeekMoE 16B (DeepseekForCausalLM) reference module -----------------------------------

MOE_CFG = {
    "architectures": ["DeepseekForCausalLM"],
    "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekConfig",
                 "AutoModel": "modeling_deepseek.DeepseekModel",
                 "AutoModelForCausalLM": "modeling_deepseek.DeepseekForCausalLM"},
    "model_type": "deepseek",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "aux_loss_alpha": 0.001,
    "first_k_dense_replace": 1,
    "hidden_act": "silu",
    "hidden_size": DIM,
    "initializer_range": 0.006,
    "intermediate_size": 64,
    "max_position_embeddings": MAX_POS,
    "moe_intermediate_size": 16,
    "moe_layer_freq": 1,
    "n_routed_experts": 8,
    "n_shared_experts": 2,
    "norm_topk_prob": False,
    "num_attention_heads": 4,
    "num_experts_per_tok": 3,
    "num_hidden_layers": 3,
    "num_key_value_heads": 4,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 10000,
    "scoring_func": "softmax",
    "seq_aux": True,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": N_VOCAB,
}


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(n)), eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class MLP(nn.Module):
    def __init__(self, dim, ff):
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(dim, ff, bias=False), nn.Linear(dim, ff, bias=False)
        self.down_proj = nn.Linear(ff, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MoEGate(nn.Module):
    """Hub MoEGate (softmax scoring, greedy top-k, norm_topk_prob false -> raw probabilities)."""

    def __init__(self, cfg):
        super().__init__()
        self.top_k, self.norm = cfg["num_experts_per_tok"], cfg["norm_topk_prob"]
        self.weight = nn.Parameter(torch.empty(cfg["n_routed_experts"], cfg["hidden_size"]))

    def forward(self, x):
        scores = F.linear(x.float(), self.weight.float()).softmax(dim=-1)
        w, idx = torch.topk(scores, k=self.top_k, dim=-1, sorted=False)
        if self.top_k > 1 and self.norm:
            w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
        return idx, w, scores


class DeepseekMoE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.experts = nn.ModuleList([MLP(cfg["hidden_size"], cfg["moe_intermediate_size"])
                                      for _ in range(cfg["n_routed_experts"])])
        self.gate = MoEGate(cfg)
        self.shared_experts = MLP(cfg["hidden_size"], cfg["moe_intermediate_size"] * cfg["n_shared_experts"])
        self.record = None

    def forward(self, x):
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        idx, w, scores = self.gate(flat)
        self.record = routing_margins("v2", scores, self.gate.top_k)
        y = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            tok, slot = torch.where(idx == e)
            if len(tok):
                y.index_add_(0, tok, expert(flat[tok]) * w[tok, slot, None].to(flat.dtype))
        return (y + self.shared_experts(flat)).view(shape)


def rotate_half(x):
    return torch.cat((-x[..., x.shape[-1] // 2:], x[..., :x.shape[-1] // 2]), dim=-1)


class Attention(nn.Module):
    """Llama attention (MHA here), rotate_half rope over the whole head."""

    def __init__(self, cfg):
        super().__init__()
        d, self.nh, self.nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.hd, self.theta = d // self.nh, cfg["rope_theta"]
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, dtype=torch.int64).float() / self.hd))
        freqs = torch.outer(torch.arange(t).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(self.nh // self.nkv, dim=1)
        v = v.repeat_interleave(self.nh // self.nkv, dim=1)
        att = (q @ k.transpose(2, 3)) / math.sqrt(self.hd)
        att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        o = att.softmax(-1, dtype=torch.float32) @ v
        return self.o_proj(o.transpose(1, 2).reshape(b, t, -1))


class DecoderLayer(nn.Module):
    def __init__(self, cfg, i):
        super().__init__()
        self.self_attn = Attention(cfg)
        moe = cfg["n_routed_experts"] is not None and i >= cfg["first_k_dense_replace"] and i % cfg["moe_layer_freq"] == 0
        self.mlp = DeepseekMoE(cfg) if moe else MLP(cfg["hidden_size"], cfg["intermediate_size"])
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class DeepseekBody(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(cfg, i) for i in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class DeepseekForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.model = DeepseekBody(cfg)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, ids):
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x)
        return self.lm_head(self.model.norm(x))


def build_deepseek_moe(seed, tok, family):
    folder = os.path.join(OUT, "deepseek_moe")
    fresh_dir(folder)
    cfg = dict(MOE_CFG, bos_token_id=tok.token_to_id(BOS), eos_token_id=tok.token_to_id(EOS))
    write_tokenizer(tok, family, "deepseek_moe", folder)
    ids = fixture_ids(tok, folder)
    for k in range(SEED_TRIES):
        torch.manual_seed(seed + 1000 * k)
        model = DeepseekForCausalLM(cfg).float().eval()
        randomize(model)
        with torch.no_grad():
            logits = model(torch.tensor([ids]))[0]
        records = {i: l.mlp.record for i, l in enumerate(model.model.layers) if isinstance(l.mlp, DeepseekMoE)}
        if routing_ok("deepseek_moe", records, cfg["n_routed_experts"]):
            break
        print(f"  deepseek_moe: seed {seed + 1000 * k} rejected")
    else:
        raise RuntimeError("deepseek_moe: no seed without routing near-ties")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(folder, "model.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_logits("deepseek_moe", logits, ids)
    # the state dict round-trips
    re = DeepseekForCausalLM(cfg).float().eval()
    re.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
    with torch.no_grad():
        assert torch.equal(re(torch.tensor([ids]))[0], logits)
    return ids


# ---- GGUF (gguf-py, llama.cpp convert_hf_to_gguf.py conventions) -----------------------------

def gguf_vocab(folder):
    j = json.load(open(os.path.join(folder, "tokenizer.json"), encoding="utf-8"))
    tcfg = json.load(open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8"))
    vocab = dict(j["model"]["vocab"])
    types = {i: gguf.TokenType.NORMAL for i in vocab.values()}
    for a in j["added_tokens"]:
        vocab[a["content"]] = a["id"]
        types[a["id"]] = gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.USER_DEFINED
    n = len(vocab)
    assert sorted(vocab.values()) == list(range(n)) and n == N_VOCAB
    tokens = [None] * n
    for t, i in vocab.items():
        tokens[i] = t
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    return tokens, [int(types[i]) for i in range(n)], merges, vocab, tcfg


def add_gguf_vocab(w, folder, pre):
    tokens, types, merges, vocab, tcfg = gguf_vocab(folder)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab[tcfg["bos_token"]])
    w.add_eos_token_id(vocab[tcfg["eos_token"]])
    w.add_pad_token_id(vocab[tcfg["pad_token"]])
    w.add_add_bos_token(tcfg["add_bos_token"])
    w.add_add_eos_token(tcfg["add_eos_token"])
    w.add_chat_template(tcfg["chat_template"])


def hf_to_gguf_names(sd, arch, n_layer):
    tmap = gguf.get_tensor_name_map(arch, n_layer)
    out = {}
    for name, t in sd.items():
        g = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        assert g is not None, name
        out[g] = t
    return out


def stack_experts(sd, n_layer, n_exp):
    """model.layers.N.mlp.experts.E.X.weight -> model.layers.N.mlp.experts.X.weight [E, out, in]."""
    sd = dict(sd)
    for il in range(n_layer):
        for w in ("gate_proj", "up_proj", "down_proj"):
            names = [f"model.layers.{il}.mlp.experts.{e}.{w}.weight" for e in range(n_exp)]
            if names[0] in sd:
                sd[f"model.layers.{il}.mlp.experts.{w}.weight"] = torch.stack([sd.pop(n) for n in names])
    return sd


def write_gguf(w, tensors):
    """tensors: {gguf name: torch tensor}, all written F32."""
    for name, t in tensors.items():
        w.add_tensor(name, np.ascontiguousarray(t.float().numpy()))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_yarn(w, rope, mscale_all_dim, beta_keys):
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(rope["factor"])
    w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
    if beta_keys:  # the new converter's base class writes these from rope_parameters
        w.add_rope_scaling_yarn_beta_fast(rope["beta_fast"])
        w.add_rope_scaling_yarn_beta_slow(rope["beta_slow"])
    w.add_rope_scaling_yarn_log_mul(0.1 * mscale_all_dim)


def gguf_open(folder_name, out_name, arch, head_count_kv, rope_theta):
    """A GGUFWriter holding the keys every fixture GGUF starts with, in convert_hf_to_gguf's order."""
    c = json.load(open(os.path.join(OUT, folder_name, "config.json")))
    w = gguf.GGUFWriter(os.path.join(OUT, out_name), arch)
    w.add_name(folder_name)
    w.add_block_count(c["num_hidden_layers"])
    w.add_context_length(c["max_position_embeddings"])
    w.add_embedding_length(c["hidden_size"])
    w.add_feed_forward_length(c["intermediate_size"])
    w.add_head_count(c["num_attention_heads"])
    w.add_head_count_kv(head_count_kv)
    w.add_rope_freq_base(rope_theta)
    w.add_layer_norm_rms_eps(c["rms_norm_eps"])
    return w, c


def gguf_dsv2_lite_legacy():
    """llama.cpp's deepseek2 layout before MLA (PR #12801) and before expert_gating_func (V3 support):
    one attn_kv_b, MHA shapes (head_count_kv = n_head, key_length nope+rope, value_length v)."""
    folder = os.path.join(OUT, "dsv2_lite")
    c = json.load(open(os.path.join(folder, "config.json")))
    n_layer = c["num_hidden_layers"]
    w, _ = gguf_open("dsv2_lite", "dsv2_lite_legacy.gguf", "deepseek2", c["num_key_value_heads"], c["rope_theta"])
    w.add_expert_used_count(c["num_experts_per_tok"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_leading_dense_block_count(c["first_k_dense_replace"])
    w.add_vocab_size(c["vocab_size"])
    w.add_kv_lora_rank(c["kv_lora_rank"])
    w.add_key_length(c["qk_nope_head_dim"] + c["qk_rope_head_dim"])
    w.add_value_length(c["v_head_dim"])
    w.add_expert_feed_forward_length(c["moe_intermediate_size"])
    w.add_expert_count(c["n_routed_experts"])
    w.add_expert_shared_count(c["n_shared_experts"])
    w.add_expert_weights_scale(c["routed_scaling_factor"])
    w.add_rope_dimension_count(c["qk_rope_head_dim"])
    write_yarn(w, c["rope_scaling"], c["rope_scaling"]["mscale_all_dim"], beta_keys=False)
    add_gguf_vocab(w, folder, "deepseek-v3")
    sd = stack_experts(hf_state(folder), n_layer, c["n_routed_experts"])
    write_gguf(w, hf_to_gguf_names(sd, gguf.MODEL_ARCH.DEEPSEEK2, n_layer))


def gguf_dsv3_mla():
    """llama.cpp's current deepseek2 converter (DeepseekV2Model): MLA as MQA with head_count_kv 1."""
    folder = os.path.join(OUT, "dsv3")
    c = json.load(open(os.path.join(folder, "config.json")))
    rope = c["rope_parameters"]
    n_layer, n_head = c["num_hidden_layers"], c["num_attention_heads"]
    nope, rdim, vdim, kvr = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"], c["kv_lora_rank"]
    w, _ = gguf_open("dsv3", "dsv3_mla.gguf", "deepseek2", 1, rope["rope_theta"])
    w.add_expert_count(c["n_routed_experts"])
    w.add_expert_used_count(c["num_experts_per_tok"])
    w.add_expert_group_count(c["n_group"])
    w.add_expert_group_used_count(c["topk_group"])
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    write_yarn(w, rope, rope["mscale_all_dim"], beta_keys=True)
    w.add_leading_dense_block_count(c["first_k_dense_replace"])
    w.add_vocab_size(c["vocab_size"])
    w.add_q_lora_rank(c["q_lora_rank"])
    w.add_kv_lora_rank(kvr)
    w.add_key_length(kvr + rdim)
    w.add_value_length(kvr)
    w.add_key_length_mla(nope + rdim)
    w.add_value_length_mla(vdim)
    w.add_expert_feed_forward_length(c["moe_intermediate_size"])
    w.add_expert_shared_count(c["n_shared_experts"])
    w.add_expert_weights_scale(c["routed_scaling_factor"])
    w.add_expert_weights_norm(c["norm_topk_prob"])
    w.add_rope_dimension_count(rdim)
    add_gguf_vocab(w, folder, "deepseek-v3")
    sd = stack_experts(hf_state(folder), n_layer, c["n_routed_experts"])
    for name in list(sd):
        if name.endswith("e_score_correction_bias"):
            sd[name.replace("e_score_correction_bias", "e_score_correction.bias")] = sd.pop(name)
        elif name.endswith("kv_b_proj.weight"):
            kv_b = sd.pop(name).view(n_head, nope + vdim, kvr)
            k_b, v_b = torch.split(kv_b, [nope, vdim], dim=1)
            sd[name.replace("kv_b_proj", "k_b_proj")] = k_b.transpose(1, 2).contiguous()  # [n_head, kv_lora, nope]
            sd[name.replace("kv_b_proj", "v_b_proj")] = v_b.contiguous()                 # [n_head, v, kv_lora]
    write_gguf(w, hf_to_gguf_names(sd, gguf.MODEL_ARCH.DEEPSEEK2, n_layer))


def permute(w, n_head):
    """llama.cpp's LlamaModel.permute: per head, rows (i, i+hd/2) -> (2i, 2i+1)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_deepseek_moe():
    folder = os.path.join(OUT, "deepseek_moe")
    c = json.load(open(os.path.join(folder, "config.json")))
    n_layer = c["num_hidden_layers"]
    w, _ = gguf_open("deepseek_moe", "deepseek_moe.gguf", "deepseek", c["num_key_value_heads"], c["rope_theta"])
    w.add_expert_used_count(c["num_experts_per_tok"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_rope_dimension_count(c["hidden_size"] // c["num_attention_heads"])
    w.add_rope_scaling_type(gguf.RopeScalingType.NONE)
    w.add_leading_dense_block_count(c["first_k_dense_replace"])
    w.add_vocab_size(c["vocab_size"])
    w.add_expert_feed_forward_length(c["moe_intermediate_size"])
    w.add_expert_weights_scale(1.0)
    w.add_expert_count(c["n_routed_experts"])
    w.add_expert_shared_count(c["n_shared_experts"])
    add_gguf_vocab(w, folder, "deepseek-v3")
    sd = stack_experts(hf_state(folder), n_layer, c["n_routed_experts"])
    for name in list(sd):
        if name.endswith("q_proj.weight"):
            sd[name] = permute(sd[name], c["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            sd[name] = permute(sd[name], c["num_key_value_heads"])
    write_gguf(w, hf_to_gguf_names(sd, gguf.MODEL_ARCH.DEEPSEEK, n_layer))


# ---- a forward pass straight from a GGUF, with llama.cpp's semantics -------------------------

def gguf_forward(path, ids):
    """Logits of a deepseek / deepseek2 GGUF the way llama.cpp runs it (numpy, float64): NORM rope
    (adjacent pairs) with ggml's YaRN, MLA through attn_k_b / attn_v_b (absorbed) or MHA through
    attn_kv_b (legacy), kq_scale = m^2 / sqrt(key_length_mla), m = 1 + yarn_log_multiplier ln(factor),
    build_moe_ffn routing (softmax | sigmoid, + exp_probs_b for selection, top-2-sum groups, norm, scale)."""
    r = gguf.GGUFReader(path)
    arch = r.fields["general.architecture"].contents()

    def kv(key, default=None):
        f = r.fields.get(f"{arch}.{key}")
        return f.contents() if f is not None else default

    T = {t.name: np.asarray(t.data, dtype=np.float64) for t in r.tensors}
    n_layer, n_head, eps = kv("block_count"), kv("attention.head_count"), kv("attention.layer_norm_rms_epsilon")
    n_rot, base = kv("rope.dimension_count"), kv("rope.freq_base")
    pos = np.arange(len(ids), dtype=np.float64)
    freq = base ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)
    m = 1.0
    if kv("rope.scaling.type") == "yarn":
        factor, orig = kv("rope.scaling.factor"), kv("rope.scaling.original_context_length")
        bf, bs = kv("rope.scaling.yarn_beta_fast", 32.0), kv("rope.scaling.yarn_beta_slow", 1.0)
        corr = lambda nrot: n_rot * math.log(orig / (nrot * 2 * math.pi)) / (2 * math.log(base))  # noqa: E731
        low, high = max(0.0, math.floor(corr(bf))), min(n_rot - 1.0, math.ceil(corr(bs)))
        ramp = 1 - np.clip((np.arange(n_rot // 2) - low) / max(0.001, high - low), 0, 1)  # ggml rope_yarn_ramp
        freq = freq / factor * (1 - ramp) + freq * ramp
        m = 1 + kv("rope.scaling.yarn_log_multiplier", 0.0) * math.log(factor)
    ang = pos[:, None] * freq[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rope(x):  # x [t, h, n_rot], pairs (2i, 2i+1)
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        return out

    def norm(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def mlp(x, g, u, d):
        a = x @ g.T
        return ((a / (1 + np.exp(-a))) * (x @ u.T)) @ d.T

    t_len = len(ids)
    mask = np.triu(np.full((t_len, t_len), -np.inf), 1)

    def attend(q, k, v, scale):  # q [t,h,dk], k [t,h,dk], v [t,h,dv]
        s = np.einsum("thd,shd->hts", q, k) * scale + mask
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return np.einsum("hts,shd->thd", p, v)

    x = T["token_embd.weight"][ids]
    for il in range(n_layer):
        b = f"blk.{il}."
        h = norm(x, T[b + "attn_norm.weight"])
        if arch == "deepseek":
            hd = h.shape[1] // n_head
            q = rope((h @ T[b + "attn_q.weight"].T).reshape(t_len, n_head, hd))
            k = rope((h @ T[b + "attn_k.weight"].T).reshape(t_len, -1, hd))
            v = (h @ T[b + "attn_v.weight"].T).reshape(t_len, -1, hd)
            o = attend(q, k, v, 1 / math.sqrt(hd))
        else:
            kv_lora = kv("attention.kv_lora_rank")
            if b + "attn_q_a.weight" in T:
                q = norm(h @ T[b + "attn_q_a.weight"].T, T[b + "attn_q_a_norm.weight"]) @ T[b + "attn_q_b.weight"].T
            else:
                q = h @ T[b + "attn_q.weight"].T
            kva = h @ T[b + "attn_kv_a_mqa.weight"].T
            c = norm(kva[:, :kv_lora], T[b + "attn_kv_a_norm.weight"])
            k_pe = rope(kva[:, None, kv_lora:])
            if b + "attn_k_b.weight" in T:  # MLA: key_length_mla = nope + rope
                dk = kv("attention.key_length_mla")
                q = q.reshape(t_len, n_head, dk)
                q_nope, q_pe = q[..., :dk - n_rot], rope(q[..., dk - n_rot:])
                q_abs = np.einsum("hcd,thd->thc", T[b + "attn_k_b.weight"], q_nope)
                qq = np.concatenate([q_abs, q_pe], -1)
                kk = np.concatenate([c, k_pe[:, 0]], -1)[:, None, :].repeat(n_head, 1)
                lat = attend(qq, kk, c[:, None, :].repeat(n_head, 1), m * m / math.sqrt(dk))
                o = np.einsum("hvc,thc->thv", T[b + "attn_v_b.weight"], lat)
            else:  # legacy: MHA with key_length nope + rope, value_length v
                dk, dv = kv("attention.key_length"), kv("attention.value_length")
                q = q.reshape(t_len, n_head, dk)
                q = np.concatenate([q[..., :dk - n_rot], rope(q[..., dk - n_rot:])], -1)
                kvb = (c @ T[b + "attn_kv_b.weight"].T).reshape(t_len, n_head, dk - n_rot + dv)
                k = np.concatenate([kvb[..., :dk - n_rot], k_pe.repeat(n_head, 1)], -1)
                o = attend(q, k, kvb[..., dk - n_rot:], m * m / math.sqrt(dk))
        x = x + o.reshape(t_len, -1) @ T[b + "attn_output.weight"].T
        h = norm(x, T[b + "ffn_norm.weight"])
        if b + "ffn_gate_inp.weight" in T:
            logits = h @ T[b + "ffn_gate_inp.weight"].T
            if kv("expert_gating_func", 1) == 2:
                probs = 1 / (1 + np.exp(-logits))
            else:
                probs = np.exp(logits - logits.max(-1, keepdims=True))
                probs /= probs.sum(-1, keepdims=True)
            sel = probs + T.get(b + "exp_probs_b.bias", 0.0)
            n_exp, k_used, n_grp = kv("expert_count"), kv("expert_used_count"), kv("expert_group_count", 1)
            if n_grp > 1:
                g = np.sort(sel.reshape(t_len, n_grp, -1), -1)[..., -2:].sum(-1)
                drop = np.argsort(-g, -1, kind="stable")[:, kv("expert_group_used_count"):]
                sel = sel.reshape(t_len, n_grp, -1).copy()
                np.put_along_axis(sel, drop[..., None], -np.inf, 1)
                sel = sel.reshape(t_len, n_exp)
            top = np.argsort(-sel, -1, kind="stable")[:, :k_used]
            w = np.take_along_axis(probs, top, -1)
            if kv("expert_weights_norm", False):
                w = w / w.sum(-1, keepdims=True)
            w = w * kv("expert_weights_scale", 1.0)
            y = np.zeros_like(h)
            for t in range(t_len):
                for j, e in enumerate(top[t]):
                    y[t] += w[t, j] * mlp(h[t], T[b + "ffn_gate_exps.weight"][e], T[b + "ffn_up_exps.weight"][e],
                                          T[b + "ffn_down_exps.weight"][e])
            y += mlp(h, T[b + "ffn_gate_shexp.weight"], T[b + "ffn_up_shexp.weight"], T[b + "ffn_down_shexp.weight"])
        else:
            y = mlp(h, T[b + "ffn_gate.weight"], T[b + "ffn_up.weight"], T[b + "ffn_down.weight"])
        x = x + y
    out = T.get("output.weight", T["token_embd.weight"])
    return norm(x, T["output_norm.weight"]) @ out.T


# ---- checks -----------------------------------------------------------------------------------

def check_reload(name, ids):
    """The folder reloads with AutoModelForCausalLM and reproduces the saved logits."""
    folder = os.path.join(OUT, name)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    ref = np.fromfile(os.path.join(OUT, name + ".logits.f32"), dtype="<f4").reshape(N_TOK, N_VOCAB)
    got = forward(model, ids).numpy()
    err = np.abs(got - ref).max()
    assert err < 1e-4, (name, err)
    return err


def check_fp8_file(ids):
    """dsv3_fp8 read back from its files (F8_E4M3 * weight_scale_inv in weight_block_size blocks, to
    BF16), saved as a plain checkpoint and loaded by transformers, reproduces dsv3_fp8.logits.f32."""
    folder = os.path.join(OUT, "dsv3_fp8")
    cfg = json.load(open(os.path.join(folder, "config.json")))
    bo, bi = cfg.pop("quantization_config")["weight_block_size"]
    sd = load_file(os.path.join(folder, "model.safetensors"))
    plain = {}
    for name, t in sd.items():
        if name.endswith("_scale_inv"):
            continue
        if t.dtype == torch.float8_e4m3fn:
            s = sd[name + "_scale_inv"].repeat_interleave(bo, 0).repeat_interleave(bi, 1)[:t.shape[0], :t.shape[1]]
            t = (t.float() * s).to(torch.bfloat16).float()
        plain[name] = t
    with tempfile.TemporaryDirectory() as d:
        save_file(plain, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        got = forward(model, ids).numpy()
    ref = np.fromfile(os.path.join(OUT, "dsv3_fp8.logits.f32"), dtype="<f4").reshape(N_TOK, N_VOCAB)
    err = np.abs(got - ref).max()
    assert err < 1e-4, err
    return err


def check_gguf(name):
    r = gguf.GGUFReader(os.path.join(OUT, name))
    n_vocab = len(r.fields["tokenizer.ggml.tokens"].data)
    assert n_vocab == N_VOCAB
    return len(r.tensors), len(r.fields)


def check_gguf_weights(gguf_name, folder):
    """Every GGUF tensor (after undoing the converter's transforms) equals the folder's weights."""
    r = gguf.GGUFReader(os.path.join(OUT, gguf_name))
    g = {t.name: np.asarray(t.data) for t in r.tensors}
    sd = hf_state(os.path.join(OUT, folder))
    total = sum(v.numel() for v in sd.values())
    assert sum(v.size for v in g.values()) == total, (gguf_name, sum(v.size for v in g.values()), total)
    assert np.array_equal(g["token_embd.weight"], sd["model.embed_tokens.weight"].numpy())
    assert np.array_equal(g["blk.1.ffn_up_exps.weight"][3], sd["model.layers.1.mlp.experts.3.up_proj.weight"].numpy())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("SEEK_TINYSHAKESPEARE", DEFAULT_DATA),
                    help="training text for the tiny BPEs (default %(default)s)")
    args = ap.parse_args()
    text = open(args.data, encoding="utf-8").read()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)

    toks = {fam: build_tokenizer(fam, text) for fam in FAMILIES}
    write_tokenizer_cases(toks)
    for fam in FAMILIES:
        vocab = toks[fam].get_vocab()
        assert sorted(vocab.values()) == list(range(N_VOCAB)), fam

    ids, models_ = {}, {}
    specs = [("llama", "llama"), ("qwen2", "qwen2"), ("dsv2_lite", "deepseek"), ("dsv2", "deepseek"), ("dsv3", "deepseek")]
    for i, (name, fam) in enumerate(specs):
        models_[name], ids[name], _ = build_hf(name, 4242 + i, toks[fam], fam)
    build_dsv3_fp8(models_["dsv3"], toks["deepseek"], "deepseek", ids["dsv3"])
    ids["deepseek_moe"] = build_deepseek_moe(4242 + len(specs), toks["deepseek"], "deepseek")

    gguf_dsv2_lite_legacy()
    gguf_dsv3_mla()
    gguf_deepseek_moe()

    # verification: reloads reproduce the logits; GGUFs open and hold the folders' weights
    for name, _ in specs:
        print(f"reload {name}: max |logits - saved| = {check_reload(name, ids[name]):.2e}")
    print(f"dsv3_fp8 dequantized from its files, loaded by transformers: max |logits - saved| = {check_fp8_file(ids['dsv3']):.2e}")
    for fam, folder in (("deepseek", "dsv3"), ("qwen2", "qwen2"), ("llama", "llama")):  # transformers' tokenizer agrees
        hf = AutoTokenizer.from_pretrained(os.path.join(OUT, folder))
        for text in TOKENIZER_CASES:
            assert hf.encode(text, add_special_tokens=False) == toks[fam].encode(text, add_special_tokens=False).ids, (fam, text)
    for gname, folder in (("dsv2_lite_legacy.gguf", "dsv2_lite"), ("dsv3_mla.gguf", "dsv3"), ("deepseek_moe.gguf", "deepseek_moe")):
        nt, nf = check_gguf(gname)
        check_gguf_weights(gname, folder)
        ref = np.fromfile(os.path.join(OUT, folder + ".logits.f32"), dtype="<f4").reshape(N_TOK, N_VOCAB)
        err = np.abs(gguf_forward(os.path.join(OUT, gname), ids[folder]) - ref).max()
        assert err < 1e-3, (gname, err)
        print(f"{gname}: {nt} tensors, {nf} metadata keys; llama.cpp-style forward: max |logits - ref| = {err:.2e}")
    total = 0
    for dirpath, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
