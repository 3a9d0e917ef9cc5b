#!/usr/bin/env python3
"""Reference logits and greedy text for the default model, from Hugging Face transformers.

transformers dequantizes the GGUF's weights (Q4_1 / Q8_0) to fp32 and runs its own
LlamaForCausalLM: an implementation independent of seek. Writes tests/fixtures/golden/:
  logits_prompt.txt   the 64 token ids of the fixed prompt
  logits_last.f32     fp32 logits (n_vocab) at the last position
  logits_top.txt      per position: argmax id and the top-5 (id:logit)
  hf_greedy.txt       per prompt of PROMPTS: repr(prompt), the 64 greedy token ids (argmax,
                      not stopping at end-of-text) and repr(their decoded text), tab-separated
Usage: gen_golden.py MODEL.gguf   (needs: pip install torch transformers accelerate gguf)"""
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "golden")
LOGITS_TEXT = (
    "The history of natural philosophy is a long one. Early thinkers in Greece asked what the world "
    "is made of, and whether change is real. Later, careful measurement replaced speculation, and the "
    "laws of motion were written down by people who could test them. Today, physics explains how stars shine, why metals conduct, and "
    "what holds the nucleus together."
)
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village by the sea,",
    "The three primary colors are",
    "Water boils at a temperature of",
]


def greedy(model, ids, n):
    """n argmax steps with the KV cache, never stopping at end-of-text (like --ignore-eos)."""
    gen, past, inp = [], None, torch.tensor([ids])
    with torch.no_grad():
        for _ in range(n):
            out = model(inp, past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = int(out.logits[0, -1].argmax())
            gen.append(nxt)
            inp = torch.tensor([[nxt]])
    return gen


def main():
    path = sys.argv[1]
    d, f = os.path.split(os.path.abspath(path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    os.makedirs(OUT, exist_ok=True)
    ids = tok(LOGITS_TEXT, add_special_tokens=False).input_ids
    assert len(ids) >= 64, len(ids)
    ids = ids[:64]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
    with open(os.path.join(OUT, "logits_prompt.txt"), "w") as fh:
        fh.write(" ".join(map(str, ids)) + "\n")
    logits[-1].astype("<f4").tofile(os.path.join(OUT, "logits_last.f32"))
    with open(os.path.join(OUT, "logits_top.txt"), "w") as fh:
        for row in logits:
            top = np.argsort(-row)[:5]
            fh.write(" ".join(f"{i}:{row[i]:.5f}" for i in top) + "\n")
    with open(os.path.join(OUT, "hf_greedy.txt"), "w") as fh:
        for p in PROMPTS:
            gen = greedy(model, tok(p, add_special_tokens=False).input_ids, 64)
            fh.write(repr(p) + "\t" + " ".join(map(str, gen)) + "\t" + repr(tok.decode(gen, skip_special_tokens=True)) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
