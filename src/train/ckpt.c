/* Checkpoints and exports (see ckpt.h). Tensors are written as F32 with GGUF's dimension order
 * (the reverse of the torch shapes in tmodel.h). An MLA export splits attn_kv_b into llama.cpp's
 * attn_k_b {dn, c, H} (each head's key rows transposed) and attn_v_b {c, dv, H}. */
#include "train/ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "format/gguf_write.h"

const char *seek_export_arch(const seek_tmodel_cfg *c) {
    if (c->attention == TATT_MLA) return "deepseek2"; /* (config.c refuses MLA with a sliding window) */
    if (c->position != TPOS_ROPE || c->sliding_window || c->xl_memory) return "seek";
    if (!c->moe) return "llama";
    if (!c->gating_sigmoid && !c->norm_topk && c->balance != TBAL_AUX_FREE) return "deepseek";
    return "seek";
}

static void ne_of(const seek_tparam *p, int64_t ne[3]) {
    for (int d = 0; d < p->n_dims; d++) ne[d] = p->shape[p->n_dims - 1 - d];
}

static void put_tokenizer(seek_gguf_writer *w, const seek_gguf *tok) {
    for (uint64_t i = 0; tok && i < tok->n_kv; i++)
        if (tok->kvs[i].key.len > 10 && !memcmp(tok->kvs[i].key.ptr, "tokenizer.", 10)) seek_gw_copy(w, &tok->kvs[i]);
}

/* the hyper-parameter keys of arch a */
static void put_hparams(seek_gguf_writer *w, const seek_tmodel *tm, const char *a, int32_t seq_len) {
    const seek_tmodel_cfg *c = &tm->cfg;
    char k[128];
#define U32(key, v) (snprintf(k, sizeof k, "%s." key, a), seek_gw_u32(w, k, (uint32_t)(v)))
#define F32(key, v) (snprintf(k, sizeof k, "%s." key, a), seek_gw_f32(w, k, (float)(v)))
#define BOOL(key, v) (snprintf(k, sizeof k, "%s." key, a), seek_gw_bool(w, k, (v)))
    U32("vocab_size", c->vocab);
    U32("context_length", c->ctx);
    U32("embedding_length", c->dim);
    U32("block_count", c->n_layer);
    U32("feed_forward_length", c->ff_dim);
    U32("attention.head_count", c->n_head);
    F32("attention.layer_norm_rms_epsilon", c->rms_eps);
    F32("rope.freq_base", c->rope_base);
    if (c->attention == TATT_MLA) {
        U32("attention.head_count_kv", 1);
        U32("attention.key_length", c->kv_lora_rank + c->qk_rope_dim);
        U32("attention.value_length", c->kv_lora_rank);
        U32("attention.key_length_mla", c->qk_nope_dim + c->qk_rope_dim);
        U32("attention.value_length_mla", c->v_head_dim);
        U32("attention.kv_lora_rank", c->kv_lora_rank);
        if (c->q_lora_rank) U32("attention.q_lora_rank", c->q_lora_rank);
        U32("rope.dimension_count", c->qk_rope_dim);
    } else {
        U32("attention.head_count_kv", c->n_kv_head);
        U32("rope.dimension_count", tm->hd);
    }
    if (c->moe) {
        U32("leading_dense_block_count", c->n_dense_lead);
        U32("expert_count", c->n_expert);
        U32("expert_used_count", c->n_expert_used);
        U32("expert_shared_count", c->n_shared_expert);
        U32("expert_feed_forward_length", c->expert_dim);
        F32("expert_weights_scale", 1.0);
        BOOL("expert_weights_norm", c->norm_topk);
        if (strcmp(a, "deepseek")) U32("expert_gating_func", c->gating_sigmoid ? 2 : 1);
    }
    if (!strcmp(a, "seek")) {
        BOOL("attention.alibi", c->position == TPOS_ALIBI);
        U32("attention.sliding_window", c->sliding_window);
        if (c->xl_memory) { /* the memory and the segment length it was trained with */
            U32("attention.xl_memory", c->xl_memory);
            U32("attention.xl_segment", seq_len);
        }
        BOOL("attention.mla", c->attention == TATT_MLA);
    }
#undef U32
#undef F32
#undef BOOL
}

