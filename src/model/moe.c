/* Mixture-of-experts feed-forward (DeepSeekMoE, DeepSeek-V2/V3):
 *   logits = xn W_router^T (fp32); each token picks n_used experts with weights (kernels/moe.h)
 *   y = sum_k w_k Expert_k(xn) + SharedExperts(xn),  Expert(x) = down(silu(gate(x)) * up(x))
 *   x += y
 * Tokens routed to the same expert are gathered and multiplied together, expert by expert in
 * id order, so a decode step reads only the weights of the experts its tokens chose. */
#include "kernels/moe.h"
#include "model/forward.h"

void fwd_ffn_moe(fwd_state *f, const seek_layer *L) {
    seek_context *ctx = f->ctx;
    const seek_exec *ex = f->ex;
    const seek_hparams *hp = &ctx->model->hp;
    const seek_moe_cfg *cfg = &hp->moe;
    const int64_t n = f->n, dim = hp->dim, E = cfg->n_expert, K = cfg->n_used;
    /* router logits in fp32 (the router weight is f32) */
    act_set(&f->act, ctx->xn, n, dim);
    fwd_matmul(f, ctx->moe_logits, E, &L->gate_inp);
    fwd_mark(f, SEEK_OP_MATMUL);
    /* each token's experts and weights */
    int64_t lo, hi;
    seek_split(n, ex->ith, ex->nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++)
        moe_route(cfg, ctx->moe_logits + t * E, L->exp_probs_b.data, ctx->moe_ids + t * K, ctx->moe_w + t * K,
                  ctx->moe_scratch + ex->ith * 2 * E);
    seek_split(n * dim, ex->ith, ex->nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) ctx->tmp[i] = 0;
    seek_pool_barrier(ex);
    /* per expert, the list of (token, weight) routed to it */
    int32_t *off = ctx->moe_off, *list = ctx->moe_list;
    float *lw = ctx->moe_lw;
    if (ex->ith == 0) {
        for (int64_t e = 0; e <= E; e++) off[e] = 0;
        for (int64_t i = 0; i < n * K; i++) off[ctx->moe_ids[i] + 1]++;
        for (int64_t e = 0; e < E; e++) off[e + 1] += off[e];
        int32_t *fill = ctx->moe_fill;
        for (int64_t e = 0; e < E; e++) fill[e] = off[e];
        for (int64_t i = 0; i < n * K; i++) {
            const int32_t e = ctx->moe_ids[i];
            list[fill[e]] = (int32_t)(i / K);
            lw[fill[e]++] = ctx->moe_w[i];
        }
    }
    seek_pool_barrier(ex);
    fwd_mark(f, SEEK_OP_OTHER);
    for (int64_t e = 0; e < E; e++) {
        const int64_t ne = off[e + 1] - off[e];
        if (!ne) continue;
        const int32_t *tl = list + off[e];
        /* xg = xn rows of the expert's tokens; y = Expert_e(xg) */
        seek_split(ne, ex->ith, ex->nth, &lo, &hi);
        for (int64_t j = lo; j < hi; j++)
            for (int64_t i = 0; i < dim; i++) ctx->moe_xg[j * dim + i] = ctx->xn[(int64_t)tl[j] * dim + i];
        seek_pool_barrier(ex);
        const seek_weight g = seek_weight_mat(&L->gate_exps, e), u = seek_weight_mat(&L->up_exps, e),
                          d = seek_weight_mat(&L->down_exps, e);
        fwd_swiglu_ffn(f, ctx->moe_y, &g, &u, &d, ctx->moe_xg, ne);
        /* y_t += w * Expert_e(x_t): each token appears once per expert, so rows do not collide */
        for (int64_t j = lo; j < hi; j++)
            for (int64_t i = 0; i < dim; i++) ctx->tmp[(int64_t)tl[j] * dim + i] += lw[off[e] + j] * ctx->moe_y[j * dim + i];
        seek_pool_barrier(ex);
        fwd_mark(f, SEEK_OP_OTHER);
    }
    /* y += SharedExperts(xn) */
    if (L->gate_shexp.data) {
        fwd_swiglu_ffn(f, ctx->moe_y, &L->gate_shexp, &L->up_shexp, &L->down_shexp, ctx->xn, n);
        op_add(ex, ctx->tmp, ctx->moe_y, n, dim);
    }
    op_add(ex, ctx->x, ctx->tmp, n, dim);
}
