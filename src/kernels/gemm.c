/* Blocked fp32 GEMM (see gemm.h). Loops, outermost first: columns of C in NC blocks, k in KC
 * blocks (op(B)'s block packed into 16-wide panels), rows in MC blocks (op(A)'s block packed into
 * 6-tall panels), then the 6 x 16 tiles. Edge panels are zero-padded, so every element of C goes
 * through the same arithmetic wherever it sits: results do not depend on the thread split.
 * Each thread owns its packing buffers (thread-local, freed when the thread ends). */
#include "kernels/gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"

#define MR SEEK_GEMM_MR
#define NR SEEK_GEMM_NR
#define KC 256
#define MC 144 /* 24 panels: A block 144 KiB, in L2 */
#define NC 1024

typedef struct {
    bool ta, tb;
    int64_t M, N, K, lda, ldb, ldc;
    const float *A, *B;
    float *C;
    float beta;
    bool split_rows;
    seek_gemm_tile_fn tile;
    seek_gemm_pack_fn pack6, pack16; /* full panels across rows */
} gemm_job;

/* the scalar 6 x 16 tile: the specification of the SIMD one (which fuses the multiply-add) */
static void tile_scalar(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr, bool add) {
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++, a += MR, b += NR)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

/* the scalar packers of full panels: the specification of the SIMD ones */
static void pack6_scalar(float *dst, const float *const *src, int64_t kc) {
    for (int64_t k = 0; k < kc; k++)
        for (int64_t r = 0; r < MR; r++) dst[k * MR + r] = src[r][k];
}
static void pack16_scalar(float *dst, const float *const *src, int64_t kc) {
    for (int64_t k = 0; k < kc; k++)
        for (int64_t c = 0; c < NR; c++) dst[k * NR + c] = src[c][k];
}

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
static void buf_key_init(void) { pthread_key_create(&buf_key, free); }

/* this thread's packing buffer: A block then B block */
static float *thread_buffer(void) {
    pthread_once(&buf_once, buf_key_init);
    float *b = pthread_getspecific(buf_key);
    if (!b) {
        b = aligned_alloc(64, (size_t)(MC * KC + KC * NC) * sizeof(float));
        if (b) pthread_setspecific(buf_key, b);
    }
    return b;
}


/* op(A)[i0 .. i0+mc, p0 .. p0+kc) into 6-row panels: dst[(panel*kc + k)*6 + r] */
static void pack_a(float *dst, const gemm_job *j, int64_t i0, int64_t mc, int64_t p0, int64_t kc) {
    for (int64_t p = 0; p < mc; p += MR, dst += MR * kc) {
        const int64_t rows = mc - p < MR ? mc - p : MR;
        if (!j->ta) { /* k outer: sequential writes, six row streams */
            const float *src[MR];
            for (int64_t r = 0; r < MR; r++) src[r] = r < rows ? j->A + (i0 + p + r) * j->lda + p0 : NULL;
            if (rows == MR) {
                j->pack6(dst, src, kc);
            } else {
                for (int64_t k = 0; k < kc; k++)
                    for (int64_t r = 0; r < MR; r++) dst[k * MR + r] = r < rows ? src[r][k] : 0;
            }
        } else {
            for (int64_t k = 0; k < kc; k++) {
                const float *src = j->A + (p0 + k) * j->lda + i0 + p;
                for (int64_t r = 0; r < MR; r++) dst[k * MR + r] = r < rows ? src[r] : 0;
            }
        }
    }
}

/* op(B)[p0 .. p0+kc, j0 .. j0+nc) into 16-column panels: dst[(panel*kc + k)*16 + c] */
static void pack_b(float *dst, const gemm_job *j, int64_t p0, int64_t kc, int64_t j0, int64_t nc) {
    for (int64_t q = 0; q < nc; q += NR, dst += NR * kc) {
        const int64_t cols = nc - q < NR ? nc - q : NR;
        if (!j->tb) {
            for (int64_t k = 0; k < kc; k++) {
                const float *src = j->B + (p0 + k) * j->ldb + j0 + q;
                float *d = dst + k * NR;
                if (cols == NR) memcpy(d, src, NR * sizeof *d);
                else
                    for (int64_t c = 0; c < NR; c++) d[c] = c < cols ? src[c] : 0;
            }
        } else { /* k outer: sequential writes, sixteen row streams */
            const float *src[NR];
            for (int64_t c = 0; c < NR; c++) src[c] = c < cols ? j->B + (j0 + q + c) * j->ldb + p0 : NULL;
            if (cols == NR) {
                j->pack16(dst, src, kc);
            } else {
                for (int64_t k = 0; k < kc; k++)
                    for (int64_t c = 0; c < NR; c++) dst[k * NR + c] = c < cols ? src[c][k] : 0;
            }
        }
    }
}

