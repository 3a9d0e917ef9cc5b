/* Helpers shared by the AVX2 kernel files (quant_avx2.c, kquant_avx2.c): horizontal sums,
 * broadcasts, fp16 loads and the dequantization steps. Include only from files built with
 * -mavx2 -mfma -mf16c, inside their x86 guard. */
#ifndef SEEK_KERNELS_X86_AVX2_UTIL_H
#define SEEK_KERNELS_X86_AVX2_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant_variants.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Makes `v` opaque to the optimiser, so a product is rounded before the next operation uses it
 * (no FMA contraction) exactly as in the scalar quantizers. */
#define ROUNDED(v) __asm__("" : "+x"(v))

ALWAYS_INLINE int hsum_epi32_128(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

ALWAYS_INLINE int hsum_epi32(__m256i v) {
    return hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* The fp16 at p (a block's d or m), through dispatch.c's table. */
ALWAYS_INLINE float f16_at(const void *p) {
    seek_f16 h;
    memcpy(&h, p, sizeof h);
    return seek_f16_table[h];
}

/* dst[0 .. 8) = (float)q * ds - mm (k-quants), or (float)q * ds + mm (the _1 formats), for the
 * low 8 signed bytes of q8; mm = 0 and no add for the formats without a minimum. */
ALWAYS_INLINE void deq8(float *dst, __m128i q8, float ds, float mm, int min_sign) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), _mm256_set1_ps(ds));
    if (min_sign > 0) v = _mm256_add_ps(v, _mm256_set1_ps(mm));
    if (min_sign < 0) v = _mm256_sub_ps(v, _mm256_set1_ps(mm));
    _mm256_storeu_ps(dst, v);
}
/* 32 signed bytes, the same ds / mm for all */
ALWAYS_INLINE void deq32(float *dst, __m256i q, float ds, float mm, int min_sign) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    deq8(dst, lo, ds, mm, min_sign);
    deq8(dst + 8, _mm_srli_si128(lo, 8), ds, mm, min_sign);
    deq8(dst + 16, hi, ds, mm, min_sign);
    deq8(dst + 24, _mm_srli_si128(hi, 8), ds, mm, min_sign);
}

/* four bytes at p in every 32-bit lane */
ALWAYS_INLINE __m256i bcast32(const uint8_t *p) {
    int32_t x;
    memcpy(&x, p, 4);
    return _mm256_set1_epi32(x);
}

#endif
