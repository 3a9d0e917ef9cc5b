/* seek perplexity -m MODEL -f FILE [-c 512] [-b 512] [-t N]: perplexity of the model on a text,
 * computed as llama.cpp's llama-perplexity computes it (quant/perplexity.h), so the numbers
 * compare. Progress ("[window]PPL so far," as llama.cpp prints it) on stderr; the last line,
 * on stdout, is "Final estimate: PPL = X +/- Y". Argument parsing and printing only. */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "core/mapfile.h"
#include "core/status.h"
#include "quant/perplexity.h"

static void usage(FILE *f) {
    fprintf(f, "usage: seek perplexity -m MODEL -f FILE [-c 512] [-b 512] [-t N] [--precise]\n"
               "  windows of -c tokens, not overlapping; the second half of each is scored\n"
               "  -b tokens per forward pass: below -c, a window takes several; a multiple of -c, -b/-c windows go at once\n");
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
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
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
                          .n_threads = o.n_threads, .precise = o.precise};
    ppl_progress pr = {.t0 = now_seconds(), .n_ctx = pp.n_ctx, .n_batch = pp.n_batch};
    seek_ppl_result r;
    seek_status st = seek_perplexity(m, text ? text : "", len, &pp, progress, &pr, &r);
    if (st) fprintf(stderr, "%sseek perplexity: %s\n", pr.t_first > 0 && r.n_chunks ? "\n" : "", seek_last_error());
    else {
        fprintf(stderr, "seek perplexity: %lld tokens scored in %.2f s\n", (long long)r.n_scored, now_seconds() - pr.t0);
        printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.err);
    }
    seek_model_free(m);
    seek_unmap_file(text, len);
    return st ? 1 : 0;
}
