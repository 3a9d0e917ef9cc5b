/* Pre-tokenizer regex splits (see pretok.h): the regexes of the HF tokenizer.json files, non-ASCII
 * written as \x{...} so the source survives Unicode normalization (NFC would corrupt the
 * deepseek-llm class). Not for the BPE merges or special tokens. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretok.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define PRETOK_MAX_REGEX 6

/* GPT-2's split, as the ByteLevel pre-tokenizer with use_regex = true runs it. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
/* Llama-3 and Qwen2 differ only in how many digits stay together. */
#define RE_LLAMA3_LIKE(digits)                                                                       \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" digits                       \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* DeepSeek-LLM/Coder's "CJK" class as the tokenizer.json files write it: U+4E00-U+9FA5, U+0800-U+4E00
 * (sic) and Hangul U+AC00-U+D7FF. */
#define RE_CJK_DSLLM "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

typedef struct {
    const char *name;            /* canonical tokenizer.ggml.pre value */
    const char *aliases;         /* other names, '|'-separated and '|'-terminated */
    bool ignore_merges;
    const char *regex[PRETOK_MAX_REGEX]; /* applied one after another; NULL-terminated */
} pretok_def;

static const pretok_def PRETOK_DEFS[] = {
    {"gpt2", "gpt-2|default|phi-2|jina-es|jina-de|jina-v2-es|jina-v2-de|mpt|olmo|jais|", false, {RE_GPT2}},
    /* tokenizer.json: Sequence[Digits(individual_digits), ByteLevel(use_regex)] */
    {"smollm", "starcoder|refact|command-r|codeshell|exaone|minerva-7b|", false, {"\\p{N}", RE_GPT2}},
    {"llama-bpe", "llama3|llama-v3|falcon3|", true, {RE_LLAMA3_LIKE("{1,3}")}},
    {"dbrx", "smaug-bpe|chatglm-bpe|", false, {RE_LLAMA3_LIKE("{1,3}")}},
    /* The qwen2 tokenizer.json also has an NFC normalizer: tokenizer.c applies it (utf8proc). */
    {"qwen2", "deepseek-r1-qwen|stablelm2|megrez|", false, {RE_LLAMA3_LIKE("")}},
    {"deepseek-llm", "", false, {
        "[\\r\\n]",
        "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
        "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"
        "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"
        "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
        "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
        "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
        "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"
        "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
        "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
        "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
        "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
        "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
        "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
        "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
        "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
        "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
        "\\s+$",
        RE_CJK_DSLLM,
        "\\p{N}+",
    }},
    {"deepseek-coder", "", false, {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK_DSLLM, "\\p{N}"}},
    {"deepseek-v3", "", false, {
        "\\p{N}{1,3}",
        /* CJK U+4E00-U+9FA5, Hiragana, Katakana */
        "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
        "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    }},
};

struct tok_pretok {
    const pretok_def *def;
    int n_regex;
    pcre2_code *code[PRETOK_MAX_REGEX];
};

static bool name_in_aliases(const char *aliases, const char *name) {
    size_t n = strlen(name);
    for (const char *p = aliases; *p;) {
        const char *bar = strchr(p, '|');
        if (!bar) break;
        if ((size_t)(bar - p) == n && memcmp(p, name, n) == 0) return true;
        p = bar + 1;
    }
    return false;
}

seek_status tok_pretok_init(tok_pretok **out, const char *name, bool *known, bool *ignore_merges) {
    *out = NULL;
    const pretok_def *def = NULL;
    size_t n_defs = sizeof PRETOK_DEFS / sizeof PRETOK_DEFS[0];
    for (size_t i = 0; name && i < n_defs && !def; i++) {
        if (strcmp(PRETOK_DEFS[i].name, name) == 0 || name_in_aliases(PRETOK_DEFS[i].aliases, name)) {
            def = &PRETOK_DEFS[i];
        }
    }
    *known = def != NULL;
    if (!def) def = &PRETOK_DEFS[0];
    *ignore_merges = def->ignore_merges;

    tok_pretok *p = calloc(1, sizeof *p);
    if (!p) return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for the pre-tokenizer");
    p->def = def;
    for (int i = 0; i < PRETOK_MAX_REGEX && def->regex[i]; i++) {
        int err;
        PCRE2_SIZE err_off;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)def->regex[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                                         &err_off, NULL);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            tok_pretok_free(p);
            return seek_errorf(SEEK_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer '%s' regex %d does not compile at %zu: %s",
                               def->name, i, (size_t)err_off, (const char *)msg);
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* optional: pcre2_match falls back to the interpreter */
        p->code[p->n_regex++] = code;
    }
    *out = p;
    return SEEK_OK;
}

void tok_pretok_free(tok_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n_regex; i++) pcre2_code_free(p->code[i]);
    free(p);
}

