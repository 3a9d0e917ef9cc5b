/* Model loading: reads hyper-parameters from GGUF metadata, binds each weight to its tensor in
 * the mapping (checking shape and type), and loads the tokenizer and chat template family. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "core/status.h"
#include "kernels/quant.h"
#include "model/hf.h"

static const char *arch_names[SEEK_ARCH_COUNT] = {"llama", "qwen2", "deepseek", "deepseek2", "seek"};

const char *seek_arch_name(seek_arch a) { return (unsigned)a < SEEK_ARCH_COUNT ? arch_names[a] : "unknown"; }

typedef struct {
    seek_model *m;
    char arch[32];
    size_t unread_bytes; /* weights a decode step does not read: unchosen experts, MTP layers */
} loader;

static seek_status need_u64(loader *L, const char *suffix, int64_t *out) {
    char key[128];
    uint64_t v;
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    if (!seek_gguf_get_u64(L->m->gguf, key, &v))
        return seek_errorf(SEEK_ERR_FORMAT, "missing or invalid metadata key '%s'", key);
    if (v == 0 || v > (1ull << 40)) return seek_errorf(SEEK_ERR_FORMAT, "metadata '%s' = %llu is out of range", key, (unsigned long long)v);
    *out = (int64_t)v;
    return SEEK_OK;
}

static void opt_u64(loader *L, const char *suffix, int64_t *out) {
    char key[128];
    uint64_t v;
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    if (seek_gguf_get_u64(L->m->gguf, key, &v) && v > 0 && v < (1ull << 40)) *out = (int64_t)v;
}

static void opt_f32(loader *L, const char *suffix, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    seek_gguf_get_f32(L->m->gguf, key, out);
}

/* Binds weight `name` expecting shape (ne0, ne1, ne2) (1 for missing dims). */
static seek_status bind3(loader *L, seek_weight *w, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, bool required) {
    const gguf_tensor *t = seek_gguf_tensor(L->m->gguf, name);
    memset(w, 0, sizeof *w);
    if (!t) return required ? seek_errorf(SEEK_ERR_FORMAT, "missing tensor '%s'", name) : SEEK_OK;
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2 || t->ne[3] != 1)
        return seek_errorf(SEEK_ERR_FORMAT, "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]", name,
                           (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                           (long long)ne0, (long long)ne1, (long long)ne2);
    const seek_type_kernels *k = seek_kernels_for(t->type, SEEK_ISA_SCALAR);
    if (!k || !k->to_float || (ne1 > 1 && !k->vec_dot))
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "tensor '%s' has type %s, which seek cannot compute with", name,
                           seek_dtype_name(t->type));
    w->data = t->data;
    w->type = t->type;
    memcpy(w->ne, t->ne, sizeof w->ne);
    w->row_bytes = seek_dtype_row_bytes(t->type, t->ne[0]);
    w->mat_bytes = w->row_bytes * (size_t)t->ne[1];
    w->name = t->name;
    L->m->weight_bytes += t->n_bytes;
    return SEEK_OK;
}

static seek_status bind(loader *L, seek_weight *w, const char *name, int64_t ne0, int64_t ne1, bool required) {
    return bind3(L, w, name, ne0, ne1, 1, required);
}

/* Old deepseek2 GGUFs hold one attn_kv_b (kv_lora, n_head*(nope+v)). Absorbed attention needs
 * each head's K part transposed: W_UK^T as f32 (kv_lora rows of nope) is derived here; W_UV is
 * the V part's rows in place. */
