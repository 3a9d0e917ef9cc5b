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
#include "core/mapfile.h"
#include "quant/gptq.h"
#include "quant/quantize.h"

static void usage(FILE *f) {
    fprintf(f, "usage: seek quantize IN OUT TYPE [--keep-output f16|q8_0|q6_k] [--allow-requantize] [-t N] [--verbose]\n"
               "                    [--gptq --calib FILE [-c 512] [--calib-windows 128] [--group 128] [--act-order] [--damp 0.01]]\n"
               "  IN    a GGUF file or a Hugging Face model folder\n"
               "  TYPE  %s\n"
               "        (q4_k / q5_k are llama.cpp's Q4_K_S / Q5_K_S; q4_k_m / q5_k_m its Medium mixes)\n"
               "  --keep-output T      output.weight (and a tied token_embd) in type T instead of the rules' choice\n"
               "  --allow-requantize   accept an input that is already quantized (quality suffers)\n"
               "  -t N                 threads (default: all CPUs)\n"
               "  --gptq               GPTQ instead of round-to-nearest for the attention / FFN / expert weights, from\n"
               "                       --calib FILE: text run through the model layer by layer in windows of -c tokens\n"
               "                       (at most --calib-windows of them); the same block formats, so the same kernels\n"
               "  --group N            columns per GPTQ lazy-update block (rounded up to whole blocks of the format;\n"
               "                       the quantization groups are the format's own: 32 values, or 16/32 in 256)\n"
               "  --act-order          GPTQ takes columns by decreasing activation energy (block scales then fixed up front)\n"
               "  --damp F             GPTQ dampening, a fraction of the Hessian's mean diagonal\n"
               "  --verbose            print each tensor's type\n",
               seek_ftype_names());
}

static bool parse_int(const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

static void gptq_progress(void *arg, int64_t done, int64_t n_layer) {
    const bool verbose = *(const bool *)arg; /* per-tensor lines in between: one line each */
    fprintf(stderr, "%sseek quantize: gptq layer %lld/%lld", verbose ? "" : "\r", (long long)done, (long long)n_layer);
    if (verbose || done == n_layer) fputc('\n', stderr);
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
    bool verbose = false, gptq = false;
    const char *calib = NULL;
    seek_gptq_params gp = {0};
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
            if (!parse_int(v, 1, 512, &n_threads)) {
                fprintf(stderr, "seek quantize: -t expects an integer in [1, 512], got '%s'\n", v ? v : "");
                return 1;
            }
            i++;
        } else if (!strcmp(a, "--gptq")) {
            gptq = true;
        } else if (!strcmp(a, "--act-order")) {
            gp.opts.act_order = true;
        } else if (!strcmp(a, "--calib")) {
            if (!v) {
                fprintf(stderr, "seek quantize: --calib expects a text file\n");
                return 1;
            }
            calib = v;
            i++;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size") || !strcmp(a, "--calib-windows") || !strcmp(a, "--group")) {
            int *dst = !strcmp(a, "--group") ? &gp.opts.block : !strcmp(a, "--calib-windows") ? &gp.max_windows : &gp.n_ctx;
            if (!parse_int(v, dst == &gp.n_ctx ? 8 : 1, 1 << 20, dst)) {
                fprintf(stderr, "seek quantize: %s expects a positive integer%s, got '%s'\n", a, dst == &gp.n_ctx ? " of at least 8" : "",
                        v ? v : "");
                return 1;
            }
            i++;
        } else if (!strcmp(a, "--damp")) {
            char *end = NULL;
            gp.opts.damp = v ? strtof(v, &end) : 0;
            if (!v || *end || end == v || !(gp.opts.damp > 0 && gp.opts.damp <= 10)) {
                fprintf(stderr, "seek quantize: --damp expects a number in (0, 10], got '%s'\n", v ? v : "");
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
    if (gptq != (calib != NULL)) {
        fprintf(stderr, "seek quantize: %s\n", gptq ? "--gptq needs calibration text: --calib FILE" : "--calib is only used with --gptq");
        return 1;
    }
    if (gptq && seek_dtype_block_size(ft->base) < 2) {
        fprintf(stderr, "seek quantize: --gptq writes block formats; %s has none (use q8_0, q4_0, q4_k_m, ...)\n", ft->name);
        return 1;
    }
    if (gguf_out_check("seek quantize", pos[1])) return 1; /* before the work, not at the end of it */
    const void *text = NULL;
    size_t text_len = 0;
    if (calib && seek_map_file(calib, &text, &text_len)) {
        fprintf(stderr, "seek quantize: --calib: %s\n", seek_last_error());
        return 1;
    }
    seek_quant_input in;
    seek_status st = seek_quant_input_open(&in, pos[0], false);
    if (st) {
        fprintf(stderr, "seek quantize: %s\n", seek_last_error());
        seek_unmap_file(text, text_len);
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
        seek_gptq_stats gs;
        const uint64_t before = gguf_out_held_bytes(in.w);
        gp.n_threads = n_threads;
        gp.verbose = verbose;
        if (gptq && (st = seek_gptq_model(in.w, pos[0], text ? text : "", text_len, &gp, gptq_progress, &verbose, &gs))) {
            fprintf(stderr, "seek quantize: --gptq: %s\n", seek_last_error());
        } else {
            if (gptq)
                fprintf(stderr, "seek quantize: gptq: %d matrices from %lld calibration tokens (%d windows); proxy loss %.3f of "
                                "round-to-nearest's on average%s\n",
                        gs.n_matrices, (long long)gs.n_tokens, gs.n_windows, gs.loss_rtn > 0 ? gs.loss_gptq / gs.loss_rtn : 1.0,
                        gs.n_rtn ? "; some experts saw no calibration token and stay round-to-nearest" : "");
            rc = gguf_out_write("seek quantize", in.w, pos[1], gptq ? (gp.opts.act_order ? "gptq, act order" : "gptq") : ft->name,
                                n_threads, before);
        }
    }
    free(ch);
    seek_quant_input_close(&in);
    seek_unmap_file(text, text_len);
    return rc;
}
