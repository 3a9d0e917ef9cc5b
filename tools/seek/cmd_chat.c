/* seek chat: interactive multi-turn chat on the terminal. Each line on stdin is a user turn;
 * the whole conversation is rendered with the model's chat template, and the session keeps the
 * KV cache of earlier turns so only the new turn's tokens are processed (--verbose prints the
 * counts). --no-cache reprocesses the whole conversation every turn (for checking). A reasoning
 * model's <think> block is dimmed on a terminal or hidden with --hide-reasoning; the history keeps
 * the full answer (the R1 template drops earlier reasoning itself). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "core/status.h"

#define MAX_TURNS 256
#define ANSWER_CAP (1 << 16)

int cmd_chat(int argc, char **argv) {
    bool no_cache = false;
    int n = 0;
    char **args = malloc((size_t)(argc + 1) * sizeof(char *));
    if (!args) return 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--no-cache")) no_cache = true;
        else args[n++] = argv[i];
    }
    seek_opts o;
    if (!opts_parse(&o, n, args, "chat")) {
        free(args);
        return 2;
    }
    if (o.n_predict == 128) o.n_predict = -1; /* a chat answer runs to its end of turn */
    int rc = 1;
    seek_model *m = opts_load_model(&o);
    seek_context *ctx = m ? opts_new_context(&o, m) : NULL;
    seek_session s = {0};
    seek_sampler smp = {0};
    seek_chat_msg msgs[2 * MAX_TURNS + 1];
    char *owned[2 * MAX_TURNS + 1];
    size_t n_msgs = 0, n_owned = 0;
    char line[1 << 14];
    bool tty = isatty(0);
    if (!ctx) goto done;
    if (seek_session_init(&s, ctx, 0) || seek_sampler_init(&smp, &o.sp, (int32_t)m->hp.n_vocab)) {
        fprintf(stderr, "seek chat: %s\n", seek_last_error());
        goto done;
    }
    if (o.system) msgs[n_msgs++] = (seek_chat_msg){"system", o.system};
    int32_t bos = seek_tokenizer_bos(m->tok);
    const char *bos_text = bos >= 0 ? seek_tokenizer_text(m->tok, bos) : NULL;
    for (;;) {
        if (tty) {
            fprintf(stdout, "> ");
            fflush(stdout);
        }
        if (!fgets(line, sizeof line, stdin)) break;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (n_msgs + 2 > 2 * MAX_TURNS) {
            fprintf(stderr, "seek chat: too many turns (%d)\n", MAX_TURNS);
            break;
        }
        char *user = strdup(line);
        char *answer = malloc(ANSWER_CAP);
        if (!user || !answer) {
            free(user);
            free(answer);
            goto done;
        }
        owned[n_owned++] = user;
        owned[n_owned++] = answer;
        msgs[n_msgs++] = (seek_chat_msg){"user", user};
        /* When the conversation outgrows 3/4 of the context (leaving room for the answer), the
         * oldest user/assistant pair is dropped, as chat front ends do, and the rest re-rendered. */
        int32_t n_ids = 0, n_new = 0, *ids = NULL;
        for (;;) {
            char *text = seek_chat_render(m->chat_template, msgs, n_msgs, true, bos_text);
            ids = text ? tokenize_alloc(m, text, false, &n_ids) : NULL;
            free(text);
            if (!ids) goto done;
            size_t first = msgs[0].role[0] == 's' ? 1 : 0; /* keep the system message */
            if (n_ids <= ctx->params.n_ctx * 3 / 4 || n_msgs - first < 3) break;
            free(ids);
            ids = NULL;
            memmove(&msgs[first], &msgs[first + 2], (n_msgs - first - 2) * sizeof msgs[0]);
            n_msgs -= 2;
            if (o.verbose) fprintf(stderr, "seek: context nearly full: dropped the oldest turn\n");
        }
        if (n_ids >= ctx->params.n_ctx) {
            fprintf(stderr, "seek chat: this message (%d tokens with the template) does not fit the context (%d); use a "
                            "larger -c\n", n_ids, ctx->params.n_ctx);
            free(ids);
            n_msgs--;
            continue;
        }
        if (no_cache) seek_session_reset(&s); /* the whole conversation is processed again */
        seek_sampler_reset(&smp);
        for (int32_t i = 0; i < n_ids; i++) seek_sampler_accept(&smp, ids[i]);
        double t0 = now_seconds();
        seek_status st = seek_session_feed(&s, ids, n_ids, &n_new);
        free(ids);
        if (st) {
            fprintf(stderr, "seek chat: %s\n", seek_last_error());
            goto done;
        }
        double t_prompt = now_seconds() - t0, t_gen = 0;
        if (o.verbose) fprintf(stderr, "seek: turn: processed %d new tokens of %d in the conversation\n", n_new, n_ids);
        seek_reasoning show;
        reasoning_init_file(&show, &o, chat_opens_think(m), stdout);
        int32_t n_gen = generate(&s, &smp, o.n_predict, &show, answer, ANSWER_CAP, &t_gen);
        if (n_gen < 0) goto done;
        printf("\n");
        fflush(stdout);
        msgs[n_msgs++] = (seek_chat_msg){"assistant", answer};
        if (o.verbose)
            fprintf(stderr, "seek: prompt %.1f t/s, generated %d tokens at %.1f t/s\n", n_new / (t_prompt > 0 ? t_prompt : 1e-9),
                    n_gen, n_gen / (t_gen > 0 ? t_gen : 1e-9));
    }
    rc = 0;
done:
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    free(args);
    if (smp.cand) seek_sampler_free(&smp);
    if (s.tokens) seek_session_free(&s);
    seek_context_free(ctx);
    seek_model_free(m);
    return rc;
}
