/* Block-format kernels: dequantize a row, quantize a row (weights or activations), and the dot
 * product of one weight row with one activation row. One table per element type per ISA:
 * the scalar table is the specification; AVX2 / AVX-512 tables must match it (bit-exact for
 * the integer parts, float sums within the tolerance stated in tests/test_kernels.c).
 * Not for whole matmuls (kernels/matmul.c) or the choice of ISA (kernels/dispatch.c). */
#ifndef SEEK_KERNELS_QUANT_H
#define SEEK_KERNELS_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/dtype.h"

typedef enum {
    SEEK_ISA_SCALAR = 0,
    SEEK_ISA_AVX2,   /* AVX2 + FMA + F16C */
    SEEK_ISA_AVX512, /* AVX-512 F/BW/VL (+ VNNI where present) */
    SEEK_ISA_COUNT,
} seek_isa;

typedef void (*seek_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*seek_from_float_fn)(const float *src, void *dst, int64_t n);
/* *out = sum_i w[i] * a[i] over n values; w is a row of the weight type, a a row of act_type. */
typedef void (*seek_vec_dot_fn)(int64_t n, float *out, const void *w, const void *a);

/* out[t * out_stride + r] = dot(row r of w, row t of a) for r < n_rows, t < n_tok: a tiled
 * matrix product (weights unpacked once per tile of tokens, activations loaded once per tile of
 * rows). Every output is rounded exactly as this table's vec_dot rounds it, whatever the tile,
 * so batching never changes a result. Optional: op_matmul loops over vec_dot without it. */
typedef void (*seek_gemm_fn)(int64_t n, float *out, int64_t out_stride, const void *w, size_t w_stride, int64_t n_rows,
                             const void *a, size_t a_stride, int64_t n_tok);

/* Weights repacked once at load into the layout a variant's own gemm reads fastest (rows
 * interleaved in panels of `repack_rows`). repack writes rows [0, n_rows) of w (n_rows a multiple
 * of repack_rows) into dst, which has the same size as w, so row r0 (a multiple of repack_rows)
 * starts at r0 * row bytes in both; false (nothing written) for rows it cannot take (too long).
 * gemm_packed takes such panels where gemm takes rows. */
typedef bool (*seek_repack_fn)(int64_t n, int64_t n_rows, void *dst, const void *w);

typedef struct {
    seek_dtype type;          /* the weight type */
    seek_dtype act_type;      /* what vec_dot wants the activations in: F32, Q8_0, Q8_1 or Q8_K */
    seek_to_float_fn to_float;      /* dequantize n values (n a multiple of the block size) */
    seek_from_float_fn from_float;  /* quantize n values into this type (reference quantizer) */
    seek_vec_dot_fn vec_dot;
    seek_gemm_fn gemm;              /* only together with this table's own vec_dot */
    bool gemm_all_rows;             /* gemm blocks for the caches itself: give it all rows at once */
    /* Optional, only together with this table's vec_dot: gemm_packed rounds every output
     * exactly as vec_dot does on the rows repack was given. */
    seek_repack_fn repack;
    seek_gemm_fn gemm_packed;
    int repack_rows;
} seek_type_kernels;

/* The kernel table of `t` for `isa`; entries a variant lacks are filled from the scalar table.
 * NULL when no kernels exist for `t` (e.g. IQ types). */
const seek_type_kernels *seek_kernels_for(seek_dtype t, seek_isa isa);

/* The best ISA this CPU supports (cpuid + OS xsave state), and the ISA in use (the best one
 * unless SEEK_ISA=scalar|avx2|avx512 in the environment or seek_kernels_force_isa() said
 * otherwise). */
seek_isa seek_cpu_best_isa(void);
seek_isa seek_kernels_isa(void);
void seek_kernels_force_isa(seek_isa isa);
const char *seek_isa_name(seek_isa isa);

/* Shorthand for seek_kernels_for(t, seek_kernels_isa()). */
const seek_type_kernels *seek_kernels(seek_dtype t);

/* The grid of one quantized block of a weight type (Q4_0 .. Q8_0, Q4_K, Q5_K, Q6_K): value j of
 * the block is scale[j / sub] * q + offset[j / sub] for an integer level q in [qmin, qmax]
 * (n_sub sub-blocks). Levels are signed where the format centres them (Q4_0: -8..7, Q5_0:
 * -16..15, Q8_0: -127..127, Q6_K: -32..31) and 0..2^bits-1 where it has a min (Q4_1, Q5_1,
 * Q4_K, Q5_K). False for other types. */
typedef struct {
    int sub, n_sub, qmin, qmax;
    float scale[16], offset[16];
} seek_block_grid;
bool seek_block_grid_get(seek_dtype t, const void *blk, seek_block_grid *g);
/* Writes the levels q[0 .. block size) (each within the grid's range) into a quantized block,
 * keeping its scales and mins: what GPTQ uses to store the levels it chose. */
void seek_block_set_levels(seek_dtype t, void *blk, const int8_t *q);

#endif
