/* safetensors reader: parses the JSON header of an untrusted file with jansson and checks every
 * tensor's dtype, shape and byte range against the buffer that is really there (no overlap, no
 * gap); and the shard set of a model folder (model.safetensors.index.json). */
#include "format/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "core/status.h"

static const struct { const char *name; size_t size; } dtypes[SEEK_ST_DTYPE_COUNT] = {
    [SEEK_ST_F32] = {"F32", 4},         [SEEK_ST_F16] = {"F16", 2},         [SEEK_ST_BF16] = {"BF16", 2},
    [SEEK_ST_F8_E4M3] = {"F8_E4M3", 1}, [SEEK_ST_F8_E5M2] = {"F8_E5M2", 1}, [SEEK_ST_F8_E8M0] = {"F8_E8M0", 1},
    [SEEK_ST_F64] = {"F64", 8},         [SEEK_ST_I8] = {"I8", 1},           [SEEK_ST_U8] = {"U8", 1},
    [SEEK_ST_I16] = {"I16", 2},         [SEEK_ST_U16] = {"U16", 2},         [SEEK_ST_I32] = {"I32", 4},
    [SEEK_ST_U32] = {"U32", 4},         [SEEK_ST_I64] = {"I64", 8},         [SEEK_ST_U64] = {"U64", 8},
    [SEEK_ST_BOOL] = {"BOOL", 1},
};

size_t seek_st_dtype_size(seek_st_dtype t) { return (unsigned)t < SEEK_ST_DTYPE_COUNT ? dtypes[t].size : 0; }

const char *seek_st_dtype_name(seek_st_dtype t) {
    return (unsigned)t < SEEK_ST_DTYPE_COUNT ? dtypes[t].name : "invalid";
}

int64_t seek_st_n_elements(const seek_st_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->n_dims; d++)
        if (t->shape[d] == 0) return 0; /* before multiplying: [2^62, 2^62, 0] is empty */
    for (int d = 0; d < t->n_dims; d++) n *= t->shape[d];
    return n;
}

/* "[4, 2]" into buf (for messages). */
static const char *shape_str(const seek_st_tensor *t, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->n_dims && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* Bytes the shape needs: prod(shape) * dtype size; false on overflow. A zero dimension makes the
 * product 0 whatever the other dimensions are. */
static bool shape_bytes(const seek_st_tensor *t, uint64_t *out) {
    uint64_t n = seek_st_dtype_size(t->dtype);
    for (int d = 0; d < t->n_dims; d++)
        if (t->shape[d] == 0) n = 0;
    for (int d = 0; d < t->n_dims && n; d++)
        if (__builtin_mul_overflow(n, (uint64_t)t->shape[d], &n)) return false;
    *out = n;
    return true;
}

/* Appends s (with its NUL) to the string pool. */
static const char *pool_add(char **pool, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = memcpy(*pool, s, n);
    *pool += n;
    return p;
}

/* A JSON integer >= 0, or -1. */
static int64_t json_count(const json_t *v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    return (int64_t)json_integer_value(v);
}

static seek_status read_tensor(seek_safetensors *s, const json_t *v, seek_st_tensor *t) {
    const char *name = t->name;
    if (!json_is_object(v)) return seek_errorf(SEEK_ERR_FORMAT, "safetensors: tensor '%s': entry is not an object", name);
    const json_t *dt = json_object_get(v, "dtype");
    if (!json_is_string(dt))
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: tensor '%s': dtype is missing or not a string", name);
    t->dtype = SEEK_ST_DTYPE_COUNT;
    for (int k = 0; k < SEEK_ST_DTYPE_COUNT; k++)
        if (strcmp(json_string_value(dt), dtypes[k].name) == 0) t->dtype = (seek_st_dtype)k;
    if (t->dtype == SEEK_ST_DTYPE_COUNT)
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "safetensors: tensor '%s': unknown dtype '%.32s'", name,
                           json_string_value(dt));

    const json_t *sh = json_object_get(v, "shape");
    if (!json_is_array(sh))
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: tensor '%s': shape is missing or not an array", name);
    if (json_array_size(sh) > SEEK_ST_MAX_DIMS)
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "safetensors: tensor '%s': shape has %zu dimensions (at most %d)",
                           name, json_array_size(sh), SEEK_ST_MAX_DIMS);
    t->n_dims = (int)json_array_size(sh);
    for (int d = 0; d < SEEK_ST_MAX_DIMS; d++) {
        t->shape[d] = d < t->n_dims ? json_count(json_array_get(sh, (size_t)d)) : 1;
        if (t->shape[d] < 0)
            return seek_errorf(SEEK_ERR_FORMAT, "safetensors: tensor '%s': shape[%d] is not a non-negative integer",
                               name, d);
    }

    const json_t *off = json_object_get(v, "data_offsets");
    int64_t b = json_count(json_array_get(off, 0)), e = json_count(json_array_get(off, 1));
    if (!json_is_array(off) || json_array_size(off) != 2 || b < 0 || e < 0)
        return seek_errorf(SEEK_ERR_FORMAT,
                           "safetensors: tensor '%s': data_offsets is not [begin, end] of non-negative integers", name);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    if (t->begin > t->end)
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                           name, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > s->buffer_size)
        return seek_errorf(SEEK_ERR_FORMAT,
                           "safetensors: tensor '%s': data_offsets end %llu is past the end of the %llu-byte buffer",
                           name, (unsigned long long)t->end, (unsigned long long)s->buffer_size);
    char sb[256];
    uint64_t need;
    if (!shape_bytes(t, &need))
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: tensor '%s': shape %s of %s overflows", name,
                           shape_str(t, sb, sizeof sb), dtypes[t->dtype].name);
    if (need != t->end - t->begin)
        return seek_errorf(SEEK_ERR_FORMAT,
                           "safetensors: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s needs %llu",
                           name, (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)(t->end - t->begin), shape_str(t, sb, sizeof sb), dtypes[t->dtype].name,
                           (unsigned long long)need);
    t->data = s->buffer + t->begin;
    return SEEK_OK;
}

