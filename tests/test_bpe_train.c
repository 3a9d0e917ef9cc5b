/* BPE trainer tests (train/bpe_train.h): the merges against a plain recount-everything trainer
 * written here (on Shakespeare, on the whole text so the chunked counting is covered, and on
 * multilingual text with invalid UTF-8), hand-checked cases (tie rule, overlapping pairs, texts
 * kept apart, running out of pairs), the byte alphabet, the GGUF keys, the round trip
 * writer -> in-memory GGUF -> seek_tokenizer (detokenize(tokenize(x)) == x), compression that
 * improves with the vocabulary (and the trainer's token count equals the tokenizer's), the same
 * result with and without threads, bad arguments, speed.
 * Hugging Face's trainer is compared in tests/test_tokenizer_train.sh (tests/ref/check_bpe_train.py). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/clock.h"
#include "core/status.h"
#include "core/threadpool.h"
#include "format/gguf.h"
#include "format/gguf_write.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tokenizer.h"
#include "train/bpe_train.h"

#ifndef SEEK_SOURCE_DIR
#define SEEK_SOURCE_DIR "."
#endif

/* ---- the training text ------------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static void buf_add(buf_t *b, const void *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

static bool read_file(const char *path, buf_t *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) buf_add(out, tmp, k);
    fclose(f);
    return true;
}

/* tinyshakespeare.txt ($SEEK_TRAIN_TEXT, or the shared data folder next to the checkout); without
 * it, seek's own sources (repeated up to 600 KB, so the text still spans several chunks). */
static buf_t load_corpus(void) {
    buf_t b = {0};
    const char *env = getenv("SEEK_TRAIN_TEXT");
    const char *paths[] = {env ? env : "", SEEK_SOURCE_DIR "/../shared/data/tinyshakespeare.txt",
                           "/work/shared/data/tinyshakespeare.txt"};
    for (size_t i = 0; i < 3; i++) {
        if (paths[i][0] && read_file(paths[i], &b) && b.n > 0) return b;
    }
    printf("note: tinyshakespeare.txt not found; training on seek's own sources\n");
    const char *srcs[] = {"src/tokenizer/tokenizer.c", "src/tokenizer/bpe.c", "src/tokenizer/pretok.c",
                          "src/tokenizer/spm.c", "src/format/gguf.c", "src/format/gguf_write.c"};
    while (b.n < 600000) {
        size_t before = b.n;
        for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", SEEK_SOURCE_DIR, srcs[i]);
            read_file(path, &b);
        }
        if (b.n == before) abort();
    }
    return b;
}

/* ---- an independent reference: GPT-2's byte alphabet and the plain BPE algorithm ------------------ */

