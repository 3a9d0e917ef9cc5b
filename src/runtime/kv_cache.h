/* The paged KV cache (DESIGN decision 4): keys and values live in fixed-size blocks of
 * SEEK_KV_BLOCK positions; each sequence owns a block table mapping position p to block
 * table[p / SEEK_KV_BLOCK], slot p % SEEK_KV_BLOCK. Blocks are reference-counted so a later
 * prefix cache can share them; free blocks sit on a free list.
 * Storage: k is [n_layer][n_blocks][SEEK_KV_BLOCK][k_row] floats, v the same with v_row. MLA
 * (DeepSeek-V2/V3) stores one row per position, the normalised latent + the roped key, and reads
 * its values from the first floats of those rows: v_row = 0 and no v storage.
 * Not for deciding what to evict or share (the scheduler's job). */
#ifndef SEEK_RUNTIME_KV_CACHE_H
#define SEEK_RUNTIME_KV_CACHE_H

#include <stdint.h>

#include "seek.h"
#include "tensor/dtype.h"

#define SEEK_KV_BLOCK 32

typedef struct {
    int32_t *blocks;  /* block ids, n_pos / SEEK_KV_BLOCK rounded up of them in use */
    int32_t cap;      /* capacity of blocks[] */
    int32_t n_pos;    /* positions 0..n_pos-1 are filled */
} seek_kv_seq;

typedef struct {
    int64_t n_layer, k_row, v_row; /* values per position; v_row 0: values are read from k rows */
    int32_t n_blocks, n_seq;
    seek_dtype k_type, v_type;     /* F32 or F16 (what llama.cpp stores by default: half the memory) */
    size_t k_esz, v_esz;           /* bytes per value */
    uint8_t *k, *v;
    int32_t *ref;        /* (n_blocks) reference counts */
    int32_t *free_list;  /* (n_blocks) stack of free block ids */
    int32_t n_free;
    seek_kv_seq *seqs;   /* (n_seq) */
} seek_kv_cache;

/* Room for n_ctx positions in total (rounded up to whole blocks) shared by n_seq sequences,
 * keys stored as k_type and values as v_type (SEEK_TYPE_F32 or SEEK_TYPE_F16). */
seek_status seek_kv_init(seek_kv_cache *kv, int64_t n_layer, int64_t k_row, int64_t v_row, int64_t n_ctx, int32_t n_seq,
                         seek_dtype k_type, seek_dtype v_type);
void seek_kv_free(seek_kv_cache *kv);
size_t seek_kv_bytes(const seek_kv_cache *kv);

/* Makes room for positions [n_pos, n_pos + n) of seq (allocating blocks); SEEK_ERR_FULL when
 * the cache has no free block left. */
seek_status seek_kv_reserve(seek_kv_cache *kv, int32_t seq, int32_t n);
/* Makes empty sequence dst start with the first n_blocks whole blocks of src, shared (reference
 * counted, not copied): a common prompt prefix is stored once. dst writes its later positions
 * into blocks of its own, so shared blocks are never written again. */
void seek_kv_share(seek_kv_cache *kv, int32_t dst, int32_t src, int32_t n_blocks);
/* Forgets positions >= n_keep of seq, releasing blocks it no longer needs. A partly kept last
 * block that is shared is copied first; with no free block for the copy, only whole blocks are
 * kept (read the sequence's n_pos afterwards). */
void seek_kv_truncate(seek_kv_cache *kv, int32_t seq, int32_t n_keep);

/* The key / value row of (layer, seq, pos) (k_type / v_type values); pos must be reserved. */
static inline void *seek_kv_k(const seek_kv_cache *kv, int64_t layer, int32_t seq, int32_t pos) {
    int64_t blk = kv->seqs[seq].blocks[pos / SEEK_KV_BLOCK];
    return kv->k + (size_t)((layer * kv->n_blocks + blk) * SEEK_KV_BLOCK + pos % SEEK_KV_BLOCK) * (size_t)kv->k_row * kv->k_esz;
}
static inline void *seek_kv_v(const seek_kv_cache *kv, int64_t layer, int32_t seq, int32_t pos) {
    if (!kv->v) return seek_kv_k(kv, layer, seq, pos);
    int64_t blk = kv->seqs[seq].blocks[pos / SEEK_KV_BLOCK];
    return kv->v + (size_t)((layer * kv->n_blocks + blk) * SEEK_KV_BLOCK + pos % SEEK_KV_BLOCK) * (size_t)kv->v_row * kv->v_esz;
}
/* Values between the value rows of consecutive positions. */
static inline int64_t seek_kv_v_stride(const seek_kv_cache *kv) { return kv->v ? kv->v_row : kv->k_row; }

#endif
