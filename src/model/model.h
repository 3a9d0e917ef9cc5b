/* A loaded model: hyper-parameters, weights used in place from the GGUF mapping, and the
 * tokenizer. Immutable after loading and shared by every context (DESIGN decision 1).
 * Architectures are data + one forward function (arch_*.c); this file is the registry.
 * Not for mutable state: KV cache and scratch live in runtime/context.h. */
#ifndef SEEK_MODEL_H
#define SEEK_MODEL_H

#include "format/gguf.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

typedef enum { SEEK_ARCH_LLAMA = 0, SEEK_ARCH_QWEN2, SEEK_ARCH_COUNT } seek_arch;
typedef enum { SEEK_ROPE_NORM = 0, SEEK_ROPE_NEOX } seek_rope_type; /* pairs (2i,2i+1) or (i,i+n/2) */
typedef enum { SEEK_ROPE_SCALING_NONE = 0, SEEK_ROPE_SCALING_LINEAR, SEEK_ROPE_SCALING_YARN } seek_rope_scaling;

/* A 2-D weight [rows = ne[1]][cols = ne[0]] (or 1-D vector) in its file type, used in place. */
typedef struct {
    const void *data; /* NULL when the tensor is absent */
    seek_dtype type;
    int64_t ne[4];
    size_t row_bytes;
    const char *name;
} seek_weight;

typedef struct {
    seek_weight attn_norm;           /* (dim) */
    seek_weight wq, wk, wv;          /* (n_head*head_dim, dim), (n_head_kv*head_dim, dim) x2 */
    seek_weight bq, bk, bv;          /* qwen2 biases: (n_head*head_dim), (n_head_kv*head_dim) x2 */
    seek_weight wo;                  /* (dim, n_head*head_dim) */
    seek_weight ffn_norm;            /* (dim) */
    seek_weight w_gate, w_up;        /* (n_ff, dim) */
    seek_weight w_down;              /* (dim, n_ff) */
} seek_layer;

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
} seek_hparams;

typedef struct seek_model {
    seek_gguf *gguf;
    seek_arch arch;
    char name[128];
    seek_hparams hp;
    seek_weight tok_embd;    /* (n_vocab, dim) */
    seek_weight output_norm; /* (dim) */
    seek_weight output;      /* (n_vocab, dim): token_embd when tied */
    seek_weight rope_freqs;  /* optional (n_rot/2) per-dimension divisors (Llama-3.1 scaling) */
    seek_layer *layers;
    seek_tokenizer *tok;
    char *chat_template;     /* tokenizer.chat_template (NUL-terminated copy), or NULL */
    seek_chat_family chat;
    bool chat_unknown;       /* the template matched no family (ChatML used) */
    size_t weight_bytes;     /* bytes of all weights used */
} seek_model;

/* Opens a GGUF and loads the model it holds. Errors name the file and field. */
seek_status seek_model_load(seek_model **out, const char *path);
void seek_model_free(seek_model *m);
/* Number of values in all the file's tensors (the parameter count). */
int64_t seek_model_n_params(const seek_model *m);
const char *seek_arch_name(seek_arch a);

/* Where the default model lives: $SEEK_MODEL, else ./models/NAME, else
 * ${SEEK_CACHE:-$HOME/.cache/seek}/NAME. Writes the path into buf; true when the file exists. */
#define SEEK_DEFAULT_MODEL_NAME "SmolLM2-135M-Instruct.Q4_1.gguf"
bool seek_default_model_path(char *buf, size_t n);

#endif
