/* The server's scheduler (see sched.h): continuous batching over the slots of one context. */
#include "server/sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/status.h"
#include "server/json_mask.h"
#include "tokenizer/tokenizer.h"

typedef enum { SLOT_IDLE, SLOT_PREFILL, SLOT_DECODE } slot_state;

typedef struct {
    slot_state state;
    seek_req *req;
    int32_t *tokens;   /* the sequence: prompt + generated tokens fed back (not the last sampled) */
    int32_t n_tokens;
    int32_t n_kv;      /* tokens[0..n_kv) are in the KV cache; PREFILL computes the rest */
    bool sample_after; /* PREFILL: sample once the rest is computed (false after a preemption:
                          the next token is already sampled) */
    int32_t next;      /* the sampled token to feed next (decode) */
    seek_sampler smp;
    bool smp_ready;
    seek_json_state json;
    char utf8[8];      /* bytes of an incomplete UTF-8 character */
    int n_utf8;
    uint64_t last_used;
} slot;

struct seek_sched {
    const seek_model *m;
    seek_context *ctx;
    seek_sched_params p;
    slot *slots;
    seek_batch batch;
    int32_t *row_slot; /* batch entry -> slot whose logits it carries, or -1 */
    float *logits;     /* (n_vocab) scratch: masked logits */
    char *pieces;      /* every token's text (json mode) */
    int32_t *piece_off;
    pthread_t thread;
    pthread_mutex_t mu;  /* queue, stop flag, stats */
    pthread_cond_t cv;
    seek_req **queue;
    int32_t n_queue;
    bool stop, thread_started;
    uint64_t tick;
    seek_sched_stats stats;
};

/* ---- requests ---- */

seek_req *seek_req_new(void) {
    seek_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->top_logprobs = -1;
    r->refs = 1;
    return r;
}

void seek_req_release(seek_req *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left) return;
    free(r->prompt);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free((void *)r->sp.bias_ids);
    free((void *)r->sp.bias_vals);
    free(r->text);
    free(r->lp);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

