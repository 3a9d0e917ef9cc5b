/* GGUF writer (see gguf_write.h): metadata is encoded as it is added; tensors are a list of
 * (name, shape, held type, written type, data) written after the header at aligned offsets. */
#include "format/gguf_write.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "core/threadpool.h"
#include "kernels/quant.h"

#define GW_ALIGN 32

typedef struct {
    char name[65];
    int n_dims;
    int64_t ne[4];
    seek_dtype type;     /* held */
    seek_dtype out_type; /* written */
    const void *data;
    bool owned;
} gw_tensor;

struct seek_gguf_writer {
    uint8_t *kv;  /* encoded metadata entries */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    gw_tensor *t;
    size_t n_t, cap_t;
    bool oom;
    int n_threads; /* for requantizing rows in seek_gw_write */
};

seek_gguf_writer *seek_gw_new(void) { return calloc(1, sizeof(seek_gguf_writer)); }

void seek_gw_free(seek_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].owned) free((void *)w->t[i].data);
    free(w->t);
    free(w->kv);
    free(w);
}

static void put(seek_gguf_writer *w, const void *p, size_t n) {
    if (w->oom) return;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *b = realloc(w->kv, cap);
        if (!b) {
            w->oom = true;
            return;
        }
        w->kv = b;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}

static void put_u32(seek_gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(seek_gguf_writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(seek_gguf_writer *w, const char *s, size_t n) {
    put_u64(w, n);
    put(w, s, n);
}

static void head(seek_gguf_writer *w, const char *key, gguf_type t) {
    put_str(w, key, strlen(key));
    put_u32(w, (uint32_t)t);
    w->n_kv++;
}

void seek_gw_u32(seek_gguf_writer *w, const char *key, uint32_t v) { head(w, key, GGUF_TYPE_UINT32), put_u32(w, v); }
void seek_gw_i32(seek_gguf_writer *w, const char *key, int32_t v) { head(w, key, GGUF_TYPE_INT32), put(w, &v, 4); }
void seek_gw_u64(seek_gguf_writer *w, const char *key, uint64_t v) { head(w, key, GGUF_TYPE_UINT64), put_u64(w, v); }
void seek_gw_f32(seek_gguf_writer *w, const char *key, float v) { head(w, key, GGUF_TYPE_FLOAT32), put(w, &v, 4); }
void seek_gw_bool(seek_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v;
    head(w, key, GGUF_TYPE_BOOL), put(w, &b, 1);
}
void seek_gw_str_n(seek_gguf_writer *w, const char *key, const char *s, size_t len) {
    head(w, key, GGUF_TYPE_STRING), put_str(w, s, len);
}
void seek_gw_str(seek_gguf_writer *w, const char *key, const char *s) { seek_gw_str_n(w, key, s, strlen(s)); }

static void arr_head(seek_gguf_writer *w, const char *key, gguf_type elem, size_t n) {
    head(w, key, GGUF_TYPE_ARRAY);
    put_u32(w, (uint32_t)elem);
    put_u64(w, n);
}
void seek_gw_arr_str(seek_gguf_writer *w, const char *key, const char *const *s, size_t n) {
    arr_head(w, key, GGUF_TYPE_STRING, n);
    for (size_t i = 0; i < n; i++) put_str(w, s[i], strlen(s[i]));
}
void seek_gw_arr_i32(seek_gguf_writer *w, const char *key, const int32_t *v, size_t n) {
    arr_head(w, key, GGUF_TYPE_INT32, n);
    put(w, v, n * 4);
}
void seek_gw_arr_f32(seek_gguf_writer *w, const char *key, const float *v, size_t n) {
    arr_head(w, key, GGUF_TYPE_FLOAT32, n);
    put(w, v, n * 4);
}

/* byte size of a fixed-size GGUF scalar type (0 for string / array) */
static size_t scalar_size(gguf_type t) {
    static const uint8_t sz[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < GGUF_TYPE_COUNT ? sz[t] : 0;
}

seek_status seek_gw_copy(seek_gguf_writer *w, const gguf_kv *kv) {
    char key[256];
    if (kv->key.len >= sizeof key) return seek_errorf(SEEK_ERR_INVALID, "gguf: key too long to copy");
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = 0;
    if (kv->type == GGUF_TYPE_STRING) {
        seek_gw_str_n(w, key, kv->v.s.ptr, kv->v.s.len);
    } else if (kv->type == GGUF_TYPE_ARRAY) {
        if (kv->arr_type == GGUF_TYPE_STRING) {
            arr_head(w, key, GGUF_TYPE_STRING, kv->arr_n);
            for (uint64_t i = 0; i < kv->arr_n; i++) put_str(w, kv->arr_strs[i].ptr, kv->arr_strs[i].len);
        } else if (scalar_size(kv->arr_type)) {
            arr_head(w, key, kv->arr_type, kv->arr_n);
            put(w, kv->arr_data, kv->arr_n * scalar_size(kv->arr_type));
        } else {
            return seek_errorf(SEEK_ERR_UNSUPPORTED, "gguf: cannot copy nested array '%s'", key);
        }
    } else {
        /* scalars: re-encode the decoded value in the same type (little-endian hosts) */
        uint8_t b[8];
        if (kv->type == GGUF_TYPE_FLOAT32) {
            float f = (float)kv->v.f;
            memcpy(b, &f, 4);
        } else if (kv->type == GGUF_TYPE_FLOAT64) {
            memcpy(b, &kv->v.f, 8);
        } else {
            memcpy(b, &kv->v.u, 8);
        }
        head(w, key, kv->type);
        put(w, b, scalar_size(kv->type));
    }
    return w->oom ? seek_errorf(SEEK_ERR_NOMEM, "gguf: out of memory") : SEEK_OK;
}

seek_status seek_gw_tensor(seek_gguf_writer *w, const char *name, seek_dtype type, int n_dims, const int64_t *ne,
                           const void *data, bool owned) {
    if (strlen(name) > 64) return seek_errorf(SEEK_ERR_INVALID, "gguf: tensor name '%s' is longer than 64 bytes", name);
    if (n_dims < 1 || n_dims > 4) return seek_errorf(SEEK_ERR_INVALID, "gguf: tensor '%s' has %d dims", name, n_dims);
    if (ne[0] % seek_dtype_block_size(type) != 0)
        return seek_errorf(SEEK_ERR_INVALID, "gguf: tensor '%s' rows of %lld do not fit %s blocks", name,
                           (long long)ne[0], seek_dtype_name(type));
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        gw_tensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return seek_errorf(SEEK_ERR_NOMEM, "gguf: out of memory");
        w->t = t;
        w->cap_t = cap;
    }
    gw_tensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->type = t->out_type = type;
    t->data = data;
    t->owned = owned;
    return SEEK_OK;
}

size_t seek_gw_n_tensors(const seek_gguf_writer *w) { return w->n_t; }
const char *seek_gw_tensor_name(const seek_gguf_writer *w, size_t i) { return w->t[i].name; }
seek_dtype seek_gw_tensor_type(const seek_gguf_writer *w, size_t i, int64_t ne[4]) {
    if (ne) memcpy(ne, w->t[i].ne, sizeof w->t[i].ne);
    return w->t[i].type;
}

void seek_gw_set_data(seek_gguf_writer *w, size_t i, seek_dtype type, const void *data, bool owned) {
    gw_tensor *t = &w->t[i];
    if (t->owned) free((void *)t->data);
    t->type = t->out_type = type;
    t->data = data;
    t->owned = owned;
}

seek_status seek_gw_retype(seek_gguf_writer *w, size_t i, seek_dtype type) {
    gw_tensor *t = &w->t[i];
    if (type == t->type) {
        t->out_type = type;
        return SEEK_OK;
    }
    const seek_type_kernels *k = seek_kernels_for(type, SEEK_ISA_SCALAR), *src = seek_kernels_for(t->type, SEEK_ISA_SCALAR);
    if (!src)
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "gguf: tensor '%s' is %s, which seek cannot convert to another type", t->name,
                           seek_dtype_name(t->type));
    if (!seek_dtype_known(type) || t->ne[0] % seek_dtype_block_size(type) != 0 || !k || !k->from_float)
        return seek_errorf(SEEK_ERR_INVALID, "gguf: tensor '%s' cannot be written as %s", t->name, seek_dtype_name(type));
    t->out_type = type;
    return SEEK_OK;
}

seek_dtype seek_gw_tensor_out_type(const seek_gguf_writer *w, size_t i) { return w->t[i].out_type; }

static uint64_t n_rows(const gw_tensor *t) { return (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]); }
static uint64_t out_bytes(const gw_tensor *t) { return n_rows(t) * seek_dtype_row_bytes(t->out_type, t->ne[0]); }

