/* Byte-level BPE training (see bpe_train.h). Two phases:
 *   1. count: the texts are cut into chunks where no pre-token can span the cut, the pool's threads
 *      split chunks with the GPT-2 regex (tokenizer/pretok.c) and count distinct words, and the
 *      counts are summed;
 *   2. merge: pair counts are kept exact, each pair lists the words it was seen in, and a max-heap
 *      with lazy deletion picks the next pair, so a merge only rewrites the words that hold it.
 * Not for encoding text (tokenizer/bpe.c) or for writing files (format/gguf_write.c). */
#include "train/bpe_train.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tok_hash.h"
#include "tokenizer/tok_internal.h"

#define BPE_CHUNK ((size_t)256 << 10) /* pre-tokenization work unit (bytes, before moving to a safe cut) */
#define BPE_MAX_VOCAB (1 << 30)

enum { BPE_TYPE_NORMAL = 1, BPE_TYPE_CONTROL = 3 }; /* tokenizer.ggml.token_type */

struct seek_bpe_vocab {
    int32_t n_tokens;      /* the special token included */
    char **tokens;         /* (n_tokens) GGUF text: GPT-2 characters, NUL-terminated */
    int32_t n_merges;
    int32_t *merge_ids;    /* (n_merges, 3) left, right, result */
    int64_t *merge_count;  /* (n_merges) */
    char **merges;         /* (n_merges) "left right" */
    int32_t *types;        /* (n_tokens) tokenizer.ggml.token_type */
    int32_t eot;
    int64_t n_text_tokens; /* the training text's length in tokens, after the last merge */
};

/* ---- phase 1: distinct words and their frequencies --------------------------------------- */

/* Distinct words (pre-tokens) of the text: the strmap's keys point into the text. */
typedef struct {
    tok_strmap map;        /* word bytes -> index into freq */
    int64_t *freq;         /* (n) */
    int32_t n, cap;
    seek_status st;
    char err[256];         /* the worker thread's error message (messages are thread-local) */
} word_counts;

static bool counts_add(word_counts *c, const char *w, size_t len, int64_t f) {
    int32_t i = tok_strmap_get(&c->map, w, len);
    if (i >= 0) {
        c->freq[i] += f;
        return true;
    }
    if (c->n == c->cap) {
        if (c->cap > INT32_MAX / 2) return false;
        int32_t cap = c->cap ? 2 * c->cap : 1024;
        int64_t *freq = realloc(c->freq, (size_t)cap * sizeof *freq);
        if (!freq) return false;
        c->freq = freq;
        c->cap = cap;
    }
    if (!tok_strmap_put(&c->map, w, len, c->n)) return false;
    c->freq[c->n++] = f;
    return true;
}

static void counts_free(word_counts *c) {
    tok_strmap_free(&c->map);
    free(c->freq);
}

static bool is_ascii_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The first cut at or after `from`: a position after an ASCII non-space byte and at an ASCII
 * space. No GPT-2 pattern matches a non-space followed by a space (spaces only lead a match or
 * make it whole, and the lookahead (?!\S) sees a space either way), so both sides split as the
 * whole text does. len when there is none. */
static size_t next_cut(const char *text, size_t from, size_t len) {
    for (size_t i = from > 0 ? from : 1; i < len; i++) {
        unsigned char prev = (unsigned char)text[i - 1];
        if (is_ascii_space((unsigned char)text[i]) && prev < 0x80 && !is_ascii_space(prev)) return i;
    }
    return len;
}

typedef struct {
    const char *text;
    size_t len;
} bpe_chunk;

typedef struct {
    const tok_pretok *pretok;
    const bpe_chunk *chunks;
    size_t n_chunks;
    word_counts *counts;   /* (threads) */
} count_job;

