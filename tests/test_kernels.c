/* The kernel variant test: every ISA table this CPU can run against the scalar reference
 * (dequantize bit-exact, activation quantizers byte-identical, dot products within the float
 * summation tolerance), the scalar reference against its own specification (round-trip error
 * bounds, dot product of dequantized rows), the ISA dispatcher, and the fp16/bf16 helpers
 * (exhaustively, and against F16C where the CPU has it). Not a benchmark. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/fp16.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "tensor/dtype.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* ---- deterministic data: xorshift64*, Irwin-Hall normals, outliers, zeros, ties ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static float rng_uniform(void) { return (float)(rng_next() >> 40) * 0x1p-24f; } /* [0, 1) */
static float rng_normal(void) {
    return (rng_uniform() + rng_uniform() + rng_uniform() + rng_uniform() - 2.0f) * 1.7320508f;
}

/* Weight-like rows: per-32 scales from 0.01 to 1, 2% outliers up to 30x, 5% exact zeros, an
 * all-zero 32-block, and two blocks whose largest magnitude occurs with both signs, negative
 * first and positive first (the quantizers must take the first one's sign). */
static void fill_row(float *x, int64_t n) {
    float scale = 0.5f;
    for (int64_t i = 0; i < n; i++) {
        if (i % 32 == 0) scale = 0.01f + rng_uniform();
        const float u = rng_uniform();
        float v = rng_normal() * scale;
        if (u < 0.02f) v *= 10.0f + 20.0f * rng_uniform();
        else if (u < 0.07f) v = 0.0f;
        x[i] = v;
    }
    if (n >= 96)
        for (int64_t i = 64; i < 96; i++) x[i] = 0.0f;
    if (n >= 128) {
        float amax = 0.0f;
        for (int64_t i = 96; i < 128; i++) amax = fmaxf(amax, fabsf(x[i]));
        x[100] = -amax * 1.5f;
        x[110] = amax * 1.5f;
    }
    if (n >= 160) {
        float amax = 0.0f;
        for (int64_t i = 128; i < 160; i++) amax = fmaxf(amax, fabsf(x[i]));
        x[130] = amax * 1.25f;
        x[140] = -amax * 1.25f;
    }
}

/* Exact rounding ties for the activation quantizers: with amax = 127 the Q8_0/Q8_1 scale is 1
 * and with max = -127 the Q8_K scale is 1 too, so k + 0.5 are ties (roundf goes away from zero,
 * Q8_K's nearest_int to even), plus the float just below 0.5. */
static void fill_ties(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const int r = (int)(rng_next() % 9);
        x[i] = r == 0 ? 0.49999997f : r == 1 ? -0.49999997f : (float)((int)(rng_next() % 200) - 100) + 0.5f;
        if (i % 32 == 0) x[i] = -127.0f;
    }
}

/* Exactly representable inputs (integers below 2^11, times 37 for outliers, times powers of two),
 * so this row is the same on every machine whatever the compiler does with float expressions. */
static void fill_golden(float *x, int64_t n) {
    rng_state = 0x243f6a8885a308d3ull;
    int e = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i % 32 == 0) e = -(int)(rng_next() % 16) - 4;
        const uint64_t r = rng_next();
        float v = ldexpf((float)((int)(r % 2001) - 1000), e);
        if ((r >> 32) % 50 == 0) v *= 37.0f;
        if ((r >> 40) % 20 == 0) v = 0.0f;
        x[i] = (i >= 64 && i < 96) ? 0.0f : v;
    }
}

/* ---- tolerances ---- */

/* Float sums in two different orders: each is within (T-1)*2^-24 * sum|terms| of the exact sum
 * (T = number of terms added), so they differ by at most twice that. Rounding of the products
 * and the per-block scale multiplies adds a few more units; +4 covers them. sum_abs is taken over
 * the element products |w_i*a_i|, which bounds the per-block terms too. */
static double sum_tol(double sum_abs, int64_t n_terms) { return 2.0 * (double)(n_terms + 4) * 0x1p-24 * sum_abs + 1e-30; }

/* Round-trip error bound for element j of a 32/256-block, from the block's input x[0..bs):
 * |x - deq| <= half a quantization step (a full one where the quantizer clamps the far end of
 * a symmetric range), plus the error of storing d and m as fp16 (2^-11 relative, 2^-25 absolute
 * below the fp16 normal range) times the largest level, plus float rounding slop (1e-6). */