uint64_t seek_gw_tensor_bytes(const seek_gguf_writer *w, size_t i, bool written) {
    const gw_tensor *t = &w->t[i];
    return n_rows(t) * seek_dtype_row_bytes(written ? t->out_type : t->type, t->ne[0]);
}

void seek_gw_set_threads(seek_gguf_writer *w, int n_threads) { w->n_threads = n_threads; }

static uint64_t pad(uint64_t x) { return (GW_ALIGN - x % GW_ALIGN) % GW_ALIGN; }

/* The header: magic, version, counts, metadata, tensor infos, padding to the data section. */
static seek_status header(const seek_gguf_writer *w, uint8_t **out, size_t *len) {
    seek_gguf_writer h = {0};
    put(&h, "GGUF", 4);
    put_u32(&h, 3);
    put_u64(&h, w->n_t);
    put_u64(&h, w->n_kv);
    put(&h, w->kv, w->kv_len);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const gw_tensor *t = &w->t[i];
        put_str(&h, t->name, strlen(t->name));
        put_u32(&h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&h, (uint64_t)t->ne[d]);
        put_u32(&h, (uint32_t)t->out_type);
        put_u64(&h, off);
        off += out_bytes(t);
        off += pad(off);
    }
    static const uint8_t zeros[GW_ALIGN];
    put(&h, zeros, pad(h.kv_len));
    if (h.oom || w->oom) {
        free(h.kv);
        return seek_errorf(SEEK_ERR_NOMEM, "gguf: out of memory");
    }
    *out = h.kv;
    *len = h.kv_len;
    return SEEK_OK;
}

