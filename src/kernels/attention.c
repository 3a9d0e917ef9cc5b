/* Blockwise causal attention with an online softmax over the paged KV cache (see attention.h). */
#include "kernels/attention.h"

#include <math.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/vec.h"

/* Query tiling: up to ATT_TILE consecutive batch entries of one sequence are processed together
 * against each K/V block, so a block is loaded once for the tile (x the heads sharing a kv head)
 * instead of once per query. Each query row still sees the blocks in the same order with the same
 * operations, so results do not depend on how the batch was tiled. */
#define ATT_TILE 16
/* Query heads sharing one kv head are split into groups of at most ATT_HEADS, each its own work
 * item, so MLA (all heads on one latent kv head) spreads a decode step over the threads. Each
 * row's arithmetic does not depend on the grouping. */
#define ATT_HEADS 8

static int64_t heads_per_item(const seek_attn_shape *s) {
    int64_t rep = s->n_head / s->n_head_kv;
    return rep < ATT_HEADS ? rep : ATT_HEADS;
}

int64_t attention_scratch_floats(const seek_attn_shape *s) {
    int64_t rows = ATT_TILE * heads_per_item(s);
    return rows * (s->v_dim + SEEK_KV_BLOCK + 2);
}

void op_kv_store(const seek_exec *ex, seek_kv_cache *kv, int64_t layer, const float *k, const float *v,
                 const int32_t *seq, const int32_t *pos, int64_t n_tok) {
    int64_t lo, hi;
    seek_split(n_tok, ex->ith, ex->nth, &lo, &hi);
    const seek_type_kernels *h = seek_kernels(SEEK_TYPE_F16); /* fp32 -> fp16 rounds to nearest even, as F16C */
    for (int64_t t = lo; t < hi; t++) {
        void *kd = seek_kv_k(kv, layer, seq[t], pos[t]);
        if (kv->k_type == SEEK_TYPE_F16) h->from_float(k + t * kv->k_row, kd, kv->k_row);
        else memcpy(kd, k + t * kv->k_row, (size_t)kv->k_row * sizeof(float));
        if (!kv->v) continue;
        void *vd = seek_kv_v(kv, layer, seq[t], pos[t]);
        if (kv->v_type == SEEK_TYPE_F16) h->from_float(v + t * kv->v_row, vd, kv->v_row);
        else memcpy(vd, v + t * kv->v_row, (size_t)kv->v_row * sizeof(float));
    }
    seek_pool_barrier(ex);
}

/* Online-softmax update of one query row with one block of nb keys whose scores q.k_j are in
 * sc: new running max, rescale of what was accumulated, then exp(score - max) in sc (the
 * block's weights; op_attention adds the weighted values of all rows of a token together).
 * With ALiBi (slope != 0) key j of the block sits dist0 - j positions before the query; keys
 * j < jlo are outside the sliding window (the block holds at least one key >= jlo). */
static void row_softmax(const seek_vec_kernels *vk, float *acc, float *mx, float *l, float *sc, int32_t nb, int64_t hd,
                        float scale, float slope, int32_t dist0, int32_t jlo) {
    const float bmax = vk->scale_max(sc, nb, scale, slope, dist0, jlo);
    float new_max = bmax > *mx ? bmax : *mx;
    float corr = expf(*mx - new_max);
    if (corr != 1.0f) {
        vk->scale(acc, corr, hd);
        *l *= corr;
    }
    *mx = new_max;
    *l += vk->exp_sum(sc, nb, new_max);
}

/* The first key position a query at position p sees: sliding window and XL segment memory. */
static inline int32_t attn_first_key(const seek_attn_shape *s, int32_t p) {
    int32_t lo = s->window > 0 && p + 1 > s->window ? p + 1 - s->window : 0;
    if (s->xl_seg > 0) {
        const int32_t xl = p / s->xl_seg * s->xl_seg - s->xl_mem;
        lo = xl > lo ? xl : lo;
    }
    return lo;
}