static double block_bound(seek_dtype t, const float *x, int bs, float xj) {
    const double h = 0x1p-11, sub = 0x1p-25;
    double amax = 0, min = x[0], max = x[0];
    for (int k = 0; k < bs; k++) {
        amax = fmax(amax, fabs(x[k]));
        min = fmin(min, x[k]);
        max = fmax(max, x[k]);
    }
    switch (t) {
    case SEEK_TYPE_F32: return 0.0;
    case SEEK_TYPE_F16: return fabs(xj) * h + sub; /* half an ulp */
    case SEEK_TYPE_BF16: return fabs(xj) * 0x1p-8 + 1e-38;
    case SEEK_TYPE_Q8_0:
    case SEEK_TYPE_Q8_1: return 0.5 * amax / 127 + 127 * (amax / 127 * h + sub) + amax * 1e-6;
    case SEEK_TYPE_Q4_0: return amax / 8 + 8 * (amax / 8 * h + sub) + amax * 1e-6;
    case SEEK_TYPE_Q5_0: return amax / 16 + 16 * (amax / 16 * h + sub) + amax * 1e-6;
    case SEEK_TYPE_Q4_1:
    case SEEK_TYPE_Q5_1: {
        const double levels = t == SEEK_TYPE_Q4_1 ? 15 : 31, d = (max - min) / levels;
        return 0.5 * d + levels * (d * h + sub) + fabs(min) * h + sub + amax * 1e-6;
    }
    case SEEK_TYPE_Q8_K: return 0.5 * amax / 127 + amax * 1e-6; /* d stays a float */
    default: return INFINITY;
    }
}

/* The k-quants fit scales by least squares and round them to 6 (Q4_K/Q5_K) or 8 bits (Q6_K),
 * so there is no clean per-element bound; we check the relative RMS error per super-block
 * instead, against what 4/5/6 bits give on this data: the largest measured over the 36
 * super-blocks here are 0.128 / 0.060 / 0.036 (means 0.095 / 0.049 / 0.030), the limits are
 * about 1.3x that; a wrong bit layout or scale gives errors near 1. */
static double kquant_rms_limit(seek_dtype t) {
    return t == SEEK_TYPE_Q4_K ? 0.16 : t == SEEK_TYPE_Q5_K ? 0.08 : 0.05;
}

static int is_kquant(seek_dtype t) { return t == SEEK_TYPE_Q4_K || t == SEEK_TYPE_Q5_K || t == SEEK_TYPE_Q6_K; }

/* x -> deq within the format's error bound: per element for the 32-blocks, relative RMS per
 * super-block for the k-quants. */
static void check_round_trip(seek_dtype t, const float *x, const float *deq, int64_t n, const char *what) {
    const char *name = seek_dtype_name(t);
    const int64_t bs = seek_dtype_block_size(t);
    if (is_kquant(t)) {
        for (int64_t s = 0; s < n; s += QK_K) {
            double e2 = 0, x2 = 0;
            for (int64_t j = s; j < s + QK_K; j++) {
                e2 += ((double)x[j] - deq[j]) * ((double)x[j] - deq[j]);
                x2 += (double)x[j] * x[j];
            }
            const double rel = x2 > 0 ? sqrt(e2 / x2) : sqrt(e2);
            CHECK(rel <= kquant_rms_limit(t), "%s %s n=%lld super-block %lld: relative rms error %g > %g", name, what,
                  (long long)n, (long long)(s / QK_K), rel, kquant_rms_limit(t));
        }
        return;
    }
    int64_t bad = -1;
    for (int64_t j = 0; j < n && bad < 0; j++) {
        const int64_t b0 = j / bs * bs;
        const int bsz = (int)(bs < 32 ? 1 : bs);
        if (fabs((double)x[j] - deq[j]) > block_bound(t, x + b0, bsz, x[j])) bad = j;
    }
    CHECK(bad < 0, "%s %s n=%lld: round trip at %lld: %g -> %g", name, what, (long long)n, (long long)bad, bad >= 0 ? x[bad] : 0.0,
          bad >= 0 ? deq[bad] : 0.0);
}

/* ---- one type, one row length ---- */

typedef struct {
    float *x, *a, *deq, *adeq, *tmp;
    uint8_t *wq, *aq, *q2;
} buffers;

/* Q4_1/Q5_1 against Q8_1 use s = fp16(d*sum(q)) for the min term instead of fp16(d)*sum(q),
 * so the dot differs from the dot of the dequantized rows by sum_b |m_b| * |s_b - d_b*sum(q_b)|. */
static double q8_1_s_error(const void *w, size_t wbytes, const void *a, int64_t n) {
    const block_q8_1 *y = a;
    double e = 0;
    for (int64_t b = 0; b < n / QK; b++) {
        seek_f16 m;
        memcpy(&m, (const uint8_t *)w + b * wbytes + 2, 2);
        int s = 0;
        for (int j = 0; j < QK; j++) s += y[b].qs[j];
        e += fabs(seek_f16_to_f32(m)) * fabs(seek_f16_to_f32(y[b].s) - (double)seek_f16_to_f32(y[b].d) * s);
    }
    return e;
}

