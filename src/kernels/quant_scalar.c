/* The scalar reference kernels: dequantize, quantize and dot product for every block format we
 * run, written to reproduce ggml's numerics (its quantize_row_*_ref quantizers byte for byte,
 * its dequantizers bit for bit). This file is the specification the SIMD files are tested
 * against. Not for speed (see x86/quant_avx2.c) and not for importance-matrix quantization.
 *
 * Float rounding matters here: every expression keeps ggml's evaluation order, and the file must
 * not be built with -ffast-math or with FMA contraction (-ffp-contract=off where FMA exists). */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/quant_variants.h"

#define GROUP_MAX_EPS 1e-15f /* ggml: below this a group counts as all zero */

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* ggml's nearest_int: round to nearest, ties to even, for |v| <= 2^22, by adding 1.5 * 2^23. */
static inline int nearest_int(float v) {
    float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* ---- F32, F16, BF16: one value per "block"; vec_dot takes F32 activations. ---- */

static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
static void f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

static void f32_vec_dot(int64_t n, float *out, const void *w, const void *a) {
    const float *x = w, *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += x[i] * y[i];
    *out = sum;
}

/* The 16-bit float formats differ only in their conversion pair. */
#define HALF_KERNELS(name, htype, to_f32, from_f32)                                      \
    static void name##_to_float(const void *src, float *dst, int64_t n) {                \
        const htype *x = src;                                                            \
        for (int64_t i = 0; i < n; i++) dst[i] = to_f32(x[i]);                            \
    }                                                                                    \
    static void name##_from_float(const float *src, void *dst, int64_t n) {              \
        htype *y = dst;                                                                  \
        for (int64_t i = 0; i < n; i++) y[i] = from_f32(src[i]);                          \
    }                                                                                    \
    static void name##_vec_dot(int64_t n, float *out, const void *w, const void *a) {    \
        const htype *x = w;                                                              \
        const float *y = a;                                                              \
        float sum = 0.0f;                                                                \
        for (int64_t i = 0; i < n; i++) sum += to_f32(x[i]) * y[i];                       \
        *out = sum;                                                                      \
    }

HALF_KERNELS(f16, seek_f16, seek_f16_to_f32, seek_f32_to_f16)
HALF_KERNELS(bf16, seek_bf16, seek_bf16_to_f32, seek_f32_to_bf16)

/* ---- 32-value blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (weights), Q8_0, Q8_1 (activations) ---- */

/* Block amax and the signed value that has it (the first one, as ggml's strict `<` finds). */
static float block_signed_max(const float *x, int n, float *amax_out) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    *amax_out = amax;
    return max;
}

static void block_min_max(const float *x, int n, float *min_out, float *max_out) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    *min_out = min;
    *max_out = max;
}

/* Packs 32 values of 0..15 into nibbles: values 0..15 low, 16..31 high. */
static void pack_q4(const uint8_t q[QK], uint8_t qs[QK / 2]) {
    for (int j = 0; j < QK / 2; j++) qs[j] = (uint8_t)(q[j] | (q[j + QK / 2] << 4));
}

/* Packs 32 values of 0..31 into low nibbles (values 0..15 low, 16..31 high) and the fifth bits. */
static void pack_q5(const uint8_t q[QK], uint8_t qs[QK / 2], uint8_t qh_out[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + QK / 2] & 0x0f) << 4));
        qh |= (uint32_t)((q[j] & 0x10) >> 4) << j;
        qh |= (uint32_t)((q[j + QK / 2] & 0x10) >> 4) << (j + QK / 2);
    }
    memcpy(qh_out, &qh, 4);
}

static void q4_0_from_float(const float *x, void *dst, int64_t n) {
    block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float amax;
        const float max = block_signed_max(x, QK, &amax);
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = seek_f32_to_f16(d);
        uint8_t q[QK];
        for (int j = 0; j < QK; j++) q[j] = (uint8_t)imin(15, (int8_t)(x[j] * id + 8.5f)); /* ggml truncates to int8, caps at 15 */
        pack_q4(q, y[i].qs);
    }
}