/* openai/gpt-2 encoder.py bytes_to_unicode, written out again: cp[b] is byte b's character. */
static void gpt2_alphabet(uint32_t cp[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool kept = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        cp[b] = kept ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

/* Byte -> token id: the bytes sorted by their character. */
static void alphabet_ids(int32_t id[256]) {
    uint32_t cp[256];
    gpt2_alphabet(cp);
    for (int b = 0; b < 256; b++) {
        id[b] = 0;
        for (int c = 0; c < 256; c++) id[b] += cp[c] < cp[b];
    }
}

typedef struct {
    int32_t left, right, result;
    int64_t count;
} ref_merge;

/* Every pre-token occurrence is its own word (no counting of distinct words); each step recounts
 * all adjacent pairs into a dense table, takes the largest count (the first in (left, right)
 * order on ties) and merges it in every word, leftmost first. A merge whose bytes equal an
 * existing token's reuses it. Returns the number of merges made (at most max_merges). */
static int ref_train(const char *text, size_t len, int max_new_tokens, ref_merge *out) {
    tok_pretok *pre;
    bool known, ignore;
    tok_span *spans;
    size_t n_spans;
    if (tok_pretok_init(&pre, "gpt2", &known, &ignore) || tok_pretok_split(pre, text, len, &spans, &n_spans)) abort();
    tok_pretok_free(pre);
    int32_t byte_id[256];
    alphabet_ids(byte_id);
    int32_t *sym = malloc(len * sizeof *sym);
    size_t *word_end = malloc(n_spans * sizeof *word_end);
    size_t n_sym = 0;
    for (size_t i = 0; i < n_spans; i++) {
        for (size_t k = 0; k < spans[i].len; k++) sym[n_sym++] = byte_id[(unsigned char)text[spans[i].off + k]];
        word_end[i] = n_sym;
    }
    const int max_tokens = 256 + max_new_tokens;
    /* token bytes, to find reused results */
    char **bytes = calloc((size_t)max_tokens, sizeof *bytes);
    size_t *n_bytes = calloc((size_t)max_tokens, sizeof *n_bytes);
    for (int b = 0; b < 256; b++) {
        bytes[byte_id[b]] = malloc(1);
        bytes[byte_id[b]][0] = (char)b;
        n_bytes[byte_id[b]] = 1;
    }
    int64_t *table = malloc((size_t)max_tokens * (size_t)max_tokens * sizeof *table);
    int n_tokens = 256, n_merges = 0;
    while (n_tokens < max_tokens) {
        memset(table, 0, (size_t)n_tokens * (size_t)n_tokens * sizeof *table);
        size_t start = 0;
        for (size_t w = 0; w < n_spans; w++) {
            for (size_t i = start; i + 1 < word_end[w]; i++) table[(size_t)sym[i] * (size_t)n_tokens + (size_t)sym[i + 1]]++;
            start = word_end[w];
        }
        int64_t best = 0;
        int32_t a = -1, b = -1;
        for (int32_t l = 0; l < n_tokens; l++)
            for (int32_t r = 0; r < n_tokens; r++)
                if (table[(size_t)l * (size_t)n_tokens + (size_t)r] > best) {
                    best = table[(size_t)l * (size_t)n_tokens + (size_t)r];
                    a = l;
                    b = r;
                }
        if (best == 0) break;
        size_t nb = n_bytes[a] + n_bytes[b];
        char *joined = malloc(nb);
        memcpy(joined, bytes[a], n_bytes[a]);
        memcpy(joined + n_bytes[a], bytes[b], n_bytes[b]);
        int32_t id = -1;
        for (int32_t t = 0; t < n_tokens && id < 0; t++)
            if (n_bytes[t] == nb && !memcmp(bytes[t], joined, nb)) id = t;
        if (id >= 0) {
            free(joined);
        } else {
            id = n_tokens++;
            bytes[id] = joined;
            n_bytes[id] = nb;
        }
        out[n_merges++] = (ref_merge){a, b, id, best};
        /* merge in every word, compacting sym */
        size_t j = 0;
        start = 0;
        for (size_t w = 0; w < n_spans; w++) {
            for (size_t i = start; i < word_end[w];) {
                if (i + 1 < word_end[w] && sym[i] == a && sym[i + 1] == b) {
                    sym[j++] = id;
                    i += 2;
                } else {
                    sym[j++] = sym[i++];
                }
            }
            start = word_end[w];
            word_end[w] = j;
        }
    }
    for (int t = 0; t < max_tokens; t++) free(bytes[t]);
    free(bytes);
    free(n_bytes);
    free(table);
    free(sym);
    free(word_end);
    free(spans);
    return n_merges;
}

/* The trainer's merges equal the reference's, pair, result and count, for max_new_tokens tokens. */
static void check_against_ref(const char *what, const char *text, size_t len, int max_new_tokens) {
    ref_merge *ref = malloc((size_t)(4 * max_new_tokens + 16) * sizeof *ref);
    int n_ref = ref_train(text, len, max_new_tokens, ref);
    seek_bpe_vocab *v = NULL;
    seek_status st = seek_bpe_train(&v, text, len, 257 + max_new_tokens, NULL);
    CHECK(st == SEEK_OK, "%s: train: %s", what, seek_last_error());
    if (st) {
        free(ref);
        return;
    }
    CHECK(seek_bpe_vocab_n_merges(v) == n_ref, "%s: %d merges, the reference made %d", what, seek_bpe_vocab_n_merges(v),
          n_ref);
    int bad = 0;
    for (int i = 0; i < n_ref && i < seek_bpe_vocab_n_merges(v) && bad < 3; i++) {
        int32_t l, r, res;
        int64_t c;
        seek_bpe_vocab_merge(v, i, &l, &r, &res, &c);
        bool same = l == ref[i].left && r == ref[i].right && res == ref[i].result && c == ref[i].count;
        CHECK(same, "%s: merge %d is (%d %d -> %d, count %lld), the reference's (%d %d -> %d, count %lld)", what, i, l, r,
              res, (long long)c, ref[i].left, ref[i].right, ref[i].result, (long long)ref[i].count);
        bad += !same;
    }
    printf("%s: %d merges as the reference\n", what, n_ref);
    seek_bpe_vocab_free(v);
    free(ref);
}

/* ---- helpers over the trainer ------------------------------------------------------------------ */

static seek_bpe_vocab *train(const char *text, size_t len, int32_t n_vocab, seek_pool *pool) {
    seek_bpe_vocab *v = NULL;
    seek_status st = seek_bpe_train(&v, text, len, n_vocab, pool);
    CHECK(st == SEEK_OK, "train %d on %zu bytes: %s", n_vocab, len, seek_last_error());
    return v;
}

static int32_t find_token(const seek_bpe_vocab *v, const char *text) {
    for (int32_t i = 0; i < seek_bpe_vocab_size(v); i++)
        if (!strcmp(seek_bpe_vocab_token(v, i), text)) return i;
    return -1;
}

static void check_merge(const seek_bpe_vocab *v, int i, const char *left, const char *right, int64_t count) {
    int32_t l, r, res;
    int64_t c;
    CHECK(i < seek_bpe_vocab_n_merges(v), "merge %d exists (%d merges)", i, seek_bpe_vocab_n_merges(v));
    if (i >= seek_bpe_vocab_n_merges(v)) return;
    seek_bpe_vocab_merge(v, i, &l, &r, &res, &c);
    const char *lt = seek_bpe_vocab_token(v, l), *rt = seek_bpe_vocab_token(v, r);
    CHECK(!strcmp(lt, left) && !strcmp(rt, right) && c == count, "merge %d: '%s' '%s' (count %lld), want '%s' '%s' (%lld)",
          i, lt, rt, (long long)c, left, right, (long long)count);
}

/* Tokens for text, and whether they decode back to it byte for byte. */
static int64_t round_trip(const seek_tokenizer *tok, const char *text, size_t len, bool *same) {
    int64_t n = seek_tokenize(tok, text, len, false, false, NULL, 0);
    *same = false;
    if (n < 0) return -1;
    int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
    seek_tokenize(tok, text, len, false, false, ids, n);
    char *back = malloc(len + 64);
    int64_t m = seek_detokenize(tok, ids, n, back, (int64_t)len + 64, false);
    *same = m == (int64_t)len && !memcmp(back, text, len);
    free(back);
    free(ids);
    return n;
}

static const char OTHER_TEXT[] =
    "Ünïcödé naïve café, déjà vu — “quoted” ‘text’… 日本語のテキストと漢字。Ελληνικά κείμενα, русский текст, "
    "עברית, العربية, हिन्दी, 한국어 텍스트, emoji 🙂👍🏽🇫🇷, math ∑∫√∞ ≤ ≥, tabs\tand\r\nCRLF lines,   many   spaces\n\n\n"
    "numbers 1234567890 3.14159 -42, code: for (int i = 0; i < n; i++) { x[i] += y[i]; }\n"
    "invalid UTF-8: \xff\xfe\xc0\x80 \xe2\x82 end\x00with a NUL";

/* ---- the tests ------------------------------------------------------------------------------------ */

static void test_alphabet(void) {
    seek_bpe_vocab *v = train("x", 1, 257, NULL);
    if (!v) return;
    uint32_t cp[256];
    gpt2_alphabet(cp);
    int32_t id[256];
    alphabet_ids(id);
    int bad = 0;
    for (int b = 0; b < 256; b++) {
        char want[4];
        if (cp[b] < 0x80) {
            want[0] = (char)cp[b];
            want[1] = 0;
        } else {
            want[0] = (char)(0xc0 | (cp[b] >> 6));
            want[1] = (char)(0x80 | (cp[b] & 0x3f));
            want[2] = 0;
        }
        bad += strcmp(seek_bpe_vocab_token(v, id[b]), want) != 0;
    }
    CHECK(bad == 0, "%d byte tokens differ from GPT-2's alphabet in GPT-2's order", bad);
    CHECK(!strcmp(seek_bpe_vocab_token(v, 0), "!") && !strcmp(seek_bpe_vocab_token(v, 220), "\xc4\xa0"),
          "token 0 is '!' and 220 is 'Ġ' (as in GPT-2's vocab.json)");
    CHECK(seek_bpe_vocab_size(v) == 257 && seek_bpe_vocab_n_merges(v) == 0 && seek_bpe_vocab_eot(v) == 256 &&
              !strcmp(seek_bpe_vocab_token(v, 256), SEEK_BPE_EOT),
          "257 = 256 bytes + <|endoftext|> (size %d, merges %d)", seek_bpe_vocab_size(v), seek_bpe_vocab_n_merges(v));
    seek_bpe_vocab_free(v);
}

static void test_hand_cases(void) {
    /* tie rule: three pairs of count 1; (a,b) has the smallest left id, then (c,d) (66 < 220 = Ġ) */
    seek_bpe_vocab *v = train("ab cd", 5, 260, NULL);
    if (v) {
        check_merge(v, 0, "a", "b", 1);
        check_merge(v, 1, "c", "d", 1);
        check_merge(v, 2, "\xc4\xa0", "cd", 1);
        seek_bpe_vocab_free(v);
    }
    /* overlapping pairs: "aaaa" has (a,a) three times and merges to "aa aa" */
    v = train("aaaa", 4, 259, NULL);
    if (v) {
        check_merge(v, 0, "a", "a", 3);
        check_merge(v, 1, "aa", "aa", 1);
        seek_bpe_vocab_free(v);
    }
    v = train("aaa aaa aaa", 11, 300, NULL);
    if (v) { /* words "aaa" and " aaa" x2: (a,a) 6 times, leftmost first -> "aa a" */
        check_merge(v, 0, "a", "a", 6);
        check_merge(v, 1, "aa", "a", 3);
        check_merge(v, 2, "\xc4\xa0", "aaa", 2);
        CHECK(seek_bpe_vocab_size(v) == 257 + 3, "ran out of pairs after 3 merges: size %d", seek_bpe_vocab_size(v));
        seek_bpe_vocab_free(v);
    }
    /* pre-tokens: merges never cross them ("hello," is "hello" + ","; " world" keeps its space) */
    const char *t = "hello, world! hello, world!";
    v = train(t, strlen(t), 1000, NULL);
    if (v) {
        CHECK(seek_bpe_vocab_size(v) < 1000, "a short text runs out of pairs (size %d)", seek_bpe_vocab_size(v));
        CHECK(find_token(v, "hello") >= 0 && find_token(v, "\xc4\xa0world") >= 0 && find_token(v, "hello,") < 0 &&
                  find_token(v, "world!") < 0,
              "words are 'hello' ',' 'Ġworld' '!' 'Ġhello'");
        seek_tokenizer *tok = NULL;
        CHECK(seek_bpe_vocab_tokenizer(&tok, v) == SEEK_OK, "tokenizer: %s", seek_last_error());
        if (tok) {
            int32_t ids[16];
            CHECK(seek_tokenize(tok, t, strlen(t), false, false, ids, 16) == 8, "8 pre-tokens, one token each");
            seek_tokenizer_free(tok);
        }
        seek_bpe_vocab_free(v);
    }
    /* separate texts: no pre-token spans two of them */
    const char *parts[] = {"ab", "cd"};
    size_t lens[] = {2, 2};
    v = NULL;
    CHECK(seek_bpe_train_texts(&v, parts, lens, 2, 300, NULL, NULL, NULL) == SEEK_OK, "two texts: %s", seek_last_error());
    if (v) {
        CHECK(seek_bpe_vocab_size(v) == 259 && find_token(v, "abcd") < 0, "two texts: 'ab' and 'cd' only");
        seek_bpe_vocab_free(v);
    }
    v = train("abcd", 4, 300, NULL);
    if (v) {
        CHECK(find_token(v, "abcd") >= 0, "one text: 'abcd' is one word");
        seek_bpe_vocab_free(v);
    }
}

static void test_bad_args(void) {
    seek_bpe_vocab *v = (seek_bpe_vocab *)1;
    CHECK(seek_bpe_train(&v, "abc", 3, 256, NULL) == SEEK_ERR_INVALID && !v && strstr(seek_last_error(), "256"),
          "n_vocab 256 is refused: %s", seek_last_error());
    CHECK(seek_bpe_train(&v, "abc", 3, (1 << 30) + 1, NULL) == SEEK_ERR_INVALID, "n_vocab 2^30 + 1 is refused");
    CHECK(seek_bpe_train(&v, "", 0, 1000, NULL) == SEEK_ERR_INVALID && strstr(seek_last_error(), "empty"),
          "empty text is refused: %s", seek_last_error());
    CHECK(seek_bpe_train(&v, NULL, 0, 1000, NULL) == SEEK_ERR_INVALID, "no text is refused");
}

/* The GGUF keys, read back from an in-memory GGUF, and the tokenizer built from them. */
static void test_gguf_keys(const seek_bpe_vocab *v) {
    seek_gguf_writer *w = seek_gw_new();
    seek_gw_str(w, "general.name", "bpe test");
    seek_bpe_write_keys(w, v);
    seek_gguf *g = NULL;
    CHECK(seek_gguf_from_writer(&g, w) == SEEK_OK, "in-memory gguf: %s", seek_last_error());
    if (!g) return;
    const int32_t n = seek_bpe_vocab_size(v), eot = seek_bpe_vocab_eot(v);
    gguf_str s;
    uint32_t u;
    bool b;
    CHECK(seek_gguf_get_str(g, "tokenizer.ggml.model", &s) && gguf_str_eq(s, "gpt2"), "model gpt2");
    CHECK(seek_gguf_get_str(g, "tokenizer.ggml.pre", &s) && gguf_str_eq(s, "gpt-2"), "pre gpt-2");
    CHECK(seek_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u) && u == (uint32_t)eot, "bos = <|endoftext|>");
    CHECK(seek_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u) && u == (uint32_t)eot, "eos = <|endoftext|>");
    CHECK(seek_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b) && !b, "add_bos_token false");
    const gguf_kv *tokens = seek_gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING);
    const gguf_kv *types = seek_gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32);
    const gguf_kv *merges = seek_gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING);
    CHECK(tokens && tokens->arr_n == (uint64_t)n && types && types->arr_n == (uint64_t)n && merges &&
              merges->arr_n == (uint64_t)seek_bpe_vocab_n_merges(v),
          "tokens, token_type and merges have %d, %d and %d entries", n, n, seek_bpe_vocab_n_merges(v));
    if (tokens && types && merges && n > 257) {
        CHECK(gguf_arr_i64(types, (uint64_t)eot) == 3 && gguf_arr_i64(types, 0) == 1 && gguf_arr_i64(types, 300) == 1,
              "<|endoftext|> is a control token, the others normal");
        int32_t l, r, res;
        int64_t c;
        seek_bpe_vocab_merge(v, 0, &l, &r, &res, &c);
        char want[256];
        snprintf(want, sizeof want, "%s %s", seek_bpe_vocab_token(v, l), seek_bpe_vocab_token(v, r));
        CHECK(gguf_str_eq(merges->arr_strs[0], want), "merge 0 is '%s'", want);
        CHECK(gguf_str_eq(tokens->arr_strs[res], seek_bpe_vocab_token(v, res)), "token %d matches", res);
    }
    seek_tokenizer *tok = NULL;
    CHECK(seek_tokenizer_load(&tok, g) == SEEK_OK, "tokenizer from the in-memory gguf: %s", seek_last_error());
    seek_gguf_close(g);
    if (!tok) return;
    CHECK(seek_tokenizer_n_vocab(tok) == n && seek_tokenizer_bos(tok) == eot && seek_tokenizer_eos(tok) == eot &&
              seek_tokenizer_is_eog(tok, eot) && seek_tokenizer_find(tok, SEEK_BPE_EOT) == eot,
          "the tokenizer sees %d tokens, bos = eos = %d", n, eot);
    int32_t ids[8];
    int64_t k = seek_tokenize(tok, "<|endoftext|>", 13, true, true, ids, 8);
    CHECK(k == 1 && ids[0] == eot, "'<|endoftext|>' is the special token with parse_special, no bos added (%lld)",
          (long long)k);
    k = seek_tokenize(tok, "<|endoftext|>", 13, true, false, ids, 8);
    CHECK(k > 1, "and plain text without (%lld tokens)", (long long)k);
    seek_tokenizer_free(tok);
}