static void check_type(seek_dtype t, int64_t n, const buffers *B) {
    const char *name = seek_dtype_name(t);
    const seek_type_kernels *ref = seek_kernels_for(t, SEEK_ISA_SCALAR);
    CHECK(ref != NULL, "%s: scalar table", name);
    if (!ref) return;
    const int64_t bs = seek_dtype_block_size(t);
    const size_t wbytes = seek_dtype_row_bytes(t, n);

    fill_row(B->x, n);
    fill_row(B->a, n);
    ref->from_float(B->x, B->wq, n);
    ref->to_float(B->wq, B->deq, n);

    /* (d) round trip within the format's error bound */
    check_round_trip(t, B->x, B->deq, n, "random");

    /* the scalar dot product against its specification */
    float ref_dot = 0.0f;
    double sum_abs = 0, n_terms = 0, s_err = 0;
    const seek_type_kernels *act = ref->vec_dot ? seek_kernels_for(ref->act_type, SEEK_ISA_SCALAR) : NULL;
    if (ref->vec_dot) {
        act->from_float(B->a, B->aq, n);
        act->to_float(B->aq, B->adeq, n);
        ref->vec_dot(n, &ref_dot, B->wq, B->aq);
        double exact = 0, err_a = 0, orig = 0;
        for (int64_t j = 0; j < n; j++) {
            exact += (double)B->deq[j] * B->adeq[j];
            orig += (double)B->deq[j] * B->a[j];
            sum_abs += fabs((double)B->deq[j] * B->adeq[j]);
            err_a += fabs((double)B->deq[j]) * fabs((double)B->a[j] - B->adeq[j]);
        }
        n_terms = (double)(n / seek_dtype_block_size(ref->act_type) + (bs > 1 ? n / bs : 0));
        if (ref->act_type == SEEK_TYPE_Q8_1) s_err = q8_1_s_error(B->wq, seek_dtype_block_bytes(t), B->aq, n);
        const double tol = sum_tol(sum_abs, (int64_t)n_terms) + s_err;
        /* (c0) vec_dot(w, aq) = sum deq(w)*deq(aq), up to float rounding */
        CHECK(fabs(ref_dot - exact) <= tol, "%s n=%lld: scalar vec_dot %.9g vs dequantized dot %.9g (tol %g)", name,
              (long long)n, ref_dot, exact, tol);
        /* (e) and against the unquantized activations: off by at most sum |w|*|a - deq(aq)| */
        CHECK(fabs(ref_dot - orig) <= err_a + tol, "%s n=%lld: vec_dot %.9g vs float dot %.9g (bound %g)", name,
              (long long)n, ref_dot, orig, err_a + tol);
    }

    for (int isa = SEEK_ISA_SCALAR + 1; isa < SEEK_ISA_COUNT; isa++) {
        if (isa > (int)seek_cpu_best_isa()) continue; /* reported once in main */
        const seek_type_kernels *k = seek_kernels_for(t, (seek_isa)isa);
        const char *in = seek_isa_name((seek_isa)isa);
        CHECK(k && k->to_float && k->from_float && k->act_type == ref->act_type, "%s/%s: merged table", name, in);
        if (!k) continue;
        /* (a) dequantize bit-exact */
        k->to_float(B->wq, B->tmp, n);
        CHECK(memcmp(B->tmp, B->deq, (size_t)n * sizeof(float)) == 0, "%s/%s n=%lld: to_float differs", name, in,
              (long long)n);
        /* (b) quantize byte-identical, on weight-like data and on exact ties */
        k->from_float(B->x, B->q2, n);
        CHECK(memcmp(B->q2, B->wq, wbytes) == 0, "%s/%s n=%lld: from_float differs", name, in, (long long)n);
        fill_ties(B->tmp, n);
        ref->from_float(B->tmp, B->aq, n);
        k->from_float(B->tmp, B->q2, n);
        CHECK(memcmp(B->q2, B->aq, wbytes) == 0, "%s/%s n=%lld: from_float differs on ties", name, in, (long long)n);
        /* (c) vec_dot: same integer block sums, float sums in another order */
        if (ref->vec_dot) {
            act->from_float(B->a, B->aq, n);
            float dot = 0.0f;
            CHECK(k->vec_dot != NULL, "%s/%s: vec_dot", name, in);
            if (!k->vec_dot) continue;
            k->vec_dot(n, &dot, B->wq, B->aq);
            const double tol = sum_tol(sum_abs, (int64_t)n_terms);
            CHECK(fabs((double)dot - ref_dot) <= tol, "%s/%s n=%lld: vec_dot %.9g vs scalar %.9g (tol %g)", name, in,
                  (long long)n, dot, ref_dot, tol);
        }
    }
}

/* Row lengths: the plain types (block size 1) take the lengths the issue names, which straddle
 * the SIMD widths; block formats need whole blocks, so they take 1, 2, 3, 8, 9, 16, 128, 129, 136
 * blocks of 32 or 1, 2, 16, 17 super-blocks (odd counts exercise the two-blocks-per-step loops'
 * tails). */
