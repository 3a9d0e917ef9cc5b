#!/usr/bin/env python3
"""Does llama.cpp read the GGUF files `seek convert` writes the way seek does? For each tiny
Hugging Face fixture (tests/fixtures/hf/, made by tests/ref/gen_hf_models.py) this converts the
folder to an f32 GGUF with seek, then greedy-decodes the same prompt with llama.cpp's llama-simple
and with `seek run --temp 0` and compares the generated text (special tokens, which llama-simple
prints and seek run does not, are dropped first). Equal greedy text over N steps means the
two engines' logits agree on every step's argmax; seek's own logits match transformers within
1e-4 of the logit range (tests/test_deepseek.c).

Known differences, reported rather than hidden:
  - llama.cpp loads a deepseek2 file without q LoRA (V2-Lite) only when it has 27 layers, so the
    3-layer dsv2_lite fixture does not load there;
  - llama.cpp scores expert groups by the sum of their top-2 scores for every model, while
    DeepSeek-V2's group_limited_greedy (and seek) uses the group maximum: dsv2 may differ.

With --gguf FILE... the given GGUF files are compared instead (e.g. the model.gguf seek train writes).

usage: bench/llama_agree.py [--seek build/seek] [--llama-bin DIR] [-n 24] [-p PROMPT] [--gguf FILE ...]"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FIXTURES = ["llama", "qwen2", "deepseek_moe", "dsv2_lite", "dsv2", "dsv3", "dsv3_fp8"]


SPECIAL = re.compile(r"<｜[^｜]*｜>|<\|[a-z_]+\|>")


def seek_greedy(seek, gguf, prompt, n, cache=None):
    """`seek run --temp 0`'s continuation of prompt over n steps, special tokens dropped; cache:
    the KV cache type (-ctk / -ctv), seek's default (f16) when None."""
    kv = ["-ctk", cache, "-ctv", cache] if cache else []
    out = subprocess.run([seek, "run", "-m", gguf, "-p", prompt, "-n", str(n), "--temp", "0"] + kv, capture_output=True,
                         check=True).stdout.decode("utf-8", "replace")
    return SPECIAL.sub("", out).strip()


def greedy_agree(seek, llama_bin, gguf, prompt, n):
    """(llama.cpp loads it, greedy texts equal, a note): llama-simple and `seek run --temp 0`, n steps."""
    ours = seek_greedy(seek, gguf, prompt, n)
    r = subprocess.run([os.path.join(llama_bin, "llama-simple"), "-m", gguf, "-n", str(n), prompt], capture_output=True)
    if r.returncode != 0:
        why = [l for l in r.stderr.decode("utf-8", "replace").splitlines() if "error" in l][:1]
        return False, False, why[0].strip() if why else str(r.returncode)
    theirs = SPECIAL.sub("", r.stdout.decode("utf-8", "replace"))
    theirs = theirs[theirs.find(prompt) + len(prompt):] if prompt in theirs else theirs
    same = ours == theirs.strip()
    return True, same, "" if same else repr(theirs.strip()[:40]) + " vs " + repr(ours[:40])


def llama_greedy(llama_bin, gguf, prompt, n, fa, cache="f16"):
    """llama.cpp's own greedy continuation with its flash-attention path on or off ("on" is what
    llama-simple uses on a CPU), KV cache of type cache (llama.cpp's default: f16), 2 threads;
    None when it fails."""
    r = subprocess.run([os.path.join(llama_bin, "llama-completion"), "-m", gguf, "-p", prompt, "-n", str(n), "--temp", "0",
                        "-fa", fa, "-no-cnv", "-t", "2", "-ctk", cache, "-ctv", cache], capture_output=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        return None
    text = SPECIAL.sub("", r.stdout.decode("utf-8", "replace")).replace("[end of text]", "")
    return (text[text.find(prompt) + len(prompt):] if prompt in text else text).strip()


def llama_self_agree(llama_bin, gguf, prompt, n):
    """Whether llama.cpp's two attention paths (-fa on / -fa off) give the same greedy text: where
    they do not, the prompt meets a near-tie that rounding alone decides, and no second engine
    can be expected to break it as either path does. None when llama-completion fails."""
    on, off = llama_greedy(llama_bin, gguf, prompt, n, "on"), llama_greedy(llama_bin, gguf, prompt, n, "off")
    return None if on is None or off is None else on == off


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seek", default="build/seek")
    ap.add_argument("--llama-bin", default=os.environ.get("LLAMA_CPP_BIN"))
    ap.add_argument("-n", type=int, default=24)
    ap.add_argument("-p", default="To be or not to be")
    ap.add_argument("--gguf", nargs="+", help="compare these GGUF files instead of the converted fixtures")
    a = ap.parse_args()
    if not a.llama_bin:
        sys.exit("set LLAMA_CPP_BIN (or --llama-bin) to the folder of an existing llama.cpp build")
    print(f"| fixture | llama.cpp loads | greedy text equal ({a.n} steps) |")
    print("| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.gguf or FIXTURES:
            if a.gguf:
                gguf = name
            else:
                gguf = os.path.join(tmp, name + ".gguf")
                subprocess.run([a.seek, "convert", os.path.join("tests/fixtures/hf", name), "-o", gguf, "--type", "f32"], check=True,
                               capture_output=True)
            loads, same, note = greedy_agree(a.seek, a.llama_bin, gguf, a.p, a.n)
            if not loads:
                print(f"| {name} | no: {note} | - |")
            else:
                if not same:
                    own = llama_self_agree(a.llama_bin, gguf, a.p, a.n)
                    note += {True: "; llama.cpp -fa on / off agree", False: "; llama.cpp -fa on / off differ too",
                             None: ""}[own]
                print(f"| {name} | yes | {'yes' if same else 'NO: ' + note} |")


if __name__ == "__main__":
    main()