static void test_round_trip(const buf_t *corpus) {
    /* train on the first 600 KB, hold out the rest (or the second half of a shorter text) */
    size_t n_train = corpus->n > 800000 ? 600000 : corpus->n / 2;
    const char *held = corpus->p + n_train;
    size_t n_held = corpus->n - n_train;
    const int32_t sizes[] = {300, 1000, 4096};
    double prev_train = 1e9, prev_held = 1e9;
    for (int i = 0; i < 3; i++) {
        seek_bpe_vocab *v = train(corpus->p, n_train, sizes[i], NULL);
        if (!v) continue;
        CHECK(seek_bpe_vocab_size(v) == sizes[i], "vocab %d has %d tokens", sizes[i], seek_bpe_vocab_size(v));
        if (sizes[i] == 4096) test_gguf_keys(v);
        seek_tokenizer *tok = NULL;
        CHECK(seek_bpe_vocab_tokenizer(&tok, v) == SEEK_OK, "tokenizer: %s", seek_last_error());
        const int64_t k_trainer = seek_bpe_vocab_n_text_tokens(v);
        seek_bpe_vocab_free(v);
        if (!tok) continue;
        bool same_train, same_held, same_other;
        int64_t k_train = round_trip(tok, corpus->p, n_train, &same_train);
        CHECK(k_train == k_trainer, "vocab %d: the tokenizer makes %lld tokens of the training text, the trainer %lld",
              sizes[i], (long long)k_train, (long long)k_trainer);
        int64_t k_held = round_trip(tok, held, n_held, &same_held);
        round_trip(tok, OTHER_TEXT, sizeof OTHER_TEXT - 1, &same_other);
        CHECK(same_train && same_held && same_other, "vocab %d: detokenize(tokenize(x)) == x (train %d, held-out %d, "
              "non-ASCII + invalid UTF-8 %d)", sizes[i], same_train, same_held, same_other);
        double tpb_train = (double)k_train / (double)n_train, tpb_held = (double)k_held / (double)n_held;
        printf("vocab %5d: %.4f tokens/byte on the training text, %.4f held out\n", sizes[i], tpb_train, tpb_held);
        CHECK(tpb_train < prev_train && tpb_held < prev_held, "vocab %d compresses better than the smaller one", sizes[i]);
        prev_train = tpb_train;
        prev_held = tpb_held;
        seek_tokenizer_free(tok);
    }
}

