/* The tokenizer's public side (tokenizer.h): loading the vocabulary from GGUF metadata, finding
 * special tokens in raw text (leftmost-longest, as HF's added-token matcher), dispatching plain
 * text to bpe.c / spm.c, and turning ids back into bytes. Not for chat templates. */
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <utf8proc.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tok_internal.h"

/* ---- loading ------------------------------------------------------------------------------ */

static int32_t get_id(const seek_gguf *g, const char *key, int32_t n_vocab) {
    uint32_t v;
    if (!seek_gguf_get_u32(g, key, &v) || v >= (uint32_t)n_vocab) return -1;
    return (int32_t)v;
}

static bool get_flag(const seek_gguf *g, const char *key, bool dflt) {
    bool v;
    return seek_gguf_get_bool(g, key, &v) ? v : dflt;
}

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xc0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads "<0xAB>" as 0xAB, or -1. */
static int parse_byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Writes the bytes token `id` decodes to into out (at most 4 * len bytes) and returns the count. */
static size_t decode_token_text(const seek_tokenizer *t, int32_t id, char *out) {
    const char *s = t->text + t->text_off[id];
    size_t len = t->text_len[id], n = 0;
    uint8_t type = t->type[id];
    if (type == TOK_TYPE_CONTROL || type == TOK_TYPE_USER_DEFINED || type == TOK_TYPE_UNKNOWN ||
        type == TOK_TYPE_UNUSED) {
        memcpy(out, s, len); /* written as themselves */
        return len;
    }
    if (t->kind == TOK_KIND_SPM) {
        int b = type == TOK_TYPE_BYTE ? parse_byte_token(s, len) : -1;
        if (b >= 0) {
            out[0] = (char)b;
            return 1;
        }
        for (size_t i = 0; i < len;) {
            if (i + 3 <= len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                out[n++] = ' ';
                i += 3;
            } else {
                out[n++] = s[i++];
            }
        }
        return n;
    }
    /* byte-level: each GPT-2 unicode character back to its byte; other characters stay as written */
    for (size_t i = 0; i < len;) {
        size_t l = tok_utf8_valid_len((const unsigned char *)s + i, len - i);
        if (l == 0) {
            out[n++] = s[i++];
            continue;
        }
        uint32_t cp = (unsigned char)s[i] & (l == 1 ? 0x7f : l == 2 ? 0x1f : l == 3 ? 0x0f : 0x07);
        for (size_t k = 1; k < l; k++) cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
        int b = tok_cp_to_byte(cp);
        if (b >= 0) {
            out[n++] = (char)b;
        } else {
            memcpy(out + n, s + i, l);
            n += l;
        }
        i += l;
    }
    return n;
}

typedef struct {
    const char *s;
    uint32_t len;
    int32_t id;
} special_key;

static int cmp_special(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static seek_status build_special_set(seek_tokenizer *t, tok_special_set *set, bool user_only) {
    memset(set, 0, sizeof *set);
    size_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t ty = t->type[id];
        bool want = ty == TOK_TYPE_USER_DEFINED || (!user_only && (ty == TOK_TYPE_CONTROL || ty == TOK_TYPE_UNKNOWN));
        if (want && t->text_len[id] > 0) n++;
    }
    if (n == 0) return SEEK_OK;
    set->ids = malloc(n * sizeof *set->ids);
    special_key *keys = malloc(n * sizeof *keys);
    if (!set->ids || !keys) {
        free(keys);
        return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for special tokens");
    }
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t ty = t->type[id];
        bool want = ty == TOK_TYPE_USER_DEFINED || (!user_only && (ty == TOK_TYPE_CONTROL || ty == TOK_TYPE_UNKNOWN));
        if (want && t->text_len[id] > 0) {
            keys[set->n++] = (special_key){t->text + t->text_off[id], t->text_len[id], id};
            set->first_byte[(unsigned char)t->text[t->text_off[id]]] = true;
        }
    }
    qsort(keys, set->n, sizeof *keys, cmp_special);
    for (size_t i = 0; i < set->n; i++) set->ids[i] = keys[i].id;
    free(keys);
    return SEEK_OK;
}

/* The names llama.cpp also treats as end-of-generation tokens. */
static const char *const EOG_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<|eom_id|>",
    "<｜end▁of▁sentence｜>", "<|EOT|>", "<EOT>", "_<EOT>", "<｜EOT｜>", "<|return|>", "<|call|>",
};

