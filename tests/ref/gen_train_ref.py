#!/usr/bin/env python3
"""Reference fixtures for seek's trainer (src/train/SPEC.md), from the PyTorch model in
tests/ref/train_model.py run in float64 and stored as F32. Writes tests/fixtures/train/<variant>/:

  config.json          {"model", "data", "optim", "run"}: the variant's configuration
  params.safetensors   the initial parameters (F32, torch shapes, GGUF names)
  ref.safetensors      tokens    I32 [steps, B, T+1]  (step s: inputs tokens[s, :, :T], targets tokens[s, :, 1:])
                       logits    F32 [B, T, V]        step 0 at the initial parameters
                       loss, loss_ce, loss_aux  F32 [1]  (loss = loss_ce + aux_loss_weight * loss_aux;
                                            loss_aux: mean over sequences of the MoE layers' summed aux)
                       grad.NAME F32                 d loss / d NAME for step 0's batch at the initial parameters
                       loss_trace, lr_trace, grad_norm_trace F32 [steps]  (loss before the update, the lr used,
                                            the global gradient norm before clipping)
                       final.NAME F32                 every parameter after the steps (AdamW, clipping, schedule)

Variants: moe_mha (GQA + RoPE + MoE softmax/norm_topk/shared/aux loss), moe_mla (MLA with q LoRA + MoE, norm_topk off),
dense_alibi_swa (ALiBi + sliding window + dense SwiGLU), xl_gqa_swa (GQA + RoPE + sliding window + XL memory of 8 keys:
its extra xl.logits, xl.loss, xl.grad.NAME are the second segment's, after a first one filled the memory; the trace's
batches continue the same streams, step after step).

Checks made on the way (the script fails if one does not hold):
  - the model's forward equals a slow per-token loop implementation written separately below (1e-10)
  - torch.autograd.gradcheck (float64) of the loss w.r.t. every parameter on tiny configs of each feature
  - the schedule equals torch's CosineAnnealingWarmRestarts after the warmup
  - routing is decisive: at every forward of the trace, the K-th and (K+1)-th selection scores of every
    token differ by >= 1e-3 (else the init is reseeded)
  - moe_mha: grad_accum 2 x micro_batch 1 on the same rows gives the same trace as micro_batch 2

Deterministic: rerunning writes the same files. Usage: python3 tests/ref/gen_train_ref.py
(needs torch, safetensors)"""
import copy
import json
import math
import os
import sys
import time

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_model import ModelConfig, TrainModel, alibi_slopes, lr_at, make_optimizer, train_steps  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "train")
MIN_GAP = 1e-3

OPTIM = {"lr": 1e-2, "min_lr": 1e-3, "warmup": 2, "schedule": "cosine_restarts", "T_0": 3, "T_mult": 2,
         "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "clip": 1.0, "micro_batch": 2,
         "seq_len": 12, "grad_accum": 1, "steps": 10, "precision": "fp32", "seed": 1}
BASE = {"n_layer": 2, "dim": 32, "n_head": 4, "ctx": 16, "vocab": 64, "rope_base": 10000.0, "rms_eps": 1e-5,
        "sliding_window": 0, "xl_memory": 0}
MOE = {"ffn": "moe", "n_expert": 8, "n_expert_used": 2, "n_shared_expert": 1, "expert_dim": 16, "n_dense_lead": 1,
       "ff_dim": 48, "balance": "aux_loss", "aux_loss_weight": 0.01}
VARIANTS = {
    "moe_mha": {**BASE, "n_kv_head": 2, "attention": "mha", "position": "rope", **MOE, "gating": "softmax",
                "norm_topk": True},
    "moe_mla": {**BASE, "n_kv_head": 4, "attention": "mla", "kv_lora_rank": 16, "q_lora_rank": 12, "qk_nope_dim": 8, "qk_rope_dim": 4,
                "v_head_dim": 8, "position": "rope", **MOE, "gating": "softmax", "norm_topk": False},
    "dense_alibi_swa": {**BASE, "n_kv_head": 4, "attention": "mha", "position": "alibi", "sliding_window": 5,
                        "ffn": "dense", "ff_dim": 48},
    "xl_gqa_swa": {**BASE, "n_kv_head": 2, "attention": "mha", "position": "rope", "sliding_window": 10, "xl_memory": 8,
                   "ffn": "dense", "ff_dim": 48},
}
SEED0 = {"moe_mha": 1000, "moe_mla": 2000, "dense_alibi_swa": 3000, "xl_gqa_swa": 4000}


