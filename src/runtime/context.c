/* Context lifetime, batch checking and chunking, and logits bookkeeping around the
 * architecture's forward function. */
#include "runtime/context.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "kernels/attention.h"

seek_status seek_batch_init(seek_batch *b, int32_t cap) {
    memset(b, 0, sizeof *b);
    b->token = malloc((size_t)cap * sizeof(int32_t));
    b->pos = malloc((size_t)cap * sizeof(int32_t));
    b->seq = malloc((size_t)cap * sizeof(int32_t));
    b->logits = malloc((size_t)cap);
    if (!b->token || !b->pos || !b->seq || !b->logits) {
        seek_batch_free(b);
        return seek_errorf(SEEK_ERR_NOMEM, "batch: out of memory");
    }
    b->cap = cap;
    return SEEK_OK;
}

void seek_batch_free(seek_batch *b) {
    free(b->token);
    free(b->pos);
    free(b->seq);
    free(b->logits);
    memset(b, 0, sizeof *b);
}

bool seek_batch_add(seek_batch *b, int32_t token, int32_t pos, int32_t seq, bool logits) {
    if (b->n >= b->cap) return false;
    b->token[b->n] = token;
    b->pos[b->n] = pos;
    b->seq[b->n] = seq;
    b->logits[b->n] = logits;
    b->n++;
    return true;
}

/* n elements of `size` bytes (at least one); *ok becomes false when out of memory. */
static void *alloc_n(int64_t n, size_t size, bool *ok) {
    void *p = malloc((size_t)(n > 0 ? n : 1) * size);
    if (!p) *ok = false;
    return p;
}
static void *alloc_floats(int64_t n, bool *ok) { return alloc_n(n, sizeof(float), ok); }

