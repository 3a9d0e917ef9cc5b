/* safetensors reader: files built here (header JSON + buffer) parse to exactly what was written
 * (F32/F16/BF16/F8 tensors, a scalar, an empty tensor, metadata); the file written by the real
 * `safetensors` library (tests/ref/make_bad_safetensors.py) reads back bit for bit; every broken
 * rule (length, JSON, metadata, dtype, shape, offsets, overlap, gap, names) and every broken shard
 * index is refused with a message naming the file and the field or tensor. Run under ASan by
 * `make test`. */
#define _GNU_SOURCE /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/status.h"
#include "format/safetensors.h"

static char tmp[64]; /* a folder of our own under /tmp, removed at the end */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

/* u64 header length + header (padded with spaces to `pad` bytes when larger) + buffer. */
static uint8_t *make(const char *header, const void *buf, size_t n_buf, size_t pad, size_t *size) {
    size_t h = strlen(header) > pad ? strlen(header) : pad;
    uint8_t *p = malloc(8 + h + n_buf + 1);
    uint64_t len = h;
    memcpy(p, &len, 8);
    memset(p + 8, ' ', h);
    memcpy(p + 8, header, strlen(header));
    if (n_buf) memcpy(p + 8 + h, buf, n_buf);
    *size = 8 + h + n_buf;
    return p;
}

static void write_file(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* Writes `header` + a zero buffer of n_buf bytes to tmp/name; returns the path (static). */
static const char *write_st(const char *name, const char *header, size_t n_buf) {
    static char path[256];
    uint8_t *zeros = calloc(1, n_buf ? n_buf : 1);
    size_t size;
    uint8_t *p = make(header, zeros, n_buf, 0, &size);
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    write_file(path, p, size);
    free(p);
    free(zeros);
    return path;
}

static void test_valid(void) {
    const char *header =
        "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\\u00e9\"},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,1,2],\"data_offsets\":[32,36]},"
        "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[3],\"data_offsets\":[36,39]},"
        "\"scalar\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[39,40]},"
        "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[40,40]},"
        "\"empty2\":{\"dtype\":\"F16\",\"shape\":[4611686018427387904,0],\"data_offsets\":[40,40]}}";
    uint8_t data[40];
    float w[6] = {1, -2, 3.5f, 4, 5, 6};
    uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001}, b[2] = {0x3f80, 0xc000};
    memcpy(data, w, 24);
    memcpy(data + 24, h, 8);
    memcpy(data + 32, b, 4);
    data[36] = 0x38, data[37] = 0x40, data[38] = 0xc8, data[39] = 7;
    size_t size;
    uint8_t *p = make(header, data, sizeof data, 512, &size); /* trailing spaces pad the header */
    seek_safetensors *s = NULL;
    CHECK(seek_st_parse(&s, p, size) == SEEK_OK, "valid file refused: %s", seek_last_error());
    if (s) {
        CHECK(s->n_tensors == 7 && s->n_meta == 2 && s->buffer_size == 40, "%zu tensors, %zu meta", s->n_tensors, s->n_meta);
        CHECK(seek_st_meta_get(s, "format") && !strcmp(seek_st_meta_get(s, "format"), "pt"), "metadata format");
        CHECK(seek_st_meta_get(s, "note") && !strcmp(seek_st_meta_get(s, "note"), "h\xc3\xa9"), "metadata utf-8");
        CHECK(!seek_st_meta_get(s, "missing") && !seek_st_find(s, "__metadata__") && !seek_st_find(s, "x"), "absent names");
        const seek_st_tensor *t = seek_st_find(s, "w");
        CHECK(t && t->dtype == SEEK_ST_F32 && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 1 &&
                  !memcmp(t->data, w, 24) && (const uint8_t *)t->data == s->buffer,
              "tensor w");
        t = seek_st_find(s, "h");
        CHECK(t && t->dtype == SEEK_ST_F16 && seek_st_n_elements(t) == 4 && ((const uint16_t *)t->data)[2] == 0x7bff, "tensor h");
        t = seek_st_find(s, "b");
        CHECK(t && t->dtype == SEEK_ST_BF16 && t->n_dims == 3 && ((const uint16_t *)t->data)[1] == 0xc000, "tensor b");
        t = seek_st_find(s, "f8");
        CHECK(t && t->dtype == SEEK_ST_F8_E4M3 && t->end - t->begin == 3 && ((const uint8_t *)t->data)[2] == 0xc8, "tensor f8");
        t = seek_st_find(s, "scalar");
        CHECK(t && t->n_dims == 0 && seek_st_n_elements(t) == 1 && *(const uint8_t *)t->data == 7, "scalar");
        t = seek_st_find(s, "empty");
        CHECK(t && t->n_dims == 2 && seek_st_n_elements(t) == 0 && t->begin == 40 && t->end == 40, "empty tensor");
        CHECK(seek_st_find(s, "empty2") != NULL, "empty tensor with a huge dimension (0 elements, no overflow)");
        bool sorted = true;
        for (size_t i = 1; i < s->n_tensors; i++) sorted &= s->tensors[i - 1].begin <= s->tensors[i].begin;
        CHECK(sorted, "tensors sorted by begin");
        seek_st_close(s);
    }
    /* every truncation is an error, never a crash (ASan checks the reads) */
    size_t refused = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, p, n);
        seek_safetensors *t = NULL;
        if (seek_st_parse(&t, copy, n) != SEEK_OK) refused++;
        seek_st_close(t);
        free(copy);
    }
    CHECK(refused == size, "%zu of %zu truncations refused", refused, size);
    free(p);
    /* no tensors at all: "{}" and nothing after it */
    p = make("{}", NULL, 0, 0, &size);
    CHECK(seek_st_parse(&s, p, size) == SEEK_OK && s->n_tensors == 0, "empty file: %s", seek_last_error());
    seek_st_close(s);
    free(p);
}

