/* The server's scheduler: one thread per model drives one context with a sequence per slot.
 * Each step it admits queued requests into free slots (reusing the longest cached prefix: the
 * slot's own earlier tokens, or whole KV blocks shared from any other slot), builds one batch of
 * a decode token for every running sequence plus prompt chunks (chunked prefill, so a long prompt
 * does not stall running decodes), runs the forward pass, samples each sequence, applies its stop
 * rules and wakes its HTTP thread. Requests that do not fit the KV cache wait in the queue.
 * Not for HTTP or JSON (http.c, api.c). */
#ifndef SEEK_SERVER_SCHED_H
#define SEEK_SERVER_SCHED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/context.h"
#include "runtime/sampler.h"

#define SEEK_MAX_STOP 4
#define SEEK_MAX_TOP_LOGPROBS 20

typedef enum { SEEK_FINISH_NONE = 0, SEEK_FINISH_STOP, SEEK_FINISH_LENGTH, SEEK_FINISH_ERROR } seek_finish;

/* One generated token's log-probability and the most likely alternatives (of the model's
 * distribution before sampling: log-softmax of the logits). */
typedef struct {
    int32_t id;
    float logprob;
    int32_t n_top;
    int32_t top_id[SEEK_MAX_TOP_LOGPROBS];
    float top_lp[SEEK_MAX_TOP_LOGPROBS];
    size_t text_end; /* bytes of text once this token was appended */
} seek_token_lp;

typedef struct seek_req {
    /* set by the HTTP thread before seek_sched_submit, then read-only */
    int32_t *prompt;
    int32_t n_prompt;
    int32_t max_tokens;
    seek_sampler_params sp; /* bias arrays owned by the request */
    char *stop[SEEK_MAX_STOP];
    int32_t n_stop;
    int32_t top_logprobs; /* -1: none; 0..20 alternatives per token */
    bool json_mode;       /* response_format json_object: only tokens that keep the text valid JSON */
    /* written by the scheduler under mu; read by the HTTP thread under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *text;         /* generated text (stop string and what follows it removed) */
    size_t len, cap;
    size_t safe;        /* bytes of text that can be sent: no partial stop string or UTF-8 char */
    seek_token_lp *lp;  /* one per generated token when top_logprobs >= 0 */
    int32_t n_lp, cap_lp;
    int32_t n_gen, n_cached;
    seek_finish finish;
    char error[256];
    bool cancelled;     /* the client went away: the scheduler frees the slot at its next step */
    double t_submit, t_first, t_done;
    int refs;           /* the HTTP thread and the scheduler each hold one */
} seek_req;

typedef struct seek_sched seek_sched;

typedef struct {
    int32_t n_slots;    /* concurrent sequences (-np) */
    int32_t n_ctx;      /* KV positions shared by all slots (-c) */
    int32_t n_batch;    /* tokens per forward step (prefill chunks + decodes) */
    int32_t n_threads;
    int32_t max_queue;  /* waiting requests before submit refuses */
    seek_dtype k_type, v_type; /* KV cache storage (context.h) */
} seek_sched_params;

seek_status seek_sched_start(seek_sched **out, const seek_model *m, const seek_sched_params *p);
/* Stops taking requests, ends what waits and runs (waking their HTTP threads), joins the thread.
 * Cancel and submit stay safe to call until seek_sched_free. */
void seek_sched_shutdown(seek_sched *s);
void seek_sched_free(seek_sched *s);

seek_req *seek_req_new(void);
/* Drops a reference; the last one frees the request. */
void seek_req_release(seek_req *r);
/* Queues r (taking a reference). SEEK_ERR_FULL when the queue is full, SEEK_ERR_INVALID when the
 * prompt and max_tokens cannot fit the context. */
seek_status seek_sched_submit(seek_sched *s, seek_req *r);
/* Marks r cancelled (client disconnect / stop button) and wakes the scheduler. */
void seek_req_cancel(seek_sched *s, seek_req *r);

/* Gauges and counters for /metrics. */
typedef struct {
    int32_t queued, running, slots;
    int32_t kv_blocks_used, kv_blocks_total;
    int64_t prompt_tokens, cached_tokens, generated_tokens, requests_done;
} seek_sched_stats;
void seek_sched_get_stats(seek_sched *s, seek_sched_stats *st);
int32_t seek_sched_n_ctx(const seek_sched *s);

#endif
