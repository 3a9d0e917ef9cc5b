/* Hugging Face folder -> GGUF writer (see hf.h): config.json to llama.cpp's metadata keys, and
 * safetensors tensors to llama.cpp's tensor names and layouts, architecture by architecture:
 *   LlamaForCausalLM -> llama, Qwen2ForCausalLM -> qwen2, DeepseekForCausalLM -> deepseek,
 *   DeepseekV2ForCausalLM / DeepseekV3ForCausalLM -> deepseek2 (MLA: kv_b split into k_b, v_b).
 * Layout changes, all as llama.cpp's convert_hf_to_gguf.py makes them:
 *   - llama / deepseek q and k rows are permuted per head from HF's rotate_half halves to ggml's
 *     adjacent pairs (LlamaModel.permute), so the NORM rope applies;
 *   - deepseek2 kv_b_proj [n_head*(nope+v), kv_lora] becomes attn_k_b {nope, kv_lora, n_head}
 *     (each head's K part transposed) and attn_v_b {kv_lora, v, n_head};
 *   - experts (per-expert tensors, or transformers v5's fused gate_up_proj / down_proj) are
 *     stacked into ffn_{gate,up,down}_exps {in, out, n_expert};
 *   - vectors (norms, biases, the router's bias) and the router weight become F32.
 * FP8 E4M3 weights are dequantized with their weight_scale_inv blocks to BF16 (what DeepSeek's
 * fp8_cast_bf16.py produces). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "format/safetensors.h"
#include "model/hf.h"

struct seek_hf_keep {
    seek_st_set *st;
};

void seek_hf_keep_free(seek_hf_keep *k) {
    if (!k) return;
    seek_st_set_close(k->st);
    free(k);
}

bool seek_hf_is_folder(const char *path) {
    struct stat sb;
    char cfg[4096];
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return false;
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    return stat(cfg, &sb) == 0;
}

typedef enum { HF_LLAMA, HF_QWEN2, HF_DEEPSEEK, HF_DEEPSEEK2 } hf_family;

typedef struct {
    const char *dir;
    const json_t *cfg;
    seek_gguf_writer *w;
    seek_st_set *st;
    hf_family fam;
    const char *arch; /* GGUF architecture name */
    int64_t dim, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab;
    int64_t q_lora, kv_lora, nope, rope, v_dim;     /* deepseek2 */
    int64_t n_expert, n_expert_used, n_shared, n_ff_exp, first_dense, moe_freq;
    int64_t fp8_block;                              /* weight_block_size (0: no FP8 weights) */
    bool permute_qk;
} hfx;

/* ---- config.json ---- */

static seek_status cfg_need(hfx *x, const char *key, int64_t *out) {
    const json_t *v = json_object_get(x->cfg, key);
    if (!json_is_integer(v))
        return seek_errorf(SEEK_ERR_FORMAT, "%s/config.json: field '%s' is %s", x->dir, key, v ? "not an integer" : "missing");
    if (json_integer_value(v) <= 0 || json_integer_value(v) > (1ll << 32))
        return seek_errorf(SEEK_ERR_FORMAT, "%s/config.json: field '%s' = %lld is out of range", x->dir, key,
                           (long long)json_integer_value(v));
    *out = json_integer_value(v);
    return SEEK_OK;
}

static int64_t cfg_int(const json_t *o, const char *key, int64_t dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : dflt;
}

static double cfg_num(const json_t *o, const char *key, double dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static bool cfg_bool(const json_t *o, const char *key, bool dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static const char *cfg_str(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static void key_u32(hfx *x, const char *suffix, int64_t v) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", x->arch, suffix);
    seek_gw_u32(x->w, k, (uint32_t)v);
}

static void key_f32(hfx *x, const char *suffix, double v) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", x->arch, suffix);
    seek_gw_f32(x->w, k, (float)v);
}

static void key_str(hfx *x, const char *suffix, const char *v) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", x->arch, suffix);
    seek_gw_str(x->w, k, v);
}