static int cmp_by_begin(const void *a, const void *b) {
    const seek_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sorted by begin, the tensors must follow one another with no overlap and no gap, from 0 to the
 * end of the buffer (empty tensors may share an offset). */
static seek_status check_coverage(const seek_safetensors *s) {
    uint64_t pos = 0;
    const seek_st_tensor *prev = NULL;
    for (size_t i = 0; i < s->n_tensors; i++) {
        const seek_st_tensor *t = &s->tensors[i];
        if (t->begin < pos)
            return seek_errorf(SEEK_ERR_FORMAT, "safetensors: data_offsets of '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap",
                               prev->name, (unsigned long long)prev->begin, (unsigned long long)prev->end, t->name,
                               (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->begin > pos)
            return seek_errorf(SEEK_ERR_FORMAT,
                               "safetensors: data_offsets leave bytes [%llu, %llu) of the buffer in no tensor (%s '%s')",
                               (unsigned long long)pos, (unsigned long long)t->begin, prev ? "after" : "before",
                               prev ? prev->name : t->name);
        pos = t->end;
        prev = t;
    }
    if (pos != s->buffer_size)
        return seek_errorf(SEEK_ERR_FORMAT,
                           "safetensors: data_offsets leave the last %llu bytes of the %llu-byte buffer in no tensor%s%s%s",
                           (unsigned long long)(s->buffer_size - pos), (unsigned long long)s->buffer_size,
                           prev ? " (after '" : "", prev ? prev->name : "", prev ? "')" : "");
    return SEEK_OK;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const seek_st_tensor *const *)a)->name, (*(const seek_st_tensor *const *)b)->name);
}

