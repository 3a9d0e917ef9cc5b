/* GPTQ on one matrix (quant/gptq.c):
 * - against the float64 numpy reference of tests/ref/gen_gptq_ref.py (the paper's algorithm with
 *   gguf-py's block scales) for q8_0, q4_0, q4_1 and q4_0 with activation order: the same levels
 *   almost everywhere (float32 here, float64 there: a few roundings may go the other way) and the
 *   same proxy loss within 2%;
 * - for every block format: with H = I GPTQ is nearest rounding on the format's grid, so its
 *   loss is at most round-to-nearest's; with correlated inputs it is clearly lower;
 * - the bytes do not depend on the number of threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture_io.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "quant/gptq.h"

enum { R = 32, C = 128 };

static double loss_of(const float *W, const float *Q, const float *H, int64_t rows, int64_t cols) {
    double s = 0;
    double *d = malloc((size_t)cols * sizeof *d);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) d[c] = (double)W[r * cols + c] - Q[r * cols + c];
        for (int64_t i = 0; i < cols; i++) {
            double t = 0;
            for (int64_t j = 0; j < cols; j++) t += (double)H[i * cols + j] * d[j];
            s += d[i] * t;
        }
    }
    free(d);
    return s;
}

static void check_reference(seek_pool *pool) {
    float *W = fixture_read_f32("tests/fixtures/quant/gptq_W.f32", R * C), *H = fixture_read_f32("tests/fixtures/quant/gptq_H.f32", C * C);
    CHECK(W && H, "fixtures tests/fixtures/quant/gptq_{W,H}.f32 (tests/ref/gen_gptq_ref.py)");
    if (!W || !H) return;
    static const struct { const char *name; seek_dtype t; bool act; } cases[] = {
        {"q8_0", SEEK_TYPE_Q8_0, false}, {"q4_0", SEEK_TYPE_Q4_0, false}, {"q4_1", SEEK_TYPE_Q4_1, false}, {"q4_0_act", SEEK_TYPE_Q4_0, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "tests/fixtures/quant/gptq_%s.f32", cases[i].name);
        float *ref = fixture_read_f32(path, R * C), got[R * C];
        CHECK(ref != NULL, "fixture %s", path);
        if (!ref) continue;
        uint8_t out[R * C * 2];
        seek_gptq_loss loss;
        const seek_gptq_opts o = {0.01f, 64, cases[i].act};
        CHECK(seek_gptq_matrix(pool, cases[i].t, W, R, C, H, &o, out, &loss) == SEEK_OK, "%s: gptq", cases[i].name);
        seek_kernels_for(cases[i].t, SEEK_ISA_SCALAR)->to_float(out, got, R * C);
        int differ = 0;
        for (int j = 0; j < R * C; j++) differ += fabsf(got[j] - ref[j]) > 1e-5f * (fabsf(ref[j]) + 1e-3f);
        const double lref = loss_of(W, ref, H, R, C), lgot = loss_of(W, got, H, R, C);
        printf("%-9s levels differing from the reference: %d of %d; proxy loss %.6g (reference %.6g, round-to-nearest %.6g)\n",
               cases[i].name, differ, R * C, lgot, lref, loss.rtn);
        CHECK(differ <= R * C / 50, "%s: %d of %d values differ from the numpy reference", cases[i].name, differ, R * C);
        CHECK(fabs(lgot - lref) <= 0.02 * lref, "%s: proxy loss %g vs the reference's %g", cases[i].name, lgot, lref);
        CHECK(fabs(loss.gptq - lgot) <= 1e-3 * lgot, "%s: reported loss %g vs %g", cases[i].name, loss.gptq, lgot);
        CHECK(loss.gptq < 0.8 * loss.rtn, "%s: GPTQ loss %g is not well below round-to-nearest's %g", cases[i].name, loss.gptq,
              loss.rtn);
        free(ref);
    }
    free(W);
    free(H);
}

/* every block format, 24 x 256: H = I, then H of correlated inputs; 1 and 2 threads */
static void check_formats(seek_pool *p1, seek_pool *p2) {
    enum { RR = 24, CC = 256, N = 600 };
    static const seek_dtype types[] = {SEEK_TYPE_Q4_0, SEEK_TYPE_Q4_1, SEEK_TYPE_Q5_0, SEEK_TYPE_Q5_1,
                                       SEEK_TYPE_Q8_0, SEEK_TYPE_Q4_K, SEEK_TYPE_Q5_K, SEEK_TYPE_Q6_K};
    float *W = malloc(RR * CC * sizeof *W), *X = malloc((size_t)N * CC * sizeof *X), *H = malloc(CC * CC * sizeof *H),
          *I = calloc(CC * CC, sizeof *I);
    uint64_t s = 12345;
    for (int i = 0; i < RR * CC; i++) W[i] = (float)((int64_t)((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33) % 2001 - 1000) * 1e-4f;
    for (int t = 0; t < N; t++) {
        float z[CC + 2];
        for (int c = 0; c < CC + 2; c++) z[c] = (float)((int64_t)((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33) % 2001 - 1000) * 1e-3f;
        for (int c = 0; c < CC; c++) X[t * CC + c] = z[c] + 0.8f * z[c + 1] + 0.5f * z[c + 2] + (c % 37 == 0 ? 4 * z[c] : 0);
    }
    seek_gemm_f32_ref(true, false, CC, CC, N, X, CC, X, CC, 0.0f, H, CC);
    for (int i = 0; i < CC; i++) I[i * CC + i] = 1;
    uint8_t *a = malloc(RR * CC * 2), *b = malloc(RR * CC * 2);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const char *name = seek_dtype_name(types[i]);
        seek_gptq_loss li, lh, lh2;
        const seek_gptq_opts o = {0.01f, 0, false}, oa = {0.01f, 0, true};
        CHECK(seek_gptq_matrix(p2, types[i], W, RR, CC, I, &o, a, &li) == SEEK_OK, "%s: gptq with H = I", name);
        CHECK(li.gptq <= li.rtn * (1 + 1e-5), "%s: with H = I the loss %g exceeds round-to-nearest's %g", name, li.gptq, li.rtn);
        CHECK(seek_gptq_matrix(p2, types[i], W, RR, CC, H, &o, a, &lh) == SEEK_OK, "%s: gptq", name);
        CHECK(seek_gptq_matrix(p1, types[i], W, RR, CC, H, &o, b, &lh2) == SEEK_OK, "%s: gptq, 1 thread", name);
        CHECK(!memcmp(a, b, seek_dtype_row_bytes(types[i], CC) * RR), "%s: 1 and 2 threads give different bytes", name);
        CHECK(lh.gptq < 0.9 * lh.rtn, "%s: GPTQ loss %g not below 0.9 x round-to-nearest's %g", name, lh.gptq, lh.rtn);
        CHECK(seek_gptq_matrix(p2, types[i], W, RR, CC, H, &oa, a, &lh2) == SEEK_OK && lh2.gptq < lh.rtn,
              "%s: act order loss %g vs round-to-nearest's %g", name, lh2.gptq, lh.rtn);
        printf("%-5s H = I: loss / RTN %.4f; correlated: GPTQ / RTN %.3f, with act order %.3f\n", name, li.gptq / li.rtn,
               lh.gptq / lh.rtn, lh2.gptq / lh.rtn);
    }
    CHECK(seek_gptq_matrix(p2, SEEK_TYPE_F16, W, RR, CC, H, &(seek_gptq_opts){0}, a, NULL) == SEEK_ERR_UNSUPPORTED, "f16 refused");
    CHECK(seek_gptq_matrix(p2, SEEK_TYPE_Q4_K, W, RR * 2, CC / 2, H, &(seek_gptq_opts){0}, a, NULL) == SEEK_ERR_UNSUPPORTED,
          "rows of 128 refused for q4_K");
    free(W), free(X), free(H), free(I), free(a), free(b);
}

int main(void) {
    seek_pool *p1, *p2;
    if (seek_pool_init(&p1, 1) || seek_pool_init(&p2, 2)) return 1;
    check_reference(p2);
    check_formats(p1, p2);
    seek_pool_free(p1);
    seek_pool_free(p2);
    return check_summary("test_gptq");
}
