/* Hugging Face model folders: config.json, model.safetensors (or shards named by
 * model.safetensors.index.json), tokenizer.json and tokenizer_config.json, read into a GGUF writer
 * exactly as llama.cpp's convert_hf_to_gguf.py would lay them out (same metadata keys, tensor
 * names, shapes and the q/k row permutation of llama-style rope), so the model loader and
 * `seek convert` share one path: loading a folder is converting it in memory.
 * Weights stay in place in the safetensors mappings where their layout allows (F32, F16, BF16 2-D
 * weights); permuted, split, stacked (experts) and FP8 weights (dequantized to BF16 with their
 * 128x128 weight_scale_inv blocks) are copies. Not for the forward pass (arch_*.c). */
#ifndef SEEK_MODEL_HF_H
#define SEEK_MODEL_HF_H

#include <stdbool.h>

#include "format/gguf_write.h"

/* True when path is a directory holding a config.json. */
bool seek_hf_is_folder(const char *path);

/* Fills w with the metadata and tensors of the folder. *keep receives what the tensors point
 * into (the safetensors mappings); free it with seek_hf_keep_free after the writer is done.
 * mtp: keep DeepSeek-V3's multi-token-prediction layers (model.layers.N for N >= num_hidden_layers)
 * as blk.N.* + blk.N.nextn.* with {arch}.nextn_predict_layers (block_count then counts them, as
 * llama.cpp's newer MTP archs do); without it they are dropped, as llama.cpp's deepseek2
 * converter drops them (its deepseek2 loader refuses files with extra tensors). */
typedef struct seek_hf_keep seek_hf_keep;
seek_status seek_hf_read(seek_gguf_writer *w, const char *dir, bool mtp, seek_hf_keep **keep);
void seek_hf_keep_free(seek_hf_keep *k);

/* The tokenizer part of seek_hf_read: tokenizer.json + tokenizer_config.json -> tokenizer.* keys.
 * n_vocab is config.json's vocab_size (the embedding rows; the token list is padded to it). */
typedef struct json_t json_t;
seek_status seek_hf_read_tokenizer(seek_gguf_writer *w, const char *dir, const json_t *config, int64_t n_vocab);

/* Reads and parses a JSON file (at most 1 GiB); errors name the file, line and column. */
seek_status seek_hf_json_load(json_t **out, const char *dir, const char *name);

#endif
