/* AVX2 k-quant kernels (Q4_K, Q5_K, Q6_K against Q8_K activations): the one-row and tiled
 * products, the panels the rows are repacked into at load, and dequantization. Built with
 * -mavx2 -mfma -mf16c -mbmi2 like quant_avx2.c, whose table hands these out. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "kernels/quant_variants.h"

#if defined(__x86_64__) || defined(__i386__)
#include "kernels/x86/avx2_util.h"

/* ---- k-quants against Q8_K: a tile of 1 .. KQ_TOKS activation rows against one weight row.
 * vec_dot is the one-row tile; the gemm takes a weight row's super-block unpacked once (scales,
 * nibbles, fifth and sixth bits, scale shuffles) for the tile's rows. Each super-block's sums are
 * exact integers that meet the floats once, in one float lane per (row, token):
 *   Q4_K / Q5_K: isum = sum_g sc[g] * dot_g, msum = sum_g mn[g] * (bsums[2g] + bsums[2g+1]),
 *     acc = fma(d_a * d_w, isum, acc), acc_m = fma(d_a * dmin_w, msum, acc_m), out = acc - acc_m;
 *   Q6_K: isum = sum_g sc[g] * dot_g (levels -32..31), acc = fma(d_a * d_w, isum, acc).
 * Integer sums are exact in any order, so the tiles, and the repacked kernels further down that
 * keep 8 rows in one vector, give vec_dot's bits whatever the batch. ---- */

#define KQ_TOKS 6 /* KQUANT_GEMM's switch has a case for each tile size up to this */
/* a loop over the tile's tokens, unrolled so that per-token vectors stay in registers */
#define FOR_TOK(t) _Pragma("GCC unroll 6") for (int t = 0; t < T; t++)

/* 32 values of Q6_K (stored +32, so 0..63) times 32 activations, scaled by the sub-block scales
 * of the two 16-halves (sc16: int16 [s_g x8 | s_g+1 x8]); maddubs on the unsigned value, then
 * subtract 32*q8. */
ALWAYS_INLINE __m256i q6_dot32(__m256i v, const int8_t *q8, __m256i sc16) {
    const __m256i qa = _mm256_loadu_si256((const __m256i *)q8);
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(v, qa), _mm256_maddubs_epi16(_mm256_set1_epi8(32), qa));
    return _mm256_madd_epi16(p, sc16);
}

/* Scales g and g+1 of the 16 int8 scales as int16 [s_g x8 | s_g+1 x8]. */
ALWAYS_INLINE __m256i q6_scale_pair(__m128i sc8, int g) {
    const __m128i pick = _mm_add_epi8(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), _mm_set1_epi8((char)g));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, pick));
}

/* Q4_K and Q5_K: per 64 values, the low-nibble half is sub-block 2j and the high half 2j+1;
 * Q5_K adds bit 2j / 2j+1 of qh[l] as bit 4. */
typedef struct { /* a Q4_K / Q5_K super-block's parts */
    const uint8_t *qs;
    __m256i hbits; /* Q5_K: qh, shifted down 2 bits per 64 values taken */
    float d, dmin;
    uint8_t sc[8], mn[8];
} k4_parts;

ALWAYS_INLINE void k4_block(const void *w, int64_t i, const bool five, k4_parts *p) {
    const uint8_t *scales;
    seek_f16 d16, dmin16;
    p->hbits = _mm256_setzero_si256();
    if (five) {
        const block_q5_K *x = (const block_q5_K *)w + i;
        p->qs = x->qs, scales = x->scales, d16 = x->d, dmin16 = x->dmin;
        p->hbits = _mm256_loadu_si256((const __m256i *)x->qh);
    } else {
        const block_q4_K *x = (const block_q4_K *)w + i;
        p->qs = x->qs, scales = x->scales, d16 = x->d, dmin16 = x->dmin;
    }
    seek_k4_unpack_scales(scales, p->sc, p->mn);
    p->d = seek_f16_table[d16];
    p->dmin = seek_f16_table[dmin16];
}