static seek_status bind_legacy_kv_b(loader *L, seek_layer *ly, int64_t il, float *k_b) {
    const seek_hparams *hp = &L->m->hp;
    const int64_t H = hp->n_head, nope = hp->head_dim_nope, vd = hp->head_dim_v, c = hp->kv_lora;
    seek_weight kv_b;
    char n[80];
    snprintf(n, sizeof n, "blk.%lld.attn_kv_b.weight", (long long)il);
    seek_status st = bind(L, &kv_b, n, c, H * (nope + vd), true);
    if (st) return st;
    const seek_type_kernels *k = seek_kernels_for(kv_b.type, SEEK_ISA_SCALAR);
    float *row = malloc((size_t)c * sizeof(float));
    if (!row) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < H; h++)
        for (int64_t d = 0; d < nope; d++) {
            k->to_float((const char *)kv_b.data + (size_t)(h * (nope + vd) + d) * kv_b.row_bytes, row, c);
            for (int64_t j = 0; j < c; j++) k_b[(h * c + j) * nope + d] = row[j];
        }
    free(row);
    ly->wk_b = (seek_weight){k_b, SEEK_TYPE_F32, {nope, c, H, 1}, (size_t)nope * 4, (size_t)(nope * c) * 4, "attn_k_b (from attn_kv_b)", NULL, NULL};
    ly->wv_b = kv_b;
    ly->wv_b.data = (const char *)kv_b.data + (size_t)nope * kv_b.row_bytes;
    ly->wv_b.ne[1] = vd;
    ly->wv_b.ne[2] = H;
    ly->wv_b.mat_bytes = (size_t)(nope + vd) * kv_b.row_bytes;
    return SEEK_OK;
}

static seek_status bind_layer(loader *L, int64_t il) {
    seek_model *m = L->m;
    seek_hparams *hp = &m->hp;
    seek_layer *ly = &m->layers[il];
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const bool bias = m->arch == SEEK_ARCH_QWEN2;
    char n[80];
    seek_status st;
#define NAME(suffix) snprintf(n, sizeof n, "blk.%lld." suffix, (long long)il)
#define BIND3(field, suffix, ne0, ne1, ne2, req)                        \
    NAME(suffix);                                                       \
    if ((st = bind3(L, &ly->field, n, ne0, ne1, ne2, req))) return st;
#define BIND(field, suffix, ne0, ne1, req) BIND3(field, suffix, ne0, ne1, 1, req)
    BIND(attn_norm, "attn_norm.weight", hp->dim, 1, true);
    BIND(ffn_norm, "ffn_norm.weight", hp->dim, 1, true);
    if (hp->mla) {
        const int64_t H = hp->n_head, c = hp->kv_lora;
        BIND(wo, "attn_output.weight", H * hp->head_dim_v, hp->dim, true);
        if (hp->q_lora) {
            BIND(wq_a, "attn_q_a.weight", hp->dim, hp->q_lora, true);
            BIND(q_a_norm, "attn_q_a_norm.weight", hp->q_lora, 1, true);
            BIND(wq_b, "attn_q_b.weight", hp->q_lora, q_dim, true);
        } else {
            BIND(wq, "attn_q.weight", hp->dim, q_dim, true);
        }
        BIND(wkv_a, "attn_kv_a_mqa.weight", hp->dim, c + hp->n_rot, true);
        BIND(kv_a_norm, "attn_kv_a_norm.weight", c, 1, true);
        NAME("attn_k_b.weight");
        if (seek_gguf_tensor(m->gguf, n)) {
            BIND3(wk_b, "attn_k_b.weight", hp->head_dim_nope, c, H, true);
            BIND3(wv_b, "attn_v_b.weight", c, hp->head_dim_v, H, true);
        } else if ((st = bind_legacy_kv_b(L, ly, il, m->owned_f32 + il * H * c * hp->head_dim_nope))) {
            return st;
        }
    } else {
        BIND(wq, "attn_q.weight", hp->dim, q_dim, true);
        BIND(wk, "attn_k.weight", hp->dim, kv_dim, true);
        BIND(wv, "attn_v.weight", hp->dim, kv_dim, true);
        BIND(bq, "attn_q.bias", q_dim, 1, bias);
        BIND(bk, "attn_k.bias", kv_dim, 1, bias);
        BIND(bv, "attn_v.bias", kv_dim, 1, bias);
        BIND(wo, "attn_output.weight", q_dim, hp->dim, true);
    }
    NAME("ffn_gate_inp.weight");
    ly->moe = hp->moe.n_expert > 0 && seek_gguf_tensor(m->gguf, n) != NULL;
    if (ly->moe) {
        const int64_t E = hp->moe.n_expert, ff = hp->n_ff_exp;
        BIND(gate_inp, "ffn_gate_inp.weight", hp->dim, E, true);
        BIND(exp_probs_b, "exp_probs_b.bias", E, 1, false);
        BIND3(gate_exps, "ffn_gate_exps.weight", hp->dim, ff, E, true);
        BIND3(up_exps, "ffn_up_exps.weight", hp->dim, ff, E, true);
        BIND3(down_exps, "ffn_down_exps.weight", ff, hp->dim, E, true);
        BIND(gate_shexp, "ffn_gate_shexp.weight", hp->dim, hp->n_ff_shexp, hp->n_ff_shexp > 0);
        BIND(up_shexp, "ffn_up_shexp.weight", hp->dim, hp->n_ff_shexp, hp->n_ff_shexp > 0);
        BIND(down_shexp, "ffn_down_shexp.weight", hp->n_ff_shexp, hp->dim, hp->n_ff_shexp > 0);
        /* a token reads the router, the shared experts and n_used of the routed ones */
        const size_t exps = (size_t)E * (ly->gate_exps.mat_bytes + ly->up_exps.mat_bytes + ly->down_exps.mat_bytes);
        L->unread_bytes += exps - exps / (size_t)E * (size_t)hp->moe.n_used;
        if (ly->gate_inp.type != SEEK_TYPE_F32 || (ly->exp_probs_b.data && ly->exp_probs_b.type != SEEK_TYPE_F32))
            return seek_errorf(SEEK_ERR_UNSUPPORTED, "blk.%lld: the router (ffn_gate_inp, exp_probs_b) must be f32", (long long)il);
    } else {
        BIND(w_gate, "ffn_gate.weight", hp->dim, hp->n_ff, true);
        BIND(w_up, "ffn_up.weight", hp->dim, hp->n_ff, true);
        BIND(w_down, "ffn_down.weight", hp->n_ff, hp->dim, true);
    }
#undef BIND
#undef BIND3
#undef NAME
    /* vectors used by float kernels must be F32 */
    const seek_weight *vecs[] = {&ly->attn_norm, &ly->ffn_norm, &ly->bq, &ly->bk, &ly->bv, &ly->q_a_norm, &ly->kv_a_norm};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        if (vecs[i]->data && vecs[i]->type != SEEK_TYPE_F32)
            return seek_errorf(SEEK_ERR_UNSUPPORTED, "tensor '%s' must be f32, not %s", vecs[i]->name,
                               seek_dtype_name(vecs[i]->type));
    return SEEK_OK;
}

