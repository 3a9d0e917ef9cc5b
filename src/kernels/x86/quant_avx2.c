/* AVX2 + FMA + F16C kernels: dot products of every weight format with its activation format
 * (the k-quants' are in kquant_avx2.c; this file's table hands them out), the activation
 * quantizers (Q8_0, Q8_1, Q8_K, byte-identical to the scalar reference) and the 16-bit float
 * conversions. Built with -mavx2 -mfma -mf16c -mbmi2; dispatch.c only picks it when
 * cpuid says so. Kernels it lacks come from quant_scalar.c. Not for AVX-512 (quant_avx512.c). */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include "kernels/quant_variants.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/x86/avx2_util.h"

/* ---- F32, F16, BF16 ---- */

ALWAYS_INLINE __m256 load8_f32(const void *p, int64_t i) { return _mm256_loadu_ps((const float *)p + i); }
ALWAYS_INLINE __m256 load8_f16(const void *p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const seek_f16 *)p + i)));
}
ALWAYS_INLINE __m256 load8_bf16(const void *p, int64_t i) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const seek_bf16 *)p + i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
}
ALWAYS_INLINE float load1_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
ALWAYS_INLINE float load1_f16(const void *p, int64_t i) { return seek_f16_to_f32(((const seek_f16 *)p)[i]); }
ALWAYS_INLINE float load1_bf16(const void *p, int64_t i) { return seek_bf16_to_f32(((const seek_bf16 *)p)[i]); }

typedef __m256 (*load8_fn)(const void *p, int64_t i);
typedef float (*load1_fn)(const void *p, int64_t i);

ALWAYS_INLINE void half_to_float(const void *src, float *dst, int64_t n, load8_fn load8, load1_fn load1) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8(src, i));
    for (; i < n; i++) dst[i] = load1(src, i);
}

static void f16_to_float(const void *src, float *dst, int64_t n) { half_to_float(src, dst, n, load8_f16, load1_f16); }
/* ---- tiled products (gemm): one accumulator per output, so any tile shape rounds alike ---- */

/* Calls TILE(R, T) with compile-time R <= 4, T <= 3 equal to the runtime r, t. */
#define TILE_SWITCH(r, t, TILE)                                                                   \
    switch ((r) * 4 + (t)) {                                                                      \
    case 4 * 4 + 3: TILE(4, 3); break;                                                            \
    case 4 * 4 + 2: TILE(4, 2); break;                                                            \
    case 4 * 4 + 1: TILE(4, 1); break;                                                            \
    case 3 * 4 + 3: TILE(3, 3); break;                                                            \
    case 3 * 4 + 2: TILE(3, 2); break;                                                            \
    case 3 * 4 + 1: TILE(3, 1); break;                                                            \
    case 2 * 4 + 3: TILE(2, 3); break;                                                            \
    case 2 * 4 + 2: TILE(2, 2); break;                                                            \
    case 2 * 4 + 1: TILE(2, 1); break;                                                            \
    case 1 * 4 + 3: TILE(1, 3); break;                                                            \
    case 1 * 4 + 2: TILE(1, 2); break;                                                            \
    default: TILE(1, 1); break;                                                                   \
    }
#define GEMM_ROWS 4
#define GEMM_TOKS 3

/* Four vectors' lane sums in one: lane r = ((v0+v1)+(v2+v3)) + ((v4+v5)+(v6+v7)) of the r-th. */
ALWAYS_INLINE __m128 hsum4_ps(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* R weight rows x T activation rows of a float-family type. Each output has one 8-wide FMA
 * accumulator (lane j sums k = j mod 8 in increasing order), summed horizontally once (4 rows
 * at a time by hsum4_ps, absent rows as zeros), then the scalar tail: the same sequence for
 * every output whatever R and T are. The R*T independent chains hide the FMA latency; a 4 x 3
 * tile converts each weight vector once for 3 FMAs. A single activation row (decode) gets a
 * software prefetch PLAIN_PREFETCH bytes ahead along each weight row (esz: bytes per weight). */
#define PLAIN_PREFETCH 2048
ALWAYS_INLINE void tile_plain(const int R, const int T, int64_t n, float *out, int64_t os, const uint8_t *w, size_t ws,
                              const float *a, int64_t as, load8_fn load8, load1_fn load1, const int esz) {
    __m256 acc[4][3];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 av[3];
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) av[t] = _mm256_loadu_ps(a + t * as + i);
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            if (T == 1) _mm_prefetch((const char *)(w + r * ws) + esz * i + PLAIN_PREFETCH, _MM_HINT_T0);
            const __m256 wv = load8(w + r * ws, i);
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, av[t], acc[r][t]);
        }
    }
    const __m256 zero = _mm256_setzero_ps();
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
        const __m128 sums = hsum4_ps(acc[0][t], R > 1 ? acc[1][t] : zero, R > 2 ? acc[2][t] : zero, R > 3 ? acc[3][t] : zero);
        if (R == 4 && i == n) {
            _mm_storeu_ps(out + t * os, sums);
            continue;
        }
        float s4[4];
        _mm_storeu_ps(s4, sums);
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {
            float sum = s4[r];
            for (int64_t j = i; j < n; j++) sum += load1(w + r * ws, j) * a[t * as + j];
            out[t * os + r] = sum;
        }
    }
}

/* Cache blocking (op_matmul hands over a thread's whole row range): a block of rows of at most
 * PLAIN_BLOCK_BYTES stays in L2 while every activation row passes by in tiles of 3; within a
 * tile of tokens the 4-row tiles walk the block, so the 3 activation rows stay in L1. One token
 * (decode) goes row by row instead, which streams weights from memory best. */
#define PLAIN_BLOCK_BYTES (160 * 1024)

ALWAYS_INLINE void gemm_plain(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a,
                              size_t as, int64_t nt, load8_fn load8, load1_fn load1, const int esz) {
    const int64_t as_f = (int64_t)(as / sizeof(float));
    const int GR = nt == 1 ? 1 : GEMM_ROWS;
    int64_t block = (int64_t)(PLAIN_BLOCK_BYTES / ws) / GEMM_ROWS * GEMM_ROWS;
    if (block < GEMM_ROWS) block = GEMM_ROWS;
    for (int64_t b0 = 0; b0 < nr; b0 += block) {
        const int64_t b1 = b0 + block < nr ? b0 + block : nr;
        for (int64_t t0 = 0; t0 < nt; t0 += GEMM_TOKS) {
            const int T = nt - t0 < GEMM_TOKS ? (int)(nt - t0) : GEMM_TOKS;
            const float *at = (const float *)a + t0 * as_f;
            for (int64_t r0 = b0; r0 < b1; r0 += GR) {
                const int R = b1 - r0 < GR ? (int)(b1 - r0) : GR;
                float *o = out + t0 * os + r0;
                const uint8_t *wr = (const uint8_t *)w + r0 * ws;
#define PLAIN_TILE(R_, T_) tile_plain(R_, T_, n, o, os, wr, ws, at, as_f, load8, load1, esz)
                TILE_SWITCH(R, T, PLAIN_TILE)
#undef PLAIN_TILE
            }
        }
    }
}

