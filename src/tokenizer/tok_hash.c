/* The tokenizer's two hash maps (see tok_hash.h): linear probing, load factor <= 1/2, fixed at
 * init from the expected count and doubled when exceeded. FNV-1a for strings, a 64-bit mixer for
 * pairs. Not for deletion (the vocabulary never shrinks). */
#include "tokenizer/tok_hash.h"

#include <stdlib.h>
#include <string.h>

static size_t cap_for(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    return cap;
}

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

bool tok_strmap_init(tok_strmap *m, size_t n_expected) {
    memset(m, 0, sizeof *m);
    m->cap = cap_for(n_expected);
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->lens = calloc(m->cap, sizeof *m->lens);
    m->vals = calloc(m->cap, sizeof *m->vals);
    if (!m->keys || !m->lens || !m->vals) {
        tok_strmap_free(m);
        return false;
    }
    return true;
}

void tok_strmap_free(tok_strmap *m) {
    free(m->keys);
    free(m->lens);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t strmap_slot(const tok_strmap *m, const char *key, size_t len) {
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_bytes(key, len) & mask;
    while (m->keys[i] && !(m->lens[i] == len && memcmp(m->keys[i], key, len) == 0)) i = (i + 1) & mask;
    return i;
}

static bool strmap_grow(tok_strmap *m) {
    tok_strmap bigger;
    if (!tok_strmap_init(&bigger, m->cap)) return false; /* cap_for(cap) doubles it */
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = strmap_slot(&bigger, m->keys[i], m->lens[i]);
        bigger.keys[j] = m->keys[i];
        bigger.lens[j] = m->lens[i];
        bigger.vals[j] = m->vals[i];
        bigger.n++;
    }
    tok_strmap_free(m);
    *m = bigger;
    return true;
}

bool tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val) {
    if (len > UINT32_MAX) return false;
    if (2 * (m->n + 1) > m->cap && !strmap_grow(m)) return false;
    size_t i = strmap_slot(m, key, len);
    if (!m->keys[i]) {
        m->keys[i] = key;
        m->lens[i] = (uint32_t)len;
        m->n++;
    }
    m->vals[i] = val;
    return true;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    size_t i = strmap_slot(m, key, len);
    return m->keys[i] ? m->vals[i] : -1;
}

bool tok_pairmap_init(tok_pairmap *m, size_t n_expected) {
    memset(m, 0, sizeof *m);
    m->cap = cap_for(n_expected);
    m->keys = malloc(m->cap * sizeof *m->keys);
    m->ranks = malloc(m->cap * sizeof *m->ranks);
    m->ids = malloc(m->cap * sizeof *m->ids);
    if (!m->keys || !m->ranks || !m->ids) {
        tok_pairmap_free(m);
        return false;
    }
    memset(m->keys, 0xff, m->cap * sizeof *m->keys);
    return true;
}

void tok_pairmap_free(tok_pairmap *m) {
    free(m->keys);
    free(m->ranks);
    free(m->ids);
    memset(m, 0, sizeof *m);
}

static uint64_t pair_key(int32_t left, int32_t right) {
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

static size_t pairmap_slot(const tok_pairmap *m, uint64_t key) {
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_u64(key) & mask;
    while (m->keys[i] != UINT64_MAX && m->keys[i] != key) i = (i + 1) & mask;
    return i;
}

static bool pairmap_grow(tok_pairmap *m) {
    tok_pairmap bigger;
    if (!tok_pairmap_init(&bigger, m->cap)) return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == UINT64_MAX) continue;
        size_t j = pairmap_slot(&bigger, m->keys[i]);
        bigger.keys[j] = m->keys[i];
        bigger.ranks[j] = m->ranks[i];
        bigger.ids[j] = m->ids[i];
        bigger.n++;
    }
    tok_pairmap_free(m);
    *m = bigger;
    return true;
}

bool tok_pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t id) {
    if (2 * (m->n + 1) > m->cap && !pairmap_grow(m)) return false;
    uint64_t key = pair_key(left, right);
    size_t i = pairmap_slot(m, key);
    if (m->keys[i] == UINT64_MAX) {
        m->keys[i] = key;
        m->n++;
    }
    m->ranks[i] = rank;
    m->ids[i] = id;
    return true;
}

bool tok_pairmap_get(const tok_pairmap *m, int32_t left, int32_t right, int32_t *rank, int32_t *id) {
    if (!m->cap) return false;
    size_t i = pairmap_slot(m, pair_key(left, right));
    if (m->keys[i] == UINT64_MAX) return false;
    *rank = m->ranks[i];
    *id = m->ids[i];
    return true;
}