static seek_status read_arch(hfx *x) {
    static const struct { const char *cls; hf_family fam; const char *arch; } archs[] = {
        {"LlamaForCausalLM", HF_LLAMA, "llama"},
        {"Qwen2ForCausalLM", HF_QWEN2, "qwen2"},
        {"DeepseekForCausalLM", HF_DEEPSEEK, "deepseek"},
        {"DeepseekV2ForCausalLM", HF_DEEPSEEK2, "deepseek2"},
        {"DeepseekV3ForCausalLM", HF_DEEPSEEK2, "deepseek2"},
    };
    const char *cls = json_string_value(json_array_get(json_object_get(x->cfg, "architectures"), 0));
    if (!cls) return seek_errorf(SEEK_ERR_FORMAT, "%s/config.json: field 'architectures' is missing", x->dir);
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (!strcmp(cls, archs[i].cls)) {
            x->fam = archs[i].fam;
            x->arch = archs[i].arch;
            return SEEK_OK;
        }
    return seek_errorf(SEEK_ERR_UNSUPPORTED,
                       "%s/config.json: architecture '%s' is not supported (LlamaForCausalLM, Qwen2ForCausalLM, "
                       "DeepseekForCausalLM, DeepseekV2ForCausalLM, DeepseekV3ForCausalLM)", x->dir, cls);
}

/* rope_parameters (transformers v5) or rope_scaling + rope_theta (v4 and the hub configs). */
static seek_status read_rope(hfx *x, int64_t n_rot) {
    const json_t *rp = json_object_get(x->cfg, "rope_parameters");
    if (!json_is_object(rp)) rp = json_object_get(x->cfg, "rope_scaling");
    double theta = cfg_num(rp, "rope_theta", cfg_num(x->cfg, "rope_theta", 10000.0));
    key_f32(x, "rope.freq_base", theta);
    key_u32(x, "rope.dimension_count", n_rot);
    const char *type = cfg_str(rp, "rope_type");
    if (!type) type = cfg_str(rp, "type");
    if (!type || !strcmp(type, "default")) return SEEK_OK;
    double factor = cfg_num(rp, "factor", 1.0);
    if (!(factor > 0)) return seek_errorf(SEEK_ERR_FORMAT, "%s/config.json: rope factor must be positive", x->dir);
    if (!strcmp(type, "linear")) {
        key_str(x, "rope.scaling.type", "linear");
        key_f32(x, "rope.scaling.factor", factor);
    } else if (!strcmp(type, "yarn")) {
        key_str(x, "rope.scaling.type", "yarn");
        key_f32(x, "rope.scaling.factor", factor);
        key_u32(x, "rope.scaling.original_context_length", cfg_int(rp, "original_max_position_embeddings", 4096));
        if (json_object_get(rp, "beta_fast")) key_f32(x, "rope.scaling.yarn_beta_fast", cfg_num(rp, "beta_fast", 32));
        if (json_object_get(rp, "beta_slow")) key_f32(x, "rope.scaling.yarn_beta_slow", cfg_num(rp, "beta_slow", 1));
        if (x->fam == HF_DEEPSEEK2) key_f32(x, "rope.scaling.yarn_log_multiplier", 0.1 * cfg_num(rp, "mscale_all_dim", 0));
    } else if (!strcmp(type, "llama3")) {
        /* per-dimension divisors as a rope_freqs tensor (convert_hf_to_gguf generate_extra_tensors) */
        double lo = cfg_num(rp, "low_freq_factor", 1), hi = cfg_num(rp, "high_freq_factor", 4);
        double orig = (double)cfg_int(rp, "original_max_position_embeddings", 8192);
        float *ff = malloc((size_t)(n_rot / 2) * sizeof(float));
        if (!ff) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < n_rot / 2; i++) {
            double freq = 1.0 / pow(theta, 2.0 * (double)i / (double)n_rot), wavelen = 2 * M_PI / freq;
            if (wavelen < orig / hi) ff[i] = 1.0f;
            else if (wavelen > orig / lo) ff[i] = (float)factor;
            else {
                double smooth = (orig / wavelen - lo) / (hi - lo);
                ff[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
            }
        }
        int64_t ne[1] = {n_rot / 2};
        return seek_gw_tensor(x->w, "rope_freqs.weight", SEEK_TYPE_F32, 1, ne, ff, true);
    } else {
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "%s/config.json: rope type '%s' is not supported (linear, yarn, llama3)", x->dir, type);
    }
    return SEEK_OK;
}