static void test_dtypes(void) {
    static const size_t sizes[SEEK_ST_DTYPE_COUNT] = {4, 2, 2, 1, 1, 1, 8, 1, 1, 2, 2, 4, 4, 8, 8, 1};
    for (int t = 0; t < SEEK_ST_DTYPE_COUNT; t++) {
        CHECK(seek_st_dtype_size((seek_st_dtype)t) == sizes[t], "size of %s", seek_st_dtype_name((seek_st_dtype)t));
        /* each name parses back to its dtype */
        char header[160];
        snprintf(header, sizeof header, "{\"t\":{\"dtype\":\"%s\",\"shape\":[3],\"data_offsets\":[0,%zu]}}",
                 seek_st_dtype_name((seek_st_dtype)t), 3 * sizes[t]);
        uint8_t zeros[24] = {0};
        size_t size;
        uint8_t *p = make(header, zeros, 3 * sizes[t], 0, &size);
        seek_safetensors *s = NULL;
        CHECK(seek_st_parse(&s, p, size) == SEEK_OK && s->tensors[0].dtype == (seek_st_dtype)t, "dtype %s: %s",
              seek_st_dtype_name((seek_st_dtype)t), seek_last_error());
        seek_st_close(s);
        free(p);
    }
    CHECK(seek_st_dtype_size(SEEK_ST_DTYPE_COUNT) == 0 && !strcmp(seek_st_dtype_name(SEEK_ST_DTYPE_COUNT), "invalid"),
          "out-of-range dtype");
}

