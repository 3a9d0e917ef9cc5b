/* Forward and backward of the trainable model over one micro-batch (SPEC.md, step by step).
 * The forward keeps what the backward needs in seek_tstate; the backward reads as the forward
 * in reverse and adds into tm->g. Matrix products go through lin_forward / lin_backward, which
 * apply bf16 / fp8 rounding to the operands of the block GEMMs when asked.
 * Not for the optimizer or the data (trainer.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "kernels/grad.h"
#include "train/tmodel.h"
#include "kernels/gemm.h"

typedef struct {
    float *x;                     /* (BT, D) the layer's input (residual stream) */
    float *h, *rstd;              /* (BT, D) attn-normed input, (BT) its 1/rms */
    float *q, *k, *v;             /* (BT, H*dk), (B*(M+T), Hkv*dk), (B*(M+T), Hkv*dv); q and k after RoPE */
    float *kva, *ckv, *ckv_rstd;  /* MLA: (BT, c+dr), (BT, c), (BT) */
    float *qa_raw, *qa, *qa_rstd; /* MLA q LoRA: (BT, r), normed (BT, r), (BT) */
    float *p;                     /* (B, H, T, M+T) attention probabilities */
    float *o;                     /* (BT, H*dv) attention output before Wo */
    float *x2;                    /* (BT, D) after the attention residual */
    float *h2, *rstd2;            /* (BT, D), (BT) ffn-normed */
    float *fg, *fu, *fa;          /* dense: (BT, ff) gate, up, silu(gate)*up */
    float *probs;                 /* MoE: (BT, E) router scores s */
    int32_t *sel;                 /* (BT, K) chosen experts */
    float *gw;                    /* (BT, K) their weights */
    int32_t *slot;                /* (BT*K) row of (t, k) in the expert-sorted buffers */
    int32_t *tok_of;              /* (BT*K) token of each sorted row */
    int32_t *e_off;               /* (E+1) first sorted row of each expert */
    float *xe, *eg, *eu, *ea, *ey; /* (BT*K, D), (BT*K, F) x3, (BT*K, D) */
    float *sg, *su, *sa;          /* shared experts: (BT, S*F) */
} tcache;

struct seek_tstate {
    int32_t B, T;
    int64_t BT;
    int32_t *pos;         /* (BT) position of each row */
    /* Transformer-XL segment memory (SPEC.md "XL memory"): M rows of the previous segment's keys
     * and values (before RoPE) per sequence and layer, attended to but not differentiated */
    int32_t M;
    int32_t *qpos, *kpos; /* (BT) query positions M+t; (B*(M+T)) key positions 0..M+T-1 */
    float *mem;           /* (n_layer, 2, B, M, Hkv*hd) keys then values */
    int64_t mem_floats;
    int32_t *mlen;        /* (B) valid memory rows for the next forward */
    int32_t *mlen_fw;     /* (B) valid memory rows of the last forward (its backward reads them) */
    float *kcur, *vcur;   /* (BT, Hkv*hd) this segment's keys and values */
    int32_t *tokens, *targets;
    bool has_targets;
    tcache *L;
    float *xf, *yf, *rstdf; /* final residual, normed, 1/rms */
    float *logits;          /* (BT, V) */
    /* backward scratch */
    float *dx, *dh, *dq, *dk, *dv, *dqa, *dkva, *dckv, *dkv, *dwide, *dwide2, *dwide3, *dxe, *dey, *dr;
    float *kpe;             /* MLA: (BT, dr) roped shared key */
    float *dgw;             /* (BT, K) gradient of the expert weights */
    int32_t *e_count;       /* (E + 1) routing counts */
    float *attn_scratch;    /* (threads, T, Tk) attention backward: dS of one head */
    float *rb_a, *rb_b;     /* rounded operands (bf16 / fp8) */
    int64_t *load;          /* (n_moe, E) tokens per expert since the last reset */
    int n_moe;
    int64_t E;
    float *f_aux;           /* (n_moe, B, E) the aux loss's f_e per layer and sequence */
    void **allocs;          /* every buffer above, freed together */
    int n_allocs, cap_allocs;
    bool oom;
};

/* A zeroed, 64-byte aligned buffer owned by s (freed by seek_tstate_free). */
static void *zalloc(seek_tstate *s, size_t n) {
    if (!n || s->oom) return NULL;
    if (s->n_allocs == s->cap_allocs) {
        int cap = s->cap_allocs ? 2 * s->cap_allocs : 64;
        void **a = realloc(s->allocs, (size_t)cap * sizeof *a);
        if (!a) {
            s->oom = true;
            return NULL;
        }
        s->allocs = a;
        s->cap_allocs = cap;
    }
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) {
        s->oom = true;
        return NULL;
    }
    memset(p, 0, n);
    return s->allocs[s->n_allocs++] = p;
}
#define FL(n) ((size_t)(n) * sizeof(float))

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