static seek_status load_vocab(seek_tokenizer *t, const seek_gguf *g) {
    const gguf_kv *tokens = seek_gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING);
    if (!tokens) return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: tokenizer.ggml.tokens is missing or not a string array");
    if (tokens->arr_n == 0 || tokens->arr_n > INT32_MAX) {
        return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: tokenizer.ggml.tokens has %llu entries",
                           (unsigned long long)tokens->arr_n);
    }
    int32_t n = t->n_vocab = (int32_t)tokens->arr_n;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (tokens->arr_strs[i].len > UINT32_MAX / 4) {
            return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: token %d is %llu bytes long", i,
                               (unsigned long long)tokens->arr_strs[i].len);
        }
        total += tokens->arr_strs[i].len + 1;
    }
    t->text = malloc(total);
    t->text_off = malloc(n * sizeof *t->text_off);
    t->text_len = malloc(n * sizeof *t->text_len);
    t->type = malloc(n);
    t->eog = calloc(n, sizeof *t->eog);
    if (!t->text || !t->text_off || !t->text_len || !t->type || !t->eog || !tok_strmap_init(&t->vocab, n)) {
        return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for %d tokens", n);
    }
    size_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        gguf_str s = tokens->arr_strs[i];
        if (s.len) memcpy(t->text + off, s.ptr, s.len);
        t->text[off + s.len] = '\0';
        t->text_off[i] = off;
        t->text_len[i] = (uint32_t)s.len;
        off += s.len + 1;
    }

    const gguf_kv *types = seek_gguf_find(g, "tokenizer.ggml.token_type");
    if (types && (types->type != GGUF_TYPE_ARRAY || types->arr_n != (uint64_t)n || types->arr_type >= GGUF_TYPE_COUNT ||
                  types->arr_type == GGUF_TYPE_STRING || types->arr_type == GGUF_TYPE_ARRAY)) {
        return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: tokenizer.ggml.token_type must be an integer array of %d entries", n);
    }
    for (int32_t i = 0; i < n; i++) {
        int64_t ty = types ? gguf_arr_i64(types, (uint64_t)i) : TOK_TYPE_NORMAL;
        t->type[i] = (ty >= TOK_TYPE_NORMAL && ty <= TOK_TYPE_BYTE) ? (uint8_t)ty : TOK_TYPE_NORMAL;
    }
    /* the first id wins when two entries have the same text (HF keeps one too) */
    for (int32_t i = n - 1; i >= 0; i--) {
        if (!tok_strmap_put(&t->vocab, t->text + t->text_off[i], t->text_len[i], i)) {
            return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for the vocabulary map");
        }
    }

    const gguf_kv *scores = seek_gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32);
    if (scores && scores->arr_n != (uint64_t)n) {
        return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: tokenizer.ggml.scores has %llu entries for %d tokens",
                           (unsigned long long)scores->arr_n, n);
    }
    if (scores && t->kind == TOK_KIND_SPM) {
        t->score = malloc(n * sizeof *t->score);
        if (!t->score) return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for scores");
        for (int32_t i = 0; i < n; i++) t->score[i] = (float)gguf_arr_f64(scores, (uint64_t)i);
    }
    return SEEK_OK;
}

static seek_status load_merges(seek_tokenizer *t, const seek_gguf *g) {
    const gguf_kv *merges = seek_gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING);
    size_t n = merges ? merges->arr_n : 0;
    if (n > INT32_MAX) return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: %zu merges", n);
    if (!tok_pairmap_init(&t->merges, n)) return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for merges");
    char *buf = NULL;
    size_t cap = 0;
    for (size_t r = 0; r < n; r++) {
        gguf_str m = merges->arr_strs[r];
        /* "left right": split at the first space after the first byte (a token may start with one) */
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp) {
            free(buf);
            return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: merge %zu ('%.*s') has no space", r, (int)(m.len > 64 ? 64 : m.len),
                               m.ptr);
        }
        size_t ll = (size_t)(sp - m.ptr), rl = m.len - ll - 1;
        int32_t left = tok_strmap_get(&t->vocab, m.ptr, ll), right = tok_strmap_get(&t->vocab, sp + 1, rl);
        if (ll + rl > cap) {
            cap = 2 * (ll + rl);
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for merges");
            }
            buf = nb;
        }
        memcpy(buf, m.ptr, ll);
        memcpy(buf + ll, sp + 1, rl);
        int32_t merged = tok_strmap_get(&t->vocab, buf, ll + rl);
        if (left < 0 || right < 0 || merged < 0) continue; /* a merge into nothing can never apply */
        /* a repeated pair keeps its last rank, as HF's merge map does */
        if (!tok_pairmap_put(&t->merges, left, right, (int32_t)r, merged)) {
            free(buf);
            return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for merges");
        }
    }
    free(buf);
    for (int b = 0; b < 256; b++) {
        char c[4];
        size_t l = put_utf8(c, tok_byte_to_cp((uint8_t)b));
        t->byte_id[b] = tok_strmap_get(&t->vocab, c, l);
    }
    return SEEK_OK;
}

