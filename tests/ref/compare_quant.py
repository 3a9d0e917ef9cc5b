#!/usr/bin/env python3
"""Compares two GGUF files tensor by tensor with llama.cpp's gguf-py (an independent reader): the
same tensor names, shapes and types, and whether each tensor's data bytes are identical.
Used by tests/test_quantize.sh and bench/ppl_compare.py on files written by seek quantize and
llama-quantize from the same input.

usage: compare_quant.py OURS.gguf THEIRS.gguf [--require-bytes q8_0,q4_0,...]
Prints one line: types equal or not, and per type how many tensors have identical bytes.
Exit status 1 when names, shapes or types differ, or a tensor of a --require-bytes type differs."""
import argparse
import sys

import gguf


def tensors(path):
    return {t.name: t for t in gguf.GGUFReader(path).tensors}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("theirs")
    ap.add_argument("--require-bytes", default="")
    a = ap.parse_args()
    need = {x.lower() for x in a.require_bytes.split(",") if x}
    ours, theirs = tensors(a.ours), tensors(a.theirs)
    problems = []
    if set(ours) != set(theirs):
        problems.append(f"tensor names differ: {sorted(set(ours) ^ set(theirs))[:5]}")
    same = {}  # type -> [identical, total]
    for name in sorted(set(ours) & set(theirs)):
        o, t = ours[name], theirs[name]
        if list(o.shape) != list(t.shape):
            problems.append(f"{name}: shape {list(o.shape)} vs {list(t.shape)}")
            continue
        if o.tensor_type != t.tensor_type:
            problems.append(f"{name}: type {o.tensor_type.name} vs {t.tensor_type.name}")
            continue
        ty = o.tensor_type.name.lower()
        eq = bytes(o.data.tobytes()) == bytes(t.data.tobytes())
        s = same.setdefault(ty, [0, 0])
        s[0] += eq
        s[1] += 1
        if not eq and ty in need:
            problems.append(f"{name}: {ty} bytes differ")
    summary = ", ".join(f"{ty} {s[0]}/{s[1]}" for ty, s in sorted(same.items()))
    print(f"types {'equal' if not any('type' in p or 'names' in p or 'shape' in p for p in problems) else 'DIFFER'}; "
          f"identical bytes: {summary}")
    for p in problems[:10]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
