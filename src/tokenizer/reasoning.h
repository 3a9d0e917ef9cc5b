/* DeepSeek-R1 style reasoning in streamed output: a small state machine that takes the decoded
 * text piece by piece, tells the reasoning (<think> ... </think>) from the answer, and writes it
 * raw, with the reasoning dimmed (ANSI), or with the reasoning hidden. A tag split across pieces
 * is held back until it is decided. Not for the chat template (chat_template.h) or for UTF-8
 * completeness of pieces (the caller streams whole characters; the tags are ASCII). */
#ifndef SEEK_REASONING_H
#define SEEK_REASONING_H

#include <stdbool.h>
#include <stddef.h>

#define SEEK_THINK_OPEN "<think>"
#define SEEK_THINK_CLOSE "</think>"
#define SEEK_ANSI_DIM "\x1b[2m"
#define SEEK_ANSI_RESET "\x1b[0m"

typedef enum {
    SEEK_REASONING_PLAIN = 0, /* everything as generated, tags included (pipes see the raw text) */
    SEEK_REASONING_DIM,       /* reasoning between ESC[2m and ESC[0m, tags dropped; the answer after
                                 </think> loses its leading blank lines and follows one blank line */
    SEEK_REASONING_HIDE,      /* reasoning and tags dropped; the answer after </think> loses its
                                 leading blank lines */
} seek_reasoning_mode;

/* Receives the filtered text; called at most once per seek_reasoning_put (more when the output
 * outgrows the internal buffer) and once per seek_reasoning_flush. */
typedef void (*seek_reasoning_sink)(void *user, const char *text, size_t len);

typedef struct {
    seek_reasoning_mode mode;
    seek_reasoning_sink sink;
    void *user;
    bool reasoning;     /* inside a think block */
    size_t n_tag;       /* bytes held back: the first n_tag bytes of the tag that ends the state */
    bool trim;          /* after </think> (dim, hide): dropping the answer's leading blank lines */
    size_t n_ws;        /* trim: spaces and tabs held since the last newline */
    char ws[32];
    bool dim_on;        /* dim: ESC[2m written and not yet reset */
    bool sep_owed;      /* dim: reasoning written since the last answer byte, so a blank line is owed */
    char last;          /* dim: the last reasoning byte written */
    size_t n_out;       /* bytes in out not yet given to the sink */
    char out[256];
} seek_reasoning;

/* Starts a stream. in_reasoning: the prompt already opened <think> (DeepSeek-R1's generation
 * prompt ends with "<think>\n"), so the text is reasoning until </think>; otherwise it is answer
 * until the model writes <think>. A "</think>" in the answer is text, as is "<think>" in the
 * reasoning (blocks do not nest). */
void seek_reasoning_init(seek_reasoning *r, seek_reasoning_mode mode, bool in_reasoning, seek_reasoning_sink sink,
                         void *user);
/* Feeds the next piece of text. */
void seek_reasoning_put(seek_reasoning *r, const char *text, size_t len);
/* Ends the stream: a held partial tag is text after all, an open dim is reset. */
void seek_reasoning_flush(seek_reasoning *r);

#endif
