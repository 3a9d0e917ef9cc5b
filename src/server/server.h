/* `seek serve`: an OpenAI-compatible HTTP server over one model (DESIGN "How a request flows
 * through the server"). libmicrohttpd runs a thread per connection; each request is parsed
 * (openai.c), queued to the scheduler (sched.c), and answered as JSON or streamed as server-sent
 * events while the scheduler produces tokens. Routes: POST /v1/chat/completions, /v1/completions,
 * /tokenize, /detokenize; GET /v1/models, /health, /metrics, / (the chat page).
 * Not for the forward pass or sampling. */
#ifndef SEEK_SERVER_SERVER_H
#define SEEK_SERVER_SERVER_H

#include "model/model.h"
#include "server/sched.h"

typedef struct {
    const char *host;     /* "127.0.0.1" */
    int port;             /* 8080 */
    const char *api_key;  /* NULL: no authentication */
    const char *model_id; /* what /v1/models lists and requests must name */
    size_t max_body;      /* bytes of a request body (413 above) */
    seek_sched_params sched;
} seek_server_params;

/* Listens (GET /health answers 503 "loading" meanwhile), loads the model at model_path, serves it
 * until *stop becomes true (checked every 100 ms), then stops accepting, ends what runs and
 * returns. Errors: the port cannot be bound, the model does not load. */
seek_status seek_server_run(const char *model_path, const seek_server_params *p, volatile int *stop);

#endif
