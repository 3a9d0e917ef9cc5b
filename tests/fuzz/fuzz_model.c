/* libFuzzer target for the model loader on top of the GGUF reader: any bytes must load or be
 * refused with a message, never crash, leak or read out of bounds; a model that loads must run
 * a short decode (3 tokens, a context of 16) with whatever hyper-parameters its metadata claims
 * (head counts, RoPE scaling, ALiBi, windows, XL memory, experts). The loader reads files, so
 * each input goes through a temporary file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "runtime/context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_model_%d.gguf", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    seek_model *m = NULL;
    if (seek_model_load(&m, path) == SEEK_OK) {
        seek_context_params p = {.n_ctx = 16, .n_batch = 4, .n_seq = 1, .n_threads = 1};
        seek_context *ctx = NULL;
        seek_batch b = {0};
        /* tiny models only: a fuzzed shape may claim far more than the input's bytes can hold */
        if (m->hp.n_vocab <= 4096 && m->hp.dim <= 1024 && seek_context_init(&ctx, m, &p) == SEEK_OK && seek_batch_init(&b, 4) == SEEK_OK) {
            for (int32_t i = 0; i < 3; i++) seek_batch_add(&b, (int32_t)(i % m->hp.n_vocab), i, 0, i == 2);
            seek_decode(ctx, &b);
        }
        seek_batch_free(&b);
        seek_context_free(ctx);
        seek_model_free(m);
    }
    unlink(path);
    return 0;
}
