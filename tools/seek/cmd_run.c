/* seek run: one-shot generation. stdout carries only the generated text, streamed (a <think>
 * reasoning block dimmed on a terminal, or hidden with --hide-reasoning); load time, speed and
 * memory go to stderr. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/status.h"

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* The token ids of the prompt: raw text (BOS as the vocab says) or the chat template applied. */
static int32_t *prompt_tokens(const seek_opts *o, const seek_model *m, const char *text, int32_t *n) {
    if (!o->chat) return tokenize_alloc(m, text, true, n);
    seek_chat_msg msgs[2];
    size_t k = 0;
    if (o->system) msgs[k++] = (seek_chat_msg){"system", o->system};
    msgs[k++] = (seek_chat_msg){"user", text};
    int32_t bos = seek_tokenizer_bos(m->tok);
    char *t = seek_chat_render(m->chat_template, msgs, k, true, bos >= 0 ? seek_tokenizer_text(m->tok, bos) : NULL);
    if (!t) return NULL;
    int32_t *ids = tokenize_alloc(m, t, false, n);
    free(t);
    return ids;
}

int cmd_run(int argc, char **argv) {
    seek_opts o;
    if (!opts_parse(&o, argc, argv, "run")) return 2;
    char *file_text = NULL;
    const char *text = o.prompt;
    if (o.prompt_file) {
        file_text = read_file(o.prompt_file);
        if (!file_text) {
            fprintf(stderr, "seek run: cannot read prompt file '%s'\n", o.prompt_file);
            return 1;
        }
        text = file_text;
    }
    if (!text) {
        fprintf(stderr, "seek run: no prompt; pass -p TEXT or -f FILE\n");
        return 2;
    }
    int rc = 1;
    seek_model *m = opts_load_model(&o);
    seek_context *ctx = m ? opts_new_context(&o, m) : NULL;
    seek_session s = {0};
    seek_sampler smp = {0};
    int32_t n_prompt = 0, *ids = NULL;
    if (!ctx) goto done;
    ids = prompt_tokens(&o, m, text, &n_prompt);
    if (!ids) goto done;
    if (n_prompt >= ctx->params.n_ctx) {
        fprintf(stderr, "seek run: the prompt (%d tokens) is longer than the context (%d tokens); use a larger -c\n",
                n_prompt, ctx->params.n_ctx);
        goto done;
    }
    if (seek_session_init(&s, ctx, 0) || seek_sampler_init(&smp, &o.sp, (int32_t)m->hp.n_vocab)) {
        fprintf(stderr, "seek run: %s\n", seek_last_error());
        goto done;
    }
    for (int32_t i = 0; i < n_prompt; i++) seek_sampler_accept(&smp, ids[i]);
    double t0 = now_seconds();
    if (seek_session_feed(&s, ids, n_prompt, NULL)) {
        fprintf(stderr, "seek run: %s\n", seek_last_error());
        goto done;
    }
    double t_prompt = now_seconds() - t0, t_gen = 0;
    seek_reasoning show; /* with --chat an R1 template has opened <think> already */
    reasoning_init_file(&show, &o, o.chat && chat_opens_think(m), stdout);
    int32_t n_gen = generate(&s, &smp, o.n_predict, &show, NULL, 0, &t_gen);
    if (n_gen < 0) goto done;
    printf("\n");
    fflush(stdout);
    double rss, peak;
    mem_rss_mib(&rss, &peak);
    fprintf(stderr, "seek: prompt %d tokens in %.2f s (%.1f t/s), generated %d tokens in %.2f s (%.1f t/s)\n", n_prompt,
            t_prompt, n_prompt / (t_prompt > 0 ? t_prompt : 1e-9), n_gen, t_gen, n_gen / (t_gen > 0 ? t_gen : 1e-9));
    if (o.verbose) {
        fprintf(stderr, "seek: memory: RSS %.1f MiB (peak %.1f MiB); file %.1f MiB, KV cache %.1f MiB\n", rss, peak,
                (double)m->gguf->size / (1 << 20), (double)seek_kv_bytes(&ctx->kv) / (1 << 20));
        static const char *names[SEEK_OP_COUNT] = {"matmul", "attention", "norm", "rope", "other"};
        for (int k = 0; k < SEEK_OP_COUNT; k++) fprintf(stderr, "seek: time in %-9s %8.3f s\n", names[k], ctx->op_time[k]);
    }
    rc = 0;
done:
    free(ids);
    free(file_text);
    if (smp.cand) seek_sampler_free(&smp);
    if (s.tokens) seek_session_free(&s);
    seek_context_free(ctx);
    seek_model_free(m);
    return rc;
}
