/* seek convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0]: a Hugging Face model folder to a
 * GGUF file that seek and llama.cpp both load (llama.cpp's metadata keys, tensor names and
 * layouts: model/hf.h). Vectors, the MoE router and its bias stay f32 (as llama.cpp keeps them);
 * other weights take --type (default f16, like llama.cpp's converter), or f16 where a row does
 * not fit q8_0's 32-value blocks. DeepSeek-V3's MTP layer is dropped unless --mtp, as llama.cpp's
 * converter drops it. The file is written to OUT.tmp and renamed when complete. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "core/status.h"
#include "model/hf.h"

static void usage(FILE *f) {
    fprintf(f, "usage: seek convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0] [--mtp]\n"
               "  --mtp keeps DeepSeek-V3's multi-token-prediction layer (llama.cpp's deepseek2 refuses such files)\n"
               "  HF_DIR holds config.json, model.safetensors (or shards + model.safetensors.index.json),\n"
               "  tokenizer.json and tokenizer_config.json\n");
}

static void progress(void *arg, uint64_t done, uint64_t total) {
    const bool *tty = arg;
    const int width = 40, fill = total ? (int)(width * done / total) : width;
    if (!*tty && done != total) return;
    fprintf(stderr, "\rseek convert: [%.*s%*s] %3d%% %.1f / %.1f MiB", fill, "########################################",
            width - fill, "", total ? (int)(100 * done / total) : 100, (double)done / (1 << 20), (double)total / (1 << 20));
    if (done == total) fputc('\n', stderr);
}

/* The type tensor i is written in. */
static seek_dtype out_type(const seek_gguf_writer *w, size_t i, seek_dtype want) {
    int64_t ne[4];
    const seek_dtype held = seek_gw_tensor_type(w, i, ne);
    const char *name = seek_gw_tensor_name(w, i);
    if (ne[1] == 1 && ne[2] == 1) return held; /* vectors */
    if (strstr(name, "ffn_gate_inp") || strstr(name, "exp_probs_b")) return SEEK_TYPE_F32;
    if (want == SEEK_TYPE_Q8_0 && ne[0] % 32) return SEEK_TYPE_F16;
    return want;
}

int cmd_convert(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *type = "f16";
    bool mtp = false;
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--outfile")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--mtp")) mtp = true;
        else if ((!strcmp(argv[i], "--type") || !strcmp(argv[i], "--outtype")) && i + 1 < argc) type = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "seek convert: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    static const struct { const char *name; seek_dtype type; uint32_t ftype; } types[] = {
        {"f32", SEEK_TYPE_F32, 0}, {"f16", SEEK_TYPE_F16, 1}, {"bf16", SEEK_TYPE_BF16, 32}, {"q8_0", SEEK_TYPE_Q8_0, 7}};
    int ti = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(type, types[i].name)) ti = i;
    if (ti < 0) {
        fprintf(stderr, "seek convert: unknown --type '%s' (f32, f16, bf16, q8_0)\n", type);
        return 2;
    }
    if (!dir || !out) {
        usage(stderr);
        return 2;
    }
    if (!seek_hf_is_folder(dir)) {
        fprintf(stderr, "seek convert: '%s' is not a Hugging Face model folder (no config.json)\n", dir);
        return 1;
    }
    seek_gguf_writer *w = seek_gw_new();
    seek_hf_keep *keep = NULL;
    seek_status st = w ? seek_hf_read(w, dir, mtp, &keep) : SEEK_ERR_NOMEM;
    for (size_t i = 0; !st && i < seek_gw_n_tensors(w); i++) {
        seek_dtype t = out_type(w, i, types[ti].type);
        if (t != seek_gw_tensor_type(w, i, NULL)) st = seek_gw_retype(w, i, t);
    }
    if (!st) {
        seek_gw_u32(w, "general.file_type", types[ti].ftype);
        if (types[ti].type == SEEK_TYPE_Q8_0) seek_gw_u32(w, "general.quantization_version", 2);
        bool tty = isatty(2);
        st = seek_gw_write(w, out, progress, &tty);
    }
    if (st) fprintf(stderr, "seek convert: %s\n", st == SEEK_ERR_NOMEM && !w ? "out of memory" : seek_last_error());
    else fprintf(stderr, "seek convert: wrote %s (%zu tensors, %s)\n", out, seek_gw_n_tensors(w), types[ti].name);
    seek_gw_free(w);
    seek_hf_keep_free(keep);
    return st ? 1 : 0;
}