seek_status seek_tstate_new(seek_tstate **out, const seek_tmodel *tm, int32_t B, int32_t T) {
    const seek_tmodel_cfg *c = &tm->cfg;
    seek_tstate *s = calloc(1, sizeof *s);
    if (!s) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    const int64_t BT = (int64_t)B * T, D = c->dim, H = c->n_head, E = c->n_expert, K = c->n_expert_used;
    const int64_t F = c->expert_dim, SF = (int64_t)c->n_shared_expert * F, Hkv = c->n_kv_head;
    const bool mla = c->attention == TATT_MLA;
    const int64_t cl = c->kv_lora_rank, dr = c->qk_rope_dim, dn = c->qk_nope_dim;
    s->B = B;
    s->T = T;
    s->E = E;
    s->BT = BT;
    const int64_t M = c->xl_memory, Tk = M + T, kvd = Hkv * tm->hd;
    s->M = (int32_t)M;
    if (M) {
        s->qpos = zalloc(s, BT * sizeof(int32_t));
        s->kpos = zalloc(s, (int64_t)B * Tk * sizeof(int32_t));
        s->mem_floats = (int64_t)c->n_layer * 2 * B * M * kvd;
        s->mem = zalloc(s, FL(s->mem_floats));
        s->mlen = zalloc(s, B * sizeof(int32_t));
        s->mlen_fw = zalloc(s, B * sizeof(int32_t));
        s->kcur = zalloc(s, FL(BT * kvd));
        s->vcur = zalloc(s, FL(BT * kvd));
        for (int64_t r = 0; r < BT && s->qpos; r++) s->qpos[r] = (int32_t)(M + r % T);
        for (int64_t r = 0; r < (int64_t)B * Tk && s->kpos; r++) s->kpos[r] = (int32_t)(r % Tk);
    }
    s->pos = zalloc(s, BT * sizeof(int32_t));
    s->tokens = zalloc(s, BT * sizeof(int32_t));
    s->targets = zalloc(s, BT * sizeof(int32_t));
    s->L = calloc((size_t)c->n_layer, sizeof *s->L);
    if (!s->L) s->oom = true;
    int64_t widest = max64(D, max64(H * tm->dk, H * tm->dv));
    for (int il = 0; il < c->n_layer && !s->oom; il++) {
        tcache *L = &s->L[il];
        const seek_tlayer *ly = &tm->layers[il];
        L->x = zalloc(s, FL(BT * D));
        L->h = zalloc(s, FL(BT * D));
        L->rstd = zalloc(s, FL(BT));
        L->q = zalloc(s, FL(BT * H * tm->dk));
        L->k = zalloc(s, FL((int64_t)B * Tk * (mla ? H : Hkv) * tm->dk));
        L->v = zalloc(s, FL((int64_t)B * Tk * (mla ? H : Hkv) * tm->dv));
        if (mla) {
            L->kva = zalloc(s, FL(BT * (cl + dr)));
            L->ckv = zalloc(s, FL(BT * cl));
            L->ckv_rstd = zalloc(s, FL(BT));
            if (c->q_lora_rank) {
                L->qa_raw = zalloc(s, FL(BT * c->q_lora_rank));
                L->qa = zalloc(s, FL(BT * c->q_lora_rank));
                L->qa_rstd = zalloc(s, FL(BT));
                widest = max64(widest, c->q_lora_rank);
            }
            widest = max64(widest, max64(cl + dr, H * (dn + c->v_head_dim)));
        }
        L->p = zalloc(s, FL((int64_t)B * H * T * Tk));
        L->o = zalloc(s, FL(BT * H * tm->dv));
        L->x2 = zalloc(s, FL(BT * D));
        L->h2 = zalloc(s, FL(BT * D));
        L->rstd2 = zalloc(s, FL(BT));
        if (ly->moe) {
            L->probs = zalloc(s, FL(BT * E));
            L->sel = zalloc(s, BT * K * sizeof(int32_t));
            L->gw = zalloc(s, FL(BT * K));
            L->slot = zalloc(s, BT * K * sizeof(int32_t));
            L->tok_of = zalloc(s, BT * K * sizeof(int32_t));
            L->e_off = zalloc(s, (E + 1) * sizeof(int32_t));
            L->xe = zalloc(s, FL(BT * K * D));
            L->eg = zalloc(s, FL(BT * K * F));
            L->eu = zalloc(s, FL(BT * K * F));
            L->ea = zalloc(s, FL(BT * K * F));
            L->ey = zalloc(s, FL(BT * K * D));
            if (SF) {
                L->sg = zalloc(s, FL(BT * SF));
                L->su = zalloc(s, FL(BT * SF));
                L->sa = zalloc(s, FL(BT * SF));
            }
            widest = max64(widest, max64(E, max64(F, SF)));
            s->n_moe++;
        } else {
            L->fg = zalloc(s, FL(BT * c->ff_dim));
            L->fu = zalloc(s, FL(BT * c->ff_dim));
            L->fa = zalloc(s, FL(BT * c->ff_dim));
            widest = max64(widest, c->ff_dim);
        }
    }
    s->xf = zalloc(s, FL(BT * D));
    s->yf = zalloc(s, FL(BT * D));
    s->rstdf = zalloc(s, FL(BT));
    s->logits = zalloc(s, FL(BT * c->vocab));
    s->dx = zalloc(s, FL(BT * D));
    s->dh = zalloc(s, FL(BT * D));
    s->dq = zalloc(s, FL(BT * H * tm->dk));
    s->dk = zalloc(s, FL((int64_t)B * Tk * H * tm->dk));
    s->dv = zalloc(s, FL((int64_t)B * Tk * H * tm->dv));
    if (mla) {
        s->dkva = zalloc(s, FL(BT * (cl + dr)));
        s->dqa = zalloc(s, FL(BT * (c->q_lora_rank + 1)));
        s->dckv = zalloc(s, FL(BT * cl));
        s->dkv = zalloc(s, FL(BT * H * (dn + c->v_head_dim)));
        s->kpe = zalloc(s, FL(BT * dr));
    }
    s->dwide = zalloc(s, FL(BT * widest));
    s->dwide2 = zalloc(s, FL(BT * widest));
    s->dwide3 = zalloc(s, FL(BT * widest));
    if (c->moe) {
        s->dxe = zalloc(s, FL(BT * D));
        s->dey = zalloc(s, FL(BT * D));
        s->dr = zalloc(s, FL(BT * E));
        s->dgw = zalloc(s, FL(BT * K));
        s->e_count = zalloc(s, (E + 1) * sizeof(int32_t));
    }
    /* rounded GEMM operands, sized for any precision (it may be switched after this) */
    s->attn_scratch = zalloc(s, FL((int64_t)(tm->pool ? seek_pool_size(tm->pool) : 1) * T * Tk));
    s->rb_a = zalloc(s, FL(BT * widest));
    s->rb_b = zalloc(s, FL(BT * widest));
    s->load = zalloc(s, (size_t)(s->n_moe ? s->n_moe : 1) * (size_t)(E ? E : 1) * sizeof(int64_t));
    s->f_aux = zalloc(s, FL((int64_t)(s->n_moe ? s->n_moe : 1) * B * (E ? E : 1)));
    for (int64_t r = 0; r < BT && s->pos; r++) s->pos[r] = (int32_t)(r % T);
    *out = s;
    if (s->oom) {
        seek_tstate_free(s);
        *out = NULL;
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory for the activations of %d x %d tokens", B, T);
    }
    return SEEK_OK;
}

