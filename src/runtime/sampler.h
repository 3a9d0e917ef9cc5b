/* The sampler chain, in llama.cpp's default order: logit bias -> repetition / presence /
 * frequency penalties -> top-k -> top-p -> min-p -> temperature -> draw with a seeded RNG
 * (same seed, same text). temp <= 0 is greedy (argmax after bias and penalties).
 * All buffers are allocated at init: sampling a token allocates nothing. */
#ifndef SEEK_RUNTIME_SAMPLER_H
#define SEEK_RUNTIME_SAMPLER_H

#include <stdint.h>

#include "seek.h"

typedef struct {
    float temp;              /* 0.8 */
    int32_t top_k;           /* 40; <= 0 disables */
    float top_p;             /* 0.95; >= 1 disables */
    float min_p;             /* 0.05; <= 0 disables */
    float repeat_penalty;    /* 1.0 disables; llama.cpp's rule: logit > 0 ? /p : *p */
    float presence_penalty;  /* 0 disables */
    float frequency_penalty; /* 0 disables */
    int32_t penalty_last_n;  /* 64: how many recent tokens the penalties look at */
    uint64_t seed;
    int32_t n_bias;          /* logit bias entries */
    const int32_t *bias_ids;
    const float *bias_vals;  /* added to the logit; -INFINITY bans */
} seek_sampler_params;

typedef struct {
    int32_t id;
    float logit;
    float p;
} seek_candidate;

typedef struct {
    seek_sampler_params p;
    int32_t n_vocab;
    uint64_t rng;
    seek_candidate *cand; /* (n_vocab) */
    int32_t *hist;        /* ring of the last penalty_last_n accepted tokens */
    int32_t n_hist, hist_pos;
    int32_t *counts;      /* (n_vocab) scratch for penalties */
    int32_t *bias_ids;
    float *bias_vals;
} seek_sampler;

seek_sampler_params seek_sampler_defaults(void);
seek_status seek_sampler_init(seek_sampler *s, const seek_sampler_params *p, int32_t n_vocab);
void seek_sampler_free(seek_sampler *s);
/* Records a token of the context (prompt or generated) for the penalties. */
void seek_sampler_accept(seek_sampler *s, int32_t token);
void seek_sampler_reset(seek_sampler *s);
int32_t seek_sampler_sample(seek_sampler *s, const float *logits);

/* A uniform float in [0, 1) from a splitmix64 state. */
float seek_rng_uniform(uint64_t *state);

#endif
