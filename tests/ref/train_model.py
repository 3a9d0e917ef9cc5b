"""The PyTorch reference of seek's trainable model (src/train/SPEC.md), written independently of the
C trainer the ordinary PyTorch way: explicit parameters under their GGUF names, F.scaled_dot_product_attention,
Meta-llama-style complex RoPE on adjacent pairs, a loop over experts with index_select / index_add_,
torch.optim.AdamW and torch.nn.utils.clip_grad_norm_.

Used by tests/ref/gen_train_ref.py (float64 references) and bench/train_compare.py (float32 speed).

    cfg = ModelConfig.from_json(json.load(open("config.json"))["model"])
    model = TrainModel(cfg, dtype=torch.float64)
    out = model(inputs, targets)            # inputs / targets: int64 [B, T]
    out["loss"].backward()                  # out: logits, loss, loss_ce, loss_aux, load
    opt = make_optimizer(model, optim_cfg)  # AdamW, decay on tensors with 2+ dims
    trace = train_steps(model, opt, optim_cfg, batches)
"""
import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


def sdpa(q, k, v, mask):
    """softmax(q k^T / sqrt(d) + mask) v, causal when mask is None (an additive mask otherwise).
    F.scaled_dot_product_attention where PyTorch has it (2.0 on); PyTorch 1.x (which
    bench/train_compare.py can time too) gets the same math written out."""
    if hasattr(F, "scaled_dot_product_attention"):
        if mask is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is None:
        T, S = s.shape[-2], s.shape[-1]
        causal = torch.ones(T, S, dtype=torch.bool, device=s.device).tril(S - T)
        s = s.masked_fill(~causal, float("-inf"))
    else:
        s = s + mask
    return torch.softmax(s, dim=-1) @ v


@dataclass
class ModelConfig:
    n_layer: int = 4
    dim: int = 256
    n_head: int = 8
    n_kv_head: int = 0  # 0: = n_head
    ctx: int = 256
    vocab: int = 4096
    attention: str = "mha"  # "mha" | "mla"
    kv_lora_rank: int = 0  # MLA sizes, 0: SPEC.md's defaults from head_dim
    q_lora_rank: int = 0  # MLA: 0 = one q projection, else q = W_qb rmsnorm(W_qa h)
    qk_nope_dim: int = 0
    qk_rope_dim: int = 0
    v_head_dim: int = 0
    position: str = "rope"  # "rope" | "alibi"
    rope_base: float = 10000.0
    rms_eps: float = 1e-5
    sliding_window: int = 0
    xl_memory: int = 0
    ffn: str = "moe"  # "dense" | "moe"
    ff_dim: int = 0  # 0: 4 * dim
    n_expert: int = 16
    n_expert_used: int = 2
    n_shared_expert: int = 1
    expert_dim: int = 256
    n_dense_lead: int = 1
    gating: str = "softmax"  # "softmax" | "sigmoid"
    norm_topk: bool = False
    balance: str = "aux_loss"  # "aux_loss" | "aux_free" | "none"
    aux_loss_weight: float = 0.001
    bias_update_rate: float = 0.001

    @classmethod
    def from_json(cls, model_section):
        known = {f.name for f in fields(cls)}
        unknown = set(model_section) - known
        if unknown:
            raise ValueError(f"unknown model fields: {sorted(unknown)}")
        c = cls(**model_section)
        c.finish()
        return c

    def finish(self):
        """SPEC.md's derived defaults."""
        if not self.n_kv_head:
            self.n_kv_head = self.n_head
        assert self.dim % self.n_head == 0
        self.head_dim = self.dim // self.n_head
        hd = self.head_dim
        if self.attention == "mla":
            self.qk_nope_dim = self.qk_nope_dim or hd
            self.qk_rope_dim = self.qk_rope_dim or hd // 2
            self.v_head_dim = self.v_head_dim or hd
            self.kv_lora_rank = self.kv_lora_rank or min(self.dim, 4 * hd)
            assert self.position == "rope" and self.sliding_window == 0
            self.n_kv_head = self.n_head
        else:
            assert self.n_head % self.n_kv_head == 0
        self.ff_dim = self.ff_dim or 4 * self.dim
        assert self.xl_memory == 0 or self.attention == "mha", "xl_memory needs attention mha"
        return self

    def is_moe_layer(self, il):
        return self.ffn == "moe" and il >= self.n_dense_lead