static seek_status load_pieces(seek_tokenizer *t) {
    size_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += 4 * (size_t)t->text_len[i];
    t->piece = malloc(total + 1);
    t->piece_off = malloc(t->n_vocab * sizeof *t->piece_off);
    t->piece_len = malloc(t->n_vocab * sizeof *t->piece_len);
    if (!t->piece || !t->piece_off || !t->piece_len) return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory");
    size_t off = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t l = decode_token_text(t, i, t->piece + off);
        t->piece_off[i] = off;
        t->piece_len[i] = (uint32_t)l;
        off += l;
    }
    char *shrunk = realloc(t->piece, off + 1);
    if (shrunk) t->piece = shrunk;
    for (int b = 0; b < 256; b++) t->byte_token[b] = -1;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (t->type[i] != TOK_TYPE_BYTE) continue;
        int b = parse_byte_token(t->text + t->text_off[i], t->text_len[i]);
        if (b >= 0 && t->byte_token[b] < 0) t->byte_token[b] = i;
    }
    return SEEK_OK;
}

seek_status seek_tokenizer_load(seek_tokenizer **out, const seek_gguf *g) {
    *out = NULL;
    gguf_str model;
    if (!seek_gguf_get_str(g, "tokenizer.ggml.model", &model)) {
        return seek_errorf(SEEK_ERR_FORMAT, "tokenizer: tokenizer.ggml.model is missing");
    }
    tok_kind kind;
    if (gguf_str_eq(model, "gpt2")) kind = TOK_KIND_BPE;
    else if (gguf_str_eq(model, "llama")) kind = TOK_KIND_SPM;
    else {
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "tokenizer: tokenizer.ggml.model '%.*s' is not supported (gpt2, llama)",
                           (int)(model.len > 64 ? 64 : model.len), model.ptr);
    }
    seek_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory");
    t->kind = kind;
    seek_status st = load_vocab(t, g);
    if (st == SEEK_OK && kind == TOK_KIND_BPE) st = load_merges(t, g);
    if (st == SEEK_OK) st = load_pieces(t);
    if (st == SEEK_OK) st = build_special_set(t, &t->special_all, false);
    if (st == SEEK_OK) st = build_special_set(t, &t->special_user, true);
    if (st == SEEK_OK && kind == TOK_KIND_BPE) {
        gguf_str pre;
        char name[64] = "";
        if (seek_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) gguf_str_copy(pre, name, sizeof name);
        bool known;
        st = tok_pretok_init(&t->pretok, name[0] ? name : NULL, &known, &t->ignore_merges);
        t->nfc = !strcmp(name, "qwen2") || !strcmp(name, "deepseek-r1-qwen");
        if (st == SEEK_OK && !known && name[0]) {
            fprintf(stderr, "seek: warning: unknown tokenizer.ggml.pre '%s': using the gpt2 split\n", name);
        } else if (st == SEEK_OK && !known) {
            fprintf(stderr, "seek: warning: no tokenizer.ggml.pre: using the gpt2 split\n");
        }
    }
    if (st != SEEK_OK) {
        seek_tokenizer_free(t);
        return st;
    }
    int32_t n = t->n_vocab;
    t->bos = get_id(g, "tokenizer.ggml.bos_token_id", n);
    t->eos = get_id(g, "tokenizer.ggml.eos_token_id", n);
    t->unk = get_id(g, "tokenizer.ggml.unknown_token_id", n);
    t->pad = get_id(g, "tokenizer.ggml.padding_token_id", n);
    t->eot = get_id(g, "tokenizer.ggml.eot_token_id", n);
    t->eom = get_id(g, "tokenizer.ggml.eom_token_id", n);
    t->add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", kind == TOK_KIND_SPM) && t->bos >= 0;
    t->add_eos = get_flag(g, "tokenizer.ggml.add_eos_token", false) && t->eos >= 0;
    t->add_space_prefix = get_flag(g, "tokenizer.ggml.add_space_prefix", kind == TOK_KIND_SPM);
    if (t->eos >= 0) t->eog[t->eos] = true;
    if (t->eot >= 0) t->eog[t->eot] = true;
    if (t->eom >= 0) t->eog[t->eom] = true;
    for (size_t i = 0; i < sizeof EOG_TEXTS / sizeof EOG_TEXTS[0]; i++) {
        int32_t id = seek_tokenizer_find(t, EOG_TEXTS[i]);
        if (id >= 0 && t->type[id] != TOK_TYPE_NORMAL) t->eog[id] = true;
    }
    *out = t;
    return SEEK_OK;
}