/* deepseek2: MLA dimensions, in llama.cpp's MLA layout (head_count_kv 1, key_length_mla) or the
 * older one (head_count_kv = head_count, key_length = nope + rope), and YaRN's attention scale. */
static seek_status read_mla(loader *L) {
    seek_hparams *hp = &L->m->hp;
    seek_status st;
    int64_t k_mla = 0;
    hp->mla = true;
    if ((st = need_u64(L, "attention.kv_lora_rank", &hp->kv_lora))) return st;
    opt_u64(L, "attention.q_lora_rank", &hp->q_lora);
    opt_u64(L, "attention.key_length_mla", &k_mla);
    if (k_mla) {
        hp->head_dim = k_mla;
        if ((st = need_u64(L, "attention.value_length_mla", &hp->head_dim_v))) return st;
    } else if ((st = need_u64(L, "attention.value_length", &hp->head_dim_v))) {
        return st;
    }
    hp->head_dim_nope = hp->head_dim - hp->n_rot;
    if (hp->head_dim_nope <= 0 || hp->kv_lora > 65536 || hp->head_dim_v > 4096)
        return seek_errorf(SEEK_ERR_FORMAT, "MLA dimensions (key %lld, rope %lld, value %lld, kv_lora %lld) do not fit together",
                           (long long)hp->head_dim, (long long)hp->n_rot, (long long)hp->head_dim_v, (long long)hp->kv_lora);
    hp->n_head_kv = 1; /* one latent "head" shared by all query heads */
    hp->kq_scale = 1.0f / sqrtf((float)hp->head_dim);
    if (hp->rope_scaling == SEEK_ROPE_SCALING_YARN) {
        /* softmax scale * mscale^2, mscale = 1 + 0.1 * mscale_all_dim * ln(factor); cos/sin stay
         * unscaled (DeepSeek's mscale / mscale_all_dim ratio is 1 in every released config) */
        float log_mul = 0;
        opt_f32(L, "rope.scaling.yarn_log_multiplier", &log_mul);
        float ms = 1.0f + log_mul * logf(hp->rope_scale);
        hp->kq_scale *= ms * ms;
        hp->yarn_attn_factor = 1.0f / (1.0f + 0.1f * logf(hp->rope_scale));
    }
    return SEEK_OK;
}