static seek_status read_header(seek_safetensors *s, const json_t *root) {
    const json_t *meta = json_object_get(root, "__metadata__");
    size_t pool = 0;
    const char *key;
    const json_t *v;
    if (meta) {
        if (!json_is_object(meta)) return seek_errorf(SEEK_ERR_FORMAT, "safetensors: __metadata__ is not an object");
        json_object_foreach((json_t *)meta, key, v) {
            if (!json_is_string(v))
                return seek_errorf(SEEK_ERR_FORMAT, "safetensors: __metadata__ '%.64s' is not a string", key);
            pool += strlen(key) + 1 + json_string_length(v) + 1;
        }
    }
    json_object_foreach((json_t *)root, key, v) {
        if (v == meta) continue;
        size_t n = strlen(key);
        if (n == 0) return seek_errorf(SEEK_ERR_FORMAT, "safetensors: a tensor has an empty name");
        if (n > SEEK_ST_MAX_NAME)
            return seek_errorf(SEEK_ERR_FORMAT, "safetensors: tensor name '%.64s...' is %zu bytes long (at most %d)",
                               key, n, SEEK_ST_MAX_NAME);
        pool += n + 1;
    }
    s->n_meta = meta ? json_object_size(meta) : 0;
    s->n_tensors = json_object_size(root) - (meta ? 1 : 0);
    s->meta = calloc(s->n_meta ? s->n_meta : 1, sizeof *s->meta);
    s->tensors = calloc(s->n_tensors ? s->n_tensors : 1, sizeof *s->tensors);
    s->by_name = calloc(s->n_tensors ? s->n_tensors : 1, sizeof *s->by_name);
    s->strings = malloc(pool ? pool : 1);
    if (!s->meta || !s->tensors || !s->by_name || !s->strings)
        return seek_errorf(SEEK_ERR_NOMEM, "safetensors: out of memory for %zu tensors", s->n_tensors);
    char *p = s->strings;
    size_t i = 0;
    if (meta)
        json_object_foreach((json_t *)meta, key, v) {
            s->meta[i].key = pool_add(&p, key);
            s->meta[i++].value = pool_add(&p, json_string_value(v));
        }
    i = 0;
    json_object_foreach((json_t *)root, key, v) {
        if (v == meta) continue;
        s->tensors[i].name = pool_add(&p, key);
        seek_status st = read_tensor(s, v, &s->tensors[i++]);
        if (st) return st;
    }
    qsort(s->tensors, s->n_tensors, sizeof *s->tensors, cmp_by_begin);
    seek_status st = check_coverage(s);
    if (st) return st;
    for (i = 0; i < s->n_tensors; i++) s->by_name[i] = &s->tensors[i];
    qsort(s->by_name, s->n_tensors, sizeof *s->by_name, cmp_by_name);
    return SEEK_OK;
}

static seek_status parse(seek_safetensors *s) {
    if (s->size < 8)
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: file is %zu bytes, too short for the 8-byte header length",
                           s->size);
    memcpy(&s->header_len, s->base, 8); /* little-endian, as every host we build for */
    if (s->header_len > SEEK_ST_MAX_HEADER)
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: header length %llu is over the limit of %u bytes",
                           (unsigned long long)s->header_len, SEEK_ST_MAX_HEADER);
    if (s->header_len > s->size - 8)
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: header length %llu runs past the end of the %zu-byte file",
                           (unsigned long long)s->header_len, s->size);
    if (s->header_len == 0 || s->base[8] != '{')
        return seek_errorf(SEEK_ERR_FORMAT, "safetensors: header does not start with '{' (not a JSON object)");
    s->buffer = s->base + 8 + s->header_len;
    s->buffer_size = s->size - 8 - s->header_len;
    json_error_t e;
    json_t *root = json_loadb((const char *)s->base + 8, s->header_len, JSON_REJECT_DUPLICATES, &e);
    if (!root) return seek_errorf(SEEK_ERR_FORMAT, "safetensors: header JSON, byte %d: %s", e.position, e.text);
    seek_status st = json_is_object(root) ? read_header(s, root)
                                          : seek_errorf(SEEK_ERR_FORMAT, "safetensors: header is not a JSON object");
    json_decref(root);
    return st;
}

seek_status seek_st_parse(seek_safetensors **out, const void *data, size_t size) {
    *out = NULL;
    seek_safetensors *s = calloc(1, sizeof *s);
    if (!s) return seek_errorf(SEEK_ERR_NOMEM, "safetensors: out of memory");
    s->base = data;
    s->size = size;
    seek_status st = parse(s);
    if (st) {
        seek_st_close(s);
        return st;
    }
    *out = s;
    return SEEK_OK;
}

seek_status seek_st_open(seek_safetensors **out, const char *path) {
    *out = NULL;
    const void *p;
    size_t size;
    seek_status st = seek_map_file(path, &p, &size);
    if (st) return st;
    if ((st = seek_st_parse(out, p ? p : "", size))) {
        seek_unmap_file(p, size);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", seek_last_error());
        return seek_errorf(st, "%s: %s", path, msg);
    }
    (*out)->mapped = p != NULL;
    return SEEK_OK;
}