void seek_tstate_xl_reset(seek_tstate *s) {
    if (s->M) memset(s->mlen, 0, (size_t)s->B * sizeof(int32_t));
}

float *seek_tstate_xl_memory(seek_tstate *s, int64_t *n_floats, int32_t **mlen) {
    if (!s->M) {
        *n_floats = 0;
        *mlen = NULL;
        return NULL;
    }
    *n_floats = s->mem_floats;
    *mlen = s->mlen;
    return s->mem;
}

void seek_tstate_free(seek_tstate *s) {
    if (!s) return;
    for (int i = 0; i < s->n_allocs; i++) free(s->allocs[i]);
    free(s->allocs);
    free(s->L);
    free(s);
}

const int64_t *seek_tstate_load(const seek_tstate *s, int *n_moe_layers) {
    *n_moe_layers = s->n_moe;
    return s->load;
}
void seek_tstate_reset_load(seek_tstate *s) { memset(s->load, 0, sizeof(int64_t) * (size_t)s->n_moe * (size_t)s->E); }
const float *seek_tstate_logits(const seek_tstate *s) { return s->logits; }

#define G(p) (tm->g + ((p) - tm->w)) /* the gradient of a parameter pointer */

/* operand of a block GEMM in the model's precision: x itself (fp32) or a rounded copy in buf */
static const float *lowp(const seek_tmodel *tm, float *buf, const float *x, int64_t n, int64_t d) {
    if (tm->prec == TPREC_FP32) return x;
    if (tm->prec == TPREC_BF16) round_bf16(buf, x, n * d);
    else
        for (int64_t r = 0; r < n; r++) round_fp8_e4m3(buf + r * d, x + r * d, d, 128);
    return buf;
}
static const float *lowp_w(const seek_tmodel *tm, const float *W) { return tm->prec == TPREC_FP32 ? W : tm->wlow + (W - tm->w); }

/* out (n, o) = beta * out + in (n, i) W (o, i)^T; low: in the model's precision */
static void lin_forward(seek_tmodel *tm, seek_tstate *s, float *out, float beta, const float *in, const float *W, int64_t n,
                        int64_t i, int64_t o, bool low) {
    if (low) {
        in = lowp(tm, s->rb_a, in, n, i);
        W = lowp_w(tm, W);
    }
    seek_gemm_f32(tm->pool, false, true, n, o, i, in, i, W, i, beta, out, o);
}

/* dW (o, i) += dout^T in;  din (n, i) = din_beta * din + dout W (din may be NULL) */
static void lin_backward(seek_tmodel *tm, seek_tstate *s, float *din, float din_beta, float *dW, const float *dout,
                         const float *in, const float *W, int64_t n, int64_t i, int64_t o, bool low) {
    if (low) {
        dout = lowp(tm, s->rb_b, dout, n, o);
        in = lowp(tm, s->rb_a, in, n, i);
        W = lowp_w(tm, W);
    }
    seek_gemm_f32(tm->pool, true, false, o, i, n, dout, o, in, i, 1.0f, dW, i);
    if (din) seek_gemm_f32(tm->pool, false, false, n, i, o, dout, o, W, i, din_beta, din, i);
}

/* element-wise and row-wise ops split over the pool (their results do not depend on the split) */
typedef struct {
    float *a, *b, *c;
    const float *x, *y, *z, *w;
    int64_t sy, sx, d;
    float eps;
} par_args;
static void swiglu_fwd_range(int64_t lo, int64_t hi, void *arg) {
    const par_args *p = arg;
    swiglu_forward(p->a + lo, p->x + lo, p->y + lo, hi - lo);
}
static void swiglu_bwd_range(int64_t lo, int64_t hi, void *arg) {
    const par_args *p = arg;
    swiglu_backward(p->a + lo, p->b + lo, p->x + lo, p->y + lo, p->z + lo, hi - lo);
}
static void rmsnorm_fwd_range(int64_t lo, int64_t hi, void *arg) {
    const par_args *p = arg;
    rmsnorm_forward(p->a + lo * p->sy, p->sy, p->b + lo, p->x + lo * p->sx, p->sx, p->w, hi - lo, p->d, p->eps);
}
static void par_swiglu_forward(seek_pool *pool, float *a, const float *g, const float *u, int64_t n) {
    par_args p = {.a = a, .x = g, .y = u};
    seek_pool_for(pool, n, 1 << 14, swiglu_fwd_range, &p);
}
static void par_swiglu_backward(seek_pool *pool, float *dg, float *du, const float *da, const float *g, const float *u, int64_t n) {
    par_args p = {.a = dg, .b = du, .x = da, .y = g, .z = u};
    seek_pool_for(pool, n, 1 << 14, swiglu_bwd_range, &p);
}
static void par_rmsnorm_forward(seek_pool *pool, float *y, int64_t sy, float *rstd, const float *x, int64_t sx, const float *w, int64_t n,
                                int64_t d, float eps) {
    par_args p = {.a = y, .b = rstd, .x = x, .w = w, .sy = sy, .sx = sx, .d = d, .eps = eps};
    seek_pool_for(pool, n, 64, rmsnorm_fwd_range, &p);
}

