/* seek-roofline: this machine's ceilings, for reading benchmark numbers as fractions of them:
 * DRAM read bandwidth (a 1 GiB buffer summed by every thread), fp32 FMA peak (independent
 * AVX2 FMA chains) and int8 dot-product peak (AVX2 maddubs chains, 32 multiply-adds per
 * instruction, summed in int16 as the block kernels do), each with -t threads, best of 3.
 * Prints one JSON object.
 * usage: seek-roofline [-t 2] */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF_BYTES (1ull << 30)
#define FMA_ITERS 50000000ull
#define I8_ITERS 50000000ull

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct { int kind, ith, nth; const float *buf; double sink; } job;

static void *work(void *arg) {
    job *j = arg;
    if (j->kind == 0) { /* read bandwidth */
        size_t n = BUF_BYTES / sizeof(float), per = n / (size_t)j->nth;
        const float *p = j->buf + per * (size_t)j->ith;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i + 32 <= per; i += 32) {
            a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
            a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
            a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
            a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
        }
        float t[8];
        _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        j->sink = t[0] + t[7];
    } else if (j->kind == 1) { /* fp32 FMA: 12 independent chains hide the 4-cycle latency of 2 pipes */
        __m256 c[12], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
        _Pragma("GCC unroll 12") for (int k = 0; k < 12; k++) c[k] = _mm256_set1_ps((float)k);
        for (unsigned long long i = 0; i < FMA_ITERS; i++)
            _Pragma("GCC unroll 12") for (int k = 0; k < 12; k++) c[k] = _mm256_fmadd_ps(c[k], x, y);
        float t[8];
        __m256 s = c[0];
        _Pragma("GCC unroll 12") for (int k = 1; k < 12; k++) s = _mm256_add_ps(s, c[k]);
        _mm256_storeu_ps(t, s);
        j->sink = t[0];
    } else { /* int8: maddubs (32 u8*i8 products) summed in int16 as the kernels do, 6 chains;
              * the empty asm makes the inputs look new each time so the products are not hoisted */
        __m256i c[6], u[6], b = _mm256_set1_epi8(-2);
        _Pragma("GCC unroll 6") for (int k = 0; k < 6; k++) c[k] = _mm256_set1_epi32(k), u[k] = _mm256_set1_epi8((char)(3 + k));
        for (unsigned long long i = 0; i < I8_ITERS; i++)
            _Pragma("GCC unroll 6") for (int k = 0; k < 6; k++) {
                __asm__("" : "+x"(u[k]));
                c[k] = _mm256_add_epi16(c[k], _mm256_maddubs_epi16(u[k], b));
            }
        __m256i s = c[0];
        _Pragma("GCC unroll 6") for (int k = 1; k < 6; k++) s = _mm256_add_epi16(s, c[k]);
        j->sink = _mm256_extract_epi32(s, 0);
    }
    return NULL;
}

static double run(int kind, int nth, const float *buf) {
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t th[64];
        job jobs[64];
        double t0 = now();
        for (int i = 0; i < nth; i++) {
            jobs[i] = (job){kind, i, nth, buf, 0};
            pthread_create(&th[i], NULL, work, &jobs[i]);
        }
        for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv) {
    int nth = 2;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "-t")) nth = atoi(argv[i + 1]);
    if (nth < 1 || nth > 64) {
        fprintf(stderr, "seek-roofline: -t must be 1..64\n");
        return 2;
    }
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "seek-roofline: needs AVX2 and FMA\n");
        return 1;
    }
    float *buf = aligned_alloc(64, BUF_BYTES);
    if (!buf) {
        fprintf(stderr, "seek-roofline: cannot allocate 1 GiB\n");
        return 1;
    }
    for (size_t i = 0; i < BUF_BYTES / sizeof(float); i++) buf[i] = (float)(i & 7);
    double t_bw = run(0, nth, buf), t_fma = run(1, nth, buf), t_i8 = run(2, nth, buf);
    printf("{\"threads\": %d, \"read_gbs\": %.2f, \"fma_gflops\": %.1f, \"int8_gops\": %.1f}\n", nth,
           (double)BUF_BYTES / t_bw / 1e9, (double)FMA_ITERS * 12 * 8 * 2 * nth / t_fma / 1e9,
           (double)I8_ITERS * 6 * 32 * 2 * nth / t_i8 / 1e9);
    free(buf);
    return 0;
}