static void req_finish(seek_req *r, seek_finish f, const char *err) {
    pthread_mutex_lock(&r->mu);
    r->finish = f;
    if (err) snprintf(r->error, sizeof r->error, "%s", err);
    r->safe = r->len;
    r->t_done = seek_now();
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static bool req_cancelled(seek_req *r) {
    pthread_mutex_lock(&r->mu);
    bool c = r->cancelled;
    pthread_mutex_unlock(&r->mu);
    return c;
}

/* Bytes at the end of text that could be the start of a stop string. */
static size_t stop_prefix_tail(const seek_req *r) {
    size_t best = 0;
    for (int i = 0; i < r->n_stop; i++) {
        const size_t sl = strlen(r->stop[i]);
        for (size_t k = sl - 1; k > best; k--)
            if (k <= r->len && !memcmp(r->text + r->len - k, r->stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

/* Appends a token's text; returns true when a stop string completed (text cut before it). */
static bool req_append(seek_req *r, const char *piece, size_t n, const seek_token_lp *lp) {
    pthread_mutex_lock(&r->mu);
    bool stopped = false;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + n + 1) cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t) {
            pthread_mutex_unlock(&r->mu);
            return true;
        }
        r->text = t;
        r->cap = cap;
    }
    const size_t from = r->len;
    memcpy(r->text + r->len, piece, n);
    r->len += n;
    r->text[r->len] = 0;
    /* a stop string can only end inside what was just added */
    for (int i = 0; i < r->n_stop && !stopped; i++) {
        const size_t sl = strlen(r->stop[i]);
        const size_t start = from >= sl ? from - sl + 1 : 0;
        const char *hit = strstr(r->text + start, r->stop[i]);
        if (hit) {
            r->len = (size_t)(hit - r->text);
            r->text[r->len] = 0;
            stopped = true;
        }
    }
    if (lp && r->n_lp < r->cap_lp) {
        r->lp[r->n_lp] = *lp;
        r->lp[r->n_lp++].text_end = r->len;
    }
    r->n_gen++;
    r->safe = stopped ? r->len : r->len - stop_prefix_tail(r);
    if (!r->t_first) r->t_first = seek_now();
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return stopped;
}

/* ---- scheduling ---- */

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    int32_t k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}

static int32_t free_blocks(const seek_sched *s) { return s->ctx->kv.n_free; }

/* Frees the cached tokens of idle slots, least recently used first, until `need` blocks are free. */
static void evict_idle(seek_sched *s, int32_t need, int32_t keep_slot) {
    while (free_blocks(s) < need) {
        int32_t victim = -1;
        for (int32_t i = 0; i < s->p.n_slots; i++)
            if (i != keep_slot && s->slots[i].state == SLOT_IDLE && s->slots[i].n_kv > 0 &&
                (victim < 0 || s->slots[i].last_used < s->slots[victim].last_used))
                victim = i;
        if (victim < 0) return;
        seek_seq_truncate(s->ctx, victim, 0);
        s->slots[victim].n_kv = s->slots[victim].n_tokens = 0;
    }
}

/* Blocks of KV the first n tokens take. */
static int32_t blocks_for(int32_t n) { return (n + SEEK_KV_BLOCK - 1) / SEEK_KV_BLOCK; }

/* Puts the oldest queued request into an idle slot if the cache can hold it; true if it did. */
static bool admit_one(seek_sched *s) {
    seek_req *r = s->queue[0];
    if (req_cancelled(r)) { /* gone before it started */
        memmove(s->queue, s->queue + 1, (size_t)--s->n_queue * sizeof *s->queue);
        req_finish(r, SEEK_FINISH_ERROR, "cancelled");
        seek_req_release(r);
        return true;
    }
    /* The idle slot to take: among those that keep at least as much of their cache as they lose
     * (a later turn of their conversation, the same prompt again, an empty slot), the one with
     * the longest common prefix; if there is none, the least recently used one. Taking the slot
     * with the longest common prefix whatever it loses would let a prompt that shares only a
     * template header with a long cached conversation wipe it out while empty slots sit by; a
     * longer prefix cached anywhere is shared below anyway. */
    int32_t best = -1, best_lcp = -1, best_rank = -2;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        const slot *sl = &s->slots[i];
        if (sl->state != SLOT_IDLE) continue;
        const int32_t l = common_prefix(sl->tokens, sl->n_kv, r->prompt, r->n_prompt);
        const int32_t rank = 2 * (int64_t)l >= sl->n_kv ? l : -1; /* slots that lose more share the lowest rank */
        if (rank > best_rank || (rank == best_rank && sl->last_used < s->slots[best].last_used))
            best = i, best_lcp = l, best_rank = rank;
    }
    if (best < 0) return false;
    /* any slot (running or idle) holding a longer prefix can share its whole blocks */
    int32_t donor = -1, donor_lcp = best_lcp;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        if (i == best) continue;
        const int32_t l = common_prefix(s->slots[i].tokens, s->slots[i].n_kv, r->prompt, r->n_prompt);
        if (l / SEEK_KV_BLOCK > donor_lcp / SEEK_KV_BLOCK) donor = i, donor_lcp = l;
    }
    const int32_t reuse = donor >= 0 ? donor_lcp / SEEK_KV_BLOCK * SEEK_KV_BLOCK : best_lcp;
    /* room for the prompt (decoding grows into free blocks, preempting when it must): free
     * blocks plus what idle slots other than this one can give back */
    int32_t avail = free_blocks(s);
    for (int32_t i = 0; i < s->p.n_slots; i++)
        if (i != best && i != donor && s->slots[i].state == SLOT_IDLE) avail += blocks_for(s->slots[i].n_kv);
    if (blocks_for(r->n_prompt + 1) - reuse / SEEK_KV_BLOCK > avail) return false; /* wait for room */
    memmove(s->queue, s->queue + 1, (size_t)--s->n_queue * sizeof *s->queue);
    slot *sl = &s->slots[best];
    int32_t keep;
    if (donor >= 0) {
        keep = seek_seq_share(s->ctx, best, donor, reuse);
    } else {
        keep = best_lcp < r->n_prompt ? best_lcp : r->n_prompt - 1; /* the last prompt token gives the logits */
        seek_seq_truncate(s->ctx, best, keep);
        keep = seek_seq_len(s->ctx, best);
    }
    memcpy(sl->tokens, r->prompt, (size_t)r->n_prompt * sizeof(int32_t));
    sl->n_tokens = r->n_prompt;
    sl->n_kv = keep;
    sl->sample_after = true;
    evict_idle(s, blocks_for(r->n_prompt + 1) - keep / SEEK_KV_BLOCK, best);
    sl->req = r;
    sl->state = SLOT_PREFILL;
    sl->n_utf8 = 0;
    sl->last_used = ++s->tick;
    if (sl->smp_ready) seek_sampler_free(&sl->smp);
    sl->smp_ready = seek_sampler_init(&sl->smp, &r->sp, (int32_t)s->m->hp.n_vocab) == SEEK_OK;
    for (int32_t i = 0; i < r->n_prompt && sl->smp_ready; i++) seek_sampler_accept(&sl->smp, r->prompt[i]);
    seek_json_init(&sl->json);
    pthread_mutex_lock(&r->mu);
    r->n_cached = keep;
    if (r->top_logprobs >= 0 && r->max_tokens > 0) {
        r->lp = calloc((size_t)r->max_tokens, sizeof *r->lp);
        r->cap_lp = r->lp ? r->max_tokens : 0;
    }
    pthread_mutex_unlock(&r->mu);
    s->stats.prompt_tokens += r->n_prompt;
    s->stats.cached_tokens += keep;
    if (!sl->smp_ready) {
        sl->state = SLOT_IDLE;
        req_finish(r, SEEK_FINISH_ERROR, "out of memory");
        seek_req_release(r);
        sl->req = NULL;
    }
    return true;
}