static void q4_1_from_float(const float *x, void *dst, int64_t n) {
    block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float min, max;
        block_min_max(x, QK, &min, &max);
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = seek_f32_to_f16(d);
        y[i].m = seek_f32_to_f16(min);
        uint8_t q[QK];
        for (int j = 0; j < QK; j++) q[j] = (uint8_t)imin(15, (int8_t)((x[j] - min) * id + 0.5f));
        pack_q4(q, y[i].qs);
    }
}

static void q5_0_from_float(const float *x, void *dst, int64_t n) {
    block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float amax;
        const float max = block_signed_max(x, QK, &amax);
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = seek_f32_to_f16(d);
        uint8_t q[QK];
        for (int j = 0; j < QK; j++) q[j] = (uint8_t)imin(31, (int8_t)(x[j] * id + 16.5f));
        pack_q5(q, y[i].qs, y[i].qh);
    }
}

static void q5_1_from_float(const float *x, void *dst, int64_t n) {
    block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float min, max;
        block_min_max(x, QK, &min, &max);
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = seek_f32_to_f16(d);
        y[i].m = seek_f32_to_f16(min);
        uint8_t q[QK];
        for (int j = 0; j < QK; j++) q[j] = (uint8_t)((x[j] - min) * id + 0.5f); /* no cap, as ggml */
        pack_q5(q, y[i].qs, y[i].qh);
    }
}

/* Q8_0 and Q8_1 share the scale and rounding: d = amax/127, q = roundf(x / d) (ties away). */
static float q8_block_quantize(const float *x, int8_t q[QK], int *sum) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    int s = 0;
    for (int j = 0; j < QK; j++) {
        q[j] = (int8_t)roundf(x[j] * id);
        s += q[j];
    }
    *sum = s;
    return d;
}

static void q8_0_from_float(const float *x, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        int sum;
        y[i].d = seek_f32_to_f16(q8_block_quantize(x, y[i].qs, &sum));
    }
}

static void q8_1_from_float(const float *x, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        int sum;
        const float d = q8_block_quantize(x, y[i].qs, &sum);
        y[i].d = seek_f32_to_f16(d);
        y[i].s = seek_f32_to_f16((float)sum * d); /* from the float d, as ggml */
    }
}

/* One 32-block of any of these formats as integers: x[j] = q[j] * d (+ m when has_min). */
typedef struct {
    int8_t q[QK];
    float d, m;
} block32_ints;

static inline void unpack_nibbles(const uint8_t qs[QK / 2], int8_t q[QK], int offset) {
    for (int j = 0; j < QK / 2; j++) {
        q[j] = (int8_t)((qs[j] & 0x0f) - offset);
        q[j + QK / 2] = (int8_t)((qs[j] >> 4) - offset);
    }
}

static inline void unpack_fifth_bits(const uint8_t qh_bytes[4], int8_t q[QK]) {
    uint32_t qh;
    memcpy(&qh, qh_bytes, 4);
    for (int j = 0; j < QK; j++) q[j] = (int8_t)(q[j] + (int8_t)(((qh >> j) & 1) << 4));
}

static inline void q4_0_unpack(const void *blk, block32_ints *b) {
    const block_q4_0 *x = blk;
    b->d = seek_f16_to_f32(x->d);
    b->m = 0.0f;
    unpack_nibbles(x->qs, b->q, 8);
}
static inline void q4_1_unpack(const void *blk, block32_ints *b) {
    const block_q4_1 *x = blk;
    b->d = seek_f16_to_f32(x->d);
    b->m = seek_f16_to_f32(x->m);
    unpack_nibbles(x->qs, b->q, 0);
}
static inline void q5_0_unpack(const void *blk, block32_ints *b) {
    const block_q5_0 *x = blk;
    b->d = seek_f16_to_f32(x->d);
    b->m = 0.0f;
    unpack_nibbles(x->qs, b->q, 0);
    unpack_fifth_bits(x->qh, b->q);
    for (int j = 0; j < QK; j++) b->q[j] = (int8_t)(b->q[j] - 16);
}
static inline void q5_1_unpack(const void *blk, block32_ints *b) {
    const block_q5_1 *x = blk;
    b->d = seek_f16_to_f32(x->d);
    b->m = seek_f16_to_f32(x->m);
    unpack_nibbles(x->qs, b->q, 0);
    unpack_fifth_bits(x->qh, b->q);
}
static inline void q8_0_unpack(const void *blk, block32_ints *b) {
    const block_q8_0 *x = blk;
    b->d = seek_f16_to_f32(x->d);
    b->m = 0.0f;
    memcpy(b->q, x->qs, QK);
}