#define PLAIN_GEMM(name, esz)                                                                     \
    static void name##_gemm(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, \
                            size_t as, int64_t nt) {                                              \
        gemm_plain(n, out, os, w, ws, nr, a, as, nt, load8_##name, load1_##name, esz);            \
    }                                                                                             \
    static void name##_vec_dot(int64_t n, float *out, const void *w, const void *a) {       \
        tile_plain(1, 1, n, out, 0, w, 0, a, 0, load8_##name, load1_##name, esz);                 \
    }
PLAIN_GEMM(f32, 4)
PLAIN_GEMM(f16, 2)
PLAIN_GEMM(bf16, 2)

static void bf16_to_float(const void *src, float *dst, int64_t n) { half_to_float(src, dst, n, load8_bf16, load1_bf16); }

/* F16C rounds to nearest even like seek_f32_to_f16; NaNs are canonicalised to sign|0x7e00 as
 * the scalar conversion does (F16C would keep the payload). */
static void f16_from_float(const float *src, void *dst, int64_t n) {
    seek_f16 *y = dst;
    int64_t i = 0;
    const __m128i qnan = _mm_set1_epi16(0x7e00);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(src + i);
        __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256i nan32 = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        const __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(nan32), _mm256_extracti128_si256(nan32, 1));
        const __m128i canon = _mm_or_si128(_mm_and_si128(h, _mm_set1_epi16((short)0x8000)), qnan);
        h = _mm_blendv_epi8(h, canon, nan16);
        _mm_storeu_si128((__m128i *)(y + i), h);
    }
    for (; i < n; i++) y[i] = seek_f32_to_f16(src[i]);
}

/* ---- 32-value blocks against Q8_0 / Q8_1 activations ---- */

/* 16 bytes of nibbles -> 32 bytes 0..15: the low nibbles first, then the high ones. */
ALWAYS_INLINE __m256i nibbles32(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
}

/* 32 bits -> 32 bytes, byte j = 0xff when bit j is set. */
ALWAYS_INLINE __m256i bits32(const uint8_t *qh) {
    uint32_t x;
    memcpy(&x, qh, 4);
    const __m256i spread = _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), spread); /* byte j = byte j/8 of x */
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL));    /* all bits but bit j%8 */
    return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

/* The 32 weights of a block as bytes: signed (value) for the _0 formats, unsigned for _1. */
ALWAYS_INLINE __m256i q4_0_bytes(const uint8_t *blk) {
    return _mm256_sub_epi8(nibbles32(((const block_q4_0 *)blk)->qs), _mm256_set1_epi8(8));
}
ALWAYS_INLINE __m256i q5_0_bytes(const uint8_t *blk) {
    const block_q5_0 *x = (const block_q5_0 *)blk;
    /* q - 16 with a clear fifth bit is q | 0xf0 in two's complement */
    const __m256i hi = _mm256_andnot_si256(bits32(x->qh), _mm256_set1_epi8((char)0xf0));
    return _mm256_or_si256(nibbles32(x->qs), hi);
}
/* The _0 formats' levels unsigned (q4_0: 0..15, q5_0: 0..31; the value is the level - 8 / 16). */
ALWAYS_INLINE __m256i q4_0_ubytes(const uint8_t *blk) { return nibbles32(((const block_q4_0 *)blk)->qs); }
ALWAYS_INLINE __m256i q5_0_ubytes(const uint8_t *blk) {
    const block_q5_0 *x = (const block_q5_0 *)blk;
    return _mm256_or_si256(nibbles32(x->qs), _mm256_and_si256(bits32(x->qh), _mm256_set1_epi8(0x10)));
}
ALWAYS_INLINE __m256i q8_0_bytes(const uint8_t *blk) {
    return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)blk)->qs);
}
ALWAYS_INLINE __m256i q4_1_bytes(const uint8_t *blk) { return nibbles32(((const block_q4_1 *)blk)->qs); }
ALWAYS_INLINE __m256i q5_1_bytes(const uint8_t *blk) {
    const block_q5_1 *x = (const block_q5_1 *)blk;
    return _mm256_or_si256(nibbles32(x->qs), _mm256_and_si256(bits32(x->qh), _mm256_set1_epi8(0x10)));
}


/* ---- dequantization where the compiler does not vectorize the scalar loop (fifth bits; the
 * k-quants' is in kquant_avx2.c): the scalar reference's operations on the same values, so the
 * same bits (deq32, avx2_util.h) ---- */

static void q5_0_to_float(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / QK; i++) {
        const uint8_t *blk = (const uint8_t *)src + i * sizeof(block_q5_0);
        deq32(dst + i * QK, _mm256_sub_epi8(q5_0_ubytes(blk), _mm256_set1_epi8(16)), f16_at(blk), 0, 0);
    }
}
static void q5_1_to_float(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / QK; i++) {
        const block_q5_1 *x = (const block_q5_1 *)src + i;
        deq32(dst + i * QK, q5_1_bytes((const uint8_t *)x), seek_f16_to_f32(x->d), seek_f16_to_f32(x->m), 1);
    }
}

typedef __m256i (*bytes_fn)(const uint8_t *blk);

/* Products of 32-value blocks with Q8_0 / Q8_1 activations. Every output (weight row r,
 * activation row t) is computed block by block as
 *     acc = fma(d_w * d_a, (float)isum, acc)       isum: the block's exact integer dot product
 *     sm  = fma(m_w, s_a, sm)                       (the _1 formats' minimum; sm = 0 otherwise)
 * and out = acc + sm, with 8 rows in the 8 lanes of a vector. Two ways get there, bit for bit
 * alike, so batching never changes a result:
 *   direct (decode, a few tokens): each row read from the file, 8 blocks' partial sums folded
 *     into one vector by a tree of hadds, then 8 rows' vectors transposed to 8 rows per block;
 *   packed (prefill): 64 rows at a time copied into panels of 8 rows whose bytes interleave
 *     4 values of each row, so one broadcast 4-byte word of activations meets 8 rows in one
 *     maddubs. Signed weights meet unsigned activations (a + 128, a ^ 0x80) and the 128 * sum(w)
 *     this adds is taken off per block; the int16 pair sums are added up G groups at a time,
 *     with G as large as the format's range allows without saturating. Q8_0 weights are too
 *     wide for that: |w| meets a with w's sign, summed to int32 after every group. */

typedef struct {
    bool has_min;  /* the _1 formats: unsigned levels and a minimum m_w */
    bool sign;     /* Q8_0: too wide for that; the sign of w goes onto a, |w| meets it */
    int groups;    /* 4-byte groups summed in int16 before madd */
    size_t bytes;  /* the block's size */
    bytes_fn weights;  /* the 32 values as bytes (the _1 formats: their unsigned levels) */
    bytes_fn uweights; /* Q4_0 / Q5_0: the unsigned levels, value = level - offset; else NULL */
    int offset;
} b32_format;

#define B32_LANES 8
#define B32_PANEL_ROWS 64 /* rows packed at a time: their panels stay in L2 */
#define B32_TOKS 6        /* activation rows per microkernel */
/* From this many activation rows on, packing pays (measured on 576 x 49152: packing costs
 * about what the direct way spends on 2 activation rows, 5 for Q8_0's costlier products) */
#define B32_PACK_MIN(f) ((f)->sign ? 7 : 3)