static void slot_done(seek_sched *s, slot *sl, seek_finish f, const char *err) {
    seek_req *r = sl->req;
    req_finish(r, f, err);
    seek_req_release(r);
    sl->req = NULL;
    sl->state = SLOT_IDLE;
    sl->last_used = ++s->tick;
    s->stats.requests_done++;
}

/* log-softmax of the logits: the chosen token's and the top-k alternatives. */
static void logprobs(const float *logits, int32_t n_vocab, int32_t id, int32_t k, seek_token_lp *out) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double z = 0;
    for (int32_t i = 0; i < n_vocab; i++) z += exp((double)(logits[i] - mx));
    const float lz = mx + (float)log(z);
    out->id = id;
    out->logprob = logits[id] - lz;
    out->n_top = 0;
    for (int32_t i = 0; i < n_vocab && k > 0; i++) { /* a sorted list of the k best */
        const float v = logits[i] - lz;
        if (out->n_top == k && v <= out->top_lp[k - 1]) continue;
        int32_t j = out->n_top < k ? out->n_top++ : k - 1;
        for (; j > 0 && out->top_lp[j - 1] < v; j--) {
            out->top_id[j] = out->top_id[j - 1];
            out->top_lp[j] = out->top_lp[j - 1];
        }
        out->top_id[j] = i;
        out->top_lp[j] = v;
    }
}

/* Samples slot sl's next token from its logits row and applies the stop rules. */
static void sample_slot(seek_sched *s, slot *sl, const float *row) {
    seek_req *r = sl->req;
    const int32_t V = (int32_t)s->m->hp.n_vocab;
    const seek_tokenizer *tok = s->m->tok;
    const float *logits = row;
    if (r->json_mode) { /* ban every token that cannot continue the JSON object */
        const bool done = seek_json_done(&sl->json);
        /* after this token, `left` more may come: what remains to close must fit (every
         * closing byte is a token of its own in byte-level vocabularies) */
        const int left = r->max_tokens - r->n_gen - 1;
        int n_ok = 0;
        for (int pass = 0; pass < 2 && n_ok == 0; pass++) /* pass 1: no token fits, drop the budget */
            for (int32_t i = 0; i < V; i++) {
                const char *p = s->pieces + s->piece_off[i];
                const size_t n = (size_t)(s->piece_off[i + 1] - s->piece_off[i]);
                bool ok;
                if (done || n == 0) ok = done && seek_tokenizer_is_eog(tok, i);
                else {
                    seek_json_state js = sl->json;
                    ok = seek_json_feed(&js, p, n) && (pass == 1 || seek_json_need(&js) <= left);
                }
                s->logits[i] = ok ? row[i] : -INFINITY;
                n_ok += ok;
            }
        logits = s->logits;
    }
    const int32_t id = seek_sampler_sample(&sl->smp, logits);
    seek_sampler_accept(&sl->smp, id);
    s->stats.generated_tokens++;
    seek_token_lp lp, *lpp = NULL;
    if (r->top_logprobs >= 0) {
        logprobs(row, V, id, r->top_logprobs, &lp);
        lpp = &lp;
    }
    if (seek_tokenizer_is_eog(tok, id)) {
        if (lpp) req_append(r, "", 0, lpp);
        slot_done(s, sl, SEEK_FINISH_STOP, NULL);
        return;
    }
    char piece[256];
    int32_t n = seek_token_to_piece(tok, id, piece, (int32_t)sizeof piece, false);
    if (n < 0) n = 0;
    if (n > (int32_t)sizeof piece) n = (int32_t)sizeof piece;
    if (r->json_mode) seek_json_feed(&sl->json, piece, (size_t)n);
    /* whole UTF-8 characters only: hold back an incomplete tail */
    char buf[sizeof piece + 8];
    memcpy(buf, sl->utf8, (size_t)sl->n_utf8);
    memcpy(buf + sl->n_utf8, piece, (size_t)n);
    size_t total = (size_t)(sl->n_utf8 + n), whole = seek_utf8_complete_prefix(buf, total);
    if (total - whole > 4) whole = total; /* not UTF-8 at all: pass it on */
    sl->n_utf8 = (int)(total - whole);
    memcpy(sl->utf8, buf + whole, (size_t)sl->n_utf8);
    const bool stopped = req_append(r, buf, whole, lpp);
    sl->next = id;
    if (stopped) slot_done(s, sl, SEEK_FINISH_STOP, NULL);
    else if (r->n_gen >= r->max_tokens || sl->n_tokens + 1 >= s->p.n_ctx) slot_done(s, sl, SEEK_FINISH_LENGTH, NULL);
    else sl->state = SLOT_DECODE;
}

