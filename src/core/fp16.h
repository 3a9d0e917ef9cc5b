/* IEEE half (fp16), bfloat16 and fp8 e4m3 conversions, scalar and exact (round to nearest even).
 * SIMD kernels use F16C / AVX-512 instructions directly; these are the reference. */
#ifndef SEEK_CORE_FP16_H
#define SEEK_CORE_FP16_H

#include <stdint.h>
#include <string.h>

typedef uint16_t seek_f16;
typedef uint16_t seek_bf16;

static inline uint32_t seek_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float seek_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float seek_f16_to_f32(seek_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        /* zero or subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return seek_bits_f32(seek_f32_bits(v) | sign);
    }
    if (exp == 31) return seek_bits_f32(sign | 0x7f800000u | (man << 13));
    return seek_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline seek_f16 seek_f32_to_f16(float f) {
    uint32_t x = seek_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (seek_f16)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (seek_f16)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {
        /* result is subnormal or zero: round(ax_value / 2^-24) */
        float v = seek_bits_f32(ax) * 16777216.0f;
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1))) m++;
        return (seek_f16)(sign | m);
    }
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1); /* round to nearest even at bit 13 */
    r -= 112u << 23;
    return (seek_f16)(sign | (r >> 13));
}

static inline float seek_bf16_to_f32(seek_bf16 h) { return seek_bits_f32((uint32_t)h << 16); }

static inline seek_bf16 seek_f32_to_bf16(float f) {
    uint32_t x = seek_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (seek_bf16)((x >> 16) | 64); /* quiet NaN */
    return (seek_bf16)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

#endif
