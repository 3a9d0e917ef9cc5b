/* Growth operators (see grow.h). Tensors are matched by name: "blk.<j>.<suffix>" of the new
 * model from "blk.<src>.<suffix>" of the old one. */
#include "train/grow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "train/data.h" /* seek_rng_next */

seek_status seek_grow_cfg(seek_tmodel_cfg *out, const seek_tmodel_cfg *in, int32_t n_layer, int32_t n_expert) {
    *out = *in;
    if (n_layer && n_expert) return seek_errorf(SEEK_ERR_INVALID, "grow one thing at a time (layers, then experts)");
    if (n_layer) {
        if (n_layer <= in->n_layer)
            return seek_errorf(SEEK_ERR_INVALID, "--layers %d must exceed the model's %d layers", n_layer, in->n_layer);
        out->n_layer = n_layer;
        int32_t dense = 0; /* copies of dense layers stay dense: they come first */
        for (int32_t j = 0; j < n_layer; j++) dense += (int64_t)j * in->n_layer / n_layer < in->n_dense_lead;
        out->n_dense_lead = in->moe ? dense : in->n_dense_lead;
        return SEEK_OK;
    }
    if (!n_expert) return seek_errorf(SEEK_ERR_INVALID, "nothing to grow (give --layers or --experts)");
    if (!in->moe) {
        if (n_expert < 2) return seek_errorf(SEEK_ERR_INVALID, "--experts %d: upcycling needs at least 2 experts", n_expert);
        out->moe = true;
        out->n_expert = n_expert;
        if (out->n_expert_used < 1 || out->n_expert_used > n_expert) out->n_expert_used = n_expert < 2 ? n_expert : 2;
        out->expert_dim = in->ff_dim;
        out->n_shared_expert = 0;
        if (out->n_dense_lead > in->n_layer) out->n_dense_lead = 0;
        return SEEK_OK;
    }
    if (n_expert <= in->n_expert || n_expert % in->n_expert)
        return seek_errorf(SEEK_ERR_INVALID, "--experts %d must be a multiple (> 1) of the model's %d experts", n_expert, in->n_expert);
    const int32_t m = n_expert / in->n_expert;
    if (in->expert_dim % m)
        return seek_errorf(SEEK_ERR_INVALID, "--experts %d splits each expert in %d, which does not divide expert_dim %d", n_expert,
                           m, in->expert_dim);
    out->n_expert = n_expert;
    out->n_expert_used = in->n_expert_used * m;
    out->expert_dim = in->expert_dim / m;
    out->n_shared_expert = in->n_shared_expert * m; /* segmented too: the same total width */
    return SEEK_OK;
}

static const seek_tparam *find_src(const seek_tmodel *src, const char *name, int64_t layer) {
    char n[96];
    const char *suffix = strchr(name + 4, '.'); /* after "blk.<j>" */
    snprintf(n, sizeof n, "blk.%lld%s", (long long)layer, suffix);
    return seek_tmodel_find(src, n);
}

static bool is_output_proj(const char *name) {
    return strstr(name, "attn_output") || strstr(name, "ffn_down") || strstr(name, "down_exps") || strstr(name, "down_shexp");
}

static float gauss(uint64_t *s) {
    const double u1 = ((double)(seek_rng_next(s) >> 11) + 0.5) / 9007199254740992.0, u2 = (double)(seek_rng_next(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2));
}