static void check_all_types(void) {
    static const seek_dtype types[] = {
        SEEK_TYPE_F32, SEEK_TYPE_F16, SEEK_TYPE_BF16, SEEK_TYPE_Q4_0, SEEK_TYPE_Q4_1, SEEK_TYPE_Q5_0, SEEK_TYPE_Q5_1,
        SEEK_TYPE_Q8_0, SEEK_TYPE_Q8_1, SEEK_TYPE_Q4_K, SEEK_TYPE_Q5_K, SEEK_TYPE_Q6_K, SEEK_TYPE_Q8_K,
    };
    static const int64_t plain_n[] = {1, 31, 32, 33, 255, 256, 257, 4097};
    static const int64_t n32[] = {32, 64, 96, 256, 288, 512, 4096, 4128, 4352};
    static const int64_t n256[] = {256, 512, 4096, 4352};
    const int64_t max_n = 4352 + 256;
    buffers B = {
        .x = malloc(max_n * sizeof(float)), .a = malloc(max_n * sizeof(float)),
        .deq = malloc(max_n * sizeof(float)), .adeq = malloc(max_n * sizeof(float)),
        .tmp = malloc(max_n * sizeof(float)), .wq = malloc(max_n * 4), .aq = malloc(max_n * 4), .q2 = malloc(max_n * 4),
    };
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const seek_dtype t = types[ti];
        const int64_t bs = seek_dtype_block_size(t);
        const int64_t *ns = bs == 1 ? plain_n : bs == QK ? n32 : n256;
        const size_t count = bs == 1 ? 8 : bs == QK ? 9 : 4;
        for (size_t i = 0; i < count; i++) check_type(t, ns[i], &B);
    }
    free(B.x), free(B.a), free(B.deq), free(B.adeq), free(B.tmp), free(B.wq), free(B.aq), free(B.q2);
}

/* ---- byte-identity with ggml ---- */