static seek_status read_config(hfx *x) {
    seek_status st;
    if ((st = read_arch(x)) || (st = cfg_need(x, "hidden_size", &x->dim)) || (st = cfg_need(x, "num_hidden_layers", &x->n_layer)) ||
        (st = cfg_need(x, "num_attention_heads", &x->n_head)) || (st = cfg_need(x, "vocab_size", &x->n_vocab)) ||
        (st = cfg_need(x, "intermediate_size", &x->n_ff)))
        return st;
    x->n_head_kv = cfg_int(x->cfg, "num_key_value_heads", x->n_head);
    x->head_dim = cfg_int(x->cfg, "head_dim", x->dim / x->n_head);
    if (x->n_head_kv <= 0 || x->n_head % x->n_head_kv)
        return seek_errorf(SEEK_ERR_FORMAT, "%s/config.json: num_key_value_heads %lld does not divide num_attention_heads", x->dir,
                           (long long)x->n_head_kv);
    const char *name = strrchr(x->dir, '/');
    seek_gw_str(x->w, "general.architecture", x->arch);
    seek_gw_str(x->w, "general.name", name && name[1] ? name + 1 : x->dir);
    key_u32(x, "vocab_size", x->n_vocab);
    key_u32(x, "context_length", cfg_int(x->cfg, "max_position_embeddings", 4096));
    key_u32(x, "embedding_length", x->dim);
    key_u32(x, "feed_forward_length", x->n_ff);
    key_u32(x, "attention.head_count", x->n_head);
    key_f32(x, "attention.layer_norm_rms_epsilon", cfg_num(x->cfg, "rms_norm_eps", 1e-6));
    x->permute_qk = x->fam == HF_LLAMA || x->fam == HF_DEEPSEEK;
    int64_t n_rot = x->head_dim;
    if (x->fam == HF_DEEPSEEK2) {
        if ((st = cfg_need(x, "kv_lora_rank", &x->kv_lora)) || (st = cfg_need(x, "qk_nope_head_dim", &x->nope)) ||
            (st = cfg_need(x, "qk_rope_head_dim", &x->rope)) || (st = cfg_need(x, "v_head_dim", &x->v_dim)))
            return st;
        x->q_lora = cfg_int(x->cfg, "q_lora_rank", 0);
        n_rot = x->rope;
        /* MLA as llama.cpp writes it since PR #12801: one latent "kv head" */
        key_u32(x, "attention.head_count_kv", 1);
        key_u32(x, "attention.key_length", x->kv_lora + x->rope);
        key_u32(x, "attention.value_length", x->kv_lora);
        key_u32(x, "attention.key_length_mla", x->nope + x->rope);
        key_u32(x, "attention.value_length_mla", x->v_dim);
        key_u32(x, "attention.kv_lora_rank", x->kv_lora);
        if (x->q_lora) key_u32(x, "attention.q_lora_rank", x->q_lora);
    } else {
        key_u32(x, "attention.head_count_kv", x->n_head_kv);
        if (x->head_dim != x->dim / x->n_head) {
            key_u32(x, "attention.key_length", x->head_dim);
            key_u32(x, "attention.value_length", x->head_dim);
        }
    }
    if (x->fam == HF_DEEPSEEK || x->fam == HF_DEEPSEEK2) {
        bool v3 = !strcmp(json_string_value(json_array_get(json_object_get(x->cfg, "architectures"), 0)), "DeepseekV3ForCausalLM");
        x->n_expert = cfg_int(x->cfg, "n_routed_experts", 0);
        x->n_expert_used = cfg_int(x->cfg, "num_experts_per_tok", 0);
        x->n_shared = cfg_int(x->cfg, "n_shared_experts", 0);
        x->n_ff_exp = cfg_int(x->cfg, "moe_intermediate_size", 0);
        x->first_dense = cfg_int(x->cfg, "first_k_dense_replace", 0);
        x->moe_freq = cfg_int(x->cfg, "moe_layer_freq", 1);
        if (x->n_expert && (!x->n_expert_used || !x->n_ff_exp || x->n_expert_used > x->n_expert || x->moe_freq < 1))
            return seek_errorf(SEEK_ERR_FORMAT, "%s/config.json: n_routed_experts needs num_experts_per_tok <= it, "
                               "moe_intermediate_size and moe_layer_freq >= 1", x->dir);
        key_u32(x, "leading_dense_block_count", x->first_dense);
        key_u32(x, "expert_count", x->n_expert);
        key_u32(x, "expert_used_count", x->n_expert_used);
        key_u32(x, "expert_shared_count", x->n_shared);
        key_u32(x, "expert_feed_forward_length", x->n_ff_exp);
        key_f32(x, "expert_weights_scale", x->fam == HF_DEEPSEEK ? 1.0 : cfg_num(x->cfg, "routed_scaling_factor", 1.0));
        char k[128];
        snprintf(k, sizeof k, "%s.expert_weights_norm", x->arch);
        seek_gw_bool(x->w, k, cfg_bool(x->cfg, "norm_topk_prob", v3));
        if (x->fam == HF_DEEPSEEK2) {
            const char *sf = cfg_str(x->cfg, "scoring_func");
            key_u32(x, "expert_gating_func", (sf ? !strcmp(sf, "sigmoid") : v3) ? 2 : 1);
            const char *method = cfg_str(x->cfg, "topk_method");
            if (!method) method = v3 ? "noaux_tc" : "greedy";
            if (strcmp(method, "greedy")) {
                key_u32(x, "expert_group_count", cfg_int(x->cfg, "n_group", 1));
                key_u32(x, "expert_group_used_count", cfg_int(x->cfg, "topk_group", 1));
            }
        }
    }
    const json_t *q = json_object_get(x->cfg, "quantization_config");
    if (q) {
        const char *method = cfg_str(q, "quant_method");
        if (!method || strcmp(method, "fp8"))
            return seek_errorf(SEEK_ERR_UNSUPPORTED, "%s/config.json: quantization_config.quant_method '%s' is not supported (fp8)",
                               x->dir, method ? method : "(missing)");
        const json_t *bs = json_object_get(q, "weight_block_size");
        if (json_is_array(bs) && json_array_size(bs) == 2 && json_integer_value(json_array_get(bs, 0)) > 0 &&
            json_integer_value(json_array_get(bs, 0)) == json_integer_value(json_array_get(bs, 1)))
            x->fp8_block = json_integer_value(json_array_get(bs, 0));
        else
            return seek_errorf(SEEK_ERR_UNSUPPORTED, "%s/config.json: quantization_config.weight_block_size must be [B, B]", x->dir);
    }
    return read_rope(x, n_rot);
}

