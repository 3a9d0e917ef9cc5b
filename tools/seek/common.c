/* Option parsing, model loading, streamed generation and stats shared by the subcommands. */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "kernels/quant.h"

static bool parse_int(const char *flag, const char *s, long lo, long hi, int32_t *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "seek: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, s ? s : "");
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static bool parse_float(const char *flag, const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = s ? strtof(s, &end) : 0;
    if (!s || errno || *end || end == s || !(v >= lo && v <= hi)) {
        fprintf(stderr, "seek: %s expects a number in [%g, %g], got '%s'\n", flag, lo, hi, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

static void print_help(const char *cmd) {
    printf("usage: seek %s [options]\n"
           "  -m, --model FILE        GGUF model (default: %s from the cache)\n"
           "  -p, --prompt TEXT       prompt\n"
           "  -f, --file FILE         read the prompt from a file\n"
           "  -s, --system TEXT       system prompt (with --chat / seek chat)\n"
           "  -n, --n-predict N       tokens to generate (-1: until end of text; default 128)\n"
           "  -t, --threads N         threads (default 2)\n"
           "  -c, --ctx-size N        context size (default min(4096, training context))\n"
           "  -b, --batch-size N      tokens per forward chunk (default 512)\n"
           "      --temp T            temperature (0 = greedy; default 0.8)\n"
           "      --top-k N           (default 40, 0 = off)\n"
           "      --top-p P           (default 0.95, 1 = off)\n"
           "      --min-p P           (default 0.05, 0 = off)\n"
           "      --repeat-penalty P  (default 1.0 = off)\n"
           "      --repeat-last-n N   tokens the penalties look at (default 64)\n"
           "      --presence-penalty P, --frequency-penalty P\n"
           "      --seed N            RNG seed (same seed, same text)\n"
           "      --chat              wrap the prompt with the model's chat template\n"
           "      --hide-reasoning    print only the answer, not the <think> reasoning (DeepSeek-R1);\n"
           "                          otherwise reasoning is dimmed on a terminal, raw in a pipe\n"
           "      --verbose           token counts, timings, per-op times, memory\n"
           "      --precise           fp32 activations in every matmul (reference arithmetic; slower)\n"
           "  -ctk, --cache-type-k T  KV cache keys: f16 (default, half the memory) or f32\n"
           "  -ctv, --cache-type-v T  KV cache values: f16 (default) or f32\n"
           "  bench: -p N (prompt tokens, 512), -n N (generated tokens, 128), -r N (repetitions, 5), --json,\n"
           "         -np N (also tg with N sequences decoding at once: one batch of N per step, N logit rows),\n"
           "         -d N (N tokens already in the cache before each test, as llama-bench -d)\n",
           cmd, SEEK_DEFAULT_MODEL_NAME);
}

bool parse_cache_type(const char *flag, const char *v, seek_dtype *out) {
    if (!strcmp(v, "f16")) *out = SEEK_TYPE_F16;
    else if (!strcmp(v, "f32")) *out = SEEK_TYPE_F32;
    else {
        fprintf(stderr, "seek: %s: cache type '%s' is not supported (f16 or f32)\n", flag, v);
        return false;
    }
    return true;
}

bool opts_parse(seek_opts *o, int argc, char **argv, const char *cmd) {
    memset(o, 0, sizeof *o);
    o->n_predict = 128;
    o->n_threads = 2;
    o->cache_k = o->cache_v = SEEK_TYPE_F16;
    o->sp = seek_sampler_defaults();
    o->n_prompt_bench = 512;
    o->n_gen_bench = 128;
    o->reps = 5;
    bool bench = !strcmp(cmd, "bench");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define IS(x, y) (!strcmp(a, x) || !strcmp(a, y))
#define NEED()                                                              \
    do {                                                                    \
        if (!v) {                                                           \
            fprintf(stderr, "seek %s: %s needs a value\n", cmd, a);          \
            return false;                                                   \
        }                                                                   \
        i++;                                                                \
    } while (0)
        if (IS("-h", "--help")) {
            print_help(cmd);
            exit(0);
        } else if (IS("-m", "--model")) { NEED(); o->model = v; }
        else if (IS("-p", "--prompt")) {
            NEED();
            if (bench) { if (!parse_int(a, v, 0, 1 << 20, &o->n_prompt_bench)) return false; }
            else o->prompt = v;
        } else if (IS("-f", "--file")) { NEED(); o->prompt_file = v; }
        else if (IS("-s", "--system")) { NEED(); o->system = v; }
        else if (IS("-n", "--n-predict")) {
            NEED();
            if (!parse_int(a, v, bench ? 0 : -1, 1 << 20, bench ? &o->n_gen_bench : &o->n_predict)) return false;
        } else if (IS("-t", "--threads")) { NEED(); if (!parse_int(a, v, 1, 512, &o->n_threads)) return false; }
        else if (IS("-c", "--ctx-size")) { NEED(); if (!parse_int(a, v, 0, 1 << 24, &o->n_ctx)) return false; }
        else if (IS("-b", "--batch-size")) { NEED(); if (!parse_int(a, v, 1, 1 << 16, &o->n_batch)) return false; }
        else if (IS("-r", "--repetitions")) { NEED(); if (!parse_int(a, v, 1, 1000, &o->reps)) return false; }
        else if (bench && IS("-np", "--parallel")) { NEED(); if (!parse_int(a, v, 1, 256, &o->n_parallel)) return false; }
        else if (bench && IS("-d", "--n-depth")) { NEED(); if (!parse_int(a, v, 0, 1 << 20, &o->n_depth)) return false; }
        else if (IS("--temp", "--temp")) { NEED(); if (!parse_float(a, v, 0, 100, &o->sp.temp)) return false; }
        else if (IS("--top-k", "--top-k")) { NEED(); if (!parse_int(a, v, 0, 1 << 24, &o->sp.top_k)) return false; }
        else if (IS("--top-p", "--top-p")) { NEED(); if (!parse_float(a, v, 0, 1, &o->sp.top_p)) return false; }
        else if (IS("--min-p", "--min-p")) { NEED(); if (!parse_float(a, v, 0, 1, &o->sp.min_p)) return false; }
        else if (IS("--repeat-penalty", "--repeat-penalty")) { NEED(); if (!parse_float(a, v, 0, 100, &o->sp.repeat_penalty)) return false; }
        else if (IS("--repeat-last-n", "--repeat-last-n")) { NEED(); if (!parse_int(a, v, 0, 1 << 20, &o->sp.penalty_last_n)) return false; }
        else if (IS("--presence-penalty", "--presence-penalty")) { NEED(); if (!parse_float(a, v, -100, 100, &o->sp.presence_penalty)) return false; }
        else if (IS("--frequency-penalty", "--frequency-penalty")) { NEED(); if (!parse_float(a, v, -100, 100, &o->sp.frequency_penalty)) return false; }
        else if (IS("--seed", "--seed")) {
            NEED();
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || *end || end == v) {
                fprintf(stderr, "seek %s: --seed expects a non-negative integer, got '%s'\n", cmd, v);
                return false;
            }
            o->sp.seed = s;
            o->seed_set = true;
        } else if (IS("--chat", "--chat")) o->chat = true;
        else if (IS("--verbose", "-v")) o->verbose = true;
        else if (IS("--precise", "--precise")) o->precise = true;
        else if (IS("-ctk", "--cache-type-k")) { NEED(); if (!parse_cache_type(a, v, &o->cache_k)) return false; }
        else if (IS("-ctv", "--cache-type-v")) { NEED(); if (!parse_cache_type(a, v, &o->cache_v)) return false; }
        else if (IS("--hide-reasoning", "--hide-reasoning")) o->hide_reasoning = true;
        else if (IS("--json", "--json")) o->json = true;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "seek %s: unknown option '%s' (see seek %s --help)\n", cmd, a, cmd);
            return false;
        } else if (!o->positional) o->positional = a;
        else {
            fprintf(stderr, "seek %s: unexpected argument '%s'\n", cmd, a);
            return false;
        }
#undef IS
#undef NEED
    }
    if (!o->seed_set) o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    return true;
}

