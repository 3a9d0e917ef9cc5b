/* libFuzzer target for the server's request parser: arbitrary bytes as a /v1/chat/completions
 * (first byte odd) or /v1/completions body, parsed against SmolLM2 (loaded once from $SEEK_MODEL
 * or the default path) with a small context; a parsed request must hold a prompt that fits it,
 * and the bytes are also fed to the json_object checker. Errors must be messages, never crashes.
 * Build: cmake -DSEEK_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./build/fuzz_openai -max_len=65536 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model.h"
#include "server/json_mask.h"
#include "server/openai.h"

static seek_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char path[4096];
    seek_default_model_path(path, sizeof path);
    if (seek_model_load(&model, path) != SEEK_OK) {
        fprintf(stderr, "fuzz_openai: cannot load %s: %s\n", path, seek_last_error());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    seek_api_call call;
    char msg[512];
    const char *param = NULL;
    int st = seek_api_parse(model, "m", 512, data[0] & 1, (const char *)data + 1, size - 1, &call, msg, sizeof msg, &param);
    if (st == 0) {
        if (!call.req || call.req->n_prompt < 1 || call.req->n_prompt >= 512 || call.req->max_tokens < 1 ||
            call.req->n_prompt + call.req->max_tokens > 512)
            abort();
        seek_req_release(call.req);
    } else if (call.req || (st != 400 && st != 404) || !msg[0]) {
        abort();
    }
    seek_json_state js;
    seek_json_init(&js);
    seek_json_feed(&js, (const char *)data + 1, size - 1);
    return 0;
}