static bool opt_bool(loader *L, const char *suffix, bool dflt) {
    char key[128];
    bool v;
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    return seek_gguf_get_bool(L->m->gguf, key, &v) ? v : dflt;
}

/* seek arch (models from seek train): ALiBi slopes (Press et al.: 2^(-8(h+1)/n) for the largest
 * power of two n <= heads, then every other slope of 2n heads) and the sliding window. */
static seek_status read_seek_attention(loader *L) {
    seek_hparams *hp = &L->m->hp;
    int64_t w = 0;
    opt_u64(L, "attention.sliding_window", &w);
    if (w < 0 || w > (1 << 30)) return seek_errorf(SEEK_ERR_FORMAT, "seek.attention.sliding_window %lld is out of range", (long long)w);
    hp->window = (int32_t)w;
    int64_t xm = 0, xs = 0;
    opt_u64(L, "attention.xl_memory", &xm);
    opt_u64(L, "attention.xl_segment", &xs);
    if (xm < 0 || xm > (1 << 30) || xs < 0 || xs > (1 << 30) || (xm > 0) != (xs > 0))
        return seek_errorf(SEEK_ERR_FORMAT, "seek.attention.xl_memory %lld / xl_segment %lld are out of range", (long long)xm,
                           (long long)xs);
    hp->xl_mem = (int32_t)xm;
    hp->xl_seg = (int32_t)xs;
    if (!opt_bool(L, "attention.alibi", false)) return SEEK_OK;
    if (!(hp->alibi = malloc((size_t)hp->n_head * sizeof(float)))) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    int64_t pw = 1;
    while (pw * 2 <= hp->n_head) pw *= 2;
    for (int64_t h = 0; h < hp->n_head; h++)
        hp->alibi[h] = h < pw ? powf(2.0f, -8.0f * (float)(h + 1) / (float)pw) : powf(2.0f, -4.0f * (float)(2 * (h - pw) + 1) / (float)pw);
    return SEEK_OK;
}

/* Mixture-of-experts routing (deepseek, deepseek2). The group score is DeepSeek's: the max of the
 * group for softmax routing (V2 group_limited_greedy), the sum of its top 2 for sigmoid (V3). */
static seek_status read_moe(loader *L) {
    seek_hparams *hp = &L->m->hp;
    seek_moe_cfg *c = &hp->moe;
    int64_t v = 0;
    seek_status st;
    opt_u64(L, "expert_count", &v);
    if (!v) return SEEK_OK;
    int64_t used, shared = 0, gating = 1, groups = 1, groups_used = 1;
    if ((st = need_u64(L, "expert_used_count", &used)) || (st = need_u64(L, "expert_feed_forward_length", &hp->n_ff_exp))) return st;
    opt_u64(L, "expert_shared_count", &shared);
    opt_u64(L, "leading_dense_block_count", &hp->n_layer_dense);
    opt_u64(L, "expert_gating_func", &gating);
    opt_u64(L, "expert_group_count", &groups);
    opt_u64(L, "expert_group_used_count", &groups_used);
    if (v > 4096 || used > v || used > 64 || groups > v || v % groups || groups_used > groups ||
        used > groups_used * (v / groups) || gating > 2 || shared > 64)
        return seek_errorf(SEEK_ERR_FORMAT, "expert routing: %lld experts, %lld used, %lld groups (%lld used), gating %lld do not fit",
                           (long long)v, (long long)used, (long long)groups, (long long)groups_used, (long long)gating);
    c->n_expert = (int32_t)v;
    c->n_used = (int32_t)used;
    c->n_group = (int32_t)groups;
    c->n_group_used = (int32_t)groups_used;
    c->sigmoid = gating == 2;
    c->group_top2 = c->sigmoid;
    c->norm = opt_bool(L, "expert_weights_norm", false);
    c->scale = 1.0f;
    opt_f32(L, "expert_weights_scale", &c->scale);
    if (!(c->scale > 0)) c->scale = 1.0f;
    hp->n_ff_shexp = hp->n_ff_exp * shared;
    return SEEK_OK;
}