seek_status seek_context_init(seek_context **out, const seek_model *m, const seek_context_params *p) {
    *out = NULL;
    seek_context *c = calloc(1, sizeof *c);
    if (!c) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    const seek_hparams *hp = &m->hp;
    c->model = m;
    c->params = *p;
    if (c->params.n_ctx <= 0) c->params.n_ctx = (int32_t)(hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (c->params.n_batch <= 0) c->params.n_batch = 512;
    if (c->params.n_seq <= 0) c->params.n_seq = 1;
    if (c->params.n_threads <= 0) c->params.n_threads = 2;
    seek_status st = seek_pool_init(&c->pool, c->params.n_threads);
    if (st) goto fail;
    const int64_t nb = c->params.n_batch, nth = c->params.n_threads;
    const int64_t q_dim = hp->n_head * hp->head_dim;
    /* cache rows: k and v per kv head, or MLA's latent + rope key (values read from it) */
    const int64_t k_row = hp->mla ? hp->kv_lora + hp->n_rot : hp->n_head_kv * hp->head_dim;
    const int64_t v_row = hp->mla ? 0 : k_row;
    if ((st = seek_kv_init(&c->kv, hp->n_layer, k_row, v_row, c->params.n_ctx, c->params.n_seq, c->params.k_type, c->params.v_type))) goto fail;
    const int64_t attn_out = hp->mla ? hp->n_head * hp->kv_lora : q_dim;
    int64_t ff = hp->n_ff > hp->n_ff_exp ? hp->n_ff : hp->n_ff_exp;
    if (hp->n_ff_shexp > ff) ff = hp->n_ff_shexp;
    /* the widest matmul input */
    int64_t widest = hp->dim > ff ? hp->dim : ff;
    const int64_t wide[] = {q_dim, attn_out, hp->q_lora, hp->n_head * hp->head_dim_v};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) widest = wide[i] > widest ? wide[i] : widest;
    seek_attn_shape as = {hp->n_head, hp->n_head_kv, hp->mla ? k_row : hp->head_dim, hp->mla ? hp->kv_lora : hp->head_dim, 0, NULL, 0, 0, 0};
    bool ok = true;
    c->x = alloc_floats(nb * hp->dim, &ok);
    c->xn = alloc_floats(nb * widest, &ok);
    c->tmp = alloc_floats(nb * hp->dim, &ok);
    c->q = alloc_floats(nb * q_dim, &ok);
    c->k = alloc_floats(nb * k_row, &ok);
    c->v = alloc_floats(nb * v_row, &ok);
    c->attn = alloc_floats(nb * attn_out, &ok);
    c->ffn_g = alloc_floats(nb * ff, &ok);
    c->ffn_u = alloc_floats(nb * ff, &ok);
    c->act = alloc_floats(nb * widest / 2 + 64, &ok); /* 8-bit blocks take < 2 bytes a value */
    if (c->params.precise) c->row_f32 = alloc_floats(nth * widest, &ok);
    c->rope_cos = alloc_floats(nb * hp->n_rot / 2, &ok);
    c->rope_sin = alloc_floats(nb * hp->n_rot / 2, &ok);
    c->attn_scratch = alloc_floats(attention_scratch_floats(&as, c->kv.n_blocks, (int)nth), &ok);
    if (hp->mla) {
        c->qa = alloc_floats(nb * hp->q_lora, &ok);
        c->q_abs = alloc_floats(nb * hp->n_head * k_row, &ok);
        c->mla_o = alloc_floats(nb * hp->n_head * hp->head_dim_v, &ok);
        c->head_row = alloc_floats(nth * (hp->kv_lora > hp->head_dim_nope ? hp->kv_lora : hp->head_dim_nope), &ok);
    }
    if (hp->moe.n_expert) {
        const int64_t E = hp->moe.n_expert, K = hp->moe.n_used;
        c->moe_logits = alloc_floats(nb * E, &ok);
        c->moe_w = alloc_floats(nb * K, &ok);
        c->moe_lw = alloc_floats(nb * K, &ok);
        c->moe_xg = alloc_floats(nb * hp->dim, &ok);
        c->moe_y = alloc_floats(nb * hp->dim, &ok);
        c->moe_scratch = alloc_floats(nth * 2 * E, &ok);
        c->moe_ids = alloc_n(nb * K, sizeof(int32_t), &ok);
        c->moe_list = alloc_n(nb * K, sizeof(int32_t), &ok);
        c->moe_off = alloc_n(E + 1, sizeof(int32_t), &ok);
        c->moe_fill = alloc_n(E, sizeof(int32_t), &ok);
    }
    c->logit_row = malloc((size_t)nb * sizeof(int32_t));
    c->logit_row_cap = (int32_t)nb;
    c->logits_cap = 1;
    c->logits = alloc_floats(hp->n_vocab, &ok);
    if (!ok || !c->logit_row) {
        st = seek_errorf(SEEK_ERR_NOMEM, "context: out of memory for scratch buffers");
        goto fail;
    }
    *out = c;
    return SEEK_OK;
fail:
    seek_context_free(c);
    return st;
}

void seek_context_free(seek_context *c) {
    if (!c) return;
    if (c->pool) seek_pool_free(c->pool);
    seek_kv_free(&c->kv);
    void *bufs[] = {c->x, c->xn, c->tmp, c->q, c->k, c->v, c->attn, c->ffn_g, c->ffn_u,
                    c->rope_cos, c->rope_sin, c->attn_scratch, c->logits, c->row_f32,
                    c->qa, c->q_abs, c->mla_o, c->head_row, c->moe_logits, c->moe_w, c->moe_lw, c->moe_xg, c->moe_y,
                    c->moe_scratch, c->moe_ids, c->moe_off, c->moe_list, c->moe_fill};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c->act);
    free(c->logit_row);
    free(c);
}

int32_t seek_seq_len(const seek_context *ctx, int32_t seq) {
    return seq >= 0 && seq < ctx->kv.n_seq ? ctx->kv.seqs[seq].n_pos : 0;
}

void seek_seq_truncate(seek_context *ctx, int32_t seq, int32_t n_keep) {
    if (seq >= 0 && seq < ctx->kv.n_seq) seek_kv_truncate(&ctx->kv, seq, n_keep);
}

int32_t seek_seq_share(seek_context *ctx, int32_t dst, int32_t src, int32_t n_pos) {
    if (dst < 0 || dst >= ctx->kv.n_seq || src < 0 || src >= ctx->kv.n_seq || dst == src) return seek_seq_len(ctx, dst);
    seek_kv_share(&ctx->kv, dst, src, n_pos / SEEK_KV_BLOCK);
    return ctx->kv.seqs[dst].n_pos;
}