/* Frees running slot i's KV cache so others can grow: it recomputes its tokens later (the result
 * is bit-identical: the forward pass does not depend on how tokens are batched). */
static void preempt(seek_sched *s, int32_t i) {
    slot *sl = &s->slots[i];
    seek_seq_truncate(s->ctx, i, 0);
    if (sl->state == SLOT_DECODE) sl->sample_after = false; /* `next` is already sampled */
    sl->n_kv = 0;
    sl->state = SLOT_PREFILL;
}

/* Makes `need` more blocks free beyond the `promised` ones this step already counts on: idle
 * caches go first, then running slots other than `keep`, the youngest first. False when that
 * is not enough. */
static bool make_room(seek_sched *s, int32_t promised, int32_t need, int32_t keep) {
    evict_idle(s, promised + need, -1);
    while (free_blocks(s) < promised + need) {
        int32_t victim = -1;
        for (int32_t i = 0; i < s->p.n_slots; i++)
            if (i != keep && s->slots[i].state != SLOT_IDLE && s->slots[i].n_kv > 0 &&
                (victim < 0 || s->slots[i].last_used > s->slots[victim].last_used))
                victim = i;
        if (victim < 0) return false;
        preempt(s, victim);
    }
    return true;
}

/* One step: admit, batch, forward, sample. Returns false when there was nothing to do. */
static bool step(seek_sched *s) {
    pthread_mutex_lock(&s->mu);
    while (s->n_queue && admit_one(s)) {}
    pthread_mutex_unlock(&s->mu);
    seek_batch *b = &s->batch;
    seek_batch_clear(b);
    /* cancelled sequences leave; every decoding sequence gets room for one more position (a slot
     * that cannot, even alone, recomputes later) */
    int32_t promised = 0; /* free blocks this step's batch will take */
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_IDLE && req_cancelled(sl->req)) slot_done(s, sl, SEEK_FINISH_ERROR, "cancelled");
        if (sl->state != SLOT_DECODE) continue;
        const int32_t need = blocks_for(sl->n_kv + 1) - blocks_for(sl->n_kv);
        if (make_room(s, promised, need, i)) promised += need;
        else preempt(s, i);
    }
    /* ... and adds its last token (slots preempted above for a later one's room are left out) */
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        const slot *sl = &s->slots[i];
        if (sl->state != SLOT_DECODE) continue;
        s->row_slot[b->n] = i;
        seek_batch_add(b, sl->next, sl->n_kv, i, true);
    }
    /* prompt chunks fill the rest of the batch; while sequences decode, a step takes at most 128
     * prompt tokens so a long prompt does not stall them (chunked prefill) */
    const int32_t cap = b->n ? (b->n + 128 < b->cap ? b->n + 128 : b->cap) : b->cap;
    for (int32_t i = 0; i < s->p.n_slots && b->n < cap; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_PREFILL) continue;
        int32_t n = sl->n_tokens - sl->n_kv;
        if (n > cap - b->n) n = cap - b->n;
        evict_idle(s, promised + blocks_for(sl->n_kv + n) - blocks_for(sl->n_kv), -1);
        const int32_t room = (free_blocks(s) - promised) * SEEK_KV_BLOCK + (blocks_for(sl->n_kv) * SEEK_KV_BLOCK - sl->n_kv);
        if (n > room) n = room; /* the rest waits for blocks */
        if (n <= 0) continue;
        promised += blocks_for(sl->n_kv + n) - blocks_for(sl->n_kv);
        for (int32_t k = 0; k < n; k++) {
            const bool last = sl->n_kv + k == sl->n_tokens - 1;
            s->row_slot[b->n] = last && sl->sample_after ? i : -1;
            seek_batch_add(b, sl->tokens[sl->n_kv + k], sl->n_kv + k, i, last && sl->sample_after);
        }
    }
    if (b->n == 0) return false;
    seek_status st = seek_decode(s->ctx, b);
    if (st) { /* room was counted above, so this is a bug: fail the batch's requests, not the server */
        for (int32_t i = 0; i < s->p.n_slots; i++)
            if (s->slots[i].state != SLOT_IDLE) {
                seek_seq_truncate(s->ctx, i, 0);
                s->slots[i].n_kv = s->slots[i].n_tokens = 0;
                slot_done(s, &s->slots[i], SEEK_FINISH_ERROR, seek_last_error());
            }
        return true;
    }
    for (int32_t j = 0; j < b->n; j++) { /* what each slot's cache now holds */
        slot *sl = &s->slots[b->seq[j]];
        if (sl->state == SLOT_DECODE) sl->tokens[sl->n_tokens++] = b->token[j];
        sl->n_kv++;
        if (sl->state == SLOT_PREFILL && sl->n_kv == sl->n_tokens && !sl->sample_after) sl->state = SLOT_DECODE;
    }
    for (int32_t j = 0; j < b->n; j++) {
        if (s->row_slot[j] < 0) continue;
        slot *sl = &s->slots[s->row_slot[j]];
        if (sl->state == SLOT_IDLE) continue;
        sample_slot(s, sl, seek_get_logits(s->ctx, j));
    }
    return true;
}