/* The file the real safetensors library wrote: every value's bits as written there. */
static void test_reference_file(void) {
    const char *path = SEEK_SOURCE_DIR "/tests/fixtures/safetensors/ref.safetensors";
    seek_safetensors *s = NULL;
    CHECK(seek_st_open(&s, path) == SEEK_OK, "%s", seek_last_error());
    if (!s) return;
    CHECK(s->n_tensors == 9 && seek_st_meta_get(s, "source") && !strcmp(seek_st_meta_get(s, "source"), "make_bad_safetensors.py"),
          "tensors and metadata");
    const seek_st_tensor *t = seek_st_find(s, "w");
    CHECK(t && t->dtype == SEEK_ST_F32 && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3, "w shape");
    for (int i = 0; t && i < 6; i++) {
        float v;
        memcpy(&v, (const uint8_t *)t->data + 4 * i, 4);
        CHECK(v == i * 0.5f - 1, "w[%d] = %g", i, v);
    }
    /* F16 1.5, -2, 65504, 2^-24; BF16 1, -2, inf, smallest subnormal; F8 bits as written */
    static const uint16_t h[4] = {0x3e00, 0xc000, 0x7bff, 0x0001}, b[4] = {0x3f80, 0xc000, 0x7f80, 0x0001};
    static const uint8_t f8[4] = {0x38, 0x40, 0xc8, 0x7e}, f8b[2] = {0x3c, 0xc0}, mask[3] = {1, 0, 1};
    t = seek_st_find(s, "h");
    CHECK(t && t->dtype == SEEK_ST_F16 && t->end - t->begin == 8 && !memcmp(t->data, h, 8), "h");
    t = seek_st_find(s, "b");
    CHECK(t && t->dtype == SEEK_ST_BF16 && t->n_dims == 2 && !memcmp(t->data, b, 8), "b");
    t = seek_st_find(s, "f8");
    CHECK(t && t->dtype == SEEK_ST_F8_E4M3 && !memcmp(t->data, f8, 4), "f8");
    t = seek_st_find(s, "f8b");
    CHECK(t && t->dtype == SEEK_ST_F8_E5M2 && !memcmp(t->data, f8b, 2), "f8b");
    t = seek_st_find(s, "mask");
    CHECK(t && t->dtype == SEEK_ST_BOOL && !memcmp(t->data, mask, 3), "mask");
    t = seek_st_find(s, "i64");
    int64_t i64[2] = {0};
    if (t) memcpy(i64, t->data, 16);
    CHECK(t && t->dtype == SEEK_ST_I64 && i64[0] == -1 && i64[1] == 1ll << 40, "i64");
    t = seek_st_find(s, "s");
    double d = 0;
    if (t) memcpy(&d, t->data, 8);
    CHECK(t && t->dtype == SEEK_ST_F64 && t->n_dims == 0 && d == 3.25, "scalar");
    t = seek_st_find(s, "e");
    CHECK(t && t->n_dims == 2 && t->shape[0] == 0 && t->shape[1] == 3 && t->begin == t->end, "empty");
    seek_st_close(s);
    /* broken copies of a valid file that the reference reader refuses too */
    static const struct { const char *file, *needle; } bad[] = {
        {"bad_truncated", "data_offsets end"}, {"bad_header_len", "header length"},
        {"bad_overlap", "overlap"},        {"bad_shape", "needs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[512];
        snprintf(p, sizeof p, SEEK_SOURCE_DIR "/tests/fixtures/safetensors/%s.safetensors", bad[i].file);
        CHECK(seek_st_open(&s, p) == SEEK_ERR_FORMAT && strstr(seek_last_error(), p) && strstr(seek_last_error(), bad[i].needle),
              "%s: '%s'", bad[i].file, seek_last_error());
    }
}

/* Opens tmp/name holding `header` + n_buf zero bytes and expects refusal with `st`, a message
 * naming the file and containing every needle. */
static void expect_refused(seek_status want, const char *header, size_t n_buf, const char *n1, const char *n2) {
    const char *path = write_st("bad.safetensors", header, n_buf);
    seek_safetensors *s = NULL;
    seek_status st = seek_st_open(&s, path);
    const char *msg = seek_last_error();
    CHECK(st == want && !s && strstr(msg, path) && strstr(msg, n1) && (!n2 || strstr(msg, n2)),
          "%s: status %d, message '%s'", header, st, msg);
    seek_st_close(s);
}

static void test_bad_files(void) {
    char path[256];
    seek_safetensors *s = NULL;
    /* shorter than the header length */
    snprintf(path, sizeof path, "%s/short.safetensors", tmp);
    write_file(path, "\x02\0\0\0{}", 6);
    CHECK(seek_st_open(&s, path) == SEEK_ERR_FORMAT && strstr(seek_last_error(), path) &&
              strstr(seek_last_error(), "too short"), "short file: %s", seek_last_error());
    write_file(path, "", 0);
    CHECK(seek_st_open(&s, path) == SEEK_ERR_FORMAT && strstr(seek_last_error(), "too short"), "empty file: %s", seek_last_error());
    /* header lengths: over the limit (refused before reading it) and past the end */
    uint8_t hl[16] = {0};
    uint64_t huge = 100000001, past = 9;
    memcpy(hl, &huge, 8);
    memcpy(hl + 8, "{}      ", 8);
    write_file(path, hl, 16);
    CHECK(seek_st_open(&s, path) == SEEK_ERR_FORMAT && strstr(seek_last_error(), "over the limit"), "huge: %s", seek_last_error());
    memcpy(hl, &past, 8);
    write_file(path, hl, 16);
    CHECK(seek_st_open(&s, path) == SEEK_ERR_FORMAT && strstr(seek_last_error(), "past the end"), "past: %s", seek_last_error());
    huge = ~0ull;
    memcpy(hl, &huge, 8);
    write_file(path, hl, 16);
    CHECK(seek_st_open(&s, path) == SEEK_ERR_FORMAT && strstr(seek_last_error(), "header length"), "u64 max: %s", seek_last_error());

    /* the header: JSON, an object, UTF-8, no duplicate keys, nothing but spaces after it */
    expect_refused(SEEK_ERR_FORMAT, "[1, 2]", 0, "'{'", NULL);
    expect_refused(SEEK_ERR_FORMAT, "{\"a\":", 0, "header JSON, byte", NULL);
    expect_refused(SEEK_ERR_FORMAT, "{} x", 0, "header JSON", NULL);
    expect_refused(SEEK_ERR_FORMAT, "{\"__metadata__\":{\"k\":\"\xff\"}}", 0, "header JSON", NULL);
    expect_refused(SEEK_ERR_FORMAT, "{\"a\\u0000b\":{}}", 0, "header JSON", NULL);
    expect_refused(SEEK_ERR_FORMAT,
                   "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                   "\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "duplicate", NULL);
    char deep[4200] = "{\"a\":";
    for (int i = 0; i < 4000; i++) strcat(deep, "[");
    expect_refused(SEEK_ERR_FORMAT, deep, 0, "header JSON", NULL);
    /* __metadata__ */
    expect_refused(SEEK_ERR_FORMAT, "{\"__metadata__\":[]}", 0, "__metadata__", NULL);
    expect_refused(SEEK_ERR_FORMAT, "{\"__metadata__\":{\"a\":\"x\",\"n\":1}}", 0, "__metadata__ 'n'", NULL);
    /* tensor names */
    expect_refused(SEEK_ERR_FORMAT, "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "empty name", NULL);
    char longname[700];
    snprintf(longname, sizeof longname, "{\"%0513d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0);
    expect_refused(SEEK_ERR_FORMAT, longname, 1, "513 bytes", NULL);
    /* each field of a tensor entry */
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":[]}", 0, "'t'", "not an object");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "'t'", "dtype");
    expect_refused(SEEK_ERR_UNSUPPORTED, "{\"t\":{\"dtype\":\"F4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "'t'", "dtype 'F4'");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}", 1, "'t'", "shape");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,-1],\"data_offsets\":[0,1]}}", 1, "'t'", "shape[1]");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1, "'t'", "shape[0]");
    expect_refused(SEEK_ERR_UNSUPPORTED, "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
                   "'t'", "9 dimensions");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],"
                   "\"data_offsets\":[0,0]}}", 0, "'t'", "overflows");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "'t'", "data_offsets");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1, "'t'", "data_offsets");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,-1]}}", 1, "'t'", "data_offsets");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[1,0]}}", 1, "'t'", "data_offsets");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 1,
                   "header JSON", "too big integer");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 1, "'t'",
                   "past the end of the 1-byte buffer");
    expect_refused(SEEK_ERR_FORMAT, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "'t'", "needs 8");
    /* the tensors together: overlap, a gap, a gap at the start, bytes left at the end */
    expect_refused(SEEK_ERR_FORMAT,
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "'a' [0, 8) and 'b' [4, 12) overlap", NULL);
    expect_refused(SEEK_ERR_FORMAT,
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, "overlap", "'z'");
    expect_refused(SEEK_ERR_FORMAT,
                   "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "bytes [4, 8)", "after 'a'");
    expect_refused(SEEK_ERR_FORMAT, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "bytes [0, 4)",
                   "before 'a'");
    expect_refused(SEEK_ERR_FORMAT, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 7, "last 3 bytes", "'a'");
    expect_refused(SEEK_ERR_FORMAT, "{}", 1, "last 1 bytes", NULL);
    /* empty tensors may share an offset, at the start, between and at the end */
    const char *ok = write_st("ok.safetensors",
                              "{\"e1\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
                              "\"e2\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"e3\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]}}", 4);
    CHECK(seek_st_open(&s, ok) == SEEK_OK && s->n_tensors == 4, "empty tensors sharing offsets: %s", seek_last_error());
    seek_st_close(s);
    /* not a file */
    CHECK(seek_st_open(&s, "/nonexistent/x.safetensors") == SEEK_ERR_IO && strstr(seek_last_error(), "cannot open"), "missing");
    CHECK(seek_st_open(&s, tmp) == SEEK_ERR_IO && strstr(seek_last_error(), "not a regular file"), "directory");
}

