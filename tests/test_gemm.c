/* seek_gemm_f32 against a double-precision product and the scalar reference: every transpose
 * combination, beta 0 (over NaN garbage) and 1, sizes 0/1/odd/larger than the blocks, leading
 * dimensions wider than the rows; results bit-identical for 1 and 2 threads and between calls;
 * the AVX2 tile and panel packers against the scalar ones (forced ISA). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"

static uint64_t s = 99;
static float frand(void) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(s >> 11) / 4503599627370496.0 - 1.0);
}

/* C = beta*C0 + op(A) op(B), each shape: returns max |C - exact| / (sum_k |a||b| bound) */
static void check_shape(seek_pool *p1, seek_pool *p2, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float beta) {
    const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
    const int64_t ra = ta ? K : M, rb = tb ? N : K;
    float *A = malloc((size_t)(ra * lda + 1) * 4), *B = malloc((size_t)(rb * ldb + 1) * 4);
    float *C0 = malloc((size_t)(M * ldc + 1) * 4), *C1 = malloc((size_t)(M * ldc + 1) * 4), *C2 = malloc((size_t)(M * ldc + 1) * 4);
    float *Cr = malloc((size_t)(M * ldc + 1) * 4);
    for (int64_t i = 0; i < ra * lda; i++) A[i] = frand();
    for (int64_t i = 0; i < rb * ldb; i++) B[i] = frand();
    for (int64_t i = 0; i < M * ldc; i++) C0[i] = beta != 0 ? frand() : NAN;
    memcpy(C1, C0, (size_t)(M * ldc) * 4), memcpy(C2, C0, (size_t)(M * ldc) * 4), memcpy(Cr, C0, (size_t)(M * ldc) * 4);
    seek_gemm_f32(p1, ta, tb, M, N, K, A, lda, B, ldb, beta, C1, ldc);
    seek_gemm_f32(p2, ta, tb, M, N, K, A, lda, B, ldb, beta, C2, ldc);
    seek_gemm_f32_ref(ta, tb, M, N, K, A, lda, B, ldb, beta, Cr, ldc);
    double worst = 0;
    bool same = true;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double e = beta != 0 ? C0[m * ldc + n] : 0, mag = fabs(e);
            for (int64_t k = 0; k < K; k++) {
                const double x = (ta ? A[k * lda + m] : A[m * lda + k]) * (double)(tb ? B[n * ldb + k] : B[k * ldb + n]);
                e += x, mag += fabs(x);
            }
            /* float sums of K terms: error below K * 2^-24 of the magnitudes */
            const double bound = (double)(K + 2) * 6e-8 * mag + 1e-30;
            worst = fmax(worst, fabs(C1[m * ldc + n] - e) / bound);
            worst = fmax(worst, fabs(Cr[m * ldc + n] - e) / bound);
            same &= memcmp(&C1[m * ldc + n], &C2[m * ldc + n], 4) == 0;
        }
    CHECK(worst <= 1.0, "ta %d tb %d %lldx%lldx%lld beta %g: error %.3g of the float bound", ta, tb, (long long)M, (long long)N,
          (long long)K, beta, worst);
    CHECK(same, "ta %d tb %d %lldx%lldx%lld: 1 and 2 threads differ", ta, tb, (long long)M, (long long)N, (long long)K);
    free(A), free(B), free(C0), free(C1), free(C2), free(Cr);
}

int main(void) {
    seek_pool *p1, *p2;
    if (seek_pool_init(&p1, 1) || seek_pool_init(&p2, 2)) return 1;
    const int64_t sizes[][3] = {{0, 5, 3}, {4, 0, 3}, {3, 4, 0}, {1, 1, 1}, {1, 37, 9}, {7, 1, 300}, {6, 16, 256},
                                {13, 33, 257}, {150, 40, 70}, {31, 1100, 19}, {300, 50, 520}, {2, 200, 64}};
    for (int isa = 0; isa < 2; isa++) {
        seek_kernels_force_isa(isa ? SEEK_ISA_SCALAR : seek_cpu_best_isa());
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            for (int t = 0; t < 4; t++)
                for (int b = 0; b < 2; b++) check_shape(p1, p2, t & 1, t >> 1, sizes[i][0], sizes[i][1], sizes[i][2], (float)b);
    }
    /* repeated calls give the same bits */
    float A[64 * 48], B[48 * 40], C1[64 * 40], C2[64 * 40];
    for (size_t i = 0; i < sizeof A / 4; i++) A[i] = frand();
    for (size_t i = 0; i < sizeof B / 4; i++) B[i] = frand();
    seek_kernels_force_isa(seek_cpu_best_isa());
    seek_gemm_f32(p2, false, false, 64, 40, 48, A, 48, B, 40, 0, C1, 40);
    seek_gemm_f32(p2, false, false, 64, 40, 48, A, 48, B, 40, 0, C2, 40);
    CHECK(!memcmp(C1, C2, sizeof C1), "repeated calls differ");
    seek_pool_free(p1);
    seek_pool_free(p2);
    return check_summary("test_gemm");
}