static void *sched_main(void *arg) {
    seek_sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool busy = s->n_queue > 0;
        for (int32_t i = 0; i < s->p.n_slots && !busy; i++) busy = s->slots[i].state != SLOT_IDLE;
        while (!busy && !s->stop) {
            pthread_cond_wait(&s->cv, &s->mu);
            busy = s->n_queue > 0;
        }
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        if (!step(s)) { /* queued requests wait for room: sleep until something changes */
            pthread_mutex_lock(&s->mu);
            const struct timespec ts = seek_deadline_ms(20);
            if (!s->stop) pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            pthread_mutex_unlock(&s->mu);
        }
    }
    return NULL;
}

seek_status seek_sched_start(seek_sched **out, const seek_model *m, const seek_sched_params *p) {
    *out = NULL;
    seek_sched *s = calloc(1, sizeof *s);
    if (!s) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    s->m = m;
    s->p = *p;
    if (s->p.n_batch <= 0) s->p.n_batch = 512;
    seek_context_params cp = {.n_ctx = p->n_ctx, .n_batch = s->p.n_batch, .n_seq = p->n_slots, .n_threads = p->n_threads,
                              .k_type = p->k_type, .v_type = p->v_type};
    seek_status st = seek_context_init(&s->ctx, m, &cp);
    if (st) {
        free(s);
        return st;
    }
    s->p.n_ctx = s->ctx->params.n_ctx;
    const int32_t V = (int32_t)m->hp.n_vocab;
    s->slots = calloc((size_t)p->n_slots, sizeof *s->slots);
    s->queue = calloc((size_t)(p->max_queue > 0 ? p->max_queue : 1), sizeof *s->queue);
    s->row_slot = malloc((size_t)s->p.n_batch * sizeof(int32_t));
    s->logits = malloc((size_t)V * sizeof(float));
    s->piece_off = malloc((size_t)(V + 1) * sizeof(int32_t));
    bool ok = s->slots && s->queue && s->row_slot && s->logits && s->piece_off &&
              seek_batch_init(&s->batch, s->p.n_batch) == SEEK_OK;
    for (int32_t i = 0; ok && i < p->n_slots; i++) ok = (s->slots[i].tokens = malloc((size_t)s->p.n_ctx * sizeof(int32_t))) != NULL;
    /* every token's text, for the JSON mask */
    size_t total = 0;
    char tmp[256];
    for (int32_t i = 0; ok && i < V; i++) {
        int32_t n = seek_token_to_piece(m->tok, i, tmp, sizeof tmp, false);
        total += n > 0 ? (size_t)n : 0;
    }
    if (ok) ok = (s->pieces = malloc(total + 1)) != NULL;
    for (int32_t i = 0, at = 0; ok && i < V; i++) {
        s->piece_off[i] = at;
        int32_t n = seek_token_to_piece(m->tok, i, s->pieces + at, (int32_t)(total - (size_t)at), false);
        at += n > 0 ? n : 0;
        s->piece_off[i + 1] = at;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (!ok || pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        seek_sched_free(s);
        return seek_errorf(SEEK_ERR_NOMEM, "scheduler: out of memory");
    }
    s->thread_started = true;
    *out = s;
    return SEEK_OK;
}

void seek_sched_shutdown(seek_sched *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    bool started = s->thread_started && !s->stop;
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (started) pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->mu);
    for (int32_t i = 0; i < s->n_queue; i++) {
        req_finish(s->queue[i], SEEK_FINISH_ERROR, "the server is shutting down");
        seek_req_release(s->queue[i]);
    }
    s->n_queue = 0;
    pthread_mutex_unlock(&s->mu);
    for (int32_t i = 0; s->slots && i < s->p.n_slots; i++)
        if (s->slots[i].state != SLOT_IDLE) slot_done(s, &s->slots[i], SEEK_FINISH_ERROR, "the server is shutting down");
}

