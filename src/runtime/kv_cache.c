/* Paged KV cache: block allocation, per-sequence block tables, truncation. */
#include "runtime/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/mapfile.h"
#include "core/status.h"

seek_status seek_kv_init(seek_kv_cache *kv, int64_t n_layer, int64_t k_row, int64_t v_row, int64_t n_ctx, int32_t n_seq,
                         seek_dtype k_type, seek_dtype v_type) {
    memset(kv, 0, sizeof *kv);
    if (n_ctx < 1 || n_seq < 1) return seek_errorf(SEEK_ERR_INVALID, "kv cache: context %lld / sequences %d must be positive", (long long)n_ctx, n_seq);
    for (int i = 0; i < 2; i++) {
        const seek_dtype t = i ? v_type : k_type;
        if (t != SEEK_TYPE_F32 && t != SEEK_TYPE_F16)
            return seek_errorf(SEEK_ERR_INVALID, "kv cache: %s cache type %s is not supported (f32 or f16)", i ? "value" : "key",
                               seek_dtype_name(t));
    }
    if (!v_row) v_type = k_type; /* values read from the key rows */
    kv->k_type = k_type;
    kv->v_type = v_type;
    kv->k_esz = k_type == SEEK_TYPE_F16 ? 2 : 4;
    kv->v_esz = v_type == SEEK_TYPE_F16 ? 2 : 4;
    kv->n_layer = n_layer;
    kv->k_row = k_row;
    kv->v_row = v_row;
    kv->n_seq = n_seq;
    kv->n_blocks = (int32_t)((n_ctx + SEEK_KV_BLOCK - 1) / SEEK_KV_BLOCK);
    size_t n = (size_t)n_layer * (size_t)kv->n_blocks * SEEK_KV_BLOCK;
    kv->k = seek_big_alloc(n * (size_t)k_row * kv->k_esz);
    kv->v = v_row ? seek_big_alloc(n * (size_t)v_row * kv->v_esz) : NULL;
    kv->ref = calloc((size_t)kv->n_blocks, sizeof(int32_t));
    kv->free_list = malloc((size_t)kv->n_blocks * sizeof(int32_t));
    kv->seqs = calloc((size_t)n_seq, sizeof *kv->seqs);
    if (!kv->k || (v_row && !kv->v) || !kv->ref || !kv->free_list || !kv->seqs) {
        seek_kv_free(kv);
        return seek_errorf(SEEK_ERR_NOMEM, "kv cache: cannot allocate %zu MiB", n * ((size_t)k_row * kv->k_esz + (size_t)v_row * kv->v_esz) >> 20);
    }
    for (int32_t i = 0; i < kv->n_blocks; i++) kv->free_list[i] = kv->n_blocks - 1 - i;
    kv->n_free = kv->n_blocks;
    return SEEK_OK;
}

void seek_kv_free(seek_kv_cache *kv) {
    if (kv->seqs)
        for (int32_t s = 0; s < kv->n_seq; s++) free(kv->seqs[s].blocks);
    const size_t n = (size_t)kv->n_layer * (size_t)kv->n_blocks * SEEK_KV_BLOCK;
    seek_big_free(kv->k, n * (size_t)kv->k_row * kv->k_esz);
    seek_big_free(kv->v, n * (size_t)kv->v_row * kv->v_esz);
    free(kv->ref);
    free(kv->free_list);
    free(kv->seqs);
    memset(kv, 0, sizeof *kv);
}

size_t seek_kv_bytes(const seek_kv_cache *kv) {
    return (size_t)kv->n_layer * (size_t)kv->n_blocks * SEEK_KV_BLOCK * ((size_t)kv->k_row * kv->k_esz + (size_t)kv->v_row * kv->v_esz);
}