void seek_tokenizer_free(seek_tokenizer *t) {
    if (!t) return;
    free(t->text);
    free(t->text_off);
    free(t->text_len);
    free(t->piece);
    free(t->piece_off);
    free(t->piece_len);
    free(t->type);
    free(t->score);
    free(t->eog);
    free(t->special_all.ids);
    free(t->special_user.ids);
    tok_strmap_free(&t->vocab);
    tok_pairmap_free(&t->merges);
    tok_pretok_free(t->pretok);
    free(t);
}

/* ---- encoding ----------------------------------------------------------------------------- */

/* The longest special token that text[0..len) starts with, or -1: a search that narrows the
 * sorted token list one byte at a time. */
static int32_t match_special(const seek_tokenizer *t, const tok_special_set *set, const unsigned char *s, size_t len) {
    size_t lo = 0, hi = set->n;
    int32_t best = -1;
    for (size_t d = 0; d < len && lo < hi; d++) {
        /* entries of length d sort first in the range; they cannot extend further */
        while (lo < hi && t->text_len[set->ids[lo]] == d) lo++;
        unsigned char c = s[d];
        size_t a = lo, b = hi; /* first entry with byte d >= c */
        while (a < b) {
            size_t m = a + (b - a) / 2;
            if ((unsigned char)t->text[t->text_off[set->ids[m]] + d] < c) a = m + 1;
            else b = m;
        }
        size_t e = a, f = hi; /* first entry with byte d > c */
        while (e < f) {
            size_t m = e + (f - e) / 2;
            if ((unsigned char)t->text[t->text_off[set->ids[m]] + d] <= c) e = m + 1;
            else f = m;
        }
        lo = a;
        hi = e;
        if (lo < hi && t->text_len[set->ids[lo]] == d + 1) best = set->ids[lo];
    }
    return best;
}

static seek_status encode_plain(const seek_tokenizer *t, const char *text, size_t len, bool first, tok_sink *out) {
    if (t->kind != TOK_KIND_BPE) return tok_spm_encode(t, text, len, first, out);
    /* Qwen2's tokenizer.json normalizes each piece between special tokens to NFC first (HF
     * tokenizers does; llama.cpp does not). ASCII is already NFC; invalid UTF-8 is kept as is. */
    bool ascii = true;
    for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)text[i] < 0x80;
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t n = !t->nfc || ascii ? -1 : utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &nfc,
                                                           UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    seek_status st = n >= 0 ? tok_bpe_encode(t, (const char *)nfc, (size_t)n, out) : tok_bpe_encode(t, text, len, out);
    free(nfc);
    return st;
}

int64_t seek_tokenize(const seek_tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                      int32_t *ids, int64_t max_ids) {
    if (!t || (!text && len) || max_ids < 0 || (!ids && max_ids > 0)) {
        seek_errorf(SEEK_ERR_INVALID, "tokenizer: bad arguments to seek_tokenize");
        return -1;
    }
    tok_sink out = {ids, max_ids, 0};
    if (add_special && t->add_bos) tok_sink_push(&out, t->bos);
    const tok_special_set *set = parse_special ? &t->special_all : &t->special_user;
    const unsigned char *s = (const unsigned char *)text;
    size_t start = 0;
    bool first = true;
    for (size_t i = 0; i < len;) {
        int32_t id = set->n && set->first_byte[s[i]] ? match_special(t, set, s + i, len - i) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        if (encode_plain(t, text + start, i - start, first, &out) != SEEK_OK) return -1;
        tok_sink_push(&out, id);
        i += t->text_len[id];
        start = i;
        first = true; /* SentencePiece prefixes a space after a special token too (llama.cpp) */
    }
    if (encode_plain(t, text + start, len - start, first, &out) != SEEK_OK) return -1;
    if (add_special && t->add_eos) tok_sink_push(&out, t->eos);
    return out.n;
}

