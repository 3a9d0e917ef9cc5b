/* HTTP glue for `seek serve` (see server.h) on libmicrohttpd, thread per connection: a handler
 * may wait for the scheduler, and a streamed response's reader waits for the next tokens. */
#define _GNU_SOURCE /* POLLRDHUP */
#include "server/server.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/status.h"
#include "server/openai.h"
#include "tokenizer/tokenizer.h"

#include "webui_html.h" /* generated from src/server/webui.html (webui_embed.cmake) */

#define N_BUCKETS 12

typedef struct {
    const seek_model *m;
    const seek_server_params *p;
    seek_sched *sched;
    int ready; /* model and scheduler up (read with __atomic_load_n) */
    pthread_mutex_t mu; /* the metrics below */
    long requests[6];   /* by status class: 2xx, 400, 401, 404, 413, 429/503/5xx */
    double ttft_sum, tpot_sum;
    long ttft_n, tpot_n, ttft_hist[N_BUCKETS], tpot_hist[N_BUCKETS];
    unsigned long next_id;
} server;

static const double buckets[N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

/* Per-connection state: the body as it arrives, and the request once parsed. */
typedef struct {
    server *srv;
    char *body;
    size_t len, cap;
    bool too_large;
    seek_api_call call;
    char id[48];
    long created;
    seek_stream_pos pos;
    int phase; /* streaming: 0 chunks, 1 usage, 2 [DONE], 3 end */
    bool streaming; /* a streamed response owns this state (freed by stream_free) */
} conn;

static void count_status(server *s, int status) {
    int k = status < 300 ? 0 : status == 400 ? 1 : status == 401 ? 2 : status == 404 ? 3 : status == 413 ? 4 : 5;
    pthread_mutex_lock(&s->mu);
    s->requests[k]++;
    pthread_mutex_unlock(&s->mu);
}

static void add_cors(struct MHD_Response *r) {
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
}

static enum MHD_Result reply(server *s, struct MHD_Connection *c, int status, const char *type, const void *data, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    add_cors(r);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    count_status(s, status);
    return ret;
}

static enum MHD_Result reply_json(server *s, struct MHD_Connection *c, int status, json_t *j) {
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt) return reply(s, c, 500, "application/json", "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}", 58);
    enum MHD_Result ret = reply(s, c, status, "application/json", txt, strlen(txt));
    free(txt);
    return ret;
}

static enum MHD_Result reply_error(server *s, struct MHD_Connection *c, int status, const char *msg, const char *param) {
    char *e = seek_api_error(status, msg, param);
    enum MHD_Result ret = reply(s, c, status, "application/json", e ? e : "{}", e ? strlen(e) : 2);
    free(e);
    return ret;
}

static void observe(server *s, double ttft, double tpot) {
    pthread_mutex_lock(&s->mu);
    if (ttft >= 0) {
        s->ttft_sum += ttft, s->ttft_n++;
        for (int b = 0; b < N_BUCKETS; b++) s->ttft_hist[b] += ttft <= buckets[b];
    }
    if (tpot >= 0) {
        s->tpot_sum += tpot, s->tpot_n++;
        for (int b = 0; b < N_BUCKETS; b++) s->tpot_hist[b] += tpot <= buckets[b];
    }
    pthread_mutex_unlock(&s->mu);
}

/* Latency of a finished request for the histograms. */
static void observe_req(server *s, const seek_req *r) {
    if (!r->t_first) return;
    observe(s, r->t_first - r->t_submit, r->n_gen > 1 ? (r->t_done - r->t_first) / (r->n_gen - 1) : -1);
}

/* ---- streaming ---- */

/* Appends "data: <json>\n\n" to buf if it fits; false otherwise (json kept for later is not
 * possible, so the caller reserves room: chunks are small next to the 64 KiB buffer). */
static size_t put_event(char *buf, size_t max, json_t *j) {
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!txt) return 0;
    size_t n = strlen(txt);
    if (n + 8 > max) {
        free(txt);
        return 0;
    }
    memcpy(buf, "data: ", 6);
    memcpy(buf + 6, txt, n);
    memcpy(buf + 6 + n, "\n\n", 2);
    free(txt);
    return n + 8;
}