static attn_dims attn_shape(const seek_tmodel *tm, const seek_tstate *s) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const bool mla = c->attention == TATT_MLA;
    const int64_t H = c->n_head, Hkv = mla ? H : c->n_kv_head;
    return (attn_dims){.B = s->B, .T = s->T, .H = H, .Hkv = Hkv, .dk = tm->dk, .dv = tm->dv, .sq = H * tm->dk,
                       .sk = Hkv * tm->dk, .sv = Hkv * tm->dv, .scale = 1.0f / sqrtf((float)tm->dk),
                       .slopes = c->position == TPOS_ALIBI ? tm->alibi : NULL, .window = c->sliding_window, .M = s->M,
                       .mlen = s->M ? s->mlen_fw : NULL};
}

/* XL: k, v rows of each sequence = [its memory ; this segment's], and the memory for the next
 * segment = the last M of those rows (still before RoPE) */
static void xl_keys(seek_tstate *s, int il, tcache *L, int64_t kvd) {
    const int64_t B = s->B, T = s->T, M = s->M, Tk = M + T;
    float *mk = s->mem + (int64_t)il * 2 * B * M * kvd, *mv = mk + B * M * kvd;
    for (int64_t b = 0; b < B; b++) {
        memcpy(L->k + b * Tk * kvd, mk + b * M * kvd, FL(M * kvd));
        memcpy(L->v + b * Tk * kvd, mv + b * M * kvd, FL(M * kvd));
        memcpy(L->k + (b * Tk + M) * kvd, s->kcur + b * T * kvd, FL(T * kvd));
        memcpy(L->v + (b * Tk + M) * kvd, s->vcur + b * T * kvd, FL(T * kvd));
        memcpy(mk + b * M * kvd, L->k + (b * Tk + T) * kvd, FL(M * kvd));
        memcpy(mv + b * M * kvd, L->v + (b * Tk + T) * kvd, FL(M * kvd));
    }
}

/* attention sub-block: L->x -> L->x2 */
static void attn_forward(seek_tmodel *tm, seek_tstate *s, const seek_tlayer *ly, tcache *L) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, D = c->dim, H = c->n_head;
    par_rmsnorm_forward(tm->pool, L->h, D, L->rstd, L->x, D, ly->attn_norm, BT, D, c->rms_eps);
    if (ly->wq_a) { /* q = W_qb rmsnorm(W_qa h) */
        const int64_t r = c->q_lora_rank;
        lin_forward(tm, s, L->qa_raw, 0, L->h, ly->wq_a, BT, D, r, true);
        par_rmsnorm_forward(tm->pool, L->qa, r, L->qa_rstd, L->qa_raw, r, ly->q_a_norm, BT, r, c->rms_eps);
        lin_forward(tm, s, L->q, 0, L->qa, ly->wq_b, BT, r, H * tm->dk, true);
    } else {
        lin_forward(tm, s, L->q, 0, L->h, ly->wq, BT, D, H * tm->dk, true);
    }
    if (c->attention == TATT_MHA && s->M) {
        const int64_t kvd = c->n_kv_head * tm->hd;
        lin_forward(tm, s, s->kcur, 0, L->h, ly->wk, BT, D, kvd, true);
        lin_forward(tm, s, s->vcur, 0, L->h, ly->wv, BT, D, kvd, true);
        xl_keys(s, (int)(L - s->L), L, kvd);
        if (c->position == TPOS_ROPE) {
            rope_apply(L->q, H * tm->hd, BT, H, tm->hd, 0, tm->hd, s->qpos, tm->rope_cos, tm->rope_sin, false);
            rope_apply(L->k, kvd, (int64_t)s->B * (s->M + s->T), c->n_kv_head, tm->hd, 0, tm->hd, s->kpos, tm->rope_cos,
                       tm->rope_sin, false);
        }
    } else if (c->attention == TATT_MHA) {
        const int64_t kvd = c->n_kv_head * tm->hd;
        lin_forward(tm, s, L->k, 0, L->h, ly->wk, BT, D, kvd, true);
        lin_forward(tm, s, L->v, 0, L->h, ly->wv, BT, D, kvd, true);
        if (c->position == TPOS_ROPE) {
            rope_apply(L->q, H * tm->hd, BT, H, tm->hd, 0, tm->hd, s->pos, tm->rope_cos, tm->rope_sin, false);
            rope_apply(L->k, kvd, BT, c->n_kv_head, tm->hd, 0, tm->hd, s->pos, tm->rope_cos, tm->rope_sin, false);
        }
    } else { /* MLA: one latent and one roped key shared by all heads, expanded per head here */
        const int64_t cl = c->kv_lora_rank, dr = c->qk_rope_dim, dn = c->qk_nope_dim, dv = c->v_head_dim;
        lin_forward(tm, s, L->kva, 0, L->h, ly->wkv_a, BT, D, cl + dr, true);
        par_rmsnorm_forward(tm->pool, L->ckv, cl, L->ckv_rstd, L->kva, cl + dr, ly->kv_a_norm, BT, cl, c->rms_eps);
        float *kv = s->dkv; /* (BT, H*(dn+dv)) scratch: the forward only needs it to fill k and v */
        lin_forward(tm, s, kv, 0, L->ckv, ly->wkv_b, BT, cl, H * (dn + dv), true);
        rope_apply(L->q, H * tm->dk, BT, H, tm->dk, dn, dr, s->pos, tm->rope_cos, tm->rope_sin, false);
        for (int64_t r = 0; r < BT; r++) memcpy(s->kpe + r * dr, L->kva + r * (cl + dr) + cl, FL(dr));
        rope_apply(s->kpe, dr, BT, 1, dr, 0, dr, s->pos, tm->rope_cos, tm->rope_sin, false);
        for (int64_t r = 0; r < BT; r++)
            for (int64_t h = 0; h < H; h++) {
                float *kr = L->k + (r * H + h) * tm->dk;
                memcpy(kr, kv + r * H * (dn + dv) + h * (dn + dv), FL(dn));
                memcpy(kr + dn, s->kpe + r * dr, FL(dr));
                memcpy(L->v + (r * H + h) * dv, kv + r * H * (dn + dv) + h * (dn + dv) + dn, FL(dv));
            }
    }
    const attn_dims a = attn_shape(tm, s);
    attention_forward(tm->pool, L->o, L->p, L->q, L->k, L->v, &a);
    memcpy(L->x2, L->x, FL(BT * D));
    lin_forward(tm, s, L->x2, 1, L->o, ly->wo, BT, H * tm->dv, D, true);
}

