/* The trainable model's tensors: layout (GGUF names, torch shapes), random initialisation,
 * parameter counts, and the rounded copies bf16 / fp8 training multiplies with.
 * The forward and backward passes are in tforward.c. */
#include "train/tmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "train/data.h" /* seek_rng_next */
#include "kernels/grad.h"

typedef struct {
    seek_tmodel *tm;
    size_t n_floats;
    int cap;
} layout;

/* Adds a tensor and returns its offset (SIZE_MAX on allocation failure). */
static size_t add(layout *L, const char *name, int n_dims, int64_t d0, int64_t d1, int64_t d2, bool trained) {
    seek_tmodel *tm = L->tm;
    if (tm->n_params == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 64;
        seek_tparam *p = realloc(tm->params, (size_t)L->cap * sizeof *p);
        if (!p) return SIZE_MAX;
        tm->params = p;
    }
    seek_tparam *p = &tm->params[tm->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->n_dims = n_dims;
    p->shape[0] = d0;
    p->shape[1] = n_dims > 1 ? d1 : 1;
    p->shape[2] = n_dims > 2 ? d2 : 1;
    p->n = (size_t)(p->shape[0] * p->shape[1] * p->shape[2]);
    p->off = L->n_floats;
    p->decay = n_dims >= 2;
    p->trained = trained;
    L->n_floats += (p->n + 15) & ~(size_t)15; /* 64-byte aligned tensors */
    return p->off;
}

/* Offsets are recorded first and turned into pointers once w exists. */
#define OFF(ptr) ((float *)(uintptr_t)(ptr))

seek_status seek_tmodel_init(seek_tmodel *tm, const seek_tmodel_cfg *cfg, seek_pool *pool) {
    memset(tm, 0, sizeof *tm);
    tm->cfg = *cfg;
    tm->pool = pool;
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t D = c->dim, H = c->n_head, V = c->vocab;
    tm->hd = (int32_t)(D / H);
    const bool mla = c->attention == TATT_MLA;
    tm->dk = mla ? c->qk_nope_dim + c->qk_rope_dim : tm->hd;
    tm->dv = mla ? c->v_head_dim : tm->hd;
    if (!(tm->layers = calloc((size_t)c->n_layer, sizeof *tm->layers))) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    layout L = {.tm = tm, .n_floats = 1}; /* offset 0 means "absent" */
    char n[64];
    bool oom = false;
#define T(field, suffix, nd, a, b, cc, tr)                                      \
    do {                                                                         \
        snprintf(n, sizeof n, "blk.%d." suffix, il);                             \
        size_t o_ = add(&L, n, nd, a, b, cc, tr);                                \
        oom |= o_ == SIZE_MAX;                                                   \
        ly->field = OFF(o_);                                                     \
    } while (0)
    size_t o_embd = add(&L, "token_embd.weight", 2, V, D, 1, true);
    for (int il = 0; il < c->n_layer; il++) {
        seek_tlayer *ly = &tm->layers[il];
        T(attn_norm, "attn_norm.weight", 1, D, 1, 1, true);
        if (mla && c->q_lora_rank) {
            T(wq_a, "attn_q_a.weight", 2, c->q_lora_rank, D, 1, true);
            T(q_a_norm, "attn_q_a_norm.weight", 1, c->q_lora_rank, 1, 1, true);
            T(wq_b, "attn_q_b.weight", 2, H * tm->dk, c->q_lora_rank, 1, true);
        } else {
            T(wq, "attn_q.weight", 2, H * tm->dk, D, 1, true);
        }
        if (mla) {
            T(wkv_a, "attn_kv_a_mqa.weight", 2, c->kv_lora_rank + c->qk_rope_dim, D, 1, true);
            T(kv_a_norm, "attn_kv_a_norm.weight", 1, c->kv_lora_rank, 1, 1, true);
            T(wkv_b, "attn_kv_b.weight", 2, H * (c->qk_nope_dim + c->v_head_dim), c->kv_lora_rank, 1, true);
        } else {
            T(wk, "attn_k.weight", 2, c->n_kv_head * tm->hd, D, 1, true);
            T(wv, "attn_v.weight", 2, c->n_kv_head * tm->hd, D, 1, true);
        }
        T(wo, "attn_output.weight", 2, D, H * tm->dv, 1, true);
        T(ffn_norm, "ffn_norm.weight", 1, D, 1, 1, true);
        ly->moe = c->moe && il >= c->n_dense_lead;
        if (ly->moe) {
            const int64_t E = c->n_expert, F = c->expert_dim, S = c->n_shared_expert;
            T(router, "ffn_gate_inp.weight", 2, E, D, 1, true);
            if (c->balance == TBAL_AUX_FREE) T(exp_bias, "exp_probs_b.bias", 1, E, 1, 1, false);
            T(gate_exps, "ffn_gate_exps.weight", 3, E, F, D, true);
            T(up_exps, "ffn_up_exps.weight", 3, E, F, D, true);
            T(down_exps, "ffn_down_exps.weight", 3, E, D, F, true);
            if (S) {
                T(gate_sh, "ffn_gate_shexp.weight", 2, S * F, D, 1, true);
                T(up_sh, "ffn_up_shexp.weight", 2, S * F, D, 1, true);
                T(down_sh, "ffn_down_shexp.weight", 2, D, S * F, 1, true);
            }
        } else {
            T(w_gate, "ffn_gate.weight", 2, c->ff_dim, D, 1, true);
            T(w_up, "ffn_up.weight", 2, c->ff_dim, D, 1, true);
            T(w_down, "ffn_down.weight", 2, D, c->ff_dim, 1, true);
        }
    }
#undef T
    size_t o_norm = add(&L, "output_norm.weight", 1, D, 1, 1, true);
    size_t o_out = add(&L, "output.weight", 2, V, D, 1, true);
    if (oom || o_out == SIZE_MAX || o_norm == SIZE_MAX || o_embd == SIZE_MAX) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    tm->n_floats = L.n_floats;
    tm->w = aligned_alloc(64, (tm->n_floats * sizeof(float) + 63) & ~(size_t)63);
    tm->g = aligned_alloc(64, (tm->n_floats * sizeof(float) + 63) & ~(size_t)63);
    if (!tm->w || !tm->g)
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory for %zu parameters (%.1f MiB)", tm->n_floats, tm->n_floats * 4.0 / 1048576);
    memset(tm->w, 0, tm->n_floats * sizeof(float));
    memset(tm->g, 0, tm->n_floats * sizeof(float));
    float *base = tm->w;
#define FIX(p) p = (p) ? base + (uintptr_t)(p) : NULL
    for (int il = 0; il < c->n_layer; il++) {
        seek_tlayer *ly = &tm->layers[il];
        FIX(ly->attn_norm); FIX(ly->wq); FIX(ly->wq_a); FIX(ly->q_a_norm); FIX(ly->wq_b); FIX(ly->wk); FIX(ly->wv); FIX(ly->wkv_a); FIX(ly->kv_a_norm); FIX(ly->wkv_b);
        FIX(ly->wo); FIX(ly->ffn_norm); FIX(ly->w_gate); FIX(ly->w_up); FIX(ly->w_down); FIX(ly->router);
        FIX(ly->exp_bias); FIX(ly->gate_exps); FIX(ly->up_exps); FIX(ly->down_exps); FIX(ly->gate_sh); FIX(ly->up_sh);
        FIX(ly->down_sh);
    }
#undef FIX
    tm->embd = base + o_embd;
    tm->out_norm = base + o_norm;
    tm->out = base + o_out;
    /* ALiBi slopes and RoPE tables */
    tm->alibi = malloc((size_t)H * sizeof(float));
    const int64_t rot = mla ? c->qk_rope_dim : tm->hd, half = rot / 2;
    const int64_t n_pos = (int64_t)c->ctx + c->xl_memory; /* XL: queries sit after M memory positions */
    tm->rope_cos = malloc((size_t)(n_pos * half + 1) * sizeof(float));
    tm->rope_sin = malloc((size_t)(n_pos * half + 1) * sizeof(float));
    if (!tm->alibi || !tm->rope_cos || !tm->rope_sin) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    int64_t pw = 1;
    while (pw * 2 <= H) pw *= 2;
    for (int64_t h = 0; h < H; h++)
        tm->alibi[h] = h < pw ? (float)pow(2.0, -8.0 * (double)(h + 1) / (double)pw)
                              : (float)pow(2.0, -4.0 * (double)(2 * (h - pw) + 1) / (double)pw);
    for (int64_t t = 0; t < n_pos; t++)
        for (int64_t i = 0; i < half; i++) {
            const double th = (double)t * pow((double)c->rope_base, -2.0 * (double)i / (double)rot);
            tm->rope_cos[t * half + i] = (float)cos(th);
            tm->rope_sin[t * half + i] = (float)sin(th);
        }
    tm->prec = TPREC_FP32;
    return SEEK_OK;
}

void seek_tmodel_free(seek_tmodel *tm) {
    free(tm->params);
    free(tm->w);
    free(tm->g);
    free(tm->m);
    free(tm->v);
    free(tm->wlow);
    free(tm->layers);
    free(tm->alibi);
    free(tm->rope_cos);
    free(tm->rope_sin);
    memset(tm, 0, sizeof *tm);
}

seek_status seek_tmodel_alloc_optim(seek_tmodel *tm) {
    if (!tm->m) tm->m = calloc(tm->n_floats, sizeof(float));
    if (!tm->v) tm->v = calloc(tm->n_floats, sizeof(float));
    if (!tm->m || !tm->v) return seek_errorf(SEEK_ERR_NOMEM, "out of memory for the optimizer state");
    return SEEK_OK;
}

const seek_tparam *seek_tmodel_find(const seek_tmodel *tm, const char *name) {
    for (int i = 0; i < tm->n_params; i++)
        if (!strcmp(tm->params[i].name, name)) return &tm->params[i];
    return NULL;
}

/* splitmix64 + Box-Muller: reproducible on every platform */
static double uniform(uint64_t *s) { return ((double)(seek_rng_next(s) >> 11) + 0.5) / 9007199254740992.0; }

void seek_tmodel_randomize(seek_tmodel *tm, uint64_t seed) {
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
    const double std_out = 0.02 / sqrt(2.0 * tm->cfg.n_layer);
    for (int i = 0; i < tm->n_params; i++) {
        const seek_tparam *p = &tm->params[i];
        float *w = tm->w + p->off;
        if (p->n_dims == 1) {
            const float v = strstr(p->name, "norm") ? 1.0f : 0.0f;
            for (size_t j = 0; j < p->n; j++) w[j] = v;
            continue;
        }
        const bool out_proj = strstr(p->name, "attn_output") || strstr(p->name, "ffn_down");
        const double std = out_proj ? std_out : 0.02;
        for (size_t j = 0; j < p->n; j += 2) {
            const double u1 = uniform(&s), u2 = uniform(&s), r = sqrt(-2.0 * log(u1));
            w[j] = (float)(std * r * cos(2 * M_PI * u2));
            if (j + 1 < p->n) w[j + 1] = (float)(std * r * sin(2 * M_PI * u2));
        }
    }
}

void seek_tmodel_count(const seek_tmodel *tm, int64_t *total, int64_t *active) {
    int64_t t = 0, a = 0;
    const seek_tmodel_cfg *c = &tm->cfg;
    for (int i = 0; i < tm->n_params; i++) {
        const seek_tparam *p = &tm->params[i];
        t += (int64_t)p->n;
        if (!strcmp(p->name, "token_embd.weight") || p->n_dims == 1) continue;
        a += p->n_dims == 3 ? (int64_t)p->n / c->n_expert * c->n_expert_used : (int64_t)p->n;
    }
    *total = t;
    *active = a;
}

double seek_tmodel_flops_per_token(const seek_tmodel *tm, int32_t seq_len) {
    int64_t total, active;
    seek_tmodel_count(tm, &total, &active);
    const seek_tmodel_cfg *c = &tm->cfg;
    /* attention: q.k and p.v, forward 2 * 2 * (T/2 keys on average) * H * d, backward twice that */
    const double att = 3.0 * 2.0 * (double)seq_len * c->n_head * (tm->dk + tm->dv) * c->n_layer;
    return 6.0 * (double)active + att;
}

/* the matrices the block GEMMs read in reduced precision */
static bool low_precision_tensor(const seek_tparam *p) {
    return p->n_dims >= 2 && strcmp(p->name, "token_embd.weight") && strcmp(p->name, "output.weight") &&
           !strstr(p->name, "ffn_gate_inp");
}

seek_status seek_tmodel_set_precision(seek_tmodel *tm, seek_tprec p) {
    tm->prec = p;
    if (p == TPREC_FP32) return SEEK_OK;
    if (!tm->wlow && !(tm->wlow = aligned_alloc(64, (tm->n_floats * sizeof(float) + 63) & ~(size_t)63)))
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    memcpy(tm->wlow, tm->w, tm->n_floats * sizeof(float));
    seek_tmodel_round(tm);
    return SEEK_OK;
}

void seek_tmodel_round(seek_tmodel *tm) {
    if (tm->prec == TPREC_FP32) return;
    for (int i = 0; i < tm->n_params; i++) {
        const seek_tparam *p = &tm->params[i];
        if (!low_precision_tensor(p)) continue;
        if (tm->prec == TPREC_BF16) round_bf16(tm->wlow + p->off, tm->w + p->off, (int64_t)p->n);
        else /* 1 x 128 tiles along each row (the contracted dimension) */
            for (size_t r = 0; r < p->n; r += (size_t)p->shape[p->n_dims - 1])
                round_fp8_e4m3(tm->wlow + p->off + r, tm->w + p->off + r, p->shape[p->n_dims - 1], 128);
    }
}