seek_status seek_kv_reserve(seek_kv_cache *kv, int32_t seq, int32_t n) {
    seek_kv_seq *s = &kv->seqs[seq];
    int32_t need = (s->n_pos + n + SEEK_KV_BLOCK - 1) / SEEK_KV_BLOCK;
    int32_t have = (s->n_pos + SEEK_KV_BLOCK - 1) / SEEK_KV_BLOCK;
    if (need - have > kv->n_free)
        return seek_errorf(SEEK_ERR_FULL, "kv cache is full (%d positions in use of %d)",
                           (kv->n_blocks - kv->n_free) * SEEK_KV_BLOCK, kv->n_blocks * SEEK_KV_BLOCK);
    if (need > s->cap) {
        int32_t cap = need > 2 * s->cap ? need : 2 * s->cap;
        int32_t *b = realloc(s->blocks, (size_t)cap * sizeof(int32_t));
        if (!b) return seek_errorf(SEEK_ERR_NOMEM, "kv cache: out of memory");
        s->blocks = b;
        s->cap = cap;
    }
    for (int32_t i = have; i < need; i++) {
        int32_t blk = kv->free_list[--kv->n_free];
        kv->ref[blk] = 1;
        s->blocks[i] = blk;
    }
    s->n_pos += n;
    return SEEK_OK;
}

void seek_kv_share(seek_kv_cache *kv, int32_t dst, int32_t src, int32_t n_blocks) {
    seek_kv_seq *d = &kv->seqs[dst], *s = &kv->seqs[src];
    seek_kv_truncate(kv, dst, 0);
    if (n_blocks > s->n_pos / SEEK_KV_BLOCK) n_blocks = s->n_pos / SEEK_KV_BLOCK;
    if (n_blocks <= 0) return;
    if (n_blocks > d->cap) {
        int32_t *b = realloc(d->blocks, (size_t)n_blocks * sizeof(int32_t));
        if (!b) return; /* nothing shared: the caller recomputes the prefix */
        d->blocks = b;
        d->cap = n_blocks;
    }
    for (int32_t i = 0; i < n_blocks; i++) {
        d->blocks[i] = s->blocks[i];
        kv->ref[s->blocks[i]]++;
    }
    d->n_pos = n_blocks * SEEK_KV_BLOCK;
}

void seek_kv_truncate(seek_kv_cache *kv, int32_t seq, int32_t n_keep) {
    seek_kv_seq *s = &kv->seqs[seq];
    if (n_keep < 0) n_keep = 0;
    if (n_keep >= s->n_pos) return;
    int32_t have = (s->n_pos + SEEK_KV_BLOCK - 1) / SEEK_KV_BLOCK;
    int32_t keep = (n_keep + SEEK_KV_BLOCK - 1) / SEEK_KV_BLOCK;
    for (int32_t i = keep; i < have; i++) {
        int32_t blk = s->blocks[i];
        if (--kv->ref[blk] == 0) kv->free_list[kv->n_free++] = blk;
    }
    s->n_pos = n_keep;
    /* the sequence will write the rest of a partly kept last block: if another sequence shares
     * it, the sequence gets its own copy first (or, with no free block, keeps whole blocks only) */
    const int32_t last = keep - 1;
    if (n_keep % SEEK_KV_BLOCK == 0 || kv->ref[s->blocks[last]] == 1) return;
    if (kv->n_free == 0) {
        kv->ref[s->blocks[last]]--;
        s->n_pos = last * SEEK_KV_BLOCK;
        return;
    }
    const int32_t old = s->blocks[last], blk = kv->free_list[--kv->n_free];
    for (int64_t l = 0; l < kv->n_layer; l++) {
        const size_t at = (size_t)(l * kv->n_blocks) * SEEK_KV_BLOCK, per = SEEK_KV_BLOCK;
        const size_t kr = (size_t)kv->k_row * kv->k_esz, vr = (size_t)kv->v_row * kv->v_esz;
        memcpy(kv->k + (at + (size_t)blk * per) * kr, kv->k + (at + (size_t)old * per) * kr, per * kr);
        if (kv->v) memcpy(kv->v + (at + (size_t)blk * per) * vr, kv->v + (at + (size_t)old * per) * vr, per * vr);
    }
    kv->ref[old]--;
    kv->ref[blk] = 1;
    s->blocks[last] = blk;
}