ALWAYS_INLINE size_t b32_act_bytes(const b32_format *f) { return f->has_min ? sizeof(block_q8_1) : sizeof(block_q8_0); }
ALWAYS_INLINE size_t b32_act_qs(const b32_format *f) { return f->has_min ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs); }

/* The 8-lane vectors p[0..7] -> lane r = the sum of p[r]'s lanes. */
ALWAYS_INLINE __m256i rows8_sum(const __m256i p[8]) {
    const __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    const __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
}

/* The fp16 at p + r * stride for r < R as 8 floats (0 beyond R), assembled in registers (a
 * vector load of 16-bit stores would stall on store forwarding). */
ALWAYS_INLINE int f16_bits(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return h;
}
ALWAYS_INLINE __m256 f16_rows(const uint8_t *p, size_t stride, const int R) {
    __m128i h = _mm_cvtsi32_si128(f16_bits(p));
#define F16_LANE(i) if (R > i) h = _mm_insert_epi16(h, f16_bits(p + i * stride), i)
    F16_LANE(1); F16_LANE(2); F16_LANE(3); F16_LANE(4); F16_LANE(5); F16_LANE(6); F16_LANE(7);
#undef F16_LANE
    return _mm256_cvtph_ps(h);
}

ALWAYS_INLINE void store_rows(float *out, __m256 v, int R) {
    if (R == B32_LANES) {
        _mm256_storeu_ps(out, v);
        return;
    }
    float tmp[B32_LANES];
    _mm256_storeu_ps(tmp, v);
    for (int r = 0; r < R; r++) out[r] = tmp[r];
}

/* 8 vectors of 8 32-bit units (rows) -> 8 vectors of 8 (columns): col[c] unit r = rows[r] unit c. */
ALWAYS_INLINE void transpose8x32(const __m256i rows[8], __m256i col[8]) {
    __m256i t[8], u[8];
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(rows[2 * i], rows[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(rows[2 * i], rows[2 * i + 1]);
    }
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) { /* rows 0-3, then 4-7 */
        const __m256i *th = t + 4 * h;
        u[4 * h + 0] = _mm256_unpacklo_epi64(th[0], th[2]);
        u[4 * h + 1] = _mm256_unpackhi_epi64(th[0], th[2]);
        u[4 * h + 2] = _mm256_unpacklo_epi64(th[1], th[3]);
        u[4 * h + 3] = _mm256_unpackhi_epi64(th[1], th[3]);
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
        col[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
        col[c + 4] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
    }
}

/* R <= 8 rows x T <= 4 activation rows, straight from the file. First each row on its own,
 * read front to back (one stream for the prefetcher; each block unpacked once for the T
 * activation rows): the partial sums of 8 consecutive blocks are folded by a tree of hadds into
 * one vector of 8 block sums. Then an 8x8 transpose turns 8 rows' vectors into one vector of
 * 8 rows per block for the float steps. Signed weights have their sign moved onto the
 * activations (|w| <= 128, a in -127..127: maddubs cannot saturate). */
#define B32_DTOKS 4  /* activation rows per direct pass */
#define B32_CHUNK 64 /* blocks per pass (a multiple of 8) */
#define B32_PF 2048 /* prefetch distance along a row in bytes (measured: 512 is short, 4096 no better) */
ALWAYS_INLINE void b32_direct(const int R, const int T, int64_t nb, float *out, int64_t os, const uint8_t *w, size_t ws,
                              const uint8_t *y, size_t as, const b32_format *f) {
    const size_t abytes = b32_act_bytes(f), qa = b32_act_qs(f);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i isums[B32_DTOKS][B32_LANES][B32_CHUNK / 8]; /* [t][row][8 blocks] */
    int32_t asum[B32_DTOKS][B32_CHUNK]; /* offset * the activations' sum per block (the unsigned levels) */
    __m256 acc[B32_DTOKS], sm[B32_DTOKS];
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = sm[t] = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += B32_CHUNK) {
        const int64_t nc = nb - b0 < B32_CHUNK ? nb - b0 : B32_CHUNK;
        if (f->offset) /* 8 blocks' sums at a time, folded like the weights' */
            for (int t = 0; t < T; t++)
                for (int64_t c8 = 0; c8 < nc; c8 += 8) {
                    __m256i p[8];
                    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
                        const __m256i qy = c8 + k < nc ? _mm256_loadu_si256((const __m256i *)(y + t * as + (b0 + c8 + k) * abytes + qa))
                                                       : _mm256_setzero_si256();
                        p[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), qy), ones);
                    }
                    _mm256_storeu_si256((__m256i *)&asum[t][c8], _mm256_mullo_epi32(rows8_sum(p), _mm256_set1_epi32(f->offset)));
                }
        for (int r = 0; r < R; r++)
            for (int64_t c8 = 0; c8 < nc; c8 += 8) {
                __m256i p[B32_DTOKS][8];
                _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
                    if (c8 + k >= nc) {
                        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) p[t][k] = _mm256_setzero_si256();
                        continue;
                    }
                    const uint8_t *x = w + r * ws + (b0 + c8 + k) * f->bytes;
                    _mm_prefetch((const char *)x + B32_PF, _MM_HINT_T0);
                    const __m256i wq = f->offset ? f->uweights(x) : f->weights(x);
                    const __m256i aw = f->sign ? _mm256_sign_epi8(wq, wq) : wq;
                    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                        const __m256i qy = _mm256_loadu_si256((const __m256i *)(y + t * as + (b0 + c8 + k) * abytes + qa));
                        const __m256i sy = f->sign ? _mm256_sign_epi8(qy, wq) : qy;
                        p[t][k] = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sy), ones);
                    }
                }
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) isums[t][r][c8 / 8] = rows8_sum(p[t]);
            }
        for (int64_t c8 = 0; c8 < nc; c8 += 8) {
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                __m256i rows[B32_LANES], col[B32_LANES];
                _Pragma("GCC unroll 8") for (int r = 0; r < B32_LANES; r++) rows[r] = r < R ? isums[t][r][c8 / 8] : _mm256_setzero_si256();
                transpose8x32(rows, col); /* col[k]: block c8 + k of the 8 rows */
                for (int k = 0; k < 8 && c8 + k < nc; k++) {
                    const int64_t c = c8 + k;
                    const uint8_t *wb = w + (b0 + c) * f->bytes, *ya = y + t * as + (b0 + c) * abytes;
                    __m256i isum = col[k];
                    if (f->offset) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(asum[t][c]));
                    acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(f16_rows(wb, ws, R), _mm256_set1_ps(f16_at(ya))), _mm256_cvtepi32_ps(isum),
                                             acc[t]);
                    if (f->has_min) sm[t] = _mm256_fmadd_ps(f16_rows(wb + 2, ws, R), _mm256_set1_ps(f16_at(ya + 2)), sm[t]);
                }
            }
        }
    }
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) store_rows(out + t * os, f->has_min ? _mm256_add_ps(acc[t], sm[t]) : acc[t], R);
}

/* One block of a panel: the weights (8 groups x 8 rows x 4 bytes), then per row 128 * sum(w)
 * (not for Q8_0), d_w and m_w. */
#define B32_PANEL_W 256
#define B32_PANEL_BLOCK (B32_PANEL_W + 3 * 32)