typedef void (*unpack32_fn)(const void *blk, block32_ints *b);

/* Dequantize: q*d, or q*d + m (two roundings, as ggml; the +m is skipped when there is no min
 * so that a zero keeps its sign). Inlined with a constant `unpack`. */
static inline void block32_to_float(const void *src, float *dst, int64_t n, size_t bytes, bool has_min,
                                    unpack32_fn unpack) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n / QK; i++, p += bytes, dst += QK) {
        block32_ints b;
        unpack(p, &b);
        for (int j = 0; j < QK; j++) dst[j] = has_min ? (float)b.q[j] * b.d + b.m : (float)b.q[j] * b.d;
    }
}

/* Dot with Q8_0 activations (has_min = false) or Q8_1 ones (has_min: adds m_w * s_a, where
 * s_a = d_a * sum(q_a)): sum over blocks of d_w*d_a*sum(q_w*q_a) [+ m_w*s_a]. */
static inline void block32_vec_dot(int64_t n, float *out, const void *w, size_t bytes, const void *a,
                                   bool has_min, unpack32_fn unpack) {
    const uint8_t *p = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++, p += bytes) {
        block32_ints b;
        unpack(p, &b);
        const int8_t *qa;
        float da, sa = 0.0f;
        if (has_min) {
            const block_q8_1 *y = (const block_q8_1 *)a + i;
            qa = y->qs;
            da = seek_f16_to_f32(y->d);
            sa = seek_f16_to_f32(y->s);
        } else {
            const block_q8_0 *y = (const block_q8_0 *)a + i;
            qa = y->qs;
            da = seek_f16_to_f32(y->d);
        }
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += b.q[j] * qa[j];
        sum += (b.d * da) * (float)sumi;
        if (has_min) sum += b.m * sa;
    }
    *out = sum;
}

#define BLOCK32_KERNELS(name, block_t, has_min)                                                   \
    static void name##_to_float(const void *src, float *dst, int64_t n) {                          \
        block32_to_float(src, dst, n, sizeof(block_t), has_min, name##_unpack);                    \
    }                                                                                              \
    static void name##_vec_dot(int64_t n, float *out, const void *w, const void *a) {              \
        block32_vec_dot(n, out, w, sizeof(block_t), a, has_min, name##_unpack);                    \
    }

BLOCK32_KERNELS(q4_0, block_q4_0, false)
BLOCK32_KERNELS(q4_1, block_q4_1, true)
BLOCK32_KERNELS(q5_0, block_q5_0, false)
BLOCK32_KERNELS(q5_1, block_q5_1, true)
BLOCK32_KERNELS(q8_0, block_q8_0, false)

static void q8_1_to_float(const void *src, float *dst, int64_t n) {
    const block_q8_1 *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = seek_f16_to_f32(x[i].d);
        for (int j = 0; j < QK; j++) dst[i * QK + j] = (float)x[i].qs[j] * d;
    }
}

/* ---- k-quants: 256-value super-blocks ---- */

