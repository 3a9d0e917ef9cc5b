/* Training ops: forward and backward of the element-wise and row-wise pieces of the model
 * (rmsnorm, RoPE, SwiGLU, causal attention with ALiBi / sliding window, softmax cross-entropy).
 * llm.c's argument order: op_forward(out, in..., dims) and op_backward(din..., dweight, dout, saved..., dims);
 * every backward ADDS into its input gradients. Matrix products are seek_gemm_f32 (gemm.h).
 * Not for inference kernels (ops.h, attention.h), which work on the KV cache. */
#ifndef SEEK_KERNELS_GRAD_H
#define SEEK_KERNELS_GRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/threadpool.h"

/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w over n rows of d; rstd[r] keeps 1/sqrt(...).
 * Row strides sx / sy (in floats) allow normalising a slice of wider rows. */
void rmsnorm_forward(float *y, int64_t sy, float *rstd, const float *x, int64_t sx, const float *w, int64_t n, int64_t d, float eps);
void rmsnorm_backward(float *dx, int64_t sdx, float *dw, const float *dy, int64_t sdy, const float *x, int64_t sx,
                      const float *w, const float *rstd, int64_t n, int64_t d);

/* RoPE on adjacent pairs in place: for each of n rows (stride s floats), n_heads slices of d floats
 * starting `at` floats into each head of `head_stride`; row r is at position pos[r].
 * cos/sin tables are (positions, d/2). inverse: rotate by -theta (the backward). */
void rope_apply(float *x, int64_t s, int64_t n, int64_t n_heads, int64_t head_stride, int64_t at, int64_t d,
                const int32_t *pos, const float *cos_t, const float *sin_t, bool inverse);

/* a = silu(g) * u; backward: dg += da * u * silu'(g), du += da * silu(g). */
void swiglu_forward(float *a, const float *g, const float *u, int64_t n);
void swiglu_backward(float *dg, float *du, const float *da, const float *g, const float *u, int64_t n);

/* Causal attention over B sequences of T query rows. Each sequence has Tk = M + T key rows: M of
 * memory (Transformer-XL style, the previous segment's keys and values) then its own T; query i
 * sits at key index M + i. q (B*T, H*dk) row stride sq, k (B*Tk, Hkv*dk) stride sk, v (B*Tk,
 * Hkv*dv) stride sv; query head h uses kv head h / (H / Hkv). p (B, H, T, Tk) keeps the
 * probabilities (zero outside the mask); o (B*T, H*dv). Query i sees key j when j <= M + i, when
 * j >= M - mlen[b] (the valid memory of sequence b; all M when mlen is NULL), and with a window
 * W > 0 when M + i - W < j. slopes: ALiBi (H) or NULL, bias -slope * (M + i - j). Threads split
 * over (sequence, kv head). */
typedef struct {
    int64_t B, T, H, Hkv, dk, dv;
    int64_t sq, sk, sv; /* row strides of q, k, v (and of dq, dk, dv) */
    float scale;
    const float *slopes;
    int64_t window;
    int64_t M;           /* memory rows before each sequence's keys (0: none) */
    const int32_t *mlen; /* (B) valid memory rows, or NULL */
} attn_dims;
void attention_forward(seek_pool *pool, float *o, float *p, const float *q, const float *k, const float *v, const attn_dims *a);
/* dq, dk, dv += the gradients; scratch holds T * (M + T) floats per thread of the pool (1 without one). */
void attention_backward(seek_pool *pool, float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *p, const float *q,
                        const float *k, const float *v, const attn_dims *a);

/* Softmax cross-entropy over n rows of V logits: loss[r] = logsumexp - logit[target]; in place,
 * logits become d(scale * mean loss)/dlogits when grad is true. Returns the summed loss (double). */
double softmax_xent(seek_pool *pool, float *logits, const int32_t *targets, int64_t n, int64_t V, float scale, bool grad);

/* Rounds n floats to bf16 (nearest even), or to fp8 e4m3 with one scale per block of `block`
 * consecutive floats (amax / 448), keeping float storage. */
void round_bf16(float *dst, const float *src, int64_t n);
void round_fp8_e4m3(float *dst, const float *src, int64_t n, int64_t block);

#endif