/* Rows w[0 .. R) (R <= 8) of nb blocks into one panel; missing rows are zeros. */
ALWAYS_INLINE void b32_pack(const int R, int64_t nb, uint8_t *panel, const uint8_t *w, size_t ws, const b32_format *f) {
    const size_t wbytes = B32_PANEL_W, pbytes = B32_PANEL_BLOCK;
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *pb = panel + b * pbytes;
        const uint8_t *wb = w + b * f->bytes;
        __m256i v[B32_LANES], col[B32_LANES];
        _Pragma("GCC unroll 8") for (int r = 0; r < B32_LANES; r++) v[r] = r < R ? f->weights(wb + r * ws) : _mm256_setzero_si256();
        transpose8x32(v, col);
        _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) _mm256_storeu_si256((__m256i *)(pb + 32 * g), col[g]);
        if (!f->sign) { /* 128 * sum(w) per row: the levels are small, so maddubs of 1s with them is exact */
            __m256i p[B32_LANES];
            _Pragma("GCC unroll 8") for (int r = 0; r < B32_LANES; r++) p[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v[r]), ones16);
            _mm256_storeu_si256((__m256i *)(pb + wbytes), _mm256_slli_epi32(rows8_sum(p), 7));
        }
        _mm256_storeu_ps((float *)(pb + wbytes + 32), f16_rows(wb, ws, R));
        _mm256_storeu_ps((float *)(pb + wbytes + 64), f->has_min ? f16_rows(wb + 2, ws, R) : _mm256_setzero_ps());
    }
}

/* T activation rows as the panels want them: bytes a ^ 0x80 (Q8_0: a), d_a and s_a as floats. */
typedef struct {
    uint8_t *q;   /* T rows of n bytes */
    float *d, *s; /* T rows of nb */
    size_t q_row;
} b32_acts;

ALWAYS_INLINE void b32_prep(int T, int64_t nb, b32_acts *p, const uint8_t *a, size_t as, const b32_format *f) {
    const size_t abytes = b32_act_bytes(f), qa = b32_act_qs(f);
    for (int t = 0; t < T; t++)
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *ya = a + t * as + b * abytes;
            const __m256i q = _mm256_loadu_si256((const __m256i *)(ya + qa));
            _mm256_storeu_si256((__m256i *)(p->q + t * p->q_row + b * QK),
                                f->sign ? q : _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
            p->d[t * nb + b] = f16_at(ya);
            p->s[t * nb + b] = f->has_min ? f16_at(ya + 2) : 0.0f;
        }
}


/* One panel (R valid rows) x T prepared activation rows. */
ALWAYS_INLINE void b32_panel(const int T, const int R, int64_t nb, float *out, int64_t os, const uint8_t *panel,
                             const b32_acts *p, const b32_format *f) {
    const size_t wbytes = B32_PANEL_W, pbytes = B32_PANEL_BLOCK;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[B32_TOKS], sm[B32_TOKS];
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = sm[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + b * pbytes;
        __m256i isum[B32_TOKS];
        if (f->sign) { /* Q8_0: |w| against a with w's sign, int32 after every group */
            const uint8_t *q = p->q + b * QK;
            _Pragma("GCC unroll 8") for (int g = 0; g < QK / 4; g++) {
                const __m256i wg = _mm256_loadu_si256((const __m256i *)(pb + 32 * g)), aw = _mm256_sign_epi8(wg, wg);
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                    const __m256i sy = _mm256_sign_epi8(bcast32(q + t * p->q_row + 4 * g), wg);
                    const __m256i m = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sy), ones);
                    isum[t] = g == 0 ? m : _mm256_add_epi32(isum[t], m);
                    ROUNDED(isum[t]);
                }
            }
        } else {
            const int G = f->groups;
            const uint8_t *q = p->q + b * QK;
            __m256i s16[B32_TOKS];
            _Pragma("GCC unroll 8") for (int g = 0; g < QK / 4; g++) {
                const __m256i wg = _mm256_loadu_si256((const __m256i *)(pb + 32 * g));
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                    const __m256i m = _mm256_maddubs_epi16(bcast32(q + t * p->q_row + 4 * g), wg);
                    s16[t] = g % G == 0 ? m : _mm256_add_epi16(s16[t], m);
                    ROUNDED(s16[t]);
                    if (g % G == G - 1) {
                        const __m256i s32 = _mm256_madd_epi16(s16[t], ones);
                        isum[t] = g == G - 1 ? s32 : _mm256_add_epi32(isum[t], s32);
                    }
                }
            }
            const __m256i corr = _mm256_loadu_si256((const __m256i *)(pb + wbytes));
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) isum[t] = _mm256_sub_epi32(isum[t], corr);
        }
        const __m256 dw = _mm256_loadu_ps((const float *)(pb + wbytes + 32));
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
            const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(p->d[t * nb + b]));
            acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    /* the minimums in a pass of their own (the same sequence), leaving the registers to the above */
    if (f->has_min)
        for (int64_t b = 0; b < nb; b++) {
            const __m256 mw = _mm256_loadu_ps((const float *)(panel + b * pbytes + wbytes + 64));
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)
                sm[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(p->s[t * nb + b]), sm[t]);
        }
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) store_rows(out + t * os, f->has_min ? _mm256_add_ps(acc[t], sm[t]) : acc[t], R);
}

/* Each format's kernels for every tile size, each its own function (one function holding them
 * all takes minutes to compile under AddressSanitizer), called through this table. */
typedef void (*b32_panel_fn)(int R, int64_t nb, float *out, int64_t os, const uint8_t *panel, const b32_acts *p);
typedef void (*b32_direct_fn)(int R, int64_t nb, float *out, int64_t os, const uint8_t *w, size_t ws, const uint8_t *y,
                              size_t as);
typedef void (*b32_pack_fn)(int R, int64_t nb, uint8_t *panel, const uint8_t *w, size_t ws);
typedef struct {
    const b32_format *f;
    b32_panel_fn panel[B32_TOKS + 1];    /* [T]: T prepared activation rows */
    b32_direct_fn direct[B32_DTOKS + 1]; /* [T] */
    b32_pack_fn pack;
} b32_kernels;

static void b32_direct_rows(int64_t n, float *out, int64_t os, const uint8_t *w, size_t ws, int64_t nr, const uint8_t *a,
                            size_t as, int64_t nt, const b32_kernels *k) {
    const int64_t nb = n / QK;
    for (int64_t r0 = 0; r0 < nr; r0 += B32_LANES)
        for (int64_t t0 = 0; t0 < nt; t0 += B32_DTOKS) {
            const int T = nt - t0 < B32_DTOKS ? (int)(nt - t0) : B32_DTOKS;
            const int R = nr - r0 < B32_LANES ? (int)(nr - r0) : B32_LANES;
            k->direct[T](R, nb, out + t0 * os + r0, os, w + r0 * ws, ws, a + t0 * as, as);
        }
}

/* The packed path's panels and prepared activations: one buffer per thread, grown as needed and
 * kept (a batched step makes hundreds of calls), freed when the thread ends. */
typedef struct {
    uint8_t *p;
    size_t n;
} b32_scratch;
static pthread_key_t scratch_key;
static bool scratch_ok;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *arg) {
    b32_scratch *sc = arg;
    free(sc->p);
    free(sc);
}
static void scratch_key_init(void) {
    scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}
