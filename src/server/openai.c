/* OpenAI request parsing and response building (see openai.h). */
#include "server/openai.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/chat_template.h"
#include "tokenizer/reasoning.h"
#include "tokenizer/tokenizer.h"

/* ---- parsing ---- */

typedef struct {
    char *msg;
    size_t msg_len;
    const char **param;
} perr;

static int bad(perr *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(perr *e, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->msg_len, fmt, ap);
    va_end(ap);
    *e->param = param;
    return 400;
}

/* An optional number field within [lo, hi]; 0 when absent or fine, 400 otherwise. */
static int num_field(perr *e, const json_t *o, const char *key, double lo, double hi, double *out) {
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return bad(e, key, "'%s' must be a number", key);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return bad(e, key, "'%s' must be between %g and %g (got %g)", key, lo, hi, x);
    *out = x;
    return 0;
}

static int int_field(perr *e, const json_t *o, const char *key, long long lo, long long hi, long long *out) {
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return bad(e, key, "'%s' must be an integer", key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return bad(e, key, "'%s' must be between %lld and %lld (got %lld)", key, lo, hi, x);
    *out = x;
    return 0;
}

/* A message's content: a string, or text parts [{"type": "text", "text": ...}] joined. */
static char *content_text(const json_t *c) {
    if (json_is_string(c)) return strdup(json_string_value(c));
    if (json_is_null(c) || !c) return strdup("");
    if (!json_is_array(c)) return NULL;
    size_t i, len = 0;
    json_t *part;
    json_array_foreach(c, i, part) {
        const char *ty = json_string_value(json_object_get(part, "type"));
        const char *tx = json_string_value(json_object_get(part, "text"));
        if (!ty || strcmp(ty, "text") || !tx) return NULL;
        len += strlen(tx);
    }
    char *out = malloc(len + 1);
    if (!out) return NULL;
    out[0] = 0;
    json_array_foreach(c, i, part) strcat(out, json_string_value(json_object_get(part, "text")));
    return out;
}

static int32_t *tokenize_text(const seek_model *m, const char *text, bool add_special, int32_t *n) {
    const size_t len = strlen(text);
    int64_t cap = (int64_t)len + 8;
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    int64_t k = ids ? seek_tokenize(m->tok, text, len, add_special, true, ids, cap) : -1;
    if (k < 0 || k > cap) {
        free(ids);
        return NULL;
    }
    *n = (int32_t)k;
    return ids;
}

static int parse_messages(perr *e, const seek_model *m, const json_t *msgs, seek_req *r, bool *think_open) {
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) return bad(e, "messages", "'messages' must be a non-empty array");
    const size_t n = json_array_size(msgs);
    seek_chat_msg *cm = calloc(n, sizeof *cm);
    char **texts = calloc(n, sizeof *texts);
    int status = cm && texts ? 0 : bad(e, NULL, "out of memory");
    for (size_t i = 0; i < n && !status; i++) {
        const json_t *msg = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(msg, "role"));
        char param[64];
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!json_is_object(msg) || !role) {
            status = bad(e, "messages", "messages[%zu] must be an object with a 'role'", i);
            break;
        }
        if (!strcmp(role, "developer")) role = "system";
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")) {
            status = bad(e, "messages", "messages[%zu].role '%.40s' is not supported (system, developer, user, assistant)", i, role);
            break;
        }
        if (!(texts[i] = content_text(json_object_get(msg, "content")))) {
            status = bad(e, "messages", "messages[%zu].content must be a string or a list of text parts", i);
            break;
        }
        cm[i].role = role;
        cm[i].content = texts[i];
    }
    if (!status) {
        const int32_t bos = seek_tokenizer_bos(m->tok);
        char *text = seek_chat_apply(m->chat, cm, n, true, bos >= 0 ? seek_tokenizer_text(m->tok, bos) : NULL);
        if (!text || !(r->prompt = tokenize_text(m, text, false, &r->n_prompt))) status = bad(e, "messages", "cannot tokenize the messages");
        if (text) {
            const size_t tl = strlen(text), ol = strlen(SEEK_THINK_OPEN "\n");
            *think_open = tl >= ol && !strcmp(text + tl - ol, SEEK_THINK_OPEN "\n");
        }
        free(text);
    }
    for (size_t i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(cm);
    return status;
}