static uint64_t fnv1a(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* FNV-1a hashes of ggml's quantize_row_*_ref (and ggml_fp32_to_{fp16,bf16}_row) output on
 * fill_golden(4096 values), and of ggml's dequantize_row_* of that output (0: ggml has none).
 * Computed by linking ggml-quants.c and ggml.c of llama.cpp c392e50 (Feb 2025), built with
 * gcc -O2 for baseline x86-64 (no FMA), into a small harness outside this repo. */
static void check_golden(void) {
    static const struct { seek_dtype t; uint64_t quant, dequant; } golden[] = {
        {SEEK_TYPE_F16, 0x0cbd400d970cc20aull, 0x74b150192aebf62full},
        {SEEK_TYPE_BF16, 0x85f2c6dbfae553f9ull, 0x957a78cc15e462d9ull},
        {SEEK_TYPE_Q4_0, 0x2015e6ac88353065ull, 0xeeeb42661218b1a6ull},
        {SEEK_TYPE_Q4_1, 0x754b656cc5742e81ull, 0xbfc6a11bce5ceca8ull},
        {SEEK_TYPE_Q5_0, 0xa274a31f46fd7bddull, 0xc542666ca05fb8bbull},
        {SEEK_TYPE_Q5_1, 0x499f8e034250a932ull, 0x01c68f15a036efc7ull},
        {SEEK_TYPE_Q8_0, 0xf2ccfba9d7f36f62ull, 0x58300dc2b7e4a519ull},
        {SEEK_TYPE_Q8_1, 0x4fd14c35438874daull, 0},
        {SEEK_TYPE_Q4_K, 0x7ab71ab440cbc5edull, 0xfc55a90c1d5f7dbeull},
        {SEEK_TYPE_Q5_K, 0x78833780aa87d30dull, 0x4813a4e9775c23c5ull},
        {SEEK_TYPE_Q6_K, 0x22b413bbfee81955ull, 0x0d1ddd291745b437ull},
        {SEEK_TYPE_Q8_K, 0xa681b0e9c042a0b6ull, 0x9d317c4ef07f48feull},
    };
    enum { N = 4096 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint8_t *q = malloc(N * sizeof(float));
    fill_golden(x, N);
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        const seek_type_kernels *k = seek_kernels_for(golden[i].t, SEEK_ISA_SCALAR);
        const char *name = seek_dtype_name(golden[i].t);
        memset(q, 0, N * sizeof(float));
        k->from_float(x, q, N);
        CHECK(fnv1a(q, seek_dtype_row_bytes(golden[i].t, N)) == golden[i].quant, "%s: quantized bytes equal ggml's", name);
        if (!golden[i].dequant) continue;
        k->to_float(q, y, N);
        CHECK(fnv1a(y, N * sizeof(float)) == golden[i].dequant, "%s: dequantized floats equal ggml's", name);
    }
    free(x), free(y), free(q);
}

/* ---- the dispatcher ---- */

static void check_dispatch(void) {
    /* SEEK_ISA is read once, at the first call into the dispatcher (main sets it to scalar) */
    CHECK(seek_kernels_isa() == SEEK_ISA_SCALAR, "SEEK_ISA=scalar honoured, got %s", seek_isa_name(seek_kernels_isa()));
    const seek_isa best = seek_cpu_best_isa();
    seek_kernels_force_isa(SEEK_ISA_AVX512);
    CHECK(seek_kernels_isa() == best, "forcing beyond the CPU clamps to %s", seek_isa_name(best));
    CHECK(seek_kernels(SEEK_TYPE_Q4_0) == seek_kernels_for(SEEK_TYPE_Q4_0, best), "seek_kernels uses the ISA in use");
    CHECK(strcmp(seek_isa_name(SEEK_ISA_SCALAR), "scalar") == 0 && strcmp(seek_isa_name(SEEK_ISA_AVX2), "avx2") == 0 &&
              strcmp(seek_isa_name(SEEK_ISA_AVX512), "avx512") == 0, "isa names");
    CHECK(seek_kernels_for(SEEK_TYPE_Q2_K, SEEK_ISA_SCALAR) == NULL, "no kernels for q2_K yet");
    CHECK(seek_kernels_for((seek_dtype)16, best) == NULL, "no kernels for IQ types");
    CHECK(seek_kernels_for(SEEK_TYPE_COUNT, best) == NULL, "out-of-range type");
    const seek_type_kernels *q6 = seek_kernels_for(SEEK_TYPE_Q6_K, SEEK_ISA_SCALAR);
    CHECK(q6 && q6->type == SEEK_TYPE_Q6_K && q6->act_type == SEEK_TYPE_Q8_K, "q6_K table fields");
    const seek_type_kernels *f16 = seek_kernels_for(SEEK_TYPE_F16, SEEK_ISA_SCALAR);
    CHECK(f16 && f16->act_type == SEEK_TYPE_F32, "f16 takes f32 activations");
    seek_kernels_force_isa(best);
}

/* ---- fp16 / bf16 helpers ---- */

#ifdef HAVE_X86
/* The test is built without -mf16c; only these two functions use it, called when cpuid has it. */
__attribute__((target("f16c"))) static uint16_t f16c_from_f32(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float f16c_to_f32(uint16_t h) { return _cvtsh_ss(h); }
#endif

static int f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

/* Independent round-to-nearest-even reference for f32 -> bf16 (via double distances). */
static uint16_t bf16_reference(float f) {
    const uint32_t u = seek_f32_bits(f);
    const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    const double dlo = fabs((double)f - seek_bits_f32(lo));
    const double dhi = isinf(seek_bits_f32(hi)) ? INFINITY : fabs((double)seek_bits_f32(hi) - f);
    if ((u & 0x7f800000u) == 0x7f000000u && (u & 0xffff) >= 0x8000 && (hi & 0x7fffffffu) == 0x7f800000u) {
        /* rounds up into infinity: distance to "2^128" decides */
        const double two128 = ldexp(1.0, 128) * (f < 0 ? -1 : 1);
        const double dinf = fabs(two128 - f);
        return (uint16_t)((dlo < dinf || (dlo == dinf && !((lo >> 16) & 1))) ? lo >> 16 : hi >> 16);
    }
    if (dlo < dhi || (dlo == dhi && !((lo >> 16) & 1))) return (uint16_t)(lo >> 16);
    return (uint16_t)(hi >> 16);
}

static float sample_float(uint32_t i) {
    /* every 4099th bit pattern, plus the neighbourhood of the fp16 range edges */
    static const float edges[] = {65504.0f, 65520.0f, 0x1p-14f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-15f, 1.0f};
    if (i < 8 * 64) {
        const uint32_t b = seek_f32_bits(edges[i / 64]) + (i % 64) - 32;
        return seek_bits_f32(b ^ ((i & 1) << 31));
    }
    return seek_bits_f32(i * 4099u);
}

static void check_fp16_helpers(void) {
    int bad_rt = -1, bad_bf = -1;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = seek_f16_to_f32((seek_f16)h);
        if (f16_is_nan((uint16_t)h)) {
            if (!isnan(f) || !f16_is_nan(seek_f32_to_f16(f))) bad_rt = (int)h;
        } else if (seek_f32_to_f16(f) != h) {
            bad_rt = (int)h;
        }
        const float g = seek_bf16_to_f32((seek_bf16)h);
        if (isnan(g) ? !isnan(seek_bf16_to_f32(seek_f32_to_bf16(g))) : seek_f32_to_bf16(g) != h) bad_bf = (int)h;
    }
    CHECK(bad_rt < 0, "f16 -> f32 -> f16 identity for all 65536 patterns (first bad 0x%04x)", bad_rt);
    CHECK(bad_bf < 0, "bf16 -> f32 -> bf16 identity for all 65536 patterns (first bad 0x%04x)", bad_bf);

    const uint32_t n_samples = 8 * 64 + 1048576;
    uint32_t bad_b = 0;
    for (uint32_t i = 0; i < n_samples; i++) {
        const float f = sample_float(i);
        if (isnan(f)) continue;
        if (seek_f32_to_bf16(f) != bf16_reference(f)) bad_b++;
    }
    CHECK(bad_b == 0, "f32 -> bf16 rounds to nearest even (%u of %u samples differ)", bad_b, n_samples);

#ifndef HAVE_X86
    printf("skip: F16C comparison (not x86)\n");
    return;
#else
    if (seek_cpu_best_isa() < SEEK_ISA_AVX2) { /* our AVX2 level includes F16C */
        printf("skip: F16C comparison (CPU lacks F16C)\n");
        return;
    }
    int bad_to = -1;
    for (uint32_t h = 0; h < 65536; h++) {
        const float a = seek_f16_to_f32((seek_f16)h), b = f16c_to_f32((uint16_t)h);
        if (isnan(a) ? !isnan(b) : seek_f32_bits(a) != seek_f32_bits(b)) bad_to = (int)h;
    }
    CHECK(bad_to < 0, "f16 -> f32 equals F16C for all 65536 patterns (first bad 0x%04x)", bad_to);
    uint32_t bad_from = 0;
    for (uint32_t i = 0; i < n_samples; i++) {
        const float f = sample_float(i);
        const uint16_t a = seek_f32_to_f16(f), b = f16c_from_f32(f);
        if (isnan(f) ? !(f16_is_nan(a) && f16_is_nan(b)) : a != b) bad_from++;
    }
    CHECK(bad_from == 0, "f32 -> f16 equals F16C (%u of %u samples differ)", bad_from, n_samples);

    /* the SIMD f32 -> f16 row conversions on the special values, NaN included (canonical NaN) */
    static const float specials[16] = {65504.0f, 65519.99f, 65520.0f, -INFINITY, NAN, -NAN, 0x1p-24f, 0x1p-25f,
                                       0x1.8p-25f, -0.0f, 1e-8f, 6.1e-5f, 1.0f / 3, -2.5f, 1e30f, 0.0f};
    seek_f16 want[16], got[16];
    seek_kernels_for(SEEK_TYPE_F16, SEEK_ISA_SCALAR)->from_float(specials, want, 16);
    for (int isa = SEEK_ISA_AVX2; isa <= (int)seek_cpu_best_isa(); isa++) {
        seek_kernels_for(SEEK_TYPE_F16, (seek_isa)isa)->from_float(specials, got, 16);
        CHECK(memcmp(want, got, sizeof want) == 0, "%s f16 from_float on special values", seek_isa_name((seek_isa)isa));
    }
#endif
}

/* rows of random values through k's from_float, stride bytes apart */
static void random_rows(const seek_type_kernels *k, float *x, int64_t n, uint8_t *dst, size_t stride, int64_t rows) {
    for (int64_t r = 0; r < rows; r++) {
        fill_row(x, n);
        k->from_float(x, dst + r * stride, n);
    }
}

/* how many outputs of a product (out[t * out_stride + r]) are not bit for bit what vec_dot gives */
static int differ_from_vec_dot(const seek_type_kernels *k, int64_t n, const float *out, int64_t out_stride, const uint8_t *w,
                               size_t wrow, int64_t nr, const uint8_t *a, size_t arow, int64_t nt) {
    int bad = 0;
    float want;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t r = 0; r < nr; r++) {
            k->vec_dot(n, &want, w + r * wrow, a + t * arow);
            bad += memcmp(&want, &out[t * out_stride + r], sizeof want) != 0;
        }
    return bad;
}

