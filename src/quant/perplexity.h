/* Perplexity of a model on a text, computed as llama.cpp's perplexity tool computes it, so the two
 * numbers can be compared: the text is tokenized once (BOS first when the vocab adds one), cut
 * into non-overlapping windows of n_ctx tokens (a shorter tail is dropped), and in each window,
 * whose first token is replaced by BOS when the vocab adds one, the model predicts tokens
 * n_ctx/2 + 1 .. n_ctx - 1 from the ones before them: only the second half is scored, so every
 * prediction has at least n_ctx/2 tokens of context. PPL = exp(mean NLL); its uncertainty is
 * PPL * sqrt((mean(NLL^2) - mean(NLL)^2) / (N - 1)) over the N scored tokens.
 * Not for sampling or serving (runtime/). */
#ifndef SEEK_QUANT_PERPLEXITY_H
#define SEEK_QUANT_PERPLEXITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

typedef struct {
    int32_t n_ctx;     /* tokens per window (0: 512) */
    int32_t n_batch;   /* tokens per decode (0: 512); at least n_ctx means n_batch / n_ctx windows at
                          once (it must then be a multiple of n_ctx), less means several decodes per window */
    int32_t n_threads; /* (0: 2) */
    int32_t n_chunks;  /* windows to score at most (0: all) */
    bool precise;      /* fp32 activations in every matmul */
    seek_dtype k_type, v_type; /* KV cache storage (context.h; 0: F32) */
    /* optional: called for every scored prediction, in (window, position) order, with its
     * logits (n_vocab) and the token that came next (KL divergence against another model);
     * returning false stops the run with the error it set (seek_errorf) */
    bool (*row)(void *arg, const float *logits, int64_t n_vocab, int32_t next);
    void *row_arg;
} seek_ppl_params;

typedef struct {
    int64_t n_tokens;  /* of the whole text */
    int32_t n_chunks;  /* windows scored */
    int64_t n_scored;  /* tokens predicted */
    double nll, nll2;  /* sums of -log p and its square over them */
    double ppl, err;   /* exp(mean NLL) and its uncertainty (0 when it cannot be estimated) */
} seek_ppl_result;

/* KL divergence of a model's next-token distributions from a base model's, as llama.cpp's
 * perplexity --kl-divergence reports it: per scored token KL(base || model) =
 * sum_i p_base(i) (log p_base(i) - log p_model(i)), and whether both put the same token on top. */
typedef struct {
    double sum, sum2, max;
    int64_t n, same_top;
} seek_kld_stats;
/* out = log softmax(logits) over n entries (max-shifted, the sum in double). */
void seek_log_softmax(float *out, const float *logits, int64_t n);
/* Adds one token: the base's log-probabilities and the model's logits. */
void seek_kld_add(seek_kld_stats *s, const float *base_logp, const float *logits, int64_t n);

/* Called after each group of windows: windows done so far, of n_chunks, and the result so far. */
typedef void (*seek_ppl_progress)(void *arg, int32_t done, int32_t n_chunks, const seek_ppl_result *r);

/* Perplexity of m on len bytes of text. Errors: a text shorter than 2 * n_ctx tokens, a context
 * the model or memory cannot hold, a bad n_batch. */
seek_status seek_perplexity(const seek_model *m, const char *text, size_t len, const seek_ppl_params *p,
                            seek_ppl_progress progress, void *arg, seek_ppl_result *out);

#endif