/* ggml's make_qkx2_quants: levels L[i] in 0..nmax and (scale, min) minimising the weighted
 * squared error of scale*L + min, trying nstep+1 candidate scales around nmax/(max-min).
 * Returns the scale; *the_min gets -min (>= 0). */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_err = 0;
    for (int i = 0; i < n; i++) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        best_err += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = imax(0, imin(nmax, l));
            Laux[i] = (uint8_t)l;
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = diff * diff;
                err += weights[i] * diff;
            }
            if (err < best_err) {
                memcpy(L, Laux, (size_t)n);
                best_err = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* ggml's make_qx_quants with rmse_type 1 and no importance weights: symmetric levels
 * L[i] - nmax in -nmax..nmax-1, scale chosen among 19 candidates to minimise sum x^2 * err^2. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = imax(-nmax, imin(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = imax(-nmax, imin(nmax - 1, l));
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                const int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* The shared front half of the Q4_K and Q5_K quantizers (ggml's quantize_row_q{4,5}_K_ref):
 * per 32-value sub-block an asymmetric fit, 6-bit scales and mins relative to the super-block's
 * d and dmin, then the levels 0..nmax recomputed against the rounded scales. Writes d, dmin and
 * scales[12] through the pointers and the levels to L[256]. */
static void quantize_k4_superblock(const float *x, int nmax, float rmin, int nstep, seek_f16 *d_out,
                                   seek_f16 *dmin_out, uint8_t scales_out[K_SCALE_SIZE], uint8_t L[QK_K]) {
    float weights[32], mins[QK_K / 32], scales[QK_K / 32];
    uint8_t Laux[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t *q = scales_out;
    memset(q, 0, K_SCALE_SIZE);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            q[j] = ls;
            q[j + 4] = lm;
        } else {
            q[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
            q[j - 4] |= (uint8_t)((ls >> 4) << 6);
            q[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d_out = seek_f32_to_f16(max_scale / 63.f);
    *dmin_out = seek_f32_to_f16(max_min / 63.f);

    uint8_t sc[8], mn[8];
    seek_k4_unpack_scales(q, sc, mn);
    for (int j = 0; j < QK_K / 32; j++) {
        const float d = seek_f16_to_f32(*d_out) * sc[j];
        if (!d) continue; /* keep the levels from the fit, as ggml does */
        const float dm = seek_f16_to_f32(*dmin_out) * mn[j];
        for (int ii = 0; ii < 32; ii++) {
            const int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

/* The k-quant level layouts (levels 0..nmax, the scales untouched). Q4_K: 64 values per 32
 * bytes, sub-block 2k in the low nibbles, 2k+1 in the high ones. */
static void pack_q4_K_levels(block_q4_K *y, const uint8_t L[QK_K]) {
    for (int j = 0; j < QK_K; j += 64)
        for (int l = 0; l < 32; l++) y->qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
}

/* Q5_K: as Q4_K for the low four bits; bit 4 of the value in sub-block s is bit s of qh[l]. */
static void pack_q5_K_levels(block_q5_K *y, const uint8_t L[QK_K]) {
    memset(y->qh, 0, sizeof y->qh);
    for (int j = 0; j < QK_K; j += 64) {
        for (int l = 0; l < 32; l++) {
            const int s = j / 32;
            const int l1 = L[j + l], l2 = L[j + l + 32];
            y->qh[l] |= (uint8_t)(((l1 >> 4) << s) | ((l2 >> 4) << (s + 1)));
            y->qs[j / 2 + l] = (uint8_t)((l1 & 0xf) | ((l2 & 0xf) << 4));
        }
    }
}

/* Q6_K (levels 0..63): per 128 values, ql[l] holds values l (low nibble) and l+64 (high),
 * ql[l+32] holds l+32 and l+96; qh[l] holds the top two bits of l, l+32, l+64, l+96. */
static void pack_q6_K_levels(block_q6_K *y, const uint8_t L[QK_K]) {
    uint8_t *ql = y->ql, *qh = y->qh;
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; l++) {
            const uint8_t *v = L + j + l;
            ql[l] = (uint8_t)((v[0] & 0xf) | ((v[64] & 0xf) << 4));
            ql[l + 32] = (uint8_t)((v[32] & 0xf) | ((v[96] & 0xf) << 4));
            qh[l] = (uint8_t)((v[0] >> 4) | ((v[32] >> 4) << 2) | ((v[64] >> 4) << 4) | ((v[96] >> 4) << 6));
        }
    }
}

static void q4_K_from_float(const float *x, void *dst, int64_t n) {
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        quantize_k4_superblock(x, 15, -1.0f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
        pack_q4_K_levels(&y[i], L);
    }
}

static void q5_K_from_float(const float *x, void *dst, int64_t n) {
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        quantize_k4_superblock(x, 31, -0.5f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        pack_q5_K_levels(&y[i], L);
    }
}

static void q6_K_from_float(const float *x, void *dst, int64_t n) {
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) {
                max_abs_scale = fabsf(scale);
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[i].d = seek_f32_to_f16(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ib++) y[i].scales[ib] = (int8_t)imin(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = seek_f16_to_f32(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                const int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(imax(-32, imin(31, l)) + 32);
            }
        }
        pack_q6_K_levels(&y[i], (const uint8_t *)L);
    }
}

static void q8_K_from_float(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (!amax) {
            /* ggml leaves bsums unwritten here; zero is their value */
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) y[i].qs[j] = (int8_t)imin(127, nearest_int(iscale * x[j]));
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++) sum += y[i].qs[16 * j + ii];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

static void q8_K_to_float(const void *src, float *dst, int64_t n) {
    const block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j++) dst[i * QK_K + j] = x[i].d * (float)x[i].qs[j];
}

/* One super-block as integers: x[j] = (d * scale[j/16]) * q[j] - dmin * min[j/16] (the second
 * term only for the formats with mins). Q4_K/Q5_K repeat each 32-sub-block scale twice. */
typedef struct {
    int8_t q[QK_K];
    int16_t scale[QK_K / 16], min[QK_K / 16];
    float d, dmin;
} kblock_ints;

/* The parts Q4_K and Q5_K share: d, dmin, the 6-bit scales/mins and the low nibbles. */
static inline void k4_unpack_common(seek_f16 d, seek_f16 dmin, const uint8_t *scales, const uint8_t *qs, kblock_ints *b) {
    uint8_t sc[8], mn[8];
    seek_k4_unpack_scales(scales, sc, mn);
    b->d = seek_f16_to_f32(d);
    b->dmin = seek_f16_to_f32(dmin);
    for (int g = 0; g < QK_K / 16; g++) {
        b->scale[g] = sc[g / 2];
        b->min[g] = mn[g / 2];
    }
    for (int j = 0; j < QK_K; j++) {
        const uint8_t byte = qs[(j / 64) * 32 + j % 32];
        b->q[j] = (int8_t)((j / 32) % 2 ? byte >> 4 : byte & 0xf);
    }
}

static inline void q4_K_unpack(const void *blk, kblock_ints *b) {
    const block_q4_K *x = blk;
    k4_unpack_common(x->d, x->dmin, x->scales, x->qs, b);
}

static inline void q5_K_unpack(const void *blk, kblock_ints *b) {
    const block_q5_K *x = blk;
    k4_unpack_common(x->d, x->dmin, x->scales, x->qs, b);
    for (int j = 0; j < QK_K; j++) b->q[j] = (int8_t)(b->q[j] | ((x->qh[j % 32] >> (j / 32)) & 1) << 4);
}

static inline void q6_K_unpack(const void *blk, kblock_ints *b) {
    const block_q6_K *x = blk;
    b->d = seek_f16_to_f32(x->d);
    b->dmin = 0.0f;
    for (int g = 0; g < QK_K / 16; g++) {
        b->scale[g] = x->scales[g];
        b->min[g] = 0;
    }
    for (int j = 0; j < QK_K; j++) {
        const int h = j / 128, r = j % 128; /* half, and position in it */
        const uint8_t lbyte = x->ql[64 * h + r % 64];
        const int lo = r < 64 ? lbyte & 0xf : lbyte >> 4;
        const int hi = (x->qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
        b->q[j] = (int8_t)((lo | hi << 4) - 32);
    }
}

typedef void (*unpack_k_fn)(const void *blk, kblock_ints *b);

static inline void kblock_to_float(const void *src, float *dst, int64_t n, size_t bytes, bool has_min,
                                   unpack_k_fn unpack) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n / QK_K; i++, p += bytes, dst += QK_K) {
        kblock_ints b;
        unpack(p, &b);
        for (int j = 0; j < QK_K; j++) {
            const float ds = b.d * b.scale[j / 16];
            dst[j] = has_min ? ds * b.q[j] - b.dmin * b.min[j / 16] : ds * b.q[j];
        }
    }
}

/* Dot with Q8_K activations, per super-block:
 *   d_a*d_w * sum_g scale[g] * sum_{j in g} q_w[j]*q_a[j]  -  d_a*dmin_w * sum_g min[g]*bsums[g]. */
static inline void kblock_vec_dot(int64_t n, float *out, const void *w, size_t bytes, const void *a, bool has_min,
                                  unpack_k_fn unpack) {
    const uint8_t *p = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, p += bytes) {
        kblock_ints b;
        unpack(p, &b);
        int isum = 0, imins = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int j = 16 * g; j < 16 * g + 16; j++) s += b.q[j] * y[i].qs[j];
            isum += b.scale[g] * s;
            imins += b.min[g] * y[i].bsums[g];
        }
        sum += (y[i].d * b.d) * (float)isum;
        if (has_min) sum -= (y[i].d * b.dmin) * (float)imins;
    }
    *out = sum;
}

#define KBLOCK_KERNELS(name, block_t, has_min)                                                    \
    static void name##_to_float(const void *src, float *dst, int64_t n) {                          \
        kblock_to_float(src, dst, n, sizeof(block_t), has_min, name##_unpack);                     \
    }                                                                                              \
    static void name##_vec_dot(int64_t n, float *out, const void *w, const void *a) {              \
        kblock_vec_dot(n, out, w, sizeof(block_t), a, has_min, name##_unpack);                     \
    }

KBLOCK_KERNELS(q4_K, block_q4_K, true)
KBLOCK_KERNELS(q5_K, block_q5_K, true)
KBLOCK_KERNELS(q6_K, block_q6_K, false)

/* ---- the table ---- */

#define ROW(T, ACT, name, dot) \
    [T] = {.type = T, .act_type = ACT, .to_float = name##_to_float, .from_float = name##_from_float, .vec_dot = dot}

static const seek_type_kernels scalar_table[SEEK_TYPE_COUNT] = {
    ROW(SEEK_TYPE_F32, SEEK_TYPE_F32, f32, f32_vec_dot),
    ROW(SEEK_TYPE_F16, SEEK_TYPE_F32, f16, f16_vec_dot),
    ROW(SEEK_TYPE_BF16, SEEK_TYPE_F32, bf16, bf16_vec_dot),
    ROW(SEEK_TYPE_Q4_0, SEEK_TYPE_Q8_0, q4_0, q4_0_vec_dot),
    ROW(SEEK_TYPE_Q4_1, SEEK_TYPE_Q8_1, q4_1, q4_1_vec_dot),
    ROW(SEEK_TYPE_Q5_0, SEEK_TYPE_Q8_0, q5_0, q5_0_vec_dot),
    ROW(SEEK_TYPE_Q5_1, SEEK_TYPE_Q8_1, q5_1, q5_1_vec_dot),
    ROW(SEEK_TYPE_Q8_0, SEEK_TYPE_Q8_0, q8_0, q8_0_vec_dot),
    ROW(SEEK_TYPE_Q8_1, SEEK_TYPE_Q8_1, q8_1, NULL),
    ROW(SEEK_TYPE_Q4_K, SEEK_TYPE_Q8_K, q4_K, q4_K_vec_dot),
    ROW(SEEK_TYPE_Q5_K, SEEK_TYPE_Q8_K, q5_K, q5_K_vec_dot),
    ROW(SEEK_TYPE_Q6_K, SEEK_TYPE_Q8_K, q6_K, q6_K_vec_dot),
    ROW(SEEK_TYPE_Q8_K, SEEK_TYPE_Q8_K, q8_K, NULL),
};

const seek_type_kernels *seek_kernels_scalar(seek_dtype t) {
    if ((unsigned)t >= SEEK_TYPE_COUNT || scalar_table[t].to_float == NULL) return NULL;
    return &scalar_table[t];
}

/* ---- the grid of a quantized block, and rewriting its levels (GPTQ, quant/gptq.c) ---- */

bool seek_block_grid_get(seek_dtype t, const void *blk, seek_block_grid *g) {
    block32_ints b;
    kblock_ints k;
    switch (t) {
    case SEEK_TYPE_Q4_0: q4_0_unpack(blk, &b); *g = (seek_block_grid){QK, 1, -8, 7, {b.d}, {0}}; return true;
    case SEEK_TYPE_Q4_1: q4_1_unpack(blk, &b); *g = (seek_block_grid){QK, 1, 0, 15, {b.d}, {b.m}}; return true;
    case SEEK_TYPE_Q5_0: q5_0_unpack(blk, &b); *g = (seek_block_grid){QK, 1, -16, 15, {b.d}, {0}}; return true;
    case SEEK_TYPE_Q5_1: q5_1_unpack(blk, &b); *g = (seek_block_grid){QK, 1, 0, 31, {b.d}, {b.m}}; return true;
    case SEEK_TYPE_Q8_0: q8_0_unpack(blk, &b); *g = (seek_block_grid){QK, 1, -127, 127, {b.d}, {0}}; return true;
    case SEEK_TYPE_Q4_K: q4_K_unpack(blk, &k); *g = (seek_block_grid){16, QK_K / 16, 0, 15, {0}, {0}}; break;
    case SEEK_TYPE_Q5_K: q5_K_unpack(blk, &k); *g = (seek_block_grid){16, QK_K / 16, 0, 31, {0}, {0}}; break;
    case SEEK_TYPE_Q6_K: q6_K_unpack(blk, &k); *g = (seek_block_grid){16, QK_K / 16, -32, 31, {0}, {0}}; break;
    default: return false;
    }
    for (int s = 0; s < QK_K / 16; s++) {
        g->scale[s] = k.d * k.scale[s];
        g->offset[s] = -k.dmin * k.min[s];
    }
    return true;
}

void seek_block_set_levels(seek_dtype t, void *blk, const int8_t *q) {
    uint8_t u[QK_K];
    const int n = t == SEEK_TYPE_Q4_K || t == SEEK_TYPE_Q5_K || t == SEEK_TYPE_Q6_K ? QK_K : QK;
    const int bias = t == SEEK_TYPE_Q4_0 ? 8 : t == SEEK_TYPE_Q5_0 ? 16 : t == SEEK_TYPE_Q6_K ? 32 : 0;
    for (int j = 0; j < n; j++) u[j] = (uint8_t)(q[j] + bias);
    switch (t) {
    case SEEK_TYPE_Q4_0: pack_q4(u, ((block_q4_0 *)blk)->qs); break;
    case SEEK_TYPE_Q4_1: pack_q4(u, ((block_q4_1 *)blk)->qs); break;
    case SEEK_TYPE_Q5_0: pack_q5(u, ((block_q5_0 *)blk)->qs, ((block_q5_0 *)blk)->qh); break;
    case SEEK_TYPE_Q5_1: pack_q5(u, ((block_q5_1 *)blk)->qs, ((block_q5_1 *)blk)->qh); break;
    case SEEK_TYPE_Q8_0: memcpy(((block_q8_0 *)blk)->qs, q, QK); break;
    case SEEK_TYPE_Q4_K: pack_q4_K_levels(blk, u); break;
    case SEEK_TYPE_Q5_K: pack_q5_K_levels(blk, u); break;
    case SEEK_TYPE_Q6_K: pack_q6_K_levels(blk, u); break;
    default: break;
    }
}
