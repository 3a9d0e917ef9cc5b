/* Tensor element types as GGUF numbers them, their block layouts byte by byte, and size helpers.
 * Quantized types store a row as consecutive blocks along ne[0]; a row's length must be a
 * multiple of the block size. Not for arithmetic: kernels/ does the math on these blocks. */
#ifndef SEEK_TENSOR_DTYPE_H
#define SEEK_TENSOR_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fp16.h"

typedef enum {
    SEEK_TYPE_F32 = 0,
    SEEK_TYPE_F16 = 1,
    SEEK_TYPE_Q4_0 = 2,
    SEEK_TYPE_Q4_1 = 3,
    SEEK_TYPE_Q5_0 = 6,
    SEEK_TYPE_Q5_1 = 7,
    SEEK_TYPE_Q8_0 = 8,
    SEEK_TYPE_Q8_1 = 9,
    SEEK_TYPE_Q2_K = 10,
    SEEK_TYPE_Q3_K = 11,
    SEEK_TYPE_Q4_K = 12,
    SEEK_TYPE_Q5_K = 13,
    SEEK_TYPE_Q6_K = 14,
    SEEK_TYPE_Q8_K = 15,
    SEEK_TYPE_I8 = 24,
    SEEK_TYPE_I16 = 25,
    SEEK_TYPE_I32 = 26,
    SEEK_TYPE_I64 = 27,
    SEEK_TYPE_F64 = 28,
    SEEK_TYPE_BF16 = 30,
    SEEK_TYPE_COUNT = 40, /* one past the largest id we know the size of */
} seek_dtype;

#define QK 32   /* values per block of the 32-wide formats */
#define QK_K 256 /* values per super-block of the k-quants */
#define K_SCALE_SIZE 12

/* Q4_0: x[j] = (nibble - 8) * d; low nibbles hold values 0..15, high nibbles 16..31. */
typedef struct { seek_f16 d; uint8_t qs[QK / 2]; } block_q4_0;
/* Q4_1: x = nibble * d + m. */
typedef struct { seek_f16 d; seek_f16 m; uint8_t qs[QK / 2]; } block_q4_1;
/* Q5_0: 5-bit values, the fifth bit of value j is bit j of qh; x = (q - 16) * d. */
typedef struct { seek_f16 d; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_0;
/* Q5_1: x = q * d + m. */
typedef struct { seek_f16 d; seek_f16 m; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_1;
/* Q8_0: x = q * d. */
typedef struct { seek_f16 d; int8_t qs[QK]; } block_q8_0;
/* Q8_1: x = q * d, s = d * sum(q) (ggml's activation format for *_1 types). */
typedef struct { seek_f16 d; seek_f16 s; int8_t qs[QK]; } block_q8_1;
/* Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in scales[12];
 * x = d * sc * q - dmin * m. */
typedef struct { seek_f16 d; seek_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
/* Q5_K: as Q4_K with a fifth bit per value in qh. */
typedef struct { seek_f16 d; seek_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
/* Q6_K: 16 sub-blocks of 16 with int8 scales; low 4 bits in ql, high 2 bits in qh; d is last. */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; seek_f16 d; } block_q6_K;
/* Q8_K: activations for k-quant dot products; bsums[i] = sum of qs[16i..16i+15]. */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(block_q8_1) == 36, "q8_1 layout");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(block_q8_K) == 292, "q8_K layout");

/* Values per block (1 for plain types), 0 for an id we do not know. */
int64_t seek_dtype_block_size(seek_dtype t);
/* Bytes per block, 0 for an id we do not know. */
size_t seek_dtype_block_bytes(seek_dtype t);
/* "q4_K" etc.; "unknown" for ids we do not know. */
const char *seek_dtype_name(seek_dtype t);
/* True when `t` is a valid id whose size we know (the loader accepts it). */
bool seek_dtype_known(seek_dtype t);
/* Bytes of a row of n values; n must be a multiple of the block size. */
size_t seek_dtype_row_bytes(seek_dtype t, int64_t n);

#endif