def param_shapes(c):
    """[(GGUF name, torch shape)] in a fixed order: every parameter of the model (incl. exp_probs_b.bias)."""
    D, H, V = c.dim, c.n_head, c.vocab
    out = [("token_embd.weight", (V, D))]
    for il in range(c.n_layer):
        p = f"blk.{il}."
        out.append((p + "attn_norm.weight", (D,)))
        if c.attention == "mha":
            hd, Hkv = c.head_dim, c.n_kv_head
            out += [(p + "attn_q.weight", (H * hd, D)), (p + "attn_k.weight", (Hkv * hd, D)),
                    (p + "attn_v.weight", (Hkv * hd, D)), (p + "attn_output.weight", (D, H * hd))]
        else:
            dn, dr, dv, cr, qr = c.qk_nope_dim, c.qk_rope_dim, c.v_head_dim, c.kv_lora_rank, c.q_lora_rank
            if qr:
                out += [(p + "attn_q_a.weight", (qr, D)), (p + "attn_q_a_norm.weight", (qr,)), (p + "attn_q_b.weight", (H * (dn + dr), qr))]
            else:
                out += [(p + "attn_q.weight", (H * (dn + dr), D))]
            out += [(p + "attn_kv_a_mqa.weight", (cr + dr, D)),
                    (p + "attn_kv_a_norm.weight", (cr,)), (p + "attn_kv_b.weight", (H * (dn + dv), cr)),
                    (p + "attn_output.weight", (D, H * dv))]
        out.append((p + "ffn_norm.weight", (D,)))
        if c.is_moe_layer(il):
            E, ef, S = c.n_expert, c.expert_dim, c.n_shared_expert
            out += [(p + "ffn_gate_inp.weight", (E, D)), (p + "ffn_gate_exps.weight", (E, ef, D)),
                    (p + "ffn_up_exps.weight", (E, ef, D)), (p + "ffn_down_exps.weight", (E, D, ef))]
            if S > 0:
                out += [(p + "ffn_gate_shexp.weight", (S * ef, D)), (p + "ffn_up_shexp.weight", (S * ef, D)),
                        (p + "ffn_down_shexp.weight", (D, S * ef))]
            if c.balance == "aux_free":
                out.append((p + "exp_probs_b.bias", (E,)))
        else:
            ff = c.ff_dim
            out += [(p + "ffn_gate.weight", (ff, D)), (p + "ffn_up.weight", (ff, D)), (p + "ffn_down.weight", (D, ff))]
    out += [("output_norm.weight", (D,)), ("output.weight", (V, D))]
    return out


def alibi_slopes(n_head):
    """Press et al.: n = largest power of 2 <= H, slopes 2^(-8(h+1)/n), then every other slope of the 2n sequence."""
    n = 2 ** int(math.floor(math.log2(n_head)))
    s = [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]
    s += [2.0 ** (-4.0 * (2 * m + 1) / n) for m in range(n_head - n)]
    return s


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, base):
    """NORM (adjacent pair) RoPE on the last dim of x [..., T, d] via complex multiplication (Meta llama)."""
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = pos.to(torch.float64)[:, None] * inv[None, :]  # [T, d/2]
    rot = torch.polar(torch.ones_like(ang), ang)
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
    rot = rot.to(xc.dtype)
    return torch.view_as_real(xc * rot).reshape(x.shape)


def swiglu(x, wg, wu, wd):
    return F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)