/* Makes the folder tmp/name; returns its path (static). */
static const char *make_dir(const char *name) {
    static char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    mkdir(dir, 0755);
    return dir;
}

static void put_file(const char *dir, const char *file, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    write_file(path, text, strlen(text));
}

static void put_st(const char *dir, const char *file, const char *header, size_t n_buf) {
    uint8_t zeros[64] = {0};
    size_t size;
    uint8_t *p = make(header, zeros, n_buf, 0, &size);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    write_file(path, p, size);
    free(p);
}

#define SHARD1 "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}"
#define SHARD2 "{\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"d\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[4,5]}}"

/* Opens dir as a set and expects refusal with a message containing every needle. */
static void expect_set_refused(const char *dir, const char *n1, const char *n2, const char *n3) {
    seek_st_set *s = NULL;
    seek_status st = seek_st_set_open(&s, dir);
    const char *msg = seek_last_error();
    CHECK(st != SEEK_OK && !s && strstr(msg, n1) && (!n2 || strstr(msg, n2)) && (!n3 || strstr(msg, n3)),
          "%s: status %d, message '%s'", dir, st, msg);
    seek_st_set_close(s);
}

static void test_sets(void) {
    seek_st_set *s = NULL;
    const char *file = NULL;
    /* one file */
    const char *dir = make_dir("single");
    put_st(dir, "model.safetensors", SHARD1, 6);
    CHECK(seek_st_set_open(&s, dir) == SEEK_OK, "single: %s", seek_last_error());
    if (s) {
        const seek_st_tensor *t = seek_st_set_find(s, "c", &file);
        CHECK(seek_st_set_count(s) == 2 && t && t->shape[0] == 2 && file && !strcmp(file, "model.safetensors"), "single find");
        seek_st_set_close(s);
    }
    /* model.safetensors wins over an index, as in transformers */
    dir = make_dir("both");
    put_st(dir, "model.safetensors", SHARD1, 6);
    put_file(dir, "model.safetensors.index.json", "{not json");
    CHECK(seek_st_set_open(&s, dir) == SEEK_OK && seek_st_set_count(s) == 2, "single file and index: %s", seek_last_error());
    seek_st_set_close(s);
    /* two shards */
    dir = make_dir("sharded");
    put_st(dir, "model-00001-of-00002.safetensors", SHARD1, 6);
    put_st(dir, "model-00002-of-00002.safetensors", SHARD2, 5);
    put_file(dir, "model.safetensors.index.json",
             "{\"metadata\":{\"total_size\":11},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
             "\"b\":\"model-00002-of-00002.safetensors\",\"c\":\"model-00001-of-00002.safetensors\","
             "\"d\":\"model-00002-of-00002.safetensors\"}}");
    CHECK(seek_st_set_open(&s, dir) == SEEK_OK, "sharded: %s", seek_last_error());
    if (s) {
        CHECK(seek_st_set_count(s) == 4, "count %zu", seek_st_set_count(s));
        static const char *names[4] = {"a", "b", "c", "d"};
        static const char *files[4] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                       "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
        for (size_t i = 0; i < 4; i++) {
            const seek_st_tensor *t = seek_st_set_at(s, i), *u = seek_st_set_find(s, names[i], &file);
            CHECK(t && t == u && !strcmp(t->name, names[i]) && !strcmp(file, files[i]), "tensor %s in %s", names[i], file);
        }
        CHECK(!seek_st_set_at(s, 4) && !seek_st_set_find(s, "e", &file), "past the end, missing name");
        const seek_st_tensor *d = seek_st_set_find(s, "d", NULL);
        CHECK(d && d->n_dims == 0 && d->dtype == SEEK_ST_U8, "scalar in shard 2");
        seek_st_set_close(s);
    }
    /* a shard that does not exist: the index, the tensor and the file are named */
    dir = make_dir("missing_shard");
    put_st(dir, "s1.safetensors", SHARD1, 6);
    put_file(dir, "model.safetensors.index.json",
             "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s1.safetensors\",\"b\":\"s2.safetensors\",\"d\":\"s2.safetensors\"}}");
    expect_set_refused(dir, "missing_shard/model.safetensors.index.json", "tensor 'b'", "'s2.safetensors'");
    /* an index entry its shard lacks */
    dir = make_dir("not_in_shard");
    put_st(dir, "s1.safetensors", SHARD1, 6);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"x\":\"s1.safetensors\"}}");
    expect_set_refused(dir, "model.safetensors.index.json", "tensor 'x' is not in its shard 's1.safetensors'", NULL);
    /* a tensor in two shards */
    dir = make_dir("twice");
    put_st(dir, "s1.safetensors", SHARD1, 6);
    put_st(dir, "s2.safetensors", SHARD1, 6);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
    expect_set_refused(dir, "tensor 'a' is in two shards", "s1.safetensors", "s2.safetensors");
    /* path escapes */
    dir = make_dir("escape");
    put_st(dir, "s1.safetensors", SHARD1, 6);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"../single/model.safetensors\"}}");
    expect_set_refused(dir, "tensor 'a'", "'../single/model.safetensors' outside the folder", NULL);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"..\"}}");
    expect_set_refused(dir, "tensor 'a'", "outside the folder", NULL);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"/etc/passwd\"}}");
    expect_set_refused(dir, "tensor 'a'", "outside the folder", NULL);
    /* malformed indexes */
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":1}}");
    expect_set_refused(dir, "escape/model.safetensors.index.json", "tensor 'a' maps to a non-string", NULL);
    put_file(dir, "model.safetensors.index.json", "{\"metadata\":{}}");
    expect_set_refused(dir, "model.safetensors.index.json", "weight_map is missing", NULL);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{}}");
    expect_set_refused(dir, "model.safetensors.index.json", "no tensors", NULL);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}");
    expect_set_refused(dir, "model.safetensors.index.json", "line 1", "duplicate");
    put_file(dir, "model.safetensors.index.json", "[\"weight_map\"]");
    expect_set_refused(dir, "model.safetensors.index.json", "not a JSON object", NULL);
    /* a corrupt shard: its own path leads the message */
    put_st(dir, "s1.safetensors", SHARD1, 5);
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
    expect_set_refused(dir, "escape/s1.safetensors: ", "past the end", NULL);
    /* neither file */
    expect_set_refused(make_dir("empty"), "no model.safetensors", NULL, NULL);
    expect_set_refused("/nonexistent", "/nonexistent: no model.safetensors", NULL, NULL);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/seek_test_st_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_dtypes();
    test_reference_file();
    test_bad_files();
    test_sets();
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary("test_safetensors");
}
