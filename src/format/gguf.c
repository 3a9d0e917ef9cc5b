/* GGUF reader: parses the header, metadata and tensor infos of an untrusted file and checks
 * every count, length, offset and size against the bytes that are really there. */
#include "format/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "core/status.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_MAX_DEPTH 4       /* nested arrays deeper than this are refused */
#define GGUF_MAX_KEY 65535

typedef struct { const uint8_t *p, *end, *base; } cursor;

static bool cur_read(cursor *c, void *dst, size_t n) {
    if ((size_t)(c->end - c->p) < n) return false;
    memcpy(dst, c->p, n);
    c->p += n;
    return true;
}

static bool cur_u32(cursor *c, uint32_t *v) { return cur_read(c, v, 4); }
static bool cur_u64(cursor *c, uint64_t *v) { return cur_read(c, v, 8); }

static bool cur_str(cursor *c, gguf_str *s) {
    uint64_t len;
    if (!cur_u64(c, &len)) return false;
    if ((uint64_t)(c->end - c->p) < len) return false;
    s->ptr = (const char *)c->p;
    s->len = len;
    c->p += len;
    return true;
}

static size_t type_size(gguf_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

const char *gguf_type_name(gguf_type t) {
    static const char *names[GGUF_TYPE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                 "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < GGUF_TYPE_COUNT ? names[t] : "invalid";
}

bool gguf_str_eq(gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

char *gguf_str_copy(gguf_str s, char *buf, size_t n) {
    size_t k = s.len < n - 1 ? (size_t)s.len : n - 1;
    memcpy(buf, s.ptr, k);
    buf[k] = 0;
    return buf;
}

/* Reads one scalar of type t at p into kv's union. */
static void scalar_load(gguf_kv *kv, gguf_type t, const uint8_t *p) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: kv->v.u = p[0]; break;
    case GGUF_TYPE_INT8: kv->v.i = (int8_t)p[0]; break;
    case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, p, 2); kv->v.u = x; break; }
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, p, 2); kv->v.i = x; break; }
    case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, p, 4); kv->v.u = x; break; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, p, 4); kv->v.i = x; break; }
    case GGUF_TYPE_FLOAT32: { float x; memcpy(&x, p, 4); kv->v.f = x; break; }
    case GGUF_TYPE_UINT64: memcpy(&kv->v.u, p, 8); break;
    case GGUF_TYPE_INT64: memcpy(&kv->v.i, p, 8); break;
    case GGUF_TYPE_FLOAT64: memcpy(&kv->v.f, p, 8); break;
    default: break;
    }
}

/* Skips (validating) an array's elements; used for nested arrays whose contents we don't keep. */
static bool skip_array(cursor *c, int depth) {
    uint32_t et;
    uint64_t n;
    if (depth > GGUF_MAX_DEPTH || !cur_u32(c, &et) || !cur_u64(c, &n)) return false;
    if (et == GGUF_TYPE_STRING) {
        for (uint64_t i = 0; i < n; i++) {
            gguf_str s;
            if (!cur_str(c, &s)) return false;
        }
        return true;
    }
    if (et == GGUF_TYPE_ARRAY) {
        for (uint64_t i = 0; i < n; i++)
            if (!skip_array(c, depth + 1)) return false;
        return true;
    }
    size_t es = type_size((gguf_type)et);
    if (es == 0 || n > (uint64_t)(c->end - c->p) / es) return false;
    c->p += n * es;
    return true;
}