/* The levels of sub-blocks 2j (lo) and 2j+1 (hi) as bytes; call for j = 0, 1, 2, 3 in turn */
ALWAYS_INLINE void k4_levels(k4_parts *p, int j, const bool five, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    const __m256i bits = _mm256_loadu_si256((const __m256i *)(p->qs + 32 * j));
    *lo = _mm256_and_si256(bits, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
    if (five) {
        *lo = _mm256_or_si256(*lo, _mm256_slli_epi16(_mm256_and_si256(p->hbits, one), 4));
        *hi = _mm256_or_si256(*hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(p->hbits, 1), one), 4));
        p->hbits = _mm256_srli_epi16(p->hbits, 2);
    }
}

ALWAYS_INLINE void k4_tile(int T, int64_t n, float *out, int64_t os, const void *w, const uint8_t *a, size_t as, bool five) {
    const block_q8_K *y[KQ_TOKS];
    float acc[KQ_TOKS], acc_m[KQ_TOKS];
    FOR_TOK(t) {
        y[t] = (const block_q8_K *)(a + (size_t)t * as);
        acc[t] = acc_m[t] = 0;
    }
    for (int64_t i = 0; i < n / QK_K; i++) {
        k4_parts p;
        k4_block(w, i, five, &p);
        const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)p.mn));
        FOR_TOK(t) {
            const __m256i bs = _mm256_loadu_si256((const __m256i *)y[t][i].bsums);
            const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            acc_m[t] = fmaf(y[t][i].d * p.dmin, (float)hsum_epi32_128(_mm_madd_epi16(mins, pairs)), acc_m[t]);
        }
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)p.sc)));
        __m256i sum[KQ_TOKS];
        FOR_TOK(t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < QK_K / 64; j++) {
            __m256i lo, hi;
            k4_levels(&p, j, five, &lo, &hi);
            const __m256i slo = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j))));
            const __m256i shi = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
            FOR_TOK(t) {
                const int8_t *q8 = y[t][i].qs + 64 * j;
                const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
                const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
                sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(_mm256_madd_epi16(plo, slo), _mm256_madd_epi16(phi, shi)));
            }
        }
        FOR_TOK(t) acc[t] = fmaf(y[t][i].d * p.d, (float)hsum_epi32(sum[t]), acc[t]);
    }
    FOR_TOK(t) out[t * os] = acc[t] - acc_m[t];
}

/* Q6_K: per 128 values, ql[0..31] low/high nibbles are values 0..31 / 64..95, ql[32..63] are
 * 32..63 / 96..127, qh bits 2k..2k+1 are the top bits of the k-th 32. */
ALWAYS_INLINE void q6_tile(int T, int64_t n, float *out, int64_t os, const void *w, const uint8_t *a, size_t as) {
    const block_q6_K *x = w;
    const block_q8_K *y[KQ_TOKS];
    float acc[KQ_TOKS];
    FOR_TOK(t) {
        y[t] = (const block_q8_K *)(a + (size_t)t * as);
        acc[t] = 0;
    }
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m256i sum[KQ_TOKS];
        FOR_TOK(t) sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m256i la = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            const __m256i lb = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i v[4];
            seek_q6_levels(la, lb, qh, v);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m256i s = q6_scale_pair(sc8, 8 * h + 2 * k);
                FOR_TOK(t) sum[t] = _mm256_add_epi32(sum[t], q6_dot32(v[k], y[t][i].qs + 128 * h + 32 * k, s));
            }
        }
        FOR_TOK(t) acc[t] = fmaf(y[t][i].d * seek_f16_table[x[i].d], (float)hsum_epi32(sum[t]), acc[t]);
    }
    FOR_TOK(t) out[t * os] = acc[t];
}

/* x = (d * sc) * q - dmin * mn per 32-value sub-block (Q5_K: q has its fifth bit) */
ALWAYS_INLINE void k4_to_float(const void *src, float *dst, int64_t n, bool five) {
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        k4_parts p;
        k4_block(src, i, five, &p);
        for (int j = 0; j < QK_K / 64; j++) {
            __m256i lo, hi;
            k4_levels(&p, j, five, &lo, &hi);
            deq32(dst + 64 * j, lo, p.d * p.sc[2 * j], p.dmin * p.mn[2 * j], -1);
            deq32(dst + 64 * j + 32, hi, p.d * p.sc[2 * j + 1], p.dmin * p.mn[2 * j + 1], -1);
        }
    }
}
static void q4_K_to_float(const void *src, float *dst, int64_t n) { k4_to_float(src, dst, n, false); }
static void q5_K_to_float(const void *src, float *dst, int64_t n) { k4_to_float(src, dst, n, true); }

