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
/* Keys are taken in chunks of ATT_CHUNK blocks: each chunk's softmax state (max, sum, weighted
 * values) starts afresh and is merged into the running state in key order. When a step has too
 * few work items for the threads (a lone decode step: one per kv head), the chunks themselves are
 * dealt out and merged afterwards (split-K, as flash-decoding does); otherwise a thread runs an
 * item's chunks in order. Both give the same bits, so results still do not depend on the batch. */
#define ATT_CHUNK 4

static int64_t heads_per_item(const seek_attn_shape *s) {
    int64_t rep = s->n_head / s->n_head_kv;
    return rep < ATT_HEADS ? rep : ATT_HEADS;
}

/* per thread: a tile's running state and a chunk's state (rows x (v_dim + 2)), its scores */
static int64_t per_thread_floats(const seek_attn_shape *s) {
    int64_t rows = ATT_TILE * heads_per_item(s);
    return rows * (2 * s->v_dim + SEEK_KV_BLOCK + 4);
}

/* split-K happens for fewer than this many work items per thread */
#define ATT_SPLIT_ITEMS 2

/* split-K's chunk states: up to ATT_SPLIT_ITEMS * nth single-query items, each with its chunks */
static int64_t partial_floats(const seek_attn_shape *s, int64_t n_blocks, int nth) {
    const int64_t rep = s->n_head / s->n_head_kv, per_tok = s->n_head_kv * ((rep + heads_per_item(s) - 1) / heads_per_item(s));
    if (nth < 2 || per_tok >= ATT_SPLIT_ITEMS * nth) return 0; /* never split */
    const int64_t chunks = (n_blocks + ATT_CHUNK - 1) / ATT_CHUNK;
    return ATT_SPLIT_ITEMS * nth * chunks * heads_per_item(s) * (s->v_dim + 2);
}

