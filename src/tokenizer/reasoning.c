/* The reasoning filter (reasoning.h): bytes go through a tag matcher that holds back a partial
 * <think> / </think>; decided bytes are written according to the state and the mode. Presentation
 * only: the text itself (for the chat history) is kept by the caller, unfiltered. */
#include "tokenizer/reasoning.h"

#include <string.h>

static void out_drain(seek_reasoning *r) {
    if (r->n_out) r->sink(r->user, r->out, r->n_out);
    r->n_out = 0;
}

static void out_write(seek_reasoning *r, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (r->n_out == sizeof r->out) out_drain(r);
        r->out[r->n_out++] = p[i];
    }
}

static void out_str(seek_reasoning *r, const char *s) { out_write(r, s, strlen(s)); }

/* A decided byte of reasoning. */
static void text_reasoning(seek_reasoning *r, char c) {
    if (r->mode == SEEK_REASONING_HIDE) return;
    if (r->mode == SEEK_REASONING_DIM) {
        if (!r->dim_on) out_str(r, SEEK_ANSI_DIM);
        r->dim_on = true;
        r->sep_owed = true;
        r->last = c;
    }
    out_write(r, &c, 1);
}

/* A decided byte of answer. After </think> (dim, hide) blank lines are dropped until the first
 * other byte; spaces and tabs before it on its own line are kept (indentation). */
static void text_answer(seek_reasoning *r, char c) {
    if (r->trim) {
        if (c == '\n' || c == '\r') {
            r->n_ws = 0; /* a blank line: dropped */
            return;
        }
        if ((c == ' ' || c == '\t') && r->n_ws < sizeof r->ws) {
            r->ws[r->n_ws++] = c;
            return;
        }
        r->trim = false;
    }
    if (r->sep_owed) { /* dim: one blank line between the reasoning and the answer */
        out_str(r, r->last == '\n' ? "\n" : "\n\n");
        r->sep_owed = false;
    }
    out_write(r, r->ws, r->n_ws);
    r->n_ws = 0;
    out_write(r, &c, 1);
}

static void text(seek_reasoning *r, char c) {
    if (r->reasoning) text_reasoning(r, c);
    else text_answer(r, c);
}

/* The tag that ends the current state has been read whole. */
static void tag_matched(seek_reasoning *r) {
    bool closing = r->reasoning;
    r->reasoning = !closing;
    if (r->mode == SEEK_REASONING_PLAIN) {
        out_str(r, closing ? SEEK_THINK_CLOSE : SEEK_THINK_OPEN);
        return;
    }
    if (closing) {
        if (r->dim_on) out_str(r, SEEK_ANSI_RESET);
        r->dim_on = false;
        r->trim = true;
    } else { /* blanks held after an earlier </think> lead into reasoning now: dropped */
        r->trim = false;
        r->n_ws = 0;
    }
}

static void feed(seek_reasoning *r, char c) {
    const char *tag = r->reasoning ? SEEK_THINK_CLOSE : SEEK_THINK_OPEN;
    if (c == tag[r->n_tag]) {
        if (++r->n_tag == strlen(tag)) {
            r->n_tag = 0;
            tag_matched(r);
        }
        return;
    }
    if (r->n_tag == 0) {
        text(r, c);
        return;
    }
    /* Mismatch: the first held byte is text; the other held bytes and c are looked at again
     * (they may start the tag; with '<' only first in both tags they never do, but this does not
     * rely on it). Nothing here can complete a tag, so the state cannot change under us. */
    size_t n = r->n_tag;
    r->n_tag = 0;
    text(r, tag[0]);
    for (size_t i = 1; i < n; i++) feed(r, tag[i]);
    feed(r, c);
}

void seek_reasoning_init(seek_reasoning *r, seek_reasoning_mode mode, bool in_reasoning, seek_reasoning_sink sink,
                         void *user) {
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->reasoning = in_reasoning;
    r->sink = sink;
    r->user = user;
}

void seek_reasoning_put(seek_reasoning *r, const char *text, size_t len) {
    for (size_t i = 0; i < len; i++) feed(r, text[i]);
    out_drain(r);
}

void seek_reasoning_flush(seek_reasoning *r) {
    const char *tag = r->reasoning ? SEEK_THINK_CLOSE : SEEK_THINK_OPEN;
    size_t n = r->n_tag;
    r->n_tag = 0;
    for (size_t i = 0; i < n; i++) text(r, tag[i]);
    r->n_ws = 0; /* trailing blanks after </think> with no answer: dropped */
    if (r->dim_on) out_str(r, SEEK_ANSI_RESET);
    r->dim_on = false;
    out_drain(r);
}
