/* AVX-512 (F/BW/VL/DQ) dot products for the k-quants Q4_K and Q6_K. Everything else comes from
 * the AVX2 table, then the scalar one: for F32/F16/BF16 and the 32-value formats the AVX2 table's
 * tiled gemm beats an untiled 512-bit dot product in prefill, and a table only inherits a gemm
 * together with its own vec_dot. Deliberately plain: 512-bit versions of the AVX2 kernels.
 * The kernels do not use VNNI, and with GCC we switch it off even though CMake passes
 * -mavx512vnni, so the file runs on AVX-512 CPUs without it; clang cannot drop a feature per
 * file (and fuses maddubs+madd into vpdpbusd), so there seek_avx512_uses_vnni tells dispatch.c
 * to require it. */
#include "kernels/quant_variants.h"

#if defined(__x86_64__) || defined(__i386__)
#if !defined(__clang__)
#pragma GCC target("no-avx512vnni")
#endif
#include <immintrin.h>

#if defined(__AVX512VNNI__)
const bool seek_avx512_uses_vnni = true;
#else
const bool seek_avx512_uses_vnni = false;
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE int hsum_epi32_128(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

ALWAYS_INLINE __m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* ---- Q4_K, Q6_K against Q8_K ---- */

/* Q4_K: each 32 bytes of qs hold 64 values (low nibbles: sub-block 2j, high: 2j+1); one
 * 512-bit maddubs per 64 values, scales broadcast per 256-bit half. */
static void q4_K_vec_dot(int64_t n, float *out, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m512 acc = _mm512_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        seek_k4_unpack_scales(x[i].scales, sc, mn);
        __m512i sumi = _mm512_setzero_si512();
        for (int j = 0; j < QK_K / 64; j++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            const __m512i q = join(_mm256_and_si256(bits, m4), _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4));
            const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(y[i].qs + 64 * j));
            const __m512i s = join(_mm256_set1_epi16(sc[2 * j]), _mm256_set1_epi16(sc[2 * j + 1]));
            sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, s));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * _cvtsh_ss(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
        /* the min correction, sum_g mn[g/2] * bsums[g], on 128-bit vectors */
        const __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
        const __m128i m16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mn));
        summs += (y[i].d * _cvtsh_ss(x[i].dmin)) * (float)hsum_epi32_128(_mm_madd_epi16(m16, pairs));
    }
    *out = _mm512_reduce_add_ps(acc) - summs;
}

/* Q6_K: the same unpacking as AVX2 (values +32, maddubs then subtract 32*q8), 64 values per
 * vector; each 128-bit lane is one 16-value sub-block, so the scales go lane by lane. */
static void q6_K_vec_dot(int64_t n, float *out, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const __m512i k32 = _mm512_set1_epi8(32);
    /* int16 lane j of a vector for sub-blocks g..g+3 takes scale g + j/8 */
    const __m512i lane_of = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                             1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales)));
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const __m256i la = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            const __m256i lb = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i l[4];
            seek_q6_levels(la, lb, qh, l);
            const __m512i v[2] = {join(l[0], l[1]), join(l[2], l[3])};
            for (int k = 0; k < 2; k++) {
                const __m512i qa = _mm512_loadu_si512(y[i].qs + 128 * h + 64 * k);
                const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(v[k], qa), _mm512_maddubs_epi16(k32, qa));
                const int g = 8 * h + 4 * k;
                const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(lane_of, _mm512_set1_epi16((short)g)), sc16);
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, s));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * _cvtsh_ss(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *out = _mm512_reduce_add_ps(acc);
}

static const seek_type_kernels avx512_table[SEEK_TYPE_COUNT] = {
    [SEEK_TYPE_Q4_K] = {.vec_dot = q4_K_vec_dot},
    [SEEK_TYPE_Q6_K] = {.vec_dot = q6_K_vec_dot},
};

const seek_type_kernels *seek_kernels_avx512(seek_dtype t) {
    if ((unsigned)t >= SEEK_TYPE_COUNT) return NULL;
    const seek_type_kernels *k = &avx512_table[t];
    return k->to_float || k->from_float || k->vec_dot ? k : NULL;
}

#else /* not x86 */
const bool seek_avx512_uses_vnni = false;
const seek_type_kernels *seek_kernels_avx512(seek_dtype t) { (void)t; return NULL; }
#endif
