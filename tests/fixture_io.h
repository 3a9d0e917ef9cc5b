/* Reading the fixtures that the scripts in tests/ref/ write: whitespace-separated token ids, and raw
 * little-endian float32 arrays. Shared by the golden and architecture tests. */
#ifndef SEEK_TESTS_FIXTURE_IO_H
#define SEEK_TESTS_FIXTURE_IO_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Up to cap ids from a text file; the count read, or -1 when the file is missing. */
static inline int fixture_read_ids(const char *path, int32_t *ids, int cap) {
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f) return -1;
    while (n < cap && fscanf(f, "%d", &ids[n]) == 1) n++;
    fclose(f);
    return n;
}

/* Exactly n floats (malloc'd), or NULL when the file is missing or has another length. */
static inline float *fixture_read_f32(const char *path, size_t n) {
    float *p = malloc(n * sizeof(float));
    FILE *f = fopen(path, "rb");
    size_t got = f && p ? fread(p, sizeof(float), n, f) : 0;
    int extra = f ? fgetc(f) : EOF;
    if (f) fclose(f);
    if (got != n || extra != EOF) {
        free(p);
        return NULL;
    }
    return p;
}

/* max |got - ref| / (max(ref) - min(ref)): a logit difference relative to the logits' range */
static inline double fixture_rel_diff(const float *got, const float *ref, int64_t n) {
    double md = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)got[i] - ref[i]));
        lo = fmin(lo, ref[i]);
        hi = fmax(hi, ref[i]);
    }
    return md / (hi - lo);
}

#endif