/* x = (d * sc) * (level - 32) per 16-value sub-block */
static void q6_K_to_float(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const block_q6_K *x = (const block_q6_K *)src + i;
        const float d = seek_f16_to_f32(x->d);
        for (int h = 0; h < 2; h++) {
            __m256i v[4];
            seek_q6_levels(_mm256_loadu_si256((const __m256i *)(x->ql + 64 * h)),
                           _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32)),
                           _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h)), v);
            for (int k = 0; k < 4; k++) {
                const __m256i q = _mm256_sub_epi8(v[k], _mm256_set1_epi8(32));
                const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
                const int g = 8 * h + 2 * k;
                float *o = dst + 128 * h + 32 * k;
                deq8(o, lo, d * x->scales[g], 0, 0);
                deq8(o + 8, _mm_srli_si128(lo, 8), d * x->scales[g], 0, 0);
                deq8(o + 16, hi, d * x->scales[g + 1], 0, 0);
                deq8(o + 24, _mm_srli_si128(hi, 8), d * x->scales[g + 1], 0, 0);
            }
        }
    }
}

static void q4_K_vec_dot(int64_t n, float *out, const void *w, const void *a) { k4_tile(1, n, out, 0, w, a, 0, false); }
static void q5_K_vec_dot(int64_t n, float *out, const void *w, const void *a) { k4_tile(1, n, out, 0, w, a, 0, true); }
static void q6_K_vec_dot(int64_t n, float *out, const void *w, const void *a) { q6_tile(1, n, out, 0, w, a, 0); }

