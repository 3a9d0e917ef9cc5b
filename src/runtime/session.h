/* A session: one sequence of a context plus the tokens its KV cache holds, so a new prompt that
 * starts with what is cached (the earlier turns of a chat) only processes the new tokens
 * ("KV cache reuse in dialogue"). Used by `seek run`, `seek chat` and `seek bench`.
 * Not for many concurrent sequences (the server's scheduler drives a context directly). */
#ifndef SEEK_RUNTIME_SESSION_H
#define SEEK_RUNTIME_SESSION_H

#include "runtime/context.h"

typedef struct {
    seek_context *ctx;
    int32_t seq;
    int32_t *tokens; /* what the cache holds for seq, in order */
    int32_t n_tokens, cap;
    seek_batch batch;
    int32_t last_row; /* batch entry whose logits are current */
} seek_session;

seek_status seek_session_init(seek_session *s, seek_context *ctx, int32_t seq);
void seek_session_free(seek_session *s);
/* Makes the cache hold exactly tokens[0..n): keeps the longest common prefix with what it holds,
 * drops the rest, processes the new tokens in batches, and leaves the last token's logits current.
 * *n_new (if given) receives how many tokens were processed. */
seek_status seek_session_feed(seek_session *s, const int32_t *tokens, int32_t n, int32_t *n_new);
/* Forgets everything the cache holds for the session's sequence. */
void seek_session_reset(seek_session *s);
/* Appends one token (a decode step). */
seek_status seek_session_push(seek_session *s, int32_t token);
const float *seek_session_logits(const seek_session *s);

#endif
