/* seek quantize's file types and type rules (quantize.h). The rules are llama.cpp's (its
 * src/llama-quant.cpp: tensor_allows_quantization, llama_tensor_get_type_impl,
 * tensor_type_fallback; read for the facts, no code taken). For the file types seek writes they
 * come down to the following.
 *
 * Which tensors are quantized at all: those with 2 or 3 dimensions (trailing 1s not counted)
 * whose name ends in "weight", except norms ("_norm.weight"), the MoE router (ffn_gate_inp),
 * position / token-type embeddings and small tensors of other architectures (KEEP below).
 * Every other tensor is written as it is held: vectors, norms and biases stay f32.
 *
 * For f32 / f16 / bf16 files every quantized tensor takes that type. For the block types,
 * starting from the file's base type B (q4_k means llama.cpp's Q4_K_S, q5_k its Q5_K_S):
 *   output.weight, and token_embd.weight when the model has no output.weight (tied embeddings):
 *       q8_0 if a row does not fit B's blocks, if B is q8_0 or the architecture is falcon; else
 *       q6_k. --keep-output T makes it T.
 *   attn_v, attn_qkv, attn_kv_b (value-like; the i-th of n in weights order):
 *       q4_k_m, q5_k_m: q6_k where use_more_bits(i, n); q4_k: q5_k for i < 4;
 *       then in 70B llama / qwen2 models (80 layers, grouped-query attention) q4_k becomes q5_k,
 *       and in models with exactly 8 experts (Mixtral) it is q8_0 whatever B is.
 *   attn_k: q8_0 in models with exactly 8 experts.
 *   ffn_down, ffn_down_exps, ffn_down_shexp (layer i of n = block_count: from the name in MoE
 *       models, else the i-th ffn_down in weights order):
 *       q4_k_m: q6_k where use_more_bits(i, n) (falcon: q6_k for i < n/16, q5_k where
 *       use_more_bits, q4_k elsewhere); q5_k_m: q6_k where use_more_bits(i, n); q4_k: q5_k for
 *       i < n/8 (not falcon).
 *   attn_output: q5_k in models with exactly 8 experts, for q4_k and q4_k_m.
 *   anything else: B.
 * use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2: the first and last eighth of
 * the layers and every third layer between them.
 * Then the row-length fallback: a row that is not a multiple of the chosen type's block takes
 * q5_0 for q4_k, q5_1 for q5_k, q8_0 for q6_k, and f16 if that still does not fit (or if the
 * chosen type had 32-value blocks already).
 * "Weights order" is llama.cpp's: by the N of "blk.N." (tensors outside the blocks first), then
 * by name. llama.cpp's separate attn_qkv rule is unreachable there (attn_qkv is value-like) and
 * is left out; so are the rules of file types seek does not write (q2_k, q3_k, IQ types, MXFP4)
 * and of architectures it does not know (GLM5-next). Where llama.cpp would write an --keep-output
 * type whose blocks do not fit output.weight's rows, the fallback applies here too. */
#include "quant/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"
#include "kernels/quant.h"

/* llama_ftype numbers (llama.h). */
static const seek_ftype ftypes[] = {
    {"f32", "all F32", 0, SEEK_TYPE_F32},
    {"f16", "F16", 1, SEEK_TYPE_F16},
    {"bf16", "BF16", 32, SEEK_TYPE_BF16},
    {"q8_0", "Q8_0", 7, SEEK_TYPE_Q8_0},
    {"q4_0", "Q4_0", 2, SEEK_TYPE_Q4_0},
    {"q4_1", "Q4_1", 3, SEEK_TYPE_Q4_1},
    {"q5_0", "Q5_0", 8, SEEK_TYPE_Q5_0},
    {"q5_1", "Q5_1", 9, SEEK_TYPE_Q5_1},
    {"q4_k", "Q4_K - Small", 14, SEEK_TYPE_Q4_K},
    {"q5_k", "Q5_K - Small", 16, SEEK_TYPE_Q5_K},
    {"q6_k", "Q6_K", 18, SEEK_TYPE_Q6_K},
    {"q4_k_m", "Q4_K - Medium", 15, SEEK_TYPE_Q4_K},
    {"q5_k_m", "Q5_K - Medium", 17, SEEK_TYPE_Q5_K},
};
enum { FT_Q4_K_S = 14, FT_Q5_K_S = 16, FT_Q4_K_M = 15, FT_Q5_K_M = 17 };
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

const seek_ftype *seek_ftype_find(const char *name) {
    if (!strcasecmp(name, "q4_k_s")) name = "q4_k";
    if (!strcasecmp(name, "q5_k_s")) name = "q5_k";
    for (size_t i = 0; i < N_FTYPES; i++)
        if (!strcasecmp(name, ftypes[i].name)) return &ftypes[i];
    return NULL;
}

