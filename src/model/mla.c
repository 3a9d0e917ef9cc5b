/* Multi-head latent attention (DeepSeek-V2/V3/R1) in its absorbed form, for prefill and decode
 * alike (DeepSeek-V3 inference/model.py, attn_impl="absorb"). With c = kv_lora, r = rope dims:
 *   q      = W_UQ rmsnorm(W_DQ xn)  (or W_Q xn)        (n_head, nope + r) per token
 *   kv_a   = W_DKV xn = [c_kv ; k_pe]                  c + r: the latent and ONE shared rope key
 *   c_kv   = rmsnorm(c_kv) ; k_pe, q_pe = rope(...)    DeepSeek's interleaved pairs (NORM)
 *   cache  <- [c_kv ; k_pe]                             c + r floats per token per layer, no values
 *   q_abs  = [W_UK^T q_nope ; q_pe]                     (n_head, c + r): query in latent space
 *   lat    = softmax(q_abs . cache * scale) . c_kv      one kv head of c + r, values = its first c
 *   o      = W_UV lat                                   (n_head, v)
 *   x     += W_O o
 * which equals softmax(q . k) v with k = [W_UK c_kv ; k_pe], v = W_UV c_kv per head, without
 * ever expanding k or v. */
#include "kernels/attention.h"
#include "model/forward.h"

void fwd_attn_mla(fwd_state *f, const seek_layer *L, int64_t il) {
    seek_context *ctx = f->ctx;
    const seek_exec *ex = f->ex;
    const seek_hparams *hp = &ctx->model->hp;
    const int64_t n = f->n, H = hp->n_head, hd = hp->head_dim, nope = hp->head_dim_nope, r = hp->n_rot;
    const int64_t c = hp->kv_lora, kr = c + r, vd = hp->head_dim_v;
    const seek_attn_shape shape = {H, 1, kr, c, hp->kq_scale, NULL, 0, 0, 0};
    /* kv_a = xn W_DKV^T, then c_kv = rmsnorm(c_kv) * kv_a_norm in place and k_pe = rope(k_pe) */
    act_set(&f->act, ctx->xn, n, hp->dim);
    fwd_matmul(f, ctx->k, kr, &L->wkv_a);
    /* q = xn W_Q^T, or the q LoRA: q = rmsnorm(xn W_DQ^T) * q_a_norm W_UQ^T */
    if (L->wq_a.data) {
        fwd_matmul(f, ctx->qa, hp->q_lora, &L->wq_a);
        fwd_mark(f, SEEK_OP_MATMUL);
        op_rmsnorm(ex, ctx->qa, ctx->qa, L->q_a_norm.data, n, hp->q_lora, hp->rms_eps);
        act_set(&f->act, ctx->qa, n, hp->q_lora);
        fwd_matmul(f, ctx->q, H * hd, &L->wq_b);
    } else {
        fwd_matmul(f, ctx->q, H * hd, &L->wq);
    }
    fwd_mark(f, SEEK_OP_MATMUL);
    op_rmsnorm_strided(ex, ctx->k, kr, ctx->k, kr, L->kv_a_norm.data, n, c, hp->rms_eps);
    fwd_mark(f, SEEK_OP_NORM);
    op_rope(ex, ctx->k + c, ctx->rope_cos, ctx->rope_sin, n, 1, kr, r, SEEK_ROPE_NORM);
    op_rope(ex, ctx->q + nope, ctx->rope_cos, ctx->rope_sin, n, H, hd, r, SEEK_ROPE_NORM);
    fwd_mark(f, SEEK_OP_ROPE);
    /* q_abs[t][h] = [W_UK[h]^T q_nope[t][h] ; q_pe[t][h]] */
    op_matmul_heads(ex, ctx->q_abs, H * kr, kr, &L->wk_b, ctx->q, H * hd, hd, n, ctx->head_row);
    op_copy_rows(ex, ctx->q_abs + c, kr, ctx->q + nope, hd, n * H, r);
    fwd_mark(f, SEEK_OP_MATMUL);
    /* cache[seq][pos] = [c_kv ; k_pe]; lat = attention in latent space (values: first c of each row) */
    op_kv_store(ex, &ctx->kv, il, ctx->k, NULL, f->seq, f->pos, n);
    op_attention(ex, ctx->attn, ctx->q_abs, &ctx->kv, il, f->seq, f->pos, n, &shape, ctx->attn_scratch);
    fwd_mark(f, SEEK_OP_ATTENTION);
    /* o[t][h] = W_UV[h] lat[t][h]; x += o W_O^T */
    op_matmul_heads(ex, ctx->mla_o, H * vd, vd, &L->wv_b, ctx->attn, H * c, c, n, ctx->head_row);
    act_set(&f->act, ctx->mla_o, n, H * vd);
    fwd_matmul(f, ctx->tmp, hp->dim, &L->wo);
    fwd_mark(f, SEEK_OP_MATMUL);
    op_add(ex, ctx->x, ctx->tmp, n, hp->dim);
}
