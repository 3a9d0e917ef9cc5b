/* The reasoning filter (src/tokenizer/reasoning.h): for each text, the plain, dimmed and hidden
 * outputs are exactly the expected ones, in both start states, whether the text arrives whole,
 * one byte at a time, or cut at every one or two split points; and random texts made of tag
 * fragments give the same output however they are cut (plain: the input itself). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer/reasoning.h"

#define D SEEK_ANSI_DIM
#define R SEEK_ANSI_RESET

typedef struct {
    char buf[4096];
    size_t n;
    int calls_empty; /* the sink is never called with nothing */
} sink_buf;

static void sink(void *user, const char *text, size_t len) {
    sink_buf *b = user;
    if (!len) b->calls_empty++;
    if (b->n + len < sizeof b->buf) memcpy(b->buf + b->n, text, len);
    b->n += len;
    b->buf[b->n < sizeof b->buf ? b->n : sizeof b->buf - 1] = 0;
}

/* Filters text cut at the cuts (increasing offsets) and returns the output in b. */
static void run(sink_buf *b, seek_reasoning_mode mode, bool in_reasoning, const char *text, const size_t *cuts,
                size_t n_cuts) {
    memset(b, 0, sizeof *b);
    seek_reasoning r;
    seek_reasoning_init(&r, mode, in_reasoning, sink, b);
    size_t len = strlen(text), at = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        seek_reasoning_put(&r, text + at, end - at);
        at = end;
    }
    seek_reasoning_flush(&r);
}

static const char *mode_name(seek_reasoning_mode m) {
    return m == SEEK_REASONING_PLAIN ? "plain" : m == SEEK_REASONING_DIM ? "dim" : "hide";
}

/* Checks one text in one mode against want: whole, bytewise, every single cut and every pair of
 * cuts. Failures are counted once per way of cutting, with the first offending cut shown. */
static void check_splits(const char *text, bool in_reasoning, seek_reasoning_mode mode, const char *want) {
    size_t len = strlen(text);
    sink_buf b;
    size_t cuts[4096];
    run(&b, mode, in_reasoning, text, NULL, 0);
    CHECK(b.n == strlen(want) && !strcmp(b.buf, want) && !b.calls_empty, "%s, %s start, whole '%s': got '%s' want '%s'",
          mode_name(mode), in_reasoning ? "reasoning" : "answer", text, b.buf, want);
    for (size_t i = 0; i + 1 < len && i < 4096; i++) cuts[i] = i + 1;
    run(&b, mode, in_reasoning, text, cuts, len ? len - 1 : 0);
    CHECK(b.n == strlen(want) && !strcmp(b.buf, want), "%s, %s start, bytewise '%s': got '%s'", mode_name(mode),
          in_reasoning ? "reasoning" : "answer", text, b.buf);
    bool ok1 = true, ok2 = true;
    for (size_t i = 0; i <= len && ok1; i++) {
        cuts[0] = i;
        run(&b, mode, in_reasoning, text, cuts, 1);
        ok1 = b.n == strlen(want) && !strcmp(b.buf, want);
        CHECK(ok1, "%s, %s start, '%s' cut at %zu: got '%s'", mode_name(mode), in_reasoning ? "reasoning" : "answer",
              text, i, b.buf);
    }
    for (size_t i = 0; i <= len && ok2; i++)
        for (size_t j = i; j <= len && ok2; j++) {
            cuts[0] = i;
            cuts[1] = j;
            run(&b, mode, in_reasoning, text, cuts, 2);
            ok2 = b.n == strlen(want) && !strcmp(b.buf, want);
            CHECK(ok2, "%s, %s start, '%s' cut at %zu and %zu: got '%s'", mode_name(mode),
                  in_reasoning ? "reasoning" : "answer", text, i, j, b.buf);
        }
}

typedef struct {
    const char *name, *text;
    bool in_reasoning;
    const char *dim, *hide; /* plain is always the text itself */
} case_t;

