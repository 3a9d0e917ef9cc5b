/* seek perplexity -m MODEL -f FILE [-c 512] [-b 512] [-t N]: perplexity of the model on a text,
 * computed as llama.cpp's llama-perplexity computes it (quant/perplexity.h), so the numbers
 * compare. Progress ("[window]PPL so far," as llama.cpp prints it) on stderr; the last line,
 * on stdout, is "Final estimate: PPL = X +/- Y". Argument parsing and printing only. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "core/mapfile.h"
#include "core/status.h"
#include "quant/perplexity.h"

static void usage(FILE *f) {
    fprintf(f, "usage: seek perplexity -m MODEL -f FILE [-c 512] [-b 512] [-t N] [--precise]\n"
               "                       [--kl-divergence-base OUT.kld | --kl-divergence-base BASE.kld --kl-divergence]\n"
               "  windows of -c tokens, not overlapping; the second half of each is scored\n"
               "  -b tokens per forward pass: below -c, a window takes several; a multiple of -c, -b/-c windows go at once\n"
               "  --kl-divergence-base F    save this model's log-probabilities of every scored token to F\n"
               "                            (n_vocab floats per token: large for big vocabularies)\n"
               "  --kl-divergence           compare with F instead (same text and -c): mean KL divergence from F's\n"
               "                            model, and how often both models put the same token on top\n");
}

/* The KL-divergence file: "SEEKKLD1", u32 n_vocab, u32 n_ctx, u64 rows, then per scored token
 * the next token (i32) and the base model's log-probabilities (n_vocab f32). */
typedef struct {
    FILE *f;
    bool write;
    uint32_t n_vocab, n_ctx;
    uint64_t rows;
    float *buf;
    seek_kld_stats st;
} kld_file;

static bool kld_row(void *arg, const float *logits, int64_t n_vocab, int32_t next) {
    kld_file *k = arg;
    if (k->write) {
        seek_log_softmax(k->buf, logits, n_vocab);
        if (fwrite(&next, 4, 1, k->f) != 1 || fwrite(k->buf, 4, (size_t)n_vocab, k->f) != (size_t)n_vocab) {
            seek_errorf(SEEK_ERR_IO, "cannot write the log-probabilities (disk full?)");
            return false;
        }
    } else {
        int32_t want;
        if (fread(&want, 4, 1, k->f) != 1 || want != next || fread(k->buf, 4, (size_t)n_vocab, k->f) != (size_t)n_vocab) {
            seek_errorf(SEEK_ERR_INVALID, "the --kl-divergence-base file holds another text's tokens (or -c / -b differ): "
                                          "compare with the same -f and -c");
            return false;
        }
        seek_kld_add(&k->st, k->buf, logits, n_vocab);
    }
    k->rows++;
    return true;
}

/* Opens the KLD file for the model's vocab and the window: 0, or 1 after a message. */
static int kld_open(kld_file *k, const char *path, bool write, uint32_t n_vocab, uint32_t n_ctx) {
    k->write = write;
    k->n_vocab = n_vocab;
    k->n_ctx = n_ctx;
    if (!(k->buf = malloc((size_t)n_vocab * sizeof(float)))) {
        fprintf(stderr, "seek perplexity: out of memory\n");
        return 1;
    }
    if (write) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        uint64_t zero = 0;
        if (!(k->f = fopen(tmp, "wb")) || fwrite("SEEKKLD1", 8, 1, k->f) != 1 || fwrite(&n_vocab, 4, 1, k->f) != 1 ||
            fwrite(&n_ctx, 4, 1, k->f) != 1 || fwrite(&zero, 8, 1, k->f) != 1) {
            fprintf(stderr, "seek perplexity: cannot write '%s'\n", tmp);
            return 1;
        }
        return 0;
    }
    char magic[8];
    uint32_t v = 0, c = 0;
    if (!(k->f = fopen(path, "rb"))) {
        fprintf(stderr, "seek perplexity: cannot open '%s'\n", path);
        return 1;
    }
    if (fread(magic, 8, 1, k->f) != 1 || memcmp(magic, "SEEKKLD1", 8) || fread(&v, 4, 1, k->f) != 1 || fread(&c, 4, 1, k->f) != 1 ||
        fread(&k->rows, 8, 1, k->f) != 1) {
        fprintf(stderr, "seek perplexity: '%s' is not a file of --kl-divergence-base\n", path);
        return 1;
    }
    if (v != n_vocab || c != n_ctx) {
        fprintf(stderr, "seek perplexity: '%s' was made with a vocab of %u and -c %u; this run has %u and -c %u\n", path, v, c,
                n_vocab, n_ctx);
        return 1;
    }
    k->rows = 0;
    return 0;
}