/* SwiGLU MLP on n rows: y (n, D) = beta*y + Wd (silu(Wg x) * Wu x); g, u, a (n, F) kept */
static void mlp_forward(seek_tmodel *tm, seek_tstate *s, float *y, float beta, const float *x, const float *Wg, const float *Wu,
                        const float *Wd, float *g, float *u, float *a, int64_t n, int64_t F) {
    const int64_t D = tm->cfg.dim;
    lin_forward(tm, s, g, 0, x, Wg, n, D, F, true);
    lin_forward(tm, s, u, 0, x, Wu, n, D, F, true);
    par_swiglu_forward(tm->pool, a, g, u, n * F);
    lin_forward(tm, s, y, beta, a, Wd, n, F, D, true);
}

/* backward of mlp_forward given dy (n, D): dx = (or +=, dx_beta) the input gradient */
static void mlp_backward(seek_tmodel *tm, seek_tstate *s, float *dx, float dx_beta, const float *dy, const float *x,
                         const float *Wg, const float *Wu, const float *Wd, const float *g, const float *u, const float *a,
                         int64_t n, int64_t F) {
    const int64_t D = tm->cfg.dim;
    float *da = s->dwide, *dg = s->dwide2, *du = s->dwide3;
    lin_backward(tm, s, da, 0, G(Wd), dy, a, Wd, n, F, D, true);
    memset(dg, 0, FL(n * F));
    memset(du, 0, FL(n * F));
    par_swiglu_backward(tm->pool, dg, du, da, g, u, n * F);
    lin_backward(tm, s, dx, dx_beta, G(Wg), dg, x, Wg, n, D, F, true);
    lin_backward(tm, s, dx, 1, G(Wu), du, x, Wu, n, D, F, true);
}

/* MoE routing for every token: scores, top-K (with the aux-free bias), weights, and the rows
 * sorted by expert (counting sort, stable in token order). */
static void moe_route(seek_tmodel *tm, seek_tstate *s, const seek_tlayer *ly, tcache *L, int moe_idx) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, E = c->n_expert, K = c->n_expert_used;
    /* the router stays fp32 */
    lin_forward(tm, s, L->probs, 0, L->h2, ly->router, BT, c->dim, E, false);
    int32_t *count = s->e_count;
    memset(count, 0, (size_t)(E + 1) * sizeof *count);
    for (int64_t t = 0; t < BT; t++) {
        float *sr = L->probs + t * E;
        if (c->gating_sigmoid) {
            for (int64_t e = 0; e < E; e++) sr[e] = 1.0f / (1.0f + expf(-sr[e]));
        } else {
            float mx = -INFINITY, sum = 0;
            for (int64_t e = 0; e < E; e++) mx = sr[e] > mx ? sr[e] : mx;
            for (int64_t e = 0; e < E; e++) sum += sr[e] = expf(sr[e] - mx);
            for (int64_t e = 0; e < E; e++) sr[e] /= sum;
        }
        int32_t *sel = L->sel + t * K;
        float *gw = L->gw + t * K;
        float gsum = 0;
        for (int64_t k = 0; k < K; k++) { /* K passes of an argmax: K is small */
            int32_t best = -1;
            float bv = -INFINITY;
            for (int32_t e = 0; e < E; e++) {
                bool taken = false;
                for (int64_t j = 0; j < k; j++) taken |= sel[j] == e;
                const float v = sr[e] + (ly->exp_bias ? ly->exp_bias[e] : 0.0f);
                if (!taken && (best < 0 || v > bv)) best = e, bv = v;
            }
            sel[k] = best;
            gw[k] = sr[best];
            gsum += gw[k];
            count[best]++;
        }
        if (c->norm_topk)
            for (int64_t k = 0; k < K; k++) gw[k] /= gsum;
    }
    L->e_off[0] = 0;
    for (int64_t e = 0; e < E; e++) {
        L->e_off[e + 1] = L->e_off[e] + count[e];
        s->load[moe_idx * E + e] += count[e];
        count[e] = L->e_off[e];
    }
    for (int64_t t = 0; t < BT; t++)
        for (int64_t k = 0; k < K; k++) {
            const int32_t e = L->sel[t * K + k], row = count[e]++;
            L->slot[t * K + k] = row;
            L->tok_of[row] = (int32_t)t;
        }
}

/* the sequence-wise balance loss of one layer: sum over sequences of sum_e f_e P_e */
static double moe_aux(seek_tmodel *tm, seek_tstate *s, tcache *L, int moe_idx) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t E = c->n_expert, K = c->n_expert_used, T = s->T;
    double total = 0;
    for (int64_t b = 0; b < s->B; b++) {
        float *f = s->f_aux + ((int64_t)moe_idx * s->B + b) * E;
        memset(f, 0, FL(E));
        for (int64_t t = b * T; t < (b + 1) * T; t++)
            for (int64_t k = 0; k < K; k++) f[L->sel[t * K + k]] += 1.0f;
        for (int64_t e = 0; e < E; e++) f[e] *= (float)E / (float)(K * T);
        for (int64_t t = b * T; t < (b + 1) * T; t++) {
            const float *sr = L->probs + t * E;
            double sum = 0, dot = 0;
            for (int64_t e = 0; e < E; e++) sum += sr[e];
            for (int64_t e = 0; e < E; e++) dot += (double)f[e] * sr[e] / sum;
            total += dot / (double)T;
        }
    }
    return total;
}

