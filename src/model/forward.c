/* The decoder forward pass of every architecture seek runs: pre-norm blocks with RMSNorm,
 *   llama / qwen2 (SmolLM2, DeepSeek-LLM, R1-Distill-Llama/-Qwen): GQA attention with RoPE
 *     (qwen2: q/k/v biases and NEOX pairs) and a SwiGLU feed-forward;
 *   deepseek (DeepSeekMoE): the same attention, mixture-of-experts feed-forward (moe.c) after
 *     the leading dense layers;
 *   deepseek2 (DeepSeek-V2/V3/R1): multi-head latent attention (mla.c) and mixture of experts.
 *   seek (models from seek train): llama attention with optional ALiBi / sliding window, MoE.
 * Every thread of the pool runs this function; each op splits its rows and ends at a barrier. */
#include "model/forward.h"

#include <math.h>

#include "core/clock.h"
#include "kernels/attention.h"

void fwd_mark(fwd_state *f, seek_op_kind kind) {
    if (!f->timing || f->ex->ith != 0) return;
    double t1 = seek_now();
    f->ctx->op_time[kind] += t1 - f->t0;
    f->t0 = t1;
}

void fwd_matmul(fwd_state *f, float *out, int64_t out_stride, const seek_weight *w) {
    op_matmul(f->ex, out, out_stride, w, &f->act);
    seek_context *ctx = f->ctx;
    if (!ctx->observe) return;
    ctx->observe(ctx->observe_arg, f->ex, w, f->act.x, f->act.n_tok, f->act.n, f->act.gen == f->observed_gen);
    f->observed_gen = f->act.gen;
}

/* Several matmuls on the current input: one split and one barrier for all when they allow it
 * (op_matmul_n); one by one while a calibration observes each product. */
static void fwd_matmul_n(fwd_state *f, int n_w, float *const *out, const int64_t *out_stride, const seek_weight *const *w) {
    if (f->ctx->observe) {
        for (int i = 0; i < n_w; i++) fwd_matmul(f, out[i], out_stride[i], w[i]);
        return;
    }
    op_matmul_n(f->ex, n_w, out, out_stride, w, &f->act);
}

void fwd_swiglu_ffn(fwd_state *f, float *out, const seek_weight *gate, const seek_weight *up, const seek_weight *down,
                    const float *xn, int64_t n_tok) {
    seek_context *ctx = f->ctx;
    const int64_t ff = gate->ne[1];
    /* g = silu(xn Wg^T) * (xn Wu^T) (one quantization of xn for both) */
    act_set(&f->act, xn, n_tok, gate->ne[0]);
    fwd_matmul_n(f, 2, (float *const[]){ctx->ffn_g, ctx->ffn_u}, (const int64_t[]){ff, ff}, (const seek_weight *const[]){gate, up});
    fwd_mark(f, SEEK_OP_MATMUL);
    op_swiglu(f->ex, ctx->ffn_g, ctx->ffn_u, n_tok, ff);
    fwd_mark(f, SEEK_OP_OTHER);
    /* out = g Wd^T */
    act_set(&f->act, ctx->ffn_g, n_tok, ff);
    fwd_matmul(f, out, down->ne[1], down);
    fwd_mark(f, SEEK_OP_MATMUL);
}

/* x += attention(xn): q, k, v projections, RoPE, the paged cache, output projection. */
static void attn_gqa(fwd_state *f, const seek_layer *L, int64_t il) {
    seek_context *ctx = f->ctx;
    const seek_exec *ex = f->ex;
    const seek_hparams *hp = &ctx->model->hp;
    const int64_t n = f->n, hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    const seek_attn_shape shape = {hp->n_head, hp->n_head_kv, hd, hd, hp->kq_scale, hp->alibi, hp->window, hp->xl_mem, hp->xl_seg};
    /* q = xn Wq^T + bq, k = xn Wk^T + bk, v = xn Wv^T + bv (one quantization of xn) */
    act_set(&f->act, ctx->xn, n, hp->dim);
    fwd_matmul_n(f, 3, (float *const[]){ctx->q, ctx->k, ctx->v}, (const int64_t[]){q_dim, kv_dim, kv_dim},
                 (const seek_weight *const[]){&L->wq, &L->wk, &L->wv});
    fwd_mark(f, SEEK_OP_MATMUL);
    if (L->bq.data) {
        op_add_bias(ex, ctx->q, L->bq.data, n, q_dim);
        op_add_bias(ex, ctx->k, L->bk.data, n, kv_dim);
        op_add_bias(ex, ctx->v, L->bv.data, n, kv_dim);
    }
    /* q, k = rope(q, pos), rope(k, pos) (ALiBi models add position biases in attention instead) */
    if (!hp->alibi) {
        op_rope(ex, ctx->q, ctx->rope_cos, ctx->rope_sin, n, hp->n_head, hd, hp->n_rot, hp->rope_type);
        op_rope(ex, ctx->k, ctx->rope_cos, ctx->rope_sin, n, hp->n_head_kv, hd, hp->n_rot, hp->rope_type);
        fwd_mark(f, SEEK_OP_ROPE);
    }
    /* cache[seq][pos] = (k, v); attn = softmax(q K^T * scale) V over the sequence so far */
    op_kv_store(ex, &ctx->kv, il, ctx->k, ctx->v, f->seq, f->pos, n);
    op_attention(ex, ctx->attn, ctx->q, &ctx->kv, il, f->seq, f->pos, n, &shape, ctx->attn_scratch);
    fwd_mark(f, SEEK_OP_ATTENTION);
    /* x += attn Wo^T */
    act_set(&f->act, ctx->attn, n, q_dim);
    fwd_matmul(f, ctx->tmp, hp->dim, &L->wo);
    fwd_mark(f, SEEK_OP_MATMUL);
    op_add(ex, ctx->x, ctx->tmp, n, hp->dim);
}