int64_t attention_scratch_floats(const seek_attn_shape *s, int64_t n_blocks, int nth) {
    return nth * per_thread_floats(s) + partial_floats(s, n_blocks, nth);
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

/* Merges a chunk's softmax state (acc_c, m_c, l_c) into a running one, in key order. */
static void merge_state(const seek_vec_kernels *vk, float *acc, float *m, float *l, const float *acc_c, float m_c, float l_c,
                        int64_t vd) {
    if (m_c == -INFINITY) return; /* the chunk held no key this row sees */
    if (*m == -INFINITY) {
        memcpy(acc, acc_c, (size_t)vd * sizeof(float));
        *m = m_c, *l = l_c;
        return;
    }
    const float mn = m_c > *m ? m_c : *m, a = expf(*m - mn), b = expf(m_c - mn);
    vk->scale(acc, a, vd);
    vk->axpy(acc, b, acc_c, vd);
    *l = *l * a + l_c * b;
    *m = mn;
}

typedef struct {
    const seek_vec_kernels *vk;
    const seek_attn_shape *s;
    const seek_kv_cache *kv;
    int64_t layer;
    const float *q;
    const int32_t *seq, *pos;
    int64_t kd, vd, q_row, v_stride, v_head;
    bool kh, vh;
} attn_job;

#define CHUNK_KEYS (ATT_CHUNK * SEEK_KV_BLOCK)
static int32_t n_chunks(int32_t n_keys) { return (n_keys + CHUNK_KEYS - 1) / CHUNK_KEYS; }

/* The end of the tile that starts at entry t0 (see op_attention) */
static int64_t tile_end(const int32_t *seq, int64_t n_tok, int64_t t0) {
    int64_t t1 = t0 + 1;
    while (t1 < n_tok && t1 % ATT_TILE != 0 && seq[t1] == seq[t0]) t1++;
    return t1;
}

/* Work item `item` of a tile: kv head *g, query heads h0 .. h0 + *nh - 1 */
static void item_heads(int64_t item, int64_t rep, int64_t n_grp, int64_t hpi, int64_t *g, int64_t *h0, int64_t *nh) {
    *g = item / n_grp;
    *h0 = *g * rep + item % n_grp * hpi;
    *nh = *g * rep + rep - *h0 < hpi ? *g * rep + rep - *h0 : hpi;
}

/* out's nh head rows of one token (vd apart) = the accumulators divided by their sums */
static void write_rows(const seek_vec_kernels *vk, float *out, const float *acc, const float *l, int64_t nh, int64_t vd) {
    for (int64_t r = 0; r < nh; r++) {
        memcpy(out + r * vd, acc + r * vd, (size_t)vd * sizeof(float));
        vk->scale(out + r * vd, 1.0f / l[r], vd);
    }
}

/* The key and value rows of kv head g in the block holding position b0 of sequence seq */
static void block_rows(const attn_job *j, int32_t seq, int32_t b0, int64_t g, const uint8_t **kb, const uint8_t **vb) {
    const seek_kv_cache *kv = j->kv;
    *kb = (const uint8_t *)seek_kv_k(kv, j->layer, seq, b0) + (size_t)(g * j->kd) * kv->k_esz;
    *vb = (const uint8_t *)seek_kv_v(kv, j->layer, seq, b0) + (size_t)(g * j->v_head) * kv->v_esz;
}

/* The softmax state of rows (t0..t1) x heads h0..h0+nh-1 (kv head g) over chunk c's keys (of the
 * tile's max_keys): acc (rows, vd), m, l (rows), from scratch; sc holds the scores (rows,
 * SEEK_KV_BLOCK). */
static void run_chunk(const attn_job *j, int64_t t0, int64_t t1, int32_t max_keys, int64_t g, int64_t h0, int64_t nh, int32_t c,
                      float *acc, float *mx, float *l, float *sc) {
    const seek_attn_shape *s = j->s;
    const seek_kv_cache *kv = j->kv;
    const int64_t kd = j->kd, vd = j->vd;
    for (int64_t i = 0; i < (t1 - t0) * nh; i++) mx[i] = -INFINITY, l[i] = 0;
    memset(acc, 0, (size_t)((t1 - t0) * nh * vd) * sizeof(float));
    const int32_t b_end = (c + 1) * CHUNK_KEYS < max_keys ? (c + 1) * CHUNK_KEYS : max_keys;
    const size_t k_bytes = (size_t)kd * kv->k_esz, v_bytes = (size_t)vd * kv->v_esz; /* one row of this kv head */
    const size_t k_stride = (size_t)kv->k_row * kv->k_esz, v_stride = (size_t)j->v_stride * kv->v_esz;
    for (int32_t b0 = c * CHUNK_KEYS; b0 < b_end; b0 += SEEK_KV_BLOCK) {
        const uint8_t *kb, *vb;
        block_rows(j, j->seq[t0], b0, g, &kb, &vb);
        if (b0 + SEEK_KV_BLOCK < max_keys) { /* the next block sits elsewhere in the cache: fetch it early */
            const uint8_t *kn, *vn;
            block_rows(j, j->seq[t0], b0 + SEEK_KV_BLOCK, g, &kn, &vn);
            for (int r = 0; r < SEEK_KV_BLOCK; r++) {
                for (size_t o = 0; o < k_bytes; o += 64) __builtin_prefetch(kn + r * k_stride + o);
                if (kv->v)
                    for (size_t o = 0; o < v_bytes; o += 64) __builtin_prefetch(vn + r * v_stride + o);
            }
        }
        for (int64_t t = t0; t < t1; t++) {
            const int32_t n_keys = j->pos[t] + 1, lo = attn_first_key(s, j->pos[t]);
            if (b0 >= n_keys || b0 + SEEK_KV_BLOCK <= lo) continue;
            const int32_t nb = n_keys - b0 < SEEK_KV_BLOCK ? n_keys - b0 : SEEK_KV_BLOCK;
            /* the nh heads of token t in this item are consecutive rows of q */
            const int64_t i0 = (t - t0) * nh;
            const float *qt = j->q + t * j->q_row + h0 * kd;
            if (j->kh) j->vk->scores_rows_h(sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, qt, kd, (int32_t)nh, (const seek_f16 *)kb, kv->k_row, nb, kd);
            else j->vk->scores_rows(sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, qt, kd, (int32_t)nh, (const float *)kb, kv->k_row, nb, kd);
            for (int64_t i = i0; i < i0 + nh; i++)
                row_softmax(j->vk, acc + i * vd, &mx[i], &l[i], sc + i * SEEK_KV_BLOCK, nb, vd, s->scale,
                            s->alibi ? s->alibi[h0 + i - i0] : 0.0f, j->pos[t] - b0, lo > b0 ? lo - b0 : 0);
            if (j->vh)
                j->vk->weighted_sum_rows_h(acc + i0 * vd, vd, sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, (int32_t)nh, (const seek_f16 *)vb,
                                           j->v_stride, nb, vd);
            else
                j->vk->weighted_sum_rows(acc + i0 * vd, vd, sc + i0 * SEEK_KV_BLOCK, SEEK_KV_BLOCK, (int32_t)nh, (const float *)vb,
                                         j->v_stride, nb, vd);
        }
    }
}

void op_attention(const seek_exec *ex, float *out, const float *q, const seek_kv_cache *kv, int64_t layer,
                  const int32_t *seq, const int32_t *pos, int64_t n_tok, const seek_attn_shape *s, float *scratch) {
    const int64_t kd = s->k_dim, vd = s->v_dim, rep = s->n_head / s->n_head_kv;
    const int64_t hpi = heads_per_item(s), n_grp = (rep + hpi - 1) / hpi; /* head groups per kv head */
    const int64_t o_row = s->n_head * vd;
    const attn_job j = {seek_vec(), s, kv, layer, q, seq, pos, kd, vd, s->n_head * kd, seek_kv_v_stride(kv), kv->v ? vd : 0,
                        kv->k_type == SEEK_TYPE_F16, kv->v_type == SEEK_TYPE_F16};
    const int64_t rows = ATT_TILE * hpi;
    float *acc = scratch + ex->ith * per_thread_floats(s); /* (rows, vd): the running state */
    float *acc_c = acc + rows * vd;                        /* (rows, vd): a chunk's */
    float *sc = acc_c + rows * vd;                         /* (rows, SEEK_KV_BLOCK) scores */
    float *mx = sc + rows * SEEK_KV_BLOCK, *l = mx + rows; /* (rows) running max and sum */
    float *mx_c = l + rows, *l_c = mx_c + rows;            /* (rows) a chunk's */
    float *partial = scratch + ex->nth * per_thread_floats(s);
    /* tiles: an entry starts one when its index is a multiple of ATT_TILE or its sequence differs
     * from the previous entry's; a tile runs to the next start. Work items are (tile, kv head,
     * head group) triples dealt round-robin to threads in order, so the costly late positions
     * of a causal prompt are shared evenly. */
    const int64_t per_tok = s->n_head_kv * n_grp;
    int64_t n_tiles = 0;
    bool single = true; /* every tile one query */
    for (int64_t t0 = 0, t1; t0 < n_tok; t0 = t1, n_tiles++) {
        t1 = tile_end(seq, n_tok, t0);
        single &= t1 - t0 == 1;
    }
    const int64_t max_chunks = (kv->n_blocks + ATT_CHUNK - 1) / ATT_CHUNK;
    const bool split = single && ex->nth > 1 && n_tiles * per_tok < ATT_SPLIT_ITEMS * ex->nth;
    const int64_t slot = hpi * (vd + 2); /* one chunk state of one item in `partial` */
    int64_t w = 0; /* work units seen so far; thread ith takes every nth */
    for (int64_t t0 = 0, t1; t0 < n_tok; t0 = t1) {
        t1 = tile_end(seq, n_tok, t0);
        int32_t max_keys = 0;
        for (int64_t t = t0; t < t1; t++) max_keys = pos[t] + 1 > max_keys ? pos[t] + 1 : max_keys;
        const int32_t nc = n_chunks(max_keys);
        for (int64_t item = 0; item < per_tok; item++) {
            int64_t g, h0, nh;
            item_heads(item, rep, n_grp, hpi, &g, &h0, &nh);
            if (split) { /* every chunk its own unit; its state goes to `partial` */
                float *pi = partial + (t0 * per_tok + item) * max_chunks * slot;
                for (int32_t c = 0; c < nc; c++) {
                    if (w++ % ex->nth != ex->ith) continue;
                    float *pc = pi + c * slot;
                    run_chunk(&j, t0, t1, max_keys, g, h0, nh, c, pc, pc + nh * vd, pc + nh * vd + nh, sc);
                }
                continue;
            }
            if (w++ % ex->nth != ex->ith) continue;
            const int64_t nr = (t1 - t0) * nh;
            for (int64_t i = 0; i < nr; i++) mx[i] = -INFINITY, l[i] = 0;
            for (int32_t c = 0; c < nc; c++) {
                run_chunk(&j, t0, t1, max_keys, g, h0, nh, c, acc_c, mx_c, l_c, sc);
                for (int64_t i = 0; i < nr; i++) merge_state(j.vk, acc + i * vd, &mx[i], &l[i], acc_c + i * vd, mx_c[i], l_c[i], vd);
            }
            for (int64_t t = t0; t < t1; t++)
                write_rows(j.vk, out + t * o_row + h0 * vd, acc + (t - t0) * nh * vd, l + (t - t0) * nh, nh, vd);
        }
    }
    if (split) { /* every chunk state is written: merge each item's in key order */
        seek_pool_barrier(ex);
        w = 0;
        for (int64_t t = 0; t < n_tok; t++) {
            const int32_t nc = n_chunks(pos[t] + 1);
            for (int64_t item = 0; item < per_tok; item++) {
                if (w++ % ex->nth != ex->ith) continue;
                int64_t g, h0, nh;
                item_heads(item, rep, n_grp, hpi, &g, &h0, &nh);
                const float *pi = partial + (t * per_tok + item) * max_chunks * slot;
                for (int64_t i = 0; i < nh; i++) mx[i] = -INFINITY, l[i] = 0;
                for (int32_t c = 0; c < nc; c++) {
                    const float *pc = pi + c * slot;
                    for (int64_t i = 0; i < nh; i++)
                        merge_state(j.vk, acc + i * vd, &mx[i], &l[i], pc + i * vd, pc[nh * vd + i], pc[nh * vd + nh + i], vd);
                }
                write_rows(j.vk, out + t * o_row + h0 * vd, acc, l, nh, vd);
            }
        }
    }
    seek_pool_barrier(ex);
}
