/* The training configuration: the JSON of `seek train --config run.json` (sections model / data /
 * optim / run), every field also a command-line flag (--dim 256), defaults, and the checks that
 * reject impossible shapes before any work starts. The exact model math is in src/train/SPEC.md.
 * Not for the training itself (trainer.c) or the model's tensors (tmodel.h). */
#ifndef SEEK_TRAIN_CONFIG_H
#define SEEK_TRAIN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "seek.h"

#define SEEK_TRAIN_MAX_FILES 16
#define SEEK_TRAIN_MAX_STAGES 8

typedef enum { TATT_MHA, TATT_MLA } seek_tattn;
typedef enum { TPOS_ROPE, TPOS_ALIBI } seek_tpos;
typedef enum { TBAL_AUX_LOSS, TBAL_AUX_FREE, TBAL_NONE } seek_tbalance;
typedef enum { TSCHED_COSINE_RESTARTS, TSCHED_COSINE, TSCHED_CONSTANT, TSCHED_LINEAR } seek_tsched;
typedef enum { TPREC_FP32, TPREC_BF16, TPREC_FP8 } seek_tprec;

typedef struct {
    int32_t n_layer, dim, n_head, n_kv_head, ctx, vocab;
    seek_tattn attention;
    int32_t kv_lora_rank, qk_nope_dim, qk_rope_dim, v_head_dim; /* MLA (0: default from head_dim) */
    int32_t q_lora_rank; /* MLA: 0 = one q projection, else q = W_qb rmsnorm(W_qa h) (DeepSeek-V2/V3) */
    seek_tpos position;
    float rope_base, rms_eps;
    int32_t sliding_window, xl_memory;
    bool moe;       /* "ffn": "moe" | "dense" */
    int32_t ff_dim; /* dense FFN width */
    int32_t n_expert, n_expert_used, n_shared_expert, expert_dim, n_dense_lead;
    bool gating_sigmoid, norm_topk;
    seek_tbalance balance;
    float aux_loss_weight, bias_update_rate;
} seek_tmodel_cfg;

typedef struct {
    seek_tmodel_cfg model;
    /* data */
    char *train[SEEK_TRAIN_MAX_FILES];
    int32_t n_train;
    char *val; /* optional held-out file; else the last val_fraction of the tokens */
    float val_fraction;
    char *tokenizer; /* "bpe:N" | "byte" | PATH.gguf (its tokenizer) */
    /* optim */
    float lr, min_lr, weight_decay, beta1, beta2, eps, clip;
    int32_t warmup, T_0, T_mult;
    seek_tsched schedule;
    int32_t micro_batch, seq_len, grad_accum, steps;
    seek_tprec precision;
    uint64_t seed;
    /* run */
    char *out;
    int32_t eval_every, eval_batches, ckpt_every, log_every, threads;
    /* progressive training: the model grows at these steps (seek grow's operators) */
    int32_t n_stages;
    struct {
        int32_t at_step, n_layer, n_expert;
    } stages[SEEK_TRAIN_MAX_STAGES];
    char *init; /* start from this GGUF's weights (seek grow's output) instead of random */
} seek_train_cfg;

/* Defaults for every field (a small MoE on the default data). */
void seek_train_cfg_defaults(seek_train_cfg *c);
/* Reads a JSON config file over the current values; unknown keys and wrong types are errors. */
seek_status seek_train_cfg_load(seek_train_cfg *c, const char *path);
/* Reads a JSON text (the "seek.train.config" key of a checkpoint). */
seek_status seek_train_cfg_parse(seek_train_cfg *c, const char *json, const char *what);
/* Applies one flag: name without the dashes ("dim", "lr", "train"), value as text.
 * SEEK_ERR_INVALID for an unknown flag or a bad value. */
seek_status seek_train_cfg_set(seek_train_cfg *c, const char *name, const char *value);
/* Fills derived defaults (MLA sizes, ff_dim) and rejects impossible combinations. */
seek_status seek_train_cfg_check(seek_train_cfg *c);
/* The configuration as JSON text (malloc'd), the form stored in checkpoints and read back. */
char *seek_train_cfg_json(const seek_train_cfg *c);
void seek_train_cfg_free(seek_train_cfg *c);

/* The learning rate of optimizer step s (0-based), SPEC.md's schedule. */
double seek_train_lr(const seek_train_cfg *c, int64_t step);

#endif