/* Threads split the text; the vocabulary must not depend on how. */
static void test_threads(const buf_t *corpus) {
    seek_pool *pool = NULL;
    if (seek_pool_init(&pool, 4)) {
        CHECK(0, "pool: %s", seek_last_error());
        return;
    }
    double t0 = seek_now();
    seek_bpe_vocab *a = train(corpus->p, corpus->n, 4096, pool);
    double t_pool = seek_now() - t0;
    seek_bpe_vocab *b = train(corpus->p, corpus->n, 4096, NULL);
    if (a && b) {
        bool same = seek_bpe_vocab_size(a) == seek_bpe_vocab_size(b) &&
                    seek_bpe_vocab_n_merges(a) == seek_bpe_vocab_n_merges(b);
        for (int32_t i = 0; same && i < seek_bpe_vocab_size(a); i++)
            same = !strcmp(seek_bpe_vocab_token(a, i), seek_bpe_vocab_token(b, i));
        CHECK(same, "4 threads and none give the same vocabulary");
        printf("vocab 4096 on %zu bytes: %.2f s with 4 threads\n", corpus->n, t_pool);
        /* generous: about 0.1 s here, far more under sanitizers */
        CHECK(t_pool < 20.0, "training takes %.1f s", t_pool);
    }
    seek_bpe_vocab_free(a);
    seek_bpe_vocab_free(b);
    seek_pool_free(pool);
}

int main(void) {
    buf_t corpus = load_corpus();
    test_alphabet();
    test_hand_cases();
    test_bad_args();
    /* the incremental bookkeeping against recounting everything */
    check_against_ref("60 KB slice", corpus.p, corpus.n < 60000 ? corpus.n : 60000, 400);
    check_against_ref("whole text (chunked counting)", corpus.p, corpus.n, 40);
    buf_t multi = {0};
    for (int i = 0; i < 40; i++) {
        buf_add(&multi, OTHER_TEXT + (i * 37) % 200, sizeof OTHER_TEXT - 1 - (size_t)(i * 37) % 200);
        buf_add(&multi, corpus.p + (size_t)i * 997, 300);
    }
    check_against_ref("multilingual + invalid UTF-8", multi.p, multi.n, 300);
    free(multi.p);
    test_round_trip(&corpus);
    test_threads(&corpus);
    free(corpus.p);
    return check_summary("test_bpe_train");
}