/* ---- tensors ---- */

/* A tensor ready for the writer: held type, data, shape in GGUF order (ne[0] contiguous). */
typedef struct {
    seek_dtype type;
    void *data; /* owned when `owned` */
    bool owned;
    int n_dims;
    int64_t ne[4];
} mat;

static float fp8_e4m3_to_f32(uint8_t b) {
    int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
    float v;
    if (e == 15 && m == 7) v = NAN;
    else if (e == 0) v = ldexpf((float)m / 8.0f, -6);
    else v = ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return s ? -v : v;
}

static size_t type_size(seek_dtype t) { return t == SEEK_TYPE_F32 ? 4 : 2; }

/* Fetches HF tensor `name` (FP8 dequantized to BF16; to F32 when f32 is set). Absent and not
 * required: m->data is NULL. */
static seek_status fetch(hfx *x, const char *name, bool f32, bool required, mat *m) {
    memset(m, 0, sizeof *m);
    const seek_st_tensor *t = seek_st_set_find(x->st, name, NULL);
    if (!t) return required ? seek_errorf(SEEK_ERR_FORMAT, "%s: tensor '%s' is missing", x->dir, name) : SEEK_OK;
    if (t->n_dims < 1 || t->n_dims > 3)
        return seek_errorf(SEEK_ERR_FORMAT, "%s: tensor '%s' has %d dimensions", x->dir, name, t->n_dims);
    m->n_dims = t->n_dims;
    int64_t n = 1;
    for (int d = 0; d < 4; d++) {
        m->ne[d] = d < t->n_dims ? t->shape[t->n_dims - 1 - d] : 1;
        n *= m->ne[d];
    }
    const seek_st_tensor *sc = NULL;
    switch (t->dtype) {
    case SEEK_ST_F32: m->type = SEEK_TYPE_F32; break;
    case SEEK_ST_F16: m->type = SEEK_TYPE_F16; break;
    case SEEK_ST_BF16: m->type = SEEK_TYPE_BF16; break;
    case SEEK_ST_F8_E4M3: {
        char sn[256];
        snprintf(sn, sizeof sn, "%s_scale_inv", name);
        sc = seek_st_set_find(x->st, sn, NULL);
        int64_t B = x->fp8_block ? x->fp8_block : 128, rows = m->ne[1] * m->ne[2];
        if (!sc || sc->dtype != SEEK_ST_F32 || t->n_dims != 2 || sc->n_dims != 2 || sc->shape[0] != (rows + B - 1) / B ||
            sc->shape[1] != (m->ne[0] + B - 1) / B)
            return seek_errorf(SEEK_ERR_FORMAT, "%s: FP8 tensor '%s' needs an F32 '%s' of shape [%lld, %lld]", x->dir, name, sn,
                               (long long)((rows + B - 1) / B), (long long)((m->ne[0] + B - 1) / B));
        m->type = SEEK_TYPE_BF16;
        break;
    }
    default:
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (seek reads F32, F16, BF16, F8_E4M3)", x->dir, name,
                           seek_st_dtype_name(t->dtype));
    }
    if (!sc && (!f32 || m->type == SEEK_TYPE_F32)) { /* the file's bytes as they are */
        if ((uintptr_t)t->data % seek_st_dtype_size(t->dtype) == 0) { /* used in place */
            m->data = (void *)t->data;
            return SEEK_OK;
        }
        /* an old writer left it misaligned for its element type: copied */
        if (!(m->data = malloc((size_t)(t->end - t->begin)))) return seek_errorf(SEEK_ERR_NOMEM, "%s: out of memory", x->dir);
        memcpy(m->data, t->data, (size_t)(t->end - t->begin));
        m->owned = true;
        return SEEK_OK;
    }
    seek_dtype out = f32 ? SEEK_TYPE_F32 : SEEK_TYPE_BF16;
    void *buf = malloc((size_t)n * type_size(out));
    if (!buf) return seek_errorf(SEEK_ERR_NOMEM, "%s: out of memory for '%s'", x->dir, name);
    const int64_t B = x->fp8_block ? x->fp8_block : 128, cols = m->ne[0];
    for (int64_t i = 0; i < n; i++) {
        float v;
        if (sc) {
            float s;
            memcpy(&s, (const float *)sc->data + (i / cols / B) * sc->shape[1] + (i % cols) / B, sizeof s);
            v = fp8_e4m3_to_f32(((const uint8_t *)t->data)[i]) * s;
        } else {
            uint16_t h;
            memcpy(&h, (const uint16_t *)t->data + i, sizeof h);
            v = m->type == SEEK_TYPE_F16 ? seek_f16_to_f32(h) : seek_bf16_to_f32(h);
        }
        if (out == SEEK_TYPE_F32) ((float *)buf)[i] = v;
        else ((seek_bf16 *)buf)[i] = seek_f32_to_bf16(v);
    }
    m->type = out;
    m->data = buf;
    m->owned = true;
    return SEEK_OK;
}