/* out[t * os + r] for rows r < nr and tokens t < nt: token tiles of KQ_TOKS, rows inside */
#define KQUANT_GEMM(name, TILE_CALL)                                                                                   \
    static void name(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, size_t as, \
                     int64_t nt) {                                                                                     \
        for (int64_t t0 = 0; t0 < nt; t0 += KQ_TOKS) {                                                                 \
            const int T = nt - t0 < KQ_TOKS ? (int)(nt - t0) : KQ_TOKS;                                                \
            const uint8_t *at = (const uint8_t *)a + (size_t)t0 * as;                                                  \
            for (int64_t r = 0; r < nr; r++) {                                                                         \
                const void *wr = (const uint8_t *)w + (size_t)r * ws;                                                  \
                float *o = out + t0 * os + r;                                                                          \
                switch (T) {                                                                                           \
                case 1: TILE_CALL(1); break;                                                                           \
                case 2: TILE_CALL(2); break;                                                                           \
                case 3: TILE_CALL(3); break;                                                                           \
                case 4: TILE_CALL(4); break;                                                                           \
                case 5: TILE_CALL(5); break;                                                                           \
                default: TILE_CALL(6); break;                                                                          \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }
#define Q4K_TILE(T_) k4_tile(T_, n, o, os, wr, at, as, false)
#define Q5K_TILE(T_) k4_tile(T_, n, o, os, wr, at, as, true)
#define Q6K_TILE(T_) q6_tile(T_, n, o, os, wr, at, as)
KQUANT_GEMM(q4_K_gemm, Q4K_TILE)
KQUANT_GEMM(q5_K_gemm, Q5K_TILE)
KQUANT_GEMM(q6_K_gemm, Q6K_TILE)

/* ---- Q4_K and Q5_K repacked at load: panels of 8 rows, one panel super-block the size of the
 * 8 row blocks it holds (1152 / 1408 bytes), so row offsets stay as they were:
 *   [0, 1024): 32 vectors; vector v = 8j + w, bytes 4r .. 4r+3 = row r's qs bytes 4v .. 4v+3, so
 *     its low nibbles are values 64j + 4w .. +3 (sub-block 2j) and its high nibbles values
 *     64j + 32 + 4w .. +3 (sub-block 2j + 1) of the 8 rows;
 *   Q5_K only, [1024, 1280): qh as 8 vectors, vector w bytes 4r .. 4r+3 = row r's qh bytes
 *     4w .. 4w+3 (bit 2j / 2j+1 is the fifth bit of vector 8j + w's low / high nibbles);
 *   then 96 bytes: the 12 packed 6-bit scale bytes transposed, byte 8b + r = row r's scales[b];
 *   then the 8 rows' d (16 bytes) and their dmin (16 bytes).
 * One broadcast 4-byte word of Q8_K activations meets 8 rows' values in one maddubs; 8 (Q5_K: 4)
 * of those (levels 0..15 against |a| <= 127: 8 * 2 * 15 * 127 <= 32767; 0..31: 4 * 2 * 31 *
 * 127) sum exactly in int16 before one madd with the 8 rows' sub-block scales. The float steps
 * are vec_dot's (k4_tile), lane r for row r: every output is bit for bit what vec_dot gives on
 * the rows as they were. ---- */
#define KP_ROWS 8
#define KP_TOKS 4      /* activation rows per microkernel */
#define KP_MAX_NB 128  /* super-blocks per row at most (n <= 32768) */
#define KP_SC 1024 /* where Q4_K's scales (Q5_K's qh) start */
#define KP_L2_BYTES (256 * 1024) /* panels of one row block: they stay in L2 while token tiles pass */

typedef struct { /* block-major, as pk_acts */
    float d[KP_MAX_NB][KP_TOKS];
    int16_t bsp[KP_MAX_NB][KP_TOKS][8]; /* bsums[2g] + bsums[2g+1]: the sum of sub-block g's 32 values */
} kp_acts;

static void kp_prep(int T, int64_t nb, kp_acts *p, const uint8_t *a, size_t as, bool pairs) {
    for (int t = 0; t < T; t++)
        for (int64_t b = 0; b < nb; b++) {
            const block_q8_K *y = (const block_q8_K *)(a + (size_t)t * as) + b;
            p->d[b][t] = y->d;
            if (pairs)
                for (int g = 0; g < 8; g++) p->bsp[b][t][g] = (int16_t)(y->bsums[2 * g] + y->bsums[2 * g + 1]);
        }
}

/* The 8 rows' 6-bit scales and mins from the transposed bytes q (seek_k4_unpack_scales on 8 rows
 * at once): sc[k] holds sub-blocks 2k (bytes 0-7, one per row) and 2k+1 (bytes 8-15); mn alike. */
ALWAYS_INLINE void kp_scales(const uint8_t *q, __m128i sc[4], __m128i mn[4]) {
    const __m128i m63 = _mm_set1_epi8(63), m0f = _mm_set1_epi8(0x0f), m30 = _mm_set1_epi8(0x30);
    __m128i b[6]; /* b[k]: scale bytes 2k and 2k+1 of the 8 rows */
    for (int k = 0; k < 6; k++) b[k] = _mm_loadu_si128((const __m128i *)(q + 16 * k));
    sc[0] = _mm_and_si128(b[0], m63);
    sc[1] = _mm_and_si128(b[1], m63);
    mn[0] = _mm_and_si128(b[2], m63);
    mn[1] = _mm_and_si128(b[3], m63);
    /* sub-blocks 4-7: low / high nibble of bytes 8-11, top two bits of bytes 0-3 / 4-7 */
    sc[2] = _mm_or_si128(_mm_and_si128(b[4], m0f), _mm_and_si128(_mm_srli_epi16(b[0], 2), m30));
    sc[3] = _mm_or_si128(_mm_and_si128(b[5], m0f), _mm_and_si128(_mm_srli_epi16(b[1], 2), m30));
    mn[2] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(b[4], 4), m0f), _mm_and_si128(_mm_srli_epi16(b[2], 2), m30));
    mn[3] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(b[5], 4), m0f), _mm_and_si128(_mm_srli_epi16(b[3], 2), m30));
}

/* int16 [s_0, s_0, s_1, s_1, .., s_7, s_7]: sub-block g's scale of each row, twice (madd pairs) */
ALWAYS_INLINE __m256i kp_scale_vec(const __m128i *sc, int g) {
    const __m128i x = sc[g / 2];
    return _mm256_cvtepu8_epi16(g % 2 ? _mm_unpackhi_epi8(x, x) : _mm_unpacklo_epi8(x, x));
}

/* acc_m += (d_a * dmin_w) * sum_g mn[g] * bsp[g], for the T tokens of one super-block (mn from
 * kp_scales; scales: where the panel block's transposed scales start, d and dmin follow them) */
