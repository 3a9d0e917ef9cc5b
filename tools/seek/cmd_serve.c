/* seek serve: the OpenAI-compatible HTTP server (src/server/server.h). Flags follow llama.cpp's
 * llama-server: -m --host --port -np -c -t -b --api-key, plus --max-queue and --alias. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/status.h"
#include "server/server.h"

static volatile int stop_flag;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: seek serve [-m MODEL] [--host 127.0.0.1] [--port 8080] [-np 16] [-c 8192] [-t 2] [-b 512]\n"
               "                  [--api-key KEY] [--max-queue 64] [--alias NAME] [-ctk f16|f32] [-ctv f16|f32]\n"
               "  serves POST /v1/chat/completions, /v1/completions, /tokenize, /detokenize and\n"
               "  GET /v1/models, /health, /metrics and / (a chat page); -np slots share -c KV positions,\n"
               "  stored as -ctk / -ctv (keys / values: f16, the default, or f32)\n");
}

static bool int_arg(const char *flag, const char *v, long lo, long hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi) {
        fprintf(stderr, "seek serve: %s must be an integer in [%ld, %ld], not '%s'\n", flag, lo, hi, v);
        return false;
    }
    *out = (int)x;
    return true;
}

int cmd_serve(int argc, char **argv) {
    const char *model = NULL, *alias = NULL;
    seek_server_params p = {.host = "127.0.0.1", .port = 8080, .max_body = 8u << 20,
                            .sched = {.n_slots = 16, .n_ctx = 8192, .n_batch = 512, .n_threads = 2, .max_queue = 64,
                                      .k_type = SEEK_TYPE_F16, .v_type = SEEK_TYPE_F16}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "seek serve: unknown option or missing value: '%s'\n", a);
            return 2;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--host")) p.host = v;
        else if (!strcmp(a, "--port")) ok = int_arg(a, v, 1, 65535, &p.port);
        else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) ok = int_arg(a, v, 1, 256, &p.sched.n_slots);
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) ok = int_arg(a, v, 64, 1 << 22, &p.sched.n_ctx);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = int_arg(a, v, 1, 256, &p.sched.n_threads);
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) ok = int_arg(a, v, 16, 8192, &p.sched.n_batch);
        else if (!strcmp(a, "--max-queue")) ok = int_arg(a, v, 1, 1 << 16, &p.sched.max_queue);
        else if (!strcmp(a, "-ctk") || !strcmp(a, "--cache-type-k")) ok = parse_cache_type(a, v, &p.sched.k_type);
        else if (!strcmp(a, "-ctv") || !strcmp(a, "--cache-type-v")) ok = parse_cache_type(a, v, &p.sched.v_type);
        else if (!strcmp(a, "--api-key")) p.api_key = v;
        else if (!strcmp(a, "--alias")) alias = v;
        else {
            fprintf(stderr, "seek serve: unknown option '%s'\n", a);
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    char def[4096];
    if (!model) {
        if (!seek_default_model_path(def, sizeof def)) {
            fprintf(stderr, "seek serve: no model given and the default model is not at %s; run scripts/get-model.sh (or pass -m)\n", def);
            return 1;
        }
        model = def;
    }
    const char *base = strrchr(model, '/');
    p.model_id = alias ? alias : base && base[1] ? base + 1 : model;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* a thread per connection would otherwise give glibc up to 8 x cores malloc arenas, each
     * keeping what a large request body left behind */
    mallopt(M_ARENA_MAX, 2);
    seek_status st = seek_server_run(model, &p, &stop_flag);
    if (st) {
        fprintf(stderr, "seek serve: %s\n", seek_last_error());
        return 1;
    }
    return 0;
}