static seek_status read_kv(cursor *c, gguf_kv *kv, uint64_t index) {
    uint32_t t;
    if (!cur_str(c, &kv->key))
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata key %llu runs past the end of the file",
                           (unsigned long long)index);
    char key[96];
    gguf_str_copy(kv->key, key, sizeof key);
    if (kv->key.len == 0 || kv->key.len > GGUF_MAX_KEY)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata key %llu has a bad length %llu",
                           (unsigned long long)index, (unsigned long long)kv->key.len);
    if (!cur_u32(c, &t) || t >= GGUF_TYPE_COUNT)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s' has an invalid value type", key);
    kv->type = (gguf_type)t;
    if (t == GGUF_TYPE_STRING) {
        if (!cur_str(c, &kv->v.s))
            return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s': string runs past the end", key);
        return SEEK_OK;
    }
    if (t != GGUF_TYPE_ARRAY) {
        size_t es = type_size(kv->type);
        if ((size_t)(c->end - c->p) < es)
            return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s': value runs past the end", key);
        scalar_load(kv, kv->type, c->p);
        c->p += es;
        return SEEK_OK;
    }
    uint32_t et;
    if (!cur_u32(c, &et) || et >= GGUF_TYPE_COUNT || !cur_u64(c, &kv->arr_n))
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s': bad array header", key);
    kv->arr_type = (gguf_type)et;
    kv->arr_data = c->p;
    if (et == GGUF_TYPE_STRING) {
        /* each string takes at least its 8-byte length: bounds the allocation by the file size */
        if (kv->arr_n > (uint64_t)(c->end - c->p) / 8)
            return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s': %llu strings cannot fit in the file",
                               key, (unsigned long long)kv->arr_n);
        kv->arr_strs = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof(gguf_str));
        if (!kv->arr_strs) return seek_errorf(SEEK_ERR_NOMEM, "gguf: out of memory reading '%s'", key);
        for (uint64_t i = 0; i < kv->arr_n; i++)
            if (!cur_str(c, &kv->arr_strs[i]))
                return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s': string %llu runs past the end",
                                   key, (unsigned long long)i);
        return SEEK_OK;
    }
    if (et == GGUF_TYPE_ARRAY) {
        for (uint64_t i = 0; i < kv->arr_n; i++)
            if (!skip_array(c, 1))
                return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s': nested array %llu is malformed",
                                   key, (unsigned long long)i);
        return SEEK_OK;
    }
    size_t es = type_size(kv->arr_type);
    if (kv->arr_n > (uint64_t)(c->end - c->p) / es)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata '%s': array of %llu values runs past the end",
                           key, (unsigned long long)kv->arr_n);
    c->p += kv->arr_n * es;
    return SEEK_OK;
}

static seek_status read_tensor_info(cursor *c, gguf_tensor *t, uint64_t index) {
    gguf_str name;
    uint32_t type;
    if (!cur_str(c, &name))
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor info %llu runs past the end of the file",
                           (unsigned long long)index);
    if (name.len == 0 || name.len > 64)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor %llu has a name of %llu bytes (1..64 allowed)",
                           (unsigned long long)index, (unsigned long long)name.len);
    gguf_str_copy(name, t->name, sizeof t->name);
    if (!cur_u32(c, &t->n_dims) || t->n_dims == 0 || t->n_dims > 4)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor '%s' has a bad dimension count", t->name);
    int64_t n_elem = 1;
    for (uint32_t d = 0; d < 4; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && !cur_u64(c, &ne))
            return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor '%s': shape runs past the end", t->name);
        if (ne > (uint64_t)INT64_MAX || (ne && (uint64_t)n_elem > (uint64_t)INT64_MAX / ne))
            return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor '%s': shape overflows", t->name);
        t->ne[d] = (int64_t)ne;
        n_elem *= (int64_t)ne;
    }
    if (!cur_u32(c, &type) || !cur_u64(c, &t->offset))
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor '%s': type/offset run past the end", t->name);
    t->type = (seek_dtype)type;
    if (!seek_dtype_known(t->type))
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "gguf: tensor '%s' has unknown type %u", t->name, type);
    int64_t bs = seek_dtype_block_size(t->type);
    if (t->ne[0] % bs != 0)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor '%s': row length %lld is not a multiple of %s's block %lld",
                           t->name, (long long)t->ne[0], seek_dtype_name(t->type), (long long)bs);
    t->n_bytes = (uint64_t)(n_elem / bs) * seek_dtype_block_bytes(t->type);
    return SEEK_OK;
}