static const case_t cases[] = {
    /* the model writes <think> itself */
    {"think block in the answer", "abc<think>xy</think>\n\nanswer", false, "abc" D "xy" R "\n\nanswer", "abcanswer"},
    {"R1-style block", "<think>\nstep 1\n</think>\n\nThe answer.", false, D "\nstep 1\n" R "\nThe answer.",
     "The answer."},
    /* the template opened <think>: reasoning until </think> */
    {"R1 start", "xy</think>\n\nanswer", true, D "xy" R "\n\nanswer", "answer"},
    {"R1 start, reasoning ends with a newline", "step\n</think>\n\nanswer\n", true, D "step\n" R "\nanswer\n",
     "answer\n"},
    {"unterminated reasoning", "still thinking <b>", true, D "still thinking <b>" R, ""},
    {"unterminated block in the answer", "hi <think>hmm", false, "hi " D "hmm" R, "hi "},
    {"unterminated, ends in a partial close tag", "hmm</thi", true, D "hmm</thi" R, ""},
    {"no reasoning at all", "plain answer", false, "plain answer", "plain answer"},
    {"empty", "", false, "", ""},
    {"empty, R1 start", "", true, "", ""},
    /* almost-tags are text */
    {"literal <thin", "a <thin b", false, "a <thin b", "a <thin b"},
    {"literal <thin at the end", "a <thin", false, "a <thin", "a <thin"},
    {"<thinks> is not a tag", "x<thinks>y", false, "x<thinks>y", "x<thinks>y"},
    {"<<think> opens after one <", "<<think>r</think>a", false, "<" D "r" R "\n\na", "<a"},
    {"literal </thin in reasoning", "a </thin b</think>c", true, D "a </thin b" R "\n\nc", "c"},
    {"</think> without an opening tag is answer text", "a</think>\n\nb", false, "a</think>\n\nb", "a</think>\n\nb"},
    {"<think> inside reasoning is text (no nesting)", "a<think>b</think>c", true, D "a<think>b" R "\n\nc", "c"},
    /* blank lines after </think>: dropped (dim, hide); the first line's indentation kept */
    {"blank lines with spaces", "r</think>\n  \n\t\n  code\n", true, D "r" R "\n\n  code\n", "  code\n"},
    {"CRLF blank lines", "r</think>\r\n\r\nok", true, D "r" R "\n\nok", "ok"},
    {"only blanks after </think>", "r</think>\n\n  ", true, D "r" R, ""},
    {"empty block", "<think></think>answer", false, "answer", "answer"},
    {"two blocks", "<think>a</think>\n\n<think>b</think>\n\nc", false, D "a" R D "b" R "\n\nc", "c"},
    {"answer text, then a block", "x\n\n<think>y</think>z", false, "x\n\n" D "y" R "\n\nz", "x\n\nz"},
    {"UTF-8 around the tags", "思考</think>\n\n答え", true, D "思考" R "\n\n答え", "答え"},
};

/* Random texts of tag fragments: every way of cutting gives the output of the whole text. */
static void check_random(void) {
    static const char *frags[] = {"<", "/", "t", "h", "i", "n", "k", ">", "\n", " ", "a", "<think>", "</think>", "<thi",
                                  "</th", "\r\n"};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int bad = 0;
    for (int it = 0; it < 3000; it++) {
        char text[256] = {0};
        size_t len = 0;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int n_frag = (int)(rng >> 59) + 1;
        for (int k = 0; k < n_frag; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            const char *f = frags[(rng >> 33) % (sizeof frags / sizeof *frags)];
            memcpy(text + len, f, strlen(f));
            len += strlen(f);
        }
        bool in_r = (rng >> 20) & 1;
        for (int mode = 0; mode < 3; mode++) {
            sink_buf whole, cut;
            run(&whole, (seek_reasoning_mode)mode, in_r, text, NULL, 0);
            if (mode == SEEK_REASONING_PLAIN && strcmp(whole.buf, text)) bad++;
            if (mode == SEEK_REASONING_HIDE && in_r && !strstr(text, "</think>") && whole.n) bad++; /* all reasoning */
            size_t cuts[256], n_cuts = 0;
            for (size_t i = 1; i < len; i++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                if ((rng >> 61) < 3) cuts[n_cuts++] = i;
            }
            run(&cut, (seek_reasoning_mode)mode, in_r, text, cuts, n_cuts);
            if (cut.n != whole.n || strcmp(cut.buf, whole.buf)) {
                if (bad++ < 5)
                    fprintf(stderr, "random %s: '%s' whole '%s' cut '%s'\n", mode_name((seek_reasoning_mode)mode), text,
                            whole.buf, cut.buf);
            }
        }
    }
    CHECK(bad == 0, "random texts: %d outputs depend on how the text was cut (or plain differs)", bad);
}