static int parse_prompt(perr *e, const seek_model *m, const json_t *p, seek_req *r) {
    if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0))) p = json_array_get(p, 0);
    if (json_is_string(p)) {
        if (!(r->prompt = tokenize_text(m, json_string_value(p), true, &r->n_prompt))) return bad(e, "prompt", "cannot tokenize the prompt");
        return 0;
    }
    if (json_is_array(p) && json_array_size(p) > 0) { /* token ids */
        const size_t n = json_array_size(p);
        if (!(r->prompt = malloc(n * sizeof(int32_t)))) return bad(e, NULL, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(p, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= m->hp.n_vocab)
                return bad(e, "prompt", "'prompt' must be a string or a list of token ids (item %zu is not)", i);
            r->prompt[i] = (int32_t)json_integer_value(v);
        }
        r->n_prompt = (int32_t)n;
        return 0;
    }
    return bad(e, "prompt", "'prompt' must be a non-empty string");
}

int seek_api_parse(const seek_model *m, const char *model_id, int32_t n_ctx, bool chat, const char *body, size_t len,
                   seek_api_call *call, char *msg, size_t msg_len, const char **param) {
    perr e = {msg, msg_len, param};
    memset(call, 0, sizeof *call);
    call->chat = chat;
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
    if (!o) return bad(&e, NULL, "invalid JSON in the request body: %s (line %d, column %d)", je.text, je.line, je.column);
    int st = 0;
    seek_req *r = call->req = seek_req_new();
    if (!r) st = bad(&e, NULL, "out of memory");
    if (!st && !json_is_object(o)) st = bad(&e, NULL, "the request body must be a JSON object");
    const json_t *model = json_object_get(o, "model");
    if (!st && model && !json_is_string(model)) st = bad(&e, "model", "'model' must be a string");
    if (!st && model && *json_string_value(model) && strcmp(json_string_value(model), model_id)) {
        snprintf(msg, msg_len, "The model '%.100s' does not exist (this server has '%s')", json_string_value(model), model_id);
        *param = "model";
        st = 404;
    }
    if (!st) st = chat ? parse_messages(&e, m, json_object_get(o, "messages"), r, &call->think_open)
                       : parse_prompt(&e, m, json_object_get(o, "prompt"), r);
    call->split_reasoning = chat && (call->think_open || m->chat == SEEK_CHAT_DEEPSEEK_R1);
    /* sampling: OpenAI's defaults (temperature 1, top_p 1), llama.cpp's names for the rest */
    seek_sampler_params sp = seek_sampler_defaults();
    sp.temp = 1.0f, sp.top_p = 1.0f, sp.top_k = 0, sp.min_p = 0.0f;
    double temp = sp.temp, top_p = sp.top_p, min_p = 0, pres = 0, freq = 0, rep = 1;
    long long top_k = 0, seed = -1, max_tokens = -1, n = 1, top_lp = -1;
    if (!st) st = num_field(&e, o, "temperature", 0, 2, &temp);
    if (!st) st = num_field(&e, o, "top_p", 0, 1, &top_p);
    if (!st) st = num_field(&e, o, "min_p", 0, 1, &min_p);
    if (!st) st = num_field(&e, o, "presence_penalty", -2, 2, &pres);
    if (!st) st = num_field(&e, o, "frequency_penalty", -2, 2, &freq);
    if (!st) st = num_field(&e, o, "repetition_penalty", 0.01, 10, &rep);
    if (!st) st = int_field(&e, o, "top_k", 0, 1 << 20, &top_k);
    if (!st) st = int_field(&e, o, "seed", -(1ll << 62), 1ll << 62, &seed);
    if (!st) st = int_field(&e, o, "max_tokens", 1, 1 << 24, &max_tokens);
    if (!st) st = int_field(&e, o, "max_completion_tokens", 1, 1 << 24, &max_tokens);
    if (!st) st = int_field(&e, o, "n", 1, SEEK_API_MAX_N, &n);
    /* logprobs: chat {"logprobs": true, "top_logprobs": k}; completions {"logprobs": k} */
    const json_t *lp = json_object_get(o, "logprobs");
    if (!st && lp && !json_is_null(lp)) {
        if (chat && !json_is_boolean(lp)) st = bad(&e, "logprobs", "'logprobs' must be a boolean");
        else if (!chat && !json_is_integer(lp)) st = bad(&e, "logprobs", "'logprobs' must be an integer (0..5)");
        else if (chat && json_is_true(lp)) top_lp = 0;
        else if (!chat) st = int_field(&e, o, "logprobs", 0, 5, &top_lp);
    }
    if (!st && chat && json_object_get(o, "top_logprobs")) {
        long long k = 0;
        st = int_field(&e, o, "top_logprobs", 0, SEEK_MAX_TOP_LOGPROBS, &k);
        if (!st && top_lp < 0) st = bad(&e, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
        if (!st) top_lp = k;
    }
    /* stop: a string or up to 4 strings */
    const json_t *stop = json_object_get(o, "stop");
    if (!st && stop && !json_is_null(stop)) {
        if (json_is_string(stop)) {
            if (*json_string_value(stop)) r->stop[r->n_stop++] = strdup(json_string_value(stop));
        } else if (json_is_array(stop) && json_array_size(stop) <= SEEK_MAX_STOP) {
            size_t i;
            json_t *v;
            json_array_foreach(stop, i, v) {
                if (!json_is_string(v)) {
                    st = bad(&e, "stop", "'stop' must be a string or a list of up to %d strings", SEEK_MAX_STOP);
                    break;
                }
                if (*json_string_value(v)) r->stop[r->n_stop++] = strdup(json_string_value(v));
            }
        } else {
            st = bad(&e, "stop", "'stop' must be a string or a list of up to %d strings", SEEK_MAX_STOP);
        }
    }
    /* logit_bias: {"token id": bias in [-100, 100]} */
    const json_t *lb = json_object_get(o, "logit_bias");
    if (!st && lb && !json_is_null(lb)) {
        if (!json_is_object(lb)) st = bad(&e, "logit_bias", "'logit_bias' must be an object of token id -> bias");
        const size_t nb = json_is_object(lb) ? json_object_size(lb) : 0;
        int32_t *ids = calloc(nb + 1, sizeof *ids);
        float *vals = calloc(nb + 1, sizeof *vals);
        const char *key;
        json_t *v;
        int32_t k = 0;
        if (!st && (!ids || !vals)) st = bad(&e, NULL, "out of memory");
        if (!st)
            json_object_foreach((json_t *)lb, key, v) {
                char *end;
                long id = strtol(key, &end, 10);
                if (*end || id < 0 || id >= m->hp.n_vocab || !json_is_number(v) || fabs(json_number_value(v)) > 100) {
                    st = bad(&e, "logit_bias", "logit_bias['%.20s'] must map a token id to a number in [-100, 100]", key);
                    break;
                }
                ids[k] = (int32_t)id;
                vals[k++] = json_number_value(v) <= -100 ? -INFINITY : (float)json_number_value(v);
            }
        sp.n_bias = k, sp.bias_ids = ids, sp.bias_vals = vals;
    }
    const json_t *rf = json_object_get(o, "response_format");
    if (!st && rf && !json_is_null(rf)) {
        const char *ty = json_string_value(json_object_get(rf, "type"));
        if (!ty || (strcmp(ty, "text") && strcmp(ty, "json_object")))
            st = bad(&e, "response_format", "response_format.type must be 'text' or 'json_object'");
        else r->json_mode = !strcmp(ty, "json_object");
    }
    const json_t *so = json_object_get(o, "stream_options");
    call->stream = json_is_true(json_object_get(o, "stream"));
    call->include_usage = json_is_true(json_object_get(so, "include_usage"));
    if (!st && json_object_get(o, "stream") && !json_is_boolean(json_object_get(o, "stream")))
        st = bad(&e, "stream", "'stream' must be a boolean");
    if (!st && n > 1 && call->stream) st = bad(&e, "n", "'n' > 1 is supported without streaming only");
    call->n = (int32_t)n;
    if (!st && r->n_prompt < 1) st = bad(&e, chat ? "messages" : "prompt", "the prompt is empty (no tokens)");
    if (!st && r->n_prompt >= n_ctx)
        st = bad(&e, chat ? "messages" : "prompt", "the prompt is %d tokens, more than the context of %d tokens", r->n_prompt, n_ctx);
    if (!st && max_tokens > 0 && r->n_prompt + max_tokens > n_ctx)
        st = bad(&e, "max_tokens", "the prompt (%d tokens) plus max_tokens (%lld) exceeds the context of %d tokens", r->n_prompt,
                 max_tokens, n_ctx);
    sp.temp = (float)temp, sp.top_p = (float)top_p, sp.min_p = (float)min_p, sp.top_k = (int32_t)top_k;
    sp.presence_penalty = (float)pres, sp.frequency_penalty = (float)freq, sp.repeat_penalty = (float)rep;
    sp.seed = seed >= 0 ? (uint64_t)seed : (uint64_t)rand() << 32 ^ (uint64_t)rand();
    r->sp = sp;
    if (!st) {
        r->max_tokens = max_tokens > 0 ? (int32_t)max_tokens : n_ctx - r->n_prompt;
        r->top_logprobs = (int32_t)top_lp;
        call->top_logprobs = (int32_t)top_lp;
    }
    json_decref(o);
    if (st) {
        seek_req_release(call->req);
        call->req = NULL;
    }
    return st;
}

/* ---- responses ---- */

char *seek_utf8_sanitize(const char *s, size_t n, size_t *out_len) {
    char *o = malloc(3 * n + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n;) {
        const unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = k > 0 && i + k <= n;
        for (size_t j = 1; ok && j < k; j++) ok = ((unsigned char)s[i + j] >> 6) == 2;
        if (ok && k == 1 && c == 0) ok = false; /* no NUL in JSON strings we build */
        if (ok) {
            memcpy(w, s + i, k);
            w += k, i += k;
        } else {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3, i++;
        }
    }
    *w = 0;
    if (out_len) *out_len = (size_t)(w - o);
    return o;
}

static json_t *str_n(const char *s, size_t n) {
    size_t len;
    char *c = seek_utf8_sanitize(s, n, &len);
    json_t *j = c ? json_stringn(c, len) : NULL;
    free(c);
    return j ? j : json_string("");
}

/* Where the reasoning and the answer are in text[0..len): reasoning [r0, r1), answer from c0.
 * A partial "</think>" at the end of unfinished reasoning is held back (r1 before it, c0 = len).
 * "</think>" does not start before `from` (a stream passes the reasoning it has sent, so each
 * chunk looks only at new text). */
static void split(const seek_api_call *call, const char *t, size_t len, size_t from, bool final, size_t *r0, size_t *r1,
                  size_t *c0) {
    *r0 = *r1 = *c0 = 0;
    if (!call->split_reasoning) return;
    size_t start = 0;
    if (!call->think_open) {
        const size_t ol = strlen(SEEK_THINK_OPEN);
        if (len < ol) { /* maybe the start of "<think>" */
            if (!final && !strncmp(t, SEEK_THINK_OPEN, len)) *c0 = len;
            return;
        }
        if (strncmp(t, SEEK_THINK_OPEN, ol)) return;
        start = ol;
    }
    *r0 = start;
    const char *end = NULL;
    for (const char *p = t + (from > start ? from : start); p + strlen(SEEK_THINK_CLOSE) <= t + len; p++)
        if (!strncmp(p, SEEK_THINK_CLOSE, strlen(SEEK_THINK_CLOSE))) {
            end = p;
            break;
        }
    if (!end) { /* still reasoning */
        size_t hold = 0;
        for (size_t k = strlen(SEEK_THINK_CLOSE) - 1; k > 0 && !final; k--)
            if (len - start >= k && !strncmp(t + len - k, SEEK_THINK_CLOSE, k)) {
                hold = k;
                break;
            }
        *r1 = len - hold;
        *c0 = len;
        return;
    }
    *r1 = (size_t)(end - t);
    size_t c = *r1 + strlen(SEEK_THINK_CLOSE);
    while (c < len && (t[c] == '\n' || t[c] == ' ' || t[c] == '\r')) c++;
    *c0 = c;
}

static const char *finish_name(seek_finish f) {
    return f == SEEK_FINISH_STOP ? "stop" : f == SEEK_FINISH_LENGTH ? "length" : "stop";
}

static json_t *usage(const seek_req *r) {
    return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", r->n_prompt, "completion_tokens", r->n_gen, "total_tokens",
                     r->n_prompt + r->n_gen, "prompt_tokens_details", "cached_tokens", r->n_cached);
}