class TrainModel(nn.Module):
    def __init__(self, cfg, dtype=torch.float32):
        super().__init__()
        self.cfg = cfg
        self.names = []
        self.w = nn.ParameterDict()  # keys: GGUF names with '.' -> '__' (module keys cannot hold dots)
        for name, shape in param_shapes(cfg):
            self.names.append(name)
            trained = not name.endswith("exp_probs_b.bias")
            self.w[self._key(name)] = nn.Parameter(torch.zeros(shape, dtype=dtype), requires_grad=trained)
        self.register_buffer("slopes", torch.tensor(alibi_slopes(cfg.n_head), dtype=dtype), persistent=False)
        self.score_log = None  # a list: every MoE layer appends its selection scores [B*T, E] (tests)
        # XL memory (SPEC.md "XL memory"): per layer the last M keys and values (before RoPE, detached)
        # of the previous forward's sequences, and how many of them are valid per sequence
        self.xl_state = None

    def xl_reset(self):
        self.xl_state = None

    @staticmethod
    def _key(name):
        return name.replace(".", "__")

    def P(self, name):
        return self.w[self._key(name)]

    def gguf_parameters(self):
        """(GGUF name, parameter) for every tensor, SPEC.md's order."""
        return [(n, self.P(n)) for n in self.names]

    def trained_parameters(self):
        return [(n, p) for n, p in self.gguf_parameters() if p.requires_grad]

    @torch.no_grad()
    def load_gguf_state(self, tensors):
        for n in self.names:
            self.P(n).copy_(tensors[n].to(self.P(n).dtype))

    @torch.no_grad()
    def init_random(self, gen, router_scale=2.0, scale=1.0):
        """Test init: matrices N(0, scale/sqrt(fan_in)), norms 1 + N(0, 0.1), embeddings N(0, 1),
        router N(0, router_scale/sqrt(dim))."""
        for n, p in self.gguf_parameters():
            if n == "token_embd.weight":
                v = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            elif n.endswith("norm.weight"):
                v = 1 + 0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float64)
            elif n.endswith("exp_probs_b.bias"):
                v = torch.zeros(p.shape, dtype=torch.float64)
            else:
                std = (router_scale if n.endswith("ffn_gate_inp.weight") else scale) / math.sqrt(p.shape[-1])
                v = std * torch.randn(p.shape, generator=gen, dtype=torch.float64)
            p.copy_(v.to(p.dtype))

    # -- attention ----------------------------------------------------------------------------------
    def _mask(self, T, device, dtype):
        """Additive [H, T, T] (ALiBi) or [T, T] mask: causal, sliding window, ALiBi bias; None: plain causal."""
        c = self.cfg
        if c.position != "alibi" and c.sliding_window == 0:
            return None
        i = torch.arange(T, device=device)[:, None]
        j = torch.arange(T, device=device)[None, :]
        ok = j <= i
        if c.sliding_window > 0:
            ok = ok & (j > i - c.sliding_window)
        m = torch.zeros(T, T, dtype=dtype, device=device).masked_fill(~ok, float("-inf"))
        if c.position == "alibi":
            m = m - self.slopes.to(dtype)[:, None, None] * (i - j).to(dtype)
        return m

    def _xl_mask(self, B, T, M, mlen, device, dtype):
        """Additive [B, H, T, M+T] mask with M memory keys before each sequence's own: query i sits at key
        index M+i; memory key j is valid when j >= M - mlen[b]; window and ALiBi as in _mask."""
        c = self.cfg
        i = torch.arange(T, device=device)[:, None] + M
        j = torch.arange(M + T, device=device)[None, :]
        ok = (j <= i)[None] & (j[None] >= (M - mlen)[:, None, None])
        if c.sliding_window > 0:
            ok = ok & (j > i - c.sliding_window)[None]
        m = torch.zeros(B, 1, T, M + T, dtype=dtype, device=device).masked_fill(~ok[:, None], float("-inf"))
        if c.position == "alibi":
            m = m - self.slopes.to(dtype)[None, :, None, None] * (i - j).to(dtype)[None, None]
        return m

    def attn_mha(self, il, h, pos, mask, xl=None):
        """xl: (memory keys, memory values [B, Hkv, M, hd], key positions [M+T]); then returns
        (output, the next memory)."""
        c = self.cfg
        B, T, _ = h.shape
        p = f"blk.{il}."
        H, Hkv, hd = c.n_head, c.n_kv_head, c.head_dim
        q = F.linear(h, self.P(p + "attn_q.weight")).view(B, T, H, hd).transpose(1, 2)
        k = F.linear(h, self.P(p + "attn_k.weight")).view(B, T, Hkv, hd).transpose(1, 2)
        v = F.linear(h, self.P(p + "attn_v.weight")).view(B, T, Hkv, hd).transpose(1, 2)
        kpos, new_mem = pos, None
        if xl is not None:
            mk, mv, kpos = xl
            M = mk.shape[2]
            k, v = torch.cat([mk, k], dim=2), torch.cat([mv, v], dim=2)
            new_mem = (k[:, :, k.shape[2] - M:].detach(), v[:, :, v.shape[2] - M:].detach())
        if c.position == "rope":
            q, k = rope(q, pos, c.rope_base), rope(k, kpos, c.rope_base)
        if Hkv != H:  # query head j uses kv head j // (H / Hkv)
            k = k.repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
        if mask is None:
            o = sdpa(q, k, v, None)
        else:
            o = sdpa(q, k, v, mask)
        o = o.transpose(1, 2).reshape(B, T, H * hd)
        out = F.linear(o, self.P(p + "attn_output.weight"))
        return out if xl is None else (out, new_mem)

    def attn_mla(self, il, h, pos, mask):
        c = self.cfg
        B, T, _ = h.shape
        p = f"blk.{il}."
        H, dn, dr, dv, cr = c.n_head, c.qk_nope_dim, c.qk_rope_dim, c.v_head_dim, c.kv_lora_rank
        if c.q_lora_rank:
            qa = rmsnorm(F.linear(h, self.P(p + "attn_q_a.weight")), self.P(p + "attn_q_a_norm.weight"), c.rms_eps)
            q = F.linear(qa, self.P(p + "attn_q_b.weight"))
        else:
            q = F.linear(h, self.P(p + "attn_q.weight"))
        q = q.view(B, T, H, dn + dr).transpose(1, 2)
        q_nope, q_pe = q.split([dn, dr], dim=-1)
        kva = F.linear(h, self.P(p + "attn_kv_a_mqa.weight"))
        ckv, k_pe = kva.split([cr, dr], dim=-1)
        ckv = rmsnorm(ckv, self.P(p + "attn_kv_a_norm.weight"), c.rms_eps)
        kv = F.linear(ckv, self.P(p + "attn_kv_b.weight")).view(B, T, H, dn + dv).transpose(1, 2)
        k_nope, v = kv.split([dn, dv], dim=-1)
        q_pe = rope(q_pe, pos, c.rope_base)
        k_pe = rope(k_pe[:, None, :, :], pos, c.rope_base).expand(B, H, T, dr)  # one k_pe for all heads
        query = torch.cat([q_nope, q_pe], dim=-1)
        key = torch.cat([k_nope, k_pe], dim=-1)
        if mask is None:
            o = sdpa(query, key, v, None)  # scale 1/sqrt(dn+dr)
        else:
            o = sdpa(query, key, v, mask)
        o = o.transpose(1, 2).reshape(B, T, H * dv)
        return F.linear(o, self.P(p + "attn_output.weight"))

    # -- feed-forward -------------------------------------------------------------------------------
    def moe(self, il, h2):
        """Returns (ffn output [B, T, D], aux [B] (this layer's per-sequence aux), load [E] (tokens routed))."""
        c = self.cfg
        B, T, D = h2.shape
        p = f"blk.{il}."
        E, K = c.n_expert, c.n_expert_used
        x = h2.reshape(B * T, D)
        r = F.linear(x, self.P(p + "ffn_gate_inp.weight"))
        s = torch.softmax(r, dim=-1) if c.gating == "softmax" else torch.sigmoid(r)
        sel_score = s.detach()
        if c.balance == "aux_free":
            sel_score = sel_score + self.P(p + "exp_probs_b.bias")
        if self.score_log is not None:
            self.score_log.append(sel_score.clone())
        # top-K, ties to the lower index: a stable descending sort keeps index order among equals
        sel = torch.sort(sel_score, dim=-1, descending=True, stable=True).indices[:, :K]  # [N, K]
        g = s.gather(1, sel)
        if c.norm_topk:
            g = g / g.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        wg, wu, wd = self.P(p + "ffn_gate_exps.weight"), self.P(p + "ffn_up_exps.weight"), self.P(p + "ffn_down_exps.weight")
        for e in range(E):
            tok, slot = torch.nonzero(sel == e, as_tuple=True)
            if tok.numel() == 0:
                continue
            xe = x.index_select(0, tok)
            ye = swiglu(xe, wg[e], wu[e], wd[e]) * g[tok, slot].unsqueeze(-1)
            out = out.index_add(0, tok, ye)
        if c.n_shared_expert > 0:
            out = out + swiglu(x, self.P(p + "ffn_gate_shexp.weight"), self.P(p + "ffn_up_shexp.weight"),
                               self.P(p + "ffn_down_shexp.weight"))
        load = torch.bincount(sel.reshape(-1), minlength=E)
        aux = None
        if c.balance == "aux_loss":
            pn = (s / s.sum(-1, keepdim=True)).view(B, T, E)
            hit = F.one_hot(sel, E).sum(1).view(B, T, E).to(s.dtype)  # 1 where t's selection includes e
            f = (E / (K * T)) * hit.sum(1)  # [B, E], a constant
            P_ = pn.mean(1)  # [B, E]
            aux = (f.detach() * P_).sum(-1)  # [B]
        return out.view(B, T, D), aux, load

    def dense(self, il, h2):
        p = f"blk.{il}."
        return swiglu(h2, self.P(p + "ffn_gate.weight"), self.P(p + "ffn_up.weight"), self.P(p + "ffn_down.weight"))

    # -- the model ----------------------------------------------------------------------------------
    def forward(self, inputs, targets=None):
        c = self.cfg
        B, T = inputs.shape
        x = F.embedding(inputs, self.P("token_embd.weight"))
        pos = torch.arange(T, device=inputs.device)
        mask = self._mask(T, inputs.device, x.dtype)
        M = c.xl_memory
        if M:  # queries after the M memory positions; keys 0 .. M+T-1
            if self.xl_state is None or self.xl_state[1].shape[0] != B:
                zero = lambda: torch.zeros(B, c.n_kv_head, M, c.head_dim, dtype=x.dtype, device=x.device)  # noqa: E731
                self.xl_state = ([(zero(), zero()) for _ in range(c.n_layer)], torch.zeros(B, dtype=torch.long))
            mems, mlen = self.xl_state
            mask = self._xl_mask(B, T, M, mlen, inputs.device, x.dtype)
            kpos, pos, new_mems = torch.arange(M + T, device=inputs.device), M + pos, []
        aux_sum = torch.zeros(B, dtype=x.dtype, device=x.device)
        loads = []
        for il in range(c.n_layer):
            p = f"blk.{il}."
            h = rmsnorm(x, self.P(p + "attn_norm.weight"), c.rms_eps)
            if M:
                a, nm = self.attn_mha(il, h, pos, mask, xl=(mems[il][0], mems[il][1], kpos))
                new_mems.append(nm)
                x = x + a
            else:
                x = x + (self.attn_mha if c.attention == "mha" else self.attn_mla)(il, h, pos, mask)
            h2 = rmsnorm(x, self.P(p + "ffn_norm.weight"), c.rms_eps)
            if c.is_moe_layer(il):
                y, aux, load = self.moe(il, h2)
                loads.append(load)
                if aux is not None:
                    aux_sum = aux_sum + aux
            else:
                y = self.dense(il, h2)
            x = x + y
        if M:
            self.xl_state = (new_mems, torch.clamp(mlen + T, max=M))
        logits = F.linear(rmsnorm(x, self.P("output_norm.weight"), c.rms_eps), self.P("output.weight"))
        out = {"logits": logits, "load": loads}
        if targets is not None:
            ce = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
            aux = aux_sum.mean()  # mean over sequences of the MoE layers' sum
            w = c.aux_loss_weight if c.balance == "aux_loss" else 0.0
            out.update(loss=ce + w * aux, loss_ce=ce, loss_aux=aux)
        return out