const float *seek_get_logits(const seek_context *ctx, int32_t i) {
    if (i < 0 || i >= ctx->logit_row_cap || ctx->logit_row[i] < 0) return NULL;
    return ctx->logits + (int64_t)ctx->logit_row[i] * ctx->model->hp.n_vocab;
}

/* Checks the whole batch before anything changes: ids in range, each sequence's positions
 * continuing its cache one by one, and room in the cache. */
static seek_status batch_check(seek_context *ctx, const seek_batch *b) {
    const seek_kv_cache *kv = &ctx->kv;
    int32_t next[256];
    int32_t *nx = kv->n_seq <= 256 ? next : malloc((size_t)kv->n_seq * sizeof(int32_t));
    if (!nx) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    for (int32_t s = 0; s < kv->n_seq; s++) nx[s] = kv->seqs[s].n_pos;
    seek_status st = SEEK_OK;
    int64_t blocks_needed = 0;
    for (int32_t i = 0; i < b->n && !st; i++) {
        int32_t s = b->seq[i];
        if (b->token[i] < 0 || b->token[i] >= ctx->model->hp.n_vocab)
            st = seek_errorf(SEEK_ERR_INVALID, "batch entry %d: token id %d is out of range", i, b->token[i]);
        else if (s < 0 || s >= kv->n_seq)
            st = seek_errorf(SEEK_ERR_INVALID, "batch entry %d: sequence %d is out of range (0..%d)", i, s, kv->n_seq - 1);
        else if (b->pos[i] != nx[s])
            st = seek_errorf(SEEK_ERR_INVALID, "batch entry %d: position %d of sequence %d should be %d", i, b->pos[i], s, nx[s]);
        else if (b->pos[i] >= ctx->params.n_ctx)
            st = seek_errorf(SEEK_ERR_FULL, "the context is full (%d tokens); use a larger -c", ctx->params.n_ctx);
        else {
            if (nx[s] % SEEK_KV_BLOCK == 0) blocks_needed++;
            nx[s]++;
        }
    }
    if (!st && blocks_needed > kv->n_free)
        st = seek_errorf(SEEK_ERR_FULL, "the KV cache is full (%d positions); use a larger -c", kv->n_blocks * SEEK_KV_BLOCK);
    if (nx != next) free(nx);
    return st;
}

seek_status seek_decode(seek_context *ctx, const seek_batch *b) {
    seek_status st = batch_check(ctx, b);
    if (st) return st;
    int64_t n_out = 0;
    for (int32_t i = 0; i < b->n; i++) n_out += b->logits[i] != 0;
    if (b->n > ctx->logit_row_cap) {
        int32_t *r = realloc(ctx->logit_row, (size_t)b->n * sizeof(int32_t));
        if (!r) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
        ctx->logit_row = r;
        ctx->logit_row_cap = b->n;
    }
    if (n_out > ctx->logits_cap) {
        float *l = realloc(ctx->logits, (size_t)n_out * (size_t)ctx->model->hp.n_vocab * sizeof(float));
        if (!l) return seek_errorf(SEEK_ERR_NOMEM, "out of memory for %lld rows of logits", (long long)n_out);
        ctx->logits = l;
        ctx->logits_cap = n_out;
    }
    for (int32_t i = 0, row = 0; i < ctx->logit_row_cap; i++) ctx->logit_row[i] = i < b->n && b->logits[i] ? row++ : -1;
    for (int32_t i = 0; i < b->n; i++) {
        st = seek_kv_reserve(&ctx->kv, b->seq[i], 1); /* cannot fail: batch_check counted blocks */
        if (st) return st;
    }
    for (int32_t c0 = 0; c0 < b->n; c0 += ctx->params.n_batch) {
        int32_t n = b->n - c0 < ctx->params.n_batch ? b->n - c0 : ctx->params.n_batch;
        seek_forward(ctx, b->token + c0, b->pos + c0, b->seq + c0, ctx->logit_row + c0, n);
    }
    return SEEK_OK;
}