static json_t *token_str(const seek_model *m, int32_t id) {
    char buf[256];
    int32_t n = seek_token_to_piece(m->tok, id, buf, sizeof buf, true);
    return str_n(buf, n < 0 ? 0 : n > (int32_t)sizeof buf ? sizeof buf : (size_t)n);
}

/* Chat logprobs entries lp[a..b): {"content": [{token, logprob, bytes, top_logprobs}]}; completions
 * {"tokens", "token_logprobs", "top_logprobs", "text_offset"}. */
static json_t *logprobs_json(const seek_api_call *call, const seek_model *m, const seek_req *r, int32_t a, int32_t b) {
    if (call->top_logprobs < 0) return json_null();
    if (call->chat) {
        json_t *content = json_array();
        for (int32_t i = a; i < b; i++) {
            const seek_token_lp *t = &r->lp[i];
            json_t *top = json_array();
            for (int32_t k = 0; k < t->n_top; k++)
                json_array_append_new(top, json_pack("{s:o, s:f, s:n}", "token", token_str(m, t->top_id[k]), "logprob",
                                                     (double)t->top_lp[k], "bytes"));
            json_array_append_new(content, json_pack("{s:o, s:f, s:n, s:o}", "token", token_str(m, t->id), "logprob",
                                                     (double)t->logprob, "bytes", "top_logprobs", top));
        }
        return json_pack("{s:o}", "content", content);
    }
    json_t *toks = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    for (int32_t i = a; i < b; i++) {
        const seek_token_lp *t = &r->lp[i];
        json_array_append_new(toks, token_str(m, t->id));
        json_array_append_new(lps, json_real(t->logprob));
        json_t *top = json_object();
        for (int32_t k = 0; k < t->n_top; k++) {
            json_t *s = token_str(m, t->top_id[k]);
            json_object_set_new(top, json_string_value(s), json_real(t->top_lp[k]));
            json_decref(s);
        }
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer(i ? (json_int_t)r->lp[i - 1].text_end : 0));
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", toks, "token_logprobs", lps, "top_logprobs", tops, "text_offset", offs);
}

