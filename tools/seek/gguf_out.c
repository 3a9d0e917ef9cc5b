/* The progress bar and size summary of seek convert / seek quantize (gguf_out.h). */
#include "gguf_out.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

typedef struct {
    const char *cmd;
    bool tty;
} bar;

/* On a terminal a bar redrawn after every tensor; elsewhere only the finished bar. */
static void progress(void *arg, uint64_t done, uint64_t total) {
    const bar *b = arg;
    const int width = 40, fill = total ? (int)(width * done / total) : width;
    if (!b->tty && done != total) return;
    fprintf(stderr, "\r%s: [%.*s%*s] %3d%% %.1f / %.1f MiB", b->cmd, fill, "########################################", width - fill,
            "", total ? (int)(100 * done / total) : 100, (double)done / (1 << 20), (double)total / (1 << 20));
    if (done == total) fputc('\n', stderr);
}

int gguf_out_check(const char *cmd, const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "%s: cannot write '%s': it is a directory\n", cmd, path);
        return 1;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "%s: output path too long\n", cmd);
        return 1;
    }
    const bool existed = stat(tmp, &sb) == 0;
    FILE *f = fopen(tmp, "ab");
    if (!f) {
        fprintf(stderr, "%s: cannot create '%s': %s\n", cmd, tmp, strerror(errno));
        return 1;
    }
    fclose(f);
    if (!existed) unlink(tmp);
    return 0;
}

uint64_t gguf_out_held_bytes(const seek_gguf_writer *w) {
    uint64_t n = 0;
    for (size_t i = 0; i < seek_gw_n_tensors(w); i++) n += seek_gw_tensor_bytes(w, i, false);
    return n;
}

int gguf_out_write(const char *cmd, seek_gguf_writer *w, const char *path, const char *what, int n_threads, uint64_t before) {
    if (gguf_out_check(cmd, path)) return 1;
    uint64_t after = 0, n_elem = 0;
    const size_t n = seek_gw_n_tensors(w);
    if (!before) before = gguf_out_held_bytes(w);
    for (size_t i = 0; i < n; i++) {
        int64_t ne[4];
        seek_gw_tensor_type(w, i, ne);
        n_elem += (uint64_t)(ne[0] * ne[1] * ne[2] * ne[3]);
        after += seek_gw_tensor_bytes(w, i, true);
    }
    seek_gw_set_threads(w, n_threads);
    bar b = {cmd, isatty(2)};
    seek_status st = seek_gw_write(w, path, progress, &b);
    if (st) {
        fprintf(stderr, "%s%s: %s\n", b.tty ? "\n" : "", cmd, seek_last_error());
        return 1;
    }
    const double bpw = n_elem ? 8.0 / (double)n_elem : 0;
    fprintf(stderr, "%s: %.2f MiB (%.2f bits per weight) -> %.2f MiB (%.2f bits per weight)\n", cmd, (double)before / (1 << 20),
            (double)before * bpw, (double)after / (1 << 20), (double)after * bpw);
    fprintf(stderr, "%s: wrote %s (%zu tensors, %s)\n", cmd, path, n, what);
    return 0;
}
