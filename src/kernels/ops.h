/* Float ops of the forward pass, each split across the pool's threads by rows and ending with
 * a barrier, so an architecture file reads as one call per step of the math:
 *   op_rmsnorm(ex, xn, x, w, n_tok, dim, eps); op_matmul(ex, q, q_dim, &layer->wq, &act); ...
 * Kernels take outputs first, then inputs, then dimensions (STYLE.md). Not for the block
 * formats' inner loops (kernels/quant.h). */
#ifndef SEEK_KERNELS_OPS_H
#define SEEK_KERNELS_OPS_H

#include <stdint.h>

#include "core/threadpool.h"
#include "model/model.h"

/* A matmul input: float rows plus, once a matmul has needed it, their copy quantized to the
 * activation type of the weights (DESIGN decision 5). Each thread keeps its own record of the
 * same shared buffer, so every thread takes the same decisions without locks. Call act_set()
 * whenever x's contents change; matmuls on the same input with the same activation type then
 * quantize once (QKV share one quantization, gate and up another). */
typedef struct {
    const float *x;   /* (n_tok, n) */
    int64_t n_tok, n;
    void *buf;        /* shared scratch, big enough for n_tok quantized rows of the widest input */
    seek_dtype type;  /* what buf holds now; SEEK_TYPE_COUNT for nothing */
    float *row_f32;   /* precise mode: (nth, widest input) floats for dequantized weight rows;
                         NULL for the fast path (8-bit activations) */
    uint32_t gen;     /* counts act_set calls: equal values mean the same input */
} seek_act;

static inline void act_set(seek_act *a, const float *x, int64_t n_tok, int64_t n) {
    a->x = x;
    a->n_tok = n_tok;
    a->n = n;
    a->type = SEEK_TYPE_COUNT;
    a->gen++;
}

/* Precise mode: instead of quantizing activations, weight rows are dequantized to fp32 and
 * dotted with the fp32 activations (the arithmetic of a reference implementation such as
 * transformers; slower, for golden tests and `--precise`). */

/* out[t][r] = sum_k w[r][k] * a->x[t][k] for t < n_tok, r < w->ne[1]; rows of w split across
 * threads. out is (n_tok, w->ne[1]) with row stride out_stride. */
void op_matmul(const seek_exec *ex, float *out, int64_t out_stride, const seek_weight *w, seek_act *a);
/* op_matmul for n_w (<= 4) weights on the same input (Q, K, V; gate and up): when all are
 * repacked the same way their panels are split across the threads as one matrix, with one
 * barrier (otherwise one op_matmul each). Each output is what op_matmul gives it. */
void op_matmul_n(const seek_exec *ex, int n_w, float *const *out, const int64_t *out_stride, const seek_weight *const *w,
                 seek_act *a);

/* out[t] = in[t] / rms(in[t]) * w, rows of length n. */
void op_rmsnorm(const seek_exec *ex, float *out, const float *in, const float *w, int64_t n_tok, int64_t n, float eps);
/* The same over the first n floats of rows spaced in_stride / out_stride floats apart. */
void op_rmsnorm_strided(const seek_exec *ex, float *out, int64_t out_stride, const float *in, int64_t in_stride, const float *w,
                        int64_t n_tok, int64_t n, float eps);
/* Per-head products with a 3-D weight (w->ne[2] heads of w->ne[1] rows x w->ne[0]), in fp32 from
 * dequantized rows: out[t*ot + h*oh + r] = sum_k w[h][r][k] * x[t*xt + h*xh + k].
 * MLA's W_UK^T q_nope and W_UV o. row holds nth * w->ne[0] floats of scratch. */
void op_matmul_heads(const seek_exec *ex, float *out, int64_t ot, int64_t oh, const seek_weight *w, const float *x, int64_t xt,
                     int64_t xh, int64_t n_tok, float *row);
/* dst[t*ds + i] = src[t*ss + i] for i < n (a strided copy of n_tok rows). */
void op_copy_rows(const seek_exec *ex, float *dst, int64_t ds, const float *src, int64_t ss, int64_t n_tok, int64_t n);
/* x[t] += b (a bias row of length n). */
void op_add_bias(const seek_exec *ex, float *x, const float *b, int64_t n_tok, int64_t n);
/* x += y over n_tok rows of length n. */
void op_add(const seek_exec *ex, float *x, const float *y, int64_t n_tok, int64_t n);
/* g[t] = silu(g[t]) * u[t] (SwiGLU), rows of length n. */
void op_swiglu(const seek_exec *ex, float *g, const float *u, int64_t n_tok, int64_t n);
/* Rotates the first n_rot dims of each head of x (n_tok, n_heads*head_dim) in place with the
 * per-token tables cs (n_tok, n_rot/2) cos and sn sin; NORM pairs (2i, 2i+1), NEOX (i, i+n_rot/2). */
void op_rope(const seek_exec *ex, float *x, const float *cs, const float *sn, int64_t n_tok, int64_t n_heads,
             int64_t head_dim, int64_t n_rot, seek_rope_type type);
/* Fills the rope tables for positions pos[0..n_tok) (YaRN / linear scaling / freq factors). */
void rope_tables(float *cs, float *sn, const int32_t *pos, int64_t n_tok, const seek_hparams *hp, const float *freq_factors);

/* Dequantizes rows ids[t] of w into out (n_tok, w->ne[0]). */
void op_get_rows(const seek_exec *ex, float *out, const seek_weight *w, const int32_t *ids, int64_t n_tok);

#endif