/* ---- decoding ----------------------------------------------------------------------------- */

static bool renders(const seek_tokenizer *t, int32_t id, bool render_special) {
    uint8_t ty = t->type[id];
    return render_special || !(ty == TOK_TYPE_CONTROL || ty == TOK_TYPE_UNKNOWN || ty == TOK_TYPE_UNUSED);
}

int32_t seek_token_to_piece(const seek_tokenizer *t, int32_t id, char *buf, int32_t n, bool render_special) {
    if (!t || id < 0 || id >= t->n_vocab) return -1;
    if (!renders(t, id, render_special)) return 0;
    uint32_t l = t->piece_len[id];
    if (n > 0 && buf) memcpy(buf, t->piece + t->piece_off[id], (uint32_t)n < l ? (uint32_t)n : l);
    return (int32_t)l;
}

int64_t seek_detokenize(const seek_tokenizer *t, const int32_t *ids, int64_t n_ids, char *buf, int64_t n,
                        bool render_special) {
    if (!t || n_ids < 0 || (!ids && n_ids)) return -1;
    int64_t total = 0;
    bool strip = t->kind == TOK_KIND_SPM && t->add_space_prefix; /* HF's Strip(' ', 1, 0) on the first piece */
    for (int64_t i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab) return -1;
        if (!renders(t, id, render_special)) continue;
        const char *p = t->piece + t->piece_off[id];
        uint32_t l = t->piece_len[id];
        if (l == 0) continue;
        if (strip && p[0] == ' ') {
            p++;
            l--;
        }
        strip = false;
        for (uint32_t k = 0; k < l; k++, total++) {
            if (total < n && buf) buf[total] = p[k];
        }
    }
    return total;
}

/* ---- lookups ------------------------------------------------------------------------------ */

int32_t seek_tokenizer_n_vocab(const seek_tokenizer *t) { return t->n_vocab; }
int32_t seek_tokenizer_bos(const seek_tokenizer *t) { return t->bos; }
int32_t seek_tokenizer_eos(const seek_tokenizer *t) { return t->eos; }
bool seek_tokenizer_add_bos(const seek_tokenizer *t) { return t->add_bos; }
bool seek_tokenizer_add_eos(const seek_tokenizer *t) { return t->add_eos; }

bool seek_tokenizer_is_eog(const seek_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab && t->eog[id]; }

int32_t seek_tokenizer_find(const seek_tokenizer *t, const char *text) {
    return text ? tok_strmap_get(&t->vocab, text, strlen(text)) : -1;
}

const char *seek_tokenizer_text(const seek_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->text + t->text_off[id] : NULL;
}

size_t seek_utf8_complete_prefix(const char *buf, size_t n) {
    const unsigned char *s = (const unsigned char *)buf;
    /* look back at most 3 bytes for the lead byte of a sequence that is still missing bytes */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = s[n - back];
        if ((c & 0xc0) == 0x80) continue; /* continuation: keep looking for its lead */
        size_t need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 1;
        if (c >= 0xf5) need = 1;
        return need > back ? n - back : n;
    }
    return n;
}

seek_status seek_tokenize_all(const seek_tokenizer *tok, const char *text, size_t len, bool add_special, bool parse_special,
                              int32_t **ids, int64_t *n) {
    int64_t cap = (int64_t)len + 8;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *buf = malloc((size_t)cap * sizeof(int32_t));
        if (!buf) return seek_errorf(SEEK_ERR_NOMEM, "out of memory for %lld token ids", (long long)cap);
        const int64_t k = seek_tokenize(tok, text, len, add_special, parse_special, buf, cap);
        if (k < 0) {
            free(buf);
            return SEEK_ERR_INVALID; /* the tokenizer left its message */
        }
        if (k <= cap) {
            *ids = buf;
            *n = k;
            return SEEK_OK;
        }
        free(buf);
        cap = k;
    }
    return seek_errorf(SEEK_ERR_INVALID, "the tokenizer gave two different token counts for the text");
}
