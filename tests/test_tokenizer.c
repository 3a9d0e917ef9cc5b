/* Tokenizer tests: ids for a 680-string corpus against Hugging Face `tokenizers` (fixtures made
 * by tests/ref/gen_tokenizer_fixtures.py) for SmolLM2's vocabulary and DeepSeek-V3's, byte round
 * trips, every pre-tokenizer split against HF's, SentencePiece BPE on a hand-made vocabulary,
 * streaming UTF-8, corrupt metadata, and the speed of a 1 MB text. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "model/model.h"
#include "core/status.h"
#include "format/gguf.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tokenizer.h"

#ifndef SEEK_SOURCE_DIR
#define SEEK_SOURCE_DIR "."
#endif

/* ---- small helpers -------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static void buf_add(buf_t *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* Opens a path relative to the working directory, else to the source tree. */
static FILE *open_rel(const char *rel, char *used, size_t n_used) {
    snprintf(used, n_used, "%s", rel);
    FILE *f = fopen(used, "rb");
    if (!f && rel[0] != '/') {
        snprintf(used, n_used, "%s/%s", SEEK_SOURCE_DIR, rel);
        f = fopen(used, "rb");
    }
    return f;
}

static bool read_file(const char *rel, buf_t *out) {
    char path[1024];
    FILE *f = open_rel(rel, path, sizeof path);
    if (!f) return false;
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) buf_add(out, tmp, k);
    fclose(f);
    return true;
}

/* Decompresses a .gz fixture with the system's gzip (no zlib dependency for one test). */
static bool read_gz(const char *rel, buf_t *out) {
    char path[1024], cmd[1200];
    FILE *probe = open_rel(rel, path, sizeof path);
    if (!probe) return false;
    fclose(probe);
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p) return false;
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, p)) > 0) buf_add(out, tmp, k);
    return pclose(p) == 0 && out->n > 0;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Parses hex into out (caller frees), returns the byte count. */
static size_t parse_hex(const char *s, size_t n, char **out) {
    *out = malloc(n / 2 + 1);
    for (size_t i = 0; i + 1 < n; i += 2) (*out)[i / 2] = (char)(hexval(s[i]) * 16 + hexval(s[i + 1]));
    return n / 2;
}

/* Parses space-separated integers from s[0..n) into out (caller frees); returns the count. */
static int64_t parse_ints(const char *s, size_t n, int32_t **out) {
    int64_t cnt = 0, cap = 16;
    *out = malloc(cap * sizeof **out);
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ') i++;
        if (i >= n) break;
        long v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
        if (cnt == cap) *out = realloc(*out, (cap *= 2) * sizeof **out);
        (*out)[cnt++] = (int32_t)v;
    }
    return cnt;
}