ALWAYS_INLINE void kp_mins(const int T, const __m128i mn[4], const uint8_t *scales, const kp_acts *p, int64_t b, __m256 *acc_m) {
    __m256i mv[4]; /* int16 [m_0[2k], m_0[2k+1], m_1[2k], ..]: pairs of sub-blocks per row */
    for (int k = 0; k < 4; k++) mv[k] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn[k], _mm_srli_si128(mn[k], 8)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + 112))); /* after the 96 scale bytes and d */
    _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {
        const uint8_t *bs = (const uint8_t *)p->bsp[b][t];
        __m256i m = _mm256_madd_epi16(mv[0], bcast32(bs));
        for (int k = 1; k < 4; k++) m = _mm256_add_epi32(m, _mm256_madd_epi16(mv[k], bcast32(bs + 4 * k)));
        acc_m[t] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, _mm256_set1_ps(p->d[b][t])), _mm256_cvtepi32_ps(m), acc_m[t]);
    }
}

/* Where a Q4_K (five: Q5_K) panel block keeps its parts: Q5_K has the 8 rows' qh (as 8
 * vectors, vector w bytes 4r .. 4r+3 = row r's qh bytes 4w .. 4w+3) between qs and the scales. */
ALWAYS_INLINE size_t kp_block(const bool five) { return KP_ROWS * (five ? sizeof(block_q5_K) : sizeof(block_q4_K)); }
ALWAYS_INLINE size_t kp_sc(const bool five) { return five ? KP_SC + 256 : KP_SC; }

/* One panel x T activation rows (Q8_K rows y, as apart, prepared in p). */
ALWAYS_INLINE void kp_panel(const int T, int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,
                            const kp_acts *p, const bool five) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    const size_t bsz = kp_block(five), sc_at = kp_sc(five);
    const int span = five ? 4 : 8; /* vectors whose int16 sums fit (levels 0..31 / 0..15) */
    __m256 acc[KP_TOKS], acc_m[KP_TOKS];
    _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) acc[t] = acc_m[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + b * bsz, *ya = y + b * sizeof(block_q8_K) + offsetof(block_q8_K, qs);
        __m128i sc[4], mn[4];
        kp_scales(pb + sc_at, sc, mn);
        __m256i isum[KP_TOKS];
        _Pragma("GCC unroll 1") for (int j = 0; j < 4; j++) {
            const __m256i sl = kp_scale_vec(sc, 2 * j), sh = kp_scale_vec(sc, 2 * j + 1);
            /* qh >> 2j puts bit 2j (2j+1) at bit 0 (1); << 4 (3) then puts it at bit 4, in the same byte */
            const __m128i cj = _mm_cvtsi32_si128(2 * j);
            __m256i slo[KP_TOKS], shi[KP_TOKS];
            _Pragma("GCC unroll 8") for (int w = 0; w < 8; w++) {
                const __m256i raw = _mm256_loadu_si256((const __m256i *)(pb + 32 * (8 * j + w)));
                __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                if (five) { /* bit 2j / 2j+1 of qh: the fifth bit of the low / high nibbles */
                    const __m256i hb = _mm256_loadu_si256((const __m256i *)(pb + KP_SC + 32 * w));
                    const __m256i hj = _mm256_srl_epi16(hb, cj);
                    lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hj, 4), b4));
                    hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hj, 3), b4));
                }
                _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {
                    const uint8_t *q = ya + t * as + 64 * j + 4 * w;
                    const __m256i ml = _mm256_maddubs_epi16(lo, bcast32(q)), mh = _mm256_maddubs_epi16(hi, bcast32(q + 32));
                    slo[t] = w % span ? _mm256_add_epi16(slo[t], ml) : ml;
                    shi[t] = w % span ? _mm256_add_epi16(shi[t], mh) : mh;
                    ROUNDED(slo[t]);
                    ROUNDED(shi[t]);
                    if (w % span == span - 1) {
                        const __m256i s32 = _mm256_add_epi32(_mm256_madd_epi16(slo[t], sl), _mm256_madd_epi16(shi[t], sh));
                        isum[t] = j || w >= span ? _mm256_add_epi32(isum[t], s32) : s32;
                    }
                }
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + sc_at + 96)));
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(p->d[b][t])), _mm256_cvtepi32_ps(isum[t]), acc[t]);
        if (T <= 2) kp_mins(T, mn, pb + sc_at, p, b, acc_m);
    }
    if (T > 2) /* the minimums in a pass of their own (the same sequence either way) */
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *scales = panel + b * bsz + sc_at;
            __m128i sc[4], mn[4];
            kp_scales(scales, sc, mn);
            kp_mins(T, mn, scales, p, b, acc_m);
        }
    _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) _mm256_storeu_ps(out + t * os, _mm256_sub_ps(acc[t], acc_m[t]));
}
ALWAYS_INLINE void kp_panel4(const int T, int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,
                             const kp_acts *p) {
    kp_panel(T, nb, out, os, panel, y, as, p, false);
}
ALWAYS_INLINE void kp_panel5(const int T, int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,
                             const kp_acts *p) {
    kp_panel(T, nb, out, os, panel, y, as, p, true);
}