seek_model *opts_load_model(const seek_opts *o) {
    char def[4096];
    const char *path = o->model ? o->model : o->positional;
    if (!path) {
        if (!seek_default_model_path(def, sizeof def)) {
            fprintf(stderr, "seek: no model given and the default model is not at %s; run scripts/get-model.sh "
                            "(or pass -m FILE)\n", def);
            return NULL;
        }
        path = def;
    }
    double t0 = now_seconds();
    seek_model *m = NULL;
    if (seek_model_load(&m, path)) {
        fprintf(stderr, "seek: %s\n", seek_last_error());
        return NULL;
    }
    if (m->chat_unknown && o->verbose)
        fprintf(stderr, "seek: warning: unrecognised chat template, using ChatML\n");
    fprintf(stderr, "seek: loaded %s (%s, %.1f MiB of weights) in %.2f s [%s kernels]\n", path, seek_arch_name(m->arch),
            (double)m->weight_bytes / (1 << 20), now_seconds() - t0, seek_isa_name(seek_kernels_isa()));
    return m;
}

seek_context *opts_new_context(const seek_opts *o, const seek_model *m) { return opts_new_context_seqs(o, m, 1); }

seek_context *opts_new_context_seqs(const seek_opts *o, const seek_model *m, int32_t n_seq) {
    seek_context_params p = {.n_ctx = o->n_ctx, .n_batch = o->n_batch, .n_seq = n_seq, .n_threads = o->n_threads,
                             .precise = o->precise, .k_type = o->cache_k, .v_type = o->cache_v};
    seek_context *ctx = NULL;
    if (seek_context_init(&ctx, m, &p)) {
        fprintf(stderr, "seek: %s\n", seek_last_error());
        return NULL;
    }
    ctx->timing = o->verbose;
    return ctx;
}