/* MTP modules, when the file has them (a missing one drops them all: n_mtp = 0). */
static seek_status bind_mtp(loader *L) {
    seek_model *m = L->m;
    seek_hparams *hp = &m->hp;
    char n[96];
    snprintf(n, sizeof n, "blk.%lld.nextn.eh_proj.weight", (long long)hp->n_layer);
    if (!hp->n_mtp || !seek_gguf_tensor(m->gguf, n)) {
        hp->n_mtp = 0;
        return SEEK_OK;
    }
    if (!(m->mtp = calloc((size_t)hp->n_mtp, sizeof *m->mtp))) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    const size_t main_bytes = m->weight_bytes, main_unread = L->unread_bytes;
    seek_status st = SEEK_OK;
    for (int64_t i = 0; i < hp->n_mtp && !st; i++) {
        const long long il = (long long)(hp->n_layer + i);
        seek_mtp *t = &m->mtp[i];
        if ((st = bind_layer(L, il))) break;
        snprintf(n, sizeof n, "blk.%lld.nextn.eh_proj.weight", il);
        if ((st = bind(L, &t->eh_proj, n, 2 * hp->dim, hp->dim, true))) break;
        snprintf(n, sizeof n, "blk.%lld.nextn.enorm.weight", il);
        if ((st = bind(L, &t->enorm, n, hp->dim, 1, true))) break;
        snprintf(n, sizeof n, "blk.%lld.nextn.hnorm.weight", il);
        if ((st = bind(L, &t->hnorm, n, hp->dim, 1, true))) break;
        snprintf(n, sizeof n, "blk.%lld.nextn.shared_head_norm.weight", il);
        st = bind(L, &t->head_norm, n, hp->dim, 1, true);
    }
    L->unread_bytes = main_unread + (m->weight_bytes - main_bytes); /* decoding reads none of them */
    return st;
}

