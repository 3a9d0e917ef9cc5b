/* AVX2 + FMA 6 x 16 GEMM tile (see gemm.h): 12 accumulators, per k two loads of the packed B
 * row and six broadcasts of the packed A column; and the transposing panel packers. Compiled
 * with -mavx2 -mfma. */
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

/* r[k] = column k of the 8 x 8 block whose rows are r[0..7] */
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* the packers of gemm.h: 8 values of each row at a time, transposed in registers */
static void pack16_avx2(float *dst, const float *const *src, int64_t kc) {
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8)
        for (int h = 0; h < 16; h += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src[h + i] + k);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_store_ps(dst + (k + i) * 16 + h, r[i]);
        }
    for (; k < kc; k++)
        for (int c = 0; c < 16; c++) dst[k * 16 + c] = src[c][k];
}

static void pack6_avx2(float *dst, const float *const *src, int64_t kc) {
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 r[8];
        for (int i = 0; i < 6; i++) r[i] = _mm256_loadu_ps(src[i] + k);
        r[6] = r[7] = _mm256_setzero_ps();
        transpose8(r);
        for (int i = 0; i < 8; i++) { /* 6 floats: no store past the panel */
            float *d = dst + (k + i) * 6;
            _mm_storeu_ps(d, _mm256_castps256_ps128(r[i]));
            _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(r[i], 1));
        }
    }
    for (; k < kc; k++)
        for (int r = 0; r < 6; r++) dst[k * 6 + r] = src[r][k];
}

seek_gemm_tile_fn seek_gemm_tile_avx2(void) { return tile_avx2; }
seek_gemm_pack_fn seek_gemm_pack6_avx2(void) { return pack6_avx2; }
seek_gemm_pack_fn seek_gemm_pack16_avx2(void) { return pack16_avx2; }
#else
seek_gemm_tile_fn seek_gemm_tile_avx2(void) { return 0; }
seek_gemm_pack_fn seek_gemm_pack6_avx2(void) { return 0; }
seek_gemm_pack_fn seek_gemm_pack16_avx2(void) { return 0; }
#endif