void seek_st_close(seek_safetensors *s) {
    if (!s) return;
    free(s->tensors);
    free(s->meta);
    free(s->by_name);
    free(s->strings);
    if (s->mapped) seek_unmap_file(s->base, s->size);
    free(s);
}

const seek_st_tensor *seek_st_find(const seek_safetensors *s, const char *name) {
    size_t lo = 0, hi = s->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const seek_st_tensor *t = s->by_name[mid];
        int c = strcmp(t->name, name);
        if (c == 0) return t;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *seek_st_meta_get(const seek_safetensors *s, const char *key) {
    for (size_t i = 0; i < s->n_meta; i++)
        if (strcmp(s->meta[i].key, key) == 0) return s->meta[i].value;
    return NULL;
}

/* ---- a model folder: one file or the shards of an index ---- */

typedef struct {
    const seek_st_tensor *t;
    size_t file;
} set_entry;

struct seek_st_set {
    size_t n_files;
    char **files;                /* shard file names, relative to the folder */
    seek_safetensors **shards;   /* one per file */
    size_t n_entries;
    set_entry *entries;          /* every tensor of every shard, sorted by name */
};

void seek_st_set_close(seek_st_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_files; i++) {
        free(s->files[i]);
        seek_st_close(s->shards[i]);
    }
    free(s->files);
    free(s->shards);
    free(s->entries);
    free(s);
}

/* The index of `file` in s->files, adding it when new; -1 when out of memory. */
static ptrdiff_t set_file_index(seek_st_set *s, const char *file, size_t *cap) {
    for (size_t i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i], file) == 0) return (ptrdiff_t)i;
    if (s->n_files == *cap) {
        size_t n = *cap ? *cap * 2 : 8;
        char **f = realloc(s->files, n * sizeof *f);
        if (f) s->files = f;
        seek_safetensors **sh = realloc(s->shards, n * sizeof *sh);
        if (sh) s->shards = sh;
        if (!f || !sh) return -1;
        *cap = n;
    }
    s->shards[s->n_files] = NULL;
    s->files[s->n_files] = strdup(file);
    if (!s->files[s->n_files]) return -1;
    return (ptrdiff_t)s->n_files++;
}

/* A shard name must be a plain file in the folder: no directories, no "." or "..". */
static bool shard_name_ok(const char *file) {
    return file[0] && !strchr(file, '/') && strcmp(file, ".") != 0 && strcmp(file, "..") != 0;
}

static seek_status join(char *buf, size_t n, const char *dir, const char *file) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, file) >= n)
        return seek_errorf(SEEK_ERR_INVALID, "%s: path too long", dir);
    return SEEK_OK;
}

/* Reads the index, opens each shard it names once and checks each entry is in its shard. */
static seek_status set_read_index(seek_st_set *s, const char *dir, const char *index) {
    json_error_t e;
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &e);
    if (!root) return seek_errorf(SEEK_ERR_FORMAT, "%s: line %d, column %d: %s", index, e.line, e.column, e.text);
    seek_status st = SEEK_OK;
    const json_t *wm = json_object_get(root, "weight_map");
    const char *name;
    json_t *v;
    size_t cap = 0;
    if (!json_is_object(root)) st = seek_errorf(SEEK_ERR_FORMAT, "%s: not a JSON object", index);
    else if (!json_is_object(wm)) st = seek_errorf(SEEK_ERR_FORMAT, "%s: weight_map is missing or not an object", index);
    else if (json_object_size(wm) == 0) st = seek_errorf(SEEK_ERR_FORMAT, "%s: weight_map names no tensors", index);
    /* 1. the shards */
    if (!st)
        json_object_foreach((json_t *)wm, name, v) {
            if (!json_is_string(v)) {
                st = seek_errorf(SEEK_ERR_FORMAT, "%s: weight_map: tensor '%s' maps to %s, not a file name", index, name,
                                 json_is_object(v) ? "an object" : json_is_array(v) ? "an array" : "a non-string");
                break;
            }
            const char *file = json_string_value(v);
            if (!shard_name_ok(file)) {
                st = seek_errorf(SEEK_ERR_FORMAT, "%s: weight_map: tensor '%s' names shard '%s' outside the folder (refused)",
                                 index, name, file);
                break;
            }
            if (set_file_index(s, file, &cap) < 0) {
                st = seek_errorf(SEEK_ERR_NOMEM, "%s: out of memory", index);
                break;
            }
        }
    /* 2. open each once; a missing one is reported with the first tensor that names it */
    for (size_t i = 0; !st && i < s->n_files; i++) {
        char path[4096];
        struct stat sb;
        st = join(path, sizeof path, dir, s->files[i]);
        if (!st && stat(path, &sb) != 0) {
            int err = errno;
            json_object_foreach((json_t *)wm, name, v)
                if (strcmp(json_string_value(v), s->files[i]) == 0) break;
            st = seek_errorf(SEEK_ERR_IO, "%s: weight_map: tensor '%s' is in shard '%s', which cannot be opened: %s (%s)",
                             index, name, s->files[i], strerror(err), path);
        }
        if (!st) st = seek_st_open(&s->shards[i], path);
    }
    /* 3. each entry is in the shard it names */
    if (!st)
        json_object_foreach((json_t *)wm, name, v) {
            ptrdiff_t k = set_file_index(s, json_string_value(v), &cap); /* found: step 1 added it */
            if (!seek_st_find(s->shards[k], name)) {
                st = seek_errorf(SEEK_ERR_FORMAT, "%s: weight_map: tensor '%s' is not in its shard '%s'", index, name,
                                 s->files[k]);
                break;
            }
        }
    json_decref(root);
    return st;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const set_entry *)a)->t->name, ((const set_entry *)b)->t->name);
}

