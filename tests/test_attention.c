/* Blockwise online-softmax attention over the paged KV cache vs a direct reference (scores for
 * all keys, softmax, weighted sum, in double), for every ISA this CPU has: GQA, sequences whose
 * lengths straddle block edges (1, 31, 32, 33, 100), several sequences in one batch, MLA's shape
 * (one latent kv head, values read from the key rows, head groups), and a
 * truncated-then-refilled sequence. Tolerance 1e-5 absolute on outputs of magnitude ~1: fp32
 * sums in another order, and the online rescaling, each lose a few ulps. Also the fp32 vector
 * kernels against their scalar reference on sizes 1, 7, 31, 33, 257, 4097. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/attention.h"
#include "kernels/vec.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

typedef struct { const float *q; float *out; const int32_t *seq, *pos; int64_t n; seek_kv_cache *kv; seek_attn_shape sh; float *scr; } job;
static void run_attn(const seek_exec *ex, void *arg) {
    job *j = arg;
    op_attention(ex, j->out, j->q, j->kv, 1, j->seq, j->pos, j->n, &j->sh, j->scr);
}

static void test_vec(seek_isa isa) {
    const seek_vec_kernels *v = seek_vec_for(isa), *s = seek_vec_for(SEEK_ISA_SCALAR);
    int64_t sizes[] = {1, 7, 31, 33, 257, 4097};
    for (int k = 0; k < 6; k++) {
        int64_t n = sizes[k];
        float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *y2 = malloc((size_t)n * 4);
        double mag = 0;
        for (int64_t i = 0; i < n; i++) x[i] = frand(), y[i] = y2[i] = frand(), mag += fabs(x[i] * y[i]);
        float a = v->dot(x, y, n), b = s->dot(x, y, n);
        CHECK(fabs(a - b) <= 1e-6 * mag + 1e-7, "%s dot n=%lld: %g vs %g", seek_isa_name(isa), (long long)n, a, b);
        v->axpy(y, 0.37f, x, n);
        s->axpy(y2, 0.37f, x, n);
        v->scale(y, -1.5f, n);
        s->scale(y2, -1.5f, n);
        double md = 0;
        for (int64_t i = 0; i < n; i++) md = fmax(md, fabs(y[i] - y2[i]));
        CHECK(md <= 1e-6, "%s axpy/scale n=%lld differ by %g", seek_isa_name(isa), (long long)n, md);
        free(x), free(y), free(y2);
    }
    /* scores / weighted_sum over a block of 13 rows (odd, so the 4-at-a-time path has a tail) */
    const int64_t dims[] = {8, 64, 72, 128};
    for (int k = 0; k < 4; k++) {
        const int64_t n = dims[k], stride = n + 8;
        float q[128], m[13 * 136], p[13], s1[13], s2[13], a1[128], a2[128];
        for (int64_t i = 0; i < n; i++) q[i] = frand(), a1[i] = a2[i] = frand();
        for (int64_t i = 0; i < 13 * stride; i++) m[i] = frand();
        for (int j = 0; j < 13; j++) p[j] = 0.5f + 0.5f * frand();
        v->scores(s1, q, m, stride, 13, n);
        s->scores(s2, q, m, stride, 13, n);
        float r1[3 * 16], r2[3 * 16]; /* three rows (a pair and a single) of q = rows of m */
        v->scores_rows(r1, 16, m, stride, 3, m + 3 * stride, stride, 13 - 3, n);
        s->scores_rows(r2, 16, m, stride, 3, m + 3 * stride, stride, 13 - 3, n);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 10; j++) CHECK(fabs(r1[i * 16 + j] - r2[i * 16 + j]) <= 1e-5, "%s scores_rows", seek_isa_name(isa));
        /* weighted_sum_rows gives each of its 4 rows (a tile of 3 and a single) exactly what
         * weighted_sum gives that row alone */
        float w1[4 * 128], w2[4 * 128], pr[4 * 13];
        for (int i = 0; i < 4 * 13; i++) pr[i] = frand();
        for (int64_t i = 0; i < 4 * n; i++) w1[i] = w2[i] = frand();
        v->weighted_sum_rows(w1, n, pr, 13, 4, m, stride, 13, n);
        for (int i = 0; i < 4; i++) v->weighted_sum(w2 + i * n, pr + i * 13, m, stride, 13, n);
        CHECK(!memcmp(w1, w2, (size_t)(4 * n) * sizeof(float)), "%s weighted_sum_rows n=%lld differs from weighted_sum",
              seek_isa_name(isa), (long long)n);
        v->weighted_sum(a1, p, m, stride, 13, n);
        s->weighted_sum(a2, p, m, stride, 13, n);
        double md = 0;
        for (int j = 0; j < 13; j++) md = fmax(md, fabs(s1[j] - s2[j]));
        for (int64_t i = 0; i < n; i++) md = fmax(md, fabs(a1[i] - a2[i]));
        CHECK(md <= 1e-5, "%s scores/weighted_sum n=%lld differ by %g", seek_isa_name(isa), (long long)n, md);
    }
    /* the fp16 (F16 KV cache) kernels: bit for bit the fp32 kernels on the values widened, with
     * dims that are and are not multiples of 8 */
    const int64_t hdims[] = {37, 64, 72};
    for (int k = 0; k < 3; k++) {
        const int64_t n = hdims[k], stride = n + 3;
        seek_f16 mh[13 * 75];
        float mf[13 * 75], qq[3 * 72], r1[3 * 16], r2[3 * 16], w1[3 * 72], w2[3 * 72], pr[3 * 13];
        for (int64_t i = 0; i < 13 * stride; i++) mh[i] = seek_f32_to_f16(frand()), mf[i] = seek_f16_to_f32(mh[i]);
        for (int64_t i = 0; i < 3 * n; i++) qq[i] = frand(), w1[i] = w2[i] = frand();
        for (int i = 0; i < 3 * 13; i++) pr[i] = frand();
        v->scores_rows_h(r1, 16, qq, n, 3, mh, stride, 13, n);
        v->scores_rows(r2, 16, qq, n, 3, mf, stride, 13, n);
        bool same = true;
        for (int i = 0; i < 3; i++) same &= !memcmp(r1 + i * 16, r2 + i * 16, 13 * sizeof(float));
        CHECK(same, "%s scores_rows_h n=%lld: not scores_rows on the widened keys", seek_isa_name(isa), (long long)n);
        v->weighted_sum_rows_h(w1, n, pr, 13, 3, mh, stride, 13, n);
        v->weighted_sum_rows(w2, n, pr, 13, 3, mf, stride, 13, n);
        CHECK(!memcmp(w1, w2, (size_t)(3 * n) * sizeof(float)), "%s weighted_sum_rows_h n=%lld: not weighted_sum_rows on the widened values",
              seek_isa_name(isa), (long long)n);
    }
    /* scale_max: bit-identical to the scalar reference (same roundings), with and without ALiBi,
     * with a window that masks the first keys, and with a tail past the 8-wide steps */
    for (int c = 0; c < 3; c++) {
        float x1[29], x2[29];
        for (int j = 0; j < 29; j++) x1[j] = x2[j] = 3.0f * frand();
        const float slope = c == 1 ? 0.0625f : 0.0f;
        const int32_t jlo = c == 2 ? 11 : 0;
        const float m1 = v->scale_max(x1, 29, 0.125f, slope, 40, jlo), m2 = s->scale_max(x2, 29, 0.125f, slope, 40, jlo);
        CHECK(m1 == m2 && !memcmp(x1, x2, sizeof x1), "%s scale_max case %d differs", seek_isa_name(isa), c);
    }
    /* exp_sum against expf over the softmax range [-100, 0]: relative error <= 3 ulp (2^-22)
     * where expf is a normal float, absolute error <= 2^-126 where it is subnormal (flushed) */
    float e1[1000], e2[1000];
    for (int j = 0; j < 1000; j++) e1[j] = e2[j] = -100.0f * (float)j / 999.0f + 5.0f;
    float sum1 = v->exp_sum(e1, 1000, 5.0f), sum2 = s->exp_sum(e2, 1000, 5.0f);
    double worst = 0;
    for (int j = 0; j < 1000; j++)
        worst = fmax(worst, e2[j] >= 0x1p-126f ? fabs(e1[j] - e2[j]) / e2[j] : (fabs(e1[j] - e2[j]) <= 0x1p-126f ? 0 : 1));
    CHECK(worst <= 0x1p-22 && fabs(sum1 - sum2) <= 1e-6 * sum2, "%s exp_sum: worst relative error %g", seek_isa_name(isa), worst);
    /* swiglu against the scalar reference on [-30, 30] (3 ulp of exp, one division) */
    float g1[1001], g2[1001], uu[1001];
    for (int j = 0; j < 1001; j++) g1[j] = g2[j] = -30.0f + 0.06f * (float)j, uu[j] = 1.0f + 0.001f * (float)j;
    v->swiglu(g1, uu, 1001);
    s->swiglu(g2, uu, 1001);
    double sw = 0;
    for (int j = 0; j < 1001; j++) sw = fmax(sw, fabs(g1[j] - g2[j]) / fmax(fabs(g2[j]), 1e-30));
    CHECK(sw <= 1e-6, "%s swiglu: worst relative error %g", seek_isa_name(isa), sw);
}

