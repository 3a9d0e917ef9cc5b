/* Perplexity over non-overlapping windows, scoring their second halves (perplexity.h). The
 * procedure and the arithmetic follow llama.cpp's tools/perplexity (read for the facts): the
 * log-softmax takes the float maximum and a double sum of expf(logit - max); sums run in token
 * order here, so the result does not depend on the number of threads. */
#include "quant/perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "runtime/context.h"

/* -log p(tok) from one row of logits, over the first n_vocab entries. */
static double nll_of(const float *logits, int64_t n_vocab, int32_t tok) {
    float max = logits[0];
    for (int64_t i = 1; i < n_vocab; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n_vocab; i++) sum += expf(logits[i] - max);
    return -((double)(logits[tok] - max) - log(sum));
}

/* log sum_i exp(x_i) (max-shifted, the sum in double), and the index of the largest x_i */
static double log_sum_exp(const float *x, int64_t n, int64_t *argmax) {
    int64_t top = 0;
    for (int64_t i = 1; i < n; i++) top = x[i] > x[top] ? i : top;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - x[top]);
    if (argmax) *argmax = top;
    return x[top] + log(sum);
}

void seek_log_softmax(float *out, const float *logits, int64_t n) {
    const double lse = log_sum_exp(logits, n, NULL);
    for (int64_t i = 0; i < n; i++) out[i] = (float)((double)logits[i] - lse);
}

void seek_kld_add(seek_kld_stats *s, const float *base_logp, const float *logits, int64_t n) {
    int64_t top_m, top_b = 0;
    const double lse = log_sum_exp(logits, n, &top_m);
    for (int64_t i = 1; i < n; i++) top_b = base_logp[i] > base_logp[top_b] ? i : top_b;
    double kl = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double lb = base_logp[i];
        kl += exp(lb) * (lb - ((double)logits[i] - lse));
    }
    kl = kl > 0 ? kl : 0; /* rounding can leave tiny negatives */
    s->sum += kl;
    s->sum2 += kl * kl;
    s->max = kl > s->max ? kl : s->max;
    s->n++;
    s->same_top += top_m == top_b;
}

static void finish(seek_ppl_result *r) {
    if (!r->n_scored) return;
    const double mean = r->nll / (double)r->n_scored, var = r->nll2 / (double)r->n_scored - mean * mean;
    r->ppl = exp(mean);
    r->err = var > 0 && r->n_scored > 1 ? sqrt(var / (double)(r->n_scored - 1)) * r->ppl : 0;
}

seek_status seek_perplexity(const seek_model *m, const char *text, size_t len, const seek_ppl_params *p,
                            seek_ppl_progress progress, void *arg, seek_ppl_result *out) {
    memset(out, 0, sizeof *out);
    const int32_t n_ctx = p->n_ctx > 0 ? p->n_ctx : 512, n_batch = p->n_batch > 0 ? p->n_batch : 512;
    if (n_ctx < 4) return seek_errorf(SEEK_ERR_INVALID, "a window of %d tokens is too small (-c must be at least 4)", n_ctx);
    if (n_batch >= n_ctx && n_batch % n_ctx)
        return seek_errorf(SEEK_ERR_INVALID, "-b %d must be smaller than -c %d or a multiple of it", n_batch, n_ctx);
    if (seek_tokenizer_add_eos(m->tok))
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "the vocab appends EOS to every text, which perplexity windows cannot have");
    const int32_t n_seq = n_batch / n_ctx > 1 ? n_batch / n_ctx : 1;           /* windows per decode */
    const int32_t per_decode = n_batch < n_ctx ? n_batch : n_ctx;              /* tokens of one window per decode */
    const int32_t n_decodes = (n_ctx + per_decode - 1) / per_decode;          /* decodes per window */
    const int32_t first = n_ctx / 2;                                           /* logits of positions first..n_ctx-2 are scored */
    const bool add_bos = seek_tokenizer_add_bos(m->tok);
    const int32_t bos = seek_tokenizer_bos(m->tok);
    int64_t n_vocab = seek_tokenizer_n_vocab(m->tok);
    if (n_vocab > m->hp.n_vocab) n_vocab = m->hp.n_vocab; /* logits beyond the vocab (padding rows) are not scored */

    int32_t *ids = NULL;
    int64_t n_tok = 0;
    seek_status st = seek_tokenize_all(m->tok, text, len, true, false, &ids, &n_tok);
    if (st) return st;
    out->n_tokens = n_tok;
    if (n_tok < 2 * (int64_t)n_ctx) {
        free(ids);
        return seek_errorf(SEEK_ERR_INVALID, "the text is %lld tokens; a window of %d (-c) needs at least %d", (long long)n_tok,
                           n_ctx, 2 * n_ctx);
    }
    for (int64_t i = 0; i < n_tok; i++)
        if (ids[i] < 0 || ids[i] >= n_vocab) {
            free(ids);
            return seek_errorf(SEEK_ERR_INVALID, "token %d of the text is beyond the model's %lld logits", ids[i], (long long)n_vocab);
        }
    int64_t n_chunk = n_tok / n_ctx;
    if (p->n_chunks > 0 && p->n_chunks < n_chunk) n_chunk = p->n_chunks;

    seek_context_params cp = {.n_ctx = n_seq * n_ctx, .n_batch = n_seq * per_decode, .n_seq = n_seq,
                              .n_threads = p->n_threads, .precise = p->precise, .k_type = p->k_type, .v_type = p->v_type};
    seek_context *ctx = NULL;
    seek_batch b = {0};
    if ((st = seek_context_init(&ctx, m, &cp)) || (st = seek_batch_init(&b, n_seq * per_decode))) goto done;

    for (int64_t c0 = 0; c0 < n_chunk; c0 += n_seq) {
        const int32_t n_here = (int32_t)(n_chunk - c0 < n_seq ? n_chunk - c0 : n_seq);
        for (int32_t s = 0; s < n_seq; s++) seek_seq_truncate(ctx, s, 0);
        for (int32_t j = 0; j < n_decodes; j++) {
            seek_batch_clear(&b);
            for (int32_t s = 0; s < n_here; s++) {
                const int32_t *win = ids + (c0 + s) * n_ctx; /* window c0 + s */
                for (int32_t pos = j * per_decode; pos < n_ctx && pos < (j + 1) * per_decode; pos++)
                    seek_batch_add(&b, add_bos && pos == 0 ? bos : win[pos], pos, s, pos >= first && pos < n_ctx - 1);
            }
            if ((st = seek_decode(ctx, &b))) goto done;
            for (int32_t e = 0; e < b.n; e++) {
                if (!b.logits[e]) continue;
                const int32_t *win = ids + (c0 + b.seq[e]) * n_ctx;
                const double v = nll_of(seek_get_logits(ctx, e), n_vocab, win[b.pos[e] + 1]);
                if (p->row && !p->row(p->row_arg, seek_get_logits(ctx, e), n_vocab, win[b.pos[e] + 1])) {
                    st = SEEK_ERR_INVALID; /* the callback left its message */
                    goto done;
                }
                out->nll += v;
                out->nll2 += v * v;
                out->n_scored++;
            }
        }
        out->n_chunks += n_here;
        finish(out);
        if (progress) progress(arg, out->n_chunks, (int32_t)n_chunk, out);
    }
done:
    seek_batch_free(&b);
    seek_context_free(ctx);
    free(ids);
    return st;
}