const seek_ftype *seek_ftype_by_id(uint32_t ftype) {
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == ftype) return &ftypes[i];
    return NULL;
}

const char *seek_ftype_names(void) { return "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, q4_k_m, q5_k_m"; }

/* ---- the input ---- */

seek_dtype seek_convert_type(const char *name, const int64_t ne[4], seek_dtype held, seek_dtype want) {
    if (ne[1] == 1 && ne[2] == 1) return held; /* vectors */
    if (strstr(name, "ffn_gate_inp") || strstr(name, "exp_probs_b")) return SEEK_TYPE_F32;
    if (ne[0] % seek_dtype_block_size(want)) return SEEK_TYPE_F16;
    return want;
}

static bool skipped_key(const gguf_str k) {
    return gguf_str_eq(k, "general.file_type") || gguf_str_eq(k, "general.quantization_version") ||
           gguf_str_eq(k, "general.alignment") || (k.len >= 6 && !memcmp(k.ptr, "split.", 6));
}

void seek_quant_input_close(seek_quant_input *in) {
    seek_gw_free(in->w);
    seek_gguf_close(in->g);
    seek_hf_keep_free(in->keep);
    memset(in, 0, sizeof *in);
}

seek_status seek_quant_input_open(seek_quant_input *in, const char *path, bool mtp) {
    memset(in, 0, sizeof *in);
    if (!(in->w = seek_gw_new())) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    seek_status st = SEEK_OK;
    if (seek_hf_is_folder(path)) {
        st = seek_hf_read(in->w, path, mtp, &in->keep);
        for (size_t i = 0; !st && i < seek_gw_n_tensors(in->w); i++) {
            int64_t ne[4];
            const seek_dtype held = seek_gw_tensor_type(in->w, i, ne);
            const seek_dtype t = seek_convert_type(seek_gw_tensor_name(in->w, i), ne, held, held);
            if (t != held) st = seek_gw_retype(in->w, i, t);
        }
    } else if (!(st = seek_gguf_open(&in->g, path))) {
        for (uint64_t i = 0; !st && i < in->g->n_kv; i++)
            if (!skipped_key(in->g->kvs[i].key)) st = seek_gw_copy(in->w, &in->g->kvs[i]);
        for (uint64_t i = 0; !st && i < in->g->n_tensors; i++) {
            const gguf_tensor *t = &in->g->tensors[i];
            st = seek_gw_tensor(in->w, t->name, t->type, (int)t->n_dims, t->ne, t->data, false);
        }
    }
    if (st) seek_quant_input_close(in);
    return st;
}

/* ---- which tensors are quantized ---- */

/* Name parts of tensors written as they are (besides "_norm.weight"): routers, embeddings of
 * positions and token types, and small tensors of other architectures. */
static const char *const KEEP[] = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
    "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
    "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
    "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
    "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_",
    ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
};

/* ggml_n_dims: dimensions up to the last one that is not 1. */
static int n_dims(const int64_t ne[4]) {
    int n = 1;
    for (int d = 1; d < 4; d++)
        if (ne[d] > 1) n = d + 1;
    return n;
}

static bool allows_quantization(const char *name, const int64_t ne[4]) {
    const size_t len = strlen(name);
    if (n_dims(ne) < 2 || len < 6 || strcmp(name + len - 6, "weight")) return false;
    if (!strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight")) return false;
    for (size_t i = 0; i < sizeof KEEP / sizeof KEEP[0]; i++)
        if (strstr(name, KEEP[i])) return false;
    return true;
}

/* ---- the type of each quantized tensor ---- */

typedef enum {
    CAT_TOKEN_EMBD, CAT_ATTN_QKV, CAT_ATTN_KV_B, CAT_ATTN_V, CAT_ATTN_K, CAT_ATTN_Q, CAT_ATTN_OUTPUT,
    CAT_FFN_UP, CAT_FFN_GATE, CAT_FFN_DOWN, CAT_OUTPUT, CAT_OTHER,
} tensor_cat;

static tensor_cat category(const char *name) {
    if (!strcmp(name, "output.weight")) return CAT_OUTPUT;
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "per_layer_token_embd.weight")) return CAT_TOKEN_EMBD;
    static const struct { const char *part; tensor_cat cat; } parts[] = {
        {"attn_qkv.weight", CAT_ATTN_QKV}, {"attn_kv_b.weight", CAT_ATTN_KV_B}, {"attn_v.weight", CAT_ATTN_V},
        {"attn_k.weight", CAT_ATTN_K}, {"attn_q.weight", CAT_ATTN_Q}, {"attn_output.weight", CAT_ATTN_OUTPUT},
        {"ffn_up", CAT_FFN_UP}, {"ffn_gate", CAT_FFN_GATE}, {"ffn_down", CAT_FFN_DOWN},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(name, parts[i].part)) return parts[i].cat;
    return CAT_OTHER;
}