static uint8_t *b32_scratch_get(size_t n) {
    pthread_once(&scratch_once, scratch_key_init);
    if (!scratch_ok) return NULL;
    b32_scratch *sc = pthread_getspecific(scratch_key);
    if (!sc) {
        if (!(sc = calloc(1, sizeof *sc))) return NULL;
        if (pthread_setspecific(scratch_key, sc)) {
            free(sc);
            return NULL;
        }
    }
    if (sc->n < n) {
        free(sc->p);
        sc->p = malloc(n);
        sc->n = sc->p ? n : 0;
    }
    return sc->p;
}

static void gemm_b32(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, size_t as,
                     int64_t nt, const b32_kernels *k) {
    const b32_format *f = k->f;
    const int64_t nb = n / QK;
    const size_t pbytes = (size_t)nb * B32_PANEL_BLOCK, q_row = (size_t)n;
    const size_t panel_bytes = B32_PANEL_ROWS / B32_LANES * pbytes;
    uint8_t *panels = nt >= B32_PACK_MIN(f) ? b32_scratch_get(panel_bytes + B32_TOKS * (q_row + 2 * (size_t)nb * sizeof(float)))
                                            : NULL;
    if (!panels) { /* few tokens, or no memory: the direct way gives the same bits */
        b32_direct_rows(n, out, os, w, ws, nr, a, as, nt, k);
        return;
    }
    uint8_t *prep = panels + panel_bytes;
    b32_acts p = {prep, (float *)(prep + B32_TOKS * q_row), (float *)(prep + B32_TOKS * q_row) + B32_TOKS * nb, q_row};
    for (int64_t r0 = 0; r0 < nr; r0 += B32_PANEL_ROWS) {
        const int64_t rb = nr - r0 < B32_PANEL_ROWS ? nr - r0 : B32_PANEL_ROWS;
        for (int64_t i = 0; i * B32_LANES < rb; i++) {
            const int R = rb - i * B32_LANES < B32_LANES ? (int)(rb - i * B32_LANES) : B32_LANES;
            k->pack(R, nb, panels + i * pbytes, (const uint8_t *)w + (r0 + i * B32_LANES) * ws, ws);
        }
        for (int64_t t0 = 0; t0 < nt; t0 += B32_TOKS) {
            const int T = nt - t0 < B32_TOKS ? (int)(nt - t0) : B32_TOKS;
            b32_prep(T, nb, &p, (const uint8_t *)a + t0 * as, as, f);
            for (int64_t i = 0; i * B32_LANES < rb; i++) {
                const int R = rb - i * B32_LANES < B32_LANES ? (int)(rb - i * B32_LANES) : B32_LANES;
                k->panel[T](R, nb, out + t0 * os + r0 + i * B32_LANES, os, panels + i * pbytes, &p);
            }
        }
    }
}

#define B32_PANEL_T(name, T_)                                                                     \
    static void name##_panel##T_(int R, int64_t nb, float *out, int64_t os, const uint8_t *panel, const b32_acts *p) { \
        b32_panel(T_, R, nb, out, os, panel, p, &name##_format);                                  \
    }
#define B32_DIRECT_T(name, T_)                                                                    \
    static void name##_direct##T_(int R, int64_t nb, float *out, int64_t os, const uint8_t *w, size_t ws, const uint8_t *y, \
                                  size_t as) {                                                    \
        if (R == B32_LANES) b32_direct(B32_LANES, T_, nb, out, os, w, ws, y, as, &name##_format); \
        else b32_direct(R, T_, nb, out, os, w, ws, y, as, &name##_format);                        \
    }
#define BLOCK32_GEMM(name, block_t, has_min_, sign_, groups_, ubytes, offset)                       \
    static const b32_format name##_format = {has_min_, sign_, groups_, sizeof(block_t), name##_bytes, ubytes, offset}; \
    B32_PANEL_T(name, 1) B32_PANEL_T(name, 2) B32_PANEL_T(name, 3)                                \
    B32_PANEL_T(name, 4) B32_PANEL_T(name, 5) B32_PANEL_T(name, 6)                                \
    B32_DIRECT_T(name, 1) B32_DIRECT_T(name, 2) B32_DIRECT_T(name, 3) B32_DIRECT_T(name, 4)       \
    static void name##_pack(int R, int64_t nb, uint8_t *panel, const uint8_t *w, size_t ws) {     \
        if (R == B32_LANES) b32_pack(B32_LANES, nb, panel, w, ws, &name##_format);                \
        else b32_pack(R, nb, panel, w, ws, &name##_format);                                       \
    }                                                                                             \
    static const b32_kernels name##_kernels = {                                                   \
        &name##_format,                                                                           \
        {NULL, name##_panel1, name##_panel2, name##_panel3, name##_panel4, name##_panel5, name##_panel6}, \
        {NULL, name##_direct1, name##_direct2, name##_direct3, name##_direct4},                   \
        name##_pack};                                                                             \
    static void name##_gemm(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, \
                            size_t as, int64_t nt) {                                              \
        gemm_b32(n, out, os, w, ws, nr, a, as, nt, &name##_kernels);                              \
    }                                                                                             \
    static void name##_vec_dot(int64_t n, float *out, const void *w, const void *a) {             \
        name##_direct1(1, n / QK, out, 0, w, 0, a, 0);                                            \
    }
/* groups: the largest G with G * 2 * 255 * max|w| <= 32767 */
BLOCK32_GEMM(q4_0, block_q4_0, false, false, 8, q4_0_ubytes, 8)
BLOCK32_GEMM(q5_0, block_q5_0, false, false, 4, q5_0_ubytes, 16)
BLOCK32_GEMM(q8_0, block_q8_0, false, true, 1, NULL, 0)
BLOCK32_GEMM(q4_1, block_q4_1, true, false, 4, NULL, 0)
BLOCK32_GEMM(q5_1, block_q5_1, true, false, 2, NULL, 0)

/* ---- Q4_0 / Q4_1 / Q5_0 / Q8_0 repacked at load ----
 * Panels of 8 rows, block by block, each panel block the size of the 8 blocks it holds (144
 * bytes for Q4_0, 160 for Q4_1, 176 for Q5_0, 272 for Q8_0):
 *   Q4_0 / Q4_1 / Q5_0: 4 x 32 bytes of nibbles: vector v, bytes 4r .. 4r+3 = row r's
 *     qs[4v .. 4v+3], so its low nibbles are values 4v .. 4v+3 of the 8 rows and its high
 *     nibbles values 16+4v .. 16+4v+3;
 *   Q5_0: then the fifth bits, 4 x 8 bytes: byte 8v + r holds row r's bits of values 4v .. 4v+3
 *     (bits 0-3) and 16+4v .. 16+4v+3 (bits 4-7), spread onto the nibbles' bytes by a shuffle;
 *   Q8_0: 8 x 32 bytes: vector g, bytes 4r .. 4r+3 = row r's values 4g .. 4g+3;
 *   then 8 x fp16 d_w and (Q4_1) 8 x fp16 m_w.
 * One broadcast 4-byte word of activations meets 8 rows' values in one maddubs. Q4 / Q5: the
 * levels unsigned (0..15 / 0..31), the activations signed, so the int16 sums of 8 / 4 groups
 * (2 * 15 * 127 * 8, 2 * 31 * 127 * 4 <= 32767) are exact before a madd; the _0 formats' value
 * is level - 8 / 16, so 8 / 16 * sum(a) is taken off per block (as the direct path does). Q8_0: |w| against a with w's sign (|pair| <= 32258),
 * to int32 after every group. The float steps are the direct path's, in the same order: every
 * output is bit for bit what vec_dot gives, packed or not. No copy per call, one stream of
 * weights for the prefetcher, and a third of the direct path's integer work per block. */
#define PK_ROWS 8
#define PK_TOKS 6      /* activation rows per microkernel (accumulators + sums fill the registers) */
#define PK_MAX_NB 1024 /* blocks per row at most (n <= 32768), so a tile's prep fits the stack */
#define PK_ROW_BLOCK 16 /* panels that stay in L2 while every token tile passes by */

/* PK_Q5_0X: Q5_0 panels with the levels expanded to bytes (Q8_0's layout) for prefill, where
 * spreading the fifth bits for every tile of tokens would cost more than expanding once. */
typedef enum { PK_Q4_0, PK_Q4_1, PK_Q5_0, PK_Q8_0, PK_Q5_0X } pk_kind;

ALWAYS_INLINE size_t pk_block(const pk_kind k) { /* bytes of one row's block */
    return k == PK_Q4_0 ? sizeof(block_q4_0) : k == PK_Q4_1 ? sizeof(block_q4_1) : k == PK_Q5_0 ? sizeof(block_q5_0) : sizeof(block_q8_0);
}
ALWAYS_INLINE bool pk_bytes(const pk_kind k) { return k == PK_Q8_0 || k == PK_Q5_0X; } /* values as bytes */
ALWAYS_INLINE size_t pk_qs(const pk_kind k) {
    return k == PK_Q4_0   ? offsetof(block_q4_0, qs)
           : k == PK_Q4_1 ? offsetof(block_q4_1, qs)
           : k == PK_Q5_0 ? offsetof(block_q5_0, qs)
                          : offsetof(block_q8_0, qs);
}
/* where the panel block's d_w sit (m_w follow for Q4_1) */
ALWAYS_INLINE size_t pk_d_at(const pk_kind k) { return pk_bytes(k) ? 256 : k == PK_Q5_0 ? 160 : 128; }
/* the activations: Q8_1 blocks for Q4_1, Q8_0 blocks otherwise */
ALWAYS_INLINE size_t pk_act_block(const pk_kind k) { return k == PK_Q4_1 ? sizeof(block_q8_1) : sizeof(block_q8_0); }
ALWAYS_INLINE size_t pk_act_qs(const pk_kind k) { return k == PK_Q4_1 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs); }

typedef struct { /* block-major, so a block's values for the T rows share a cache line */
    float d[PK_MAX_NB][PK_TOKS];   /* d_a */
    float s[PK_MAX_NB][PK_TOKS];   /* Q4_1: s_a of the Q8_1 block */
    int32_t o[PK_MAX_NB][PK_TOKS]; /* Q4_0 / Q5_0: 8 / 16 * sum(a) */
} pk_acts;

ALWAYS_INLINE void pk_prep(int T, int64_t nb, pk_acts *p, const uint8_t *a, size_t as, const pk_kind k) {
    const size_t ab = pk_act_block(k), qa = pk_act_qs(k);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int t = 0; t < T; t++)
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *ya = a + t * as + b * ab;
            p->d[b][t] = f16_at(ya);
            if (k == PK_Q4_1) {
                p->s[b][t] = f16_at(ya + 2);
            } else if (k != PK_Q8_0) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(ya + qa));
                p->o[b][t] = (k == PK_Q4_0 ? 8 : 16) * hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16));
            }
        }
}

