/* seek bench: prompt processing (pp) and generation (tg) speed, measured like llama-bench:
 * pp N processes N tokens from an empty cache in one batch; tg N decodes N tokens one at a
 * time from an empty cache; with -np P also "tgN x P": P sequences decode N tokens each in
 * lockstep, one batch of P tokens per step with P logit rows and a greedy pick from each (what
 * a server's decode steps cost, as llama-batched-bench measures; t/s counts all P sequences).
 * One warm-up run, then -r repetitions; prints a table, or with --json one JSON object per test
 * per line (llama-bench's jsonl fields). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/status.h"
#include "kernels/quant.h"

static int32_t n_depth;           /* -d: tokens already in the cache before each test */
static const int32_t *depth_ids;

/* an empty cache, then the -d tokens (not timed, nor counted in --verbose's per-op times) */
static int fill_depth(seek_session *s) {
    seek_session_reset(s);
    if (n_depth <= 0) return 0;
    double op_time[SEEK_OP_COUNT];
    memcpy(op_time, s->ctx->op_time, sizeof op_time);
    const int rc = seek_session_feed(s, depth_ids, n_depth, NULL) ? -1 : 0;
    memcpy(s->ctx->op_time, op_time, sizeof op_time);
    return rc;
}

static double run_pp(seek_session *s, const int32_t *ids, int32_t n) {
    if (fill_depth(s)) return -1;
    double t0 = now_seconds();
    if (seek_session_feed(s, ids, n, NULL)) return -1;
    return now_seconds() - t0;
}

static double run_tg(seek_session *s, const int32_t *ids, int32_t n) {
    if (fill_depth(s)) return -1;
    double t0 = now_seconds();
    for (int32_t i = 0; i < n; i++)
        if (seek_session_push(s, ids[i])) return -1;
    return now_seconds() - t0;
}

static int32_t n_parallel;
static seek_batch par_batch; /* BENCH_BATCH entries: a step of all sequences, or a piece of a -d fill */
#define BENCH_BATCH 256      /* -np's upper bound in common.c */

static double run_tg_parallel(seek_session *s, const int32_t *ids, int32_t n) {
    seek_context *ctx = s->ctx;
    const int32_t V = (int32_t)ctx->model->hp.n_vocab;
    double op_time[SEEK_OP_COUNT];
    memcpy(op_time, ctx->op_time, sizeof op_time);
    for (int32_t q = 0; q < n_parallel; q++) {
        seek_seq_truncate(ctx, q, 0);
        for (int32_t i0 = 0; i0 < n_depth; i0 += par_batch.cap) { /* each sequence's -d tokens (not timed) */
            seek_batch_clear(&par_batch);
            for (int32_t i = i0; i < n_depth && i < i0 + par_batch.cap; i++) seek_batch_add(&par_batch, depth_ids[i], i, q, false);
            if (seek_decode(ctx, &par_batch)) return -1;
        }
    }
    memcpy(ctx->op_time, op_time, sizeof op_time);
    double t0 = now_seconds();
    int32_t next[BENCH_BATCH];
    for (int32_t q = 0; q < n_parallel; q++) next[q] = ids[q % n];
    for (int32_t i = 0; i < n; i++) {
        seek_batch_clear(&par_batch);
        for (int32_t q = 0; q < n_parallel; q++) seek_batch_add(&par_batch, next[q], n_depth + i, q, true);
        if (seek_decode(ctx, &par_batch)) return -1;
        for (int32_t q = 0; q < n_parallel; q++) { /* greedy, as a server samples each row */
            const float *l = seek_get_logits(ctx, q);
            int32_t best = 0;
            for (int32_t v = 1; v < V; v++)
                if (l[v] > l[best]) best = v;
            next[q] = best;
        }
    }
    return now_seconds() - t0;
}

