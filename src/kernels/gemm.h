/* fp32 matrix product for training (and any float GEMM): C = beta*C + op(A) op(B), packed and
 * cache-blocked BLIS-style around a 6 x 16 register tile (AVX2 + FMA in x86/gemm_avx2.c, the
 * scalar tile here otherwise), threads splitting the rows of C. Deterministic: each element of C
 * sums k in the same blocks and order whatever the thread count, so a run is reproducible bit
 * for bit. Not for quantized weights (quant.h's gemm). */
#ifndef SEEK_KERNELS_GEMM_H
#define SEEK_KERNELS_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/threadpool.h"

/* C[M,N] = beta*C + op(A) * op(B), all row-major with leading dimensions (in floats).
 * op(A) is [M,K]: A[m*lda+k], or with ta: A[k*lda+m]. op(B) is [K,N]: B[k*ldb+n], or with tb: B[n*ldb+k].
 * beta is 0 (overwrite; C may hold NaN garbage) or 1 (accumulate). pool may be NULL (caller's thread only). */
void seek_gemm_f32(seek_pool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* The scalar reference: same contract, one thread, sums k in increasing order in float. */
void seek_gemm_f32_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float beta, float *C, int64_t ldc);

/* The 6 x 16 tile: acc[6][16] = sum_k a[k*6 + i] * b[k*16 + j] over packed panels of kc steps;
 * then C (ldc) rows 0..mr-1, cols 0..nr-1 get acc (store) or += acc (add). */
#define SEEK_GEMM_MR 6
#define SEEK_GEMM_NR 16
typedef void (*seek_gemm_tile_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr, bool add);
seek_gemm_tile_fn seek_gemm_tile_avx2(void); /* NULL where not compiled in */
/* A full panel packed across rows: dst[k*W + r] = src[r][k] for r < W, k < kc (W = 6 for op(A)
 * rows, 16 for op(B) columns read from B's rows under tb); dst 32-byte aligned. */
typedef void (*seek_gemm_pack_fn)(float *dst, const float *const *src, int64_t kc);
seek_gemm_pack_fn seek_gemm_pack6_avx2(void); /* NULL where not compiled in */
seek_gemm_pack_fn seek_gemm_pack16_avx2(void);

#endif
