/* seek quantize IN OUT TYPE: a GGUF file (f32 / f16 / bf16 weights, or quantized ones with
 * --allow-requantize) or a Hugging Face folder, written with llama-quantize's tensor types for TYPE
 * (quant/quantize.c lists the rules) and ggml's reference quantizers, so the bytes match
 * llama-quantize's. OUT is written to OUT.tmp and renamed when complete. Argument parsing and
 * printing only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "core/status.h"
#include "gguf_out.h"
#include "quant/quantize.h"

static void usage(FILE *f) {
    fprintf(f, "usage: seek quantize IN OUT TYPE [--keep-output f16|q8_0|q6_k] [--allow-requantize] [-t N] [--verbose]\n"
               "  IN    a GGUF file or a Hugging Face model folder\n"
               "  TYPE  %s\n"
               "        (q4_k / q5_k are llama.cpp's Q4_K_S / Q5_K_S; q4_k_m / q5_k_m its Medium mixes)\n"
               "  --keep-output T      output.weight (and a tied token_embd) in type T instead of the rules' choice\n"
               "  --allow-requantize   accept an input that is already quantized (quality suffers)\n"
               "  -t N                 threads (default: all CPUs)\n"
               "  --verbose            print each tensor's type\n",
               seek_ftype_names());
}

static bool parse_threads(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > 512) return false;
    *out = (int)v;
    return true;
}

/* One line for the tensors that fell back to another type than the rules wanted. */
static void report_fallbacks(const seek_gguf_writer *w, const seek_quant_choice *ch, bool verbose) {
    size_t n_fb = 0, first = 0;
    for (size_t i = 0; i < seek_gw_n_tensors(w); i++)
        if (ch[i].type != ch[i].wanted && !n_fb++) first = i;
    if (!n_fb) return;
    int64_t ne[4];
    seek_gw_tensor_type(w, first, ne);
    fprintf(stderr, "seek quantize: warning: %zu of %zu tensors use a fallback type because their rows do not fit the wanted "
                    "type's blocks (%s: rows of %lld, %s -> %s)%s\n",
            n_fb, seek_gw_n_tensors(w), seek_gw_tensor_name(w, first), (long long)ne[0], seek_dtype_name(ch[first].wanted),
            seek_dtype_name(ch[first].type), verbose ? "" : "; --verbose lists them");
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3] = {0};
    int n_pos = 0, n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    bool verbose = false;
    seek_quant_params qp = {.output_type = SEEK_TYPE_COUNT, .allow_requantize = false};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--allow-requantize")) {
            qp.allow_requantize = true;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            verbose = true;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!v || !parse_threads(v, &n_threads)) {
                fprintf(stderr, "seek quantize: -t expects an integer in [1, 512], got '%s'\n", v ? v : "");
                return 1;
            }
            i++;
        } else if (!strcmp(a, "--keep-output") || !strcmp(a, "--output-tensor-type")) {
            const seek_ftype *t = v ? seek_ftype_find(v) : NULL;
            if (!t || (t->base != SEEK_TYPE_F16 && t->base != SEEK_TYPE_Q8_0 && t->base != SEEK_TYPE_Q6_K)) {
                fprintf(stderr, "seek quantize: %s expects f16, q8_0 or q6_k, got '%s'\n", a, v ? v : "");
                return 1;
            }
            qp.output_type = t->base;
            i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "seek quantize: unknown option '%s' (see seek quantize --help)\n", a);
            return 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "seek quantize: unexpected argument '%s' (usage: seek quantize IN OUT TYPE)\n", a);
            return 2;
        }
    }
    if (n_pos < 3) {
        usage(stderr);
        return 2;
    }
    if (n_threads < 1) n_threads = 1;
    const seek_ftype *ft = seek_ftype_find(pos[2]);
    if (!ft) {
        fprintf(stderr, "seek quantize: unknown type '%s' (%s)\n", pos[2], seek_ftype_names());
        return 1;
    }
    seek_quant_input in;
    seek_status st = seek_quant_input_open(&in, pos[0], false);
    if (st) {
        fprintf(stderr, "seek quantize: %s\n", seek_last_error());
        return 1;
    }
    seek_quant_choice *ch = calloc(seek_gw_n_tensors(in.w) + 1, sizeof *ch);
    st = ch ? seek_quant_apply(in.w, ft, &qp, ch) : seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    int rc = 1;
    if (st) {
        fprintf(stderr, "seek quantize: %s\n", seek_last_error());
    } else {
        for (size_t i = 0; verbose && i < seek_gw_n_tensors(in.w); i++) {
            int64_t ne[4];
            const seek_dtype held = seek_gw_tensor_type(in.w, i, ne);
            fprintf(stderr, "  %-40s [%lld x %lld x %lld] %-5s -> %s%s\n", seek_gw_tensor_name(in.w, i), (long long)ne[0],
                    (long long)ne[1], (long long)ne[2], seek_dtype_name(held), seek_dtype_name(ch[i].type),
                    ch[i].type != ch[i].wanted ? " (fallback)" : "");
        }
        report_fallbacks(in.w, ch, verbose);
        rc = gguf_out_write("seek quantize", in.w, pos[1], ft->name, n_threads);
    }
    free(ch);
    seek_quant_input_close(&in);
    return rc;
}