bool seek_api_make_choices(seek_api_call *call) {
    const seek_req *r = call->req;
    for (int32_t i = 1; i < call->n; i++) {
        seek_req *c = seek_req_new();
        if (!c) return false;
        call->extra[i - 1] = c;
        c->prompt = malloc((size_t)r->n_prompt * sizeof(int32_t));
        c->sp = r->sp;
        c->sp.bias_ids = NULL;
        c->sp.bias_vals = NULL;
        if (r->sp.n_bias) {
            int32_t *ids = malloc((size_t)r->sp.n_bias * sizeof(int32_t));
            float *vals = malloc((size_t)r->sp.n_bias * sizeof(float));
            c->sp.bias_ids = ids, c->sp.bias_vals = vals;
            if (!ids || !vals) return false;
            memcpy(ids, r->sp.bias_ids, (size_t)r->sp.n_bias * sizeof(int32_t));
            memcpy(vals, r->sp.bias_vals, (size_t)r->sp.n_bias * sizeof(float));
        }
        if (!c->prompt) return false;
        memcpy(c->prompt, r->prompt, (size_t)r->n_prompt * sizeof(int32_t));
        c->n_prompt = r->n_prompt;
        c->max_tokens = r->max_tokens;
        c->sp.seed = r->sp.seed + (uint64_t)i;
        for (int32_t k = 0; k < r->n_stop; k++)
            if (!(c->stop[c->n_stop++] = strdup(r->stop[k]))) return false;
        c->top_logprobs = r->top_logprobs;
        c->json_mode = r->json_mode;
    }
    return true;
}

