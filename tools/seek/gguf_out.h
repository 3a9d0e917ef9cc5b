/* Writing a model file from the CLI, shared by seek convert and seek quantize: a progress bar and
 * a size summary (before -> after, bits per weight) on stderr around seek_gw_write.
 * Printing only: the choices of types are made in libseek (quant/quantize.h). */
#ifndef SEEK_TOOLS_GGUF_OUT_H
#define SEEK_TOOLS_GGUF_OUT_H

#include "format/gguf_write.h"

/* Writes w to path (path.tmp, renamed when complete) with n_threads, then prints
 * "CMD: A MiB (x bpw) -> B MiB (y bpw)" and "CMD: wrote PATH (N tensors, WHAT)". Returns the exit
 * code: 0, or 1 after printing "CMD: <the error>". */
int gguf_out_write(const char *cmd, seek_gguf_writer *w, const char *path, const char *what, int n_threads);

#endif