/* model.safetensors, or else the shards of model.safetensors.index.json. */
static seek_status set_read(seek_st_set *s, const char *dir) {
    char single[4096], index[4096];
    struct stat sb;
    seek_status st = join(single, sizeof single, dir, "model.safetensors");
    if (!st) st = join(index, sizeof index, dir, "model.safetensors.index.json");
    if (st) return st;
    if (stat(single, &sb) == 0) { /* as transformers: the single file wins over an index */
        size_t cap = 0;
        if (set_file_index(s, "model.safetensors", &cap) < 0) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
        return seek_st_open(&s->shards[0], single);
    }
    if (stat(index, &sb) == 0) return set_read_index(s, dir, index);
    return seek_errorf(SEEK_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json", dir);
}

/* Every tensor of every shard in one name-sorted table; a name twice is in two shards. */
static seek_status set_sort(seek_st_set *s, const char *dir) {
    for (size_t i = 0; i < s->n_files; i++) s->n_entries += s->shards[i]->n_tensors;
    s->entries = malloc((s->n_entries ? s->n_entries : 1) * sizeof *s->entries);
    if (!s->entries) return seek_errorf(SEEK_ERR_NOMEM, "%s: out of memory for %zu tensors", dir, s->n_entries);
    size_t n = 0;
    for (size_t i = 0; i < s->n_files; i++)
        for (size_t j = 0; j < s->shards[i]->n_tensors; j++) s->entries[n++] = (set_entry){&s->shards[i]->tensors[j], i};
    qsort(s->entries, s->n_entries, sizeof *s->entries, cmp_entry);
    for (size_t i = 1; i < s->n_entries; i++)
        if (strcmp(s->entries[i - 1].t->name, s->entries[i].t->name) == 0)
            return seek_errorf(SEEK_ERR_FORMAT, "%s: tensor '%s' is in two shards, '%s' and '%s'", dir,
                               s->entries[i].t->name, s->files[s->entries[i - 1].file], s->files[s->entries[i].file]);
    return SEEK_OK;
}

seek_status seek_st_set_open(seek_st_set **out, const char *dir) {
    *out = NULL;
    seek_st_set *s = calloc(1, sizeof *s);
    if (!s) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    seek_status st = set_read(s, dir);
    if (!st) st = set_sort(s, dir);
    if (st) {
        seek_st_set_close(s);
        return st;
    }
    *out = s;
    return SEEK_OK;
}

const seek_st_tensor *seek_st_set_find(const seek_st_set *s, const char *name, const char **file) {
    size_t lo = 0, hi = s->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->entries[mid].t->name, name);
        if (c == 0) {
            if (file) *file = s->files[s->entries[mid].file];
            return s->entries[mid].t;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

size_t seek_st_set_count(const seek_st_set *s) { return s->n_entries; }

const seek_st_tensor *seek_st_set_at(const seek_st_set *s, size_t i) {
    return i < s->n_entries ? s->entries[i].t : NULL;
}
