#!/usr/bin/env python3
"""seek against llama.cpp on quality tooling, on one GGUF file and one text:

1. perplexity: `seek perplexity` and llama.cpp's `llama-perplexity` with the same -c / -b / -t,
   both estimates ("Final estimate: PPL = X +/- Y"), their relative difference, and the largest
   relative difference of the running per-window values ([1]x,[2]y,... as both tools print them).
   The two compute the same thing (windows of -c tokens, second half scored, BOS per window where
   the vocab adds one); what remains is arithmetic: llama.cpp keeps its KV cache in f16, seek in
   f32, and the two quantize activations with their own kernels.
2. quantization: the model is quantized to each --types type by `seek quantize` and by
   `llama-quantize` (with --allow-requantize when the model is already quantized), and by both
   again from an f16 copy of it (made by seek quantize ... f16), and the files are compared with
   tests/ref/compare_quant.py (gguf-py): tensor types equal, and how many tensors of each type
   have identical bytes.

llama.cpp comes from an existing build (LLAMA_CPP_BIN or --llama-bin: the folder holding
llama-perplexity and llama-quantize); this repository neither builds nor contains it.

usage: bench/ppl_compare.py -f TEXT [-m MODEL] [--bytes N] [-c 512] [-b 512] [-t 2]
                            [--types q8_0,q4_0,q4_1] [--seek build/seek] [--llama-bin DIR]"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FINAL = re.compile(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)")
WINDOW = re.compile(r"\[(\d+)\]([0-9.]+),")


def perplexity(cmd):
    t0 = time.time()
    for attempt in range(2):  # llama-perplexity has been seen to exit 0 without its final line once; retry once
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        out = r.stdout + r.stderr
        m = FINAL.search(out)
        if r.returncode == 0 and m:
            break
        print(f"note: {cmd[0]} gave no final estimate (exit {r.returncode}); attempt {attempt + 1}", file=sys.stderr)
    if r.returncode != 0 or not m:
        tail = "\n".join(out.strip().splitlines()[-5:])
        sys.exit(f"{cmd[0]} failed (exit {r.returncode}):\n{tail}")
    return float(m.group(1)), float(m.group(2)), [float(v) for _, v in WINDOW.findall(out)], time.time() - t0


def default_model():
    """The path of the default model (scripts/get-model.sh fetches it when missing)."""
    return subprocess.run([os.path.join(ROOT, "scripts", "get-model.sh")], capture_output=True, text=True,
                          check=True).stdout.strip()


def is_quantized(seek, model):
    info = subprocess.run([seek, "info", model], capture_output=True, text=True, errors="replace").stdout
    return re.search(r"^\s+(q\d|iq)\S*\s+\d+ tensors", info, re.M) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", help="GGUF file (default: scripts/get-model.sh's model)")
    ap.add_argument("-f", "--file", required=True, help="text file")
    ap.add_argument("--bytes", type=int, default=0, help="use only the first N bytes of the text")
    ap.add_argument("-c", type=int, default=512)
    ap.add_argument("-b", type=int, default=512)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("--types", default="q8_0,q4_0,q4_1", help="types to quantize to with both tools ('' to skip)")
    ap.add_argument("--seek", default=os.path.join(ROOT, "build", "seek"))
    ap.add_argument("--llama-bin", default=os.environ.get("LLAMA_CPP_BIN"))
    a = ap.parse_args()
    if not a.llama_bin:
        sys.exit("set LLAMA_CPP_BIN (or --llama-bin) to the folder of an existing llama.cpp build")
    model = a.model or default_model()
    with tempfile.TemporaryDirectory() as tmp:
        text = a.file
        if a.bytes:
            text = os.path.join(tmp, "text.txt")
            with open(a.file, "rb") as src, open(text, "wb") as dst:
                dst.write(src.read(a.bytes))
        size = os.path.getsize(text)
        print(f"model {os.path.basename(model)}, text {os.path.basename(a.file)} ({size} bytes), -c {a.c} -b {a.b} -t {a.t}\n")

        common = ["-m", model, "-f", text, "-c", str(a.c), "-b", str(a.b), "-t", str(a.t)]
        s_ppl, s_err, s_win, s_t = perplexity([a.seek, "perplexity"] + common)
        l_ppl, l_err, l_win, l_t = perplexity([os.path.join(a.llama_bin, "llama-perplexity")] + common)
        print("| tool | PPL | +/- | windows | seconds |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| seek perplexity | {s_ppl:.4f} | {s_err:.5f} | {len(s_win)} | {s_t:.1f} |")
        print(f"| llama-perplexity | {l_ppl:.4f} | {l_err:.5f} | {len(l_win)} | {l_t:.1f} |")
        worst = max((abs(x - y) / y for x, y in zip(s_win, l_win)), default=float("nan"))
        print(f"\nrelative difference of the final estimates: {(s_ppl - l_ppl) / l_ppl:+.2e} "
              f"(the estimates' own uncertainty: {l_err / l_ppl:.2e}); largest over the running per-window values: {worst:.2e}")
        if len(s_win) != len(l_win):
            print(f"WARNING: the tools scored different numbers of windows ({len(s_win)} vs {len(l_win)})")

        types = [t for t in a.types.split(",") if t]
        if not types:
            return
        requant = is_quantized(a.seek, model)
        f16 = os.path.join(tmp, "f16.gguf")
        subprocess.run([a.seek, "quantize", model, f16, "f16", "--allow-requantize", "-t", str(a.t)], check=True, capture_output=True)
        print("\n| input | type | seek quantize vs llama-quantize |")
        print("| --- | --- | --- |")
        for label, src, allow in ((os.path.basename(model), model, requant), ("f16 copy", f16, False)):
            for t in types:
                ours, theirs = os.path.join(tmp, "ours.gguf"), os.path.join(tmp, "theirs.gguf")
                flag = ["--allow-requantize"] if allow else []
                subprocess.run([a.seek, "quantize", src, ours, t, "-t", str(a.t)] + flag, check=True, capture_output=True)
                lt = {"q4_k": "Q4_K_S", "q5_k": "Q5_K_S"}.get(t, t.upper())
                r = subprocess.run([os.path.join(a.llama_bin, "llama-quantize")] + flag + [src, theirs, lt, str(a.t)],
                                   capture_output=True, text=True, errors="replace")
                if r.returncode != 0:
                    print(f"| {label} | {t} | llama-quantize failed: {r.stderr.strip().splitlines()[-1:]} |")
                    continue
                c = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "ref", "compare_quant.py"), ours, theirs],
                                   capture_output=True, text=True)
                print(f"| {label} | {t} | {' '.join(c.stdout.split())} |")


if __name__ == "__main__":
    main()
