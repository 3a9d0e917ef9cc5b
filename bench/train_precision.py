#!/usr/bin/env python3
"""bf16 and fp8 training against fp32: for each seed in --seeds, `seek train` runs one config three times
(--precision fp32, bf16, fp8; same seed, so the same initial weights and batches), and this prints the
loss curves side by side (means over windows of --window steps), each low-precision curve's largest
relative deviation from the fp32 curve of its own seed, its signed mean deviation, and the final held-out
losses. A deviation of a fraction of a percent is what DeepSeek-V3 reports for FP8 vs BF16.
With two or more seeds it also prints how far the fp32 runs of different seeds land apart: the noise
floor the precisions' deviations are read against, and whether a precision's sign flips with the seed
(noise) or not (a systematic cost).

usage: bench/train_precision.py --seek build/seek [--config bench/train_example.json] [--steps 300]
                                [--seeds 1,2] [--out /tmp/seek-precision] [--window 25]
                                [extra seek train flags...]"""
import argparse
import json
import os
import subprocess
import sys

PRECISIONS = ("fp32", "bf16", "fp8")


def run(a, extra, prec, seed):
    out = os.path.join(a.out, f"{prec}-seed{seed}")
    cmd = [a.seek, "train", "--config", a.config, "--steps", str(a.steps), "--precision", prec, "--out", out,
           "--ckpt_every", "0", "--eval_every", str(a.steps), "--seed", str(seed)] + extra
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    rows = [json.loads(l) for l in open(os.path.join(out, "log.jsonl"))]
    return [r["loss"] for r in rows], rows[-1].get("val_loss")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seek", default="build/seek")
    ap.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "train_example.json"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seeds", default="1,2", help="comma-separated seeds; each runs all three precisions")
    ap.add_argument("--window", type=int, default=25)
    ap.add_argument("--out", default="/tmp/seek-precision")
    a, extra = ap.parse_known_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    curves, val = {}, {}
    for seed in seeds:
        for p in PRECISIONS:
            curves[p, seed], val[p, seed] = run(a, extra, p, seed)
    w = a.window
    mean = lambda xs: sum(xs) / len(xs)
    windows = range(0, a.steps - w + 1, w)
    wmean = {k: [mean(c[i:i + w]) for i in windows] for k, c in curves.items()}
    cols = [(p, s) for s in seeds for p in PRECISIONS]
    print("\n" + f"{'steps':>11} | " + " ".join(f"{p + ' s' + str(s):>10}" for p, s in cols))
    for j, i in enumerate(windows):
        print(f"{i + 1:5d}-{i + w:5d} | " + " ".join(f"{wmean[k][j]:10.4f}" for k in cols))
    print()

    def compare(name, k, ref):
        rel = [(x - y) / y for x, y in zip(wmean[k], wmean[ref])]
        worst = max(abs(r) for r in rel)
        print(f"{name}: largest |deviation| of a {w}-step mean from {ref[0]} seed {ref[1]}: {worst:.2%}; "
              f"mean deviation {mean(rel):+.2%}; windows above: {sum(r > 0 for r in rel)}/{len(rel)}; "
              f"held-out {val[k]:.4f} vs {val[ref]:.4f} ({(val[k] - val[ref]) / val[ref]:+.2%})")

    for s in seeds:
        for p in PRECISIONS[1:]:
            compare(f"{p} seed {s}", (p, s), ("fp32", s))
    for s in seeds[1:]:
        compare(f"fp32 seed {s} (noise floor)", ("fp32", s), ("fp32", seeds[0]))


if __name__ == "__main__":
    main()