static void count_worker(const seek_exec *ex, void *arg) {
    const count_job *job = arg;
    word_counts *c = &job->counts[ex->ith];
    for (size_t k = (size_t)ex->ith; k < job->n_chunks && c->st == SEEK_OK; k += (size_t)ex->nth) {
        bpe_chunk ch = job->chunks[k];
        tok_span *spans = NULL;
        size_t n = 0;
        c->st = tok_pretok_split(job->pretok, ch.text, ch.len, &spans, &n);
        for (size_t i = 0; i < n && c->st == SEEK_OK; i++) {
            if (spans[i].len > INT32_MAX) {
                c->st = seek_errorf(SEEK_ERR_INVALID, "bpe: a pre-token of %zu bytes is too long to train on",
                                    spans[i].len);
            } else if (!counts_add(c, ch.text + spans[i].off, spans[i].len, 1)) {
                c->st = seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory counting words");
            }
        }
        free(spans);
        if (c->st != SEEK_OK) snprintf(c->err, sizeof c->err, "%s", seek_last_error());
    }
}

/* Counts the words of every text into *out (one map, summed over the threads). */
static seek_status count_words(word_counts *out, const char *const *texts, const size_t *lens, size_t n_texts,
                               seek_pool *pool) {
    memset(out, 0, sizeof *out);
    tok_pretok *pretok = NULL;
    bool known, ignore_merges;
    /* the split the written file names */
    seek_status st = tok_pretok_init(&pretok, SEEK_BPE_PRE, &known, &ignore_merges);
    if (st) return st;

    size_t n_chunks = 0, cap_chunks = 0;
    bpe_chunk *chunks = NULL;
    for (size_t t = 0; t < n_texts && !st; t++) {
        for (size_t at = 0; at < lens[t];) {
            size_t end = at + BPE_CHUNK < lens[t] ? next_cut(texts[t], at + BPE_CHUNK, lens[t]) : lens[t];
            if (n_chunks == cap_chunks) {
                cap_chunks = cap_chunks ? 2 * cap_chunks : 64;
                bpe_chunk *c = realloc(chunks, cap_chunks * sizeof *c);
                if (!c) {
                    st = seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
                    break;
                }
                chunks = c;
            }
            chunks[n_chunks++] = (bpe_chunk){texts[t] + at, end - at};
            at = end;
        }
    }
    const int nth = pool && n_chunks > 1 ? seek_pool_size(pool) : 1;
    word_counts *counts = st ? NULL : calloc((size_t)nth, sizeof *counts);
    if (!st && !counts) st = seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
    for (int i = 0; !st && i < nth; i++) {
        if (!tok_strmap_init(&counts[i].map, 1 << 12)) st = seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
    }
    if (!st) {
        count_job job = {pretok, chunks, n_chunks, counts};
        if (nth > 1) {
            seek_pool_run(pool, count_worker, &job);
        } else {
            seek_exec ex = {0, 1, NULL};
            count_worker(&ex, &job);
        }
        for (int i = 0; i < nth && !st; i++) {
            if (counts[i].st) st = seek_errorf(counts[i].st, "%s", counts[i].err);
        }
    }
    /* fold the other threads' words into thread 0's */
    for (int i = 1; !st && i < nth; i++) {
        const tok_strmap *m = &counts[i].map;
        for (size_t s = 0; s < m->cap && !st; s++) {
            if (m->keys[s] && !counts_add(&counts[0], m->keys[s], m->lens[s], counts[i].freq[m->vals[s]])) {
                st = seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory counting words");
            }
        }
    }
    if (!st) {
        *out = counts[0];
        counts[0] = (word_counts){0};
    }
    for (int i = 0; counts && i < nth; i++) counts_free(&counts[i]);
    free(counts);
    free(chunks);
    tok_pretok_free(pretok);
    return st;
}

/* ---- phase 2: merging ---------------------------------------------------------------------- */

typedef struct {
    int32_t left, right;
    int64_t count;         /* occurrences in the text, exact */
    int32_t *words;        /* (n_words) words the pair was seen in (may repeat, may be stale) */
    int32_t n_words, cap_words;
    int32_t last_word;     /* the word appended last: a word adds itself once per visit */
    bool dirty;            /* count rose in this merge: needs a fresh heap entry */
} bpe_pair;

/* A heap entry: the pair's count when pushed (lazy deletion: checked against the pair on pop). */
typedef struct {
    int64_t count;
    int32_t left, right;
    int32_t pair;
} bpe_entry;

