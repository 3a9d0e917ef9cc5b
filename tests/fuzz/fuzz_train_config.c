/* libFuzzer target for seek train's config reader: arbitrary bytes as the JSON of --config, then
 * the checks that refuse impossible shapes, the JSON writer and a re-read of what it wrote (which
 * must succeed and give the same JSON), and the schedule at a few steps. Errors must be messages,
 * never crashes or leaks. Build: cmake -DSEEK_FUZZ=ON -DCMAKE_C_COMPILER=clang */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    seek_train_cfg c;
    seek_train_cfg_defaults(&c);
    if (seek_train_cfg_parse(&c, text, "fuzz") == SEEK_OK && seek_train_cfg_check(&c) == SEEK_OK) {
        char *json = seek_train_cfg_json(&c);
        if (!json) abort();
        seek_train_cfg back;
        seek_train_cfg_defaults(&back);
        if (seek_train_cfg_parse(&back, json, "round trip") != SEEK_OK) abort();
        char *again = seek_train_cfg_json(&back);
        if (!again || strcmp(json, again)) abort();
        for (int64_t s = 0; s < 5; s++) (void)seek_train_lr(&c, s * 97);
        free(again);
        free(json);
        seek_train_cfg_free(&back);
    }
    seek_train_cfg_free(&c);
    free(text);
    return 0;
}
