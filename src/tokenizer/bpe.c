/* Byte-level BPE (tokenizer.ggml.model = "gpt2"): pre-tokenizer pieces -> GPT-2 byte symbols ->
 * merges applied lowest rank first (leftmost on ties), exactly as Hugging Face tokenizers'
 * BPE::merge_word does. Not for special tokens or decoding (tokenizer.c). */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tok_internal.h"

/* The bytes GPT-2 did not keep as themselves: 0x00-0x20 (33), 0x7f-0xa0 (34) and 0xad, which
 * take U+0100..U+0143 in byte order. */
uint32_t tok_byte_to_cp(uint8_t b) {
    if (b <= 0x20) return 256 + b;
    if (b >= 0x7f && b <= 0xa0) return 256 + 33 + (b - 0x7f);
    if (b == 0xad) return 256 + 67;
    return b;
}

int tok_cp_to_byte(uint32_t cp) {
    if (cp < 256) return (cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) ? -1 : (int)cp;
    uint32_t n = cp - 256;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7f + n - 33);
    if (n == 67) return 0xad;
    return -1;
}

typedef struct {
    int32_t id;          /* -1: the byte has no token (dropped, as HF does without an unk token) */
    int32_t prev, next;  /* neighbours in the word, -1 at the ends */
    bool alive;
} bpe_symbol;

typedef struct {
    int32_t rank, pos, new_id;
} bpe_merge;

/* Min-heap on (rank, pos). */
static bool merge_less(bpe_merge a, bpe_merge b) { return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos; }

static void heap_push(bpe_merge *h, size_t *n, bpe_merge m) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!merge_less(m, h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = m;
}

static bpe_merge heap_pop(bpe_merge *h, size_t *n) {
    bpe_merge top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && merge_less(h[c + 1], h[c])) c++;
        if (!merge_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

typedef struct {
    bpe_symbol *sym;
    bpe_merge *heap;
    char *mapped; /* the piece in GPT-2 unicode characters (for ignore_merges) */
    size_t cap;
} bpe_scratch;

static bool scratch_reserve(bpe_scratch *s, size_t n) {
    if (n <= s->cap) return true;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    bpe_symbol *sym = realloc(s->sym, cap * sizeof *sym);
    if (sym) s->sym = sym;
    /* each merge pushes at most two entries: 3n bounds the heap */
    bpe_merge *heap = realloc(s->heap, 3 * cap * sizeof *heap);
    if (heap) s->heap = heap;
    char *mapped = realloc(s->mapped, 2 * cap);
    if (mapped) s->mapped = mapped;
    if (!sym || !heap || !mapped) return false;
    s->cap = cap;
    return true;
}

static void push_pair(const seek_tokenizer *t, bpe_scratch *s, size_t *n_heap, int32_t left) {
    int32_t right = s->sym[left].next;
    if (left < 0 || right < 0) return;
    int32_t rank, id;
    if (s->sym[left].id >= 0 && s->sym[right].id >= 0 &&
        tok_pairmap_get(&t->merges, s->sym[left].id, s->sym[right].id, &rank, &id)) {
        heap_push(s->heap, n_heap, (bpe_merge){rank, left, id});
    }
}

/* One pre-tokenizer piece -> ids. */
static void bpe_word(const seek_tokenizer *t, const unsigned char *w, size_t len, bpe_scratch *s, tok_sink *out) {
    if (t->ignore_merges) {
        size_t m = 0;
        for (size_t i = 0; i < len; i++) {
            uint32_t cp = tok_byte_to_cp(w[i]);
            if (cp < 0x80) {
                s->mapped[m++] = (char)cp;
            } else {
                s->mapped[m++] = (char)(0xc0 | (cp >> 6));
                s->mapped[m++] = (char)(0x80 | (cp & 0x3f));
            }
        }
        int32_t id = tok_strmap_get(&t->vocab, s->mapped, m);
        if (id >= 0) {
            tok_sink_push(out, id);
            return;
        }
    }
    int32_t n = (int32_t)len;
    for (int32_t i = 0; i < n; i++) {
        s->sym[i] = (bpe_symbol){t->byte_id[w[i]], i - 1, i + 1 < n ? i + 1 : -1, true};
    }
    size_t n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++) push_pair(t, s, &n_heap, i);
    while (n_heap > 0) {
        bpe_merge top = heap_pop(s->heap, &n_heap);
        bpe_symbol *left = &s->sym[top.pos];
        if (!left->alive || left->next < 0) continue;
        bpe_symbol *right = &s->sym[left->next];
        int32_t rank, id;
        /* stale entry: the pair at this position changed since it was queued */
        if (left->id < 0 || right->id < 0 || !tok_pairmap_get(&t->merges, left->id, right->id, &rank, &id) ||
            id != top.new_id) {
            continue;
        }
        left->id = top.new_id;
        right->alive = false;
        left->next = right->next;
        if (right->next >= 0) s->sym[right->next].prev = top.pos;
        if (left->prev >= 0) push_pair(t, s, &n_heap, left->prev);
        push_pair(t, s, &n_heap, top.pos);
    }
    for (int32_t i = 0; i >= 0 && i < n; i = s->sym[i].next) {
        if (s->sym[i].id >= 0) tok_sink_push(out, s->sym[i].id);
    }
}

seek_status tok_bpe_encode(const seek_tokenizer *t, const char *text, size_t len, tok_sink *out) {
    if (len == 0) return SEEK_OK;
    if (len > INT32_MAX) return seek_errorf(SEEK_ERR_INVALID, "tokenizer: text of %zu bytes is too long", len);
    tok_span *spans;
    size_t n_spans;
    seek_status st = tok_pretok_split(t->pretok, text, len, &spans, &n_spans);
    if (st != SEEK_OK) return st;
    bpe_scratch s = {0};
    for (size_t i = 0; i < n_spans; i++) {
        if (!scratch_reserve(&s, spans[i].len)) {
            st = seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for a %zu-byte word", spans[i].len);
            break;
        }
        bpe_word(t, (const unsigned char *)text + spans[i].off, spans[i].len, &s, out);
    }
    free(s.sym);
    free(s.heap);
    free(s.mapped);
    free(spans);
    return st;
}