typedef void (*kp_panel_fn)(int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as, const kp_acts *p);

/* Rows [0, nr) of panels (nr a multiple of 8) x nt activation rows: decode takes every panel in
 * file order after one prep; prefill lets a row block that fits L2 meet every token tile. */
static void kp_gemm(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, size_t as, int64_t nt,
                    const kp_panel_fn *panels, bool pairs) {
    const int64_t nb = n / QK_K, np = nr / KP_ROWS;
    const size_t pstride = KP_ROWS * ws;
    const int64_t per_block = KP_L2_BYTES / pstride > 1 ? (int64_t)(KP_L2_BYTES / pstride) : 1;
    kp_acts p;
    if (nt <= KP_TOKS) { /* decode: one prep, then every panel in file order */
        kp_prep((int)nt, nb, &p, a, as, pairs);
        for (int64_t i = 0; i < np; i++) panels[nt](nb, out + i * KP_ROWS, os, (const uint8_t *)w + i * pstride, a, as, &p);
        return;
    }
    for (int64_t i0 = 0; i0 < np; i0 += per_block) {
        const int64_t i1 = i0 + per_block < np ? i0 + per_block : np;
        for (int64_t t0 = 0; t0 < nt; t0 += KP_TOKS) {
            const int T = nt - t0 < KP_TOKS ? (int)(nt - t0) : KP_TOKS;
            const uint8_t *at = (const uint8_t *)a + (size_t)t0 * as;
            kp_prep(T, nb, &p, at, as, pairs);
            for (int64_t i = i0; i < i1; i++) panels[T](nb, out + t0 * os + i * KP_ROWS, os, (const uint8_t *)w + i * pstride, at, as, &p);
        }
    }
}

#define KP_PANELS(name, kernel)                                                                                       \
    static void name##1(int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,         \
                        const kp_acts *p) { kernel(1, nb, out, os, panel, y, as, p); }                                 \
    static void name##2(int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,         \
                        const kp_acts *p) { kernel(2, nb, out, os, panel, y, as, p); }                                 \
    static void name##3(int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,         \
                        const kp_acts *p) { kernel(3, nb, out, os, panel, y, as, p); }                                 \
    static void name##4(int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,         \
                        const kp_acts *p) { kernel(4, nb, out, os, panel, y, as, p); }                                 \
    static const kp_panel_fn name##s[KP_TOKS + 1] = {NULL, name##1, name##2, name##3, name##4};
KP_PANELS(kp_q4k, kp_panel4)
KP_PANELS(kp_q5k, kp_panel5)

static void q4_K_gemm_packed(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                             int64_t nt) {
    kp_gemm(n, out, os, w, ws, nr, a, as, nt, kp_q4ks, true);
}
static void q5_K_gemm_packed(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                             int64_t nt) {
    kp_gemm(n, out, os, w, ws, nr, a, as, nt, kp_q5ks, true);
}