/* Requantizes rows [r0, r0 + n) of a tensor into a slab, split over the pool's threads. */
typedef struct {
    const gw_tensor *t;
    const seek_type_kernels *src, *dst;
    size_t in_row, row;
    uint64_t r0, n;
    uint8_t *out;
    atomic_bool oom;
} gw_slab;

static void slab_rows(const seek_exec *ex, void *arg) {
    gw_slab *s = arg;
    int64_t lo, hi;
    seek_split((int64_t)s->n, ex->ith, ex->nth, &lo, &hi);
    if (lo >= hi) return;
    float *tmp = malloc((size_t)s->t->ne[0] * sizeof(float));
    if (!tmp) {
        atomic_store(&s->oom, true);
        return;
    }
    for (int64_t r = lo; r < hi; r++) {
        s->src->to_float((const char *)s->t->data + (s->r0 + (uint64_t)r) * s->in_row, tmp, s->t->ne[0]);
        s->dst->from_float(tmp, s->out + (size_t)r * s->row, s->t->ne[0]);
    }
    free(tmp);
}

/* Writes tensor t's data as its written type: bytes as held, or row by row through fp32, in
 * slabs of at most ~16 MiB of output. */
static bool write_tensor(FILE *f, const gw_tensor *t, seek_pool *pool) {
    if (t->out_type == t->type) return fwrite(t->data, 1, out_bytes(t), f) == out_bytes(t);
    gw_slab s = {.t = t, .src = seek_kernels_for(t->type, SEEK_ISA_SCALAR), .dst = seek_kernels_for(t->out_type, SEEK_ISA_SCALAR),
                 .in_row = seek_dtype_row_bytes(t->type, t->ne[0]), .row = seek_dtype_row_bytes(t->out_type, t->ne[0])};
    if (!s.src || !s.dst) return false; /* seek_gw_retype checked both */
    const uint64_t slab = s.row >= (16u << 20) ? 1 : (16u << 20) / s.row;
    s.out = malloc((size_t)(slab < n_rows(t) ? slab : n_rows(t)) * s.row);
    bool ok = s.out != NULL;
    for (s.r0 = 0; ok && s.r0 < n_rows(t); s.r0 += s.n) {
        s.n = n_rows(t) - s.r0 < slab ? n_rows(t) - s.r0 : slab;
        if (pool) seek_pool_run(pool, slab_rows, &s);
        else slab_rows(&(seek_exec){0, 1, NULL}, &s);
        ok = !atomic_load(&s.oom) && fwrite(s.out, 1, (size_t)s.n * s.row, f) == (size_t)s.n * s.row;
    }
    free(s.out);
    return ok;
}