static seek_status read_hparams(loader *L) {
    seek_model *m = L->m;
    seek_hparams *hp = &m->hp;
    seek_status st;
    if ((st = need_u64(L, "embedding_length", &hp->dim)) || (st = need_u64(L, "block_count", &hp->n_layer)) ||
        (st = need_u64(L, "feed_forward_length", &hp->n_ff)) || (st = need_u64(L, "attention.head_count", &hp->n_head)))
        return st;
    if (hp->n_layer > 4096) return seek_errorf(SEEK_ERR_FORMAT, "block_count %lld is out of range", (long long)hp->n_layer);
    /* block_count counts multi-token-prediction layers too (llama.cpp's nextn convention) */
    opt_u64(L, "nextn_predict_layers", &hp->n_mtp);
    if (hp->n_mtp >= hp->n_layer) return seek_errorf(SEEK_ERR_FORMAT, "nextn_predict_layers %lld leaves no layers", (long long)hp->n_mtp);
    hp->n_layer -= hp->n_mtp;
    hp->n_head_kv = hp->n_head;
    opt_u64(L, "attention.head_count_kv", &hp->n_head_kv);
    hp->n_ctx_train = 2048;
    opt_u64(L, "context_length", &hp->n_ctx_train);
    hp->head_dim = hp->dim / hp->n_head;
    opt_u64(L, "attention.key_length", &hp->head_dim);
    if (hp->n_head % hp->n_head_kv != 0)
        return seek_errorf(SEEK_ERR_FORMAT, "head_count %lld is not a multiple of head_count_kv %lld", (long long)hp->n_head,
                           (long long)hp->n_head_kv);
    if (hp->head_dim % 2 != 0 || hp->head_dim > 1024)
        return seek_errorf(SEEK_ERR_FORMAT, "head dimension %lld is not supported", (long long)hp->head_dim);
    hp->rms_eps = 1e-5f;
    opt_f32(L, "attention.layer_norm_rms_epsilon", &hp->rms_eps);
    hp->rope_base = 10000.0f;
    opt_f32(L, "rope.freq_base", &hp->rope_base);
    hp->n_rot = hp->head_dim;
    opt_u64(L, "rope.dimension_count", &hp->n_rot);
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return seek_errorf(SEEK_ERR_FORMAT, "rope.dimension_count %lld does not fit head dimension %lld", (long long)hp->n_rot,
                           (long long)hp->head_dim);
    hp->rope_type = m->arch == SEEK_ARCH_QWEN2 ? SEEK_ROPE_NEOX : SEEK_ROPE_NORM; /* deepseek*: NORM (interleaved pairs) */
    /* rope scaling: "none" | "linear" | "yarn" (older files: rope.scale_linear) */
    char key[128];
    gguf_str s;
    hp->rope_scale = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->arch);
    if (seek_gguf_get_str(m->gguf, key, &s)) {
        if (gguf_str_eq(s, "linear")) hp->rope_scaling = SEEK_ROPE_SCALING_LINEAR;
        else if (gguf_str_eq(s, "yarn")) hp->rope_scaling = SEEK_ROPE_SCALING_YARN;
        else if (!gguf_str_eq(s, "none")) {
            char v[32];
            return seek_errorf(SEEK_ERR_UNSUPPORTED, "rope scaling type '%s' is not supported", gguf_str_copy(s, v, sizeof v));
        }
    }
    opt_f32(L, "rope.scaling.factor", &hp->rope_scale);
    float lin = 0;
    opt_f32(L, "rope.scale_linear", &lin);
    if (lin > 0 && hp->rope_scaling == SEEK_ROPE_SCALING_NONE) {
        hp->rope_scaling = SEEK_ROPE_SCALING_LINEAR;
        hp->rope_scale = lin;
    }
    if (hp->rope_scaling != SEEK_ROPE_SCALING_NONE && !(hp->rope_scale > 0))
        return seek_errorf(SEEK_ERR_FORMAT, "rope.scaling.factor must be positive");
    if (hp->rope_scaling == SEEK_ROPE_SCALING_NONE) hp->rope_scale = 1.0f;
    hp->rope_orig_ctx = hp->n_ctx_train;
    opt_u64(L, "rope.scaling.original_context_length", &hp->rope_orig_ctx);
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    hp->yarn_ext_factor = hp->rope_scaling == SEEK_ROPE_SCALING_YARN ? 1.0f : 0.0f;
    hp->yarn_attn_factor = 1.0f;
    opt_f32(L, "rope.scaling.yarn_beta_fast", &hp->yarn_beta_fast);
    opt_f32(L, "rope.scaling.yarn_beta_slow", &hp->yarn_beta_slow);
    opt_f32(L, "rope.scaling.yarn_ext_factor", &hp->yarn_ext_factor);
    opt_f32(L, "rope.scaling.attn_factor", &hp->yarn_attn_factor);
    hp->kq_scale = 1.0f / sqrtf((float)hp->head_dim);
    if (m->arch == SEEK_ARCH_DEEPSEEK2 && (st = read_mla(L))) return st;
    if (m->arch == SEEK_ARCH_SEEK && (st = read_seek_attention(L))) return st;
    return read_moe(L);
}

/* Repacks the matmul weights whose type has a packed kernel (quant.h) into one buffer, in the
 * layout that kernel reads fastest; the forward pass then reads them there. The file's pages of
 * those tensors are handed back to the kernel (they stay mapped and readable, for the few rows
 * an embedding lookup reads), so resident memory stays about the file's size. Only for files
 * mapped from disk, and not with SEEK_REPACK=0 (for comparing against the unpacked kernels);
 * results are bit for bit the same either way. Nothing happens when memory is short. */