ALWAYS_INLINE bool kp_repack(int64_t n, int64_t nr, void *dst, const void *w, const bool five) {
    if (n / QK_K > KP_MAX_NB || nr % KP_ROWS) return false;
    const int64_t nb = n / QK_K;
    const size_t bs = five ? sizeof(block_q5_K) : sizeof(block_q4_K), ws = (size_t)nb * bs, sc_at = kp_sc(five);
    for (int64_t r0 = 0; r0 < nr; r0 += KP_ROWS)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *pb = (uint8_t *)dst + r0 * ws + b * KP_ROWS * bs;
            for (int r = 0; r < KP_ROWS; r++) {
                const uint8_t *x = (const uint8_t *)w + (r0 + r) * ws + b * bs;
                const uint8_t *qs = five ? ((const block_q5_K *)x)->qs : ((const block_q4_K *)x)->qs;
                const uint8_t *scales = five ? ((const block_q5_K *)x)->scales : ((const block_q4_K *)x)->scales;
                for (int v = 0; v < 32; v++) memcpy(pb + 32 * v + 4 * r, qs + 4 * v, 4);
                if (five)
                    for (int v = 0; v < 8; v++) memcpy(pb + KP_SC + 32 * v + 4 * r, ((const block_q5_K *)x)->qh + 4 * v, 4);
                for (int k = 0; k < K_SCALE_SIZE; k++) pb[sc_at + 8 * k + r] = scales[k];
                memcpy(pb + sc_at + 96 + 2 * r, x, 2);      /* d */
                memcpy(pb + sc_at + 112 + 2 * r, x + 2, 2); /* dmin */
            }
        }
    return true;
}
static bool q4_K_repack(int64_t n, int64_t nr, void *dst, const void *w) { return kp_repack(n, nr, dst, w, false); }
static bool q5_K_repack(int64_t n, int64_t nr, void *dst, const void *w) { return kp_repack(n, nr, dst, w, true); }

/* ---- Q6_K repacked at load: panels of 8 rows, a panel super-block the size of the 8 row blocks
 * (1680 bytes):
 *   [0, 1024): ql as 32 vectors, vector v bytes 4r .. 4r+3 = row r's ql bytes 4v .. 4v+3;
 *   [1024, 1536): qh as 16 vectors, the same way;
 *   [1536, 1664): the 16 int8 scales transposed, byte 8g + r = row r's scale g;
 *   [1664, 1680): the 8 rows' d.
 * Values are taken unsigned (0..63, the stored level); two maddubs (2 * 2 * 63 * 127 <= 32767)
 * sum in int16 before a madd with the 8 rows' scale of their 16-value sub-block, and the offset
 * comes off once per super-block: 32 * sum_g sc[g] * bsums[g]. The integer is vec_dot's, the
 * float steps are vec_dot's: every output is bit for bit what vec_dot gives. ---- */
#define QP_BLOCK (KP_ROWS * sizeof(block_q6_K))
#define QP_QH 1024
#define QP_SC 1536
#define QP_D 1664
#define QP_PF 2 /* panel blocks ahead that are prefetched */

/* Values 128h + 32k + 4w .. +3 of the 8 rows (0..63): vec_dot's v0..v3 on the panel's words */
ALWAYS_INLINE __m256i qp_values(const uint8_t *pb, int h, int k, int w) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const __m256i l = _mm256_loadu_si256((const __m256i *)(pb + 32 * (16 * h + 8 * (k & 1) + w)));
    const __m256i q = _mm256_loadu_si256((const __m256i *)(pb + QP_QH + 32 * (8 * h + w)));
    const __m256i lo = k < 2 ? _mm256_and_si256(l, m4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), m4);
    const __m256i hb = k == 0 ? _mm256_slli_epi16(q, 4) : k == 1 ? _mm256_slli_epi16(q, 2) : k == 2 ? q : _mm256_srli_epi16(q, 2);
    return _mm256_or_si256(lo, _mm256_and_si256(hb, m30));
}

/* int16 scale vectors from the transposed int8 scales: [s_0[g], s_0[g], s_1[g], ..] */
ALWAYS_INLINE __m256i qp_scale_vec(const uint8_t *pb, int g) {
    const __m128i x = _mm_loadl_epi64((const __m128i *)(pb + QP_SC + 8 * g));
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x, x));
}