static double moe_forward(seek_tmodel *tm, seek_tstate *s, const seek_tlayer *ly, tcache *L, float *y, int moe_idx) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, D = c->dim, E = c->n_expert, K = c->n_expert_used, F = c->expert_dim;
    moe_route(tm, s, ly, L, moe_idx);
    for (int64_t row = 0; row < BT * K; row++) memcpy(L->xe + row * D, L->h2 + (int64_t)L->tok_of[row] * D, FL(D));
    for (int64_t e = 0; e < E; e++) {
        const int64_t r0 = L->e_off[e], n = L->e_off[e + 1] - r0;
        if (!n) continue;
        mlp_forward(tm, s, L->ey + r0 * D, 0, L->xe + r0 * D, ly->gate_exps + e * F * D, ly->up_exps + e * F * D,
                    ly->down_exps + e * D * F, L->eg + r0 * F, L->eu + r0 * F, L->ea + r0 * F, n, F);
    }
    if (ly->gate_sh)
        mlp_forward(tm, s, y, 1, L->h2, ly->gate_sh, ly->up_sh, ly->down_sh, L->sg, L->su, L->sa, BT,
                    (int64_t)c->n_shared_expert * F);
    for (int64_t t = 0; t < BT; t++)
        for (int64_t k = 0; k < K; k++) {
            const float g = L->gw[t * K + k], *er = L->ey + (int64_t)L->slot[t * K + k] * D;
            float *yr = y + t * D;
            for (int64_t i = 0; i < D; i++) yr[i] += g * er[i];
        }
    return c->balance == TBAL_AUX_LOSS ? moe_aux(tm, s, L, moe_idx) : 0.0;
}

seek_status seek_tmodel_forward(seek_tmodel *tm, seek_tstate *s, const int32_t *tokens, const int32_t *targets, seek_tloss *loss) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, D = c->dim, V = c->vocab;
    for (int64_t r = 0; r < BT; r++) {
        if (tokens[r] < 0 || tokens[r] >= V || (targets && (targets[r] < 0 || targets[r] >= V)))
            return seek_errorf(SEEK_ERR_INVALID, "token id out of range [0, %lld)", (long long)V);
        s->tokens[r] = tokens[r];
        s->targets[r] = targets ? targets[r] : 0;
    }
    s->has_targets = targets != NULL;
    if (s->M) memcpy(s->mlen_fw, s->mlen, (size_t)s->B * sizeof(int32_t));
    for (int64_t r = 0; r < BT; r++) memcpy(s->L[0].x + r * D, tm->embd + (int64_t)tokens[r] * D, FL(D));
    double aux = 0;
    int moe_idx = 0;
    for (int il = 0; il < c->n_layer; il++) {
        const seek_tlayer *ly = &tm->layers[il];
        tcache *L = &s->L[il];
        float *next = il + 1 < c->n_layer ? s->L[il + 1].x : s->xf;
        attn_forward(tm, s, ly, L);
        par_rmsnorm_forward(tm->pool, L->h2, D, L->rstd2, L->x2, D, ly->ffn_norm, BT, D, c->rms_eps);
        memcpy(next, L->x2, FL(BT * D));
        if (ly->moe) aux += moe_forward(tm, s, ly, L, next, moe_idx++);
        else mlp_forward(tm, s, next, 1, L->h2, ly->w_gate, ly->w_up, ly->w_down, L->fg, L->fu, L->fa, BT, c->ff_dim);
    }
    for (int32_t b = 0; b < s->B && s->M; b++) s->mlen[b] = s->mlen[b] + s->T < s->M ? s->mlen[b] + s->T : s->M;
    par_rmsnorm_forward(tm->pool, s->yf, D, s->rstdf, s->xf, D, tm->out_norm, BT, D, c->rms_eps);
    lin_forward(tm, s, s->logits, 0, s->yf, tm->out, BT, D, V, false);
    if (loss) {
        loss->aux = aux / (double)s->B;
        loss->ce = targets ? softmax_xent(tm->pool, s->logits, s->targets, BT, V, 1.0f, false) / (double)BT : 0;
        loss->loss = loss->ce + (double)c->aux_loss_weight * loss->aux;
    }
    return SEEK_OK;
}

