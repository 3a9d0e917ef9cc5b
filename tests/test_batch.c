/* Batch invariance (DESIGN decision 3): prompts of different lengths run one at a time and all
 * together in one batch (different sequence ids, interleaved) give the same logits, and greedy
 * decoding of several sequences in shared batches gives the same tokens as decoding each alone.
 * Each token's arithmetic does not depend on its batch neighbours (matmuls are per row, attention
 * per entry over its own sequence's blocks), so we expect bit-identical results; the stated
 * tolerance (1e-4 absolute on logits of magnitude ~30) only leaves room for future kernels that
 * tile several tokens at once and sum in another order. Both with an f32 and an f16 KV cache; and
 * the weights repacked at load give the logits the file's layout gives, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "runtime/context.h"
#include "runtime/sampler.h"

#define N_SEQ 3
#define N_GEN 16

static const char *prompts[N_SEQ] = {
    "The quick brown fox jumps over the lazy dog. It was a sunny day and the",
    "Hello",
    "In 1969, humans first walked on the Moon; the mission's commander was",
};

static int32_t argmax(const float *l, int64_t n) {
    int32_t a = 0;
    for (int64_t i = 1; i < n; i++)
        if (l[i] > l[a]) a = (int32_t)i;
    return a;
}

/* Everything below with the KV cache stored as kt (F32, and F16 as the CLI and server store it). */
static void run(seek_model *m, seek_dtype kt) {
    printf("kv cache %s:\n", seek_dtype_name(kt));
    const int64_t V = m->hp.n_vocab;
    int32_t ids[N_SEQ][128], n_ids[N_SEQ];
    for (int s = 0; s < N_SEQ; s++) n_ids[s] = (int32_t)seek_tokenize(m->tok, prompts[s], strlen(prompts[s]), true, false, ids[s], 128);

    /* alone: each prompt in a fresh single-sequence context, then N_GEN greedy steps */
    float *last_alone[N_SEQ];
    int32_t gen_alone[N_SEQ][N_GEN];
    seek_context_params p1 = {.n_ctx = 256, .n_threads = 2, .k_type = kt, .v_type = kt};
    for (int s = 0; s < N_SEQ; s++) {
        seek_context *c;
        seek_context_init(&c, m, &p1);
        seek_batch b;
        seek_batch_init(&b, 128);
        for (int i = 0; i < n_ids[s]; i++) seek_batch_add(&b, ids[s][i], i, 0, i == n_ids[s] - 1);
        CHECK(seek_decode(c, &b) == SEEK_OK, "decode alone: %s", seek_last_error());
        last_alone[s] = malloc((size_t)V * sizeof(float));
        memcpy(last_alone[s], seek_get_logits(c, n_ids[s] - 1), (size_t)V * sizeof(float));
        int32_t tok = argmax(last_alone[s], V);
        for (int g = 0; g < N_GEN; g++) {
            gen_alone[s][g] = tok;
            seek_batch_clear(&b);
            seek_batch_add(&b, tok, n_ids[s] + g, 0, true);
            seek_decode(c, &b);
            tok = argmax(seek_get_logits(c, 0), V);
        }
        seek_batch_free(&b);
        seek_context_free(c);
    }

    /* together: all prompts interleaved in one batch (small n_batch so it is also chunked),
     * then each step decodes one token of every sequence in one batch */
    seek_context_params p2 = {.n_ctx = 512, .n_threads = 2, .n_seq = N_SEQ, .n_batch = 16, .k_type = kt, .v_type = kt};
    seek_context *c;
    CHECK(seek_context_init(&c, m, &p2) == SEEK_OK, "context");
    seek_batch b;
    seek_batch_init(&b, 512);
    int32_t row_of[N_SEQ];
    for (int i = 0; i < 128; i++)
        for (int s = N_SEQ - 1; s >= 0; s--)
            if (i < n_ids[s]) {
                if (i == n_ids[s] - 1) row_of[s] = b.n;
                seek_batch_add(&b, ids[s][i], i, s, i == n_ids[s] - 1);
            }
    CHECK(seek_decode(c, &b) == SEEK_OK, "decode together: %s", seek_last_error());
    double max_d = 0;
    int32_t tok[N_SEQ];
    for (int s = 0; s < N_SEQ; s++) {
        const float *l = seek_get_logits(c, row_of[s]);
        for (int64_t i = 0; i < V; i++) max_d = fmax(max_d, fabs((double)l[i] - last_alone[s][i]));
        tok[s] = argmax(l, V);
    }
    printf("prompt logits alone vs batched: max |diff| %g\n", max_d);
    CHECK(max_d <= 1e-4, "batched prompt logits differ by %g", max_d);
    int mismatches = 0;
    for (int g = 0; g < N_GEN; g++) {
        seek_batch_clear(&b);
        for (int s = 0; s < N_SEQ; s++) {
            mismatches += tok[s] != gen_alone[s][g];
            seek_batch_add(&b, tok[s], n_ids[s] + g, s, true);
        }
        CHECK(seek_decode(c, &b) == SEEK_OK, "decode step");
        for (int s = 0; s < N_SEQ; s++) tok[s] = argmax(seek_get_logits(c, s), V);
    }
    CHECK(mismatches == 0, "%d greedy tokens differ between batched and alone decoding", mismatches);

    /* a batch that breaks the rules changes nothing: wrong position, bad sequence, bad token */
    int32_t len0 = seek_seq_len(c, 0);
    seek_batch_clear(&b);
    seek_batch_add(&b, 1, len0 + 5, 0, true);
    CHECK(seek_decode(c, &b) == SEEK_ERR_INVALID && seek_seq_len(c, 0) == len0, "gap in positions refused");
    seek_batch_clear(&b);
    seek_batch_add(&b, 1, 0, N_SEQ, true);
    CHECK(seek_decode(c, &b) == SEEK_ERR_INVALID, "sequence out of range refused");
    seek_batch_clear(&b);
    seek_batch_add(&b, (int32_t)V, len0, 0, true);
    CHECK(seek_decode(c, &b) == SEEK_ERR_INVALID && seek_seq_len(c, 0) == len0, "token out of range refused");
    /* truncating and re-running the last token reproduces its logits */
    seek_seq_truncate(c, 0, n_ids[0] - 1);
    seek_batch_clear(&b);
    seek_batch_add(&b, ids[0][n_ids[0] - 1], n_ids[0] - 1, 0, true);
    CHECK(seek_decode(c, &b) == SEEK_OK, "re-decode after truncate");
    const float *l = seek_get_logits(c, 0);
    double d2 = 0;
    for (int64_t i = 0; i < V; i++) d2 = fmax(d2, fabs((double)l[i] - last_alone[0][i]));
    CHECK(d2 <= 1e-4, "logits after truncate differ by %g", d2);

    seek_batch_free(&b);
    seek_context_free(c);
    for (int s = 0; s < N_SEQ; s++) free(last_alone[s]);
}