static seek_status put_common(seek_gguf_writer *w, const seek_train_cfg *cfg, const seek_gguf *tok) {
    char *json = seek_train_cfg_json(cfg);
    if (!json) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    seek_gw_str(w, "seek.train.config", json);
    free(json);
    put_tokenizer(w, tok);
    return SEEK_OK;
}

/* attn_kv_b (H*(dn+dv), c) -> attn_k_b {dn, c, H} and attn_v_b {c, dv, H} */
static seek_status put_kv_b_split(seek_gguf_writer *w, const seek_tmodel *tm, const seek_tparam *p) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t H = c->n_head, dn = c->qk_nope_dim, dv = c->v_head_dim, cl = c->kv_lora_rank;
    const float *kv = tm->w + p->off;
    float *kb = malloc((size_t)(H * cl * dn) * sizeof(float)), *vb = malloc((size_t)(H * dv * cl) * sizeof(float));
    if (!kb || !vb) {
        free(kb);
        free(vb);
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    }
    for (int64_t h = 0; h < H; h++) {
        for (int64_t d = 0; d < dn; d++)
            for (int64_t j = 0; j < cl; j++) kb[(h * cl + j) * dn + d] = kv[(h * (dn + dv) + d) * cl + j];
        memcpy(vb + h * dv * cl, kv + (h * (dn + dv) + dn) * cl, (size_t)(dv * cl) * sizeof(float));
    }
    char n[80], base[64];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(p->name) - strlen("attn_kv_b.weight")), p->name);
    int64_t ne_k[3] = {dn, cl, H}, ne_v[3] = {cl, dv, H};
    seek_status st;
    snprintf(n, sizeof n, "%sattn_k_b.weight", base);
    if ((st = seek_gw_tensor(w, n, SEEK_TYPE_F32, 3, ne_k, kb, true))) {
        free(kb);
        free(vb);
        return st;
    }
    snprintf(n, sizeof n, "%sattn_v_b.weight", base);
    if ((st = seek_gw_tensor(w, n, SEEK_TYPE_F32, 3, ne_v, vb, true))) free(vb);
    return st;
}

seek_status seek_export_write(const char *path, const seek_tmodel *tm, const seek_train_cfg *cfg, const seek_gguf *tok) {
    seek_gguf_writer *w = seek_gw_new();
    if (!w) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    const char *a = seek_export_arch(&tm->cfg);
    seek_gw_str(w, "general.architecture", a);
    seek_gw_str(w, "general.name", "seek-trained");
    put_hparams(w, tm, a, cfg->seq_len);
    seek_status st = put_common(w, cfg, tok);
    for (int i = 0; i < tm->n_params && !st; i++) {
        const seek_tparam *p = &tm->params[i];
        int64_t ne[3];
        ne_of(p, ne);
        if (strstr(p->name, "attn_kv_b") && strcmp(a, "seek")) st = put_kv_b_split(w, tm, p);
        else st = seek_gw_tensor(w, p->name, SEEK_TYPE_F32, p->n_dims, ne, tm->w + p->off, false);
    }
    if (!st) st = seek_gw_write(w, path, NULL, NULL);
    seek_gw_free(w);
    return st;
}