static seek_status emit(hfx *x, const char *gguf_name, mat *m) {
    seek_status st = seek_gw_tensor(x->w, gguf_name, m->type, m->n_dims, m->ne, m->data, m->owned);
    if (st && m->owned) free(m->data);
    m->owned = false;
    return st;
}

/* llama.cpp's LlamaModel.permute: within each head, row i of the first half goes to 2i and row i
 * of the second half to 2i+1 (HF rotate_half halves -> ggml adjacent pairs). */
static seek_status permute_rows(hfx *x, mat *m, int64_t n_heads) {
    const bool vec = m->n_dims == 1; /* a bias: its values are the rows */
    const int64_t rows = vec ? m->ne[0] : m->ne[1], hd = rows / n_heads;
    const size_t rb = (vec ? 1 : (size_t)m->ne[0]) * type_size(m->type);
    if (rows % n_heads || hd % 2) return seek_errorf(SEEK_ERR_FORMAT, "%s: q/k rows %lld do not split into %lld heads", x->dir, (long long)rows, (long long)n_heads);
    char *out = malloc(rb * (size_t)rows);
    if (!out) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < hd / 2; i++) {
            memcpy(out + (size_t)(h * hd + 2 * i) * rb, (char *)m->data + (size_t)(h * hd + i) * rb, rb);
            memcpy(out + (size_t)(h * hd + 2 * i + 1) * rb, (char *)m->data + (size_t)(h * hd + hd / 2 + i) * rb, rb);
        }
    if (m->owned) free(m->data);
    m->data = out;
    m->owned = true;
    return SEEK_OK;
}