static seek_status parse(seek_gguf *g, bool header_only) {
    cursor c = {g->base, g->base + g->size, g->base};
    uint32_t magic;
    if (!cur_u32(&c, &magic))
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: file is too short (%zu bytes) for a header", g->size);
    if (magic != GGUF_MAGIC)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: bad magic 0x%08x (not a GGUF file)", magic);
    if (!cur_u32(&c, &g->version) || !cur_u64(&c, &g->n_tensors) || !cur_u64(&c, &g->n_kv))
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: header is truncated");
    if (g->version != 2 && g->version != 3)
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "gguf: version %u is not supported (2 or 3)", g->version);
    /* a kv takes at least 12 bytes (key length + type), a tensor info at least 8+1+4+8+4+8 */
    size_t rest = (size_t)(c.end - c.p);
    if (g->n_kv > rest / 12)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: metadata count %llu cannot fit in the file",
                           (unsigned long long)g->n_kv);
    if (g->n_tensors > rest / 33)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor count %llu cannot fit in the file",
                           (unsigned long long)g->n_tensors);
    g->kvs = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kvs);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kvs || !g->tensors) return seek_errorf(SEEK_ERR_NOMEM, "gguf: out of memory");
    for (uint64_t i = 0; i < g->n_kv; i++) {
        seek_status st = read_kv(&c, &g->kvs[i], i);
        if (st) {
            g->n_kv = i + 1; /* so close() frees what was allocated */
            return st;
        }
    }
    g->alignment = 32;
    const gguf_kv *al = seek_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != GGUF_TYPE_UINT32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) != 0)
            return seek_errorf(SEEK_ERR_FORMAT, "gguf: general.alignment must be a u32 power of two");
        g->alignment = al->v.u;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        seek_status st = read_tensor_info(&c, &g->tensors[i], i);
        if (st) return st;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->tensors[j].name, g->tensors[i].name) == 0)
                return seek_errorf(SEEK_ERR_FORMAT, "gguf: duplicate tensor name '%s'", g->tensors[i].name);
    }
    uint64_t pos = (uint64_t)(c.p - g->base);
    if (header_only) return SEEK_OK;
    g->data_offset = pos + (g->alignment - pos % g->alignment) % g->alignment;
    if (g->n_tensors && g->data_offset > g->size)
        return seek_errorf(SEEK_ERR_FORMAT, "gguf: data section starts past the end of the file");
    uint64_t data_size = g->size - (g->data_offset < g->size ? g->data_offset : g->size);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor '%s' offset %llu is not aligned to %llu", t->name,
                               (unsigned long long)t->offset, (unsigned long long)g->alignment);
        if (t->offset > data_size || t->n_bytes > data_size - t->offset)
            return seek_errorf(SEEK_ERR_FORMAT,
                               "gguf: tensor '%s' data (offset %llu, %llu bytes) runs past the end of the file",
                               t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes);
        t->data = g->base + g->data_offset + t->offset;
    }
    return SEEK_OK;
}

static seek_status parse_bytes(seek_gguf **out, const void *data, size_t size, bool header_only) {
    *out = NULL;
    seek_gguf *g = calloc(1, sizeof *g);
    if (!g) return seek_errorf(SEEK_ERR_NOMEM, "gguf: out of memory");
    g->base = data;
    g->size = size;
    seek_status st = parse(g, header_only);
    if (st) {
        seek_gguf_close(g);
        return st;
    }
    *out = g;
    return SEEK_OK;
}

seek_status seek_gguf_parse(seek_gguf **out, const void *data, size_t size) {
    return parse_bytes(out, data, size, false);
}

seek_status seek_gguf_parse_header(seek_gguf **out, const void *data, size_t size) {
    return parse_bytes(out, data, size, true);
}

seek_status seek_gguf_open(seek_gguf **out, const char *path) {
    *out = NULL;
    const void *p;
    size_t size;
    seek_status st = seek_map_file(path, &p, &size);
    if (st) return st;
    if (size == 0) return seek_errorf(SEEK_ERR_FORMAT, "'%s' is empty (not a GGUF file)", path);
    if ((st = seek_gguf_parse(out, p, size))) {
        seek_unmap_file(p, size);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", seek_last_error());
        return seek_errorf(st, "%s: %s", path, msg);
    }
    (*out)->mapped = true;
    return SEEK_OK;
}