/* Finishes the file: the row count and the rename (write), or the statistics (read). 0 or 1. */
static int kld_close(kld_file *k, const char *path, bool ok) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = 0;
    if (k->write) {
        ok = ok && fseek(k->f, 16, SEEK_SET) == 0 && fwrite(&k->rows, 8, 1, k->f) == 1;
        ok = fclose(k->f) == 0 && ok;
        if (ok && rename(tmp, path) == 0) {
            fprintf(stderr, "seek perplexity: wrote %llu tokens' log-probabilities to %s\n", (unsigned long long)k->rows, path);
        } else {
            if (ok) fprintf(stderr, "seek perplexity: cannot write '%s'\n", path);
            unlink(tmp);
            rc = 1;
        }
    } else {
        uint64_t want = 0;
        fseek(k->f, 16, SEEK_SET);
        if (fread(&want, 8, 1, k->f) != 1) want = 0;
        fclose(k->f);
        if (ok && want != k->rows) {
            fprintf(stderr, "seek perplexity: '%s' holds another text's tokens (or -c / -b differ): compare with the same -f and -c\n",
                    path);
            rc = 1;
        } else if (ok && k->st.n) {
            const double n = (double)k->st.n, mean = k->st.sum / n, var = k->st.sum2 / n - mean * mean;
            const double top = (double)k->st.same_top / n;
            printf("Mean KLD: %.6f +/- %.6f\n", mean, n > 1 && var > 0 ? sqrt(var / (n - 1)) : 0.0);
            printf("Maximum KLD: %.6f\n", k->st.max);
            printf("Same top: %.3f +/- %.3f %%\n", 100 * top, n > 1 ? 100 * sqrt(top * (1 - top) / (n - 1)) : 0.0);
        }
    }
    free(k->buf);
    return rc;
}

typedef struct {
    double t0, t_first;
    int32_t n_ctx, n_batch;
} ppl_progress;

static void progress(void *arg, int32_t done, int32_t n_chunks, const seek_ppl_result *r) {
    ppl_progress *p = arg;
    if (p->t_first == 0) {
        p->t_first = now_seconds() - p->t0;
        fprintf(stderr, "seek perplexity: %lld tokens, %d windows of %d (the last %d tokens of each scored); %.2f s for the first %d, ETA %.1f s\n",
                (long long)r->n_tokens, n_chunks, p->n_ctx, p->n_ctx - p->n_ctx / 2 - 1, p->t_first, done,
                p->t_first * (n_chunks - done) / done);
    }
    fprintf(stderr, "[%d]%.4f,", done, r->ppl);
    if (done == n_chunks) fputc('\n', stderr);
}

int cmd_perplexity(int argc, char **argv) {
    const char *kld_path = NULL;
    bool kld_read = false;
    int n = 0;
    for (int i = 0; i < argc; i++) { /* the KL-divergence flags are this command's own */
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--kl-divergence-base")) {
            if (i + 1 == argc) {
                fprintf(stderr, "seek perplexity: --kl-divergence-base expects a file\n");
                return 2;
            }
            kld_path = argv[++i];
        } else if (!strcmp(argv[i], "--kl-divergence")) {
            kld_read = true;
        } else {
            argv[n++] = argv[i];
        }
    }
    argc = n;
    if (kld_read && !kld_path) {
        fprintf(stderr, "seek perplexity: --kl-divergence needs --kl-divergence-base FILE (made by a run of the base model)\n");
        return 2;
    }
    seek_opts o;
    if (!opts_parse(&o, argc, argv, "perplexity")) return 2;
    if (!o.prompt_file) {
        fprintf(stderr, "seek perplexity: no text; pass -f FILE\n");
        return 2;
    }
    const void *text = NULL;
    size_t len = 0;
    if (seek_map_file(o.prompt_file, &text, &len)) {
        fprintf(stderr, "seek perplexity: %s\n", seek_last_error());
        return 1;
    }
    seek_model *m = opts_load_model(&o);
    if (!m) {
        seek_unmap_file(text, len);
        return 1;
    }
    seek_ppl_params pp = {.n_ctx = o.n_ctx > 0 ? o.n_ctx : 512, .n_batch = o.n_batch > 0 ? o.n_batch : 512,
                          .n_threads = o.n_threads, .precise = o.precise, .k_type = o.cache_k, .v_type = o.cache_v};
    ppl_progress pr = {.t0 = now_seconds(), .n_ctx = pp.n_ctx, .n_batch = pp.n_batch};
    kld_file kf = {0};
    if (kld_path) {
        int64_t nv = seek_tokenizer_n_vocab(m->tok);
        nv = nv < m->hp.n_vocab ? nv : m->hp.n_vocab;
        if (kld_open(&kf, kld_path, !kld_read, (uint32_t)nv, (uint32_t)pp.n_ctx)) {
            if (kf.f) fclose(kf.f);
            free(kf.buf);
            seek_model_free(m);
            seek_unmap_file(text, len);
            return 1;
        }
        pp.row = kld_row;
        pp.row_arg = &kf;
    }
    seek_ppl_result r;
    seek_status st = seek_perplexity(m, text ? text : "", len, &pp, progress, &pr, &r);
    if (st) fprintf(stderr, "%sseek perplexity: %s\n", pr.t_first > 0 && r.n_chunks ? "\n" : "", seek_last_error());
    else {
        fprintf(stderr, "seek perplexity: %lld tokens scored in %.2f s\n", (long long)r.n_scored, now_seconds() - pr.t0);
        printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.err);
    }
    int rc = st ? 1 : 0;
    if (kld_path && kld_close(&kf, kld_path, !st)) rc = 1;
    seek_model_free(m);
    seek_unmap_file(text, len);
    return rc;
}
