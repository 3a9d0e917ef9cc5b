/* Quantizing a model file (seek quantize), and the type choices of seek convert: the file types
 * seek writes, opening the input (a GGUF file or a Hugging Face folder) into a GGUF writer, and
 * the tensor-by-tensor type choices llama.cpp's llama-quantize makes for each file type (the
 * rules are listed in quantize.c). With ggml's reference quantizers (kernels/quant_scalar.c) a
 * file quantized here has the same tensor types and the same bytes as llama-quantize's.
 * Not for the block formats (kernels/) or writing the file (format/gguf_write.c). */
#ifndef SEEK_QUANT_QUANTIZE_H
#define SEEK_QUANT_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "format/gguf_write.h"
#include "model/hf.h"

/* A file type: what most weights become, and the mix rules that go with it. */
typedef struct {
    const char *name;  /* as seek quantize takes it: "q4_k_m" */
    const char *label; /* llama.cpp's name of the file type: "Q4_K - Medium" */
    uint32_t ftype;    /* general.file_type (llama.cpp's llama_ftype number) */
    seek_dtype base;   /* the type most weights get */
} seek_ftype;

/* The file type named `name` (case-insensitive; q4_k_s / q5_k_s are aliases of q4_k / q5_k), or NULL. */
const seek_ftype *seek_ftype_find(const char *name);
/* The file type with general.file_type == ftype, or NULL. */
const seek_ftype *seek_ftype_by_id(uint32_t ftype);
/* "f32, f16, bf16, ..." for messages. */
const char *seek_ftype_names(void);

/* The input of a conversion: its metadata and tensors collected in a writer, the tensors pointing
 * into the input's mapping. */
typedef struct {
    seek_gguf_writer *w;
    seek_gguf *g;         /* a GGUF input (NULL for a folder) */
    seek_hf_keep *keep;   /* a Hugging Face folder's mappings (NULL for a GGUF) */
} seek_quant_input;

/* Opens path, a GGUF file or a Hugging Face folder (seek_hf_read; mtp as there), into in->w.
 * GGUF metadata is copied except general.file_type, general.quantization_version (set by whoever
 * chooses the types), general.alignment and split.* (the writer writes one file aligned to 32).
 * A folder's tensors take convert_hf_to_gguf.py's fixed choices (seek_convert_type) at their own
 * precision. On error in is left empty. */
seek_status seek_quant_input_open(seek_quant_input *in, const char *path, bool mtp);
void seek_quant_input_close(seek_quant_input *in);

/* The type convert_hf_to_gguf.py gives a tensor when asked for `want`: vectors keep their type
 * (the folder loader makes them f32), the MoE router (ffn_gate_inp) and its bias (exp_probs_b)
 * are f32, other weights `want`, or f16 where a row does not fit want's blocks. */
seek_dtype seek_convert_type(const char *name, const int64_t ne[4], seek_dtype held, seek_dtype want);

typedef struct {
    seek_dtype output_type; /* --keep-output: output.weight (and a tied token_embd) in this type;
                               SEEK_TYPE_COUNT: the rules choose */
    bool allow_requantize;  /* a quantized input tensor may be written in another type */
} seek_quant_params;

typedef struct {
    seek_dtype type;   /* written */
    seek_dtype wanted; /* the rules' choice before the row-length fallback (== type unless it fell back) */
} seek_quant_choice;

/* Chooses the written type of every tensor of w for file type ft as llama-quantize does, retypes
 * the tensors (seek_gw_retype) and sets general.file_type and general.quantization_version.
 * choice (optional, one per tensor in w's order) receives each choice. Reads the architecture,
 * {arch}.block_count and {arch}.expert_count from w's metadata. Errors (after which w is only
 * fit to be freed): a quantized tensor that would change type without allow_requantize, a type
 * seek cannot convert from, a MoE tensor whose layer cannot be told from its name. */
seek_status seek_quant_apply(seek_gguf_writer *w, const seek_ftype *ft, const seek_quant_params *p, seek_quant_choice *choice);

#endif
