/* Open-addressing hash maps private to the tokenizer: byte strings -> token id (the vocabulary)
 * and (left id, right id) pairs -> (merge rank, merged id) (the BPE merge table).
 * Keys are borrowed, never copied: the tokenizer owns the strings. Not a general container. */
#ifndef SEEK_TOKENIZER_TOK_HASH_H
#define SEEK_TOKENIZER_TOK_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* String -> int32 map over strings that live elsewhere (pointer + length, no NUL needed). */
typedef struct {
    const char **keys;   /* (cap) NULL = empty slot */
    uint32_t *lens;      /* (cap) */
    int32_t *vals;       /* (cap) */
    size_t cap;          /* a power of two */
    size_t n;
} tok_strmap;

bool tok_strmap_init(tok_strmap *m, size_t n_expected);
void tok_strmap_free(tok_strmap *m);
/* Inserts or overwrites. Returns false when out of memory. */
bool tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val);
/* The value for key, or -1 when absent. */
int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len);

/* (left, right) token pair -> merge rank and result; used for byte-level BPE. */
typedef struct {
    uint64_t *keys;      /* (cap) UINT64_MAX = empty slot */
    int32_t *ranks;      /* (cap) */
    int32_t *ids;        /* (cap) */
    size_t cap;
    size_t n;
} tok_pairmap;

bool tok_pairmap_init(tok_pairmap *m, size_t n_expected);
void tok_pairmap_free(tok_pairmap *m);
bool tok_pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t id);
/* True and *rank, *id set when the pair merges. */
bool tok_pairmap_get(const tok_pairmap *m, int32_t left, int32_t right, int32_t *rank, int32_t *id);

#endif
