#!/usr/bin/env python3
"""Progressive training against training from scratch, by FLOPs: `seek train` runs the same final
model shape twice on the same data and steps, once from scratch and once grown in stages, and this
script prints both held-out loss curves against cumulative training FLOPs (log.jsonl's "flops") and
the FLOPs each run needed to first reach the scratch run's final held-out loss.

The staged run (default) starts with 2 layers and 8 experts of width 2F, top-1, grows to 4 layers at
--grow-depth, then splits every expert in two (16 experts of width F, top-2: DeepSeekMoE's
fine-grained segmentation) at --grow-experts; the scratch run trains 4 layers x 16 experts of width F,
top-2 from step 0. Both see the same batches (same seed), lr schedule and step count.

usage: bench/train_growth.py --seek build/seek [--steps 600] [--data ../shared/data/tinyshakespeare.txt]
                             [--out /tmp/seek-growth] [--dim 128] [--expert-dim 128]"""
import argparse
import json
import os
import subprocess
import sys


def run(seek, cfg, out, label):
    path = os.path.join(out, label + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    print(f"[{label}] {seek} train --config {path}", file=sys.stderr)
    subprocess.run([seek, "train", "--config", path], check=True)
    rows = [json.loads(l) for l in open(os.path.join(cfg["run"]["out"], "log.jsonl"))]
    return [(r["step"], r["flops"], r["val_loss"]) for r in rows if "val_loss" in r]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seek", default="build/seek")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--grow-depth", type=int, default=150)
    ap.add_argument("--grow-experts", type=int, default=300)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tinyshakespeare.txt"))
    ap.add_argument("--out", default="/tmp/seek-growth")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--expert-dim", type=int, default=128)
    ap.add_argument("--eval-every", type=int, default=25)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    F = a.expert_dim
    final = {"n_layer": 4, "dim": a.dim, "n_head": 4, "n_kv_head": 4, "ctx": 128, "vocab": 2048, "attention": "mha",
             "position": "rope", "ffn": "moe", "n_expert": 16, "n_expert_used": 2, "n_shared_expert": 2, "expert_dim": F,
             "n_dense_lead": 0, "balance": "aux_loss", "aux_loss_weight": 0.01, "norm_topk": False}
    optim = {"lr": 3e-3, "min_lr": 3e-4, "warmup": 30, "schedule": "cosine", "weight_decay": 0.1, "micro_batch": 8,
             "seq_len": 128, "grad_accum": 1, "steps": a.steps, "precision": "fp32", "seed": 1}
    data = {"train": [os.path.abspath(a.data)], "val_fraction": 0.05, "tokenizer": "bpe:2048"}
    scratch = {"model": final, "data": data, "optim": optim,
               "run": {"out": os.path.join(a.out, "scratch"), "eval_every": a.eval_every, "eval_batches": 8, "ckpt_every": 0}}
    small = dict(final, n_layer=2, n_expert=8, n_expert_used=1, n_shared_expert=1, expert_dim=2 * F)
    staged = {"model": small, "data": data, "optim": optim,
              "run": {"out": os.path.join(a.out, "staged"), "eval_every": a.eval_every, "eval_batches": 8, "ckpt_every": 0,
                      "stages": [{"at_step": a.grow_depth, "n_layer": 4}, {"at_step": a.grow_experts, "n_expert": 16}]}}
    s = run(a.seek, scratch, a.out, "scratch")
    g = run(a.seek, staged, a.out, "staged")
    print("\n step | scratch PFLOP  val_loss | staged PFLOP  val_loss")
    for (st, sf, sv), (_, gf, gv) in zip(s, g):
        print(f"{st:5d} | {sf / 1e15:12.4f}  {sv:8.4f} | {gf / 1e15:11.4f}  {gv:8.4f}")
    target = s[-1][2]
    reach = lambda rows: next((f for _, f, v in rows if v <= target), None)
    fs, fg = reach(s), reach(g)
    print(f"\nscratch final held-out loss {target:.4f} after {s[-1][1] / 1e15:.4f} PFLOP")
    print(f"staged  final held-out loss {g[-1][2]:.4f} after {g[-1][1] / 1e15:.4f} PFLOP "
          f"({g[-1][1] / s[-1][1]:.2f}x the scratch run's FLOPs)")
    if fg is not None:
        print(f"staged reaches {target:.4f} after {fg / 1e15:.4f} PFLOP = {fg / fs:.2f}x the scratch run's FLOPs")
    else:
        print(f"staged never reaches {target:.4f} within {a.steps} steps")


if __name__ == "__main__":
    main()