/* d(scale * alpha * mean_b aux)/ds and the weights' gradient dgw, through norm_topk, into dr */
static void moe_router_backward(seek_tmodel *tm, seek_tstate *s, tcache *L, const float *dgw, float scale, int moe_idx) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, E = c->n_expert, K = c->n_expert_used, T = s->T;
    const bool aux = c->balance == TBAL_AUX_LOSS;
    const double aux_c = (double)scale * c->aux_loss_weight / (double)s->B / (double)T;
    float ds[4096];
    for (int64_t t = 0; t < BT; t++) {
        const float *sr = L->probs + t * E, *gw = L->gw + t * K, *dg = dgw + t * K;
        const int32_t *sel = L->sel + t * K;
        memset(ds, 0, FL(E));
        if (c->norm_topk) { /* g_k = s_k / sum: ds_j = (dg_j - sum_k dg_k g_k) / sum */
            double sum = 0, dot = 0;
            for (int64_t k = 0; k < K; k++) sum += sr[sel[k]], dot += (double)dg[k] * gw[k];
            for (int64_t k = 0; k < K; k++) ds[sel[k]] += (float)((dg[k] - dot) / sum);
        } else {
            for (int64_t k = 0; k < K; k++) ds[sel[k]] += dg[k];
        }
        if (aux) { /* p = s / sum(s): ds_e += (dp_e - sum_j dp_j p_j) / sum(s), dp_e = aux_c * f_e */
            const float *f = s->f_aux + ((int64_t)moe_idx * s->B + t / T) * E;
            double sum = 0, dot = 0;
            for (int64_t e = 0; e < E; e++) sum += sr[e];
            for (int64_t e = 0; e < E; e++) dot += aux_c * f[e] * sr[e] / sum;
            for (int64_t e = 0; e < E; e++) ds[e] += (float)((aux_c * f[e] - dot) / sum);
        }
        float *dr = s->dr + t * E;
        if (c->gating_sigmoid) {
            for (int64_t e = 0; e < E; e++) dr[e] = ds[e] * sr[e] * (1.0f - sr[e]);
        } else {
            double dot = 0;
            for (int64_t e = 0; e < E; e++) dot += (double)sr[e] * ds[e];
            for (int64_t e = 0; e < E; e++) dr[e] = sr[e] * (ds[e] - (float)dot);
        }
    }
}

/* MoE backward: dy (BT, D) -> s->dh = dh2 */
static void moe_backward(seek_tmodel *tm, seek_tstate *s, const seek_tlayer *ly, tcache *L, const float *dy, float scale, int moe_idx) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, D = c->dim, E = c->n_expert, K = c->n_expert_used, F = c->expert_dim;
    float *dh2 = s->dh;
    memset(dh2, 0, FL(BT * D));
    if (ly->gate_sh)
        mlp_backward(tm, s, dh2, 1, dy, L->h2, ly->gate_sh, ly->up_sh, ly->down_sh, L->sg, L->su, L->sa, BT,
                     (int64_t)c->n_shared_expert * F);
    float *dgw = s->dgw;
    for (int64_t t = 0; t < BT; t++)
        for (int64_t k = 0; k < K; k++) {
            const float *er = L->ey + (int64_t)L->slot[t * K + k] * D, *dyr = dy + t * D;
            double d = 0;
            for (int64_t i = 0; i < D; i++) d += (double)dyr[i] * er[i];
            dgw[t * K + k] = (float)d;
        }
    for (int64_t e = 0; e < E; e++) {
        const int64_t r0 = L->e_off[e], n = L->e_off[e + 1] - r0;
        if (!n) continue;
        for (int64_t j = 0; j < n; j++) { /* dey = g * dy of the row's token */
            const int64_t t = L->tok_of[r0 + j];
            float g = 0;
            for (int64_t k = 0; k < K; k++)
                if (L->slot[t * K + k] == r0 + j) g = L->gw[t * K + k];
            const float *dyr = dy + t * D;
            float *o = s->dey + j * D;
            for (int64_t i = 0; i < D; i++) o[i] = g * dyr[i];
        }
        mlp_backward(tm, s, s->dxe, 0, s->dey, L->xe + r0 * D, ly->gate_exps + e * F * D, ly->up_exps + e * F * D,
                     ly->down_exps + e * D * F, L->eg + r0 * F, L->eu + r0 * F, L->ea + r0 * F, n, F);
        for (int64_t j = 0; j < n; j++) {
            float *o = dh2 + (int64_t)L->tok_of[r0 + j] * D;
            const float *d = s->dxe + j * D;
            for (int64_t i = 0; i < D; i++) o[i] += d[i];
        }
    }
    moe_router_backward(tm, s, L, dgw, scale, moe_idx);
    lin_backward(tm, s, dh2, 1, G(ly->router), s->dr, L->h2, ly->router, BT, D, E, false);
}