/* Streaming: text that cannot start a tag comes out at once; a partial tag is held until decided. */
static void check_streaming(void) {
    sink_buf b = {0};
    seek_reasoning r;
    seek_reasoning_init(&r, SEEK_REASONING_HIDE, false, sink, &b);
    seek_reasoning_put(&r, "Hello", 5);
    CHECK(!strcmp(b.buf, "Hello"), "answer text is written at once, got '%s'", b.buf);
    seek_reasoning_put(&r, " <thi", 5);
    CHECK(!strcmp(b.buf, "Hello "), "a partial <think> is held back, got '%s'", b.buf);
    seek_reasoning_put(&r, "s", 1);
    CHECK(!strcmp(b.buf, "Hello <this"), "a decided non-tag is released, got '%s'", b.buf);
    seek_reasoning_put(&r, "<think>secret</thi", 18);
    CHECK(!strcmp(b.buf, "Hello <this"), "hidden reasoning writes nothing, got '%s'", b.buf);
    seek_reasoning_put(&r, "nk>\n\n", 5);
    CHECK(!strcmp(b.buf, "Hello <this"), "blank lines after </think> are held, got '%s'", b.buf);
    seek_reasoning_put(&r, "Done", 4);
    seek_reasoning_flush(&r);
    CHECK(!strcmp(b.buf, "Hello <thisDone"), "the answer follows, got '%s'", b.buf);

    memset(&b, 0, sizeof b);
    seek_reasoning_init(&r, SEEK_REASONING_DIM, true, sink, &b);
    seek_reasoning_put(&r, "why", 3);
    CHECK(!strcmp(b.buf, D "why"), "dim reasoning is written at once, got '%s'", b.buf);
    seek_reasoning_flush(&r);
    CHECK(!strcmp(b.buf, D "why" R), "flush resets the dim, got '%s'", b.buf);

    /* output longer than the internal buffer reaches the sink whole */
    static char big[2000];
    memset(big, 'x', sizeof big - 1);
    memset(&b, 0, sizeof b);
    seek_reasoning_init(&r, SEEK_REASONING_DIM, true, sink, &b);
    seek_reasoning_put(&r, big, strlen(big));
    seek_reasoning_flush(&r);
    CHECK(b.n == strlen(D) + strlen(big) + strlen(R) && !memcmp(b.buf + strlen(D), big, strlen(big)),
          "long output passes whole (%zu bytes)", b.n);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const case_t *c = &cases[i];
        size_t before = (size_t)check_failed;
        check_splits(c->text, c->in_reasoning, SEEK_REASONING_PLAIN, c->text);
        check_splits(c->text, c->in_reasoning, SEEK_REASONING_DIM, c->dim);
        check_splits(c->text, c->in_reasoning, SEEK_REASONING_HIDE, c->hide);
        if ((size_t)check_failed != before) fprintf(stderr, "  in case: %s\n", c->name);
    }
    check_streaming();
    check_random();
    return check_summary("test_reasoning");
}
