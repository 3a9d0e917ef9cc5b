/* Scalar fp32 vector kernels (the reference) and the choice of variant. */
#include "kernels/vec.h"

#include <math.h>

static float dot_scalar(const float *x, const float *y, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static void axpy_scalar(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void scale_scalar(float *y, float a, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= a;
}

static void scores_scalar(float *s, const float *q, const float *k, int64_t stride, int32_t nb, int64_t n) {
    for (int32_t j = 0; j < nb; j++) s[j] = dot_scalar(q, k + j * stride, n);
}

static void scores_rows_scalar(float *s, int64_t s_stride, const float *q, int64_t q_stride, int32_t nq, const float *k,
                               int64_t stride, int32_t nb, int64_t n) {
    for (int32_t i = 0; i < nq; i++) scores_scalar(s + i * s_stride, q + i * q_stride, k, stride, nb, n);
}

static void weighted_sum_scalar(float *acc, const float *p, const float *v, int64_t stride, int32_t nb, int64_t n) {
    for (int32_t j = 0; j < nb; j++) axpy_scalar(acc, p[j], v + j * stride, n);
}

static void weighted_sum_rows_scalar(float *acc, int64_t acc_stride, const float *p, int64_t p_stride, int32_t nr,
                                     const float *v, int64_t stride, int32_t nb, int64_t n) {
    for (int32_t i = 0; i < nr; i++) weighted_sum_scalar(acc + i * acc_stride, p + i * p_stride, v, stride, nb, n);
}

static float scale_max_scalar(float *s, int32_t n, float scale, float slope, int32_t dist0, int32_t jlo) {
    float m = -INFINITY;
    for (int32_t j = 0; j < n; j++) {
        s[j] *= scale;
        if (slope != 0.0f) s[j] -= slope * (float)(dist0 - j);
        if (j < jlo) s[j] = -INFINITY;
        if (s[j] > m) m = s[j];
    }
    return m;
}

static float exp_sum_scalar(float *s, int32_t n, float m) {
    float sum = 0;
    for (int32_t j = 0; j < n; j++) sum += s[j] = expf(s[j] - m);
    return sum;
}

static void swiglu_scalar(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* fp16 rows: each value widened to fp32 (exactly), then the fp32 kernels' arithmetic */
static void scores_rows_h_scalar(float *s, int64_t s_stride, const float *q, int64_t q_stride, int32_t nq, const seek_f16 *k,
                                 int64_t stride, int32_t nb, int64_t n) {
    for (int32_t i = 0; i < nq; i++)
        for (int32_t j = 0; j < nb; j++) {
            float acc = 0;
            for (int64_t d = 0; d < n; d++) acc += q[i * q_stride + d] * seek_f16_to_f32(k[j * stride + d]);
            s[i * s_stride + j] = acc;
        }
}

static void weighted_sum_rows_h_scalar(float *acc, int64_t acc_stride, const float *p, int64_t p_stride, int32_t nr,
                                       const seek_f16 *v, int64_t stride, int32_t nb, int64_t n) {
    for (int32_t i = 0; i < nr; i++)
        for (int32_t j = 0; j < nb; j++)
            for (int64_t d = 0; d < n; d++) acc[i * acc_stride + d] += p[i * p_stride + j] * seek_f16_to_f32(v[j * stride + d]);
}

static const seek_vec_kernels scalar = {dot_scalar,          axpy_scalar,    scale_scalar, scores_scalar, scores_rows_scalar,
                                        weighted_sum_scalar, weighted_sum_rows_scalar, scale_max_scalar, exp_sum_scalar,
                                        swiglu_scalar,       scores_rows_h_scalar, weighted_sum_rows_h_scalar};

const seek_vec_kernels *seek_vec_for(seek_isa isa) {
    const seek_vec_kernels *k = isa >= SEEK_ISA_AVX2 ? seek_vec_avx2() : NULL;
    return k ? k : &scalar;
}

const seek_vec_kernels *seek_vec(void) { return seek_vec_for(seek_kernels_isa()); }