const char *tok_pretok_name(const tok_pretok *p) { return p->def->name; }

size_t tok_utf8_valid_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* A growable span list. */
typedef struct {
    tok_span *v;
    size_t n, cap;
} span_vec;

static bool span_push(span_vec *sv, size_t off, size_t len) {
    if (len == 0) return true;
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? 2 * sv->cap : 64;
        tok_span *v = realloc(sv->v, cap * sizeof *v);
        if (!v) return false;
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = (tok_span){off, len};
    return true;
}

/* Splits span `in` by one regex, keeping both matches and the gaps between them (Isolated). */
static seek_status split_one(const pcre2_code *code, pcre2_match_data *md, const char *text, tok_span in,
                             span_vec *out) {
    PCRE2_SPTR subject = (PCRE2_SPTR)(text + in.off);
    size_t pos = 0, from = 0;
    while (from < in.len) {
        int rc = pcre2_match(code, subject, in.len, from, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
            rc = pcre2_match(code, subject, in.len, from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        }
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return seek_errorf(SEEK_ERR_INVALID, "tokenizer: pre-tokenizer match failed: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) { /* an empty match splits nothing: look again one character later */
            size_t step = tok_utf8_valid_len(subject + ms, in.len - ms);
            from = ms + (step ? step : 1);
            continue;
        }
        if (!span_push(out, in.off + pos, ms - pos) || !span_push(out, in.off + ms, me - ms)) {
            return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory splitting text");
        }
        pos = from = me;
    }
    if (!span_push(out, in.off + pos, in.len - pos)) {
        return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory splitting text");
    }
    return SEEK_OK;
}

/* Runs the regex sequence over one valid UTF-8 stretch, appending its pieces to out. */
static seek_status split_valid(const tok_pretok *p, pcre2_match_data *md, const char *text, tok_span stretch,
                               span_vec *out) {
    span_vec cur = {0}, next = {0};
    seek_status st = SEEK_OK;
    if (!span_push(&cur, stretch.off, stretch.len)) {
        st = seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory splitting text");
        goto done;
    }
    for (int r = 0; r < p->n_regex; r++) {
        next.n = 0;
        for (size_t i = 0; i < cur.n; i++) {
            st = split_one(p->code[r], md, text, cur.v[i], &next);
            if (st != SEEK_OK) goto done;
        }
        span_vec t = cur;
        cur = next;
        next = t;
    }
    for (size_t i = 0; i < cur.n; i++) {
        if (!span_push(out, cur.v[i].off, cur.v[i].len)) {
            st = seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory splitting text");
            goto done;
        }
    }
done:
    free(cur.v);
    free(next.v);
    return st;
}

seek_status tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_span **spans, size_t *n_spans) {
    *spans = NULL;
    *n_spans = 0;
    span_vec out = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL); /* only the whole match is read */
    if (!md) return seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory for regex match data");
    const unsigned char *s = (const unsigned char *)text;
    seek_status st = SEEK_OK;
    size_t i = 0;
    while (i < len && st == SEEK_OK) {
        size_t start = i;
        bool valid = tok_utf8_valid_len(s + i, len - i) > 0;
        while (i < len) { /* extend the run while validity stays the same */
            size_t l = tok_utf8_valid_len(s + i, len - i);
            if ((l > 0) != valid) break;
            i += l ? l : 1;
        }
        tok_span run = {start, i - start};
        if (valid) st = split_valid(p, md, text, run, &out);
        else if (!span_push(&out, run.off, run.len)) st = seek_errorf(SEEK_ERR_NOMEM, "tokenizer: out of memory");
    }
    pcre2_match_data_free(md);
    if (st != SEEK_OK) {
        free(out.v);
        return st;
    }
    *spans = out.v;
    *n_spans = out.n;
    return SEEK_OK;
}