/* The most common weight type among 2-D tensors, as the model's "quantization". */
static const char *main_type(const seek_model *m) {
    size_t bytes[SEEK_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
        if (m->gguf->tensors[i].n_dims >= 2) bytes[m->gguf->tensors[i].type] += m->gguf->tensors[i].n_bytes;
    int best = 0;
    for (int t = 1; t < SEEK_TYPE_COUNT; t++)
        if (bytes[t] > bytes[best]) best = t;
    return seek_dtype_name((seek_dtype)best);
}

int cmd_bench(int argc, char **argv) {
    seek_opts o;
    if (!opts_parse(&o, argc, argv, "bench")) return 2;
    seek_model *m = opts_load_model(&o);
    if (!m) return 1;
    int32_t need = o.n_prompt_bench > o.n_gen_bench ? o.n_prompt_bench : o.n_gen_bench;
    n_parallel = o.n_parallel;
    n_depth = o.n_depth;
    if (o.n_ctx <= 0) o.n_ctx = n_depth + need + 16 + (n_parallel > 1 ? n_parallel * (n_depth + o.n_gen_bench + 16) : 0);
    if (o.n_batch <= 0) o.n_batch = o.n_prompt_bench > 0 ? o.n_prompt_bench : 512;
    if (o.n_batch < n_parallel) o.n_batch = n_parallel;
    seek_context *ctx = opts_new_context_seqs(&o, m, n_parallel > 1 ? n_parallel : 1);
    seek_session s = {0};
    int rc = 1;
    int32_t *ids = malloc((size_t)(need + n_depth + 1) * sizeof(int32_t));
    if (!ctx || !ids || seek_session_init(&s, ctx, 0) || (n_parallel && seek_batch_init(&par_batch, BENCH_BATCH)))
        goto done;
    uint64_t rng = 1234;
    for (int32_t i = 0; i < need + n_depth; i++) ids[i] = (int32_t)(seek_rng_uniform(&rng) * (float)(m->hp.n_vocab - 1));
    depth_ids = ids + need;
    const int64_t n_params = seek_model_n_params(m);
    const double bpw = n_params ? 8.0 * (double)m->weight_bytes / (double)n_params : 0; /* bits per weight, as seek info */
    char model_type[96];
    snprintf(model_type, sizeof model_type, "%s %.0fM %s", seek_arch_name(m->arch), n_params / 1e6, main_type(m));
    const char *fname = o.model ? o.model : "default";
    if (!o.json) {
        printf("| model | size | params | bits/weight | isa | threads | test | t/s |\n");
        printf("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n");
    }
    for (int kind = 0; kind < 3; kind++) {
        int32_t n = kind == 0 ? o.n_prompt_bench : o.n_gen_bench;
        if (n <= 0 || (kind == 2 && !n_parallel)) continue;
        double (*fn)(seek_session *, const int32_t *, int32_t) = kind == 0 ? run_pp : kind == 1 ? run_tg : run_tg_parallel;
        const int32_t n_count = kind == 2 ? n * n_parallel : n; /* tokens a run produces */
        if (fn(&s, ids, n) < 0) { /* warm-up */
            fprintf(stderr, "seek bench: %s\n", seek_last_error());
            goto done;
        }
        for (int k = 0; k < SEEK_OP_COUNT; k++) ctx->op_time[k] = 0;
        double *ts = malloc((size_t)o.reps * sizeof(double)), *ns = malloc((size_t)o.reps * sizeof(double));
        if (!ts || !ns) { free(ts); free(ns); goto done; }
        double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
        for (int r = 0; r < o.reps; r++) {
            double t = fn(&s, ids, n);
            ns[r] = t * 1e9;
            ts[r] = n_count / t;
            sum += ts[r];
            sum2 += ts[r] * ts[r];
            nsum += ns[r];
            nsum2 += ns[r] * ns[r];
        }
        double avg = sum / o.reps, sd = o.reps > 1 ? sqrt(fmax(0, (sum2 - o.reps * avg * avg) / (o.reps - 1))) : 0;
        double navg = nsum / o.reps, nsd = o.reps > 1 ? sqrt(fmax(0, (nsum2 - o.reps * navg * navg) / (o.reps - 1))) : 0;
        char test[32];
        int tl = kind == 2 ? snprintf(test, sizeof test, "tg%d x %d", n, n_parallel)
                           : snprintf(test, sizeof test, "%s%d", kind == 0 ? "pp" : "tg", n);
        if (n_depth > 0 && tl > 0 && (size_t)tl < sizeof test) snprintf(test + tl, sizeof test - (size_t)tl, " @ d%d", n_depth);
        if (o.json) {
            printf("{\"build_commit\": \"seek-%s\", \"model_filename\": \"%s\", \"model_type\": \"%s\", \"model_size\": %zu, "
                   "\"active_size\": %zu, \"model_n_params\": %lld, \"bits_per_weight\": %.4f, \"n_batch\": %d, \"n_threads\": %d, \"cpu_info\": \"%s\", \"n_prompt\": %d, "
                   "\"n_gen\": %d, \"test\": \"%s\", \"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, "
                   "\"samples_ns\": [",
                   SEEK_VERSION, fname, model_type, m->weight_bytes, m->active_bytes, (long long)n_params, bpw, ctx->params.n_batch, o.n_threads,
                   seek_isa_name(seek_kernels_isa()), kind == 0 ? n : 0, kind >= 1 ? n : 0, test, navg, nsd, avg, sd);
            for (int r = 0; r < o.reps; r++) printf(r ? ", %.0f" : "%.0f", ns[r]);
            printf("], \"samples_ts\": [");
            for (int r = 0; r < o.reps; r++) printf(r ? ", %.6f" : "%.6f", ts[r]);
            printf("]}\n");
        } else {
            printf("| %s | %.2f MiB | %.2f M | %.2f | %s | %d | %s | %.2f ± %.2f |\n", model_type, (double)m->weight_bytes / (1 << 20),
                   n_params / 1e6, bpw, seek_isa_name(seek_kernels_isa()), o.n_threads, test, avg, sd);
        }
        fflush(stdout);
        if (o.verbose) {
            static const char *names[SEEK_OP_COUNT] = {"matmul", "attention", "norm", "rope", "other"};
            double tot = 0;
            for (int k = 0; k < SEEK_OP_COUNT; k++) tot += ctx->op_time[k];
            for (int k = 0; k < SEEK_OP_COUNT; k++)
                fprintf(stderr, "seek bench: %s %-9s %8.2f ms/run (%4.1f%%)\n", test, names[k], 1e3 * ctx->op_time[k] / o.reps,
                        tot > 0 ? 100 * ctx->op_time[k] / tot : 0);
        }
        free(ts);
        free(ns);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "seek bench: failed: %s\n", seek_last_error());
    free(ids);
    if (n_parallel) seek_batch_free(&par_batch);
    if (s.tokens) seek_session_free(&s);
    seek_context_free(ctx);
    seek_model_free(m);
    return rc;
}
