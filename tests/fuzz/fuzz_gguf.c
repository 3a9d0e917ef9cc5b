/* libFuzzer target for the GGUF reader: any bytes must parse or be refused, never crash or
 * read out of bounds; when they parse, every getter and tensor stays within the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* copy so reads past the end hit ASan's redzone */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    seek_gguf *g = NULL;
    if (seek_gguf_parse(&g, copy, size) == SEEK_OK) {
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < g->n_kv; i++) {
            const gguf_kv *kv = &g->kvs[i];
            if (kv->type == GGUF_TYPE_ARRAY && kv->arr_type != GGUF_TYPE_STRING && kv->arr_type != GGUF_TYPE_ARRAY)
                for (uint64_t j = 0; j < kv->arr_n && j < 64; j++) sink += (uint64_t)gguf_arr_i64(kv, j);
            if (kv->arr_strs)
                for (uint64_t j = 0; j < kv->arr_n; j++) sink += kv->arr_strs[j].len ? (uint8_t)kv->arr_strs[j].ptr[0] : 0;
        }
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const gguf_tensor *t = &g->tensors[i];
            if (t->n_bytes) sink += ((const uint8_t *)t->data)[t->n_bytes - 1];
        }
        (void)sink;
        seek_gguf_close(g);
    }
    free(copy);
    return 0;
}