/* Splits line into at most max tab-separated fields (pointers into the line + lengths). */
static int split_tabs(const char *line, size_t len, const char **f, size_t *fl, int max) {
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && k < max; i++) {
        if (i == len || line[i] == '\t') {
            f[k] = line + start;
            fl[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

static void print_ids(const char *what, const int32_t *ids, int64_t n) {
    fprintf(stderr, "  %s:", what);
    for (int64_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    if (n > 40) fprintf(stderr, " ... (%lld)", (long long)n);
    fputc('\n', stderr);
}

static int64_t tokenize_all(const seek_tokenizer *tok, const char *s, size_t n, bool add_special, bool parse_special,
                            int32_t **ids) {
    int64_t k = seek_tokenize(tok, s, n, add_special, parse_special, NULL, 0);
    *ids = malloc((size_t)(k > 0 ? k : 1) * sizeof **ids);
    if (k > 0) CHECK(seek_tokenize(tok, s, n, add_special, parse_special, *ids, k) == k, "second call, same count");
    return k;
}

/* ---- fixtures: ids against HF ------------------------------------------------------------- */

/* Which bytes have a token of their own (SmolLM2's vocabulary lacks 21): HF drops the others. */
static void bytes_with_token(const seek_tokenizer *tok, bool has[256]) {
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        has[b] = seek_tokenize(tok, &c, 1, false, false, NULL, 0) > 0;
    }
}

/* round_trip: also check decode(encode(x)) == x (byte-level vocabularies; a SentencePiece
 * vocabulary adds and strips spaces around special tokens). */
/* The line at *pos of a fixture file (without its newline) and its length; advances *pos. */
static const char *next_line(const buf_t *file, size_t *pos, size_t *len) {
    const char *line = file->p + *pos;
    const char *nl = memchr(line, '\n', file->n - *pos);
    *len = nl ? (size_t)(nl - line) : file->n - *pos;
    *pos += *len + 1;
    return line;
}

static void check_ids_fixture(const seek_tokenizer *tok, const char *rel, const char *name, bool round_trip, int min_cases) {
    buf_t file = {0};
    if (!read_file(rel, &file)) {
        CHECK(false, "fixture %s is missing", rel);
        return;
    }
    bool has[256];
    bytes_with_token(tok, has);
    int n_cases = 0, n_bad = 0;
    size_t pos = 0;
    while (pos < file.n) {
        size_t len;
        const char *line = next_line(&file, &pos, &len);
        if (len == 0 || line[0] == '#') continue;
        const char *f[3];
        size_t fl[3];
        if (split_tabs(line, len, f, fl, 3) != 3) {
            CHECK(false, "%s: bad fixture line", rel);
            continue;
        }
        char *text;
        size_t n_text = parse_hex(f[0], fl[0], &text);
        int32_t *want_sp, *want_plain;
        int64_t n_sp = parse_ints(f[1], fl[1], &want_sp);
        bool same = fl[2] == 1 && f[2][0] == '=';
        int64_t n_plain = same ? 0 : parse_ints(f[2], fl[2], &want_plain);
        if (same) {
            want_plain = want_sp;
            n_plain = n_sp;
        }
        n_cases++;

        int32_t *got_sp, *got_plain;
        int64_t g_sp = tokenize_all(tok, text, n_text, false, true, &got_sp);
        int64_t g_plain = tokenize_all(tok, text, n_text, false, false, &got_plain);
        bool ok_sp = g_sp == n_sp && memcmp(got_sp, want_sp, (size_t)n_sp * sizeof *got_sp) == 0;
        bool ok_plain = g_plain == n_plain && memcmp(got_plain, want_plain, (size_t)n_plain * sizeof *got_plain) == 0;

        /* decode(encode(x)) == x, less the bytes the vocabulary cannot represent */
        char *kept = malloc(n_text + 1);
        size_t n_kept = 0;
        for (size_t i = 0; i < n_text; i++) {
            if (has[(unsigned char)text[i]]) kept[n_kept++] = text[i];
        }
        bool ok_rt = true;
        for (int pass = 0; round_trip && pass < 2; pass++) {
            const int32_t *ids = pass ? got_plain : got_sp;
            int64_t n_ids = pass ? g_plain : g_sp;
            int64_t dl = seek_detokenize(tok, ids, n_ids, NULL, 0, true);
            char *dec = malloc((size_t)(dl > 0 ? dl : 1));
            seek_detokenize(tok, ids, n_ids, dec, dl, true);
            /* with special parsing, the special tokens' text is kept verbatim, so the bytes are the input's */
            ok_rt &= dl == (int64_t)n_kept && memcmp(dec, kept, n_kept) == 0;
            free(dec);
        }
        if (!ok_sp || !ok_plain || !ok_rt) {
            n_bad++;
            if (n_bad <= 8) {
                fprintf(stderr, "%s mismatch for input %.*s (hex)%s%s%s\n", name, (int)(fl[0] > 120 ? 120 : fl[0]), f[0],
                        ok_sp ? "" : " [parse_special]", ok_plain ? "" : " [plain]", ok_rt ? "" : " [round trip]");
                if (!ok_sp) {
                    print_ids("want", want_sp, n_sp);
                    print_ids("got ", got_sp, g_sp);
                }
                if (!ok_plain) {
                    print_ids("want", want_plain, n_plain);
                    print_ids("got ", got_plain, g_plain);
                }
            }
        }
        free(kept);
        free(got_sp);
        free(got_plain);
        if (!same) free(want_plain);
        free(want_sp);
        free(text);
    }
    CHECK(n_cases >= min_cases, "%s: only %d cases", rel, n_cases);
    CHECK(n_bad == 0, "%s: %d of %d cases differ from HF tokenizers", name, n_bad, n_cases);
    printf("%s: %d cases checked against HF (%d mismatches)\n", name, n_cases, n_bad);
    free(file.p);
}

/* ---- fixtures: pre-tokenizer splits ------------------------------------------------------- */

static void test_pretok_fixture(void) {
    buf_t file = {0};
    if (!read_file("tests/fixtures/tokenizer/pretok.tsv", &file)) {
        CHECK(false, "pretok.tsv is missing");
        return;
    }
    enum { MAX_NAMES = 16 };
    char names[MAX_NAMES][64];
    tok_pretok *pre[MAX_NAMES] = {0};
    int n_names = 0, n_cases = 0, bad[MAX_NAMES] = {0};
    size_t pos = 0;
    while (pos < file.n) {
        size_t len;
        const char *line = next_line(&file, &pos, &len);
        const char *f[MAX_NAMES + 1];
        size_t fl[MAX_NAMES + 1];
        if (len >= 6 && memcmp(line, "#names", 6) == 0) {
            int k = split_tabs(line, len, f, fl, MAX_NAMES + 1);
            for (int i = 1; i < k; i++) {
                snprintf(names[n_names], sizeof names[0], "%.*s", (int)fl[i], f[i]);
                bool known, ignore_merges;
                CHECK(tok_pretok_init(&pre[n_names], names[n_names], &known, &ignore_merges) == SEEK_OK, "%s",
                      seek_last_error());
                CHECK(known, "pre-tokenizer %s unknown", names[n_names]);
                n_names++;
            }
            continue;
        }
        if (len == 0 || line[0] == '#') continue;
        int k = split_tabs(line, len, f, fl, MAX_NAMES + 1);
        if (k != n_names + 1) {
            CHECK(false, "pretok.tsv: line with %d fields for %d names", k, n_names);
            continue;
        }
        char *text;
        size_t n_text = parse_hex(f[0], fl[0], &text);
        n_cases++;
        for (int i = 0; i < n_names; i++) {
            int32_t *want;
            int64_t n_want = parse_ints(f[i + 1], fl[i + 1], &want);
            tok_span *spans = NULL;
            size_t n_spans = 0;
            seek_status st = pre[i] ? tok_pretok_split(pre[i], text, n_text, &spans, &n_spans) : SEEK_ERR_INVALID;
            bool ok = st == SEEK_OK && (int64_t)n_spans == n_want;
            for (size_t j = 0; ok && j < n_spans; j++) ok = spans[j].len == (size_t)want[j];
            if (!ok && ++bad[i] <= 3) {
                fprintf(stderr, "pretok %s mismatch on %.*s (hex): want", names[i], (int)(fl[0] > 120 ? 120 : fl[0]), f[0]);
                for (int64_t j = 0; j < n_want; j++) fprintf(stderr, " %d", want[j]);
                fprintf(stderr, " got");
                for (size_t j = 0; j < n_spans; j++) fprintf(stderr, " %zu", spans[j].len);
                fputc('\n', stderr);
            }
            free(spans);
            free(want);
        }
        free(text);
    }
    for (int i = 0; i < n_names; i++) {
        CHECK(bad[i] == 0, "pre-tokenizer %s: %d of %d cases differ from HF", names[i], bad[i], n_cases);
        printf("pretok %s: %d cases (%d mismatches)\n", names[i], n_cases, bad[i]);
        tok_pretok_free(pre[i]);
    }
    CHECK(n_names >= 7 && n_cases >= 500, "pretok.tsv: %d names, %d cases", n_names, n_cases);
    free(file.p);
}

/* ---- a tiny GGUF writer for hand-made vocabularies ---------------------------------------- */

typedef struct {
    buf_t b;
    uint64_t n_kv;
} gguf_w;

static void w_u32(buf_t *b, uint32_t v) { buf_add(b, &v, 4); }
static void w_u64(buf_t *b, uint64_t v) { buf_add(b, &v, 8); }
static void w_str(buf_t *b, const char *s) {
    w_u64(b, strlen(s));
    buf_add(b, s, strlen(s));
}
static void kv_str(gguf_w *w, const char *k, const char *v) {
    w_str(&w->b, k);
    w_u32(&w->b, 8);
    w_str(&w->b, v);
    w->n_kv++;
}
static void kv_u32(gguf_w *w, const char *k, uint32_t v) {
    w_str(&w->b, k);
    w_u32(&w->b, 4);
    w_u32(&w->b, v);
    w->n_kv++;
}
static void kv_bool(gguf_w *w, const char *k, bool v) {
    w_str(&w->b, k);
    w_u32(&w->b, 7);
    uint8_t x = v;
    buf_add(&w->b, &x, 1);
    w->n_kv++;
}
static void kv_strs(gguf_w *w, const char *k, const char *const *v, size_t n) {
    w_str(&w->b, k);
    w_u32(&w->b, 9);
    w_u32(&w->b, 8);
    w_u64(&w->b, n);
    for (size_t i = 0; i < n; i++) w_str(&w->b, v[i]);
    w->n_kv++;
}
/* An array of n 4-byte numbers of GGUF type `type` (5 = i32, 6 = f32). */
static void kv_arr4(gguf_w *w, const char *k, uint32_t type, const void *v, size_t n) {
    w_str(&w->b, k);
    w_u32(&w->b, 9);
    w_u32(&w->b, type);
    w_u64(&w->b, n);
    buf_add(&w->b, v, n * 4);
    w->n_kv++;
}
/* The finished file: header + the kv bytes written so far. */
static buf_t gguf_w_finish(gguf_w *w) {
    buf_t out = {0};
    buf_add(&out, "GGUF", 4);
    w_u32(&out, 3);
    w_u64(&out, 0);
    w_u64(&out, w->n_kv);
    buf_add(&out, w->b.p, w->b.n);
    free(w->b.p);
    return out;
}

/* ---- SentencePiece BPE on a hand-made vocabulary ------------------------------------------ */

#define SP "\xe2\x96\x81" /* ▁ */

static void expect_ids(const seek_tokenizer *tok, const char *text, bool add_special, bool parse_special,
                       const int32_t *want, int64_t n_want, const char *what) {
    int32_t *got;
    int64_t n = tokenize_all(tok, text, strlen(text), add_special, parse_special, &got);
    bool ok = n == n_want && memcmp(got, want, (size_t)n_want * sizeof *got) == 0;
    CHECK(ok, "%s: '%s'", what, text);
    if (!ok) {
        print_ids("want", want, n_want);
        print_ids("got ", got, n);
    }
    free(got);
}

static void expect_decode(const seek_tokenizer *tok, const int32_t *ids, int64_t n, bool render_special, const char *want,
                          const char *what) {
    char buf[256];
    int64_t l = seek_detokenize(tok, ids, n, buf, sizeof buf, render_special);
    CHECK(l == (int64_t)strlen(want) && memcmp(buf, want, strlen(want)) == 0, "%s: got '%.*s' want '%s'", what,
          (int)(l < 0 ? 0 : l), buf, want);
}

static void test_spm(void) {
    /* ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then pieces with scores */
    const char *pieces[] = {SP, "a", "b", "c", SP "a", "ab", SP "ab", "bc", "xyz", "d", SP "d", "<tag>", "é"};
    const float piece_scores[] = {-1, -2, -3, -4, -5, -6, -7, -3.5f, -8, -9, -10, 0, -11};
    enum { N_PIECES = sizeof pieces / sizeof pieces[0], N = 3 + 256 + N_PIECES };
    const char *tokens[N];
    char byte_names[256][8];
    int32_t types[N];
    float scores[N];
    tokens[0] = "<unk>", types[0] = 2, scores[0] = 0;
    tokens[1] = "<s>", types[1] = 3, scores[1] = 0;
    tokens[2] = "</s>", types[2] = 3, scores[2] = 0;
    for (int b = 0; b < 256; b++) {
        snprintf(byte_names[b], sizeof byte_names[b], "<0x%02X>", b);
        tokens[3 + b] = byte_names[b], types[3 + b] = 6, scores[3 + b] = 0;
    }
    for (int i = 0; i < N_PIECES; i++) {
        tokens[259 + i] = pieces[i];
        types[259 + i] = strcmp(pieces[i], "<tag>") == 0 ? 4 : 1;
        scores[259 + i] = piece_scores[i];
    }
    enum { T_SP = 259, T_A, T_B, T_C, T_SPA, T_AB, T_SPAB, T_BC, T_XYZ, T_D, T_SPD, T_TAG, T_EACUTE };
    gguf_w w = {0};
    kv_str(&w, "general.architecture", "llama");
    kv_str(&w, "tokenizer.ggml.model", "llama");
    kv_strs(&w, "tokenizer.ggml.tokens", tokens, N);
    kv_arr4(&w, "tokenizer.ggml.token_type", 5, types, N);
    kv_arr4(&w, "tokenizer.ggml.scores", 6, scores, N);
    kv_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(&w, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(&w, "tokenizer.ggml.unknown_token_id", 0);
    kv_bool(&w, "tokenizer.ggml.add_space_prefix", true);
    buf_t file = gguf_w_finish(&w);
    seek_gguf *g = NULL;
    CHECK(seek_gguf_parse(&g, file.p, file.n) == SEEK_OK, "spm gguf: %s", seek_last_error());
    seek_tokenizer *tok = NULL;
    CHECK(g && seek_tokenizer_load(&tok, g) == SEEK_OK, "spm load: %s", seek_last_error());
    seek_gguf_close(g); /* the tokenizer keeps its own copies */
    if (!tok) {
        free(file.p);
        return;
    }
    /* "abc" -> "▁abc": pairs ▁a (-5), ab (-6), bc (-3.5). Highest score first: bc, then ▁a; "▁abc" is
     * not a token, so [▁a, bc] (merging ab first would have given [▁ab, c]) */
    expect_ids(tok, "abc", false, false, (int32_t[]){T_SPA, T_BC}, 2, "score order");
    /* "ab" -> ▁ab: ▁a (-5) then ▁a+b = ▁ab (-7) */
    expect_ids(tok, "ab", false, false, (int32_t[]){T_SPAB}, 1, "merge chain");
    expect_ids(tok, "ab", true, false, (int32_t[]){1, T_SPAB}, 2, "bos added (add_bos default for llama)");
    /* spaces become ▁, each word keeps its ▁ */
    expect_ids(tok, "ab d", false, false, (int32_t[]){T_SPAB, T_SPD}, 2, "space to ▁");
    /* unknown characters fall back to bytes: 'z' = 0x7a, '€' = e2 82 ac */
    expect_ids(tok, "z", false, false, (int32_t[]){T_SP, 3 + 0x7a}, 2, "byte fallback");
    expect_ids(tok, "€", false, false, (int32_t[]){T_SP, 3 + 0xe2, 3 + 0x82, 3 + 0xac}, 4, "multi-byte fallback");
    expect_ids(tok, "é", false, false, (int32_t[]){T_SP, T_EACUTE}, 2, "known multi-byte char");
    /* special tokens: control only with parse_special; user-defined always; a space prefix after them */
    expect_ids(tok, "<s>ab", false, true, (int32_t[]){1, T_SPAB}, 2, "control parsed");
    expect_ids(tok, "a<tag>d", false, false, (int32_t[]){T_SPA, T_TAG, T_SPD}, 3, "user-defined always parsed");
    /* decoding: ▁ -> space, the first leading space dropped, bytes joined back, control hidden */
    expect_decode(tok, (int32_t[]){T_SPAB, T_SPD}, 2, false, "ab d", "decode drops first space");
    expect_decode(tok, (int32_t[]){1, T_SPAB, T_SPD}, 3, false, "ab d", "decode with hidden bos");
    expect_decode(tok, (int32_t[]){1, T_SPAB}, 2, true, "<s> ab", "decode renders bos");
    expect_decode(tok, (int32_t[]){T_SP, 3 + 0xe2, 3 + 0x82, 3 + 0xac}, 4, false, "€", "decode bytes");
    char piece[8];
    CHECK(seek_token_to_piece(tok, 3 + 0x41, piece, sizeof piece, false) == 1 && piece[0] == 'A', "byte piece");
    CHECK(seek_token_to_piece(tok, 1, piece, sizeof piece, false) == 0, "control piece hidden");
    CHECK(seek_tokenizer_bos(tok) == 1 && seek_tokenizer_eos(tok) == 2, "bos/eos");
    CHECK(seek_tokenizer_is_eog(tok, 2) && !seek_tokenizer_is_eog(tok, 1), "eog");
    seek_tokenizer_free(tok);
    free(file.p);
}

/* ---- bad metadata ------------------------------------------------------------------------- */

static void test_bad_metadata(void) {
    const char *toks[] = {"a", "b", "ab"};
    struct {
        const char *what;
        int variant;
        seek_status want;
    } cases[] = {
        {"no tokenizer.ggml.model", 0, SEEK_ERR_FORMAT},
        {"model 'bert'", 1, SEEK_ERR_UNSUPPORTED},
        {"no tokens", 2, SEEK_ERR_FORMAT},
        {"token_type of the wrong length", 3, SEEK_ERR_FORMAT},
        {"merge without a space", 4, SEEK_ERR_FORMAT},
        {"fine (unknown pre falls back)", 5, SEEK_OK},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gguf_w w = {0};
        int v = cases[c].variant;
        if (v != 0) kv_str(&w, "tokenizer.ggml.model", v == 1 ? "bert" : "gpt2");
        if (v == 5) kv_str(&w, "tokenizer.ggml.pre", "no-such-pre");
        if (v != 2) kv_strs(&w, "tokenizer.ggml.tokens", toks, 3);
        if (v == 3) kv_arr4(&w, "tokenizer.ggml.token_type", 5, (int32_t[]){1, 1}, 2);
        const char *merges[] = {v == 4 ? "ab" : "a b"};
        kv_strs(&w, "tokenizer.ggml.merges", merges, 1);
        buf_t file = gguf_w_finish(&w);
        seek_gguf *g = NULL;
        seek_tokenizer *tok = NULL;
        CHECK(seek_gguf_parse(&g, file.p, file.n) == SEEK_OK, "%s", seek_last_error());
        seek_status st = g ? seek_tokenizer_load(&tok, g) : SEEK_ERR_IO;
        CHECK(st == cases[c].want, "%s: got %s (%s)", cases[c].what, seek_status_name(st), seek_last_error());
        CHECK((st == SEEK_OK) == (tok != NULL), "%s: handle only on success", cases[c].what);
        if (tok && v == 5) {
            int32_t ids[4];
            CHECK(seek_tokenize(tok, "ab", 2, false, false, ids, 4) == 1 && ids[0] == 2, "merge a b -> ab");
        }
        seek_tokenizer_free(tok);
        seek_gguf_close(g);
        free(file.p);
    }
}

/* Llama-3's BPE ("ignore_merges"): a pre-token found whole in the vocabulary is taken as is. */
static void test_ignore_merges(void) {
    const char *toks[] = {"a", "b", "c", "bc", "abc"};
    const char *merges[] = {"b c"}; /* no merge builds "abc" */
    for (int llama3 = 0; llama3 < 2; llama3++) {
        gguf_w w = {0};
        kv_str(&w, "tokenizer.ggml.model", "gpt2");
        kv_str(&w, "tokenizer.ggml.pre", llama3 ? "llama-bpe" : "qwen2");
        kv_strs(&w, "tokenizer.ggml.tokens", toks, 5);
        kv_strs(&w, "tokenizer.ggml.merges", merges, 1);
        buf_t file = gguf_w_finish(&w);
        seek_gguf *g = NULL;
        seek_tokenizer *tok = NULL;
        CHECK(seek_gguf_parse(&g, file.p, file.n) == SEEK_OK && seek_tokenizer_load(&tok, g) == SEEK_OK, "%s",
              seek_last_error());
        if (tok) {
            if (llama3) expect_ids(tok, "abc", false, false, (int32_t[]){4}, 1, "llama-bpe takes the whole word");
            else expect_ids(tok, "abc", false, false, (int32_t[]){0, 3}, 2, "qwen2 merges");
        }
        seek_tokenizer_free(tok);
        seek_gguf_close(g);
        free(file.p);
    }
}

/* ---- streaming UTF-8 ---------------------------------------------------------------------- */

static void test_utf8_prefix(void) {
    struct {
        const char *s;
        size_t want;
    } cases[] = {
        {"", 0}, {"abc", 3}, {"a\xc3", 1}, {"a\xc3\xa9", 3}, {"\xe2\x82", 0}, {"\xe2\x82\xac", 3},
        {"x\xf0\x9f\x98", 1}, {"\xf0\x9f\x98\x80", 4}, {"\x80\x80\x80", 3}, {"a\xff", 2}, {"\xe2\x41", 2},
        {"ab\xf0", 2}, {"\xf8", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = seek_utf8_complete_prefix(cases[i].s, strlen(cases[i].s));
        CHECK(got == cases[i].want, "utf8 prefix case %zu: got %zu want %zu", i, got, cases[i].want);
    }
}

/* Decoding token by token and holding back incomplete UTF-8 gives the same bytes as a whole decode. */
static void test_streaming(const seek_tokenizer *tok) {
    const char *text = "Stream: 你好 🦙 naïve e\xcc\x81 done";
    int32_t *ids;
    int64_t n = tokenize_all(tok, text, strlen(text), false, false, &ids);
    buf_t out = {0}, pending = {0};
    bool all_complete = true;
    for (int64_t i = 0; i < n; i++) {
        char piece[64];
        int32_t l = seek_token_to_piece(tok, ids[i], piece, sizeof piece, false);
        buf_add(&pending, piece, (size_t)l);
        size_t ok = seek_utf8_complete_prefix(pending.p, pending.n);
        buf_add(&out, pending.p, ok);
        /* what is emitted must always be valid UTF-8 */
        for (size_t k = 0; k < ok;) {
            size_t cl = tok_utf8_valid_len((const unsigned char *)pending.p + k, ok - k);
            if (!cl) {
                all_complete = false;
                break;
            }
            k += cl;
        }
        memmove(pending.p, pending.p + ok, pending.n - ok);
        pending.n -= ok;
    }
    buf_add(&out, pending.p, pending.n);
    CHECK(all_complete, "streaming emitted a split character");
    CHECK(out.n == strlen(text) && memcmp(out.p, text, out.n) == 0, "streaming decode equals the text");
    free(out.p);
    free(pending.p);
    free(ids);
}

/* ---- the two real vocabularies ------------------------------------------------------------ */

static void test_api_smollm2(const seek_tokenizer *tok) {
    CHECK(seek_tokenizer_n_vocab(tok) == 49152, "n_vocab %d", seek_tokenizer_n_vocab(tok));
    int32_t im_end = seek_tokenizer_find(tok, "<|im_end|>");
    CHECK(im_end == 2, "<|im_end|> is %d", im_end);
    CHECK(seek_tokenizer_is_eog(tok, 2) && seek_tokenizer_is_eog(tok, 0) && !seek_tokenizer_is_eog(tok, 1), "eog set");
    CHECK(seek_tokenizer_eos(tok) == 2 && seek_tokenizer_bos(tok) == 1, "bos/eos ids");
    CHECK(strcmp(seek_tokenizer_text(tok, 1), "<|im_start|>") == 0, "raw text");
    CHECK(seek_tokenizer_text(tok, -1) == NULL && seek_tokenizer_text(tok, 49152) == NULL, "text out of range");
    char piece[32];
    CHECK(seek_token_to_piece(tok, 1, piece, sizeof piece, false) == 0, "control hidden");
    CHECK(seek_token_to_piece(tok, 1, piece, sizeof piece, true) == 12 && memcmp(piece, "<|im_start|>", 12) == 0,
          "control rendered");
    CHECK(seek_token_to_piece(tok, 49152, piece, sizeof piece, true) == -1, "bad id");
    int32_t hello = seek_tokenizer_find(tok, "\xc4\xa0Hello"); /* "ĠHello" */
    CHECK(hello >= 0 && seek_token_to_piece(tok, hello, piece, 2, false) == 6 && memcmp(piece, " H", 2) == 0,
          "piece truncated to the buffer, full length returned");
    /* add_bos_token is false for SmolLM2 */
    int32_t ids[8];
    CHECK(seek_tokenize(tok, "Hi", 2, true, false, ids, 8) == 1, "no bos for SmolLM2");
    /* a buffer too small: the count still comes back */
    const char *s = "one two three four five six";
    int64_t need = seek_tokenize(tok, s, strlen(s), false, false, ids, 2);
    CHECK(need == 6, "count past the buffer %lld", (long long)need);
    CHECK(seek_tokenize(tok, NULL, 3, false, false, ids, 8) == -1, "NULL text rejected");
    CHECK(seek_tokenize(tok, "", 0, false, false, ids, 8) == 0, "empty text");
}

static void test_api_deepseek(const seek_tokenizer *tok) {
    int32_t ids[16];
    /* add_bos_token is true in this GGUF: bos 0 first */
    int64_t n = seek_tokenize(tok, "Hello", 5, true, false, ids, 16);
    CHECK(n == 2 && ids[0] == 0, "bos prepended");
    CHECK(seek_tokenizer_is_eog(tok, 1) && seek_tokenizer_is_eog(tok, seek_tokenizer_find(tok, "<|EOT|>")), "eog");
    /* the reference's test vector (<｜begin▁of▁sentence｜> parsed as special) */
    const char *s = "<｜begin▁of▁sentence｜><｜User｜>Hello, world!<｜Assistant｜>";
    n = seek_tokenize(tok, s, strlen(s), false, true, ids, 16);
    CHECK(n == 7 && ids[0] == 0 && ids[1] == 128803 && ids[6] == 128804, "chat prefix ids (n=%lld)", (long long)n);
    /* <｜User｜> is user-defined: found even without special parsing; bos is control: not */
    n = seek_tokenize(tok, s, strlen(s), false, false, ids, 16);
    CHECK(n > 7 && ids[0] != 0, "control token as text");
}

static seek_tokenizer *load_path(const char *path, seek_gguf **g) {
    seek_tokenizer *tok = NULL;
    if (seek_gguf_open(g, path) != SEEK_OK) return NULL;
    if (seek_tokenizer_load(&tok, *g) != SEEK_OK) fprintf(stderr, "load %s: %s\n", path, seek_last_error());
    return tok;
}

/* 1 MB of mixed text must tokenize well under a second (the tokenizer is never the bottleneck). */
static void test_speed(const seek_tokenizer *tok, const char *name) {
    const char *parts[] = {"The quick brown fox jumps over the lazy dog. ", "int main(void) { return 0; }\n",
                           "数字 12345 and émojis 🦙🚀 ", "    indented   spaces\t\ttabs\n", "I'm you're they'll "};
    buf_t text = {0};
    for (size_t i = 0; text.n < (1u << 20); i++) buf_add(&text, parts[i % 5], strlen(parts[i % 5]));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int32_t *ids;
    int64_t n = tokenize_all(tok, text.p, text.n, false, true, &ids);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* twice (tokenize_all counts, then fills) */
    printf("%s: 1 MB -> %lld tokens in %.3f s (two passes)\n", name, (long long)n, s);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const double limit = 20.0; /* sanitizers slow everything by 5-20x */
#else
    const double limit = 2.0; /* < 1 s per pass */
#endif
    CHECK(n > 100000 && s < limit, "%s: 1 MB took %.3f s", name, s);
    /* long runs of one class: one piece of a million letters / spaces */
    memset(text.p, 'a', text.n);
    int64_t m = seek_tokenize(tok, text.p, text.n, false, false, NULL, 0);
    CHECK(m > 0, "a million letters");
    memset(text.p, ' ', text.n);
    m = seek_tokenize(tok, text.p, text.n, false, false, NULL, 0);
    CHECK(m > 0, "a million spaces: %s", seek_last_error());
    free(ids);
    free(text.p);
}

/* Optional: llama.cpp's vocab test files (ggml-vocab-NAME.gguf + .inp/.out from HF), when a
 * directory of them is given in SEEK_LLAMACPP_VOCABS. Not needed for the suite. */
static void test_llamacpp_vocabs(void) {
    const char *dir = getenv("SEEK_LLAMACPP_VOCABS");
    if (!dir) return;
    const char *names[] = {"gpt-2", "starcoder", "deepseek-llm", "deepseek-coder", "llama-spm", "phi-3", "qwen2",
                           "llama-bpe", "deepseek-r1-qwen", "falcon", "mpt", "refact", "command-r"};
    for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", dir, names[v]);
        seek_gguf *g = NULL;
        seek_tokenizer *tok = load_path(path, &g);
        if (!tok) {
            seek_gguf_close(g);
            continue;
        }
        buf_t inp = {0}, out = {0};
        char p2[1100];
        snprintf(p2, sizeof p2, "%s.inp", path);
        bool ok_files = read_file(p2, &inp);
        snprintf(p2, sizeof p2, "%s.out", path);
        ok_files = ok_files && read_file(p2, &out);
        int n_cases = 0, n_bad = 0;
        static const char SEP[] = "\n__ggml_vocab_test__\n";
        size_t ip = 0, op = 0;
        while (ok_files && ip < inp.n && op < out.n) {
            const char *s = inp.p + ip;
            const char *e = memmem(s, inp.n - ip, SEP, strlen(SEP));
            size_t sl = e ? (size_t)(e - s) : inp.n - ip;
            ip += sl + (e ? strlen(SEP) : 0);
            const char *ol = out.p + op;
            const char *nl = memchr(ol, '\n', out.n - op);
            size_t oll = nl ? (size_t)(nl - ol) : out.n - op;
            op += oll + 1;
            int32_t *want, *got;
            int64_t nw = parse_ints(ol, oll, &want);
            int64_t ng = tokenize_all(tok, s, sl, false, false, &got);
            n_cases++;
            if (ng != nw || memcmp(got, want, (size_t)nw * sizeof *got) != 0) {
                if (++n_bad <= 3) {
                    fprintf(stderr, "llama.cpp vocab %s: '%.*s'\n", names[v], (int)sl, s);
                    print_ids("want", want, nw);
                    print_ids("got ", got, ng);
                }
            }
            free(want);
            free(got);
        }
        CHECK(n_bad == 0, "llama.cpp vocab %s: %d of %d differ", names[v], n_bad, n_cases);
        printf("llama.cpp vocab %s: %d cases (%d mismatches)\n", names[v], n_cases, n_bad);
        /* and a corpus fixture made locally for this vocabulary, when there is one */
        snprintf(p2, sizeof p2, "%s.tsv", path);
        FILE *tsv = fopen(p2, "rb");
        if (tsv) {
            fclose(tsv);
            bool spm = strstr(names[v], "spm") || strstr(names[v], "phi");
            check_ids_fixture(tok, p2, names[v], !spm, 1);
        }
        free(inp.p);
        free(out.p);
        seek_tokenizer_free(tok);
        seek_gguf_close(g);
    }
}

int main(void) {
    test_utf8_prefix();
    test_spm();
    test_bad_metadata();
    test_ignore_merges();
    test_pretok_fixture();

    /* SmolLM2: the default model, fetched by the suite before the tests */
    char model[4096];
    bool have_model = seek_default_model_path(model, sizeof model);
    CHECK(have_model, "SmolLM2 GGUF not found at %s (set SEEK_MODEL or run scripts/get-model.sh)", model);
    if (have_model) {
        seek_gguf *g = NULL;
        seek_tokenizer *tok = load_path(model, &g);
        CHECK(tok != NULL, "SmolLM2 tokenizer: %s", seek_last_error());
        if (tok) {
            check_ids_fixture(tok, "tests/fixtures/tokenizer/smollm2.tsv", "smollm2", true, 500);
            test_api_smollm2(tok);
            test_streaming(tok);
            test_speed(tok, "smollm2");
        }
        seek_tokenizer_free(tok);
        seek_gguf_close(g);
    }

    /* DeepSeek-V3: the tokenizer-only GGUF fixture */
    buf_t gz = {0};
    CHECK(read_gz("tests/fixtures/tokenizer/deepseek-v3-vocab.gguf.gz", &gz), "deepseek-v3-vocab.gguf.gz unreadable");
    if (gz.n) {
        seek_gguf *g = NULL;
        seek_tokenizer *tok = NULL;
        CHECK(seek_gguf_parse(&g, gz.p, gz.n) == SEEK_OK, "deepseek gguf: %s", seek_last_error());
        CHECK(g && seek_tokenizer_load(&tok, g) == SEEK_OK, "deepseek tokenizer: %s", seek_last_error());
        if (tok) {
            check_ids_fixture(tok, "tests/fixtures/tokenizer/deepseek-v3.tsv", "deepseek-v3", true, 500);
            test_api_deepseek(tok);
            test_speed(tok, "deepseek-v3");
        }
        seek_tokenizer_free(tok);
        seek_gguf_close(g);
    }
    free(gz.p);

    test_llamacpp_vocabs();
    return check_summary("test_tokenizer");
}
