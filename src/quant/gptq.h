/* GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022): quantizing a linear layer's weight W (rows =
 * outputs, columns = inputs) so that W x stays close on the inputs x the layer actually sees.
 * With H = sum over calibration inputs of x x^T, columns are quantized one at a time and each
 * column's rounding error is pushed onto the columns not yet quantized, weighted by the inverse
 * Hessian (its upper Cholesky factor U: H^-1 = U^T U):
 *     q_i = quant(w_i);  e = (w_i - q_i) / U_ii;  w_j -= e U_ij  for j > i,
 * the updates applied lazily, a block of columns at a time (one GEMM per block).
 *
 * The result is written in the ggml block formats, so every fast kernel reads it unchanged: a
 * block's scales (and mins) are chosen by the format's own reference quantizer from the block's
 * current (error-corrected) values when GPTQ reaches its first column, and the levels of its
 * columns are then chosen by GPTQ on that grid (kernels/quant.h seek_block_grid). With
 * activation order (columns taken by decreasing H_ii) the blocks' grids are fixed up front from
 * the original weights instead ("static groups"), because a block's columns are then not taken
 * together. Columns no calibration input touched (H_ii = 0) keep their weights and get H_ii = 1.
 *
 * seek_gptq_model runs the calibration: text in windows through the model layer by layer; the
 * residual stream of every window at the current layer's input is all that is kept (windows x
 * n_ctx x dim floats); the inputs of each linear layer are summed into H as they go by, so no
 * activations are ever collected. Each layer is quantized before the next one sees its output,
 * so later layers are calibrated on what the quantized model computes (as in the paper).
 * Not for choosing tensor types (quantize.c) or round-to-nearest quantization (kernels/). */
#ifndef SEEK_QUANT_GPTQ_H
#define SEEK_QUANT_GPTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "format/gguf_write.h"

typedef struct {
    float damp;        /* added to H's diagonal, as a fraction of its mean (0: 0.01) */
    int32_t block;     /* columns per lazy update (0: 128), rounded up to whole blocks of the format */
    bool act_order;    /* columns in order of decreasing H_ii */
} seek_gptq_opts;

/* The proxy loss of a quantization Q of W: sum over rows of (w - q) H (w - q)^T. */
typedef struct {
    double gptq, rtn; /* of GPTQ's result, and of the format's round-to-nearest quantizer */
} seek_gptq_loss;

/* Quantizes W (rows x cols floats, row-major) to type t (a 32- or 256-value block format) into
 * out (rows * row bytes), given H (cols x cols, the sum of x x^T, symmetric). W and H are not
 * changed. loss (optional) receives the proxy losses of the result and of round-to-nearest.
 * pool may be NULL. Errors: a type or row length GPTQ cannot write (SEEK_ERR_UNSUPPORTED, out
 * untouched); out of memory; H not positive definite even after damping (then out is left as
 * round-to-nearest and SEEK_ERR_INVALID returned). */
seek_status seek_gptq_matrix(seek_pool *pool, seek_dtype t, const float *W, int64_t rows, int64_t cols, const float *H,
                             const seek_gptq_opts *o, void *out, seek_gptq_loss *loss);

typedef struct {
    int32_t n_ctx;       /* tokens per calibration window (0: 512) */
    int32_t max_windows; /* windows of the text used at most (0: 128) */
    int32_t n_threads;   /* (0: 2) */
    seek_gptq_opts opts;
    bool verbose;        /* a line per tensor on stderr */
} seek_gptq_params;

typedef struct {
    int64_t n_tokens;         /* calibration tokens used (windows x n_ctx) */
    int32_t n_windows;
    int32_t n_matrices;       /* quantized by GPTQ (an expert counts once) */
    int32_t n_rtn;            /* left round-to-nearest: no calibration input reached them, or H failed */
    double loss_gptq, loss_rtn; /* summed proxy losses, each matrix's relative to its RTN loss */
} seek_gptq_stats;

/* Called after each layer: layers done of n_layer. */
typedef void (*seek_gptq_progress)(void *arg, int64_t done, int64_t n_layer);

/* GPTQ over a model being quantized: w holds model_path's tensors with their written types
 * chosen (seek_quant_apply); every tensor written in a block format that the forward pass
 * multiplies activations by (attention and feed-forward projections, experts, shared experts,
 * MLA's kv_a / q_a / q_b; not the embedding, the output head or MLA's per-head k_b / v_b) gets
 * GPTQ's bytes instead (seek_gw_set_data). Errors: the model does not load, the text is shorter
 * than one window, out of memory. */
seek_status seek_gptq_model(seek_gguf_writer *w, const char *model_path, const char *text, size_t len,
                            const seek_gptq_params *p, seek_gptq_progress progress, void *arg, seek_gptq_stats *stats);

#endif