seek_status seek_ckpt_write(const char *path, const seek_tmodel *tm, const seek_train_cfg *cfg, const seek_gguf *tok,
                            const seek_ckpt_state *state, seek_gw_progress progress, void *arg) {
    seek_gguf_writer *w = seek_gw_new();
    if (!w) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    seek_gw_str(w, "general.architecture", "seek-checkpoint");
    seek_gw_u64(w, "seek.train.step", (uint64_t)state->step);
    seek_gw_u64(w, "seek.train.rng", state->rng);
    seek_gw_u64(w, "seek.train.tokens", (uint64_t)state->tokens);
    seek_gw_u64(w, "seek.train.flops", (uint64_t)state->flops);
    seek_status st = put_common(w, cfg, tok);
    static const char *const pre[3] = {"", "adam.m.", "adam.v."};
    const float *buf[3] = {tm->w, tm->m, tm->v};
    char n[96];
    for (int k = 0; k < 3 && !st; k++)
        for (int i = 0; i < tm->n_params && !st && buf[k]; i++) {
            const seek_tparam *p = &tm->params[i];
            int64_t ne[3];
            ne_of(p, ne);
            snprintf(n, sizeof n, "%s%s", pre[k], p->name);
            st = seek_gw_tensor(w, n, SEEK_TYPE_F32, p->n_dims, ne, buf[k] + p->off, false);
        }
    if (!st && state->xl_mem) {
        seek_gw_arr_i32(w, "seek.train.xl_mlen", state->xl_mlen, (size_t)state->xl_b);
        st = seek_gw_tensor(w, "train.xl_memory", SEEK_TYPE_F32, 1, &state->xl_n, state->xl_mem, false);
    }
    if (!st) st = seek_gw_write(w, path, progress, arg);
    seek_gw_free(w);
    return st;
}

seek_status seek_ckpt_read_xl(const seek_gguf *g, const char *path, seek_ckpt_state *state) {
    const gguf_tensor *t = seek_gguf_tensor(g, "train.xl_memory");
    const gguf_kv *kv = seek_gguf_find(g, "seek.train.xl_mlen");
    if (!t || t->type != SEEK_TYPE_F32 || t->n_dims != 1 || t->ne[0] != state->xl_n || !kv || kv->type != GGUF_TYPE_ARRAY ||
        kv->arr_type != GGUF_TYPE_INT32 || kv->arr_n != (uint64_t)state->xl_b)
        return seek_errorf(SEEK_ERR_FORMAT, "%s has no Transformer-XL memory of %lld floats for %d streams", path,
                           (long long)state->xl_n, state->xl_b);
    memcpy(state->xl_mem, t->data, (size_t)state->xl_n * sizeof(float));
    for (int32_t b = 0; b < state->xl_b; b++) {
        int32_t v;
        memcpy(&v, kv->arr_data + 4 * (size_t)b, 4);
        state->xl_mlen[b] = v;
    }
    return SEEK_OK;
}

seek_status seek_train_cfg_from_gguf(seek_train_cfg *c, const seek_gguf *g, const char *path) {
    gguf_str s;
    if (!seek_gguf_get_str(g, "seek.train.config", &s))
        return seek_errorf(SEEK_ERR_FORMAT, "%s was not written by seek train (no seek.train.config)", path);
    char *json = malloc(s.len + 1);
    if (!json) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    memcpy(json, s.ptr, s.len);
    json[s.len] = 0;
    seek_status st = seek_train_cfg_parse(c, json, path);
    free(json);
    return st;
}

