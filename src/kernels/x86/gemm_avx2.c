/* AVX2 + FMA 6 x 16 GEMM tile (see gemm.h): 12 accumulators, per k two loads of the packed B
 * row and six broadcasts of the packed A column. Compiled with -mavx2 -mfma. */
#include "kernels/gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static void tile_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr, bool add) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t k = 0; k < kc; k++, a += 6, b += 16) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 x = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);
    }
    const __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (mr == 6 && nr == 16) {
        for (int i = 0; i < 6; i++) {
            float *ci = c + i * ldc;
            if (add) {
                _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]));
                _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]));
            } else {
                _mm256_storeu_ps(ci, acc[i][0]);
                _mm256_storeu_ps(ci + 8, acc[i][1]);
            }
        }
        return;
    }
    float t[16] __attribute__((aligned(32)));
    for (int i = 0; i < mr; i++) {
        _mm256_store_ps(t, acc[i][0]);
        _mm256_store_ps(t + 8, acc[i][1]);
        float *ci = c + i * ldc;
        for (int j = 0; j < nr; j++) ci[j] = add ? ci[j] + t[j] : t[j];
    }
}

seek_gemm_tile_fn seek_gemm_tile_avx2(void) { return tile_avx2; }
#else
seek_gemm_tile_fn seek_gemm_tile_avx2(void) { return 0; }
#endif
