/* Writing a model file from the CLI, shared by seek convert and seek quantize: a progress bar and
 * a size summary (before -> after, bits per weight) on stderr around seek_gw_write.
 * Printing only: the choices of types are made in libseek (quant/quantize.h). */
#ifndef SEEK_TOOLS_GGUF_OUT_H
#define SEEK_TOOLS_GGUF_OUT_H

#include "format/gguf_write.h"

/* Whether path can be written (not a directory; path.tmp can be created), before long work: 0,
 * or 1 after printing "CMD: <why not>". */
int gguf_out_check(const char *cmd, const char *path);
/* The bytes of w's tensors as held now. */
uint64_t gguf_out_held_bytes(const seek_gguf_writer *w);

/* Writes w to path (path.tmp, renamed when complete) with n_threads, then prints
 * "CMD: A MiB (x bpw) -> B MiB (y bpw)" and "CMD: wrote PATH (N tensors, WHAT)". Returns the exit
 * code: 0, or 1 after printing "CMD: <the error>". before: the input's bytes (0: w's held bytes). */
int gguf_out_write(const char *cmd, seek_gguf_writer *w, const char *path, const char *what, int n_threads, uint64_t before);

#endif
