/* Private to src/kernels/: the per-ISA kernel tables that dispatch.c merges, and the few small
 * block-layout helpers the scalar and SIMD files share (so they cannot drift apart).
 * Not for callers outside kernels/: they use quant.h. */
#ifndef SEEK_KERNELS_QUANT_VARIANTS_H
#define SEEK_KERNELS_QUANT_VARIANTS_H

#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"

/* The table one ISA file provides for `t`, or NULL when it has nothing for `t`. A NULL field
 * means "this ISA has no kernel of its own here"; dispatch.c fills it from the ISA below. The
 * SIMD files compile to stubs returning NULL on non-x86 targets. */
const seek_type_kernels *seek_kernels_scalar(seek_dtype t);
const seek_type_kernels *seek_kernels_avx2(seek_dtype t);
const seek_type_kernels *seek_kernels_avx512(seek_dtype t);
/* quant_avx2.c's rows for the k-quants, kept in kquant_avx2.c (NULL for other types) */
const seek_type_kernels *seek_kquant_avx2(seek_dtype t);

/* fp16 -> f32 for all 65536 bit patterns, filled by dispatch.c before it hands out any table.
 * In the per-block loops of the SIMD kernels a load is cheaper than a scalar F16C conversion. */
extern float seek_f16_table[1 << 16];

/* Whether the compiler was allowed to emit AVX-512 VNNI in quant_avx512.c (so dispatch.c must
 * see it in cpuid before choosing AVX-512). */
extern const bool seek_avx512_uses_vnni;

/* Q4_K / Q5_K: the eight 6-bit scales and eight 6-bit mins of a super-block, unpacked from the
 * 12 packed bytes q[] (ggml's get_scale_min_k4), for sub-block j:
 *   j < 4:  sc = q[j] & 63,                          m = q[j+4] & 63
 *   j >= 4: sc = (q[j+4] & 15) | (q[j-4] >> 6) << 4,  m = (q[j+4] >> 4) | (q[j] >> 6) << 4
 * Done four bytes at a time on little-endian words. */
static inline void seek_k4_unpack_scales(const uint8_t q[12], uint8_t sc[8], uint8_t mn[8]) {
    uint32_t w[3], s[2], m[2];
    memcpy(w, q, 12);
    s[0] = w[0] & 0x3f3f3f3fu;
    m[0] = w[1] & 0x3f3f3f3fu;
    s[1] = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);
    m[1] = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4);
    memcpy(sc, s, 8);
    memcpy(mn, m, 8);
}

#if defined(__AVX2__)
#include <immintrin.h>
/* Q6_K, AVX2 files: the 6-bit levels (0..63, stored +32) of values 128h + 32k + l, l < 32, as
 * bytes v[k], from ql bytes 64h .. 64h+31 (la), 64h+32 .. 64h+63 (lb) and qh bytes 32h .. 32h+31
 * (qh): low nibbles of la / lb and high nibbles of la / lb, with qh bits 2k .. 2k+1 on top. */
static inline __attribute__((always_inline)) void seek_q6_levels(__m256i la, __m256i lb, __m256i qh, __m256i v[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    v[0] = _mm256_or_si256(_mm256_and_si256(la, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
    v[1] = _mm256_or_si256(_mm256_and_si256(lb, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
    v[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4), _mm256_and_si256(qh, m30));
    v[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
}
#endif

#endif