enum { T_REQ = 1, T_F32 = 2, T_PERM_Q = 4, T_PERM_K = 8 };

/* One HF tensor to one GGUF tensor. */
static seek_status put(hfx *x, const char *gguf_name, const char *hf_name, int flags) {
    mat m;
    seek_status st = fetch(x, hf_name, flags & T_F32, flags & T_REQ, &m);
    if (st || !m.data) return st;
    if (m.n_dims == 1 && m.type != SEEK_TYPE_F32) { /* vectors are F32 for the float kernels */
        if (m.owned) free(m.data);
        if ((st = fetch(x, hf_name, true, true, &m))) return st;
    }
    if ((flags & (T_PERM_Q | T_PERM_K)) && x->permute_qk &&
        (st = permute_rows(x, &m, flags & T_PERM_Q ? x->n_head : x->n_head_kv))) {
        if (m.owned) free(m.data);
        return st;
    }
    return emit(x, gguf_name, &m);
}

/* kv_b_proj [n_head*(nope+v), kv_lora] -> attn_k_b {nope, kv_lora, n_head} (K part of each head
 * transposed) and attn_v_b {kv_lora, v, n_head} (V part rows). */
static seek_status put_kv_b(hfx *x, int64_t il, const char *hf_name) {
    mat m;
    seek_status st = fetch(x, hf_name, false, true, &m);
    if (st) return st;
    const int64_t H = x->n_head, nope = x->nope, vd = x->v_dim, c = x->kv_lora;
    const size_t es = type_size(m.type);
    if (m.n_dims != 2 || m.ne[0] != c || m.ne[1] != H * (nope + vd)) {
        if (m.owned) free(m.data);
        return seek_errorf(SEEK_ERR_FORMAT, "%s: '%s' has shape [%lld, %lld], expected [%lld, %lld]", x->dir, hf_name,
                           (long long)m.ne[1], (long long)m.ne[0], (long long)(H * (nope + vd)), (long long)c);
    }
    mat k = {m.type, malloc((size_t)(H * nope * c) * es), true, 3, {nope, c, H, 1}};
    mat v = {m.type, malloc((size_t)(H * vd * c) * es), true, 3, {c, vd, H, 1}};
    if (!k.data || !v.data) {
        if (m.owned) free(m.data);
        free(k.data);
        free(v.data);
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    }
    const char *src = m.data;
    for (int64_t h = 0; h < H; h++) {
        for (int64_t d = 0; d < nope; d++)
            for (int64_t j = 0; j < c; j++)
                memcpy((char *)k.data + ((h * c + j) * nope + d) * es, src + ((h * (nope + vd) + d) * c + j) * es, es);
        memcpy((char *)v.data + (size_t)(h * vd * c) * es, src + (size_t)((h * (nope + vd) + nope) * c) * es, (size_t)(vd * c) * es);
    }
    if (m.owned) free(m.data);
    char n[80];
    snprintf(n, sizeof n, "blk.%lld.attn_k_b.weight", (long long)il);
    if ((st = emit(x, n, &k))) {
        free(v.data);
        return st;
    }
    snprintf(n, sizeof n, "blk.%lld.attn_v_b.weight", (long long)il);
    return emit(x, n, &v);
}

/* Routed experts of layer il stacked into ffn_{gate,up,down}_exps {in, out, n_expert}, from
 * per-expert tensors (mlp.experts.E.gate_proj.weight) or transformers v5's fused parameters
 * (mlp.experts.gate_up_proj [E, 2I, H] with gate first, mlp.experts.down_proj [E, H, I]). */
