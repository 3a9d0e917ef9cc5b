/* GFLOP/s of seek_gemm_f32 on the trainer's shapes (forward X W^T, input grad dY W, weight grad
 * dY^T X), 1 and 2 threads: median of 5 runs. usage: seek-gemm-bench */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/gemm.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

int main(void) {
    const int64_t shapes[][3] = {{1024, 256, 256}, {1024, 4096, 256}, {1024, 256, 1024}, {128, 256, 256}};
    const char *names[3] = {"X W^T  ", "dY W   ", "dY^T X "};
    float *A = malloc(4096 * 4096 * 4), *B = malloc(4096 * 4096 * 4), *C = malloc(4096 * 4096 * 4);
    for (int64_t i = 0; i < 4096 * 4096; i++) A[i] = (float)(i % 7) * 0.1f, B[i] = (float)(i % 5) * 0.1f;
    for (int nth = 1; nth <= 2; nth++) {
        seek_pool *pool;
        if (seek_pool_init(&pool, nth)) return 1;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int use = 0; use < 3; use++) {
                /* rows T, out, in = shapes[s]: forward M=T N=out K=in; dX: M=T N=in K=out; dW: M=out N=in K=T */
                const int64_t T = shapes[s][0], O = shapes[s][1], I = shapes[s][2];
                const int64_t M = use == 2 ? O : T, N = use == 0 ? O : I, K = use == 0 ? I : use == 1 ? O : T;
                double t[5];
                for (int r = 0; r < 5; r++) {
                    const double t0 = now();
                    if (use == 0) seek_gemm_f32(pool, false, true, M, N, K, A, K, B, K, 0, C, N);
                    else if (use == 1) seek_gemm_f32(pool, false, false, M, N, K, A, K, B, N, 1, C, N);
                    else seek_gemm_f32(pool, true, false, M, N, K, A, M, B, N, 1, C, N);
                    t[r] = now() - t0;
                }
                qsort(t, 5, sizeof t[0], cmp);
                printf("%d thread%s %s T=%5lld out=%5lld in=%5lld  %6.1f GFLOP/s\n", nth, nth > 1 ? "s" : " ", names[use], (long long)T,
                       (long long)O, (long long)I, 2.0 * (double)M * (double)N * (double)K / t[2] / 1e9);
            }
        seek_pool_free(pool);
    }
    free(A), free(B), free(C);
    return 0;
}