typedef struct {
    seek_context *ctx;
    const int32_t *tok, *pos, *seq, *out_rows;
    int64_t n_tok;
} fwd_args;

static void forward_worker(const seek_exec *ex, void *arg) {
    const fwd_args *a = arg;
    seek_context *ctx = a->ctx;
    const seek_model *m = ctx->model;
    const seek_hparams *hp = &m->hp;
    const int64_t n = a->n_tok, dim = hp->dim;
    fwd_state f = {ctx, ex, a->tok, a->pos, a->seq, n, {.buf = ctx->act, .row_f32 = ctx->row_f32}, ctx->timing, 0, 0};
    if (f.timing) f.t0 = seek_now();

    /* x = token_embd[tok] (or the calibration's residual stream) */
    const bool part = ctx->layer_end > 0;
    const int64_t l0 = part ? ctx->layer_first : 0, l1 = part && ctx->layer_end < hp->n_layer ? ctx->layer_end : hp->n_layer;
    if (part && ctx->calib_in) op_copy_rows(ex, ctx->x, dim, ctx->calib_in, dim, n, dim);
    else op_get_rows(ex, ctx->x, &m->tok_embd, a->tok, n);
    /* rope angles for this batch's positions, shared by every layer */
    if (ex->ith == 0) rope_tables(ctx->rope_cos, ctx->rope_sin, a->pos, n, hp, m->rope_freqs.data);
    seek_pool_barrier(ex);
    fwd_mark(&f, SEEK_OP_OTHER);

    for (int64_t il = l0; il < l1; il++) {
        const seek_layer *L = &m->layers[il];
        /* x += attention(rmsnorm(x) * attn_norm) */
        op_rmsnorm(ex, ctx->xn, ctx->x, L->attn_norm.data, n, dim, hp->rms_eps);
        fwd_mark(&f, SEEK_OP_NORM);
        if (hp->mla) fwd_attn_mla(&f, L, il);
        else attn_gqa(&f, L, il);
        /* x += ffn(rmsnorm(x) * ffn_norm) */
        op_rmsnorm(ex, ctx->xn, ctx->x, L->ffn_norm.data, n, dim, hp->rms_eps);
        fwd_mark(&f, SEEK_OP_NORM);
        if (L->moe) {
            fwd_ffn_moe(&f, L);
        } else {
            fwd_swiglu_ffn(&f, ctx->tmp, &L->w_gate, &L->w_up, &L->w_down, ctx->xn, n);
            op_add(ex, ctx->x, ctx->tmp, n, dim);
        }
        fwd_mark(&f, SEEK_OP_OTHER);
    }

    if (part) { /* calibration: the residual stream out, no logits */
        if (ctx->calib_out) op_copy_rows(ex, ctx->calib_out, dim, ctx->x, dim, n, dim);
        return;
    }
    /* logits rows: gather the entries that asked for them, norm, project with the output matrix */
    int64_t n_out = 0;
    for (int64_t t = 0; t < n; t++) n_out += a->out_rows[t] >= 0;
    if (n_out == 0) return;
    if (ex->ith == 0)
        for (int64_t t = 0, r = 0; t < n; t++)
            if (a->out_rows[t] >= 0) {
                for (int64_t i = 0; i < dim; i++) ctx->tmp[r * dim + i] = ctx->x[t * dim + i];
                r++;
            }
    seek_pool_barrier(ex);
    op_rmsnorm(ex, ctx->xn, ctx->tmp, m->output_norm.data, n_out, dim, hp->rms_eps);
    fwd_mark(&f, SEEK_OP_NORM);
    /* rows of this chunk's outputs are consecutive in ctx->logits, starting at the first one */
    int64_t first = -1;
    for (int64_t t = 0; t < n && first < 0; t++) first = a->out_rows[t];
    act_set(&f.act, ctx->xn, n_out, dim);
    fwd_matmul(&f, ctx->logits + first * hp->n_vocab, hp->n_vocab, &m->output);
    fwd_mark(&f, SEEK_OP_MATMUL);
}

void seek_forward(seek_context *ctx, const int32_t *tok, const int32_t *pos, const int32_t *seq, const int32_t *out_rows,
                  int64_t n_tok) {
    fwd_args a = {ctx, tok, pos, seq, out_rows, n_tok};
    seek_pool_run(ctx->pool, forward_worker, &a);
}