static void repack_weights(seek_model *m) {
    const char *env = getenv("SEEK_REPACK");
    if (!m->gguf->mapped || (env && strcmp(env, "0") == 0)) return;
    enum { PER_LAYER = 16 };
    const int64_t n_cand = m->hp.n_layer * PER_LAYER + 1;
    seek_weight **ws = malloc((size_t)n_cand * sizeof *ws);
    if (!ws) return;
    /* the weights op_matmul reads: the output matrix, then each layer's */
    int64_t nc = 0;
    ws[nc++] = &m->output;
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        seek_layer *L = &m->layers[il];
        seek_weight *lw[PER_LAYER] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down, &L->wq_a, &L->wq_b,
                                      &L->wkv_a, &L->gate_exps, &L->up_exps, &L->down_exps, &L->gate_shexp, &L->up_shexp,
                                      &L->down_shexp};
        memcpy(ws + nc, lw, sizeof lw);
        nc += PER_LAYER;
    }
    /* ... of them, those a packed kernel takes */
    int64_t nw = 0;
    size_t total = 0;
    for (int64_t i = 0; i < nc; i++) {
        seek_weight *w = ws[i];
        const seek_type_kernels *k = w->data ? seek_kernels(w->type) : NULL;
        if (!k || !k->repack || !k->gemm_packed || w->ne[1] % k->repack_rows) continue;
        ws[nw++] = w;
        total += w->mat_bytes * (size_t)w->ne[2];
    }
    uint8_t *buf = total ? seek_big_alloc(total) : NULL; /* huge pages where possible: fewer TLB misses */
    size_t off = 0;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int64_t i = 0; buf && i < nw; i++) {
        seek_weight *w = ws[i];
        const seek_type_kernels *k = seek_kernels(w->type);
        bool ok = true;
        for (int64_t e = 0; e < w->ne[2] && ok; e++)
            ok = k->repack(w->ne[0], w->ne[1], buf + off + (size_t)e * w->mat_bytes, (const char *)w->data + (size_t)e * w->mat_bytes);
        if (!ok) continue; /* rows this kernel cannot take: the plain kernels read them */
        w->packed = buf + off;
        w->packed_by = k->repack;
        off += w->mat_bytes * (size_t)w->ne[2];
        /* the file's whole pages of this tensor leave resident memory */
        const uintptr_t lo = ((uintptr_t)w->data + page - 1) & ~(page - 1);
        const uintptr_t hi = ((uintptr_t)w->data + w->mat_bytes * (size_t)w->ne[2]) & ~(page - 1);
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    m->packed = buf;
    m->packed_cap = buf ? total : 0;
    m->packed_bytes = off;
    free(ws);
}