/* Vector v of a Q4 / Q5_0 panel block as bytes: lo = values 4v .. 4v+3 of the 8 rows, hi =
 * values 16+4v .. 16+4v+3. Q5_0 (five): byte 4r + j takes byte r of the 8 fifth-bit bytes, then
 * bit j (the low nibble's value) or 4 + j (the high nibble's). */
ALWAYS_INLINE void pk_unpack(const uint8_t *pb, int v, const bool five, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), raw = _mm256_loadu_si256((const __m256i *)(pb + 32 * v));
    *lo = _mm256_and_si256(raw, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
    if (!five) return;
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
    const __m256i bit_lo = _mm256_set1_epi32(0x08040201), bit_hi = _mm256_set1_epi32((int)0x80402010u), b4 = _mm256_set1_epi8(0x10);
    int64_t h8;
    memcpy(&h8, pb + 128 + 8 * v, 8);
    const __m256i hb = _mm256_shuffle_epi8(_mm256_set1_epi64x(h8), spread);
    *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bit_lo), bit_lo), b4));
    *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bit_hi), bit_hi), b4));
}

/* One panel x T activation rows (prepared in p). */
ALWAYS_INLINE void pk_panel(const int T, int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,
                            const pk_acts *p, const pk_kind k) {
    const size_t pbytes = PK_ROWS * pk_block(k), ab = pk_act_block(k), qa = pk_act_qs(k);
    const size_t d_at = pk_d_at(k);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[PK_TOKS], sm[PK_TOKS];
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = sm[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + b * pbytes, *ya = y + b * ab + qa;
        __m256i isum[PK_TOKS];
        if (k == PK_Q8_0) {
            _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) {
                const __m256i wg = _mm256_loadu_si256((const __m256i *)(pb + 32 * g)), aw = _mm256_sign_epi8(wg, wg);
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                    const __m256i sy = _mm256_sign_epi8(bcast32(ya + t * as + 4 * g), wg);
                    const __m256i m = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sy), ones);
                    isum[t] = g ? _mm256_add_epi32(isum[t], m) : m;
                    ROUNDED(isum[t]); /* keeps GCC from computing all the products first and spilling them */
                }
            }
        } else if (k == PK_Q5_0X) { /* levels 0..31 as bytes: int16 holds 4 groups */
            __m256i s16[PK_TOKS];
            _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) {
                const __m256i wg = _mm256_loadu_si256((const __m256i *)(pb + 32 * g));
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                    const __m256i m = _mm256_maddubs_epi16(wg, bcast32(ya + t * as + 4 * g));
                    s16[t] = g % 4 ? _mm256_add_epi16(s16[t], m) : m;
                    ROUNDED(s16[t]);
                    if (g % 4 == 3) {
                        const __m256i s32 = _mm256_madd_epi16(s16[t], ones);
                        isum[t] = g == 3 ? s32 : _mm256_add_epi32(isum[t], s32);
                    }
                }
            }
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) isum[t] = _mm256_sub_epi32(isum[t], _mm256_set1_epi32(p->o[b][t]));
        } else {
            __m256i s16[PK_TOKS];
            _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) {
                __m256i lo, hi;
                pk_unpack(pb, v, k == PK_Q5_0, &lo, &hi);
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                    const __m256i m = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast32(ya + t * as + 4 * v)),
                                                       _mm256_maddubs_epi16(hi, bcast32(ya + t * as + 16 + 4 * v)));
                    s16[t] = v % (k == PK_Q5_0 ? 2 : 4) ? _mm256_add_epi16(s16[t], m) : m;
                    ROUNDED(s16[t]);
                    if (k == PK_Q5_0 && v % 2 == 1) { /* Q5: int16 holds 4 groups (2 vectors) at most */
                        const __m256i s32 = _mm256_madd_epi16(s16[t], ones);
                        isum[t] = v == 1 ? s32 : _mm256_add_epi32(isum[t], s32);
                    }
                }
            }
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
                if (k != PK_Q5_0) isum[t] = _mm256_madd_epi16(s16[t], ones);
                if (k != PK_Q4_1) isum[t] = _mm256_sub_epi32(isum[t], _mm256_set1_epi32(p->o[b][t]));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + d_at)));
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(p->d[b][t])), _mm256_cvtepi32_ps(isum[t]), acc[t]);
        if (k == PK_Q4_1 && T <= 2) { /* registers to spare: the minimums in the same pass */
            const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + 144)));
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) sm[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(p->s[b][t]), sm[t]);
        }
    }
    if (k == PK_Q4_1 && T > 2) /* the minimums in a pass of their own (the same sequence either way) */
        for (int64_t b = 0; b < nb; b++) {
            const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(panel + b * pbytes + 144)));
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) sm[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(p->s[b][t]), sm[t]);
        }
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)
        _mm256_storeu_ps(out + t * os, k == PK_Q4_1 ? _mm256_add_ps(acc[t], sm[t]) : acc[t]);
}