/* one tensor into dst, checked against the parameter's shape */
static seek_status read_tensor(float *dst, const seek_tparam *p, const gguf_tensor *t, const char *path, const char *name) {
    int64_t ne[3] = {1, 1, 1};
    ne_of(p, ne);
    if (t->type != SEEK_TYPE_F32 || t->ne[0] != ne[0] || t->ne[1] != (p->n_dims > 1 ? ne[1] : 1) ||
        t->ne[2] != (p->n_dims > 2 ? ne[2] : 1))
        return seek_errorf(SEEK_ERR_INVALID, "%s: tensor '%s' is %s {%lld, %lld, %lld}, the model needs f32 {%lld, %lld, %lld} (another shape?)",
                           path, name, seek_dtype_name(t->type), (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                           (long long)ne[0], (long long)(p->n_dims > 1 ? ne[1] : 1), (long long)(p->n_dims > 2 ? ne[2] : 1));
    memcpy(dst, t->data, p->n * sizeof(float));
    return SEEK_OK;
}

/* attn_k_b + attn_v_b (an export) back into attn_kv_b */
static seek_status read_kv_b_split(seek_tmodel *tm, const seek_tparam *p, const seek_gguf *g, const char *path) {
    const seek_tmodel_cfg *c = &tm->cfg;
    const int64_t H = c->n_head, dn = c->qk_nope_dim, dv = c->v_head_dim, cl = c->kv_lora_rank;
    char n[96], base[64];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(p->name) - strlen("attn_kv_b.weight")), p->name);
    snprintf(n, sizeof n, "%sattn_k_b.weight", base);
    const gguf_tensor *tk = seek_gguf_tensor(g, n);
    snprintf(n, sizeof n, "%sattn_v_b.weight", base);
    const gguf_tensor *tv = seek_gguf_tensor(g, n);
    if (!tk || !tv || tk->type != SEEK_TYPE_F32 || tv->type != SEEK_TYPE_F32 || tk->ne[0] != dn || tk->ne[1] != cl ||
        tk->ne[2] != H || tv->ne[0] != cl || tv->ne[1] != dv || tv->ne[2] != H)
        return seek_errorf(SEEK_ERR_INVALID, "%s: '%s' (or f32 attn_k_b / attn_v_b of the model's shape) is missing", path, p->name);
    const float *kb = tk->data, *vb = tv->data;
    float *kv = tm->w + p->off;
    for (int64_t h = 0; h < H; h++) {
        for (int64_t d = 0; d < dn; d++)
            for (int64_t j = 0; j < cl; j++) kv[(h * (dn + dv) + d) * cl + j] = kb[(h * cl + j) * dn + d];
        memcpy(kv + (h * (dn + dv) + dn) * cl, vb + h * dv * cl, (size_t)(dv * cl) * sizeof(float));
    }
    return SEEK_OK;
}

seek_status seek_tmodel_read(seek_tmodel *tm, const seek_gguf *g, const char *path, seek_ckpt_state *state) {
    static const char *const pre[3] = {"", "adam.m.", "adam.v."};
    float *buf[3] = {tm->w, tm->m, tm->v};
    char n[96];
    seek_status st = SEEK_OK;
    for (int k = 0; k < 3 && !st; k++) {
        if (!buf[k]) continue;
        for (int i = 0; i < tm->n_params && !st; i++) {
            const seek_tparam *p = &tm->params[i];
            snprintf(n, sizeof n, "%s%s", pre[k], p->name);
            const gguf_tensor *t = seek_gguf_tensor(g, n);
            if (t) st = read_tensor(buf[k] + p->off, p, t, path, n);
            else if (k == 0 && strstr(p->name, "attn_kv_b")) st = read_kv_b_split(tm, p, g, path);
            else if (k > 0) memset(buf[k] + p->off, 0, p->n * sizeof(float)); /* no moments: start them at zero */
            else st = seek_errorf(SEEK_ERR_INVALID, "%s: tensor '%s' is missing (a model of another shape?)", path, n);
        }
    }
    if (!st && state) {
        uint64_t v = 0;
        memset(state, 0, sizeof *state);
        if (seek_gguf_get_u64(g, "seek.train.step", &v)) state->step = (int64_t)v;
        if (seek_gguf_get_u64(g, "seek.train.rng", &v)) state->rng = v;
        if (seek_gguf_get_u64(g, "seek.train.tokens", &v)) state->tokens = (int64_t)v;
        if (seek_gguf_get_u64(g, "seek.train.flops", &v)) state->flops = (double)v;
    }
    return st;
}