seek_status seek_gw_write(seek_gguf_writer *w, const char *path, seek_gw_progress progress, void *arg) {
    uint8_t *h;
    size_t hl;
    seek_status st = header(w, &h, &hl);
    if (st) return st;
    size_t pl = strlen(path) + 5;
    char *tmp = malloc(pl);
    if (!tmp) {
        free(h);
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, pl, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = seek_errorf(SEEK_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        free(h);
        free(tmp);
        return st;
    }
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < w->n_t; i++) total += out_bytes(&w->t[i]);
    seek_pool *pool = NULL;
    if (w->n_threads > 1 && seek_pool_init(&pool, w->n_threads) != SEEK_OK) pool = NULL; /* one thread then */
    static const uint8_t zeros[GW_ALIGN];
    bool ok = fwrite(h, 1, hl, f) == hl;
    for (size_t i = 0; ok && i < w->n_t; i++) {
        const uint64_t n = out_bytes(&w->t[i]);
        ok = write_tensor(f, &w->t[i], pool) && fwrite(zeros, 1, pad(n), f) == pad(n);
        done += n;
        if (progress) progress(arg, done, total);
    }
    seek_pool_free(pool);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) st = seek_errorf(SEEK_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    else if (rename(tmp, path) != 0) st = seek_errorf(SEEK_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (st) unlink(tmp);
    free(h);
    free(tmp);
    return st;
}

seek_status seek_gw_view(const seek_gguf_writer *w, seek_gguf **out) {
    *out = NULL;
    uint8_t *h;
    size_t hl;
    seek_status st = header(w, &h, &hl);
    if (st) return st;
    if ((st = seek_gguf_parse_header(out, h, hl))) {
        free(h);
        return st;
    }
    (*out)->release = free;
    (*out)->release_arg = h;
    return SEEK_OK;
}

typedef struct {
    uint8_t *header;
    seek_gguf_writer *w;
} gw_owned;

static void release_owned(void *arg) {
    gw_owned *o = arg;
    free(o->header);
    seek_gw_free(o->w);
    free(o);
}

seek_status seek_gguf_from_writer(seek_gguf **out, seek_gguf_writer *w) {
    *out = NULL;
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].out_type != w->t[i].type) {
            seek_gw_free(w);
            return seek_errorf(SEEK_ERR_INVALID, "gguf: in-memory tensors cannot change type");
        }
    uint8_t *h;
    size_t hl;
    gw_owned *o = malloc(sizeof *o);
    seek_status st = o ? header(w, &h, &hl) : seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    if (st) {
        free(o);
        seek_gw_free(w);
        return st;
    }
    o->header = h;
    o->w = w;
    seek_gguf *g;
    if ((st = seek_gguf_parse_header(&g, h, hl))) {
        release_owned(o);
        return st;
    }
    g->release = release_owned;
    g->release_arg = o;
    for (uint64_t i = 0; i < g->n_tensors; i++) g->tensors[i].data = w->t[i].data;
    *out = g;
    return SEEK_OK;
}
