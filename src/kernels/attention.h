/* Causal attention over the paged KV cache, computed block by block with an online softmax
 * (FlashAttention-style: running max m, running sum l, rescaled accumulator), so no T x T score
 * matrix is ever stored: memory per thread is a tile of query rows x (v_dim + SEEK_KV_BLOCK) floats. */
#ifndef SEEK_KERNELS_ATTENTION_H
#define SEEK_KERNELS_ATTENTION_H

#include "core/threadpool.h"
#include "runtime/kv_cache.h"

typedef struct {
    int64_t n_head, n_head_kv;
    int64_t k_dim, v_dim; /* per head: query/key length and value length (MLA: 576 and 512) */
    float scale;          /* usually 1/sqrt(k_dim) */
    const float *alibi;   /* (n_head) ALiBi slopes: score -= slope * (query pos - key pos); NULL: none */
    int32_t window;       /* sliding window: a query sees its last `window` positions; 0: all */
    int32_t xl_mem, xl_seg; /* Transformer-XL (seek train's xl_memory): a query at position p sees from
                               floor(p / xl_seg) * xl_seg - xl_mem on (its segment and the memory
                               before it); xl_seg 0: no such limit */
} seek_attn_shape;

/* Floats of scratch op_attention needs with nth threads over a cache of n_blocks blocks (a
 * part per thread, and the chunk states a lone decode step's threads share). */
int64_t attention_scratch_floats(const seek_attn_shape *s, int64_t n_blocks, int nth);

/* Writes the batch's k rows (n_tok, kv->k_row) and v rows (n_tok, kv->v_row; none when the cache
 * reads values from k rows) into the cache at (seq[t], pos[t]). */
void op_kv_store(const seek_exec *ex, seek_kv_cache *kv, int64_t layer, const float *k, const float *v,
                 const int32_t *seq, const int32_t *pos, int64_t n_tok);

/* out[t][h] = sum_{lo <= j <= pos[t]} softmax_j(scale * q[t][h] . k_j - alibi[h] (pos[t] - j)) v_j over sequence seq[t]'s
 * (lo = pos[t] - window + 1 with a window, else 0; with XL memory also at least the start of
 * pos[t]'s segment minus xl_mem)
 * cached positions, for every query head h (GQA: head h reads kv head h / (n_head/n_head_kv)).
 * q is (n_tok, n_head, k_dim), out (n_tok, n_head, v_dim). With one kv head whose values are the
 * first v_dim floats of its key rows this is MLA's absorbed attention in latent space.
 * scratch holds attention_scratch_floats(s, kv->n_blocks, nth) floats. Keys are summed in
 * chunks of a few blocks whose softmax states are merged in key order, the same way whichever
 * thread computes a chunk: a step's result does not depend on its batch or thread count. */
void op_attention(const seek_exec *ex, float *out, const float *q, const seek_kv_cache *kv, int64_t layer,
                  const int32_t *seq, const int32_t *pos, int64_t n_tok, const seek_attn_shape *s, float *scratch);

#endif