void seek_gguf_close(seek_gguf *g) {
    if (!g) return;
    if (g->kvs)
        for (uint64_t i = 0; i < g->n_kv; i++) free(g->kvs[i].arr_strs);
    free(g->kvs);
    free(g->tensors);
    if (g->mapped) seek_unmap_file(g->base, g->size);
    if (g->release) g->release(g->release_arg);
    free(g);
}

const gguf_kv *seek_gguf_find(const seek_gguf *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (gguf_str_eq(g->kvs[i].key, key)) return &g->kvs[i];
    return NULL;
}

const gguf_tensor *seek_gguf_tensor(const seek_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

static bool is_unsigned(gguf_type t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64 ||
           t == GGUF_TYPE_BOOL;
}
static bool is_signed(gguf_type t) {
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

bool seek_gguf_get_u64(const seek_gguf *g, const char *key, uint64_t *out) {
    const gguf_kv *kv = seek_gguf_find(g, key);
    if (!kv) return false;
    if (is_unsigned(kv->type)) *out = kv->v.u;
    else if (is_signed(kv->type) && kv->v.i >= 0) *out = (uint64_t)kv->v.i;
    else return false;
    return true;
}

bool seek_gguf_get_u32(const seek_gguf *g, const char *key, uint32_t *out) {
    uint64_t v;
    if (!seek_gguf_get_u64(g, key, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool seek_gguf_get_f32(const seek_gguf *g, const char *key, float *out) {
    const gguf_kv *kv = seek_gguf_find(g, key);
    if (!kv) return false;
    if (kv->type == GGUF_TYPE_FLOAT32 || kv->type == GGUF_TYPE_FLOAT64) *out = (float)kv->v.f;
    else if (is_unsigned(kv->type)) *out = (float)kv->v.u;
    else if (is_signed(kv->type)) *out = (float)kv->v.i;
    else return false;
    return true;
}

bool seek_gguf_get_bool(const seek_gguf *g, const char *key, bool *out) {
    const gguf_kv *kv = seek_gguf_find(g, key);
    if (!kv || !(kv->type == GGUF_TYPE_BOOL || is_unsigned(kv->type) || is_signed(kv->type))) return false;
    *out = kv->v.u != 0;
    return true;
}

bool seek_gguf_get_str(const seek_gguf *g, const char *key, gguf_str *out) {
    const gguf_kv *kv = seek_gguf_find(g, key);
    if (!kv || kv->type != GGUF_TYPE_STRING) return false;
    *out = kv->v.s;
    return true;
}

const gguf_kv *seek_gguf_get_arr(const seek_gguf *g, const char *key, gguf_type elem_type) {
    const gguf_kv *kv = seek_gguf_find(g, key);
    if (!kv || kv->type != GGUF_TYPE_ARRAY || kv->arr_type != elem_type) return NULL;
    return kv;
}

double gguf_arr_f64(const gguf_kv *kv, uint64_t i) {
    gguf_kv tmp;
    scalar_load(&tmp, kv->arr_type, kv->arr_data + i * type_size(kv->arr_type));
    if (kv->arr_type == GGUF_TYPE_FLOAT32 || kv->arr_type == GGUF_TYPE_FLOAT64) return tmp.v.f;
    return is_signed(kv->arr_type) ? (double)tmp.v.i : (double)tmp.v.u;
}

int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i) {
    gguf_kv tmp;
    scalar_load(&tmp, kv->arr_type, kv->arr_data + i * type_size(kv->arr_type));
    if (kv->arr_type == GGUF_TYPE_FLOAT32 || kv->arr_type == GGUF_TYPE_FLOAT64)
        return tmp.v.f > -9.2e18 && tmp.v.f < 9.2e18 ? (int64_t)tmp.v.f : 0; /* NaN, inf, huge: 0 */
    return is_signed(kv->arr_type) ? tmp.v.i : (int64_t)tmp.v.u;
}