ALWAYS_INLINE void qp_panel(const int T, int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,
                            const kp_acts *p) {
    __m256 acc[KP_TOKS];
    _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + b * QP_BLOCK;
        /* the panel block is read out of order (ql, qh and scales by turns), which the hardware
         * prefetcher does not follow: fetch the one after next by hand */
        for (size_t l = 0; l < QP_BLOCK; l += 64) _mm_prefetch((const char *)pb + QP_PF * QP_BLOCK + l, _MM_HINT_T0);
        const block_q8_K *yb[KP_TOKS];
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) yb[t] = (const block_q8_K *)(y + t * as) + b;
        __m256i isum[KP_TOKS], c[KP_TOKS]; /* the offset: -32 * sum_g sc[g] * bsums[g] */
        _Pragma("GCC unroll 8") for (int q = 0; q < 8; q++) { /* scale pairs 2q, 2q+1 of the 8 rows */
            const __m128i x = _mm_loadu_si128((const __m128i *)(pb + QP_SC + 16 * q));
            const __m256i sp = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x, _mm_srli_si128(x, 8)));
            _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {
                const __m256i m = _mm256_madd_epi16(sp, bcast32((const uint8_t *)(yb[t]->bsums + 2 * q)));
                c[t] = q ? _mm256_add_epi32(c[t], m) : m;
            }
        }
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(c[t], 5));
        _Pragma("GCC unroll 1") for (int h = 0; h < 2; h++)
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
                _Pragma("GCC unroll 4") for (int wp = 0; wp < 4; wp++) {
                    const __m256i v0 = qp_values(pb, h, k, 2 * wp), v1 = qp_values(pb, h, k, 2 * wp + 1);
                    const __m256i sc = qp_scale_vec(pb, 8 * h + 2 * k + wp / 2);
                    _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {
                        const uint8_t *q = (const uint8_t *)yb[t]->qs + 128 * h + 32 * k + 8 * wp;
                        const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(v0, bcast32(q)), _mm256_maddubs_epi16(v1, bcast32(q + 4)));
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16, sc));
                        ROUNDED(isum[t]);
                    }
                }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + QP_D)));
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(p->d[b][t])), _mm256_cvtepi32_ps(isum[t]), acc[t]);
    }
    _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) _mm256_storeu_ps(out + t * os, acc[t]);
}
KP_PANELS(kp_q6k, qp_panel)

static void q6_K_gemm_packed(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                             int64_t nt) {
    kp_gemm(n, out, os, w, ws, nr, a, as, nt, kp_q6ks, false);
}

static bool q6_K_repack(int64_t n, int64_t nr, void *dst, const void *w) {
    if (n / QK_K > KP_MAX_NB || nr % KP_ROWS) return false;
    const int64_t nb = n / QK_K;
    const size_t ws = (size_t)nb * sizeof(block_q6_K);
    for (int64_t r0 = 0; r0 < nr; r0 += KP_ROWS)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *pb = (uint8_t *)dst + r0 * ws + b * QP_BLOCK;
            for (int r = 0; r < KP_ROWS; r++) {
                const block_q6_K *x = (const block_q6_K *)((const uint8_t *)w + (r0 + r) * ws) + b;
                for (int v = 0; v < 32; v++) memcpy(pb + 32 * v + 4 * r, x->ql + 4 * v, 4);
                for (int v = 0; v < 16; v++) memcpy(pb + QP_QH + 32 * v + 4 * r, x->qh + 4 * v, 4);
                for (int g = 0; g < 16; g++) pb[QP_SC + 8 * g + r] = (uint8_t)x->scales[g];
                memcpy(pb + QP_D + 2 * r, &x->d, 2);
            }
        }
    return true;
}

static const seek_type_kernels kquant_table[SEEK_TYPE_COUNT] = {
    [SEEK_TYPE_Q4_K] = {.to_float = q4_K_to_float, .vec_dot = q4_K_vec_dot, .gemm = q4_K_gemm,
                        .repack = q4_K_repack, .gemm_packed = q4_K_gemm_packed, .repack_rows = KP_ROWS},
    [SEEK_TYPE_Q5_K] = {.to_float = q5_K_to_float, .vec_dot = q5_K_vec_dot, .gemm = q5_K_gemm,
                        .repack = q5_K_repack, .gemm_packed = q5_K_gemm_packed, .repack_rows = KP_ROWS},
    [SEEK_TYPE_Q6_K] = {.to_float = q6_K_to_float, .vec_dot = q6_K_vec_dot, .gemm = q6_K_gemm,
                        .repack = q6_K_repack, .gemm_packed = q6_K_gemm_packed, .repack_rows = KP_ROWS},
};

const seek_type_kernels *seek_kquant_avx2(seek_dtype t) {
    return (unsigned)t < SEEK_TYPE_COUNT && kquant_table[t].vec_dot ? &kquant_table[t] : NULL;
}

#else /* not x86 */
const seek_type_kernels *seek_kquant_avx2(seek_dtype t) { (void)t; return NULL; }
#endif