/* C[m0..m1, n0..n1) of the product */
static void gemm_block(const gemm_job *j, float *buf, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    float *Ap = buf, *Bp = buf + MC * KC;
    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        for (int64_t pc = 0; pc < j->K; pc += KC) {
            const int64_t kc = j->K - pc < KC ? j->K - pc : KC;
            const bool add = pc > 0 || j->beta != 0.0f;
            pack_b(Bp, j, pc, kc, jc, nc);
            for (int64_t ic = m0; ic < m1; ic += MC) {
                const int64_t mc = m1 - ic < MC ? m1 - ic : MC;
                pack_a(Ap, j, ic, mc, pc, kc);
                for (int64_t q = 0; q < nc; q += NR)
                    for (int64_t p = 0; p < mc; p += MR)
                        j->tile(kc, Ap + p * kc, Bp + q * kc, j->C + (ic + p) * j->ldc + jc + q, j->ldc,
                                (int)(mc - p < MR ? mc - p : MR), (int)(nc - q < NR ? nc - q : NR), add);
            }
        }
    }
}

static void gemm_fn(const seek_exec *ex, void *arg) {
    const gemm_job *j = arg;
    float *buf = thread_buffer();
    if (!buf) return; /* out of memory: C stays as it was (the caller's sizes are small) */
    int64_t lo, hi;
    if (j->split_rows) { /* in whole 6-row panels */
        seek_split((j->M + MR - 1) / MR, ex->ith, ex->nth, &lo, &hi);
        lo *= MR, hi = hi * MR < j->M ? hi * MR : j->M;
        if (lo < hi) gemm_block(j, buf, lo, hi, 0, j->N);
    } else { /* in whole 16-column panels */
        seek_split((j->N + NR - 1) / NR, ex->ith, ex->nth, &lo, &hi);
        lo *= NR, hi = hi * NR < j->N ? hi * NR : j->N;
        if (lo < hi) gemm_block(j, buf, 0, j->M, lo, hi);
    }
}

void seek_gemm_f32(seek_pool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (beta == 0.0f)
            for (int64_t m = 0; m < M; m++) memset(C + m * ldc, 0, (size_t)N * sizeof *C);
        return;
    }
    const bool avx2 = seek_kernels_isa() >= SEEK_ISA_AVX2;
    seek_gemm_tile_fn tile = avx2 ? seek_gemm_tile_avx2() : NULL;
    seek_gemm_pack_fn pack6 = avx2 ? seek_gemm_pack6_avx2() : NULL, pack16 = avx2 ? seek_gemm_pack16_avx2() : NULL;
    gemm_job j = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb, .ldc = ldc, .A = A, .B = B, .C = C,
                  .beta = beta, .tile = tile ? tile : tile_scalar, .pack6 = pack6 ? pack6 : pack6_scalar,
                  .pack16 = pack16 ? pack16 : pack16_scalar};
    const int nth = pool ? seek_pool_size(pool) : 1;
    /* splitting rows makes every thread pack all of op(B), splitting columns all of op(A): pack
     * the smaller one twice, as long as each thread gets a few panels */
    const bool rows_ok = (M + MR - 1) / MR >= 2 * nth, cols_ok = (N + NR - 1) / NR >= 2 * nth;
    j.split_rows = rows_ok && (!cols_ok || M >= N);
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    if (pool && nth > 1 && flops > 1e5) seek_pool_run(pool, gemm_fn, &j);
    else gemm_fn(&(seek_exec){0, 1, NULL}, &j);
}

void seek_gemm_f32_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float beta, float *C, int64_t ldc) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += (ta ? A[k * lda + m] : A[m * lda + k]) * (tb ? B[n * ldb + k] : B[k * ldb + n]);
            C[m * ldc + n] = beta != 0.0f ? C[m * ldc + n] + s : s;
        }
}