typedef void (*pk_panel_fn)(int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as, const pk_acts *p);

/* np Q5_0 panels of nb blocks -> the same panels with the levels as bytes (PK_Q5_0X) */
static void pk_expand_q5(int64_t np, int64_t nb, uint8_t *dst, const uint8_t *src) {
    for (int64_t i = 0; i < np * nb; i++) {
        const uint8_t *pb = src + i * PK_ROWS * sizeof(block_q5_0);
        uint8_t *xb = dst + i * PK_ROWS * sizeof(block_q8_0);
        for (int v = 0; v < 4; v++) {
            __m256i lo, hi;
            pk_unpack(pb, v, true, &lo, &hi);
            _mm256_storeu_si256((__m256i *)(xb + 32 * v), lo);
            _mm256_storeu_si256((__m256i *)(xb + 32 * (v + 4)), hi);
        }
        memcpy(xb + 256, pb + 160, 16); /* d_w */
    }
}

/* Rows [0, nr) of panels (nr a multiple of 8) x nt activation rows. */
static void pk_gemm(int64_t n, float *out, int64_t os, const uint8_t *w, size_t ws, int64_t nr, const uint8_t *a, size_t as,
                    int64_t nt, const pk_panel_fn *panel, const pk_panel_fn *expanded, pk_kind k) {
    const int64_t nb = n / QK, np = nr / PK_ROWS;
    const size_t pstride = PK_ROWS * ws;
    pk_acts p;
    if (nt <= PK_TOKS) { /* decode: one prep, then every panel in file order */
        pk_prep((int)nt, nb, &p, a, as, k);
        for (int64_t i = 0; i < np; i++) panel[nt](nb, out + i * PK_ROWS, os, w + i * pstride, a, as, &p);
        return;
    }
    /* prefill: row blocks stay in L2 while every token tile passes by; Q5_0's are expanded to
     * bytes once per row block (into scratch, when there is memory for it) */
    const size_t xstride = (size_t)nb * PK_ROWS * sizeof(block_q8_0); /* an expanded panel */
    uint8_t *x = expanded ? b32_scratch_get(PK_ROW_BLOCK * xstride) : NULL;
    for (int64_t i0 = 0; i0 < np; i0 += PK_ROW_BLOCK) {
        const int64_t i1 = i0 + PK_ROW_BLOCK < np ? i0 + PK_ROW_BLOCK : np;
        const uint8_t *blk = w + i0 * pstride;
        size_t bstride = pstride;
        const pk_panel_fn *fn = panel;
        if (x) {
            pk_expand_q5(i1 - i0, nb, x, blk);
            blk = x, bstride = xstride, fn = expanded;
        }
        for (int64_t t0 = 0; t0 < nt; t0 += PK_TOKS) {
            const int T = nt - t0 < PK_TOKS ? (int)(nt - t0) : PK_TOKS;
            pk_prep(T, nb, &p, a + t0 * as, as, k);
            for (int64_t i = i0; i < i1; i++) fn[T](nb, out + t0 * os + i * PK_ROWS, os, blk + (i - i0) * bstride, a + t0 * as, as, &p);
        }
    }
}

static bool pk_repack(int64_t n, int64_t nr, void *dst, const void *w, pk_kind k) {
    if (n / QK > PK_MAX_NB || nr % PK_ROWS) return false;
    const size_t bs = pk_block(k), qs = pk_qs(k), d_at = pk_d_at(k);
    const int words = k == PK_Q8_0 ? 8 : 4; /* 4-byte words of values per block */
    const int64_t nb = n / QK;
    const size_t ws = (size_t)nb * bs;
    for (int64_t r0 = 0; r0 < nr; r0 += PK_ROWS)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *pb = (uint8_t *)dst + r0 * ws + b * PK_ROWS * bs;
            for (int r = 0; r < PK_ROWS; r++) {
                const uint8_t *x = (const uint8_t *)w + (r0 + r) * ws + b * bs;
                for (int v = 0; v < words; v++) memcpy(pb + 32 * v + 4 * r, x + qs + 4 * v, 4);
                if (k == PK_Q5_0) { /* the fifth bits of values 4v .. 4v+3 and 16+4v .. 16+4v+3 */
                    uint32_t qh;
                    memcpy(&qh, ((const block_q5_0 *)x)->qh, 4);
                    for (int v = 0; v < 4; v++) pb[128 + 8 * v + r] = (uint8_t)(((qh >> (4 * v)) & 0xf) | (((qh >> (16 + 4 * v)) & 0xf) << 4));
                }
                memcpy(pb + d_at + 2 * r, x, 2);                         /* d */
                if (k == PK_Q4_1) memcpy(pb + d_at + 16 + 2 * r, x + 2, 2); /* m */
            }
        }
    return true;
}

#define PK_PANEL_T(name, T_, kind)                                                                                     \
    static void name##_pk##T_(int64_t nb, float *out, int64_t os, const uint8_t *panel, const uint8_t *y, size_t as,  \
                              const pk_acts *p) {                                                                      \
        pk_panel(T_, nb, out, os, panel, y, as, p, kind);                                                              \
    }
#define PK_PANELS(name, kind)                                                                                        \
    PK_PANEL_T(name, 1, kind) PK_PANEL_T(name, 2, kind) PK_PANEL_T(name, 3, kind)                                      \
    PK_PANEL_T(name, 4, kind) PK_PANEL_T(name, 5, kind) PK_PANEL_T(name, 6, kind)                                      \
    static const pk_panel_fn name##_pk_panels[PK_TOKS + 1] = {NULL,        name##_pk1, name##_pk2, name##_pk3,         \
                                                              name##_pk4, name##_pk5, name##_pk6};
#define PACKED_GEMM(name, kind)                                                                                        \
    PK_PANELS(name, kind)                                                                                              \
    static bool name##_repack(int64_t n, int64_t nr, void *dst, const void *w) { return pk_repack(n, nr, dst, w, kind); }
