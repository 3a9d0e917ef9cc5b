/* A loaded model: hyper-parameters, weights used in place from the GGUF mapping, and the
 * tokenizer. Immutable after loading and shared by every context (DESIGN decision 1).
 * Architectures are data + one forward function (arch_*.c); this file is the registry.
 * Not for mutable state: KV cache and scratch live in runtime/context.h. */
#ifndef SEEK_MODEL_H
#define SEEK_MODEL_H

#include "format/gguf.h"
#include "kernels/quant.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

/* seek: models trained by seek train with options no other engine runs (ALiBi, sliding window,
 * MoE routing deepseek's GGUF arch does not express): llama-style attention + deepseek MoE. */
typedef enum { SEEK_ARCH_LLAMA = 0, SEEK_ARCH_QWEN2, SEEK_ARCH_DEEPSEEK, SEEK_ARCH_DEEPSEEK2, SEEK_ARCH_SEEK, SEEK_ARCH_COUNT } seek_arch;
typedef enum { SEEK_ROPE_NORM = 0, SEEK_ROPE_NEOX } seek_rope_type; /* pairs (2i,2i+1) or (i,i+n/2) */
typedef enum { SEEK_ROPE_SCALING_NONE = 0, SEEK_ROPE_SCALING_LINEAR, SEEK_ROPE_SCALING_YARN } seek_rope_scaling;

/* A 2-D weight [rows = ne[1]][cols = ne[0]] (or 1-D vector) in its file type, used in place.
 * 3-D weights (experts, MLA's per-head k_b / v_b) are ne[2] such matrices mat_bytes apart. */
typedef struct {
    const void *data; /* NULL when the tensor is absent */
    seek_dtype type;
    int64_t ne[4];
    size_t row_bytes;
    size_t mat_bytes;
    const char *name;
    /* The same matrices repacked at load for the matmul (quant.h's repack), same size and
     * offsets as data, or NULL; packed_by is the repack that wrote them. data stays valid. */
    const void *packed;
    seek_repack_fn packed_by;
} seek_weight;

/* Matrix i of a 3-D weight as a 2-D weight. */
static inline seek_weight seek_weight_mat(const seek_weight *w, int64_t i) {
    seek_weight m = *w;
    m.data = (const char *)w->data + (size_t)i * w->mat_bytes;
    if (w->packed) m.packed = (const char *)w->packed + (size_t)i * w->mat_bytes;
    m.ne[2] = 1;
    return m;
}

typedef struct {
    seek_weight attn_norm;           /* (dim) */
    seek_weight wq, wk, wv;          /* (n_head*head_dim, dim), (n_head_kv*head_dim, dim) x2 */
    seek_weight bq, bk, bv;          /* qwen2 biases: (n_head*head_dim), (n_head_kv*head_dim) x2 */
    seek_weight wo;                  /* (dim, n_head*head_dim) */
    seek_weight ffn_norm;            /* (dim) */
    seek_weight w_gate, w_up;        /* (n_ff, dim) */
    seek_weight w_down;              /* (dim, n_ff) */
    /* deepseek2 (MLA); wq is the plain q projection when there is no q LoRA */
    seek_weight wq_a, q_a_norm, wq_b; /* (q_lora, dim), (q_lora), (n_head*(nope+rope), q_lora) */
    seek_weight wkv_a;                /* (kv_lora + rope, dim): latent and the shared rope key */
    seek_weight kv_a_norm;            /* (kv_lora) */
    seek_weight wk_b, wv_b;           /* per head: (kv_lora, nope) W_UK, (v, kv_lora) W_UV */
    /* mixture of experts (deepseek, deepseek2); w_gate/w_up/w_down stay the dense FFN */
    bool moe;
    seek_weight gate_inp;             /* (n_expert, dim) router, f32 */
    seek_weight exp_probs_b;          /* (n_expert) selection bias (V3), optional */
    seek_weight gate_exps, up_exps;   /* n_expert x (n_ff_exp, dim) */
    seek_weight down_exps;            /* n_expert x (dim, n_ff_exp) */
    seek_weight gate_shexp, up_shexp; /* (n_ff_exp*n_shared, dim), optional */
    seek_weight down_shexp;           /* (dim, n_ff_exp*n_shared) */
} seek_layer;