/* One cache shape: GQA (k and v rows per kv head) or MLA (one kv head whose values are the first
 * v_dim floats of its key rows, v_row = 0). */
static void test_shape(seek_pool *pool, seek_attn_shape sh, bool mla) {
    const int64_t k_row = sh.n_head_kv * sh.k_dim, v_row = mla ? 0 : sh.n_head_kv * sh.v_dim;
    const int64_t q_dim = sh.n_head * sh.k_dim, o_dim = sh.n_head * sh.v_dim, v_head = mla ? 0 : sh.v_dim;
    const int32_t lens[] = {1, 31, 32, 33, 100, 300}; /* 300: three chunks of keys */
    const int n_seq = 6;
    seek_kv_cache kv, kvh; /* an F32 cache, and an F16 one with the same values (rounded to fp16 in both) */
    CHECK(seek_kv_init(&kv, 2, k_row, v_row, 1024, n_seq, SEEK_TYPE_F32, SEEK_TYPE_F32) == SEEK_OK, "kv init");
    CHECK(seek_kv_init(&kvh, 2, k_row, v_row, 1024, n_seq, SEEK_TYPE_F16, SEEK_TYPE_F16) == SEEK_OK, "kv init f16");
    /* fill each sequence (layer 1) with random keys/values; sequence 4 is filled, truncated, refilled */
    for (int s = 0; s < n_seq; s++) {
        for (int c = 0; c < 2; c++) {
            seek_kv_cache *kc = c ? &kvh : &kv;
            seek_kv_reserve(kc, s, lens[s]);
            if (s == 4) {
                seek_kv_truncate(kc, s, 40);
                seek_kv_reserve(kc, s, lens[s] - 40);
            }
        }
        for (int32_t p = 0; p < lens[s]; p++) {
            for (int64_t i = 0; i < k_row + v_row; i++) {
                const seek_f16 h = seek_f32_to_f16(i < k_row ? 2 * frand() : frand());
                if (i < k_row) {
                    ((float *)seek_kv_k(&kv, 1, s, p))[i] = seek_f16_to_f32(h);
                    ((seek_f16 *)seek_kv_k(&kvh, 1, s, p))[i] = h;
                } else {
                    ((float *)seek_kv_v(&kv, 1, s, p))[i - k_row] = seek_f16_to_f32(h);
                    ((seek_f16 *)seek_kv_v(&kvh, 1, s, p))[i - k_row] = h;
                }
            }
        }
    }
    /* one query per (sequence, a few positions) */
    int32_t seq[48], pos[48];
    int64_t n = 0;
    for (int s = 0; s < n_seq; s++)
        for (int32_t p = lens[s] - 1; p >= 0 && n < 48; p -= s == 5 ? 97 : 13) seq[n] = s, pos[n] = p, n++;
    float *q = malloc((size_t)(n * q_dim) * 4), *out = malloc((size_t)(n * o_dim) * 4), *outh = malloc((size_t)(n * o_dim) * 4);
    for (int64_t i = 0; i < n * q_dim; i++) q[i] = frand();
    float *scr = malloc((size_t)attention_scratch_floats(&sh, kv.n_blocks, 2) * 4);
    for (int isa = 0; isa <= (int)seek_cpu_best_isa() && isa < SEEK_ISA_COUNT; isa++) {
        seek_kernels_force_isa((seek_isa)isa);
        if (!mla) test_vec((seek_isa)isa);
        job j = {q, out, seq, pos, n, &kv, sh, scr}, jh = {q, outh, seq, pos, n, &kvh, sh, scr};
        seek_pool_run(pool, run_attn, &j);
        seek_pool_run(pool, run_attn, &jh);
        CHECK(!memcmp(out, outh, (size_t)(n * o_dim) * 4), "%s %s: attention over the F16 cache is not the F32 one's on the same values",
              seek_isa_name((seek_isa)isa), mla ? "mla" : "gqa");
        /* each query alone (a lone decode step: its chunks split over the threads, then merged)
         * gives exactly what it got in the batch */
        int alone_differ = 0;
        for (int64_t t = 0; t < n; t++) {
            job j1 = {q + t * q_dim, outh, seq + t, pos + t, 1, &kv, sh, scr};
            seek_pool_run(pool, run_attn, &j1);
            alone_differ += memcmp(outh, out + t * o_dim, (size_t)o_dim * 4) != 0;
        }
        CHECK(alone_differ == 0, "%s %s: %d queries alone differ from the batch", seek_isa_name((seek_isa)isa), mla ? "mla" : "gqa",
              alone_differ);
        double md = 0;
        for (int64_t t = 0; t < n; t++)
            for (int64_t h = 0; h < sh.n_head; h++) {
                int64_t g = h / (sh.n_head / sh.n_head_kv);
                const float *qh = q + t * q_dim + h * sh.k_dim;
                double *sc = malloc((size_t)(pos[t] + 1) * sizeof(double)), mx = -INFINITY, z = 0;
                for (int32_t p = 0; p <= pos[t]; p++) {
                    const float *k = (const float *)seek_kv_k(&kv, 1, seq[t], p) + g * sh.k_dim;
                    double d = 0;
                    for (int64_t i = 0; i < sh.k_dim; i++) d += (double)qh[i] * k[i];
                    sc[p] = d * sh.scale;
                    mx = fmax(mx, sc[p]);
                }
                for (int32_t p = 0; p <= pos[t]; p++) z += sc[p] = exp(sc[p] - mx);
                for (int64_t i = 0; i < sh.v_dim; i++) {
                    double o = 0;
                    for (int32_t p = 0; p <= pos[t]; p++) o += sc[p] / z * ((const float *)seek_kv_v(&kv, 1, seq[t], p))[g * v_head + i];
                    md = fmax(md, fabs(o - out[t * o_dim + h * sh.v_dim + i]));
                }
                free(sc);
            }
        printf("%s %s: attention max |diff| vs reference %.3g over %lld queries\n", seek_isa_name((seek_isa)isa),
               mla ? "mla" : "gqa", md, (long long)n);
        CHECK(md < 1e-5, "%s %s attention differs by %g", seek_isa_name((seek_isa)isa), mla ? "mla" : "gqa", md);
    }
    free(scr), free(q), free(out), free(outh);
    seek_kv_free(&kv);
    seek_kv_free(&kvh);
}

int main(void) {
    seek_pool *pool;
    seek_pool_init(&pool, 2);
    test_shape(pool, (seek_attn_shape){6, 2, 64, 64, 0.125f, NULL, 0, 0, 0}, false);
    /* MLA-like: 12 heads on one latent kv head of 40 (32 latent + 8 rope), values = first 32 */
    test_shape(pool, (seek_attn_shape){12, 1, 40, 32, 0.15f, NULL, 0, 0, 0}, true);
    seek_pool_free(pool);
    return check_summary("test_attention");
}
