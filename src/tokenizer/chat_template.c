/* Chat templates (chat_template.h): the family of a Jinja template found by distinctive substrings,
 * and each family's rendering written by hand to match the HF template byte for byte for system /
 * user / assistant messages. Not a Jinja interpreter; tool calls are not rendered. */
#include "tokenizer/chat_template.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable string; `failed` latches on the first allocation failure. */
typedef struct {
    char *s;
    size_t n, cap;
    bool failed;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t len) {
    if (b->failed) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_add(b, s ? s : "", s ? strlen(s) : 0); }

static char *sb_finish(strbuf *b) {
    sb_add(b, "", 0); /* makes an empty result a valid "" */
    if (b->failed) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

static bool role_is(const seek_chat_msg *m, const char *role) { return m->role && strcmp(m->role, role) == 0; }

/* ---- detection ---------------------------------------------------------------------------- */

seek_chat_family seek_chat_detect(const char *t, bool *unknown) {
    bool unk = false;
    seek_chat_family f = SEEK_CHAT_CHATML;
    if (!t || !*t) {
        f = SEEK_CHAT_CHATML;
    } else if (strstr(t, "<｜Assistant｜>") || strstr(t, "<｜User｜>")) {
        /* R1 (and its distills) drop the reasoning of earlier turns: content.split('</think>') */
        f = strstr(t, "</think>") ? SEEK_CHAT_DEEPSEEK_R1 : SEEK_CHAT_DEEPSEEK_V3;
    } else if (strstr(t, "<|start_header_id|>")) {
        f = SEEK_CHAT_LLAMA3;
    } else if (strstr(t, "<|im_start|>")) {
        f = SEEK_CHAT_CHATML;
    } else if (strstr(t, "'User: '") || (strstr(t, "User: ") && strstr(t, "Assistant:"))) {
        f = SEEK_CHAT_DEEPSEEK_LLM;
    } else {
        unk = true;
        fprintf(stderr, "seek: warning: chat template not recognised: using ChatML\n");
    }
    if (unknown) *unknown = unk;
    return f;
}

const char *seek_chat_family_name(seek_chat_family f) {
    switch (f) {
    case SEEK_CHAT_CHATML: return "chatml";
    case SEEK_CHAT_DEEPSEEK_R1: return "deepseek-r1";
    case SEEK_CHAT_DEEPSEEK_V3: return "deepseek-v3";
    case SEEK_CHAT_DEEPSEEK_LLM: return "deepseek-llm";
    case SEEK_CHAT_LLAMA3: return "llama3";
    }
    return "unknown";
}

/* The system prompt a ChatML template writes when the conversation does not start with one:
 * the first literal '<|im_start|>system\n...<|im_end|>' whose middle is plain text (no quote,
 * no expression), with Jinja's string escapes undone. SmolLM2 and Qwen2/2.5 have one. */
char *seek_chat_default_system(const char *t) {
    static const char OPEN[] = "<|im_start|>system";
    static const char CLOSE[] = "<|im_end|>";
    for (const char *p = t ? strstr(t, OPEN) : NULL; p; p = strstr(p + 1, OPEN)) {
        const char *q = p + strlen(OPEN);
        if (*q == '\n') q += 1;
        else if (q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        const char *end = strstr(q, CLOSE);
        if (!end || end == q) continue;
        bool literal = true;
        for (const char *c = q; c < end && literal; c++) {
            if (*c == '\'' || *c == '"' || (c[0] == '{' && (c[1] == '{' || c[1] == '%'))) literal = false;
        }
        if (!literal) continue;
        strbuf b = {0};
        for (const char *c = q; c < end; c++) {
            if (c[0] == '\\' && c + 1 < end) {
                char e = c[1] == 'n' ? '\n' : c[1] == 't' ? '\t' : c[1];
                sb_add(&b, &e, 1);
                c++;
            } else {
                sb_add(&b, c, 1);
            }
        }
        return sb_finish(&b);
    }
    return NULL;
}

/* ---- rendering ---------------------------------------------------------------------------- */

/* Python's str.isspace() for the character at s (length *len set), as Jinja's trim uses it. */
static bool py_space_at(const unsigned char *s, size_t n, size_t *len) {
    *len = 1;
    if (n == 0) return false;
    unsigned char c = s[0];
    if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return true;
    if (c < 0x80) return false;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf && n >= 2) {
        cp = ((uint32_t)(c & 0x1f) << 6) | (s[1] & 0x3f);
        *len = 2;
    } else if (c >= 0xe0 && c <= 0xef && n >= 3) {
        cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
        *len = 3;
    } else {
        return false;
    }
    return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Appends s with leading and trailing whitespace removed (Jinja's |trim). */
static void sb_add_trimmed(strbuf *b, const char *s) {
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)u), l;
    size_t start = 0, end = n;
    while (start < end && py_space_at(u + start, end - start, &l)) start += l;
    /* from the right: find the last character that is not whitespace */
    size_t last = start;
    for (size_t i = start; i < end;) {
        if (!py_space_at(u + i, end - i, &l)) last = i + l;
        i += l;
    }
    sb_add(b, (const char *)u + start, last - start);
}

static const char DS_EOS[] = "<｜end▁of▁sentence｜>";

char *seek_chat_apply(seek_chat_family f, const seek_chat_msg *msgs, size_t n, bool add_generation_prompt,
                      const char *bos_text) {
    strbuf b = {0};
    switch (f) {
    case SEEK_CHAT_CHATML:
        for (size_t i = 0; i < n; i++) {
            sb_puts(&b, "<|im_start|>");
            sb_puts(&b, msgs[i].role);
            sb_puts(&b, "\n");
            sb_puts(&b, msgs[i].content);
            sb_puts(&b, "<|im_end|>\n");
        }
        if (add_generation_prompt) sb_puts(&b, "<|im_start|>assistant\n");
        break;

    case SEEK_CHAT_DEEPSEEK_R1:
    case SEEK_CHAT_DEEPSEEK_V3: {
        /* bos, then the system prompt: R1 keeps the last system message, V3 joins them all */
        sb_puts(&b, bos_text);
        bool first_sys = true;
        const char *last_sys = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!role_is(&msgs[i], "system")) continue;
            if (f == SEEK_CHAT_DEEPSEEK_V3) {
                if (!first_sys) sb_puts(&b, "\n\n");
                sb_puts(&b, msgs[i].content);
            }
            first_sys = false;
            last_sys = msgs[i].content;
        }
        if (f == SEEK_CHAT_DEEPSEEK_R1) sb_puts(&b, last_sys);
        for (size_t i = 0; i < n; i++) {
            const char *c = msgs[i].content ? msgs[i].content : "";
            if (role_is(&msgs[i], "user")) {
                sb_puts(&b, "<｜User｜>");
                sb_puts(&b, c);
            } else if (role_is(&msgs[i], "assistant")) {
                if (f == SEEK_CHAT_DEEPSEEK_R1) { /* earlier reasoning is dropped: keep what follows the last </think> */
                    for (const char *p = strstr(c, "</think>"); p; p = strstr(p + 1, "</think>")) c = p + strlen("</think>");
                }
                sb_puts(&b, "<｜Assistant｜>");
                sb_puts(&b, c);
                sb_puts(&b, DS_EOS);
            }
        }
        if (add_generation_prompt) sb_puts(&b, f == SEEK_CHAT_DEEPSEEK_R1 ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>");
        break;
    }

    case SEEK_CHAT_DEEPSEEK_LLM:
        sb_puts(&b, bos_text);
        for (size_t i = 0; i < n; i++) {
            if (role_is(&msgs[i], "user")) {
                sb_puts(&b, "User: ");
                sb_puts(&b, msgs[i].content);
                sb_puts(&b, "\n\n");
            } else if (role_is(&msgs[i], "assistant")) {
                sb_puts(&b, "Assistant: ");
                sb_puts(&b, msgs[i].content);
                sb_puts(&b, DS_EOS);
            } else if (role_is(&msgs[i], "system")) {
                sb_puts(&b, msgs[i].content);
                sb_puts(&b, "\n\n");
            }
        }
        if (add_generation_prompt) sb_puts(&b, "Assistant:");
        break;

    case SEEK_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            if (i == 0) sb_puts(&b, bos_text);
            sb_puts(&b, "<|start_header_id|>");
            sb_puts(&b, msgs[i].role);
            sb_puts(&b, "<|end_header_id|>\n\n");
            sb_add_trimmed(&b, msgs[i].content);
            sb_puts(&b, "<|eot_id|>");
        }
        if (add_generation_prompt) sb_puts(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    }
    return sb_finish(&b);
}

char *seek_chat_render(const char *template_text, const seek_chat_msg *msgs, size_t n, bool add_generation_prompt,
                       const char *bos_text) {
    seek_chat_family f = seek_chat_detect(template_text, NULL);
    char *sys = f == SEEK_CHAT_CHATML ? seek_chat_default_system(template_text) : NULL;
    if (!sys || n == 0 || role_is(&msgs[0], "system")) {
        free(sys);
        return seek_chat_apply(f, msgs, n, add_generation_prompt, bos_text);
    }
    seek_chat_msg *with = malloc((n + 1) * sizeof *with);
    char *out = NULL;
    if (with) {
        with[0] = (seek_chat_msg){"system", sys};
        memcpy(with + 1, msgs, n * sizeof *msgs);
        out = seek_chat_apply(f, with, n + 1, add_generation_prompt, bos_text);
    }
    free(with);
    free(sys);
    return out;
}