/* How a token picks its experts (DeepSeekMoE, V2, V3); see kernels/moe.h. */
typedef struct {
    int32_t n_expert, n_used;  /* routed experts, experts per token */
    int32_t n_group, n_group_used; /* group-limited routing (1, 1: none) */
    bool sigmoid;              /* scores: sigmoid (V3) or softmax */
    bool group_top2;           /* group score: sum of its top 2 (V3 noaux_tc) or its max (V2) */
    bool norm;                 /* weights renormalised to sum 1 (norm_topk_prob) */
    float scale;               /* routed_scaling_factor */
    bool mask_zero;            /* dropped groups' scores set to 0.0 (hub code) instead of -inf (DeepSeek-V3 code) */
} seek_moe_cfg;

typedef struct {
    int64_t n_vocab, dim, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    float rms_eps;
    /* RoPE: theta_i = pos * base^(-2i/n_rot) / freq_factor_i, with optional scaling */
    int64_t n_rot;
    float rope_base;
    seek_rope_type rope_type;
    seek_rope_scaling rope_scaling;
    float rope_scale;        /* factor (context extension); freq_scale = 1/factor */
    int64_t rope_orig_ctx;   /* YaRN: original training context */
    float yarn_beta_fast, yarn_beta_slow, yarn_ext_factor, yarn_attn_factor;
    float kq_scale;          /* attention score scale (1/sqrt(head_dim), MLA: with YaRN's mscale^2) */
    /* deepseek2 MLA: head_dim = nope + rope dims of q/k, n_rot = rope dims */
    bool mla;
    int64_t q_lora, kv_lora, head_dim_nope, head_dim_v;
    /* mixture of experts */
    int64_t n_ff_exp, n_ff_shexp, n_layer_dense;
    seek_moe_cfg moe;
    int64_t n_mtp;           /* multi-token-prediction layers after the n_layer main ones */
    /* seek arch: ALiBi slopes (n_head; NULL = RoPE) and a sliding attention window (0 = none) */
    float *alibi;
    int32_t window;
    int32_t xl_mem, xl_seg;  /* seek arch: Transformer-XL memory and segment length (0: none) */
} seek_hparams;

/* DeepSeek-V3's multi-token-prediction module i: decoder layer layers[n_layer + i] plus these
 * (h' = eh_proj [enorm(emb(t+1)); hnorm(h)]). Loaded for speculative decoding; the forward pass
 * does not run it. */
typedef struct {
    seek_weight eh_proj;            /* (2*dim, dim) */
    seek_weight enorm, hnorm, head_norm; /* (dim) */
} seek_mtp;

typedef struct seek_model {
    seek_gguf *gguf;
    seek_arch arch;
    char name[128];
    seek_hparams hp;
    seek_weight tok_embd;    /* (n_vocab, dim) */
    seek_weight output_norm; /* (dim) */
    seek_weight output;      /* (n_vocab, dim): token_embd when tied */
    seek_weight rope_freqs;  /* optional (n_rot/2) per-dimension divisors (Llama-3.1 scaling) */
    seek_layer *layers;      /* n_layer + n_mtp */
    seek_mtp *mtp;           /* n_mtp, or NULL */
    seek_tokenizer *tok;
    char *chat_template;     /* tokenizer.chat_template (NUL-terminated copy), or NULL */
    seek_chat_family chat;
    bool chat_unknown;       /* the template matched no family (ChatML used) */
    size_t weight_bytes;     /* bytes of all weights used */
    size_t active_bytes;     /* weight bytes one token reads (only its routed experts) */
    void *hf_keep;           /* a Hugging Face folder's mappings (model/hf.h) */
    float *owned_f32;        /* weights the loader derived (legacy MLA k_b), freed with the model */
    void *packed;            /* the matmul weights repacked at load (seek_weight.packed), or NULL */
    size_t packed_bytes, packed_cap; /* used, allocated */
} seek_model;

/* Opens a GGUF file or a Hugging Face model folder and loads the model it holds. Errors name the
 * file and field. */
seek_status seek_model_load(seek_model **out, const char *path);
void seek_model_free(seek_model *m);
/* Number of values in all the file's tensors (the parameter count). */
int64_t seek_model_n_params(const seek_model *m);
const char *seek_arch_name(seek_arch a);
/* KV cache floats per token over all layers: k and v rows, or MLA's latent + rope key. */
int64_t seek_model_kv_floats(const seek_model *m);

/* Where the default model lives: $SEEK_MODEL, else ./models/NAME, else
 * ${SEEK_CACHE:-$HOME/.cache/seek}/NAME. Writes the path into buf; true when the file exists. */
#define SEEK_DEFAULT_MODEL_NAME "SmolLM2-135M-Instruct.Q4_1.gguf"
bool seek_default_model_path(char *buf, size_t n);

#endif
