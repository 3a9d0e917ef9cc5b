/* Training data: text files tokenized once (or llm.c-style pre-tokenized .bin shards), split into
 * train and held-out tokens, and random windows drawn with a seeded generator whose state is
 * saved in checkpoints (so a resumed run sees the same batches). Not for tokenizer training
 * (bpe_train.h). */
#ifndef SEEK_TRAIN_DATA_H
#define SEEK_TRAIN_DATA_H

#include <stdint.h>

#include "tokenizer/tokenizer.h"
#include "train/config.h"

typedef struct {
    int32_t *train, *val;
    int64_t n_train, n_val;
    int64_t n_bytes; /* text bytes read (0 for shards) */
} seek_tdata;

/* Reads a whole text file (malloc'd, NUL-terminated). Empty files are an error. */
seek_status seek_read_text(const char *path, char **text, size_t *len);
/* Tokenizes (or reads) the config's files with tok; checks that both parts hold at least one
 * window of seq_len + 1 tokens. */
seek_status seek_tdata_load(seek_tdata *d, const seek_train_cfg *c, const seek_tokenizer *tok);
void seek_tdata_free(seek_tdata *d);
/* B windows of T+1 tokens from the training tokens at random offsets: inputs and next tokens. */
void seek_tdata_batch(const seek_tdata *d, uint64_t *rng, int32_t B, int32_t T, int32_t *inp, int32_t *tgt);
/* Transformer-XL streams: the training tokens cut into B equal parts, stream b reading part b
 * one window of T+1 tokens after another (segment k starts k*T tokens in), so each segment
 * continues the one before. seg counts segments since the start of training; it wraps around
 * after seek_tdata_n_segments(), when the streams start over (their memory must be reset). */
int64_t seek_tdata_n_segments(const seek_tdata *d, int32_t B, int32_t T);
void seek_tdata_stream_batch(const seek_tdata *d, int64_t seg, int32_t B, int32_t T, int32_t *inp, int32_t *tgt);
/* The i-th fixed held-out window (non-overlapping, from the start of the held-out part). */
int64_t seek_tdata_n_val_windows(const seek_tdata *d, int32_t T);
void seek_tdata_val_window(const seek_tdata *d, int64_t i, int32_t T, int32_t *inp, int32_t *tgt);
uint64_t seek_rng_next(uint64_t *state);

#endif
