/* fp32 vector kernels for attention and the float ops: dot product, y += a*x, y *= a.
 * Scalar reference in vec.c, AVX2 variant in x86/vec_avx2.c, picked with the ISA in use
 * (seek_kernels_isa). Variants sum in another order: tests/test_attention.c states the tolerance. */
#ifndef SEEK_KERNELS_VEC_H
#define SEEK_KERNELS_VEC_H

#include <stdint.h>

#include "core/fp16.h"
#include "kernels/quant.h"

typedef struct {
    float (*dot)(const float *x, const float *y, int64_t n);
    void (*axpy)(float *y, float a, const float *x, int64_t n); /* y += a * x */
    void (*scale)(float *y, float a, int64_t n);                /* y *= a */
    /* attention's two halves over a block of nb rows spaced `stride` floats apart:
     * s[j] = q . k_j, and acc += sum_j p[j] v_j (accumulator kept in registers) */
    void (*scores)(float *s, const float *q, const float *k, int64_t stride, int32_t nb, int64_t n);
    /* scores for nq query rows (q_stride apart) at once: s[i * s_stride + j] = q_i . k_j */
    void (*scores_rows)(float *s, int64_t s_stride, const float *q, int64_t q_stride, int32_t nq, const float *k,
                        int64_t stride, int32_t nb, int64_t n);
    void (*weighted_sum)(float *acc, const float *p, const float *v, int64_t stride, int32_t nb, int64_t n);
    /* weighted_sum for nr accumulator rows (acc_stride apart) with their own weights (p_stride
     * apart) over the same block: each row gets exactly what weighted_sum gives it */
    void (*weighted_sum_rows)(float *acc, int64_t acc_stride, const float *p, int64_t p_stride, int32_t nr, const float *v,
                              int64_t stride, int32_t nb, int64_t n);
    /* s[j] = s[j] * scale - slope * (dist0 - j), then -inf for j < jlo; returns max_j s[j]
     * (attention's scores of one block: scaled, ALiBi-biased, sliding-window-masked) */
    float (*scale_max)(float *s, int32_t n, float scale, float slope, int32_t dist0, int32_t jlo);
    /* s[j] = exp(s[j] - m) for j < n, returning their sum (the softmax numerators) */
    float (*exp_sum)(float *s, int32_t n, float m);
    /* g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i] (SwiGLU) */
    void (*swiglu)(float *g, const float *u, int64_t n);
    /* scores_rows and weighted_sum_rows over fp16 keys / values (an F16 KV cache; strides in
     * values): each result bit for bit what the fp32 kernel gives on the values widened to fp32 */
    void (*scores_rows_h)(float *s, int64_t s_stride, const float *q, int64_t q_stride, int32_t nq, const seek_f16 *k,
                          int64_t stride, int32_t nb, int64_t n);
    void (*weighted_sum_rows_h)(float *acc, int64_t acc_stride, const float *p, int64_t p_stride, int32_t nr, const seek_f16 *v,
                                int64_t stride, int32_t nb, int64_t n);
} seek_vec_kernels;

const seek_vec_kernels *seek_vec_for(seek_isa isa);
/* The table for the ISA in use. */
const seek_vec_kernels *seek_vec(void);

/* defined by the variant files; NULL where the variant is not compiled in */
const seek_vec_kernels *seek_vec_avx2(void);

#endif
