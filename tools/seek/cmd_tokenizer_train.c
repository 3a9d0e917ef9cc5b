/* seek tokenizer-train FILE [FILE...] --vocab N -o OUT.gguf [-t THREADS]: trains a byte-level BPE
 * tokenizer (train/bpe_train.h) and writes it as a GGUF holding only the tokenizer.ggml.* keys
 * (no tensors, no architecture), which seek's tokenizer loads and `seek train` can take as its
 * "tokenizer". --encode TOK.gguf FILE prints FILE's token ids (for tests/ref/check_bpe_train.py).
 * Argument parsing and printing only. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "core/clock.h"
#include "core/status.h"
#include "core/threadpool.h"
#include "train/bpe_train.h"
#include "train/data.h"

#define TT "seek tokenizer-train"

static void usage(FILE *f) {
    fprintf(f, "usage: " TT " FILE [FILE...] -o OUT.gguf [--vocab N] [-t THREADS]\n"
               "       " TT " --encode TOK.gguf FILE\n"
               "  trains a byte-level BPE tokenizer (GPT-2 style: 256 bytes + merges + <|endoftext|>) on the FILEs\n"
               "  -o OUT.gguf             the tokenizer, as GGUF tokenizer.ggml.* keys (no tensors)\n"
               "  --vocab N               vocabulary size, 257 .. 1000000 (default 4096)\n"
               "  -t THREADS              threads splitting the text into words (default: the CPUs, up to 16)\n"
               "  --encode TOK.gguf FILE  prints FILE's token ids under TOK.gguf, space-separated, on one line\n");
}

/* An integer in [lo, hi], or false (with the message printed). */
static bool parse_count(const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, TT ": %s expects an integer from %ld to %ld, got '%s'\n", flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

/* Whether out can be written: not a directory, in a directory that exists and is writable. */
static bool check_output(const char *out) {
    struct stat sb;
    if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, TT ": cannot write '%s': it is a directory\n", out);
        return false;
    }
    const char *slash = strrchr(out, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == out) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - out), out);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, TT ": cannot write '%s': no directory '%s'\n", out, dir);
        return false;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, TT ": cannot write '%s': directory '%s' is not writable\n", out, dir);
        return false;
    }
    return true;
}

typedef struct {
    bool tty;
    bool open_line; /* a redrawn line waits for its newline */
    double t0, last;
} progress_state;

/* Progress on stderr: a line redrawn ten times a second on a terminal, a line every 10 s otherwise. */
static void progress(void *arg, int32_t done, int32_t total) {
    progress_state *p = arg;
    double now = seek_now();
    if (done < total && now - p->last < (p->tty ? 0.1 : 10.0)) return;
    p->last = now;
    p->open_line = p->tty && done < total;
    fprintf(stderr, "%s" TT ": %" PRId32 " / %" PRId32 " merges, %.1f s%s", p->tty ? "\r" : "", done, total,
            now - p->t0, p->open_line ? "" : "\n");
}

