/* A context: all mutable state for running a model (DESIGN decision 1): the paged KV cache,
 * scratch buffers sized once for the largest batch (nothing allocates per token), the thread
 * pool, and the logits of the last forward. Many contexts can share one model.
 * The forward pass takes a batch of (token, position, sequence, want-logits) entries (DESIGN
 * decision 3): a prompt, a decode step for many sequences and a verification are one call. */
#ifndef SEEK_RUNTIME_CONTEXT_H
#define SEEK_RUNTIME_CONTEXT_H

#include "core/threadpool.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

typedef struct {
    int32_t n_ctx;     /* KV positions in total (0: min(4096, training context)) */
    int32_t n_batch;   /* tokens per forward chunk (0: 512) */
    int32_t n_seq;     /* sequences (0: 1) */
    int32_t n_threads; /* (0: 2) */
    bool precise;      /* fp32 activations in every matmul (see seek_act); slower */
    seek_dtype k_type, v_type; /* KV cache storage: SEEK_TYPE_F32 (0, the default) or SEEK_TYPE_F16 */
} seek_context_params;

typedef struct {
    int32_t n, cap;
    int32_t *token, *pos, *seq;
    int8_t *logits;
} seek_batch;

seek_status seek_batch_init(seek_batch *b, int32_t cap);
void seek_batch_free(seek_batch *b);
static inline void seek_batch_clear(seek_batch *b) { b->n = 0; }
/* Appends an entry; false when the batch is full. */
bool seek_batch_add(seek_batch *b, int32_t token, int32_t pos, int32_t seq, bool logits);

/* Time spent per kind of op, for `seek bench --verbose`. */
typedef enum { SEEK_OP_MATMUL, SEEK_OP_ATTENTION, SEEK_OP_NORM, SEEK_OP_ROPE, SEEK_OP_OTHER, SEEK_OP_COUNT } seek_op_kind;

/* Sees every matmul of a forward pass (GPTQ calibration, quant/gptq.c): called by every pool
 * thread after the product, with the weight and its float input rows x (n_tok, n); same_input
 * when x holds the same values as at the previous call of this forward. It must end at a
 * barrier (seek_pool_barrier) if it reads x across threads. */
typedef void (*seek_matmul_observer)(void *arg, const seek_exec *ex, const seek_weight *w, const float *x, int64_t n_tok,
                                     int64_t n, bool same_input);

typedef struct seek_context {
    const seek_model *model;
    seek_context_params params;
    seek_pool *pool;
    seek_kv_cache kv;
    /* scratch, (n_batch, ...) each */
    float *x, *xn, *q, *k, *v, *attn, *ffn_g, *ffn_u, *tmp;
    float *qa, *q_abs, *mla_o, *head_row; /* MLA: q LoRA, latent queries, per-head outputs, (nth, row) */
    float *moe_logits, *moe_w, *moe_lw, *moe_xg, *moe_y, *moe_scratch; /* mixture of experts */
    int32_t *moe_ids, *moe_off, *moe_list, *moe_fill;
    void *act;                  /* quantized activations */
    float *row_f32;             /* precise mode: (n_threads, widest) dequantized weight rows */
    float *rope_cos, *rope_sin; /* (n_batch, n_rot/2) */
    float *attn_scratch;        /* (n_threads, attention_scratch_floats) */
    /* logits of the last seek_decode: rows for entries that asked for them */
    float *logits;
    int64_t logits_cap;     /* rows */
    int32_t *logit_row;     /* (batch cap) entry -> row or -1 */
    int32_t logit_row_cap;
    double op_time[SEEK_OP_COUNT]; /* seconds, accumulated when timing is on */
    bool timing;
    /* calibration (quant/gptq.c): an observer of matmuls (NULL: none). With layer_end > 0 a
     * forward runs only layers [layer_first, layer_end) and produces no logits; its residual
     * stream enters from calib_in when set (else from the token embeddings) and is copied to
     * calib_out when set, one row per batch entry (so the batch must fit one n_batch chunk). */
    seek_matmul_observer observe;
    void *observe_arg;
    int64_t layer_first, layer_end;
    const float *calib_in;
    float *calib_out;
} seek_context;

seek_status seek_context_init(seek_context **out, const seek_model *m, const seek_context_params *p);
void seek_context_free(seek_context *ctx);

/* Runs the forward pass over the batch. Positions of each sequence must continue where its
 * cache ends (pos = seek_seq_len, +1, ...). On error nothing in the cache changes. */
seek_status seek_decode(seek_context *ctx, const seek_batch *b);
/* Logits (n_vocab) of batch entry i of the last decode, NULL when it did not ask for them. */
const float *seek_get_logits(const seek_context *ctx, int32_t i);

int32_t seek_seq_len(const seek_context *ctx, int32_t seq);
void seek_seq_truncate(seek_context *ctx, int32_t seq, int32_t n_keep);
/* Empties dst and makes it share src's first n_pos positions (rounded down to whole cache blocks),
 * without copying or recomputing them. Returns the positions dst now holds. */
int32_t seek_seq_share(seek_context *ctx, int32_t dst, int32_t src, int32_t n_pos);

/* The forward pass (model/forward.c) over one chunk (n_tok <= n_batch) whose cache slots are reserved;
 * out_rows[t] is the logits row for entry t or -1. */
void seek_forward(seek_context *ctx, const int32_t *tok, const int32_t *pos, const int32_t *seq, const int32_t *out_rows,
                  int64_t n_tok);

#endif
