/* safetensors reader over bytes we do not trust (huggingface/safetensors README). Layout:
 *   u64 N (little-endian) | N bytes of UTF-8 JSON, an object, maybe padded with trailing spaces |
 *   the byte buffer; JSON = {"__metadata__": {str: str} (optional),
 *                            NAME: {"dtype": "F16", "shape": [d0, d1, ..], "data_offsets": [BEGIN, END]}, ..}
 *   offsets are relative to the buffer, END is one past the last byte, END - BEGIN = prod(shape) *
 *   dtype size, row-major (shape[n_dims - 1] is contiguous), little-endian, and the tensors cover
 *   the buffer exactly with no overlap. N is at most 100,000,000.
 * A model folder is model.safetensors or the shards named by model.safetensors.index.json
 * ({"metadata": {..}, "weight_map": {tensor: file}}), read as one set (seek_st_set).
 * Every length, offset and size is checked against the file; errors name the file and the
 * tensor or field. Not for writing safetensors, nor for mapping HF tensor names (model/hf_load.c). */
#ifndef SEEK_FORMAT_SAFETENSORS_H
#define SEEK_FORMAT_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seek.h"

#define SEEK_ST_MAX_DIMS 8
#define SEEK_ST_MAX_HEADER 100000000u /* safetensors' MAX_HEADER_SIZE */
#define SEEK_ST_MAX_NAME 512          /* bytes in a tensor name */

typedef enum {
    SEEK_ST_F32, SEEK_ST_F16, SEEK_ST_BF16, SEEK_ST_F8_E4M3, SEEK_ST_F8_E5M2, SEEK_ST_F8_E8M0,
    SEEK_ST_F64, SEEK_ST_I8, SEEK_ST_U8, SEEK_ST_I16, SEEK_ST_U16, SEEK_ST_I32, SEEK_ST_U32,
    SEEK_ST_I64, SEEK_ST_U64, SEEK_ST_BOOL, SEEK_ST_DTYPE_COUNT
} seek_st_dtype;

typedef struct {
    const char *name;                  /* NUL-terminated, 1..SEEK_ST_MAX_NAME bytes of UTF-8 */
    seek_st_dtype dtype;
    int n_dims;                        /* 0 for a scalar */
    int64_t shape[SEEK_ST_MAX_DIMS];   /* (shape[0], .., shape[n_dims-1]), last is contiguous; unused are 1 */
    uint64_t begin, end;               /* byte range in the buffer; end - begin bytes */
    /* inside the file's bytes; aligned to the dtype only if the writer padded the header (since
     * safetensors 0.3 it pads to 8) and laid the tensors out in alignment order (it does) */
    const void *data;
} seek_st_tensor;

typedef struct { const char *key, *value; } seek_st_meta;

typedef struct seek_safetensors {
    const uint8_t *base;     /* the whole file */
    size_t size;
    bool mapped;             /* base is an mmap we own */
    uint64_t header_len;     /* N */
    const uint8_t *buffer;   /* base + 8 + N */
    uint64_t buffer_size;
    size_t n_tensors;
    seek_st_tensor *tensors; /* sorted by begin (file order) */
    size_t n_meta;
    seek_st_meta *meta;      /* __metadata__, in file order */
    const seek_st_tensor **by_name; /* the tensors sorted by name (seek_st_find) */
    char *strings;           /* names, keys and values */
} seek_safetensors;

/* Maps `path` read-only and parses it. On failure *out is NULL and seek_last_error() starts with
 * the path and says why. */
seek_status seek_st_open(seek_safetensors **out, const char *path);
/* Parses bytes the caller keeps alive while *out lives (used by the fuzz target and tests). */
seek_status seek_st_parse(seek_safetensors **out, const void *data, size_t size);
void seek_st_close(seek_safetensors *s);

/* The tensor called `name`, or NULL (O(log n)). */
const seek_st_tensor *seek_st_find(const seek_safetensors *s, const char *name);
/* The __metadata__ value of `key`, or NULL. */
const char *seek_st_meta_get(const seek_safetensors *s, const char *key);

size_t seek_st_dtype_size(seek_st_dtype t);      /* bytes per element; 0 for an invalid value */
const char *seek_st_dtype_name(seek_st_dtype t); /* the file's spelling: "BF16", "F8_E4M3", .. */
int64_t seek_st_n_elements(const seek_st_tensor *t); /* prod(shape): 1 for a scalar, 0 if a dim is 0 */

/* A model folder's weights: `dir`/model.safetensors if present (it wins, as in transformers),
 * else the shards named by `dir`/model.safetensors.index.json. Each shard is mapped once. Checked: every weight_map entry names a
 * plain file in `dir` (no '/', not "." or "..") that exists and holds that tensor, and no tensor
 * is in two shards. Tensors a shard holds beyond its weight_map entries are kept too. */
typedef struct seek_st_set seek_st_set;
seek_status seek_st_set_open(seek_st_set **out, const char *dir);
void seek_st_set_close(seek_st_set *s);

/* The tensor called `name` in any shard, or NULL; *file (if given) is its shard's file name. */
const seek_st_tensor *seek_st_set_find(const seek_st_set *s, const char *name, const char **file);
/* All tensors of all shards, in name order (bytewise): i in [0, seek_st_set_count(s)). */
size_t seek_st_set_count(const seek_st_set *s);
const seek_st_tensor *seek_st_set_at(const seek_st_set *s, size_t i);

#endif