typedef struct {
    /* words: symbols of word w are sym[off[w] .. off[w] + len[w]), rewritten in place */
    int32_t n_words;
    int32_t *sym;
    size_t *off;
    int32_t *len;
    int64_t *freq;
    int32_t *stamp;        /* the last merge step that visited the word */

    bpe_pair *pairs;
    int32_t n_pairs, cap_pairs;
    tok_pairmap pair_index; /* (left, right) -> index into pairs (the "rank" field) */
    int32_t *dirty;         /* pairs marked dirty in this step */
    int32_t n_dirty, cap_dirty;

    bpe_entry *heap;
    size_t n_heap, cap_heap;

    /* the vocabulary being built */
    char **tokens;
    int32_t n_tokens, cap_tokens;
    tok_strmap token_index; /* token text -> id (a merge making a known text reuses its id) */
    int32_t *merge_ids;
    int64_t *merge_count;
    int32_t n_merges, cap_merges;
} bpe_state;

/* Heap order: higher count first, then smaller left id, then smaller right id. */
static bool entry_before(bpe_entry a, bpe_entry b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.left != b.left) return a.left < b.left;
    return a.right < b.right;
}

static void heap_sift_down(bpe_entry *h, size_t n, size_t i) {
    bpe_entry e = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && entry_before(h[c + 1], h[c])) c++;
        if (!entry_before(h[c], e)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static bool heap_push(bpe_state *s, bpe_entry e) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? 2 * s->cap_heap : 1024;
        bpe_entry *h = realloc(s->heap, cap * sizeof *h);
        if (!h) return false;
        s->heap = h;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0 && entry_before(e, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
    return true;
}

static bpe_entry heap_pop(bpe_state *s) {
    bpe_entry top = s->heap[0];
    s->heap[0] = s->heap[--s->n_heap];
    if (s->n_heap > 0) heap_sift_down(s->heap, s->n_heap, 0);
    return top;
}

/* The index of pair (left, right), created with count 0 when new; -1 when out of memory. */
static int32_t pair_get(bpe_state *s, int32_t left, int32_t right) {
    int32_t idx, unused;
    if (tok_pairmap_get(&s->pair_index, left, right, &idx, &unused)) return idx;
    if (s->n_pairs == s->cap_pairs) {
        int32_t cap = s->cap_pairs ? 2 * s->cap_pairs : 4096;
        bpe_pair *p = realloc(s->pairs, (size_t)cap * sizeof *p);
        if (!p) return -1;
        s->pairs = p;
        s->cap_pairs = cap;
    }
    idx = s->n_pairs;
    if (!tok_pairmap_put(&s->pair_index, left, right, idx, 0)) return -1;
    s->pairs[s->n_pairs++] = (bpe_pair){left, right, 0, NULL, 0, 0, -1, false};
    return idx;
}

static bool pair_add_word(bpe_pair *p, int32_t w) {
    if (p->last_word == w) return true;
    if (p->n_words == p->cap_words) {
        int32_t cap = p->cap_words ? 2 * p->cap_words : 4;
        int32_t *v = realloc(p->words, (size_t)cap * sizeof *v);
        if (!v) return false;
        p->words = v;
        p->cap_words = cap;
    }
    p->words[p->n_words++] = w;
    p->last_word = w;
    return true;
}

/* Adds f to the count of (left, right); with `track`, also records word w and marks the pair for
 * a fresh heap entry (the count may have risen). */
static bool pair_count(bpe_state *s, int32_t left, int32_t right, int64_t f, int32_t w, bool track) {
    int32_t i = pair_get(s, left, right);
    if (i < 0) return false;
    bpe_pair *p = &s->pairs[i];
    p->count += f;
    if (!track) return true;
    if (!pair_add_word(p, w)) return false;
    if (!p->dirty) {
        if (s->n_dirty == s->cap_dirty) {
            int32_t cap = s->cap_dirty ? 2 * s->cap_dirty : 256;
            int32_t *d = realloc(s->dirty, (size_t)cap * sizeof *d);
            if (!d) return false;
            s->dirty = d;
            s->cap_dirty = cap;
        }
        s->dirty[s->n_dirty++] = i;
        p->dirty = true;
    }
    return true;
}

static bool token_push(bpe_state *s, char *text) {
    if (s->n_tokens == s->cap_tokens) {
        int32_t cap = s->cap_tokens ? 2 * s->cap_tokens : 1024;
        char **t = realloc(s->tokens, (size_t)cap * sizeof *t);
        if (!t) return false;
        s->tokens = t;
        s->cap_tokens = cap;
    }
    if (!tok_strmap_put(&s->token_index, text, strlen(text), s->n_tokens)) return false;
    s->tokens[s->n_tokens++] = text;
    return true;
}

/* The 256 byte tokens in GPT-2 vocab order (by code point), and byte -> id. */
static seek_status init_bytes(bpe_state *s, int32_t byte_id[256]) {
    for (uint32_t cp = 0; cp < 512; cp++) {
        int b = tok_cp_to_byte(cp);
        if (b < 0) continue;
        char *t = malloc(3);
        if (!t) return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
        if (cp < 0x80) {
            t[0] = (char)cp;
            t[1] = 0;
        } else {
            t[0] = (char)(0xc0 | (cp >> 6));
            t[1] = (char)(0x80 | (cp & 0x3f));
            t[2] = 0;
        }
        byte_id[b] = s->n_tokens;
        if (!token_push(s, t)) {
            free(t);
            return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
        }
    }
    return SEEK_OK;
}

/* Words as byte-token sequences, their pairs counted and indexed, every pair in the heap. */
static seek_status init_words(bpe_state *s, const word_counts *wc, const int32_t byte_id[256]) {
    const tok_strmap *m = &wc->map;
    size_t total = 0;
    for (size_t k = 0; k < m->cap; k++) total += m->keys[k] ? m->lens[k] : 0;
    s->n_words = wc->n;
    s->sym = malloc((total ? total : 1) * sizeof *s->sym);
    s->off = malloc((size_t)wc->n * sizeof *s->off);
    s->len = malloc((size_t)wc->n * sizeof *s->len);
    s->freq = malloc((size_t)wc->n * sizeof *s->freq);
    s->stamp = malloc((size_t)wc->n * sizeof *s->stamp);
    if (!s->sym || !s->off || !s->len || !s->freq || !s->stamp || !tok_pairmap_init(&s->pair_index, 1 << 14)) {
        return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory for %d words", wc->n);
    }
    size_t at = 0;
    for (size_t k = 0; k < m->cap; k++) {
        if (!m->keys[k]) continue;
        int32_t w = m->vals[k];
        s->off[w] = at;
        s->len[w] = (int32_t)m->lens[k];
        s->freq[w] = wc->freq[w];
        s->stamp[w] = -1;
        for (uint32_t i = 0; i < m->lens[k]; i++) s->sym[at + i] = byte_id[(unsigned char)m->keys[k][i]];
        at += m->lens[k];
    }
    /* words in index order, so pair indices (not that they matter) are the same every run */
    for (int32_t w = 0; w < s->n_words; w++) {
        const int32_t *sym = s->sym + s->off[w];
        for (int32_t i = 0; i + 1 < s->len[w]; i++) {
            int32_t p = pair_get(s, sym[i], sym[i + 1]);
            if (p < 0 || !pair_add_word(&s->pairs[p], w)) {
                return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory for pairs");
            }
            s->pairs[p].count += s->freq[w];
        }
    }
    s->heap = malloc((size_t)(s->n_pairs ? s->n_pairs : 1) * sizeof *s->heap);
    if (!s->heap) return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory for pairs");
    s->cap_heap = (size_t)(s->n_pairs ? s->n_pairs : 1);
    for (int32_t p = 0; p < s->n_pairs; p++) {
        s->heap[s->n_heap++] = (bpe_entry){s->pairs[p].count, s->pairs[p].left, s->pairs[p].right, p};
    }
    for (size_t i = s->n_heap / 2; i-- > 0;) heap_sift_down(s->heap, s->n_heap, i);
    return SEEK_OK;
}

/* Rewrites every word holding pair (a, b) with token `id` in its place (leftmost first), updating
 * the counts of the pairs around it. */
static seek_status merge_words(bpe_state *s, int32_t pi, int32_t id, int32_t step) {
    const int32_t a = s->pairs[pi].left, b = s->pairs[pi].right;
    /* the pair's word list does not grow here: new pairs all hold `id`, which is neither a nor b */
    const int32_t *list = s->pairs[pi].words, n_list = s->pairs[pi].n_words;
    for (int32_t k = 0; k < n_list; k++) {
        int32_t w = list[k];
        if (s->stamp[w] == step) continue;
        s->stamp[w] = step;
        int32_t *sym = s->sym + s->off[w], len = s->len[w];
        bool found = false;
        for (int32_t i = 0; i + 1 < len && !found; i++) found = sym[i] == a && sym[i + 1] == b;
        if (!found) continue; /* stale: an earlier merge took the pair from this word */
        const int64_t f = s->freq[w];
        /* take the word's pairs out, merge, put the new pairs in: exact counts, any overlap */
        for (int32_t i = 0; i + 1 < len; i++) {
            if (!pair_count(s, sym[i], sym[i + 1], -f, w, false)) goto oom;
        }
        int32_t j = 0;
        for (int32_t i = 0; i < len;) {
            if (i + 1 < len && sym[i] == a && sym[i + 1] == b) {
                sym[j++] = id;
                i += 2;
            } else {
                sym[j++] = sym[i++];
            }
        }
        s->len[w] = len = j;
        for (int32_t i = 0; i + 1 < len; i++) {
            if (!pair_count(s, sym[i], sym[i + 1], f, w, sym[i] == id || sym[i + 1] == id)) goto oom;
        }
    }
    /* every occurrence is merged; the list is only needed again if a later merge makes a or b */
    bpe_pair *p = &s->pairs[pi];
    assert(p->count == 0);
    free(p->words);
    p->words = NULL;
    p->n_words = p->cap_words = 0;
    p->last_word = -1;
    for (int32_t i = 0; i < s->n_dirty; i++) {
        bpe_pair *d = &s->pairs[s->dirty[i]];
        d->dirty = false;
        if (d->count > 0 && !heap_push(s, (bpe_entry){d->count, d->left, d->right, s->dirty[i]})) goto oom;
    }
    s->n_dirty = 0;
    return SEEK_OK;
oom:
    return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory while merging");
}

/* The next pair to merge (its index), or -1 when no pair occurs any more. */
static int32_t next_pair(bpe_state *s, seek_status *st) {
    while (s->n_heap > 0) {
        bpe_entry e = heap_pop(s);
        const bpe_pair *p = &s->pairs[e.pair];
        if (e.count == p->count && p->count > 0) return e.pair;
        /* stale: a count that fell gets its true value back in the heap; one that rose already has
         * a fresh entry (pushed when it rose) */
        if (p->count > 0 && p->count < e.count && !heap_push(s, (bpe_entry){p->count, e.left, e.right, e.pair})) {
            *st = seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory while merging");
            return -1;
        }
    }
    return -1;
}

static seek_status record_merge(bpe_state *s, int32_t left, int32_t right, int32_t id, int64_t count) {
    if (s->n_merges == s->cap_merges) {
        int32_t cap = s->cap_merges ? 2 * s->cap_merges : 1024;
        int32_t *ids = realloc(s->merge_ids, (size_t)cap * 3 * sizeof *ids);
        if (ids) s->merge_ids = ids;
        int64_t *counts = realloc(s->merge_count, (size_t)cap * sizeof *counts);
        if (counts) s->merge_count = counts;
        if (!ids || !counts) return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory for merges");
        s->cap_merges = cap;
    }
    s->merge_ids[3 * s->n_merges + 0] = left;
    s->merge_ids[3 * s->n_merges + 1] = right;
    s->merge_ids[3 * s->n_merges + 2] = id;
    s->merge_count[s->n_merges++] = count;
    return SEEK_OK;
}

static seek_status train_merges(bpe_state *s, int32_t n_vocab, seek_bpe_progress progress, void *arg) {
    const int32_t n_total = n_vocab - 1 - 256, want = n_vocab - 1; /* the special token comes last */
    seek_status st = SEEK_OK;
    for (int32_t step = 0; s->n_tokens < want; step++) {
        int32_t pi = next_pair(s, &st);
        if (pi < 0) break;
        const int32_t left = s->pairs[pi].left, right = s->pairs[pi].right;
        size_t ll = strlen(s->tokens[left]), rl = strlen(s->tokens[right]);
        char *text = malloc(ll + rl + 1);
        if (!text) return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory for tokens");
        memcpy(text, s->tokens[left], ll);
        memcpy(text + ll, s->tokens[right], rl + 1);
        int32_t id = tok_strmap_get(&s->token_index, text, ll + rl);
        if (id >= 0) {
            free(text);
        } else {
            id = s->n_tokens;
            if (!token_push(s, text)) {
                free(text);
                return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory for tokens");
            }
            if (progress) progress(arg, s->n_tokens - 256, n_total);
        }
        if ((st = record_merge(s, left, right, id, s->pairs[pi].count))) return st;
        if ((st = merge_words(s, pi, id, step))) return st;
    }
    return st;
}

static void state_free(bpe_state *s) {
    free(s->sym);
    free(s->off);
    free(s->len);
    free(s->freq);
    free(s->stamp);
    for (int32_t i = 0; i < s->n_pairs; i++) free(s->pairs[i].words);
    free(s->pairs);
    tok_pairmap_free(&s->pair_index);
    free(s->dirty);
    free(s->heap);
    for (int32_t i = 0; i < s->n_tokens; i++) free(s->tokens[i]);
    free(s->tokens);
    tok_strmap_free(&s->token_index);
    free(s->merge_ids);
    free(s->merge_count);
}

/* Moves the state's tokens and merges into a vocabulary, adding the special token and the merge
 * texts. */
static seek_status make_vocab(seek_bpe_vocab **out, bpe_state *s) {
    seek_bpe_vocab *v = calloc(1, sizeof *v);
    char *eot = malloc(sizeof SEEK_BPE_EOT);
    if (eot) memcpy(eot, SEEK_BPE_EOT, sizeof SEEK_BPE_EOT);
    if (!v || !eot || !token_push(s, eot)) {
        free(v);
        free(eot);
        return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
    }
    v->n_tokens = s->n_tokens;
    v->tokens = s->tokens;
    v->eot = s->n_tokens - 1;
    v->n_merges = s->n_merges;
    for (int32_t w = 0; w < s->n_words; w++) v->n_text_tokens += s->freq[w] * s->len[w];
    v->merge_ids = s->merge_ids;
    v->merge_count = s->merge_count;
    s->tokens = NULL;
    s->n_tokens = 0;
    s->merge_ids = NULL;
    s->merge_count = NULL;
    v->merges = calloc((size_t)(v->n_merges ? v->n_merges : 1), sizeof *v->merges);
    for (int32_t i = 0; v->merges && i < v->n_merges; i++) {
        const char *l = v->tokens[v->merge_ids[3 * i]], *r = v->tokens[v->merge_ids[3 * i + 1]];
        size_t ll = strlen(l), rl = strlen(r);
        char *m = malloc(ll + rl + 2);
        if (!m) break;
        memcpy(m, l, ll);
        m[ll] = ' ';
        memcpy(m + ll + 1, r, rl + 1);
        v->merges[i] = m;
    }
    v->types = malloc((size_t)v->n_tokens * sizeof *v->types);
    for (int32_t i = 0; v->types && i < v->n_tokens; i++) {
        v->types[i] = i == v->eot ? BPE_TYPE_CONTROL : BPE_TYPE_NORMAL;
    }
    if (!v->merges || (v->n_merges && !v->merges[v->n_merges - 1]) || !v->types) {
        seek_bpe_vocab_free(v);
        return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory for merges");
    }
    *out = v;
    return SEEK_OK;
}

seek_status seek_bpe_train_texts(seek_bpe_vocab **out, const char *const *texts, const size_t *lens, size_t n_texts,
                                 int32_t n_vocab, seek_pool *pool, seek_bpe_progress progress, void *arg) {
    *out = NULL;
    if (n_vocab < 257 || n_vocab > BPE_MAX_VOCAB) {
        return seek_errorf(SEEK_ERR_INVALID, "bpe: vocabulary size %d is out of range (257 .. %d: 256 bytes + "
                           "merges + %s)", n_vocab, BPE_MAX_VOCAB, SEEK_BPE_EOT);
    }
    size_t total = 0;
    for (size_t t = 0; t < n_texts; t++) {
        if (!texts[t] && lens[t]) return seek_errorf(SEEK_ERR_INVALID, "bpe: text %zu is NULL", t);
        total += lens[t];
    }
    if (total == 0) return seek_errorf(SEEK_ERR_INVALID, "bpe: no training text (it is empty)");

    word_counts wc;
    seek_status st = count_words(&wc, texts, lens, n_texts, pool);
    if (st) return st;
    bpe_state s = {0};
    int32_t byte_id[256];
    if (!tok_strmap_init(&s.token_index, (size_t)n_vocab)) st = seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
    if (!st) st = init_bytes(&s, byte_id);
    if (!st) st = init_words(&s, &wc, byte_id);
    counts_free(&wc); /* its keys point into the texts; the words are copied into s */
    if (!st) st = train_merges(&s, n_vocab, progress, arg);
    if (!st) st = make_vocab(out, &s);
    state_free(&s);
    return st;
}

seek_status seek_bpe_train(seek_bpe_vocab **out, const char *text, size_t len, int32_t n_vocab, seek_pool *pool) {
    return seek_bpe_train_texts(out, &text, &len, 1, n_vocab, pool, NULL, NULL);
}

void seek_bpe_vocab_free(seek_bpe_vocab *v) {
    if (!v) return;
    for (int32_t i = 0; i < v->n_tokens; i++) free(v->tokens[i]);
    free(v->tokens);
    for (int32_t i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
    free(v->merges);
    free(v->merge_ids);
    free(v->merge_count);
    free(v->types);
    free(v);
}

int32_t seek_bpe_vocab_size(const seek_bpe_vocab *v) { return v->n_tokens; }
int32_t seek_bpe_vocab_eot(const seek_bpe_vocab *v) { return v->eot; }
int32_t seek_bpe_vocab_n_merges(const seek_bpe_vocab *v) { return v->n_merges; }
int64_t seek_bpe_vocab_n_text_tokens(const seek_bpe_vocab *v) { return v->n_text_tokens; }

const char *seek_bpe_vocab_token(const seek_bpe_vocab *v, int32_t id) {
    return id >= 0 && id < v->n_tokens ? v->tokens[id] : NULL;
}

void seek_bpe_vocab_merge(const seek_bpe_vocab *v, int32_t i, int32_t *left, int32_t *right, int32_t *result,
                          int64_t *count) {
    *left = v->merge_ids[3 * i];
    *right = v->merge_ids[3 * i + 1];
    *result = v->merge_ids[3 * i + 2];
    *count = v->merge_count[i];
}

void seek_bpe_write_keys(seek_gguf_writer *w, const seek_bpe_vocab *v) {
    seek_gw_str(w, "tokenizer.ggml.model", "gpt2");
    seek_gw_str(w, "tokenizer.ggml.pre", SEEK_BPE_PRE);
    seek_gw_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, (size_t)v->n_tokens);
    seek_gw_arr_i32(w, "tokenizer.ggml.token_type", v->types, (size_t)v->n_tokens);
    seek_gw_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges, (size_t)v->n_merges);
    seek_gw_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->eot);
    seek_gw_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eot);
    seek_gw_bool(w, "tokenizer.ggml.add_bos_token", false);
}

seek_status seek_bpe_vocab_tokenizer(seek_tokenizer **out, const seek_bpe_vocab *v) {
    *out = NULL;
    seek_gguf_writer *w = seek_gw_new();
    if (!w) return seek_errorf(SEEK_ERR_NOMEM, "bpe: out of memory");
    seek_bpe_write_keys(w, v);
    seek_gguf *g;
    seek_status st = seek_gguf_from_writer(&g, w); /* frees w */
    if (st) return st;
    st = seek_tokenizer_load(out, g);
    seek_gguf_close(g);
    return st;
}
