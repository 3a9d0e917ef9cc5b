/* SentencePiece-style BPE (tokenizer.ggml.model = "llama", llama.cpp's llm_tokenizer_spm): " " -> "▁",
 * symbols merged highest score first (leftmost on ties) while the pair is a token, leftover
 * characters as <0xXX> byte tokens. Not for special tokens or decoding (tokenizer.c). */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tok_internal.h"

typedef struct {
    size_t off;          /* into the escaped text */
    size_t len;          /* 0 once merged into its left neighbour */
    int32_t prev, next;
} spm_symbol;

typedef struct {
    float score;
    int32_t left, right;
    size_t len;          /* left.len + right.len when queued: stale if it no longer adds up */
} spm_bigram;

/* Max-heap on score, then min on left index. */
static bool bigram_before(spm_bigram a, spm_bigram b) {
    return a.score != b.score ? a.score > b.score : a.left < b.left;
}

typedef struct {
    spm_bigram *v;
    size_t n, cap;
} spm_heap;

static bool heap_push(spm_heap *h, spm_bigram b) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        spm_bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v) return false;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_before(b, h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = b;
    return true;
}

static spm_bigram heap_pop(spm_heap *h) {
    spm_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(h->v[c + 1], h->v[c])) c++;
        if (!bigram_before(h->v[c], last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

static bool try_bigram(const seek_tokenizer *t, const char *text, const spm_symbol *sym, int32_t left, int32_t right,
                       spm_heap *h) {
    if (left < 0 || right < 0) return true;
    size_t len = sym[left].len + sym[right].len;
    int32_t id = tok_strmap_get(&t->vocab, text + sym[left].off, len);
    if (id < 0) return true;
    return heap_push(h, (spm_bigram){t->score ? t->score[id] : 0.0f, left, right, len});
}

/* A symbol that is not a token (only single characters can be: merges always make tokens). */
static void emit_bytes(const seek_tokenizer *t, const char *s, size_t len, tok_sink *out) {
    for (size_t i = 0; i < len; i++) {
        int32_t id = t->byte_token[(unsigned char)s[i]];
        if (id >= 0) tok_sink_push(out, id);
        else if (t->unk >= 0 && i == 0) tok_sink_push(out, t->unk); /* one <unk> for the character */
    }
}

seek_status tok_spm_encode(const seek_tokenizer *t, const char *text, size_t len, bool first, tok_sink *out) {
    if (len == 0) return SEEK_OK;
    static const char SPACE[] = "\xe2\x96\x81"; /* U+2581 ▁ */
    if (len > (SIZE_MAX - 3) / 3 || len > INT32_MAX / 3) {
        return seek_errorf(SEEK_ERR_INVALID, "tokenizer: text of %zu bytes is too long", len);
    }
    /* escape: optional prefix space, then every ' ' -> ▁ */
    char *esc = malloc(3 * len + 3);
    spm_symbol *sym = malloc((len + 1) * sizeof *sym);
    spm_heap h = {0};
    seek_status st = SEEK_OK;
    if (!esc || !sym) {
        st = seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
        goto done;
    }
    size_t n = 0;
    if (first && t->add_space_prefix) {
        memcpy(esc, SPACE, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(esc + n, SPACE, 3);
            n += 3;
        } else {
            esc[n++] = text[i];
        }
    }
    /* one symbol per UTF-8 character (an invalid byte is a character of its own) */
    int32_t n_sym = 0;
    for (size_t off = 0; off < n;) {
        size_t l = tok_utf8_valid_len((const unsigned char *)esc + off, n - off);
        if (l == 0) l = 1;
        sym[n_sym] = (spm_symbol){off, l, n_sym - 1, off + l < n ? n_sym + 1 : -1};
        n_sym++;
        off += l;
    }
    for (int32_t i = 1; i < n_sym; i++) {
        if (!try_bigram(t, esc, sym, i - 1, i, &h)) goto nomem;
    }
    while (h.n > 0) {
        spm_bigram b = heap_pop(&h);
        spm_symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.len) continue; /* stale */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        if (!try_bigram(t, esc, sym, l->prev, b.left, &h) || !try_bigram(t, esc, sym, b.left, l->next, &h)) goto nomem;
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        int32_t id = tok_strmap_get(&t->vocab, esc + sym[i].off, sym[i].len);
        if (id >= 0) tok_sink_push(out, id);
        else emit_bytes(t, esc + sym[i].off, sym[i].len, out);
    }
    goto done;
nomem:
    st = seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory merging %zu bytes of text", len);
done:
    free(esc);
    free(sym);
    free(h.v);
    return st;
}
