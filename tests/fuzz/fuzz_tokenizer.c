/* libFuzzer target for the tokenizer: arbitrary bytes through SmolLM2's byte-level vocabulary
 * (loaded once from $SEEK_MODEL or models/SmolLM2-135M-Instruct.Q4_1.gguf), with special-token
 * parsing off and on; decoding must give the input back, less the bytes the vocabulary has no
 * token for (SmolLM2 lacks 21 of the 256 byte characters; HF drops those too).
 * Build: cmake -DSEEK_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./build/fuzz_tokenizer -max_len=4096 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

static seek_gguf *gguf;
static seek_tokenizer *tok;
static bool has_token[256];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char path[4096];
    seek_default_model_path(path, sizeof path);
    if (seek_gguf_open(&gguf, path) != SEEK_OK || seek_tokenizer_load(&tok, gguf) != SEEK_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", path, seek_last_error());
        abort();
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        has_token[b] = seek_tokenize(tok, &c, 1, false, false, NULL, 0) > 0;
    }
    return 0;
}

static void round_trip(const uint8_t *data, size_t size, bool parse_special) {
    int64_t n = seek_tokenize(tok, (const char *)data, size, false, parse_special, NULL, 0);
    if (n < 0) abort();
    int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (seek_tokenize(tok, (const char *)data, size, false, parse_special, ids, n) != n) abort();
    int64_t len = seek_detokenize(tok, ids, n, NULL, 0, true);
    char *out = malloc((size_t)(len ? len : 1));
    if (seek_detokenize(tok, ids, n, out, len, true) != len) abort();
    /* with special parsing, a special token renders as its own text, which is these bytes again */
    size_t k = 0;
    for (size_t i = 0; i < size; i++) {
        if (!has_token[data[i]]) continue;
        if (k >= (size_t)len || out[k] != (char)data[i]) abort();
        k++;
    }
    if (k != (size_t)len) abort();
    for (int64_t i = 0; i < n; i++) {
        char piece[256];
        if (seek_token_to_piece(tok, ids[i], piece, sizeof piece, true) < 0) abort();
    }
    if (seek_utf8_complete_prefix(out, (size_t)len) > (size_t)len) abort();
    free(out);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    round_trip(data, size, false);
    round_trip(data, size, true);
    return 0;
}