# -- a second, deliberately slow implementation: per sequence, per token, per head loops ----------------
def naive_forward(c, W, inp, tgt):
    """logits [B, T, V], ce, aux (unweighted) from plain loops over SPEC.md's formulas."""
    B, T = inp.shape
    D, H, V = c.dim, c.n_head, c.vocab

    def rms(v, w):
        return v / math.sqrt(float((v * v).mean()) + c.rms_eps) * w

    def rot(v, t):
        d, out = v.shape[0], v.clone()
        for i in range(d // 2):
            th = t * c.rope_base ** (-2.0 * i / d)
            co, si = math.cos(th), math.sin(th)
            out[2 * i] = v[2 * i] * co - v[2 * i + 1] * si
            out[2 * i + 1] = v[2 * i] * si + v[2 * i + 1] * co
        return out

    def mlp(x, wg, wu, wd):
        a = wg @ x
        return wd @ (a / (1 + torch.exp(-a)) * (wu @ x))

    slopes = alibi_slopes(H)
    logits = torch.zeros(B, T, V, dtype=torch.float64)
    aux_total = 0.0
    for b in range(B):
        xs = [W["token_embd.weight"][int(inp[b, t])].clone() for t in range(T)]
        for il in range(c.n_layer):
            p = f"blk.{il}."
            hs = [rms(x, W[p + "attn_norm.weight"]) for x in xs]
            qs, ks, vs = [], [], []
            if c.attention == "mha":
                hd, G = c.head_dim, H // c.n_kv_head
                for t, h in enumerate(hs):
                    q = (W[p + "attn_q.weight"] @ h).view(H, hd)
                    k = (W[p + "attn_k.weight"] @ h).view(c.n_kv_head, hd)
                    v = (W[p + "attn_v.weight"] @ h).view(c.n_kv_head, hd)
                    if c.position == "rope":
                        q = torch.stack([rot(q[j], t) for j in range(H)])
                        k = torch.stack([rot(k[j], t) for j in range(c.n_kv_head)])
                    qs.append(q)
                    ks.append(torch.stack([k[j // G] for j in range(H)]))
                    vs.append(torch.stack([v[j // G] for j in range(H)]))
                scale = 1 / math.sqrt(hd)
            else:
                dn, dr, dv, cr = c.qk_nope_dim, c.qk_rope_dim, c.v_head_dim, c.kv_lora_rank
                for t, h in enumerate(hs):
                    if c.q_lora_rank:
                        q = (W[p + "attn_q_b.weight"] @ rms(W[p + "attn_q_a.weight"] @ h, W[p + "attn_q_a_norm.weight"])).view(H, dn + dr)
                    else:
                        q = (W[p + "attn_q.weight"] @ h).view(H, dn + dr)
                    kva = W[p + "attn_kv_a_mqa.weight"] @ h
                    ckv = rms(kva[:cr], W[p + "attn_kv_a_norm.weight"])
                    kpe = rot(kva[cr:], t)
                    kv = (W[p + "attn_kv_b.weight"] @ ckv).view(H, dn + dv)
                    qs.append(torch.stack([torch.cat([q[j, :dn], rot(q[j, dn:], t)]) for j in range(H)]))
                    ks.append(torch.stack([torch.cat([kv[j, :dn], kpe]) for j in range(H)]))
                    vs.append(torch.stack([kv[j, dn:] for j in range(H)]))
                scale = 1 / math.sqrt(dn + dr)
            new = []
            for i in range(T):
                heads = []
                for j in range(H):
                    js = [jj for jj in range(i + 1) if c.sliding_window == 0 or jj > i - c.sliding_window]
                    sc = []
                    for jj in js:
                        s_ = float(qs[i][j] @ ks[jj][j]) * scale
                        if c.position == "alibi":
                            s_ -= slopes[j] * (i - jj)
                        sc.append(s_)
                    m = max(sc)
                    e = [math.exp(v - m) for v in sc]
                    z = sum(e)
                    heads.append(sum((e[n] / z) * vs[jj][j] for n, jj in enumerate(js)))
                new.append(xs[i] + W[p + "attn_output.weight"] @ torch.cat(heads))
            xs = new
            h2s = [rms(x, W[p + "ffn_norm.weight"]) for x in xs]
            if c.is_moe_layer(il):
                E, K = c.n_expert, c.n_expert_used
                counts, probs = [0] * E, []
                for t, h in enumerate(h2s):
                    r = W[p + "ffn_gate_inp.weight"] @ h
                    if c.gating == "softmax":
                        s = torch.exp(r - r.max())
                        s = s / s.sum()
                    else:
                        s = 1 / (1 + torch.exp(-r))
                    sel = []
                    for _ in range(K):  # K passes of an argmax, strict > keeps the lower index on ties
                        best = None
                        for e in range(E):
                            if e not in sel and (best is None or float(s[e]) > float(s[best])):
                                best = e
                        sel.append(best)
                    g = [s[e] for e in sel]
                    if c.norm_topk:
                        tot = sum(g)
                        g = [x / tot for x in g]
                    y = sum(g[k] * mlp(h, W[p + "ffn_gate_exps.weight"][e], W[p + "ffn_up_exps.weight"][e],
                                       W[p + "ffn_down_exps.weight"][e]) for k, e in enumerate(sel))
                    if c.n_shared_expert:
                        y = y + mlp(h, W[p + "ffn_gate_shexp.weight"], W[p + "ffn_up_shexp.weight"],
                                    W[p + "ffn_down_shexp.weight"])
                    xs[t] = xs[t] + y
                    for e in sel:
                        counts[e] += 1
                    probs.append(s / s.sum())
                f = [E / (K * T) * counts[e] for e in range(E)]
                P_ = [sum(float(pr[e]) for pr in probs) / T for e in range(E)]
                aux_total += sum(f[e] * P_[e] for e in range(E))
            else:
                for t, h in enumerate(h2s):
                    xs[t] = xs[t] + mlp(h, W[p + "ffn_gate.weight"], W[p + "ffn_up.weight"], W[p + "ffn_down.weight"])
        for t in range(T):
            logits[b, t] = W["output.weight"] @ rms(xs[t], W["output_norm.weight"])
    lse = torch.logsumexp(logits, -1)
    ce = float((lse - logits.gather(-1, tgt[..., None])[..., 0]).mean())
    return logits, ce, aux_total / B


# -- checks -------------------------------------------------------------------------------------------
def check_schedule():
    o = dict(OPTIM, steps=60, T_0=5, T_mult=2, warmup=4)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=o["lr"])
    sch = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=o["T_0"], T_mult=o["T_mult"], eta_min=o["min_lr"])
    for s in range(o["warmup"], o["steps"]):
        got = lr_at(o, s)
        assert abs(got - opt.param_groups[0]["lr"]) < 1e-15, (s, got, opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    for s in range(o["warmup"]):
        assert abs(lr_at(o, s) - o["lr"] * (s + 1) / o["warmup"]) < 1e-18


def check_alibi():
    def press(n):  # the ALiBi authors' get_slopes (ofirpress/attention_with_linear_biases)
        def p2(n):
            start = 2 ** (-2 ** -(math.log2(n) - 3))
            return [start * start ** i for i in range(n)]
        if math.log2(n).is_integer():
            return p2(n)
        c = 2 ** math.floor(math.log2(n))
        return p2(c) + press(2 * c)[0::2][: n - c]
    for h in (1, 2, 3, 4, 5, 6, 8, 12, 16, 20, 32):
        assert max(abs(a - b) for a, b in zip(alibi_slopes(h), press(h))) < 1e-15, h


GRADCHECK_CFGS = {
    "gqa_rope_moe_softmax_normtopk": dict(n_layer=2, dim=8, n_head=4, n_kv_head=2, vocab=11, attention="mha",
                                          position="rope", ffn="moe", n_expert=4, n_expert_used=2, n_shared_expert=1,
                                          expert_dim=4, n_dense_lead=1, ff_dim=6, gating="softmax", norm_topk=True,
                                          balance="aux_loss", aux_loss_weight=0.1),
    "mla_moe_sigmoid": dict(n_layer=1, dim=8, n_head=2, vocab=11, attention="mla", kv_lora_rank=4, q_lora_rank=3, qk_nope_dim=2,
                            qk_rope_dim=2, v_head_dim=3, position="rope", ffn="moe", n_expert=4, n_expert_used=2,
                            n_shared_expert=1, expert_dim=4, n_dense_lead=0, gating="sigmoid", norm_topk=True,
                            balance="aux_loss", aux_loss_weight=0.1),
    "alibi3_swa_dense": dict(n_layer=1, dim=6, n_head=3, vocab=11, attention="mha", position="alibi",
                             sliding_window=3, ffn="dense", ff_dim=5),
    "xl3_gqa_rope_swa_dense": dict(n_layer=2, dim=8, n_head=4, n_kv_head=2, vocab=11, attention="mha", position="rope",
                                   sliding_window=5, xl_memory=3, ffn="dense", ff_dim=6),
}


def gradcheck_all():
    from torch.func import functional_call
    times = {}
    for name, m in GRADCHECK_CFGS.items():
        t0 = time.time()
        c = ModelConfig.from_json(dict(m, ctx=8))
        model = TrainModel(c, dtype=torch.float64)
        g = torch.Generator().manual_seed(7)
        model.init_random(g, router_scale=3.0)
        tok = torch.randint(0, c.vocab, (2, 7), generator=g)
        names = [n for n, _ in model.trained_parameters()]
        keys = ["w." + TrainModel._key(n) for n in names]
        params = tuple(model.P(n).detach().clone().requires_grad_(True) for n in names)
        saved = None
        if c.xl_memory:  # a fixed memory (from another segment at the base parameters) for every call
            with torch.no_grad():
                model(torch.randint(0, c.vocab, (2, 6), generator=g))
            saved = model.xl_state

        def f(*ps):
            model.xl_state = saved
            return functional_call(model, dict(zip(keys, ps)), (tok[:, :-1], tok[:, 1:]))["loss"]
        full = name == "alibi3_swa_dense"  # full Jacobian where cheap, random projections elsewhere
        assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=not full)
        times[name] = (sum(p.numel() for p in params), "full" if full else "fast", time.time() - t0)
    return times


def sel_gaps(score_log, K):
    """Smallest difference between the K-th and (K+1)-th largest selection score over all logged tokens."""
    gaps = [(s.sort(-1, descending=True).values[:, K - 1] - s.sort(-1, descending=True).values[:, K]).min().item()
            for s in score_log]
    return min(gaps) if gaps else math.inf


def build(cfg_json, seed):
    c = ModelConfig.from_json(cfg_json)
    model = TrainModel(c, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    model.init_random(g, router_scale=2.0)
    with torch.no_grad():  # the stored F32 values are the exact starting point of the float64 run
        for _, p in model.gguf_parameters():
            p.copy_(p.to(torch.float32).to(torch.float64))
    B = OPTIM["micro_batch"] * OPTIM["grad_accum"]
    tokens = torch.randint(0, c.vocab, (OPTIM["steps"], B, OPTIM["seq_len"] + 1), generator=g)
    return model, tokens


def run_variant(name, cfg_json):
    t0 = time.time()
    for attempt in range(500):
        seed = SEED0[name] + attempt
        model, tokens = build(cfg_json, seed)
        c = model.cfg
        init = {n: p.detach().clone() for n, p in model.gguf_parameters()}
        model.score_log = []
        # step 0 at the initial parameters
        out = model(tokens[0, :, :-1], tokens[0, :, 1:])
        out["loss"].backward()
        grads = {n: p.grad.detach().clone() for n, p in model.trained_parameters()}
        model.zero_grad(set_to_none=True)
        xl = None
        if c.xl_memory:  # the second segment of each stream, with the first one's memory
            model.xl_reset()
            with torch.no_grad():
                model(tokens[0, :, :-1])
            xo = model(tokens[1, :, :-1], tokens[1, :, 1:])
            xo["loss"].backward()
            xl = (xo, {n: p.grad.detach().clone() for n, p in model.trained_parameters()})
            model.zero_grad(set_to_none=True)
            model.xl_reset()
        # the trace
        opt = make_optimizer(model, OPTIM)
        losses, lrs, norms = train_steps(model, opt, OPTIM, list(tokens))
        gap = sel_gaps(model.score_log, c.n_expert_used) if c.ffn == "moe" else math.inf
        model.score_log = None
        if gap >= MIN_GAP:
            break
    else:
        raise SystemExit(f"{name}: no seed with decisive routing")
    final = {n: p.detach().clone() for n, p in model.gguf_parameters()}
    assert abs(losses[0] - out["loss"].item()) < 1e-12

    # the slow implementation agrees with the model
    nl, nce, naux = naive_forward(c, init, tokens[0, :, :-1], tokens[0, :, 1:])
    d_naive = max((nl - out["logits"].detach()).abs().max().item(), abs(nce - out["loss_ce"].item()),
                  abs(naux - out["loss_aux"].item()))
    assert d_naive < 1e-10, (name, d_naive)

    # gradient accumulation: 2 micro-batches of 1 row == 1 micro-batch of 2 rows
    d_acc = None
    if name == "moe_mha":
        o2 = dict(OPTIM, micro_batch=1, grad_accum=2)
        m2 = TrainModel(c, dtype=torch.float64)
        m2.load_gguf_state(init)
        m2.score_log = []
        l2, r2, n2 = train_steps(m2, make_optimizer(m2, o2), o2, list(tokens))
        assert sel_gaps(m2.score_log, c.n_expert_used) >= MIN_GAP
        d_acc = max(max(abs(a - b) for a, b in zip(losses, l2)), max(abs(a - b) for a, b in zip(norms, n2)),
                    max((final[n] - p.detach()).abs().max().item() for n, p in m2.gguf_parameters()))
        assert r2 == lrs
        assert d_acc < 1e-12, d_acc

    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    config = {"model": cfg_json, "data": {"train": ["ref.safetensors"]}, "optim": OPTIM,
              "run": {"out": f"runs/train_ref_{name}", "eval_every": 0, "ckpt_every": 0, "log_every": 1,
                      "threads": 1}}
    with open(os.path.join(d, "config.json"), "w") as fh:
        json.dump(config, fh, indent=1)
        fh.write("\n")
    f32 = lambda t: t.detach().to(torch.float32).contiguous()  # noqa: E731
    meta = {"generator": f"tests/ref/gen_train_ref.py (init seed {seed})"}  # one key: a map has no fixed order
    save_file({n: f32(t) for n, t in init.items()}, os.path.join(d, "params.safetensors"), metadata=meta)
    ref = {"tokens": tokens.to(torch.int32).contiguous(), "logits": f32(out["logits"]),
           "loss": f32(out["loss"].reshape(1)), "loss_ce": f32(out["loss_ce"].reshape(1)),
           "loss_aux": f32(out["loss_aux"].reshape(1)),
           "loss_trace": torch.tensor(losses, dtype=torch.float32), "lr_trace": torch.tensor(lrs, dtype=torch.float32),
           "grad_norm_trace": torch.tensor(norms, dtype=torch.float32)}
    ref.update({"grad." + n: f32(g) for n, g in grads.items()})
    if xl:
        ref.update({"xl.logits": f32(xl[0]["logits"]), "xl.loss": f32(xl[0]["loss"].reshape(1))})
        ref.update({"xl.grad." + n: f32(g) for n, g in xl[1].items()})
    ref.update({"final." + n: f32(t) for n, t in final.items()})
    save_file(ref, os.path.join(d, "ref.safetensors"), metadata=meta)

    sizes = {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))}
    n_params = sum(t.numel() for t in init.values())
    print(f"{name}: seed {seed} (attempt {attempt}), {n_params} params, {time.time() - t0:.1f} s")
    print(f"  step 0: loss {out['loss'].item():.6f} = ce {out['loss_ce'].item():.6f} + "
          f"{c.aux_loss_weight if c.ffn == 'moe' else 0} * aux {out['loss_aux'].item():.6f}")
    print(f"  loss_trace {' '.join(f'{v:.4f}' for v in losses)}")
    print(f"  lr_trace   {' '.join(f'{v:.5f}' for v in lrs)}")
    print(f"  grad_norm  {' '.join(f'{v:.4f}' for v in norms)}")
    print(f"  min routing gap (K-th vs K+1-th score, all forwards) {gap:.3g}; naive-loop forward max diff {d_naive:.2g}"
          + (f"; grad_accum 2x1 vs 1x2 max diff {d_acc:.2g}" if d_acc is not None else ""))
    print("  files: " + ", ".join(f"{f} {s / 1024:.1f} KiB" for f, s in sizes.items()))


def main():
    torch.set_num_threads(1)
    t0 = time.time()
    check_schedule()
    check_alibi()
    print("schedule == CosineAnnealingWarmRestarts after warmup; ALiBi slopes == Press et al. get_slopes: ok")
    gt = gradcheck_all()
    print("gradcheck (float64): " + ", ".join(f"{k} ({n} params, {m}, {t:.1f} s)" for k, (n, m, t) in gt.items()))
    for name, cfg in VARIANTS.items():
        run_variant(name, copy.deepcopy(cfg))
    print(f"total {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
