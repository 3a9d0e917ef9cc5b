/* GGUF v2/v3 reader over bytes we do not trust (ggml docs/gguf.md). Layout:
 *   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv            (v1 used u32 counts: refused)
 *   n_kv x { string key | u32 type | value }     string = u64 len + bytes (no NUL)
 *     types: u8 0, i8 1, u16 2, i16 3, u32 4, i32 5, f32 6, bool 7, string 8,
 *            array 9 (= u32 elem_type, u64 count, elems; arrays may nest), u64 10, i64 11, f64 12
 *   n_tensors x { string name | u32 n_dims (<= 4) | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to general.alignment (default 32), then the data section; offsets are relative to it.
 * Every count, length and offset is checked against the file; errors name the field.
 * Not for writing GGUF files (gguf_write.c) or interpreting model hyper-parameters (model/). */
#ifndef SEEK_FORMAT_GGUF_H
#define SEEK_FORMAT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seek.h"
#include "tensor/dtype.h"

typedef enum {
    GGUF_TYPE_UINT8 = 0, GGUF_TYPE_INT8 = 1, GGUF_TYPE_UINT16 = 2, GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4, GGUF_TYPE_INT32 = 5, GGUF_TYPE_FLOAT32 = 6, GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9, GGUF_TYPE_UINT64 = 10, GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12, GGUF_TYPE_COUNT
} gguf_type;

/* A string inside the mapped file: not NUL-terminated. */
typedef struct { const char *ptr; uint64_t len; } gguf_str;

typedef struct {
    gguf_str key;
    gguf_type type;
    union {
        uint64_t u;  /* unsigned integers and bool */
        int64_t i;   /* signed integers */
        double f;    /* floats */
        gguf_str s;
    } v;
    /* arrays: element type, count, first element's bytes; strs is filled for string arrays */
    gguf_type arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;
    gguf_str *arr_strs;
} gguf_kv;

typedef struct {
    char name[65];        /* at most 64 bytes + NUL */
    uint32_t n_dims;
    int64_t ne[4];        /* ne[0] is the contiguous dimension; unused dims are 1 */
    seek_dtype type;
    uint64_t offset;      /* relative to the data section */
    uint64_t n_bytes;
    const void *data;     /* inside the mapping */
} gguf_tensor;

typedef struct seek_gguf {
    const uint8_t *base;   /* the whole file */
    size_t size;
    bool mapped;           /* base is an mmap we own */
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kvs;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;  /* file offset of the data section */
    /* in-memory files (gguf_write.c): called by seek_gguf_close to free what base points into */
    void (*release)(void *arg);
    void *release_arg;
} seek_gguf;

/* Maps `path` read-only and parses it. On failure *out is NULL and seek_last_error() says why. */
seek_status seek_gguf_open(seek_gguf **out, const char *path);
/* Parses bytes the caller keeps alive while *out lives (used by the fuzz target and tests). */
seek_status seek_gguf_parse(seek_gguf **out, const void *data, size_t size);
/* Parses a header with no data section: every tensor's data is left NULL for the caller to set
 * (seek_gguf_from_writer). */
seek_status seek_gguf_parse_header(seek_gguf **out, const void *data, size_t size);
void seek_gguf_close(seek_gguf *g);

const gguf_kv *seek_gguf_find(const seek_gguf *g, const char *key);
const gguf_tensor *seek_gguf_tensor(const seek_gguf *g, const char *name);

/* Typed getters: return false when the key is missing; SEEK_ERR_FORMAT via *st (if given) when
 * it is present with a type that cannot hold the request (e.g. negative into unsigned). */
bool seek_gguf_get_u64(const seek_gguf *g, const char *key, uint64_t *out);
bool seek_gguf_get_u32(const seek_gguf *g, const char *key, uint32_t *out);
bool seek_gguf_get_f32(const seek_gguf *g, const char *key, float *out);
bool seek_gguf_get_bool(const seek_gguf *g, const char *key, bool *out);
bool seek_gguf_get_str(const seek_gguf *g, const char *key, gguf_str *out);
/* Array of the given element type (any integer type for GGUF_TYPE_INT32 requests is refused:
 * the caller reads arr_type). Returns NULL when missing or of another type. */
const gguf_kv *seek_gguf_get_arr(const seek_gguf *g, const char *key, gguf_type elem_type);

bool gguf_str_eq(gguf_str s, const char *c);
/* Copies s into buf as a NUL-terminated string (truncating), returns buf. */
char *gguf_str_copy(gguf_str s, char *buf, size_t n);
const char *gguf_type_name(gguf_type t);
/* Reads element i of an integer/float array as double / int64 (no bounds beyond arr_n). */
double gguf_arr_f64(const gguf_kv *kv, uint64_t i);
int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i);

#endif