static int encode_file(const char *tok_path, const char *text_path) {
    seek_gguf *g = NULL;
    seek_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    int rc = 1;
    seek_status st = seek_gguf_open(&g, tok_path);
    if (!st) st = seek_tokenizer_load(&tok, g);
    if (!st) st = seek_read_text(text_path, &text, &len);
    if (st) {
        fprintf(stderr, TT ": %s\n", seek_last_error());
        goto done;
    }
    int64_t n = seek_tokenize(tok, text, len, false, false, NULL, 0);
    ids = n >= 0 ? malloc((size_t)(n ? n : 1) * sizeof *ids) : NULL;
    if (!ids || seek_tokenize(tok, text, len, false, false, ids, n) != n) {
        fprintf(stderr, TT ": cannot tokenize '%s': %s\n", text_path, n < 0 ? seek_last_error() : "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) printf("%s%" PRId32, i ? " " : "", ids[i]);
    printf("\n");
    rc = 0;
done:
    free(ids);
    free(text);
    seek_tokenizer_free(tok);
    seek_gguf_close(g);
    return rc;
}

int cmd_tokenizer_train(int argc, char **argv) {
    const char *out = NULL, *encode = NULL;
    long n_vocab = 4096, n_threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 16) n_threads = 16;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int n_files = 0;
    if (!files) {
        fprintf(stderr, TT ": out of memory\n");
        return 1;
    }
    int rc = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto done_args;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!has_value) goto missing_value;
            out = argv[++i];
        } else if (!strcmp(a, "--vocab")) {
            if (!has_value) goto missing_value;
            if (!parse_count(a, argv[++i], 257, 1000000, &n_vocab)) goto done_args;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!has_value) goto missing_value;
            if (!parse_count(a, argv[++i], 1, 512, &n_threads)) goto done_args;
        } else if (!strcmp(a, "--encode")) {
            if (!has_value) goto missing_value;
            encode = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, TT ": unknown option '%s' (see " TT " --help)\n", a);
            goto done_args;
        } else {
            files[n_files++] = a;
        }
        continue;
    missing_value:
        fprintf(stderr, TT ": option '%s' needs a value\n", a);
        goto done_args;
    }
    if (encode) {
        if (n_files != 1) fprintf(stderr, TT ": --encode TOK.gguf takes exactly one text file\n");
        else rc = encode_file(encode, files[0]);
        goto done_args;
    }
    if (n_files == 0) {
        fprintf(stderr, TT ": no training text (give one or more FILEs)\n");
        goto done_args;
    }
    if (!out) {
        fprintf(stderr, TT ": no output file (-o OUT.gguf)\n");
        goto done_args;
    }
    if (!check_output(out)) goto done_args;

    char **texts = calloc((size_t)n_files, sizeof *texts);
    size_t *lens = calloc((size_t)n_files, sizeof *lens);
    seek_pool *pool = NULL;
    seek_bpe_vocab *v = NULL;
    seek_gguf_writer *w = NULL;
    seek_gguf *g = NULL;
    seek_tokenizer *tok = NULL;
    seek_status st = texts && lens ? SEEK_OK : seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    size_t total = 0;
    for (int i = 0; i < n_files && !st; i++) {
        struct stat sb;
        if (stat(files[i], &sb) == 0 && !S_ISREG(sb.st_mode)) {
            st = seek_errorf(SEEK_ERR_IO, "cannot read '%s': not a regular file", files[i]);
            break;
        }
        st = seek_read_text(files[i], &texts[i], &lens[i]);
        total += lens[i];
    }
    if (!st && n_threads > 1) st = seek_pool_init(&pool, (int)n_threads);
    if (st) {
        fprintf(stderr, TT ": %s\n", seek_last_error());
        goto done;
    }
    progress_state ps = {isatty(2), false, seek_now(), seek_now()};
    st = seek_bpe_train_texts(&v, (const char *const *)texts, lens, (size_t)n_files, (int32_t)n_vocab, pool, progress,
                              &ps);
    double t_train = seek_now() - ps.t0;
    if (ps.open_line) fputc('\n', stderr);
    if (st) {
        fprintf(stderr, TT ": %s\n", seek_last_error());
        goto done;
    }
    w = seek_gw_new();
    if (!w) {
        fprintf(stderr, TT ": out of memory\n");
        goto done;
    }
    seek_bpe_write_keys(w, v);
    if ((st = seek_gw_write(w, out, NULL, NULL))) {
        fprintf(stderr, TT ": %s\n", seek_last_error());
        goto done;
    }
    /* read the file back: what a user of OUT.gguf gets must load */
    if ((st = seek_gguf_open(&g, out)) || (st = seek_tokenizer_load(&tok, g))) {
        fprintf(stderr, TT ": wrote '%s' but cannot load it back: %s\n", out, seek_last_error());
        goto done;
    }
    const int64_t n_tok = seek_bpe_vocab_n_text_tokens(v);
    int32_t size = seek_bpe_vocab_size(v);
    fprintf(stderr, TT ": wrote %s: %" PRId32 " tokens (256 bytes, %" PRId32 " merged, " SEEK_BPE_EOT "), %" PRId32
                    " merges, trained in %.2f s\n",
            out, size, size - 257, seek_bpe_vocab_n_merges(v), t_train);
    if (size < n_vocab) {
        fprintf(stderr, TT ": the text ran out of pairs to merge: %" PRId32 " tokens, not %ld\n", size, n_vocab);
    }
    fprintf(stderr, TT ": %.4f tokens per byte on the training text (%" PRId64 " tokens, %zu bytes)\n",
            (double)n_tok / (double)total, n_tok, total);
    rc = 0;
done:
    seek_tokenizer_free(tok);
    seek_gguf_close(g);
    seek_gw_free(w);
    seek_bpe_vocab_free(v);
    seek_pool_free(pool);
    for (int i = 0; texts && i < n_files; i++) free(texts[i]);
    free(texts);
    free(lens);
done_args:
    free(files);
    return rc;
}
