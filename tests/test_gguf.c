/* GGUF reader: a file built here byte by byte parses to exactly what was written (every
 * metadata type, nested arrays, alignment, tensor offsets), and every corruption (each
 * truncation length, bad magic, huge counts, data past the end, unknown types, misalignment)
 * is refused with a message instead of a crash. Run under ASan by `make test`. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "format/gguf.h"

typedef struct { uint8_t *p; size_t n, cap; } buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void str(buf *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }

/* Offsets of fields we corrupt later. */
static size_t off_n_tensors, off_tensor_type, off_tensor_offset;

static buf build(void) {
    buf b = {0};
    u32(&b, 0x46554747u);
    u32(&b, 3);
    off_n_tensors = b.n;
    u64(&b, 2); /* tensors */
    u64(&b, 6); /* kvs */
    str(&b, "general.architecture"); u32(&b, GGUF_TYPE_STRING); str(&b, "llama");
    str(&b, "general.alignment"); u32(&b, GGUF_TYPE_UINT32); u32(&b, 64);
    str(&b, "test.f"); u32(&b, GGUF_TYPE_FLOAT64); double d = -2.5; put(&b, &d, 8);
    str(&b, "test.i8"); u32(&b, GGUF_TYPE_INT8); int8_t i8 = -7; put(&b, &i8, 1);
    str(&b, "test.strs"); u32(&b, GGUF_TYPE_ARRAY); u32(&b, GGUF_TYPE_STRING); u64(&b, 3);
    str(&b, "a"); str(&b, ""); str(&b, "ccc");
    /* nested: array of 2 arrays of u16 */
    str(&b, "test.nested"); u32(&b, GGUF_TYPE_ARRAY); u32(&b, GGUF_TYPE_ARRAY); u64(&b, 2);
    for (int k = 0; k < 2; k++) {
        u32(&b, GGUF_TYPE_UINT16); u64(&b, 3);
        uint16_t v[3] = {1, 2, 3};
        put(&b, v, 6);
    }
    /* tensor infos: w (f32 [4, 2]) at 0, q (q8_0 [64]) at 64 */
    str(&b, "w"); u32(&b, 2); u64(&b, 4); u64(&b, 2);
    off_tensor_type = b.n;
    u32(&b, 0);
    off_tensor_offset = b.n;
    u64(&b, 0);
    str(&b, "q"); u32(&b, 1); u64(&b, 64); u32(&b, 8); u64(&b, 64);
    while (b.n % 64) put(&b, "\0", 1);
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    put(&b, w, sizeof w);
    while (b.n % 64) put(&b, "\0", 1);
    uint8_t q[68] = {0};
    put(&b, q, sizeof q);
    return b;
}

static void test_valid(void) {
    buf b = build();
    seek_gguf *g = NULL;
    seek_status st = seek_gguf_parse(&g, b.p, b.n);
    CHECK(st == SEEK_OK, "valid file refused: %s", seek_last_error());
    if (g) {
        gguf_str s;
        CHECK(seek_gguf_get_str(g, "general.architecture", &s) && gguf_str_eq(s, "llama"), "architecture");
        float f;
        CHECK(seek_gguf_get_f32(g, "test.f", &f) && f == -2.5f, "f64 value");
        uint64_t u;
        CHECK(!seek_gguf_get_u64(g, "test.i8", &u), "negative int read as unsigned");
        const gguf_kv *a = seek_gguf_get_arr(g, "test.strs", GGUF_TYPE_STRING);
        CHECK(a && a->arr_n == 3 && gguf_str_eq(a->arr_strs[2], "ccc") && a->arr_strs[1].len == 0, "string array");
        const gguf_kv *nested = seek_gguf_find(g, "test.nested");
        CHECK(nested && nested->arr_type == GGUF_TYPE_ARRAY && nested->arr_n == 2, "nested array");
        CHECK(g->alignment == 64 && g->data_offset % 64 == 0, "alignment");
        const gguf_tensor *t = seek_gguf_tensor(g, "w");
        CHECK(t && t->ne[0] == 4 && t->ne[1] == 2 && t->n_bytes == 32 && ((const float *)t->data)[7] == 8.0f, "tensor w");
        const gguf_tensor *q = seek_gguf_tensor(g, "q");
        CHECK(q && q->type == SEEK_TYPE_Q8_0 && q->n_bytes == 68, "tensor q");
        seek_gguf_close(g);
    }
    /* every truncation is an error, never a crash (ASan checks the reads) */
    int refused = 0;
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.p, n);
        seek_gguf *h = NULL;
        if (seek_gguf_parse(&h, copy, n) != SEEK_OK) refused++;
        seek_gguf_close(h);
        free(copy);
    }
    CHECK(refused == (int)b.n, "%d of %zu truncations refused", refused, b.n);
    free(b.p);
}

/* Applies a corruption and expects refusal with a message containing `needle`. */
static void expect_refused(const char *what, size_t off, const void *bytes, size_t n, const char *needle) {
    buf b = build();
    memcpy(b.p + off, bytes, n);
    seek_gguf *g = NULL;
    seek_status st = seek_gguf_parse(&g, b.p, b.n);
    CHECK(st != SEEK_OK && strstr(seek_last_error(), needle), "%s: status %d, message '%s'", what, st, seek_last_error());
    seek_gguf_close(g);
    free(b.p);
}

int main(void) {
    test_valid();
    uint32_t bad_magic = 0x46554748u, bad_type = 99, v1 = 1;
    uint64_t huge = 1ull << 60, past = 1ull << 40, misaligned = 8;
    expect_refused("bad magic", 0, &bad_magic, 4, "magic");
    expect_refused("version 1", 4, &v1, 4, "version");
    expect_refused("huge tensor count", off_n_tensors, &huge, 8, "tensor count");
    expect_refused("huge kv count", off_n_tensors + 8, &huge, 8, "metadata count");
    expect_refused("unknown tensor type", off_tensor_type, &bad_type, 4, "unknown type");
    expect_refused("data past end", off_tensor_offset, &past, 8, "past the end");
    expect_refused("misaligned", off_tensor_offset, &misaligned, 8, "aligned");
    seek_gguf *g = NULL;
    CHECK(seek_gguf_open(&g, "/nonexistent/file.gguf") == SEEK_ERR_IO && strstr(seek_last_error(), "cannot open"), "missing file");
    CHECK(seek_gguf_open(&g, "tests") == SEEK_ERR_IO && strstr(seek_last_error(), "not a regular file"), "directory");
    return check_summary("test_gguf");
}
