/* seek convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0]: a Hugging Face model folder to a
 * GGUF file that seek and llama.cpp both load (llama.cpp's metadata keys, tensor names and
 * layouts: model/hf.h). Vectors, the MoE router and its bias stay f32 (as llama.cpp keeps them);
 * other weights take --type (default f16, like llama.cpp's converter), or f16 where a row does
 * not fit q8_0's 32-value blocks (seek_convert_type). DeepSeek-V3's MTP layer is dropped unless
 * --mtp, as llama.cpp's converter drops it. Reading the folder and writing the file (OUT.tmp,
 * renamed when complete) are seek quantize's (quant/quantize.h, gguf_out.h). */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "core/status.h"
#include "gguf_out.h"
#include "quant/quantize.h"

static void usage(FILE *f) {
    fprintf(f, "usage: seek convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0] [--mtp]\n"
               "  --mtp keeps DeepSeek-V3's multi-token-prediction layer (llama.cpp's deepseek2 refuses such files)\n"
               "  HF_DIR holds config.json, model.safetensors (or shards + model.safetensors.index.json),\n"
               "  tokenizer.json and tokenizer_config.json\n"
               "  (seek quantize writes the other types, from a folder or a GGUF file)\n");
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
    const seek_ftype *ft = seek_ftype_find(type);
    if (!ft || (ft->base != SEEK_TYPE_F32 && ft->base != SEEK_TYPE_F16 && ft->base != SEEK_TYPE_BF16 && ft->base != SEEK_TYPE_Q8_0)) {
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
    seek_quant_input in;
    seek_status st = seek_quant_input_open(&in, dir, mtp);
    for (size_t i = 0; !st && i < seek_gw_n_tensors(in.w); i++) {
        int64_t ne[4];
        const seek_dtype held = seek_gw_tensor_type(in.w, i, ne);
        const seek_dtype t = seek_convert_type(seek_gw_tensor_name(in.w, i), ne, held, ft->base);
        if (t != seek_gw_tensor_out_type(in.w, i)) st = seek_gw_retype(in.w, i, t);
    }
    if (st) {
        fprintf(stderr, "seek convert: %s\n", seek_last_error());
        seek_quant_input_close(&in);
        return 1;
    }
    seek_gw_u32(in.w, "general.file_type", ft->ftype);
    if (ft->base == SEEK_TYPE_Q8_0) seek_gw_u32(in.w, "general.quantization_version", 2);
    const int rc = gguf_out_write("seek convert", in.w, out, ft->name, 1, 0);
    seek_quant_input_close(&in);
    return rc;
}