void seek_sched_free(seek_sched *s) {
    if (!s) return;
    seek_sched_shutdown(s);
    for (int32_t i = 0; s->slots && i < s->p.n_slots; i++) {
        if (s->slots[i].smp_ready) seek_sampler_free(&s->slots[i].smp);
        free(s->slots[i].tokens);
    }
    seek_batch_free(&s->batch);
    seek_context_free(s->ctx);
    free(s->slots);
    free(s->queue);
    free(s->row_slot);
    free(s->logits);
    free(s->pieces);
    free(s->piece_off);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

seek_status seek_sched_submit(seek_sched *s, seek_req *r) {
    if (r->n_prompt < 1) return seek_errorf(SEEK_ERR_INVALID, "the prompt is empty");
    if ((int64_t)r->n_prompt + r->max_tokens > s->p.n_ctx)
        return seek_errorf(SEEK_ERR_INVALID,
                           "the prompt (%d tokens) plus max_tokens (%d) exceeds the context of %d tokens", r->n_prompt,
                           r->max_tokens, s->p.n_ctx);
    pthread_mutex_lock(&s->mu);
    seek_status st = SEEK_OK;
    if (s->stop) st = seek_errorf(SEEK_ERR_FULL, "the server is shutting down");
    else if (s->n_queue >= s->p.max_queue) st = seek_errorf(SEEK_ERR_FULL, "the server is busy (%d requests waiting)", s->n_queue);
    else {
        pthread_mutex_lock(&r->mu);
        r->refs++;
        r->t_submit = seek_now();
        pthread_mutex_unlock(&r->mu);
        s->queue[s->n_queue++] = r;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

void seek_req_cancel(seek_sched *s, seek_req *r) {
    pthread_mutex_lock(&r->mu);
    r->cancelled = true;
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void seek_sched_get_stats(seek_sched *s, seek_sched_stats *st) {
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    st->queued = s->n_queue;
    st->slots = s->p.n_slots;
    st->running = 0;
    for (int32_t i = 0; i < s->p.n_slots; i++) st->running += s->slots[i].state != SLOT_IDLE;
    st->kv_blocks_total = s->ctx->kv.n_blocks;
    st->kv_blocks_used = s->ctx->kv.n_blocks - s->ctx->kv.n_free;
    pthread_mutex_unlock(&s->mu);
}

int32_t seek_sched_n_ctx(const seek_sched *s) { return s->p.n_ctx; }
