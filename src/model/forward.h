/* The pieces of the decoder forward pass (forward.c) that the architectures share: the state one
 * pool thread carries through a forward, and one function per block. Every block is called by
 * all threads, splits its work, and ends at a barrier.
 *   attention: GQA with RoPE (llama, qwen2, deepseek) in forward.c, MLA (deepseek2) in mla.c
 *   feed-forward: dense SwiGLU in forward.c, mixture of experts (deepseek, deepseek2) in moe.c */
#ifndef SEEK_MODEL_FORWARD_H
#define SEEK_MODEL_FORWARD_H

#include "kernels/ops.h"
#include "runtime/context.h"

typedef struct {
    seek_context *ctx;
    const seek_exec *ex;
    const int32_t *tok, *pos, *seq;
    int64_t n; /* tokens in this chunk */
    seek_act act;
    bool timing;
    double t0;
    uint32_t observed_gen; /* f->act.gen at the last observed matmul */
} fwd_state;

/* out = f->act's rows times w^T (op_matmul), shown to the context's observer when there is one. */
void fwd_matmul(fwd_state *f, float *out, int64_t out_stride, const seek_weight *w);

/* Charges the time since the last mark to an op kind (thread 0, when timing is on). */
void fwd_mark(fwd_state *f, seek_op_kind kind);

/* x += attention(xn) for layer L (xn is the normed input). */
void fwd_attn_mla(fwd_state *f, const seek_layer *L, int64_t il);
/* x += ffn(xn): routed experts + shared experts. */
void fwd_ffn_moe(fwd_state *f, const seek_layer *L);
/* out = down(silu(gate(xn)) * up(xn)) with the given weights (the dense FFN and shared experts). */
void fwd_swiglu_ffn(fwd_state *f, float *out, const seek_weight *gate, const seek_weight *up, const seek_weight *down,
                    const float *xn, int64_t n_tok);

#endif