void seek_api_call_free(seek_api_call *call) {
    seek_req_release(call->req);
    call->req = NULL;
    for (int32_t i = 0; i + 1 < call->n; i++) {
        seek_req_release(call->extra[i]);
        call->extra[i] = NULL;
    }
}

static json_t *choice_json(const seek_api_call *call, const seek_model *m, const seek_req *r, int index) {
    if (call->chat) {
        size_t r0, r1, c0;
        split(call, r->text ? r->text : "", r->len, 0, true, &r0, &r1, &c0);
        json_t *msg = json_pack("{s:s, s:o}", "role", "assistant", "content", str_n(r->text + c0, r->len - c0));
        if (call->split_reasoning && r1 > r0) json_object_set_new(msg, "reasoning_content", str_n(r->text + r0, r1 - r0));
        return json_pack("{s:i, s:o, s:o, s:s}", "index", index, "message", msg, "logprobs", logprobs_json(call, m, r, 0, r->n_lp),
                         "finish_reason", finish_name(r->finish));
    }
    return json_pack("{s:i, s:o, s:o, s:s}", "index", index, "text", str_n(r->text ? r->text : "", r->len), "logprobs",
                     logprobs_json(call, m, r, 0, r->n_lp), "finish_reason", finish_name(r->finish));
}

