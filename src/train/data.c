/* Training data (see data.h). Shards use llm.c's layout: a 256 x int32 header (magic 20240520,
 * version 1, token count) followed by uint16 tokens. */
#include "train/data.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"

uint64_t seek_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

seek_status seek_read_text(const char *path, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return seek_errorf(SEEK_ERR_IO, "data file '%s' is not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return seek_errorf(SEEK_ERR_IO, "cannot open data file '%s'", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return seek_errorf(SEEK_ERR_IO, "cannot read data file '%s' (not a regular file?)", path);
    }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return seek_errorf(n < 0 ? SEEK_ERR_IO : SEEK_ERR_NOMEM, "cannot read data file '%s'", path);
    }
    fclose(f);
    if (n == 0) {
        free(buf);
        return seek_errorf(SEEK_ERR_INVALID, "data file '%s' is empty", path);
    }
    buf[n] = 0;
    *text = buf;
    *len = (size_t)n;
    return SEEK_OK;
}

static bool is_shard(const char *path) {
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".bin");
}

static seek_status append(int32_t **dst, int64_t *n, int64_t *cap, const int32_t *src, int64_t k) {
    if (*n + k > *cap) {
        int64_t c = *cap ? *cap : 1 << 16;
        while (c < *n + k) c *= 2;
        int32_t *p = realloc(*dst, (size_t)c * sizeof *p);
        if (!p) return seek_errorf(SEEK_ERR_NOMEM, "out of memory for the training tokens");
        *dst = p;
        *cap = c;
    }
    memcpy(*dst + *n, src, (size_t)k * sizeof *src);
    *n += k;
    return SEEK_OK;
}

static seek_status read_shard(const char *path, int32_t vocab, int32_t **dst, int64_t *n, int64_t *cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return seek_errorf(SEEK_ERR_IO, "cannot open data file '%s'", path);
    int32_t hdr[256];
    seek_status st = SEEK_OK;
    if (fread(hdr, 4, 256, f) != 256 || hdr[0] != 20240520 || hdr[1] != 1 || hdr[2] < 0) {
        fclose(f);
        return seek_errorf(SEEK_ERR_FORMAT, "'%s' is not a token shard (llm.c .bin: magic 20240520, version 1)", path);
    }
    uint16_t buf[4096];
    int32_t ids[4096];
    int64_t left = hdr[2];
    while (left > 0 && !st) {
        size_t want = left < 4096 ? (size_t)left : 4096;
        if (fread(buf, 2, want, f) != want) {
            st = seek_errorf(SEEK_ERR_FORMAT, "token shard '%s' is truncated", path);
            break;
        }
        for (size_t i = 0; i < want && !st; i++) {
            if (buf[i] >= vocab) st = seek_errorf(SEEK_ERR_FORMAT, "token shard '%s': id %u is outside the vocabulary (%d)", path, buf[i], vocab);
            ids[i] = buf[i];
        }
        if (!st) st = append(dst, n, cap, ids, (int64_t)want);
        left -= (int64_t)want;
    }
    fclose(f);
    return st;
}

static seek_status tokenize_file(const char *path, const seek_tokenizer *tok, int32_t **dst, int64_t *n, int64_t *cap,
                                 int64_t *bytes) {
    char *text;
    size_t len;
    seek_status st = seek_read_text(path, &text, &len);
    if (st) return st;
    *bytes += (int64_t)len;
    /* tokenized in slices, so memory stays bounded; a slice ends between a letter and " x" (a
     * space before a letter), where the GPT-2 style splits cut too, so the ids equal those of
     * the whole text */
    const size_t slice = 1 << 16;
    int32_t *ids = malloc((slice + 16) * sizeof *ids);
    if (!ids) st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    for (size_t at = 0; at < len && !st;) {
        size_t end = at + slice < len ? at + slice : len;
        while (end < len && !(end + 1 < len && isalpha((unsigned char)text[end - 1]) && text[end] == ' ' &&
                              isalpha((unsigned char)text[end + 1])))
            end++;
        const size_t m = end - at;
        int64_t cnt = seek_tokenize(tok, text + at, m, false, false, ids, (int64_t)slice + 16);
        if (cnt > (int64_t)slice + 16) { /* a slice never has more tokens than bytes, but be safe */
            int32_t *big = realloc(ids, (size_t)cnt * sizeof *ids);
            if (!big) {
                st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
                break;
            }
            ids = big;
            cnt = seek_tokenize(tok, text + at, m, false, false, ids, cnt);
        }
        if (cnt < 0) st = seek_errorf(SEEK_ERR_INVALID, "cannot tokenize '%s'", path);
        else st = append(dst, n, cap, ids, cnt);
        at = end;
    }
    free(ids);
    free(text);
    return st;
}

