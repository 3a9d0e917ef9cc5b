/* libFuzzer target for the safetensors reader: any bytes must parse or be refused, never crash,
 * leak or read out of bounds; when they parse, every tensor's bytes lie inside the buffer and
 * every name is found again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* copy so reads past the end hit ASan's redzone */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    seek_safetensors *s = NULL;
    if (seek_st_parse(&s, copy, size) == SEEK_OK) {
        volatile uint64_t sink = 0;
        for (size_t i = 0; i < s->n_tensors; i++) {
            const seek_st_tensor *t = &s->tensors[i];
            const uint8_t *p = t->data;
            if (t->end > t->begin) sink += p[0] + p[t->end - t->begin - 1];
            if (seek_st_find(s, t->name) != t) abort();
            if ((uint64_t)seek_st_n_elements(t) * seek_st_dtype_size(t->dtype) != t->end - t->begin) abort();
        }
        for (size_t i = 0; i < s->n_meta; i++) sink += (uint8_t)s->meta[i].key[0] + (uint8_t)s->meta[i].value[0];
        (void)sink;
        seek_st_close(s);
    }
    free(copy);
    return 0;
}