static seek_status put_experts(hfx *x, int64_t il) {
    static const char *parts[3] = {"gate", "up", "down"};
    const int64_t E = x->n_expert, I = x->n_ff_exp, H = x->dim;
    char hn[256], gn[80];
    snprintf(hn, sizeof hn, "model.layers.%lld.mlp.experts.gate_up_proj", (long long)il);
    bool fused = seek_st_set_find(x->st, hn, NULL) != NULL;
    for (int p = 0; p < 3; p++) {
        const int64_t in = p == 2 ? I : H, out = p == 2 ? H : I;
        mat all = {SEEK_TYPE_COUNT, NULL, true, 3, {in, out, E, 1}};
        seek_status st = SEEK_OK;
        for (int64_t e = 0; e < (fused ? 1 : E) && !st; e++) {
            mat m;
            if (fused) snprintf(hn, sizeof hn, "model.layers.%lld.mlp.experts.%s", (long long)il, p == 2 ? "down_proj" : "gate_up_proj");
            else snprintf(hn, sizeof hn, "model.layers.%lld.mlp.experts.%lld.%s_proj.weight", (long long)il, (long long)e, parts[p]);
            if ((st = fetch(x, hn, false, true, &m))) break;
            const int64_t want_out = fused && p < 2 ? 2 * I : out;
            if (m.ne[0] != in || m.ne[1] != want_out || m.ne[2] != (fused ? E : 1))
                st = seek_errorf(SEEK_ERR_FORMAT, "%s: '%s' has the wrong shape for %lld experts of %lld x %lld", x->dir, hn,
                                 (long long)E, (long long)out, (long long)in);
            if (!st && !all.data) {
                all.type = m.type;
                if (!(all.data = malloc((size_t)(in * out * E) * type_size(m.type)))) st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
            }
            if (!st && m.type != all.type) st = seek_errorf(SEEK_ERR_FORMAT, "%s: experts of layer %lld mix dtypes", x->dir, (long long)il);
            const size_t mat_bytes = (size_t)(in * out) * type_size(all.type);
            if (!st && !fused) memcpy((char *)all.data + (size_t)e * mat_bytes, m.data, mat_bytes);
            for (int64_t f = 0; !st && fused && f < E; f++) /* gate: rows 0..I-1 of each expert, up: I..2I-1 */
                memcpy((char *)all.data + (size_t)f * mat_bytes,
                       (char *)m.data + (size_t)(f * want_out + (p == 1 ? I : 0)) * (size_t)in * type_size(all.type), mat_bytes);
            if (m.owned) free(m.data);
        }
        if (st) {
            free(all.data);
            return st;
        }
        snprintf(gn, sizeof gn, "blk.%lld.ffn_%s_exps.weight", (long long)il, parts[p]);
        if ((st = emit(x, gn, &all))) return st;
    }
    return SEEK_OK;
}

static bool is_moe_layer(const hfx *x, int64_t il) {
    return x->n_expert > 0 && il >= x->first_dense && il % x->moe_freq == 0;
}

static seek_status put_layer(hfx *x, int64_t il) {
    char hf[256], gg[80];
    seek_status st;
#define PUT(gguf_suffix, hf_suffix, flags)                                                     \
    do {                                                                                       \
        snprintf(gg, sizeof gg, "blk.%lld." gguf_suffix, (long long)il);                       \
        snprintf(hf, sizeof hf, "model.layers.%lld." hf_suffix, (long long)il);                \
        if ((st = put(x, gg, hf, flags))) return st;                                           \
    } while (0)
    PUT("attn_norm.weight", "input_layernorm.weight", T_REQ);
    PUT("ffn_norm.weight", "post_attention_layernorm.weight", T_REQ);
    PUT("attn_output.weight", "self_attn.o_proj.weight", T_REQ);
    if (x->fam == HF_DEEPSEEK2) {
        if (x->q_lora) {
            PUT("attn_q_a.weight", "self_attn.q_a_proj.weight", T_REQ);
            PUT("attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight", T_REQ);
            PUT("attn_q_b.weight", "self_attn.q_b_proj.weight", T_REQ);
        } else {
            PUT("attn_q.weight", "self_attn.q_proj.weight", T_REQ);
        }
        PUT("attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight", T_REQ);
        PUT("attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight", T_REQ);
        snprintf(hf, sizeof hf, "model.layers.%lld.self_attn.kv_b_proj.weight", (long long)il);
        if ((st = put_kv_b(x, il, hf))) return st;
    } else {
        PUT("attn_q.weight", "self_attn.q_proj.weight", T_REQ | T_PERM_Q);
        PUT("attn_k.weight", "self_attn.k_proj.weight", T_REQ | T_PERM_K);
        PUT("attn_v.weight", "self_attn.v_proj.weight", T_REQ);
        PUT("attn_q.bias", "self_attn.q_proj.bias", x->fam == HF_QWEN2 ? T_REQ | T_PERM_Q : T_PERM_Q);
        PUT("attn_k.bias", "self_attn.k_proj.bias", x->fam == HF_QWEN2 ? T_REQ | T_PERM_K : T_PERM_K);
        PUT("attn_v.bias", "self_attn.v_proj.bias", x->fam == HF_QWEN2 ? T_REQ : 0);
    }
    if (is_moe_layer(x, il)) {
        PUT("ffn_gate_inp.weight", "mlp.gate.weight", T_REQ | T_F32);
        PUT("exp_probs_b.bias", "mlp.gate.e_score_correction_bias", T_F32);
        if ((st = put_experts(x, il))) return st;
        if (x->n_shared) {
            PUT("ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight", T_REQ);
            PUT("ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight", T_REQ);
            PUT("ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight", T_REQ);
        }
    } else {
        PUT("ffn_gate.weight", "mlp.gate_proj.weight", T_REQ);
        PUT("ffn_up.weight", "mlp.up_proj.weight", T_REQ);
        PUT("ffn_down.weight", "mlp.down_proj.weight", T_REQ);
    }
#undef PUT
    return SEEK_OK;
}

