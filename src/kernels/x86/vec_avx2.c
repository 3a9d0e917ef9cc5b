/* AVX2 + FMA fp32 vector kernels (see vec.h); compiled with -mavx2 -mfma. */
#include "kernels/vec.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#include <math.h>

static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* 8 values / one value at index i of fp32 (h false) or fp16 (h true) data, as fp32: the
 * attention kernels read an F16 KV cache through these, with the fp32 path's arithmetic. */
ALWAYS_INLINE __m256 ld8(const void *p, int64_t i, const bool h) {
    return h ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const seek_f16 *)p + i))) : _mm256_loadu_ps((const float *)p + i);
}
ALWAYS_INLINE float ld1(const void *p, int64_t i, const bool h) {
    return h ? seek_f16_to_f32(((const seek_f16 *)p)[i]) : ((const float *)p)[i];
}
/* the address of value i */
ALWAYS_INLINE const void *at(const void *p, int64_t i, const bool h) {
    return h ? (const void *)((const seek_f16 *)p + i) : (const void *)((const float *)p + i);
}

ALWAYS_INLINE float dot_gen(const float *x, const void *y, int64_t n, const bool h) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), ld8(y, i, h), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), ld8(y, i + 8, h), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), ld8(y, i, h), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += x[i] * ld1(y, i, h);
    return s;
}

static float dot_avx2(const float *x, const float *y, int64_t n) { return dot_gen(x, y, n, false); }

ALWAYS_INLINE void axpy_gen(float *y, float a, const void *x, int64_t n, const bool h) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, ld8(x, i, h), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * ld1(x, i, h);
}

static void axpy_avx2(float *y, float a, const float *x, int64_t n) { axpy_gen(y, a, x, n, false); }

static void scale_avx2(float *y, float a, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] *= a;
}

/* Runs TILE(R) on rows i .. i+R-1 for i = 0, 3, 6, ... < n with R = 3, or what is left. */
#define BY_THREES(n, TILE)                                                                        \
    for (int32_t i = 0; i < (n); i += 3) {                                                        \
        if ((n) - i >= 3) TILE(3);                                                                \
        else if ((n) - i == 2) TILE(2);                                                           \
        else TILE(1);                                                                             \
    }

/* R (<= 3) query rows x four keys per pass: 4R dot products share each load of q and k, and
 * every dot product is summed as scores_avx2 sums it (8 lanes over the dims, then a fixed tree),
 * so a row's scores do not depend on the rows beside it. */
ALWAYS_INLINE void scores_tile(const int R, float *s, int64_t s_stride, const float *q, int64_t q_stride, const void *k,
                               int64_t stride, int32_t nb, int64_t n, const bool h) {
    int32_t j = 0;
    for (; j + 4 <= nb; j += 4) {
        __m256 a[3][4];
        _Pragma("GCC unroll 3") for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) a[r][c] = _mm256_setzero_ps();
        for (int64_t d = 0; d < n; d += 8) {
            __m256 kv[4];
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) kv[c] = ld8(k, (j + c) * stride + d, h);
            _Pragma("GCC unroll 3") for (int r = 0; r < R; r++) {
                const __m256 x = _mm256_loadu_ps(q + r * q_stride + d);
                _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) a[r][c] = _mm256_fmadd_ps(x, kv[c], a[r][c]);
            }
        }
        _Pragma("GCC unroll 3") for (int r = 0; r < R; r++) {
            const __m256 hs = _mm256_hadd_ps(_mm256_hadd_ps(a[r][0], a[r][1]), _mm256_hadd_ps(a[r][2], a[r][3]));
            _mm_storeu_ps(s + r * s_stride + j, _mm_add_ps(_mm256_castps256_ps128(hs), _mm256_extractf128_ps(hs, 1)));
        }
    }
    for (; j < nb; j++)
        for (int r = 0; r < R; r++)
            s[r * s_stride + j] = dot_gen(q + r * q_stride, at(k, j * stride, h), n, h);
}

static void scores_avx2(float *s, const float *q, const float *k, int64_t stride, int32_t nb, int64_t n) {
    if (n % 8 == 0) scores_tile(1, s, 0, q, 0, k, stride, nb, n, false);
    else
        for (int32_t j = 0; j < nb; j++) s[j] = dot_avx2(q, k + j * stride, n);
}

ALWAYS_INLINE void scores_rows_gen(float *s, int64_t s_stride, const float *q, int64_t q_stride, int32_t nq, const void *k,
                                   int64_t stride, int32_t nb, int64_t n, const bool h) {
    if (n % 8 != 0) { /* one dot product at a time */
        for (int32_t i = 0; i < nq; i++)
            for (int32_t j = 0; j < nb; j++)
                s[i * s_stride + j] = dot_gen(q + i * q_stride, at(k, j * stride, h), n, h);
        return;
    }
#define SCORES(R_) scores_tile(R_, s + i * s_stride, s_stride, q + i * q_stride, q_stride, k, stride, nb, n, h)
    BY_THREES(nq, SCORES)
#undef SCORES
}

static void scores_rows_avx2(float *s, int64_t s_stride, const float *q, int64_t q_stride, int32_t nq, const float *k,
                             int64_t stride, int32_t nb, int64_t n) {
    scores_rows_gen(s, s_stride, q, q_stride, nq, k, stride, nb, n, false);
}