static bool value_like(tensor_cat c) { return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B; }

static bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* What the rules read about the model, and the counters they keep in weights order. */
typedef struct {
    bool falcon, is_70b, tied;
    int n_layer, n_expert;
    int n_value, i_value, i_ffn_down;
} quant_state;

/* The N of "blk.N.", or -1. */
static int layer_of(const char *name) {
    int l = -1;
    return sscanf(name, "blk.%d.", &l) == 1 ? l : -1;
}

/* The rules' choice for a quantized tensor of a block-type file (before the fallback). */
static seek_status mix_type(quant_state *s, const seek_ftype *ft, const seek_quant_params *p, const char *name,
                            const int64_t ne[4], seek_dtype *out) {
    const tensor_cat cat = category(name);
    const uint32_t f = ft->ftype;
    seek_dtype t = ft->base;
    if (cat == CAT_OUTPUT || (s->tied && cat == CAT_TOKEN_EMBD)) {
        if (p->output_type != SEEK_TYPE_COUNT) t = p->output_type;
        else if (s->falcon || ne[0] % seek_dtype_block_size(t)) t = SEEK_TYPE_Q8_0;
        else if (t != SEEK_TYPE_Q8_0) t = SEEK_TYPE_Q6_K;
    } else if (value_like(cat)) {
        if ((f == FT_Q4_K_M || f == FT_Q5_K_M) && use_more_bits(s->i_value, s->n_value)) t = SEEK_TYPE_Q6_K;
        else if (f == FT_Q4_K_S && s->i_value < 4) t = SEEK_TYPE_Q5_K;
        if (s->is_70b && t == SEEK_TYPE_Q4_K) t = SEEK_TYPE_Q5_K;
        if (s->n_expert == 8) t = SEEK_TYPE_Q8_0;
        s->i_value++;
    } else if (cat == CAT_ATTN_K) {
        if (s->n_expert == 8) t = SEEK_TYPE_Q8_0;
    } else if (cat == CAT_FFN_DOWN) {
        int i = s->i_ffn_down;
        const int n = s->n_layer;
        if (s->n_expert > 1) { /* experts may sit anywhere in the order: the layer comes from the name */
            i = layer_of(name);
            if (i < 0 || i >= n)
                return seek_errorf(SEEK_ERR_INVALID, "cannot tell the layer of tensor '%s' (block_count %d)", name, n);
        }
        if (f == FT_Q4_K_M) {
            if (s->falcon) t = i < n / 16 ? SEEK_TYPE_Q6_K : use_more_bits(i, n) ? SEEK_TYPE_Q5_K : SEEK_TYPE_Q4_K;
            else if (use_more_bits(i, n)) t = SEEK_TYPE_Q6_K;
        } else if (f == FT_Q5_K_M && use_more_bits(i, n)) {
            t = SEEK_TYPE_Q6_K;
        } else if (f == FT_Q4_K_S && !s->falcon && i < n / 8) {
            t = SEEK_TYPE_Q5_K;
        }
        s->i_ffn_down++;
    } else if (cat == CAT_ATTN_OUTPUT) {
        if (!s->falcon && s->n_expert == 8 && (f == FT_Q4_K_S || f == FT_Q4_K_M)) t = SEEK_TYPE_Q5_K;
    }
    *out = t;
    return SEEK_OK;
}

/* A type whose blocks fit rows of n values: t itself, or its fallback. */
static seek_dtype fit_rows(seek_dtype t, int64_t n) {
    if (n % seek_dtype_block_size(t) == 0) return t;
    if (t == SEEK_TYPE_Q4_K) t = SEEK_TYPE_Q5_0;
    else if (t == SEEK_TYPE_Q5_K) t = SEEK_TYPE_Q5_1;
    else if (t == SEEK_TYPE_Q6_K) t = SEEK_TYPE_Q8_0;
    return n % seek_dtype_block_size(t) == 0 ? t : SEEK_TYPE_F16;
}

static bool is_block_type(seek_dtype t) { return seek_dtype_block_size(t) > 1; }

