/* Prefix-reusing single-sequence driver over a context (see session.h). */
#include "runtime/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

seek_status seek_session_init(seek_session *s, seek_context *ctx, int32_t seq) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->seq = seq;
    s->cap = ctx->params.n_ctx;
    s->tokens = malloc((size_t)s->cap * sizeof(int32_t));
    if (!s->tokens) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    seek_status st = seek_batch_init(&s->batch, ctx->params.n_batch);
    if (st) {
        free(s->tokens);
        return st;
    }
    s->last_row = -1;
    seek_seq_truncate(ctx, seq, 0);
    return SEEK_OK;
}

void seek_session_free(seek_session *s) {
    free(s->tokens);
    seek_batch_free(&s->batch);
    memset(s, 0, sizeof *s);
}

seek_status seek_session_feed(seek_session *s, const int32_t *tokens, int32_t n, int32_t *n_new) {
    if (n <= 0) return seek_errorf(SEEK_ERR_INVALID, "empty prompt");
    if (n > s->cap)
        return seek_errorf(SEEK_ERR_INVALID, "the prompt (%d tokens) is longer than the context (%d tokens); use a larger -c", n, s->cap);
    int32_t keep = 0;
    while (keep < s->n_tokens && keep < n && s->tokens[keep] == tokens[keep]) keep++;
    if (keep == n) keep--; /* recompute the last token so its logits are current */
    seek_seq_truncate(s->ctx, s->seq, keep);
    s->n_tokens = keep;
    if (n_new) *n_new = n - keep;
    for (int32_t i = keep; i < n;) {
        seek_batch_clear(&s->batch);
        while (i < n && s->batch.n < s->batch.cap) {
            seek_batch_add(&s->batch, tokens[i], i, s->seq, i == n - 1);
            i++;
        }
        seek_status st = seek_decode(s->ctx, &s->batch);
        if (st) return st;
        memcpy(s->tokens + s->n_tokens, s->batch.token, (size_t)s->batch.n * sizeof(int32_t));
        s->n_tokens += s->batch.n;
        s->last_row = s->batch.n - 1;
    }
    return SEEK_OK;
}

void seek_session_reset(seek_session *s) {
    seek_seq_truncate(s->ctx, s->seq, 0);
    s->n_tokens = 0;
}

seek_status seek_session_push(seek_session *s, int32_t token) {
    if (s->n_tokens >= s->cap) return seek_errorf(SEEK_ERR_FULL, "the context is full (%d tokens)", s->cap);
    seek_batch_clear(&s->batch);
    seek_batch_add(&s->batch, token, s->n_tokens, s->seq, true);
    seek_status st = seek_decode(s->ctx, &s->batch);
    if (st) return st;
    s->tokens[s->n_tokens++] = token;
    s->last_row = 0;
    return SEEK_OK;
}

const float *seek_session_logits(const seek_session *s) { return seek_get_logits(s->ctx, s->last_row); }