#define PACKED_GEMM_FN(name, kind, expanded)                                                                           \
    static void name##_gemm_packed(int64_t n, float *out, int64_t os, const void *w, size_t ws, int64_t nr, const void *a, \
                                   size_t as, int64_t nt) {                                                            \
        pk_gemm(n, out, os, w, ws, nr, a, as, nt, name##_pk_panels, expanded, kind);                                   \
    }
PACKED_GEMM(q4_0, PK_Q4_0) PACKED_GEMM_FN(q4_0, PK_Q4_0, NULL)
PACKED_GEMM(q4_1, PK_Q4_1) PACKED_GEMM_FN(q4_1, PK_Q4_1, NULL)
PK_PANELS(q5_0x, PK_Q5_0X)
PACKED_GEMM(q5_0, PK_Q5_0) PACKED_GEMM_FN(q5_0, PK_Q5_0, q5_0x_pk_panels)
PACKED_GEMM(q8_0, PK_Q8_0) PACKED_GEMM_FN(q8_0, PK_Q8_0, NULL)

/* ---- activation quantizers ---- */

/* roundf (ties away from zero) of integral-range floats: v - trunc(v) is exact, so the tie test
 * is exact too. */
ALWAYS_INLINE __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
}

/* Four vectors of eight int32 (values 0..31 in order) -> 32 int8 in order. */
ALWAYS_INLINE __m256i pack_i32x32(__m256i i0, __m256i i1, __m256i i2, __m256i i3) {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

ALWAYS_INLINE __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

/* One 32-block as the scalar q8_block_quantize: d = amax/127, q = roundf(x * (1/d)). */
ALWAYS_INLINE float q8_block(const float *x, int8_t *qs, int *sum) {
    __m256 v[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])), _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    __m256i q[4];
    for (int k = 0; k < 4; k++) {
        __m256 p = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
        ROUNDED(p);
        q[k] = _mm256_cvtps_epi32(round_half_away(p));
    }
    *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    _mm256_storeu_si256((__m256i *)qs, pack_i32x32(q[0], q[1], q[2], q[3]));
    return d;
}

static void q8_0_from_float(const float *x, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++) {
        int sum;
        y[i].d = seek_f32_to_f16(q8_block(x + i * QK, y[i].qs, &sum));
    }
}

static void q8_1_from_float(const float *x, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK; i++) {
        int sum;
        const float d = q8_block(x + i * QK, y[i].qs, &sum);
        y[i].d = seek_f32_to_f16(d);
        y[i].s = seek_f32_to_f16((float)sum * d);
    }
}

/* As the scalar Q8_K quantizer: the scale comes from the first value of largest magnitude,
 * q = nearest-even(x * -127/max) capped at 127, bsums = sums of 16. */
static void q8_K_from_float(const float *x, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + j)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        int first = 0;
        for (int j = 0; j < QK_K; j += 8) {
            const __m256 eq = _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ);
            const int mask = _mm256_movemask_ps(eq);
            if (mask) {
                first = j + __builtin_ctz((unsigned)mask);
                break;
            }
        }
        const float iscale = -127.f / x[first];
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i cap = _mm256_set1_epi32(127);
        __m256i part[QK_K / 32]; /* per 32 values: lanes 0-3 sum quads of the first 16, 4-7 of the next */
        for (int c = 0; c < QK_K / 32; c++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 p = _mm256_mul_ps(_mm256_loadu_ps(x + 32 * c + 8 * k), vs);
                ROUNDED(p);
                p = _mm256_round_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(p), cap);
            }
            const __m256i qb = pack_i32x32(q[0], q[1], q[2], q[3]);
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * c), qb);
            part[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), qb), _mm256_set1_epi16(1));
        }
        /* two rounds of hadd leave groups 0,2,4,6 in the low lane and 1,3,5,7 in the high one */
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        __m256i g[2];
        for (int h = 0; h < 2; h++) {
            const __m256i *t = part + 4 * h;
            const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(t[0], t[1]), _mm256_hadd_epi32(t[2], t[3]));
            g[h] = _mm256_permutevar8x32_epi32(s, order);
        }
        const __m256i b16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(g[0], g[1]), _MM_SHUFFLE(3, 1, 2, 0));
        _mm256_storeu_si256((__m256i *)y[i].bsums, b16);
        y[i].d = 1 / iscale;
    }
}

/* ---- the table: NULL fields come from the scalar one ---- */

static const seek_type_kernels avx2_table[SEEK_TYPE_COUNT] = {
    [SEEK_TYPE_F32] = {.vec_dot = f32_vec_dot, .gemm = f32_gemm, .gemm_all_rows = true},
    [SEEK_TYPE_F16] = {.to_float = f16_to_float, .from_float = f16_from_float, .vec_dot = f16_vec_dot, .gemm = f16_gemm, .gemm_all_rows = true},
    [SEEK_TYPE_BF16] = {.to_float = bf16_to_float, .vec_dot = bf16_vec_dot, .gemm = bf16_gemm, .gemm_all_rows = true},
    [SEEK_TYPE_Q4_0] = {.vec_dot = q4_0_vec_dot, .gemm = q4_0_gemm, .gemm_all_rows = true,
                        .repack = q4_0_repack, .gemm_packed = q4_0_gemm_packed, .repack_rows = PK_ROWS},
    [SEEK_TYPE_Q4_1] = {.vec_dot = q4_1_vec_dot, .gemm = q4_1_gemm, .gemm_all_rows = true,
                        .repack = q4_1_repack, .gemm_packed = q4_1_gemm_packed, .repack_rows = PK_ROWS},
    [SEEK_TYPE_Q5_0] = {.to_float = q5_0_to_float, .vec_dot = q5_0_vec_dot, .gemm = q5_0_gemm, .gemm_all_rows = true,
                        .repack = q5_0_repack, .gemm_packed = q5_0_gemm_packed, .repack_rows = PK_ROWS},
    [SEEK_TYPE_Q5_1] = {.to_float = q5_1_to_float, .vec_dot = q5_1_vec_dot, .gemm = q5_1_gemm, .gemm_all_rows = true},
    [SEEK_TYPE_Q8_0] = {.from_float = q8_0_from_float, .vec_dot = q8_0_vec_dot, .gemm = q8_0_gemm, .gemm_all_rows = true,
                        .repack = q8_0_repack, .gemm_packed = q8_0_gemm_packed, .repack_rows = PK_ROWS},
    [SEEK_TYPE_Q8_1] = {.from_float = q8_1_from_float},
    [SEEK_TYPE_Q8_K] = {.from_float = q8_K_from_float},
};

const seek_type_kernels *seek_kernels_avx2(seek_dtype t) {
    if ((unsigned)t >= SEEK_TYPE_COUNT) return NULL;
    const seek_type_kernels *kq = seek_kquant_avx2(t); /* Q4_K, Q5_K, Q6_K: kquant_avx2.c */
    if (kq) return kq;
    const seek_type_kernels *k = &avx2_table[t];
    return k->to_float || k->from_float || k->vec_dot ? k : NULL;
}

#else /* not x86 */
const seek_type_kernels *seek_kernels_avx2(seek_dtype t) { (void)t; return NULL; }
#endif