/* gemm (reading wg: w itself, or w repacked) over the first nr rows for every nr in row_counts
 * and 1 .. toks activation rows: every output must be what vec_dot gives on w */
static void check_tiles(const char *what, seek_isa isa, seek_dtype t, const seek_type_kernels *k, seek_gemm_fn gemm,
                        const uint8_t *wg, const uint8_t *w, size_t wrow, int64_t rows, const int64_t *row_counts, size_t n_counts,
                        const uint8_t *a, size_t arow, int64_t toks, int64_t n) {
    float *out = malloc((size_t)(rows * toks) * sizeof(float));
    for (size_t ri = 0; ri < n_counts; ri++)
        for (int64_t nt = 1, nr = row_counts[ri]; nt <= toks; nt++) {
            gemm(n, out, rows, wg, wrow, nr, a, arow, nt);
            const int bad = differ_from_vec_dot(k, n, out, rows, w, wrow, nr, a, arow, nt);
            CHECK(bad == 0, "%s %s %s %lldx%lld: %d outputs differ from vec_dot", seek_isa_name(isa), seek_dtype_name(t), what,
                  (long long)nr, (long long)nt, bad);
        }
    free(out);
}

/* gemm (tiled products) must give every output bit-identically to its own table's vec_dot,
 * whatever the numbers of rows and tokens, so that batching never changes a result. */