static void scores_rows_h_avx2(float *s, int64_t s_stride, const float *q, int64_t q_stride, int32_t nq, const seek_f16 *k,
                               int64_t stride, int32_t nb, int64_t n) {
    scores_rows_gen(s, s_stride, q, q_stride, nq, k, stride, nb, n, true);
}

/* R (<= 3) accumulator rows x 32 dims in twelve registers while every value row of the block is
 * added: each v load serves R rows; per element the same sequence of FMAs as weighted_sum. */
ALWAYS_INLINE void wsum_tile(const int R, float *acc, int64_t acc_stride, const float *p, int64_t p_stride, const void *v,
                             int64_t stride, int32_t nb, int64_t n, const bool h) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 a[3][4];
        _Pragma("GCC unroll 3") for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) a[r][c] = _mm256_loadu_ps(acc + r * acc_stride + i + 8 * c);
        for (int32_t j = 0; j < nb; j++) {
            __m256 vv[4];
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) vv[c] = ld8(v, j * stride + i + 8 * c, h);
            _Pragma("GCC unroll 3") for (int r = 0; r < R; r++) {
                const __m256 pj = _mm256_set1_ps(p[r * p_stride + j]);
                _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) a[r][c] = _mm256_fmadd_ps(pj, vv[c], a[r][c]);
            }
        }
        _Pragma("GCC unroll 3") for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) _mm256_storeu_ps(acc + r * acc_stride + i + 8 * c, a[r][c]);
    }
    if (i < n)
        for (int r = 0; r < R; r++)
            for (int32_t j = 0; j < nb; j++)
                axpy_gen(acc + r * acc_stride + i, p[r * p_stride + j], at(v, j * stride + i, h), n - i, h);
}

static void weighted_sum_rows_avx2(float *acc, int64_t acc_stride, const float *p, int64_t p_stride, int32_t nr, const float *v,
                                   int64_t stride, int32_t nb, int64_t n) {
#define WSUM(R_) wsum_tile(R_, acc + i * acc_stride, acc_stride, p + i * p_stride, p_stride, v, stride, nb, n, false)
    BY_THREES(nr, WSUM)
#undef WSUM
}

static void weighted_sum_rows_h_avx2(float *acc, int64_t acc_stride, const float *p, int64_t p_stride, int32_t nr,
                                     const seek_f16 *v, int64_t stride, int32_t nb, int64_t n) {
#define WSUM(R_) wsum_tile(R_, acc + i * acc_stride, acc_stride, p + i * p_stride, p_stride, v, stride, nb, n, true)
    BY_THREES(nr, WSUM)
#undef WSUM
}

static void weighted_sum_avx2(float *acc, const float *p, const float *v, int64_t stride, int32_t nb, int64_t n) {
    wsum_tile(1, acc, 0, p, 0, v, stride, nb, n, false);
}

/* exp(x) for 8 floats: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
 * reduction), Cephes' degree-6 polynomial for e^r, then 2^n through the exponent bits; about
 * 1 ulp from expf where the result is a normal float; 0 below -87.3 (where expf is
 * subnormal, i.e. nothing next to the softmax maximum's exp(0) = 1). */
static __m256 exp8(__m256 x) {
    const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ); /* flushed to 0 */
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* As the scalar version, 8 keys at a time (the same roundings: a product, then a difference). */
static float scale_max_avx2(float *s, int32_t n, float scale, float slope, int32_t dist0, int32_t jlo) {
    const __m256 vs = _mm256_set1_ps(scale), vslope = _mm256_set1_ps(slope), ninf = _mm256_set1_ps(-INFINITY);
    const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 m = ninf;
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(s + j), vs);
        const __m256i jj = _mm256_add_epi32(_mm256_set1_epi32(j), step);
        if (slope != 0.0f)
            x = _mm256_sub_ps(x, _mm256_mul_ps(vslope, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(dist0), jj))));
        x = _mm256_blendv_ps(x, ninf, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(jlo), jj)));
        _mm256_storeu_ps(s + j, x);
        m = _mm256_max_ps(m, x);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float mx = _mm_cvtss_f32(m4);
    for (; j < n; j++) {
        s[j] *= scale;
        if (slope != 0.0f) s[j] -= slope * (float)(dist0 - j);
        if (j < jlo) s[j] = -INFINITY;
        if (s[j] > mx) mx = s[j];
    }
    return mx;
}

static float exp_sum_avx2(float *s, int32_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; j < n; j++) sum += s[j] = expf(s[j] - m);
    return sum;
}

/* exp8 flushes exp(-g) to 0 for g > 87.3, where silu(g) = g exactly anyway; for g < -88.3 the
 * clamp keeps exp finite, so silu gives a tiny negative number instead of -0. */
static void swiglu_avx2(float *g, const float *u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = exp8(_mm256_xor_ps(x, neg));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static const seek_vec_kernels avx2 = {dot_avx2,          axpy_avx2,       scale_avx2,     scores_avx2, scores_rows_avx2,
                                      weighted_sum_avx2, weighted_sum_rows_avx2, scale_max_avx2, exp_sum_avx2, swiglu_avx2,
                                      scores_rows_h_avx2, weighted_sum_rows_h_avx2};
const seek_vec_kernels *seek_vec_avx2(void) { return &avx2; }
#else
const seek_vec_kernels *seek_vec_avx2(void) { return 0; }
#endif
