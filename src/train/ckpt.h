/* Model files of the trainer: checkpoints (every tensor + AdamW moments + step and data-generator
 * state, one GGUF) and exports (a GGUF that seek run / chat / serve load, and llama.cpp too when
 * the model uses only standard features). Both carry the training config as "seek.train.config"
 * and the tokenizer's keys, and are written to a temporary file renamed into place.
 * Not for the training loop (trainer.c). */
#ifndef SEEK_TRAIN_CKPT_H
#define SEEK_TRAIN_CKPT_H

#include "format/gguf.h"
#include "format/gguf_write.h"
#include "train/config.h"
#include "train/tmodel.h"

typedef struct {
    int64_t step;      /* optimizer steps done */
    uint64_t rng;      /* the batch generator's state after them */
    int64_t tokens;    /* training tokens seen */
    double flops;      /* training FLOPs spent (6 * active parameters per token + attention) */
    /* Transformer-XL memory of the training streams (NULL without one): tensor "train.xl_memory"
     * and key "seek.train.xl_mlen" */
    float *xl_mem;
    int64_t xl_n;
    int32_t *xl_mlen;
    int32_t xl_b;
} seek_ckpt_state;

/* The GGUF architecture an export gets: llama (dense MHA+RoPE), deepseek (MoE MHA+RoPE, softmax,
 * no top-k normalisation, no bias), deepseek2 (MLA), or seek for everything else. */
const char *seek_export_arch(const seek_tmodel_cfg *c);

seek_status seek_ckpt_write(const char *path, const seek_tmodel *tm, const seek_train_cfg *cfg, const seek_gguf *tok,
                            const seek_ckpt_state *state, seek_gw_progress progress, void *arg);
seek_status seek_export_write(const char *path, const seek_tmodel *tm, const seek_train_cfg *cfg, const seek_gguf *tok);
/* Fills state->xl_mem / xl_mlen (sized by xl_n / xl_b) from a checkpoint; an error when the file
 * has no memory of that size. */
seek_status seek_ckpt_read_xl(const seek_gguf *g, const char *path, seek_ckpt_state *state);
/* Reads "seek.train.config" of a checkpoint or export into c (over its current values). */
seek_status seek_train_cfg_from_gguf(seek_train_cfg *c, const seek_gguf *g, const char *path);
/* Fills tm's parameters (and moments when tm->m is allocated and the file has them) by name;
 * every parameter must be present with its shape. state may be NULL. */
seek_status seek_tmodel_read(seek_tmodel *tm, const seek_gguf *g, const char *path, seek_ckpt_state *state);

#endif
