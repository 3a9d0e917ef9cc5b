/* The forward pass of the `llama` and `qwen2` architectures (SmolLM2, DeepSeek-LLM,
 * DeepSeek-R1-Distill-Llama and -Qwen): pre-norm decoder blocks with RMSNorm, GQA attention
 * with RoPE (qwen2: q/k/v biases and NEOX pairs), and a SwiGLU feed-forward.
 * Every thread of the pool runs this function; each op splits its rows and ends at a barrier. */
#include <math.h>
#include <time.h>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "runtime/context.h"

typedef struct {
    seek_context *ctx;
    const int32_t *tok, *pos, *seq, *out_rows;
    int64_t n_tok;
} fwd_args;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Thread 0 charges the time since the last mark to an op kind (when timing is on). */
#define MARK(kind)                                                          \
    do {                                                                    \
        if (timing && ex->ith == 0) {                                       \
            double t1 = now_s();                                            \
            ctx->op_time[kind] += t1 - t0;                                  \
            t0 = t1;                                                        \
        }                                                                   \
    } while (0)

static void forward_worker(const seek_exec *ex, void *arg) {
    const fwd_args *a = arg;
    seek_context *ctx = a->ctx;
    const seek_model *m = ctx->model;
    const seek_hparams *hp = &m->hp;
    const int64_t n = a->n_tok, dim = hp->dim, hd = hp->head_dim;
    const int64_t q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    const seek_attn_shape shape = {hp->n_head, hp->n_head_kv, hd, 1.0f / sqrtf((float)hd)};
    const bool timing = ctx->timing;
    double t0 = timing ? now_s() : 0;
    seek_act act = {.buf = ctx->act, .row_f32 = ctx->row_f32};

    /* x = token_embd[tok] */
    op_get_rows(ex, ctx->x, &m->tok_embd, a->tok, n);
    /* rope angles for this batch's positions, shared by every layer */
    if (ex->ith == 0) rope_tables(ctx->rope_cos, ctx->rope_sin, a->pos, n, hp, m->rope_freqs.data);
    seek_pool_barrier(ex);
    MARK(SEEK_OP_OTHER);

    for (int64_t il = 0; il < hp->n_layer; il++) {
        const seek_layer *L = &m->layers[il];
        /* xn = rmsnorm(x) * attn_norm */
        op_rmsnorm(ex, ctx->xn, ctx->x, L->attn_norm.data, n, dim, hp->rms_eps);
        MARK(SEEK_OP_NORM);
        /* q = xn Wq^T + bq, k = xn Wk^T + bk, v = xn Wv^T + bv (one quantization of xn) */
        act_set(&act, ctx->xn, n, dim);
        op_matmul(ex, ctx->q, q_dim, &L->wq, &act);
        op_matmul(ex, ctx->k, kv_dim, &L->wk, &act);
        op_matmul(ex, ctx->v, kv_dim, &L->wv, &act);
        MARK(SEEK_OP_MATMUL);
        if (L->bq.data) {
            op_add_bias(ex, ctx->q, L->bq.data, n, q_dim);
            op_add_bias(ex, ctx->k, L->bk.data, n, kv_dim);
            op_add_bias(ex, ctx->v, L->bv.data, n, kv_dim);
        }
        /* q, k = rope(q, pos), rope(k, pos) */
        op_rope(ex, ctx->q, ctx->rope_cos, ctx->rope_sin, n, hp->n_head, hd, hp->n_rot, hp->rope_type);
        op_rope(ex, ctx->k, ctx->rope_cos, ctx->rope_sin, n, hp->n_head_kv, hd, hp->n_rot, hp->rope_type);
        MARK(SEEK_OP_ROPE);
        /* cache[seq][pos] = (k, v); attn = softmax(q K^T / sqrt(hd)) V over the sequence so far */
        op_kv_store(ex, &ctx->kv, il, ctx->k, ctx->v, a->seq, a->pos, n);
        op_attention(ex, ctx->attn, ctx->q, &ctx->kv, il, a->seq, a->pos, n, &shape, ctx->attn_scratch);
        MARK(SEEK_OP_ATTENTION);
        /* x += attn Wo^T */
        act_set(&act, ctx->attn, n, q_dim);
        op_matmul(ex, ctx->tmp, dim, &L->wo, &act);
        MARK(SEEK_OP_MATMUL);
        op_add(ex, ctx->x, ctx->tmp, n, dim);
        /* xn = rmsnorm(x) * ffn_norm */
        op_rmsnorm(ex, ctx->xn, ctx->x, L->ffn_norm.data, n, dim, hp->rms_eps);
        MARK(SEEK_OP_NORM);
        /* g = silu(xn Wg^T) * (xn Wu^T) */
        act_set(&act, ctx->xn, n, dim);
        op_matmul(ex, ctx->ffn_g, hp->n_ff, &L->w_gate, &act);
        op_matmul(ex, ctx->ffn_u, hp->n_ff, &L->w_up, &act);
        MARK(SEEK_OP_MATMUL);
        op_swiglu(ex, ctx->ffn_g, ctx->ffn_u, n, hp->n_ff);
        MARK(SEEK_OP_OTHER);
        /* x += g Wd^T */
        act_set(&act, ctx->ffn_g, n, hp->n_ff);
        op_matmul(ex, ctx->tmp, dim, &L->w_down, &act);
        MARK(SEEK_OP_MATMUL);
        op_add(ex, ctx->x, ctx->tmp, n, dim);
        MARK(SEEK_OP_OTHER);
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
    MARK(SEEK_OP_NORM);
    /* rows of this chunk's outputs are consecutive in ctx->logits, starting at the first one */
    int64_t first = -1;
    for (int64_t t = 0; t < n && first < 0; t++) first = a->out_rows[t];
    act_set(&act, ctx->xn, n_out, dim);
    op_matmul(ex, ctx->logits + first * hp->n_vocab, hp->n_vocab, &m->output, &act);
    MARK(SEEK_OP_MATMUL);
}

void seek_forward_llama(seek_context *ctx, const int32_t *tok, const int32_t *pos, const int32_t *seq,
                        const int32_t *out_rows, int64_t n_tok) {
    fwd_args a = {ctx, tok, pos, seq, out_rows, n_tok};
    seek_pool_run(ctx->pool, forward_worker, &a);
}