/* one tensor of the new MoE layer from the old layer (upcycle: from its dense MLP; split: from its experts) */
static seek_status grow_moe_tensor(seek_tmodel *dst, const seek_tmodel *src, const seek_tparam *p, int64_t layer, uint64_t *rng) {
    const seek_tmodel_cfg *nc = &dst->cfg, *oc = &src->cfg;
    float *w = dst->w + p->off;
    const int64_t D = nc->dim, E = nc->n_expert, F = nc->expert_dim;
    const bool upcycle = !oc->moe;
    const int64_t m = upcycle ? 1 : E / oc->n_expert;
    const float s0 = nc->gating_sigmoid ? 0.5f : 1.0f / (float)E;
    /* the factor on the down projections that makes the chosen experts sum to the old output */
    const float scale = upcycle ? (nc->norm_topk ? 1.0f : 1.0f / ((float)nc->n_expert_used * s0))
                                : (nc->gating_sigmoid && !nc->norm_topk ? 1.0f : (float)m);
    char n[96];
    const char *suffix = strchr(p->name + 4, '.') + 1;
    if (!strcmp(suffix, "ffn_gate_inp.weight")) {
        if (upcycle) {
            for (size_t i = 0; i < p->n; i++) w[i] = 1e-4f * gauss(rng);
        } else {
            const seek_tparam *q = find_src(src, p->name, layer);
            for (int64_t e = 0; e < E; e++) memcpy(w + e * D, src->w + q->off + (e / m) * D, (size_t)D * sizeof *w);
        }
        return SEEK_OK;
    }
    if (!strcmp(suffix, "exp_probs_b.bias")) {
        const seek_tparam *q = upcycle ? NULL : find_src(src, p->name, layer);
        for (int64_t e = 0; e < E; e++) w[e] = q ? src->w[q->off + e / m] : 0.0f;
        return SEEK_OK;
    }
    const bool gate = strstr(suffix, "gate_exps") != NULL, up = strstr(suffix, "up_exps") != NULL;
    const bool down = strstr(suffix, "down_exps") != NULL;
    if (!gate && !up && !down) { /* shared experts and everything else: same shape, copied */
        const seek_tparam *q = find_src(src, p->name, layer);
        if (!q || q->n != p->n) return seek_errorf(SEEK_ERR_INVALID, "grow: no source for '%s'", p->name);
        memcpy(w, src->w + q->off, p->n * sizeof *w);
        return SEEK_OK;
    }
    snprintf(n, sizeof n, "blk.%lld.%s", (long long)layer,
             upcycle ? (gate ? "ffn_gate.weight" : up ? "ffn_up.weight" : "ffn_down.weight") : suffix);
    const seek_tparam *q = seek_tmodel_find(src, n);
    if (!q) return seek_errorf(SEEK_ERR_INVALID, "grow: '%s' has no source '%s'", p->name, n);
    const float *sw = src->w + q->off;
    const int64_t Fo = upcycle ? oc->ff_dim : oc->expert_dim; /* old hidden width */
    for (int64_t e = 0; e < E; e++) {
        const int64_t eo = upcycle ? 0 : e / m, piece = upcycle ? 0 : e % m; /* hidden units [piece*F, piece*F+F) of old expert eo */
        const float *so = sw + eo * Fo * D;
        float *we = w + e * F * D;
        if (!down) {
            memcpy(we, so + piece * F * D, (size_t)(F * D) * sizeof *w); /* (F, D): rows of the slice */
        } else {
            for (int64_t r = 0; r < D; r++) /* (D, F): columns of the slice */
                for (int64_t j = 0; j < F; j++) we[r * F + j] = so[r * Fo + piece * F + j] * scale;
        }
    }
    return SEEK_OK;
}

seek_status seek_grow(seek_tmodel *dst, const seek_tmodel *src, uint64_t seed) {
    const seek_tmodel_cfg *nc = &dst->cfg, *oc = &src->cfg;
    const bool deeper = nc->n_layer > oc->n_layer;
    uint64_t rng = seed ^ 0x6a09e667f3bcc909ull;
    for (int i = 0; i < dst->n_params; i++) {
        const seek_tparam *p = &dst->params[i];
        float *w = dst->w + p->off;
        if (strncmp(p->name, "blk.", 4)) { /* embedding, output norm, head */
            const seek_tparam *q = seek_tmodel_find(src, p->name);
            if (!q || q->n != p->n) return seek_errorf(SEEK_ERR_INVALID, "grow: no source for '%s'", p->name);
            memcpy(w, src->w + q->off, p->n * sizeof *w);
            continue;
        }
        const int64_t j = strtoll(p->name + 4, NULL, 10);
        if (deeper) {
            const int64_t from = j * oc->n_layer / nc->n_layer;
            const bool first_copy = j == 0 || (j - 1) * oc->n_layer / nc->n_layer != from;
            const seek_tparam *q = find_src(src, p->name, from);
            if (!q || q->n != p->n) return seek_errorf(SEEK_ERR_INVALID, "grow: no source of the same shape for '%s'", p->name);
            if (!first_copy && is_output_proj(p->name)) memset(w, 0, p->n * sizeof *w);
            else memcpy(w, src->w + q->off, p->n * sizeof *w);
            continue;
        }
        const bool moe_layer = dst->layers[j].moe;
        seek_status st;
        if (moe_layer) {
            if ((st = grow_moe_tensor(dst, src, p, j, &rng))) return st;
        } else {
            const seek_tparam *q = find_src(src, p->name, j);
            if (!q || q->n != p->n) return seek_errorf(SEEK_ERR_INVALID, "grow: no source of the same shape for '%s'", p->name);
            memcpy(w, src->w + q->off, p->n * sizeof *w);
        }
    }
    return SEEK_OK;
}