double now_seconds(void) { return seek_now(); }

void mem_rss_mib(double *now, double *peak) {
    *now = *peak = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) *now = kb / 1024.0;
        if (sscanf(line, "VmHWM: %ld", &kb) == 1) *peak = kb / 1024.0;
    }
    fclose(f);
}

int32_t *tokenize_alloc(const seek_model *m, const char *text, bool add_special, int32_t *n) {
    size_t len = strlen(text);
    int64_t cap = (int64_t)len + 8;
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    if (!ids) return NULL;
    int64_t k = seek_tokenize(m->tok, text, len, add_special, true, ids, cap);
    if (k < 0 || k > cap) {
        fprintf(stderr, "seek: cannot tokenize the prompt: %s\n", seek_last_error());
        free(ids);
        return NULL;
    }
    *n = (int32_t)k;
    return ids;
}

static void file_sink(void *user, const char *text, size_t len) {
    fwrite(text, 1, len, user);
    fflush(user);
}

void reasoning_init_file(seek_reasoning *r, const seek_opts *o, bool think_open, FILE *out) {
    const char *no_color = getenv("NO_COLOR"); /* https://no-color.org */
    bool color = isatty(fileno(out)) && !(no_color && no_color[0]);
    seek_reasoning_mode mode = o->hide_reasoning ? SEEK_REASONING_HIDE : color ? SEEK_REASONING_DIM : SEEK_REASONING_PLAIN;
    seek_reasoning_init(r, mode, think_open, file_sink, out);
}

bool chat_opens_think(const seek_model *m) { return m->chat == SEEK_CHAT_DEEPSEEK_R1; }

static void emit(const char *p, size_t len, seek_reasoning *out, char *capture, size_t *cap_len, size_t cap_size) {
    if (out) seek_reasoning_put(out, p, len);
    if (capture && *cap_len + len < cap_size) {
        memcpy(capture + *cap_len, p, len);
        *cap_len += len;
        capture[*cap_len] = 0;
    }
}

void utf8_stream_put(utf8_stream *u, const char *piece, size_t len, seek_reasoning *out, char *capture, size_t *cap_len,
                     size_t cap_size) {
    for (size_t i = 0; i < len; i++) {
        if (u->n == sizeof u->buf) utf8_stream_flush(u, out, capture, cap_len, cap_size);
        u->buf[u->n++] = piece[i];
    }
    size_t ok = seek_utf8_complete_prefix(u->buf, u->n);
    emit(u->buf, ok, out, capture, cap_len, cap_size);
    memmove(u->buf, u->buf + ok, u->n - ok);
    u->n -= ok;
}

void utf8_stream_flush(utf8_stream *u, seek_reasoning *out, char *capture, size_t *cap_len, size_t cap_size) {
    emit(u->buf, u->n, out, capture, cap_len, cap_size);
    u->n = 0;
}

int32_t generate(seek_session *s, seek_sampler *smp, int32_t n_predict, seek_reasoning *out, char *capture,
                 size_t cap_size, double *t_gen) {
    const seek_model *m = s->ctx->model;
    utf8_stream u = {.n = 0};
    size_t cap_len = 0;
    if (capture && cap_size) capture[0] = 0;
    char piece[256];
    int32_t n_gen = 0;
    bool full = false, failed = false;
    double t0 = now_seconds();
    while (n_predict < 0 || n_gen < n_predict) {
        int32_t tok = seek_sampler_sample(smp, seek_session_logits(s));
        if (seek_tokenizer_is_eog(m->tok, tok)) break;
        seek_sampler_accept(smp, tok);
        n_gen++;
        int32_t len = seek_token_to_piece(m->tok, tok, piece, sizeof piece, false);
        if (len > 0) utf8_stream_put(&u, piece, (size_t)(len < (int32_t)sizeof piece ? len : (int32_t)sizeof piece), out, capture, &cap_len, cap_size);
        if (n_predict >= 0 && n_gen >= n_predict) break;
        if (s->n_tokens >= s->cap) { /* context full: stop like llama.cpp without --context-shift */
            full = true;
            break;
        }
        if (seek_session_push(s, tok)) {
            failed = true;
            break;
        }
    }
    utf8_stream_flush(&u, out, capture, &cap_len, cap_size);
    if (out) seek_reasoning_flush(out); /* before any message: a dimmed reasoning is reset */
    if (full) fprintf(stderr, "\nseek: the context is full (%d tokens); stopping (use a larger -c)\n", s->cap);
    if (failed) {
        fprintf(stderr, "\nseek: %s\n", seek_last_error());
        return -1;
    }
    if (t_gen) *t_gen = now_seconds() - t0;
    return n_gen;
}