/* The MTP module of layer il (DeepSeek-V3 README_WEIGHTS): a decoder layer plus enorm / hnorm,
 * eh_proj [H, 2H] and the shared head's norm (its embedding and head repeat the main ones). */
static seek_status put_mtp(hfx *x, int64_t il) {
    static const char *parts[][2] = {{"nextn.eh_proj.weight", "eh_proj.weight"},
                                     {"nextn.enorm.weight", "enorm.weight"},
                                     {"nextn.hnorm.weight", "hnorm.weight"},
                                     {"nextn.shared_head_norm.weight", "shared_head.norm.weight"}};
    char hf[256], gg[80];
    seek_status st = put_layer(x, il);
    for (size_t i = 0; i < 4 && !st; i++) {
        snprintf(gg, sizeof gg, "blk.%lld.%s", (long long)il, parts[i][0]);
        snprintf(hf, sizeof hf, "model.layers.%lld.%s", (long long)il, parts[i][1]);
        st = put(x, gg, hf, T_REQ);
    }
    return st;
}

seek_status seek_hf_read(seek_gguf_writer *w, const char *dir, bool mtp, seek_hf_keep **keep) {
    *keep = NULL;
    json_t *cfg;
    seek_status st = seek_hf_json_load(&cfg, dir, "config.json");
    if (st) return st;
    hfx x = {.dir = dir, .cfg = cfg, .w = w};
    seek_hf_keep *k = calloc(1, sizeof *k);
    if (!k) st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    if (!st) st = read_config(&x);
    if (!st) st = seek_hf_read_tokenizer(w, dir, cfg, x.n_vocab);
    if (!st) st = seek_st_set_open(&k->st, dir);
    x.st = k ? k->st : NULL;
    if (!st) st = put(&x, "token_embd.weight", "model.embed_tokens.weight", T_REQ);
    if (!st) st = put(&x, "output_norm.weight", "model.norm.weight", T_REQ);
    if (!st && !cfg_bool(cfg, "tie_word_embeddings", false)) st = put(&x, "output.weight", "lm_head.weight", 0);
    for (int64_t il = 0; il < x.n_layer && !st; il++) st = put_layer(&x, il);
    /* MTP layers, when asked for and present */
    char name[128];
    snprintf(name, sizeof name, "model.layers.%lld.eh_proj.weight", (long long)x.n_layer);
    const int64_t n_mtp = st || !mtp || !seek_st_set_find(x.st, name, NULL) ? 0 : cfg_int(cfg, "num_nextn_predict_layers", 0);
    for (int64_t j = 0; j < n_mtp && !st; j++) st = put_mtp(&x, x.n_layer + j);
    if (!st && n_mtp) key_u32(&x, "nextn_predict_layers", n_mtp);
    if (!st) key_u32(&x, "block_count", x.n_layer + n_mtp);
    json_decref(cfg);
    if (st) {
        seek_hf_keep_free(k);
        return st;
    }
    *keep = k;
    return SEEK_OK;
}