json_t *seek_api_response(const seek_api_call *call, const seek_model *m, const char *id, const char *model_id, long created) {
    json_t *choices = json_array(), *u = usage(call->req);
    int32_t gen = 0;
    for (int32_t i = 0; i < call->n; i++) { /* usage counts the prompt once and every choice's tokens */
        json_array_append_new(choices, choice_json(call, m, seek_api_choice(call, i), i));
        gen += seek_api_choice(call, i)->n_gen;
    }
    json_object_set_new(u, "completion_tokens", json_integer(gen));
    json_object_set_new(u, "total_tokens", json_integer(call->req->n_prompt + gen));
    return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:s}", "id", id, "object", call->chat ? "chat.completion" : "text_completion",
                     "created", (json_int_t)created, "model", model_id, "choices", choices, "usage", u, "system_fingerprint", "seek");
}

json_t *seek_api_chunk(const seek_api_call *call, const seek_model *m, const char *id, const char *model_id, long created,
                       seek_stream_pos *pos, bool final) {
    const seek_req *r = call->req;
    const char *t = r->text ? r->text : "";
    const size_t safe = final ? r->len : r->safe;
    /* logprob entries whose text is complete */
    int32_t lp_end = pos->lp;
    while (lp_end < r->n_lp && r->lp[lp_end].text_end <= safe) lp_end++;
    if (final) lp_end = r->n_lp;
    json_t *choice;
    if (call->chat) {
        size_t r0, r1, c0;
        split(call, t, safe, pos->reasoning, final, &r0, &r1, &c0);
        json_t *delta = json_object();
        if (!pos->role_sent) json_object_set_new(delta, "role", json_string("assistant")), pos->role_sent = true;
        if (call->split_reasoning && r1 > pos->reasoning && r1 > r0) {
            const size_t from = pos->reasoning > r0 ? pos->reasoning : r0;
            json_object_set_new(delta, "reasoning_content", str_n(t + from, r1 - from));
            pos->reasoning = r1;
        }
        const size_t from = pos->content > c0 ? pos->content : c0;
        if (safe > from) {
            json_object_set_new(delta, "content", str_n(t + from, safe - from));
            pos->content = safe;
        }
        if (json_object_size(delta) == 0 && !final && lp_end == pos->lp) {
            json_decref(delta);
            return NULL;
        }
        choice = json_pack("{s:i, s:o, s:o, s:o}", "index", 0, "delta", delta, "logprobs", logprobs_json(call, m, r, pos->lp, lp_end),
                           "finish_reason", final ? json_string(finish_name(r->finish)) : json_null());
    } else {
        if (safe <= pos->text && !final && lp_end == pos->lp) return NULL;
        const size_t from = pos->text;
        choice = json_pack("{s:i, s:o, s:o, s:o}", "index", 0, "text", str_n(t + from, safe > from ? safe - from : 0), "logprobs",
                           logprobs_json(call, m, r, pos->lp, lp_end), "finish_reason",
                           final ? json_string(finish_name(r->finish)) : json_null());
        pos->text = safe > from ? safe : from;
    }
    pos->lp = lp_end;
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", id, "object", call->chat ? "chat.completion.chunk" : "text_completion",
                          "created", (json_int_t)created, "model", model_id, "choices", choice);
    if (call->include_usage) json_object_set_new(c, "usage", json_null());
    return c;
}

json_t *seek_api_usage_chunk(const seek_api_call *call, const char *id, const char *model_id, long created) {
    return json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", id, "object", call->chat ? "chat.completion.chunk" : "text_completion",
                     "created", (json_int_t)created, "model", model_id, "choices", "usage", usage(call->req));
}

char *seek_api_error(int status, const char *message, const char *param) {
    const char *type = status == 401 ? "authentication_error" : status == 404 ? "not_found_error"
                     : status == 413 ? "invalid_request_error" : status == 429 || status == 503 ? "server_busy"
                     : status >= 500 ? "server_error" : "invalid_request_error";
    const char *code = status == 401 ? "invalid_api_key" : status == 404 && param && !strcmp(param, "model") ? "model_not_found" : NULL;
    size_t len;
    char *m = seek_utf8_sanitize(message, strlen(message), &len);
    json_t *e = json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", m ? m : "error", "type", type, "param", param, "code", code);
    char *out = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    free(m);
    return out;
}
