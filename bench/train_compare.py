#!/usr/bin/env python3
"""Training speed: the PyTorch reference model (tests/ref/train_model.py, the math of src/train/SPEC.md) in
float32 on the CPU, and optionally `seek train` on the same configuration, in tokens/s and GFLOP/s.

PyTorch side: torch.set_num_threads(--threads, default 2), the config's model, AdamW with clipping and the
schedule, micro_batch x seq_len x grad_accum tokens of random ids per optimizer step; 2 warm-up steps, then
--steps timed steps (default 20). The config's precision is overridden to fp32.

seek side (--seek BIN): runs `BIN train --config FILE --steps W+N --out TMPDIR --precision fp32 --threads T`
(--seek-precision config: leave the config's precision) and reads TMPDIR/log.jsonl, one JSON object per
optimizer step with "tokens_per_s"; the first W (= --warmup) steps are dropped, and the rate is the harmonic
mean of the rest (= their tokens over their time). Prints seek's tokens/s, seek / PyTorch, and seek's GFLOP/s
against --peak-gflops (default: the fp32 FMA peak that seek-roofline, next to BIN, measures for --threads; 410,
the issue's figure for its machine, when there is no seek-roofline).

FLOPs per trained token (the usual 6N + attention count, PaLM appendix B / Chinchilla):
    6 * N_active + 6 * n_layer * T * n_head * (d_qk + d_v)
N_active: every parameter multiplied per token, i.e. all but token_embd.weight, with a MoE layer's experts
counted for the n_expert_used routed ones plus the shared ones (the router and output.weight are included).
d_qk = d_v = head_dim for MHA (the attention term is then 12 * n_layer * T * dim), d_qk = qk_nope + qk_rope and
d_v = v_head_dim for MLA; T = seq_len, the full T x T score matrix counted (as is customary; causal masking
halves the useful work).

usage: bench/train_compare.py [--config bench/train_example.json] [--steps 20] [--threads 2]
                              [--seek build/seek] [--peak-gflops GFLOPS] [--no-torch]"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
from train_model import ModelConfig, TrainModel, make_optimizer, param_shapes, train_step  # noqa: E402
from compare import machine_ceilings  # noqa: E402  (bench/, this script's folder)


def flops_per_token(c, T):
    """(FLOPs per token, active parameters) by the formula in the module docstring."""
    active = 0
    for name, shape in param_shapes(c):
        n = 1
        for s in shape:
            n *= s
        if name == "token_embd.weight" or name.endswith("exp_probs_b.bias"):
            continue
        if "_exps." in name:  # routed experts: only K of E per token
            n = n // c.n_expert * c.n_expert_used
        active += n
    if c.attention == "mla":
        dqk, dv = c.qk_nope_dim + c.qk_rope_dim, c.v_head_dim
    else:
        dqk = dv = c.head_dim
    return 6 * active + 6 * c.n_layer * T * c.n_head * (dqk + dv), active


def bench_torch(cfg, steps, warmup, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(cfg["optim"].get("seed", 1))
    c = ModelConfig.from_json(dict(cfg["model"]))
    o = dict(cfg["optim"], precision="fp32")
    model = TrainModel(c, dtype=torch.float32)
    model.init_random(torch.Generator().manual_seed(o.get("seed", 1)), router_scale=1.0)
    opt = make_optimizer(model, o)
    rows, T = o["micro_batch"] * o.get("grad_accum", 1), o["seq_len"]
    g = torch.Generator().manual_seed(1234)
    batches = [torch.randint(0, c.vocab, (rows, T + 1), generator=g) for _ in range(warmup + steps)]
    for s in range(warmup):
        train_step(model, opt, o, s, batches[s])
    t0 = time.perf_counter()
    losses = []
    for s in range(warmup, warmup + steps):
        losses.append(train_step(model, opt, o, s, batches[s])[0])
    dt = time.perf_counter() - t0
    return rows * T * steps / dt, dt, losses


def bench_seek(binary, config, steps, warmup, threads, precision):
    with tempfile.TemporaryDirectory(prefix="seek_train_bench_") as tmp:
        cmd = [binary, "train", "--config", config, "--steps", str(warmup + steps), "--out", tmp]
        if precision != "config":
            cmd += ["--precision", precision]
        cmd += ["--threads", str(threads)]
        print("running: " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        with open(os.path.join(tmp, "log.jsonl")) as fh:
            recs = [json.loads(l) for l in fh if l.strip().startswith("{")]
    rates = [r["tokens_per_s"] for r in recs if "tokens_per_s" in r]
    if not rates:
        sys.exit("seek's log.jsonl has no step records with tokens_per_s")
    timed = rates[warmup:] or rates
    return len(timed) / sum(1.0 / r for r in timed), len(timed)


def measured_peak(seek, threads):
    """The fp32 FMA peak from seek-roofline beside the seek binary, else the issue's 410 GFLOP/s."""
    try:
        return machine_ceilings(seek, threads)["fma_gflops"], "seek-roofline"
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError):
        return 410.0, "the issue's figure; no seek-roofline found"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(ROOT, "bench", "train_example.json"))
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed optimizer steps first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seek", metavar="BIN", help="also run BIN train on the same config")
    ap.add_argument("--seek-precision", default="fp32", help="--precision for seek ('config': the config's own)")
    ap.add_argument("--peak-gflops", type=float)
    ap.add_argument("--no-torch", action="store_true", help="only the seek side")
    a = ap.parse_args()
    with open(a.config) as fh:
        cfg = json.load(fh)
    c = ModelConfig.from_json(dict(cfg["model"]))
    o = cfg["optim"]
    T = o["seq_len"]
    fpt, active = flops_per_token(c, T)
    tok_step = o["micro_batch"] * o.get("grad_accum", 1) * T
    print(f"config {a.config}: {active / 1e6:.2f} M active params/token, "
          f"{sum(p.numel() for p in TrainModel(c).parameters()) / 1e6:.2f} M params, {tok_step} tokens/step, "
          f"{fpt / 1e6:.1f} MFLOP/token (6*N_active + 6*n_layer*T*n_head*(d_qk+d_v), T = {T})")
    pt = None
    if not a.no_torch:
        pt, dt, losses = bench_torch(cfg, a.steps, a.warmup, a.threads)
        print(f"pytorch {torch.__version__} fp32, {a.threads} threads: {a.steps} steps in {dt:.1f} s, "
              f"{pt:.0f} tokens/s, {pt * fpt / 1e9:.1f} GFLOP/s (loss {losses[0]:.3f} -> {losses[-1]:.3f})")
    if a.seek:
        sk, n = bench_seek(a.seek, a.config, a.steps, a.warmup, a.threads, a.seek_precision)
        gf = sk * fpt / 1e9
        peak, src = measured_peak(a.seek, a.threads) if a.peak_gflops is None else (a.peak_gflops, "--peak-gflops")
        line = (f"seek ({n} steps): {sk:.0f} tokens/s, {gf:.1f} GFLOP/s = {100 * gf / peak:.1f}% of the fp32 peak "
                f"{peak:.0f} GFLOP/s ({src})")
        if pt:
            line += f"; seek / pytorch = {sk / pt:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