void op_attention(const seek_exec *ex, float *out, const float *q, const seek_kv_cache *kv, int64_t layer,
                  const int32_t *seq, const int32_t *pos, int64_t n_tok, const seek_attn_shape *s, float *scratch) {
    const int64_t kd = s->k_dim, vd = s->v_dim, rep = s->n_head / s->n_head_kv;
    const int64_t hpi = heads_per_item(s), n_grp = (rep + hpi - 1) / hpi; /* head groups per kv head */
    const int64_t q_row = s->n_head * kd, o_row = s->n_head * vd;
    const int64_t v_stride = seek_kv_v_stride(kv), v_head = kv->v ? vd : 0;
    const seek_vec_kernels *vk = seek_vec();
    const bool kh = kv->k_type == SEEK_TYPE_F16, vh = kv->v_type == SEEK_TYPE_F16; /* an F16 cache */
    const int64_t rows = ATT_TILE * hpi;
    float *acc = scratch + ex->ith * attention_scratch_floats(s); /* (rows, vd) */
    float *sc = acc + rows * vd;                                   /* (rows, SEEK_KV_BLOCK) scores */
    float *mx = sc + rows * SEEK_KV_BLOCK;                         /* (rows) running max */
    float *l = mx + rows;                                          /* (rows) running sum */
    /* tiles: an entry starts one when its index is a multiple of ATT_TILE or its sequence differs
     * from the previous entry's; a tile runs to the next start. Work items are (tile, kv head,
     * head group) triples dealt round-robin to threads in order, so the costly late positions
     * of a causal prompt are shared evenly. */
    const int64_t per_tok = s->n_head_kv * n_grp;
    int64_t w = 0; /* work items seen so far; thread ith takes every nth */
    for (int64_t t0 = 0, t1; t0 < n_tok; t0 = t1) {
        t1 = t0 + 1;
        while (t1 < n_tok && t1 % ATT_TILE != 0 && seq[t1] == seq[t0]) t1++;
        int32_t max_keys = 0;
        for (int64_t t = t0; t < t1; t++) max_keys = pos[t] + 1 > max_keys ? pos[t] + 1 : max_keys;
        for (int64_t item = 0; item < per_tok; item++) {
            if (w++ % ex->nth != ex->ith) continue;
            const int64_t g = item / n_grp, h0 = g * rep + item % n_grp * hpi;
            const int64_t nh = g * rep + rep - h0 < hpi ? g * rep + rep - h0 : hpi; /* heads h0..h0+nh-1 */
            for (int64_t i = 0; i < (t1 - t0) * nh; i++) {
                mx[i] = -INFINITY;
                l[i] = 0;
            }
            memset(acc, 0, (size_t)((t1 - t0) * nh * vd) * sizeof(float));
            for (int32_t b0 = 0; b0 < max_keys; b0 += SEEK_KV_BLOCK) {
                const uint8_t *kb = (const uint8_t *)seek_kv_k(kv, layer, seq[t0], b0) + (size_t)(g * kd) * kv->k_esz;
                const uint8_t *vb = (const uint8_t *)seek_kv_v(kv, layer, seq[t0], b0) + (size_t)(g * v_head) * kv->v_esz;
                for (int64_t t = t0; t < t1; t++) {
                    const int32_t n_keys = pos[t] + 1, lo = attn_first_key(s, pos[t]);
                    if (b0 >= n_keys || b0 + SEEK_KV_BLOCK <= lo) continue;
                    const int32_t nb = n_keys - b0 < SEEK_KV_BLOCK ? n_keys - b0 : SEEK_KV_BLOCK;
                    /* the nh heads of token t in this item are consecutive rows of q */
                    const int64_t i0 = (t - t0) * nh;
                    if (kh)
                        vk->scores_rows_h(sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, q + t * q_row + h0 * kd, kd, (int32_t)nh,
                                          (const seek_f16 *)kb, kv->k_row, nb, kd);
                    else
                        vk->scores_rows(sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, q + t * q_row + h0 * kd, kd, (int32_t)nh,
                                        (const float *)kb, kv->k_row, nb, kd);
                    for (int64_t i = i0; i < i0 + nh; i++)
                        row_softmax(vk, acc + i * vd, &mx[i], &l[i], sc + i * SEEK_KV_BLOCK, nb, vd, s->scale,
                                    s->alibi ? s->alibi[h0 + i - i0] : 0.0f, pos[t] - b0, lo > b0 ? lo - b0 : 0);
                    if (vh)
                        vk->weighted_sum_rows_h(acc + i0 * vd, vd, sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, (int32_t)nh,
                                                (const seek_f16 *)vb, v_stride, nb, vd);
                    else
                        vk->weighted_sum_rows(acc + i0 * vd, vd, sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, (int32_t)nh,
                                              (const float *)vb, v_stride, nb, vd);
                }
            }
            for (int64_t t = t0; t < t1; t++)
                for (int64_t r = 0; r < nh; r++) {
                    const int64_t i = (t - t0) * nh + r;
                    float *o = out + t * o_row + (h0 + r) * vd;
                    memcpy(o, acc + i * vd, (size_t)vd * sizeof(float));
                    vk->scale(o, 1.0f / l[i], vd);
                }
        }
    }
    seek_pool_barrier(ex);
}