# -- optimizer and schedule ------------------------------------------------------------------------
def lr_at(o, s):
    """SPEC.md's schedule for optimizer step s (0-based); o: the config's "optim" section (dict)."""
    lr, lo, warm = o["lr"], o.get("min_lr", 0.0), o.get("warmup", 0)
    if s < warm:
        return lr * (s + 1) / warm
    sched = o.get("schedule", "cosine_restarts")
    u = s - warm
    if sched == "constant":
        return lr
    if sched == "linear":
        span = o["steps"] - warm
        return lr if span <= 0 else lr + (lo - lr) * min(u, span) / span
    if sched == "cosine":
        span = o["steps"] - warm
        x = 0.0 if span <= 0 else min(u, span) / span
        return lo + (lr - lo) * (1 + math.cos(math.pi * x)) / 2
    assert sched == "cosine_restarts", sched
    Ti = o.get("T_0", 200)
    while u >= Ti:
        u -= Ti
        Ti *= o.get("T_mult", 2)
    return lo + (lr - lo) * (1 + math.cos(math.pi * u / Ti)) / 2


def make_optimizer(model, o):
    """torch AdamW with weight decay only on tensors of 2+ dims."""
    decay = [p for _, p in model.trained_parameters() if p.ndim >= 2]
    other = [p for _, p in model.trained_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": o.get("weight_decay", 0.1)}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=o["lr"], betas=(o.get("beta1", 0.9), o.get("beta2", 0.95)),
                             eps=o.get("eps", 1e-8), foreach=False)