seek_status seek_model_load(seek_model **out, const char *path) {
    *out = NULL;
    seek_model *m = calloc(1, sizeof *m);
    if (!m) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    loader L = {.m = m};
    seek_status st;
    if (seek_hf_is_folder(path)) { /* a Hugging Face folder is converted in memory (model/hf.h) */
        seek_gguf_writer *w = seek_gw_new();
        seek_hf_keep *keep = NULL;
        if (!w) st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
        else if ((st = seek_hf_read(w, path, true, &keep))) seek_gw_free(w);
        else st = seek_gguf_from_writer(&m->gguf, w);
        m->hf_keep = keep;
    } else {
        st = seek_gguf_open(&m->gguf, path);
    }
    if (st) goto fail_quiet;
    gguf_str a;
    if (!seek_gguf_get_str(m->gguf, "general.architecture", &a)) {
        st = seek_errorf(SEEK_ERR_FORMAT, "missing metadata key 'general.architecture'");
        goto fail;
    }
    gguf_str_copy(a, L.arch, sizeof L.arch);
    m->arch = SEEK_ARCH_COUNT;
    for (int i = 0; i < SEEK_ARCH_COUNT; i++)
        if (strcmp(L.arch, arch_names[i]) == 0) m->arch = (seek_arch)i;
    if (m->arch == SEEK_ARCH_COUNT) {
        st = seek_errorf(SEEK_ERR_UNSUPPORTED, "unknown architecture '%s' (seek runs: llama, qwen2, deepseek, deepseek2)", L.arch);
        goto fail;
    }
    gguf_str nm;
    if (seek_gguf_get_str(m->gguf, "general.name", &nm)) gguf_str_copy(nm, m->name, sizeof m->name);
    if ((st = read_hparams(&L))) goto fail;
    if ((st = seek_tokenizer_load(&m->tok, m->gguf))) goto fail;
    seek_hparams *hp = &m->hp;
    hp->n_vocab = seek_tokenizer_n_vocab(m->tok);
    if ((st = bind(&L, &m->tok_embd, "token_embd.weight", hp->dim, hp->n_vocab, true))) goto fail;
    if ((st = bind(&L, &m->output_norm, "output_norm.weight", hp->dim, 1, true))) goto fail;
    if ((st = bind(&L, &m->output, "output.weight", hp->dim, hp->n_vocab, false))) goto fail;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    if ((st = bind(&L, &m->rope_freqs, "rope_freqs.weight", hp->n_rot / 2, 1, false))) goto fail;
    if (m->output_norm.type != SEEK_TYPE_F32 || (m->rope_freqs.data && m->rope_freqs.type != SEEK_TYPE_F32)) {
        st = seek_errorf(SEEK_ERR_UNSUPPORTED, "output_norm / rope_freqs must be f32");
        goto fail;
    }
    m->layers = calloc((size_t)(hp->n_layer + hp->n_mtp), sizeof *m->layers);
    if (!m->layers) {
        st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (hp->mla && !seek_gguf_tensor(m->gguf, "blk.0.attn_k_b.weight")) { /* legacy kv_b: room for the derived W_UK */
        m->owned_f32 = malloc((size_t)(hp->n_layer * hp->n_head * hp->kv_lora * hp->head_dim_nope) * sizeof(float));
        if (!m->owned_f32) {
            st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    for (int64_t il = 0; il < hp->n_layer; il++)
        if ((st = bind_layer(&L, il))) goto fail;
    if ((st = bind_mtp(&L))) goto fail;
    m->active_bytes = m->weight_bytes - L.unread_bytes;
    gguf_str tmpl = {0};
    char *tmpl_c = NULL;
    if (seek_gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl)) {
        tmpl_c = malloc(tmpl.len + 1);
        if (tmpl_c) gguf_str_copy(tmpl, tmpl_c, tmpl.len + 1);
    }
    m->chat = seek_chat_detect(tmpl_c, &m->chat_unknown);
    m->chat_template = tmpl_c;
    repack_weights(m);
    *out = m;
    return SEEK_OK;
fail:;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", seek_last_error());
    seek_errorf(st, "%s: %s", path, msg);
fail_quiet:
    seek_model_free(m);
    return st;
}

void seek_model_free(seek_model *m) {
    if (!m) return;
    if (m->tok) seek_tokenizer_free(m->tok);
    free(m->layers);
    free(m->mtp);
    free(m->chat_template);
    free(m->owned_f32);
    seek_big_free(m->packed, m->packed_cap);
    free(m->hp.alibi);
    seek_gguf_close(m->gguf);
    seek_hf_keep_free(m->hf_keep);
    free(m);
}

int64_t seek_model_n_params(const seek_model *m) {
    int64_t n = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor *t = &m->gguf->tensors[i];
        n += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    return n;
}

int64_t seek_model_kv_floats(const seek_model *m) {
    const seek_hparams *hp = &m->hp;
    return hp->n_layer * (hp->mla ? hp->kv_lora + hp->n_rot : 2 * hp->n_head_kv * hp->head_dim);
}

static bool file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

bool seek_default_model_path(char *buf, size_t n) {
    const char *env = getenv("SEEK_MODEL");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return file_exists(buf);
    }
    snprintf(buf, n, "models/%s", SEEK_DEFAULT_MODEL_NAME);
    if (file_exists(buf)) return true;
    const char *cache = getenv("SEEK_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache) snprintf(buf, n, "%s/%s", cache, SEEK_DEFAULT_MODEL_NAME);
    else snprintf(buf, n, "%s/.cache/seek/%s", home ? home : ".", SEEK_DEFAULT_MODEL_NAME);
    return file_exists(buf);
}
