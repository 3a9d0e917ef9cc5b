/* GGUF writer: collects metadata and tensors, then either writes a GGUF v3 file (to a temporary
 * name, renamed into place only when complete, so a failed write never leaves a broken file) or
 * turns itself into an in-memory seek_gguf whose tensors point at the collected data (how a
 * Hugging Face folder is loaded: model/hf_load.c builds one of these).
 * Tensor data is referenced, not copied; a tensor added with `owned` is freed with the writer.
 * A tensor may be written in another type than it is held in (convert --type, quantize): rows
 * are dequantized and requantized with the scalar reference kernels, so the bytes match ggml's
 * (whatever the number of threads: each row is quantized on its own).
 * Not for reading GGUF (gguf.c). */
#ifndef SEEK_FORMAT_GGUF_WRITE_H
#define SEEK_FORMAT_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"

typedef struct seek_gguf_writer seek_gguf_writer;

seek_gguf_writer *seek_gw_new(void);
void seek_gw_free(seek_gguf_writer *w);

/* Metadata, in the order added (keys must be unique; a repeated key is an error at write time).
 * Allocation failures are remembered and reported by seek_gw_write / seek_gguf_from_writer. */
void seek_gw_u32(seek_gguf_writer *w, const char *key, uint32_t v);
void seek_gw_i32(seek_gguf_writer *w, const char *key, int32_t v);
void seek_gw_u64(seek_gguf_writer *w, const char *key, uint64_t v);
void seek_gw_f32(seek_gguf_writer *w, const char *key, float v);
void seek_gw_bool(seek_gguf_writer *w, const char *key, bool v);
void seek_gw_str(seek_gguf_writer *w, const char *key, const char *s);
void seek_gw_str_n(seek_gguf_writer *w, const char *key, const char *s, size_t len);
void seek_gw_arr_str(seek_gguf_writer *w, const char *key, const char *const *s, size_t n);
void seek_gw_arr_i32(seek_gguf_writer *w, const char *key, const int32_t *v, size_t n);
void seek_gw_arr_f32(seek_gguf_writer *w, const char *key, const float *v, size_t n);
/* Copies one metadata entry read from another file (seek_gguf_find), keeping its type. */
seek_status seek_gw_copy(seek_gguf_writer *w, const gguf_kv *kv);

/* Adds a tensor of shape ne[0..n_dims) (ne[0] contiguous) held in `type` at `data`. */
seek_status seek_gw_tensor(seek_gguf_writer *w, const char *name, seek_dtype type, int n_dims, const int64_t *ne,
                           const void *data, bool owned);
size_t seek_gw_n_tensors(const seek_gguf_writer *w);
const char *seek_gw_tensor_name(const seek_gguf_writer *w, size_t i);
/* The type tensor i is held in, and its shape. */
seek_dtype seek_gw_tensor_type(const seek_gguf_writer *w, size_t i, int64_t ne[4]);
/* Tensor i is written as `type` (seek_gw_write only); the row length must fit its blocks and
 * both the held and the written type need kernels (to_float / from_float). */
seek_status seek_gw_retype(seek_gguf_writer *w, size_t i, seek_dtype type);
/* Tensor i's data becomes `data`, held and written as `type` (same shape; a quantizer that made
 * the bytes itself, as GPTQ does). Data the writer owned is freed; `owned` data will be. */
void seek_gw_set_data(seek_gguf_writer *w, size_t i, seek_dtype type, const void *data, bool owned);
/* The type tensor i will be written in (its held type unless retyped). */
seek_dtype seek_gw_tensor_out_type(const seek_gguf_writer *w, size_t i);
/* Bytes of tensor i as held / as it will be written. */
uint64_t seek_gw_tensor_bytes(const seek_gguf_writer *w, size_t i, bool written);

/* The metadata and tensor list collected so far as a seek_gguf with no tensor data, to read keys
 * back (seek_gguf_get_*); close it with seek_gguf_close. The writer is unchanged. */
seek_status seek_gw_view(const seek_gguf_writer *w, seek_gguf **out);

/* Threads seek_gw_write quantizes rows with (default 1). */
void seek_gw_set_threads(seek_gguf_writer *w, int n_threads);

/* Called after each tensor with bytes written so far and in total. */
typedef void (*seek_gw_progress)(void *arg, uint64_t done, uint64_t total);
/* Writes path.tmp then renames it to path. */
seek_status seek_gw_write(seek_gguf_writer *w, const char *path, seek_gw_progress progress, void *arg);

/* A seek_gguf over the writer's metadata and tensors (written types must equal held types). It
 * takes ownership of w: seek_gguf_close() frees both. On error w is freed too. */
seek_status seek_gguf_from_writer(seek_gguf **out, seek_gguf_writer *w);

#endif
