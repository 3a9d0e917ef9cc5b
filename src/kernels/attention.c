/* Blockwise causal attention with an online softmax over the paged KV cache (see attention.h). */
#include "kernels/attention.h"

#include <math.h>
#include <string.h>

#include "kernels/vec.h"

int64_t attention_scratch_floats(const seek_attn_shape *s) {
    int64_t rep = s->n_head / s->n_head_kv;
    return rep * (s->head_dim + SEEK_KV_BLOCK + 2);
}

void op_kv_store(const seek_exec *ex, seek_kv_cache *kv, int64_t layer, const float *k, const float *v,
                 const int32_t *seq, const int32_t *pos, int64_t n_tok) {
    int64_t lo, hi;
    seek_split(n_tok, ex->ith, ex->nth, &lo, &hi);
    size_t row = (size_t)kv->kv_dim * sizeof(float);
    for (int64_t t = lo; t < hi; t++) {
        memcpy(seek_kv_k(kv, layer, seq[t], pos[t]), k + t * kv->kv_dim, row);
        memcpy(seek_kv_v(kv, layer, seq[t], pos[t]), v + t * kv->kv_dim, row);
    }
    seek_pool_barrier(ex);
}

void op_attention(const seek_exec *ex, float *out, const float *q, const seek_kv_cache *kv, int64_t layer,
                  const int32_t *seq, const int32_t *pos, int64_t n_tok, const seek_attn_shape *s, float *scratch) {
    const int64_t hd = s->head_dim, rep = s->n_head / s->n_head_kv;
    const int64_t q_row = s->n_head * hd;
    const seek_vec_kernels *vk = seek_vec();
    float *acc = scratch + ex->ith * attention_scratch_floats(s); /* (rep, hd) */
    float *sc = acc + rep * hd;                                    /* (rep, SEEK_KV_BLOCK) scores */
    float *mx = sc + rep * SEEK_KV_BLOCK;                          /* (rep) running max */
    float *l = mx + rep;                                           /* (rep) running sum */
    int64_t lo, hi;
    seek_split(n_tok * s->n_head_kv, ex->ith, ex->nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int64_t t = item / s->n_head_kv, g = item % s->n_head_kv;
        const int32_t n_keys = pos[t] + 1;
        for (int64_t r = 0; r < rep; r++) {
            mx[r] = -INFINITY;
            l[r] = 0;
        }
        memset(acc, 0, (size_t)(rep * hd) * sizeof(float));
        for (int32_t b0 = 0; b0 < n_keys; b0 += SEEK_KV_BLOCK) {
            const int32_t nb = n_keys - b0 < SEEK_KV_BLOCK ? n_keys - b0 : SEEK_KV_BLOCK;
            const float *kb = seek_kv_k(kv, layer, seq[t], b0) + g * hd;
            const float *vb = seek_kv_v(kv, layer, seq[t], b0) + g * hd;
            for (int64_t r = 0; r < rep; r++) {
                const float *qh = q + t * q_row + (g * rep + r) * hd;
                float *sr = sc + r * SEEK_KV_BLOCK;
                float bmax = -INFINITY;
                for (int32_t j = 0; j < nb; j++) {
                    sr[j] = s->scale * vk->dot(qh, kb + (int64_t)j * kv->kv_dim, hd);
                    if (sr[j] > bmax) bmax = sr[j];
                }
                /* online softmax: rescale what we have to the new max, then add this block */
                float new_max = bmax > mx[r] ? bmax : mx[r];
                float corr = expf(mx[r] - new_max);
                float *ar = acc + r * hd;
                if (corr != 1.0f) {
                    vk->scale(ar, corr, hd);
                    l[r] *= corr;
                }
                mx[r] = new_max;
                for (int32_t j = 0; j < nb; j++) {
                    float p = expf(sr[j] - new_max);
                    l[r] += p;
                    vk->axpy(ar, p, vb + (int64_t)j * kv->kv_dim, hd);
                }
            }
        }
        for (int64_t r = 0; r < rep; r++) {
            float *o = out + t * q_row + (g * rep + r) * hd;
            for (int64_t i = 0; i < hd; i++) o[i] = acc[r * hd + i];
            vk->scale(o, 1.0f / l[r], hd);
        }
    }
    seek_pool_barrier(ex);
}