/* attention sub-block backward: s->dx holds d/dx2 on entry and d/dx on return */
static void attn_backward(seek_tmodel *tm, seek_tstate *s, const seek_tlayer *ly, tcache *L) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, D = c->dim, H = c->n_head;
    float *dout = s->dwide;
    lin_backward(tm, s, dout, 0, G(ly->wo), s->dx, L->o, ly->wo, BT, H * tm->dv, D, true);
    const attn_dims a = attn_shape(tm, s);
    const int64_t BTk = (int64_t)s->B * (s->M + s->T);
    memset(s->dq, 0, FL(BT * a.sq));
    memset(s->dk, 0, FL(BTk * a.sk));
    memset(s->dv, 0, FL(BTk * a.sv));
    attention_backward(tm->pool, s->dq, s->dk, s->dv, s->attn_scratch, dout, L->p, L->q, L->k, L->v, &a);
    float *dh = s->dh;
    if (c->attention == TATT_MHA && s->M) { /* the memory rows' gradients stop here */
        const int64_t kvd = c->n_kv_head * tm->hd, T = s->T, Tk = s->M + T;
        if (c->position == TPOS_ROPE) {
            rope_apply(s->dq, H * tm->hd, BT, H, tm->hd, 0, tm->hd, s->qpos, tm->rope_cos, tm->rope_sin, true);
            rope_apply(s->dk, kvd, BTk, c->n_kv_head, tm->hd, 0, tm->hd, s->kpos, tm->rope_cos, tm->rope_sin, true);
        }
        for (int64_t b = 0; b < s->B; b++) {
            memcpy(s->kcur + b * T * kvd, s->dk + (b * Tk + s->M) * kvd, FL(T * kvd));
            memcpy(s->vcur + b * T * kvd, s->dv + (b * Tk + s->M) * kvd, FL(T * kvd));
        }
        lin_backward(tm, s, dh, 0, G(ly->wq), s->dq, L->h, ly->wq, BT, D, H * tm->hd, true);
        lin_backward(tm, s, dh, 1, G(ly->wk), s->kcur, L->h, ly->wk, BT, D, kvd, true);
        lin_backward(tm, s, dh, 1, G(ly->wv), s->vcur, L->h, ly->wv, BT, D, kvd, true);
    } else if (c->attention == TATT_MHA) {
        const int64_t kvd = c->n_kv_head * tm->hd;
        if (c->position == TPOS_ROPE) {
            rope_apply(s->dq, H * tm->hd, BT, H, tm->hd, 0, tm->hd, s->pos, tm->rope_cos, tm->rope_sin, true);
            rope_apply(s->dk, kvd, BT, c->n_kv_head, tm->hd, 0, tm->hd, s->pos, tm->rope_cos, tm->rope_sin, true);
        }
        lin_backward(tm, s, dh, 0, G(ly->wq), s->dq, L->h, ly->wq, BT, D, H * tm->hd, true);
        lin_backward(tm, s, dh, 1, G(ly->wk), s->dk, L->h, ly->wk, BT, D, kvd, true);
        lin_backward(tm, s, dh, 1, G(ly->wv), s->dv, L->h, ly->wv, BT, D, kvd, true);
    } else {
        const int64_t cl = c->kv_lora_rank, dr = c->qk_rope_dim, dn = c->qk_nope_dim, dv = c->v_head_dim;
        rope_apply(s->dq, H * tm->dk, BT, H, tm->dk, dn, dr, s->pos, tm->rope_cos, tm->rope_sin, true);
        if (ly->wq_a) {
            const int64_t r = c->q_lora_rank;
            float *dqn = s->dwide2; /* d/d rmsnorm(W_qa h) */
            lin_backward(tm, s, dqn, 0, G(ly->wq_b), s->dq, L->qa, ly->wq_b, BT, r, H * tm->dk, true);
            memset(s->dqa, 0, FL(BT * r));
            rmsnorm_backward(s->dqa, r, G(ly->q_a_norm), dqn, r, L->qa_raw, r, ly->q_a_norm, L->qa_rstd, BT, r);
            lin_backward(tm, s, dh, 0, G(ly->wq_a), s->dqa, L->h, ly->wq_a, BT, D, r, true);
        } else {
            lin_backward(tm, s, dh, 0, G(ly->wq), s->dq, L->h, ly->wq, BT, D, H * tm->dk, true);
        }
        memset(s->kpe, 0, FL(BT * dr));
        for (int64_t r = 0; r < BT; r++)
            for (int64_t h = 0; h < H; h++) {
                const float *dkr = s->dk + (r * H + h) * tm->dk;
                float *dkv = s->dkv + r * H * (dn + dv) + h * (dn + dv), *dpe = s->kpe + r * dr;
                memcpy(dkv, dkr, FL(dn));
                memcpy(dkv + dn, s->dv + (r * H + h) * dv, FL(dv));
                for (int64_t i = 0; i < dr; i++) dpe[i] += dkr[dn + i];
            }
        rope_apply(s->kpe, dr, BT, 1, dr, 0, dr, s->pos, tm->rope_cos, tm->rope_sin, true);
        lin_backward(tm, s, s->dckv, 0, G(ly->wkv_b), s->dkv, L->ckv, ly->wkv_b, BT, cl, H * (dn + dv), true);
        memset(s->dkva, 0, FL(BT * (cl + dr)));
        rmsnorm_backward(s->dkva, cl + dr, G(ly->kv_a_norm), s->dckv, cl, L->kva, cl + dr, ly->kv_a_norm, L->ckv_rstd, BT, cl);
        for (int64_t r = 0; r < BT; r++) memcpy(s->dkva + r * (cl + dr) + cl, s->kpe + r * dr, FL(dr));
        lin_backward(tm, s, dh, 1, G(ly->wkv_a), s->dkva, L->h, ly->wkv_a, BT, D, cl + dr, true);
    }
    rmsnorm_backward(s->dx, D, G(ly->attn_norm), dh, D, L->x, D, ly->attn_norm, L->rstd, BT, D);
}

void seek_tmodel_backward(seek_tmodel *tm, seek_tstate *s, float scale) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t BT = s->BT, D = c->dim, V = c->vocab;
    /* logits are recomputed from the kept ones: softmax_xent turns them into their gradient */
    softmax_xent(tm->pool, s->logits, s->targets, BT, V, scale, true);
    lin_backward(tm, s, s->dh, 0, G(tm->out), s->logits, s->yf, tm->out, BT, D, V, false);
    memset(s->dx, 0, FL(BT * D));
    rmsnorm_backward(s->dx, D, G(tm->out_norm), s->dh, D, s->xf, D, tm->out_norm, s->rstdf, BT, D);
    int moe_idx = s->n_moe;
    for (int il = c->n_layer - 1; il >= 0; il--) {
        const seek_tlayer *ly = &tm->layers[il];
        tcache *L = &s->L[il];
        /* ffn: next = x2 + ffn(rmsnorm(x2)); dx carries d/dnext = d/dx2 through the residual */
        if (ly->moe) {
            moe_backward(tm, s, ly, L, s->dx, scale, --moe_idx);
        } else {
            mlp_backward(tm, s, s->dh, 0, s->dx, L->h2, ly->w_gate, ly->w_up, ly->w_down, L->fg, L->fu, L->fa, BT, c->ff_dim);
        }
        rmsnorm_backward(s->dx, D, G(ly->ffn_norm), s->dh, D, L->x2, D, ly->ffn_norm, L->rstd2, BT, D);
        attn_backward(tm, s, ly, L);
    }
    float *dE = G(tm->embd);
    for (int64_t r = 0; r < BT; r++) {
        float *o = dE + (int64_t)s->tokens[r] * D;
        const float *d = s->dx + r * D;
        for (int64_t i = 0; i < D; i++) o[i] += d[i];
    }
}