seek_status seek_tdata_load(seek_tdata *d, const seek_train_cfg *c, const seek_tokenizer *tok) {
    memset(d, 0, sizeof *d);
    int64_t cap = 0, vcap = 0;
    seek_status st = SEEK_OK;
    const int32_t vocab = seek_tokenizer_n_vocab(tok);
    for (int i = 0; i < c->n_train && !st; i++)
        st = is_shard(c->train[i]) ? read_shard(c->train[i], vocab, &d->train, &d->n_train, &cap)
                                   : tokenize_file(c->train[i], tok, &d->train, &d->n_train, &cap, &d->n_bytes);
    if (!st && c->val) {
        int64_t ignore = 0;
        st = is_shard(c->val) ? read_shard(c->val, vocab, &d->val, &d->n_val, &vcap)
                              : tokenize_file(c->val, tok, &d->val, &d->n_val, &vcap, &ignore);
    } else if (!st && c->val_fraction > 0) {
        /* the held-out part is the end of the training tokens */
        const int64_t nv = (int64_t)((double)d->n_train * c->val_fraction);
        if (nv > 0) {
            st = append(&d->val, &d->n_val, &vcap, d->train + d->n_train - nv, nv);
            d->n_train -= nv;
        }
    }
    if (st) {
        seek_tdata_free(d);
        return st;
    }
    const int64_t need = (int64_t)c->seq_len + 1;
    if (d->n_train < need) {
        seek_status e = seek_errorf(SEEK_ERR_INVALID, "the training data has %lld tokens, fewer than one sequence of seq_len + 1 = %lld",
                                    (long long)d->n_train, (long long)need);
        seek_tdata_free(d);
        return e;
    }
    if ((c->val || c->val_fraction > 0) && d->n_val < need) {
        seek_status e = seek_errorf(SEEK_ERR_INVALID,
                                    "the held-out data has %lld tokens, fewer than one sequence of %lld (raise val_fraction or give data.val)",
                                    (long long)d->n_val, (long long)need);
        seek_tdata_free(d);
        return e;
    }
    return SEEK_OK;
}

void seek_tdata_free(seek_tdata *d) {
    free(d->train);
    free(d->val);
    memset(d, 0, sizeof *d);
}

void seek_tdata_batch(const seek_tdata *d, uint64_t *rng, int32_t B, int32_t T, int32_t *inp, int32_t *tgt) {
    const uint64_t span = (uint64_t)(d->n_train - T); /* start offsets 0 .. n - T - 1 */
    for (int32_t b = 0; b < B; b++) {
        const int64_t at = (int64_t)(seek_rng_next(rng) % span);
        memcpy(inp + (int64_t)b * T, d->train + at, (size_t)T * sizeof *inp);
        memcpy(tgt + (int64_t)b * T, d->train + at + 1, (size_t)T * sizeof *tgt);
    }
}

int64_t seek_tdata_n_segments(const seek_tdata *d, int32_t B, int32_t T) { return (d->n_train / B - 1) / T; }

void seek_tdata_stream_batch(const seek_tdata *d, int64_t seg, int32_t B, int32_t T, int32_t *inp, int32_t *tgt) {
    const int64_t part = d->n_train / B, k = seg % seek_tdata_n_segments(d, B, T);
    for (int32_t b = 0; b < B; b++) {
        const int32_t *src = d->train + b * part + k * T;
        memcpy(inp + (int64_t)b * T, src, (size_t)T * sizeof *inp);
        memcpy(tgt + (int64_t)b * T, src + 1, (size_t)T * sizeof *tgt);
    }
}

int64_t seek_tdata_n_val_windows(const seek_tdata *d, int32_t T) { return d->n_val > T ? (d->n_val - 1) / T : 0; }

void seek_tdata_val_window(const seek_tdata *d, int64_t i, int32_t T, int32_t *inp, int32_t *tgt) {
    memcpy(inp, d->val + i * T, (size_t)T * sizeof *inp);
    memcpy(tgt, d->val + i * T + 1, (size_t)T * sizeof *tgt);
}
