#!/usr/bin/env python3
"""bf16 and fp8 training against fp32: `seek train` runs one config three times (--precision fp32, bf16,
fp8; same seed, so the same batches) and this prints the loss curves side by side (means over windows of
--window steps), each curve's largest relative deviation from fp32 over those windows, and the final
held-out losses. A deviation of a fraction of a percent is what DeepSeek-V3 reports for FP8 vs BF16.
A fourth run, fp32 with --seed + 1 (other initial weights and batches), shows how far two fp32 runs
land apart anyway: the noise floor the precisions' deviations are read against.

usage: bench/train_precision.py --seek build/seek [--config bench/train_example.json] [--steps 300]
                                [--out /tmp/seek-precision] [--window 25] [extra seek train flags...]"""
import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seek", default="build/seek")
    ap.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "train_example.json"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--window", type=int, default=25)
    ap.add_argument("--out", default="/tmp/seek-precision")
    a, extra = ap.parse_known_args()
    curves, val = {}, {}
    seed = json.load(open(a.config)).get("optim", {}).get("seed", 1)
    for p in ("fp32", "bf16", "fp8", "fp32-seed"):
        out = os.path.join(a.out, p)
        cmd = [a.seek, "train", "--config", a.config, "--steps", str(a.steps), "--precision", p.split("-")[0], "--out", out,
               "--ckpt_every", "0", "--eval_every", str(a.steps)] + extra
        if p == "fp32-seed":
            cmd += ["--seed", str(seed + 1)]
        print(" ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        rows = [json.loads(l) for l in open(os.path.join(out, "log.jsonl"))]
        curves[p] = [r["loss"] for r in rows]
        val[p] = rows[-1].get("val_loss")
    w = a.window
    mean = lambda xs: sum(xs) / len(xs)
    print(f"\n{'steps':>11} | {'fp32':>7} {'bf16':>7} {'fp8':>7} {'fp32 seed+1':>11}")
    dev = {"bf16": 0.0, "fp8": 0.0, "fp32-seed": 0.0}
    for i in range(0, a.steps - w + 1, w):
        m = {p: mean(curves[p][i:i + w]) for p in curves}
        for p in dev:
            dev[p] = max(dev[p], abs(m[p] - m["fp32"]) / m["fp32"])
        print(f"{i + 1:5d}-{i + w:5d} | {m['fp32']:7.4f} {m['bf16']:7.4f} {m['fp8']:7.4f} {m['fp32-seed']:11.4f}")
    for p in dev:
        print(f"{p}: largest deviation of a {w}-step mean loss from fp32: {dev[p]:.2%}; "
              f"held-out loss {val[p]:.4f} vs fp32 {val['fp32']:.4f} ({(val[p] - val['fp32']) / val['fp32']:+.2%})")


if __name__ == "__main__":
    main()