static void check_gemm(void) {
    const seek_dtype types[] = {SEEK_TYPE_F32, SEEK_TYPE_F16, SEEK_TYPE_BF16, SEEK_TYPE_Q4_0, SEEK_TYPE_Q4_1,
                                SEEK_TYPE_Q5_0, SEEK_TYPE_Q5_1, SEEK_TYPE_Q8_0, SEEK_TYPE_Q4_K, SEEK_TYPE_Q5_K, SEEK_TYPE_Q6_K};
    /* odd counts exercise every partial tile; 75 rows, two blocks of packed panels */
    const int64_t n = 1280, rows = 75, toks = 11, row_counts[] = {1, 3, 7, 8, 9, 64, 75};
    float *x = malloc((size_t)(n * (rows > toks ? rows : toks)) * sizeof(float));
    for (int isa = 0; isa <= (int)seek_cpu_best_isa(); isa++)
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            const seek_type_kernels *k = seek_kernels_for(types[ti], (seek_isa)isa);
            if (!k || !k->gemm) continue;
            const seek_type_kernels *ka = seek_kernels_for(k->act_type, (seek_isa)isa);
            const size_t wrow = seek_dtype_row_bytes(types[ti], n), arow = seek_dtype_row_bytes(k->act_type, n);
            uint8_t *w = malloc(wrow * rows), *a = malloc(arow * toks);
            random_rows(k, x, n, w, wrow, rows);
            random_rows(ka, x, n, a, arow, toks);
            check_tiles("gemm", (seek_isa)isa, types[ti], k, k->gemm, w, w, wrow, rows, row_counts,
                        sizeof row_counts / sizeof row_counts[0], a, arow, toks, n);
            free(w);
            free(a);
        }
    free(x);
}

/* Weights repacked at load (gemm_packed) must give every output bit-identically to vec_dot on
 * the rows as they were: 136 rows are 17 panels of 8, one more than a row block of the 32-value
 * formats, and 376 rows are 47 panels, more than the k-quants' L2 row block at this width (45
 * Q4_K panels); 11 tokens take the decode path (up to 6, k-quants 4) and the tiled one (Q5_0:
 * with its panels expanded to bytes). */
static void check_gemm_packed(void) {
    const int64_t n = 1280, rows = 376, toks = 11, row_counts[] = {8, 64, 128, 136, 376};
    float *x = malloc((size_t)n * sizeof(float));
    int n_checked = 0;
    for (int isa = 0; isa <= (int)seek_cpu_best_isa(); isa++)
        for (int ti = 0; ti < SEEK_TYPE_COUNT; ti++) {
            const seek_type_kernels *k = seek_kernels_for((seek_dtype)ti, (seek_isa)isa);
            if (!k || !k->repack) continue;
            const seek_type_kernels *ka = seek_kernels_for(k->act_type, (seek_isa)isa);
            const size_t wrow = seek_dtype_row_bytes((seek_dtype)ti, n), arow = seek_dtype_row_bytes(k->act_type, n);
            uint8_t *w = malloc(wrow * rows), *wp = malloc(wrow * rows), *a = malloc(arow * toks);
            random_rows(k, x, n, w, wrow, rows);
            random_rows(ka, x, n, a, arow, toks);
            CHECK(!k->repack(n, k->repack_rows + 1, wp, w), "%s repack refuses a partial panel", seek_dtype_name((seek_dtype)ti));
            CHECK(k->repack(n, rows, wp, w), "%s repack", seek_dtype_name((seek_dtype)ti));
            check_tiles("packed gemm", (seek_isa)isa, (seek_dtype)ti, k, k->gemm_packed, wp, w, wrow, rows, row_counts,
                        sizeof row_counts / sizeof row_counts[0], a, arow, toks, n);
            n_checked++;
            free(w);
            free(wp);
            free(a);
        }
#if defined(__x86_64__)
    if (seek_cpu_best_isa() >= SEEK_ISA_AVX2)
        CHECK(n_checked >= 7, "q4_0, q4_1, q5_0, q8_0, q4_K, q5_K and q6_K have packed kernels (%d tables)", n_checked);
#endif
    free(x);
}

/* GPTQ's block access: random levels written into a quantized block keep its scales (the grid
 * reads back the same) and dequantize to scale * q + offset. */
