/* The trainable model: parameters, gradients and optimizer moments each in one allocation split
 * into named tensors (GGUF names, so export and checkpoints are a list of names), and the
 * explicit forward and backward of a micro-batch (SPEC.md is the math, line by line).
 * Not for inference (src/model/ runs the exported GGUF) or the training loop (trainer.c). */
#ifndef SEEK_TRAIN_TMODEL_H
#define SEEK_TRAIN_TMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "train/config.h"

typedef struct {
    char name[64];
    int n_dims;       /* 1, 2 or 3 */
    int64_t shape[3]; /* torch order: [rows], [rows, cols] or [n_expert, rows, cols]; cols contiguous */
    size_t off, n;    /* offset and count in floats within w / g / m / v */
    bool decay;       /* AdamW weight decay applies (tensors with 2+ dims) */
    bool trained;     /* false: changed by a rule, not by gradients (aux-free expert bias) */
} seek_tparam;

typedef struct {
    bool moe;
    float *attn_norm;               /* (dim) */
    float *wq;                      /* (H*dk, dim); dk = hd (MHA) or dn+dr (MLA); NULL with q LoRA */
    float *wq_a, *q_a_norm, *wq_b;  /* MLA q LoRA: (r, dim), (r), (H*dk, r) */
    float *wk, *wv;                 /* MHA: (Hkv*hd, dim) */
    float *wkv_a, *kv_a_norm;       /* MLA: (c+dr, dim), (c) */
    float *wkv_b;                   /* MLA: (H*(dn+dv), c) */
    float *wo;                      /* (dim, H*dv) */
    float *ffn_norm;                /* (dim) */
    float *w_gate, *w_up, *w_down;  /* dense: (ff, dim), (ff, dim), (dim, ff) */
    float *router;                  /* (E, dim) */
    float *exp_bias;                /* (E) aux_free only, else NULL */
    float *gate_exps, *up_exps;     /* (E, ef, dim) */
    float *down_exps;               /* (E, dim, ef) */
    float *gate_sh, *up_sh, *down_sh; /* (S*ef, dim), (S*ef, dim), (dim, S*ef); NULL when S = 0 */
} seek_tlayer;

typedef struct seek_tstate seek_tstate;

typedef struct {
    seek_tmodel_cfg cfg;
    int32_t hd, dk, dv; /* head dims: MHA hd/hd/hd; MLA hd, dn+dr, dv */
    seek_tparam *params;
    int n_params;
    size_t n_floats;
    float *w, *g;     /* parameters and their gradients, one layout */
    float *m, *v;     /* AdamW moments (allocated by seek_tmodel_alloc_optim) */
    float *wlow;      /* bf16 / fp8: rounded copies of the matrices the GEMMs read (seek_tmodel_round) */
    seek_tprec prec;
    float *embd, *out_norm, *out; /* (V, dim), (dim), (V, dim) */
    seek_tlayer *layers;
    float *alibi;             /* (H) ALiBi slopes */
    float *rope_cos, *rope_sin; /* (ctx, rot/2) */
    seek_pool *pool;          /* not owned */
} seek_tmodel;

/* Lays out the tensors for cfg (checked) and allocates w and g (zeroed). */
seek_status seek_tmodel_init(seek_tmodel *tm, const seek_tmodel_cfg *cfg, seek_pool *pool);
void seek_tmodel_free(seek_tmodel *tm);
seek_status seek_tmodel_alloc_optim(seek_tmodel *tm);
/* Random initialisation (seeded): matrices N(0, 0.02), output projections scaled by 1/sqrt(2*n_layer),
 * norms 1, biases 0. */
void seek_tmodel_randomize(seek_tmodel *tm, uint64_t seed);
const seek_tparam *seek_tmodel_find(const seek_tmodel *tm, const char *name);
/* Total and per-token active parameter counts (active: the router's K experts + shared, no embedding). */
void seek_tmodel_count(const seek_tmodel *tm, int64_t *total, int64_t *active);
/* Training FLOPs per token: 6 * active matrix parameters + attention (12 * layers * T * H * dk-ish). */
double seek_tmodel_flops_per_token(const seek_tmodel *tm, int32_t seq_len);
/* bf16 / fp8: precision of the block GEMMs (attention and FFN/expert matrices); the embedding,
 * output head and router stay fp32. Call seek_tmodel_round after every change of w. */
seek_status seek_tmodel_set_precision(seek_tmodel *tm, seek_tprec p);
void seek_tmodel_round(seek_tmodel *tm);

/* Activations of one micro-batch shape (B sequences of T tokens), kept for the backward pass. */
seek_status seek_tstate_new(seek_tstate **out, const seek_tmodel *tm, int32_t B, int32_t T);
void seek_tstate_free(seek_tstate *s);
/* Per-expert token counts of the last forward, summed since the last reset: (n_moe_layers, E). */
const int64_t *seek_tstate_load(const seek_tstate *s, int *n_moe_layers);
void seek_tstate_reset_load(seek_tstate *s);
/* Transformer-XL memory (model.xl_memory = M > 0): each forward attends to the M keys and values
 * its B sequences left in the previous forward (the same B streams continue), and leaves its
 * own. Reset forgets them (a new stream). The raw state, for checkpoints: n floats, and B valid
 * row counts; NULL when M = 0. */
void seek_tstate_xl_reset(seek_tstate *s);
float *seek_tstate_xl_memory(seek_tstate *s, int64_t *n_floats, int32_t **mlen);
/* The logits of the last forward (B*T, V). */
const float *seek_tstate_logits(const seek_tstate *s);

typedef struct {
    double loss, ce, aux; /* loss = ce + aux_loss_weight * aux (aux: mean over sequences of the layers' sum) */
} seek_tloss;

/* Forward over tokens (B, T) with targets (B, T) (NULL: logits only). */
seek_status seek_tmodel_forward(seek_tmodel *tm, seek_tstate *s, const int32_t *tokens, const int32_t *targets,
                                seek_tloss *loss);
/* Backward of the last forward: adds d(scale * loss)/dw into tm->g. */
void seek_tmodel_backward(seek_tmodel *tm, seek_tstate *s, float scale);

#endif
