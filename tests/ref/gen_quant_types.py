#!/usr/bin/env python3
"""Writes tests/fixtures/quant/llama_quantize_types.txt: the tensor types llama.cpp's
llama-quantize chooses for each file type seek quantize writes, on three inputs -- the random
256-wide Llama of make_quant_model.py (converted to f16 GGUF by seek convert), the tiny Qwen2
(rows of 64: the k-quant fallbacks; a separate output.weight) and the tiny DeepSeek MoE (8
experts: the Mixtral rules; expert rows of 16: the f16 fallback). Types depend only on names and
shapes, so the file is stable. tests/test_quantize.sh checks seek's choices against it when no
llama.cpp is at hand. One line per (input, type): INPUT TYPE then name=type for every tensor not
written as f32, sorted by name.

usage: gen_quant_types.py LLAMA_BIN_DIR [SEEK_BINARY]   (run from the repository root)"""
import os
import subprocess
import sys
import tempfile

import gguf

TYPES = {"f16": "F16", "bf16": "BF16", "q8_0": "Q8_0", "q4_0": "Q4_0", "q4_1": "Q4_1", "q5_0": "Q5_0", "q5_1": "Q5_1",
         "q4_k": "Q4_K_S", "q5_k": "Q5_K_S", "q6_k": "Q6_K", "q4_k_m": "Q4_K_M", "q5_k_m": "Q5_K_M"}


def main():
    llama = os.path.join(sys.argv[1], "llama-quantize")
    seek = sys.argv[2] if len(sys.argv) > 2 else "build/seek"
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "tests/ref/make_quant_model.py", os.path.join(tmp, "hf")], check=True)
        subprocess.run([seek, "convert", os.path.join(tmp, "hf"), "-o", os.path.join(tmp, "m256.gguf"), "--type", "f16"],
                       check=True, capture_output=True)
        inputs = {"m256": os.path.join(tmp, "m256.gguf"), "qwen2": "tests/fixtures/tiny/qwen2_f32.gguf",
                  "moe": "tests/fixtures/hf/deepseek_moe.gguf"}
        for label, path in inputs.items():
            for ours, theirs in TYPES.items():
                out = os.path.join(tmp, "out.gguf")
                subprocess.run([llama, path, out, theirs, "1"], check=True, capture_output=True)
                ts = sorted((t.name, t.tensor_type.name.lower()) for t in gguf.GGUFReader(out).tensors)
                lines.append(" ".join([label, ours] + [f"{n}={ty}" for n, ty in ts if ty != "f32"]))
    with open("tests/fixtures/quant/llama_quantize_types.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