static void check_levels(void) {
    static const seek_dtype types[] = {SEEK_TYPE_Q4_0, SEEK_TYPE_Q4_1, SEEK_TYPE_Q5_0, SEEK_TYPE_Q5_1,
                                       SEEK_TYPE_Q8_0, SEEK_TYPE_Q4_K, SEEK_TYPE_Q5_K, SEEK_TYPE_Q6_K};
    float x[QK_K], y[QK_K];
    uint8_t blk[512];
    int8_t q[QK_K];
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const seek_dtype t = types[i];
        const seek_type_kernels *k = seek_kernels_for(t, SEEK_ISA_SCALAR);
        const int bs = (int)seek_dtype_block_size(t);
        for (int rep = 0; rep < 20; rep++) {
            fill_row(x, bs);
            k->from_float(x, blk, bs);
            seek_block_grid g, g2;
            CHECK(seek_block_grid_get(t, blk, &g) && g.sub * g.n_sub == bs, "%s: grid", seek_dtype_name(t));
            for (int j = 0; j < bs; j++) q[j] = (int8_t)(g.qmin + (int)(rng_next() % (uint64_t)(g.qmax - g.qmin + 1)));
            seek_block_set_levels(t, blk, q);
            seek_block_grid_get(t, blk, &g2);
            CHECK(!memcmp(&g, &g2, sizeof g), "%s: setting levels changed the scales", seek_dtype_name(t));
            k->to_float(blk, y, bs);
            int bad = -1;
            for (int j = 0; j < bs; j++) {
                const double want = (double)g.scale[j / g.sub] * q[j] + g.offset[j / g.sub];
                if (fabs(y[j] - want) > 1e-6 * (fabs(want) + fabs(g.offset[j / g.sub])) + 1e-12) bad = j;
            }
            CHECK(bad < 0, "%s: level %d at %d dequantizes to %g", seek_dtype_name(t), bad < 0 ? 0 : q[bad], bad,
                  bad < 0 ? 0.0 : (double)y[bad]);
        }
    }
    seek_block_grid g;
    CHECK(!seek_block_grid_get(SEEK_TYPE_F16, blk, &g), "no grid for f16");
}

/* The round trip on real weights: rows of the default model (its Q4_1 values, dequantized), every
 * weight type; skipped when the model is not downloaded (make model). */
static void check_real_weights(void) {
    char path[4096];
    seek_model *m = NULL;
    if (!seek_default_model_path(path, sizeof path) || seek_model_load(&m, path)) {
        printf("skip: real-weight round trips (no default model; run make model)\n");
        return;
    }
    static const seek_dtype types[] = {SEEK_TYPE_F16, SEEK_TYPE_BF16, SEEK_TYPE_Q8_0, SEEK_TYPE_Q4_0, SEEK_TYPE_Q4_1,
                                       SEEK_TYPE_Q5_0, SEEK_TYPE_Q5_1, SEEK_TYPE_Q4_K, SEEK_TYPE_Q5_K, SEEK_TYPE_Q6_K};
    const seek_weight *ws[] = {&m->layers[0].wq, &m->layers[0].w_down, &m->layers[m->hp.n_layer / 2].w_up,
                               &m->layers[m->hp.n_layer - 1].w_down, &m->tok_embd};
    int n_checked = 0;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        const seek_weight *w = ws[i];
        const int64_t n = w->ne[0], rows = w->ne[1] < 64 ? w->ne[1] : 64;
        float *x = malloc((size_t)(n * rows) * sizeof *x), *deq = malloc((size_t)(n * rows) * sizeof *deq);
        uint8_t *q = malloc((size_t)(n * rows) * 4);
        for (int64_t r = 0; r < rows; r++)
            seek_kernels_for(w->type, SEEK_ISA_SCALAR)->to_float((const uint8_t *)w->data + r * w->row_bytes, x + r * n, n);
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
            const seek_type_kernels *kt = seek_kernels_for(types[k], SEEK_ISA_SCALAR);
            if (n % seek_dtype_block_size(types[k])) continue; /* rows of 576 do not fit 256-blocks */
            for (int64_t r = 0; r < rows; r++) {
                kt->from_float(x + r * n, q, n);
                kt->to_float(q, deq + r * n, n);
            }
            check_round_trip(types[k], x, deq, n * rows, w->name);
            n_checked++;
        }
        free(x), free(deq), free(q);
    }
    printf("real weights: %d tensor x type round trips within bounds\n", n_checked);
    seek_model_free(m);
}

int main(void) {
    setenv("SEEK_ISA", "scalar", 1);
    check_dispatch();
    const seek_isa best = seek_cpu_best_isa();
    printf("cpu best isa: %s\n", seek_isa_name(best));
    for (int isa = best + 1; isa < SEEK_ISA_COUNT; isa++)
        printf("skip: %s kernels (this CPU or OS lacks the instructions)\n", seek_isa_name((seek_isa)isa));
    check_fp16_helpers();
    check_golden();
    check_all_types();
    check_gemm();
    check_gemm_packed();
    check_levels();
    check_real_weights();
    return check_summary("test_kernels");
}