/* Model facts from the metadata. */
static seek_status read_state(const seek_gguf_writer *w, quant_state *s) {
    seek_gguf *g;
    seek_status st = seek_gw_view(w, &g);
    if (st) return st;
    memset(s, 0, sizeof *s);
    gguf_str a;
    char arch[64], key[128];
    uint32_t n_layer = 0, n_expert = 0, n_head = 0, n_head_kv = 0;
    if (!seek_gguf_get_str(g, "general.architecture", &a)) {
        seek_gguf_close(g);
        return seek_errorf(SEEK_ERR_FORMAT, "no general.architecture in the metadata");
    }
    gguf_str_copy(a, arch, sizeof arch);
    snprintf(key, sizeof key, "%s.block_count", arch);
    if (!seek_gguf_get_u32(g, key, &n_layer) || n_layer < 1 || n_layer > 100000) {
        seek_gguf_close(g);
        return seek_errorf(SEEK_ERR_FORMAT, "%s is missing or out of range", key);
    }
    snprintf(key, sizeof key, "%s.expert_count", arch);
    seek_gguf_get_u32(g, key, &n_expert);
    snprintf(key, sizeof key, "%s.attention.head_count", arch);
    seek_gguf_get_u32(g, key, &n_head);
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    if (!seek_gguf_get_u32(g, key, &n_head_kv)) n_head_kv = n_head;
    s->n_layer = (int)n_layer;
    s->n_expert = n_expert > 100000 ? 100000 : (int)n_expert;
    s->falcon = !strcmp(arch, "falcon");
    /* llama.cpp's model type 70B: llama with 80 layers and grouped-query attention, qwen2 with 80 */
    s->is_70b = n_layer == 80 && ((!strcmp(arch, "llama") && n_head != n_head_kv) || !strcmp(arch, "qwen2"));
    s->tied = seek_gguf_tensor(g, "output.weight") == NULL;
    seek_gguf_close(g);
    return SEEK_OK;
}

typedef struct {
    int layer;
    const char *name;
    size_t i;
} order_entry;

static int order_cmp(const void *pa, const void *pb) {
    const order_entry *a = pa, *b = pb;
    if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
    return strcmp(a->name, b->name);
}

seek_status seek_quant_apply(seek_gguf_writer *w, const seek_ftype *ft, const seek_quant_params *p, seek_quant_choice *choice) {
    quant_state s;
    seek_status st = read_state(w, &s);
    if (st) return st;
    const size_t n = seek_gw_n_tensors(w);
    order_entry *order = malloc((n ? n : 1) * sizeof *order);
    seek_quant_choice *ch = malloc((n ? n : 1) * sizeof *ch);
    if (!order || !ch) {
        free(order);
        free(ch);
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = seek_gw_tensor_name(w, i);
        order[i] = (order_entry){layer_of(name), name, i};
        if (value_like(category(name))) s.n_value++;
    }
    qsort(order, n, sizeof *order, order_cmp);
    for (size_t k = 0; !st && k < n; k++) {
        const size_t i = order[k].i;
        const char *name = order[k].name;
        int64_t ne[4];
        seek_gw_tensor_type(w, i, ne);
        const seek_dtype cur = seek_gw_tensor_out_type(w, i);
        seek_dtype t = cur;
        if (allows_quantization(name, ne)) {
            t = ft->base;
            if (p->output_type != SEEK_TYPE_COUNT && category(name) == CAT_OUTPUT) t = p->output_type;
            else if (is_block_type(ft->base)) st = mix_type(&s, ft, p, name, ne, &t);
        }
        ch[i].wanted = t;
        ch[i].type = is_block_type(t) ? fit_rows(t, ne[0]) : t;
        if (!st && ch[i].type != cur && is_block_type(cur) && !p->allow_requantize)
            st = seek_errorf(SEEK_ERR_INVALID, "tensor '%s' is already quantized (%s); pass --allow-requantize to requantize it",
                             name, seek_dtype_name(cur));
        if (!st && ch[i].type != cur && !seek_kernels_for(cur, SEEK_ISA_SCALAR))
            st = seek_errorf(SEEK_ERR_UNSUPPORTED, "tensor '%s' is %s, which seek cannot convert to another type", name,
                             seek_dtype_name(cur));
    }
    for (size_t i = 0; !st && i < n; i++)
        if (ch[i].type != seek_gw_tensor_out_type(w, i)) st = seek_gw_retype(w, i, ch[i].type);
    if (!st) {
        seek_gw_u32(w, "general.quantization_version", 2); /* ggml's GGML_QNT_VERSION, which llama-quantize always sets */
        seek_gw_u32(w, "general.file_type", ft->ftype);
        if (choice) memcpy(choice, ch, n * sizeof *ch);
    }
    free(order);
    free(ch);
    return st;
}
