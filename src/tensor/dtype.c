/* Sizes and names of the tensor element types (the table in ggml's GGML_QUANT_SIZES). */
#include "tensor/dtype.h"

typedef struct { const char *name; int64_t block; size_t bytes; } dtype_info;

static const dtype_info infos[SEEK_TYPE_COUNT] = {
    [SEEK_TYPE_F32] = {"f32", 1, 4},
    [SEEK_TYPE_F16] = {"f16", 1, 2},
    [SEEK_TYPE_Q4_0] = {"q4_0", QK, sizeof(block_q4_0)},
    [SEEK_TYPE_Q4_1] = {"q4_1", QK, sizeof(block_q4_1)},
    [SEEK_TYPE_Q5_0] = {"q5_0", QK, sizeof(block_q5_0)},
    [SEEK_TYPE_Q5_1] = {"q5_1", QK, sizeof(block_q5_1)},
    [SEEK_TYPE_Q8_0] = {"q8_0", QK, sizeof(block_q8_0)},
    [SEEK_TYPE_Q8_1] = {"q8_1", QK, sizeof(block_q8_1)},
    [SEEK_TYPE_Q2_K] = {"q2_K", QK_K, 84},
    [SEEK_TYPE_Q3_K] = {"q3_K", QK_K, 110},
    [SEEK_TYPE_Q4_K] = {"q4_K", QK_K, sizeof(block_q4_K)},
    [SEEK_TYPE_Q5_K] = {"q5_K", QK_K, sizeof(block_q5_K)},
    [SEEK_TYPE_Q6_K] = {"q6_K", QK_K, sizeof(block_q6_K)},
    [SEEK_TYPE_Q8_K] = {"q8_K", QK_K, sizeof(block_q8_K)},
    [16] = {"iq2_xxs", QK_K, 66},
    [17] = {"iq2_xs", QK_K, 74},
    [18] = {"iq3_xxs", QK_K, 98},
    [19] = {"iq1_s", QK_K, 50},
    [20] = {"iq4_nl", QK, 18},
    [21] = {"iq3_s", QK_K, 110},
    [22] = {"iq2_s", QK_K, 82},
    [23] = {"iq4_xs", QK_K, 136},
    [SEEK_TYPE_I8] = {"i8", 1, 1},
    [SEEK_TYPE_I16] = {"i16", 1, 2},
    [SEEK_TYPE_I32] = {"i32", 1, 4},
    [SEEK_TYPE_I64] = {"i64", 1, 8},
    [SEEK_TYPE_F64] = {"f64", 1, 8},
    [29] = {"iq1_m", QK_K, 56},
    [SEEK_TYPE_BF16] = {"bf16", 1, 2},
    [34] = {"tq1_0", QK_K, 54},
    [35] = {"tq2_0", QK_K, 66},
    [39] = {"mxfp4", QK, 17},
};

bool seek_dtype_known(seek_dtype t) { return (unsigned)t < SEEK_TYPE_COUNT && infos[t].name != NULL; }
int64_t seek_dtype_block_size(seek_dtype t) { return seek_dtype_known(t) ? infos[t].block : 0; }
size_t seek_dtype_block_bytes(seek_dtype t) { return seek_dtype_known(t) ? infos[t].bytes : 0; }
const char *seek_dtype_name(seek_dtype t) { return seek_dtype_known(t) ? infos[t].name : "unknown"; }

size_t seek_dtype_row_bytes(seek_dtype t, int64_t n) {
    return (size_t)(n / seek_dtype_block_size(t)) * seek_dtype_block_bytes(t);
}