/* The prompt's logits (every position) from a fresh context over m. */
static float *prompt_logits(const seek_model *m, const int32_t *ids, int32_t n) {
    seek_context *c;
    seek_context_params p = {.n_ctx = 256, .n_threads = 2, .n_batch = 16}; /* chunks of 16: the tiled kernels */
    if (seek_context_init(&c, m, &p)) return NULL;
    const int64_t V = m->hp.n_vocab;
    float *out = malloc((size_t)(n * V) * sizeof(float));
    seek_batch b;
    seek_batch_init(&b, 128);
    for (int32_t i = 0; i < n; i++) seek_batch_add(&b, ids[i], i, 0, true);
    if (seek_decode(c, &b) == SEEK_OK)
        for (int32_t i = 0; i < n; i++) memcpy(out + i * V, seek_get_logits(c, i), (size_t)V * sizeof(float));
    else free(out), out = NULL;
    seek_batch_free(&b);
    seek_context_free(c);
    return out;
}

int main(void) {
    char path[4096];
    seek_model *m = NULL;
    if (!seek_default_model_path(path, sizeof path) || seek_model_load(&m, path)) {
        fprintf(stderr, "cannot load the default model (%s): %s\n", path, seek_last_error());
        return 1;
    }
    run(m, SEEK_TYPE_F32);
    run(m, SEEK_TYPE_F16);

    /* weights repacked at load (Q4_1 and Q8_0 here) give the same bits as the file's layout */
    int32_t ids[128];
    const int32_t n = (int32_t)seek_tokenize(m->tok, prompts[0], strlen(prompts[0]), true, false, ids, 128);
    seek_model *plain = NULL;
    setenv("SEEK_REPACK", "0", 1);
    CHECK(seek_model_load(&plain, path) == SEEK_OK, "load without repacking");
    unsetenv("SEEK_REPACK");
    CHECK(m->packed_bytes > 0 && plain && plain->packed_bytes == 0, "repacked %zu bytes, then none", m->packed_bytes);
    float *a = prompt_logits(m, ids, n), *b = plain ? prompt_logits(plain, ids, n) : NULL;
    CHECK(a && b && !memcmp(a, b, (size_t)(n * m->hp.n_vocab) * sizeof(float)), "logits with and without repacked weights differ");
    free(a), free(b);
    seek_model_free(plain);
    seek_model_free(m);
    return check_summary("test_batch");
}
