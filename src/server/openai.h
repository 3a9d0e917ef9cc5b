/* OpenAI's API as JSON: a /v1/chat/completions or /v1/completions body checked and turned into a
 * scheduler request (chat messages rendered with the model's template, tokenized, sampling
 * parameters, stop strings, logit_bias, logprobs, response_format), and the response objects:
 * chat.completion / text_completion, their streamed chunks, usage, and the error object.
 * DeepSeek-R1 style text is split into reasoning_content (the <think> part) and content.
 * Not for HTTP (server.c) or scheduling (sched.c). */
#ifndef SEEK_SERVER_OPENAI_H
#define SEEK_SERVER_OPENAI_H

#include <jansson.h>
#include <stdbool.h>

#include "model/model.h"
#include "server/sched.h"

#define SEEK_API_MAX_N 8

typedef struct {
    bool chat;           /* /v1/chat/completions (else /v1/completions) */
    bool stream, include_usage;
    bool think_open;     /* the prompt opened a <think> block (R1 templates) */
    bool split_reasoning; /* chat with a model that may think: <think> text -> reasoning_content */
    int32_t top_logprobs;
    seek_req *req;
    int32_t n;            /* choices (n > 1: not streamed; extra[i] are copies with seed + i + 1) */
    seek_req *extra[SEEK_API_MAX_N - 1];
} seek_api_call;

/* Choice i's request (0: call->req). */
static inline seek_req *seek_api_choice(const seek_api_call *call, int32_t i) { return i ? call->extra[i - 1] : call->req; }

/* Parses a request body. Returns 0 and fills call (call->req is new, owned by the caller), or an
 * HTTP status (400, 404) with a message and the offending parameter (or NULL) for the error. */
int seek_api_parse(const seek_model *m, const char *model_id, int32_t n_ctx, bool chat, const char *body, size_t len,
                   seek_api_call *call, char *msg, size_t msg_len, const char **param);

/* {"error": {"message", "type", "param", "code"}} for an HTTP status, as a malloc'd string. */
char *seek_api_error(int status, const char *message, const char *param);

/* The other n - 1 choices' requests (copies of call->req with the next seeds); false when out of
 * memory. seek_api_call_free releases them all. */
bool seek_api_make_choices(seek_api_call *call);
void seek_api_call_free(seek_api_call *call);

/* The whole (non-streamed) response, one choice per request. They must be finished. */
json_t *seek_api_response(const seek_api_call *call, const seek_model *m, const char *id, const char *model_id, long created);

/* A streamed chunk with the text r produced since *sent_* (advancing them), or NULL when there is
 * nothing new; finish adds finish_reason. */
typedef struct {
    size_t reasoning, content, text; /* bytes already sent */
    int32_t lp;                      /* logprob entries already sent */
    bool role_sent;
} seek_stream_pos;
json_t *seek_api_chunk(const seek_api_call *call, const seek_model *m, const char *id, const char *model_id, long created,
                       seek_stream_pos *pos, bool final);
/* The last chunk of a stream with include_usage: empty choices + usage. */
json_t *seek_api_usage_chunk(const seek_api_call *call, const char *id, const char *model_id, long created);

/* Replaces invalid UTF-8 with U+FFFD (jansson refuses invalid strings); malloc'd. */
char *seek_utf8_sanitize(const char *s, size_t n, size_t *out_len);

#endif