static ssize_t stream_reader(void *cls, uint64_t off, char *buf, size_t max) {
    (void)off;
    conn *cn = cls;
    server *s = cn->srv;
    seek_req *r = cn->call.req;
    if (cn->phase == 3) return MHD_CONTENT_READER_END_OF_STREAM;
    pthread_mutex_lock(&r->mu);
    /* wait up to a second for new text or the end; then a keep-alive comment is written, so a
     * closed connection is noticed (and the request cancelled) even while nothing is produced */
    const struct timespec ts = seek_deadline_ms(1000);
    for (;;) {
        const size_t sent = cn->call.chat ? (cn->pos.content > cn->pos.reasoning ? cn->pos.content : cn->pos.reasoning) : cn->pos.text;
        const bool news = r->finish != SEEK_FINISH_NONE || r->safe > sent || r->n_lp > cn->pos.lp || (cn->call.chat && !cn->pos.role_sent);
        if (news || cn->phase != 0 || pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0) break;
    }
    const bool finished = r->finish != SEEK_FINISH_NONE;
    size_t n = 0;
    if (cn->phase == 0) {
        if (finished && r->finish == SEEK_FINISH_ERROR && r->n_gen == 0) { /* failed before any token */
            char *e = seek_api_error(500, r->error, NULL);
            n = e ? (size_t)snprintf(buf, max, "data: %s\n\n", e) : 0;
            free(e);
            cn->phase = 2;
        } else {
            json_t *ch = seek_api_chunk(&cn->call, s->m, cn->id, s->p->model_id, cn->created, &cn->pos, finished);
            if (ch) n = put_event(buf, max, ch);
            if (finished) cn->phase = cn->call.include_usage ? 1 : 2;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (n) return (ssize_t)n;
    if (cn->phase == 1) {
        pthread_mutex_lock(&r->mu);
        n = put_event(buf, max, seek_api_usage_chunk(&cn->call, cn->id, s->p->model_id, cn->created));
        pthread_mutex_unlock(&r->mu);
        cn->phase = 2;
        if (n) return (ssize_t)n;
    }
    if (cn->phase == 2) {
        observe_req(s, r);
        cn->phase = 3;
        memcpy(buf, "data: [DONE]\n\n", 14);
        return 14;
    }
    /* nothing yet: an SSE comment keeps the connection checked (a closed one ends the request) */
    memcpy(buf, ": \n\n", 4);
    return 4;
}

static void conn_free(conn *cn) {
    if (!cn) return;
    if (cn->call.req) {
        pthread_mutex_lock(&cn->call.req->mu);
        bool running = cn->call.req->finish == SEEK_FINISH_NONE;
        pthread_mutex_unlock(&cn->call.req->mu);
        if (running) seek_req_cancel(cn->srv->sched, cn->call.req); /* the client went away */
        seek_api_call_free(&cn->call);
    }
    free(cn->body);
    free(cn);
}

static void stream_free(void *cls) { conn_free(cls); }

/* ---- routes ---- */

/* Has the peer of socket fd closed its end? (-1: cannot tell, no) */
static bool client_gone(int fd) {
    struct pollfd pf = {.fd = fd, .events = POLLIN | POLLRDHUP};
    char b;
    if (fd < 0 || poll(&pf, 1, 0) != 1) return false;
    return (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)) ||
           ((pf.revents & POLLIN) && recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0);
}

static void cancel_all(server *s, const seek_api_call *call) {
    for (int32_t i = 0; i < call->n; i++) seek_req_cancel(s->sched, seek_api_choice(call, i));
}

static enum MHD_Result completions(server *s, struct MHD_Connection *c, conn *cn, bool chat) {
    char msg[512];
    const char *param = NULL;
    int st = seek_api_parse(s->m, s->p->model_id, seek_sched_n_ctx(s->sched), chat, cn->body ? cn->body : "", cn->len, &cn->call,
                            msg, sizeof msg, &param);
    if (st) return reply_error(s, c, st, msg, param);
    pthread_mutex_lock(&s->mu);
    snprintf(cn->id, sizeof cn->id, "%s-seek%lx%04lx", chat ? "chatcmpl" : "cmpl", (unsigned long)time(NULL), s->next_id++);
    pthread_mutex_unlock(&s->mu);
    cn->created = (long)time(NULL);
    if (!seek_api_make_choices(&cn->call)) return reply_error(s, c, 500, "out of memory", NULL);
    seek_status ss = seek_sched_submit(s->sched, cn->call.req);
    for (int32_t i = 1; !ss && i < cn->call.n; i++) ss = seek_sched_submit(s->sched, seek_api_choice(&cn->call, i));
    if (ss) {
        cancel_all(s, &cn->call);
        return reply_error(s, c, ss == SEEK_ERR_FULL ? 503 : 400, seek_last_error(), ss == SEEK_ERR_FULL ? NULL : "max_tokens");
    }
    seek_req *r = cn->call.req;
    if (cn->call.stream) {
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_reader, cn, stream_free);
        if (!resp) return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        add_cors(resp);
        cn->streaming = true;
        enum MHD_Result ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        count_status(s, 200);
        return ret;
    }
    /* wait for every choice, checking every quarter second that the client is still there */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const int fd = ci ? ci->connect_fd : -1;
    for (int32_t i = 0; i < cn->call.n; i++) {
        r = seek_api_choice(&cn->call, i);
        pthread_mutex_lock(&r->mu);
        while (r->finish == SEEK_FINISH_NONE) {
            const struct timespec ts = seek_deadline_ms(250);
            while (r->finish == SEEK_FINISH_NONE && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {}
            if (r->finish != SEEK_FINISH_NONE || !client_gone(fd)) continue;
            pthread_mutex_unlock(&r->mu);
            cancel_all(s, &cn->call);
            pthread_mutex_lock(&r->mu);
        }
        pthread_mutex_unlock(&r->mu);
        observe_req(s, r);
    }
    r = cn->call.req;
    if (r->finish == SEEK_FINISH_ERROR && r->n_gen == 0) return reply_error(s, c, 500, r->error, NULL);
    return reply_json(s, c, 200, seek_api_response(&cn->call, s->m, cn->id, s->p->model_id, cn->created));
}

static enum MHD_Result tokenize(server *s, struct MHD_Connection *c, conn *cn, bool detok) {
    json_error_t je;
    json_t *o = json_loadb(cn->body ? cn->body : "", cn->len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return reply_error(s, c, 400, "the request body must be a JSON object", NULL);
    }
    json_t *out = NULL;
    if (!detok) {
        const char *text = json_string_value(json_object_get(o, "content"));
        const bool add = json_is_true(json_object_get(o, "add_special"));
        int64_t cap = text ? (int64_t)strlen(text) + 8 : 0;
        int32_t *ids = text ? malloc((size_t)cap * sizeof(int32_t)) : NULL;
        int64_t n = ids ? seek_tokenize(s->m->tok, text, strlen(text), add, true, ids, cap) : -1;
        if (n >= 0 && n <= cap) {
            out = json_pack("{s:[]}", "tokens");
            for (int64_t i = 0; i < n; i++) json_array_append_new(json_object_get(out, "tokens"), json_integer(ids[i]));
        }
        free(ids);
        if (!out) {
            json_decref(o);
            return reply_error(s, c, 400, "'content' must be a string", "content");
        }
    } else {
        const json_t *t = json_object_get(o, "tokens");
        const size_t n = json_is_array(t) ? json_array_size(t) : 0;
        int32_t *ids = malloc((n + 1) * sizeof(int32_t));
        bool ok = json_is_array(t) && ids;
        for (size_t i = 0; ok && i < n; i++) {
            const json_t *v = json_array_get(t, i);
            ok = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < s->m->hp.n_vocab;
            if (ok) ids[i] = (int32_t)json_integer_value(v);
        }
        int64_t len = ok ? seek_detokenize(s->m->tok, ids, (int64_t)n, NULL, 0, false) : -1;
        char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
        if (text) {
            seek_detokenize(s->m->tok, ids, (int64_t)n, text, len, false);
            size_t sl;
            char *clean = seek_utf8_sanitize(text, (size_t)len, &sl);
            if (clean) out = json_pack("{s:s%}", "content", clean, sl);
            free(clean);
        }
        free(text);
        free(ids);
        if (!out) {
            json_decref(o);
            return reply_error(s, c, 400, "'tokens' must be a list of token ids", "tokens");
        }
    }
    json_decref(o);
    return reply_json(s, c, 200, out);
}

static enum MHD_Result metrics(server *s, struct MHD_Connection *c) {
    seek_sched_stats st;
    seek_sched_get_stats(s->sched, &st);
    char *b = malloc(16384);
    if (!b) return MHD_NO;
    size_t n = 0, cap = 16384;
#define P(...) n += (size_t)snprintf(b + n, n < cap ? cap - n : 0, __VA_ARGS__)
    static const char *cls[6] = {"2xx", "400", "401", "404", "413", "5xx"};
    pthread_mutex_lock(&s->mu);
    P("# HELP seek_requests_total HTTP requests answered, by status\n# TYPE seek_requests_total counter\n");
    for (int k = 0; k < 6; k++) P("seek_requests_total{status=\"%s\"} %ld\n", cls[k], s->requests[k]);
    P("# TYPE seek_prompt_tokens_total counter\nseek_prompt_tokens_total %lld\n", (long long)st.prompt_tokens);
    P("# TYPE seek_prefix_cache_hit_tokens_total counter\nseek_prefix_cache_hit_tokens_total %lld\n", (long long)st.cached_tokens);
    P("# TYPE seek_generated_tokens_total counter\nseek_generated_tokens_total %lld\n", (long long)st.generated_tokens);
    P("# TYPE seek_queue_depth gauge\nseek_queue_depth %d\n", st.queued);
    P("# TYPE seek_running_sequences gauge\nseek_running_sequences %d\n", st.running);
    P("# TYPE seek_slots gauge\nseek_slots %d\n", st.slots);
    P("# TYPE seek_kv_blocks_used gauge\nseek_kv_blocks_used %d\n", st.kv_blocks_used);
    P("# TYPE seek_kv_blocks_free gauge\nseek_kv_blocks_free %d\n", st.kv_blocks_total - st.kv_blocks_used);
    const char *hn[2] = {"seek_time_to_first_token_seconds", "seek_time_per_output_token_seconds"};
    const long *hh[2] = {s->ttft_hist, s->tpot_hist};
    const double sums[2] = {s->ttft_sum, s->tpot_sum};
    const long cnt[2] = {s->ttft_n, s->tpot_n};
    for (int h = 0; h < 2; h++) {
        P("# TYPE %s histogram\n", hn[h]);
        for (int k = 0; k < N_BUCKETS; k++) P("%s_bucket{le=\"%g\"} %ld\n", hn[h], buckets[k], hh[h][k]);
        P("%s_bucket{le=\"+Inf\"} %ld\n%s_sum %.6f\n%s_count %ld\n", hn[h], cnt[h], hn[h], sums[h], hn[h], cnt[h]);
    }
    pthread_mutex_unlock(&s->mu);
#undef P
    enum MHD_Result ret = reply(s, c, 200, "text/plain; version=0.0.4", b, n < cap ? n : cap - 1);
    free(b);
    return ret;
}

static bool authorized(server *s, struct MHD_Connection *c) {
    if (!s->p->api_key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    return h && !strncmp(h, "Bearer ", 7) && !strcmp(h + 7, s->p->api_key);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                               const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    server *s = cls;
    conn *cn = *con_cls;
    if (!cn) { /* first call: headers only */
        if (!(cn = calloc(1, sizeof *cn))) return MHD_NO;
        cn->srv = s;
        *con_cls = cn;
        return MHD_YES;
    }
    if (*upload_size) { /* body data */
        if (cn->len + *upload_size > s->p->max_body) cn->too_large = true;
        if (!cn->too_large) {
            if (cn->len + *upload_size + 1 > cn->cap) {
                size_t cap = cn->cap ? cn->cap : 4096;
                while (cap < cn->len + *upload_size + 1) cap *= 2;
                char *b = realloc(cn->body, cap);
                if (!b) return MHD_NO;
                cn->body = b;
                cn->cap = cap;
            }
            memcpy(cn->body + cn->len, upload, *upload_size);
            cn->len += *upload_size;
            cn->body[cn->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    const bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(method, "OPTIONS")) return reply(s, c, 204, "text/plain", "", 0);
    if (cn->too_large)
        return reply_error(s, c, 413, "the request body is larger than the limit", NULL);
    if (get && (!strcmp(url, "/") || !strcmp(url, "/index.html")))
        return reply(s, c, 200, "text/html; charset=utf-8", seek_webui_html, seek_webui_html_len);
    if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE)) {
        if (get && !strcmp(url, "/health")) return reply(s, c, 503, "application/json", "{\"status\":\"loading\"}", 20);
        return reply_error(s, c, 503, "the model is loading", NULL);
    }
    if (get && !strcmp(url, "/health")) return reply(s, c, 200, "application/json", "{\"status\":\"ok\"}", 15);
    if (get && !strcmp(url, "/metrics")) return metrics(s, c);
    const bool api = !strncmp(url, "/v1/", 4) || !strcmp(url, "/tokenize") || !strcmp(url, "/detokenize");
    if (api && !authorized(s, c)) return reply_error(s, c, 401, "missing or wrong API key (Authorization: Bearer KEY)", NULL);
    if (get && !strcmp(url, "/v1/models"))
        return reply_json(s, c, 200, json_pack("{s:s, s:[{s:s, s:s, s:I, s:s, s:I}]}", "object", "list", "data", "id", s->p->model_id,
                                               "object", "model", "created", (json_int_t)time(NULL), "owned_by", "seek",
                                               "context_length", (json_int_t)seek_sched_n_ctx(s->sched)));
    if (post && !strcmp(url, "/v1/chat/completions")) return completions(s, c, cn, true);
    if (post && !strcmp(url, "/v1/completions")) return completions(s, c, cn, false);
    if (post && !strcmp(url, "/tokenize")) return tokenize(s, c, cn, false);
    if (post && !strcmp(url, "/detokenize")) return tokenize(s, c, cn, true);
    char msg[300];
    snprintf(msg, sizeof msg, "no route for %s %.200s", method, url);
    return reply_error(s, c, 404, msg, NULL);
}

/* Frees the connection state unless a streamed response took it over. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code) {
    (void)cls, (void)c, (void)code;
    conn *cn = *con_cls;
    *con_cls = NULL;
    if (cn && !cn->streaming) conn_free(cn);
}

seek_status seek_server_run(const char *model_path, const seek_server_params *p, volatile int *stop) {
    server s = {.p = p};
    pthread_mutex_init(&s.mu, NULL);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    if (inet_pton(AF_INET, p->host, &addr.sin_addr) != 1) return seek_errorf(SEEK_ERR_INVALID, "--host '%s' is not an IPv4 address", p->host);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                                            (uint16_t)p->port, NULL, NULL, handler, &s, MHD_OPTION_SOCK_ADDR, &addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 600u,
                                            MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    if (!d) return seek_errorf(SEEK_ERR_IO, "cannot listen on %s:%d (in use?)", p->host, p->port);
    seek_model *m = NULL;
    seek_status st = seek_model_load(&m, model_path);
    if (!st) {
        s.m = m;
        st = seek_sched_start(&s.sched, m, &p->sched);
    }
    if (!st) {
        __atomic_store_n(&s.ready, 1, __ATOMIC_RELEASE);
        fprintf(stderr, "seek serve: listening on http://%s:%d (model '%s', %d slots, context %d)\n", p->host, p->port, p->model_id,
                p->sched.n_slots, seek_sched_n_ctx(s.sched));
        while (!*stop) usleep(100 * 1000);
        fprintf(stderr, "seek serve: stopping\n");
    }
    MHD_quiesce_daemon(d);
    seek_sched_shutdown(s.sched); /* waiting handlers are woken with an error */
    MHD_stop_daemon(d);
    seek_sched_free(s.sched);
    seek_model_free(m);
    pthread_mutex_destroy(&s.mu);
    return st;
}