def train_step(model, opt, o, step, tokens):
    """One optimizer step on tokens [grad_accum * micro_batch, T + 1] (micro-batch m: rows m*mb .. (m+1)*mb - 1).
    Returns (step loss (mean over micro-batches), lr, global grad norm before clipping)."""
    ga, mb = o.get("grad_accum", 1), o["micro_batch"]
    assert tokens.shape[0] == ga * mb
    lr = lr_at(o, step)
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=False)
    loss_sum = 0.0
    loads = None
    for m in range(ga):
        t = tokens[m * mb:(m + 1) * mb]
        out = model(t[:, :-1], t[:, 1:])
        (out["loss"] / ga).backward()
        loss_sum += out["loss"].item()
        ld = [l.to(torch.float64) for l in out["load"]]
        loads = ld if loads is None else [a + b for a, b in zip(loads, ld)]
    params = [p for _, p in model.trained_parameters()]
    clip = o.get("clip", 0.0)
    if clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(params, clip).item()
    else:
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params])).item()
    opt.step()
    c = model.cfg
    if c.ffn == "moe" and c.balance == "aux_free":  # b_e += gamma * sign(mean(load) - load_e)
        with torch.no_grad():
            il_moe = [il for il in range(c.n_layer) if c.is_moe_layer(il)]
            for il, load in zip(il_moe, loads):
                b = model.P(f"blk.{il}.exp_probs_b.bias")
                b += c.bias_update_rate * torch.sign(load.mean() - load).to(b.dtype)
    return loss_sum / ga, lr, norm


def train_steps(model, opt, o, batches, first_step=0):
    """Runs len(batches) optimizer steps; returns lists (losses, lrs, grad norms)."""
    losses, lrs, norms = [], [], []
    for i, tokens in enumerate(batches):
        l, lr, n = train_step(model, opt, o, first_step + i, tokens)
        losses.append(l)
        lrs.append(lr)
        norms.append(n)
    return losses, lrs, norms
