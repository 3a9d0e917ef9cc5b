/* Chooses the kernel tables at run time: what the CPU and OS support (cpuid + xgetbv), what the
 * user asked for (SEEK_ISA=scalar|avx2|avx512, seek_kernels_force_isa), and one merged table per
 * ISA per type in which every kernel an ISA lacks comes from the ISA below it (so AVX-512 falls
 * back to AVX2, AVX2 to scalar). Not for the kernels themselves. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant_variants.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Everything the ISA files are compiled with (see CMakeLists.txt) must be checked here, since
 * the compiler may use any of it anywhere in those files. AVX-512 VNNI only where the AVX-512
 * file could not switch it off (seek_avx512_uses_vnni). */
static seek_isa detect_isa(void) {
    uint32_t a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return SEEK_ISA_SCALAR;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return SEEK_ISA_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return SEEK_ISA_SCALAR; /* OS saves XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return SEEK_ISA_SCALAR;
    const int avx2 = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
    if (!(avx2 && bmi2)) return SEEK_ISA_SCALAR;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    const int vnni = (c >> 11) & 1;
    /* opmask, upper halves of ZMM0-15, and ZMM16-31 state */
    if (f && dq && bw && vl && (vnni || !seek_avx512_uses_vnni) && (xcr0 & 0xe0) == 0xe0) return SEEK_ISA_AVX512;
    return SEEK_ISA_AVX2;
}
#else
static seek_isa detect_isa(void) { return SEEK_ISA_SCALAR; }
#endif

float seek_f16_table[1 << 16];

static seek_type_kernels merged[SEEK_ISA_COUNT][SEEK_TYPE_COUNT];
static seek_isa best_isa, env_isa;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic int forced_isa = -1; /* -1: none */

static void fill_missing(seek_type_kernels *k, const seek_type_kernels *below) {
    if (!k->to_float) k->to_float = below->to_float;
    if (!k->from_float) k->from_float = below->from_float;
    if (!k->vec_dot) {
        /* gemm must round as vec_dot does, so it only comes along with its own vec_dot */
        k->vec_dot = below->vec_dot;
        k->gemm = below->gemm;
        k->gemm_all_rows = below->gemm_all_rows;
        k->repack = below->repack;
        k->gemm_packed = below->gemm_packed;
        k->repack_rows = below->repack_rows;
    }
}

static const seek_type_kernels *variant_table(seek_isa isa, seek_dtype t) {
    switch (isa) {
    case SEEK_ISA_SCALAR: return seek_kernels_scalar(t);
    case SEEK_ISA_AVX2: return seek_kernels_avx2(t);
    case SEEK_ISA_AVX512: return seek_kernels_avx512(t);
    default: return NULL;
    }
}

static seek_isa parse_isa(const char *s, seek_isa fallback) {
    for (int i = 0; i < SEEK_ISA_COUNT; i++)
        if (s && strcmp(s, seek_isa_name((seek_isa)i)) == 0) return (seek_isa)i;
    return fallback;
}

static void init_tables(void) {
    for (uint32_t h = 0; h < (1u << 16); h++) seek_f16_table[h] = seek_f16_to_f32((seek_f16)h);
    for (int t = 0; t < SEEK_TYPE_COUNT; t++) {
        const seek_type_kernels *base = seek_kernels_scalar((seek_dtype)t);
        if (!base) continue; /* no kernels for this type: every ISA's entry stays empty */
        merged[SEEK_ISA_SCALAR][t] = *base;
        for (int isa = SEEK_ISA_SCALAR + 1; isa < SEEK_ISA_COUNT; isa++) {
            const seek_type_kernels *v = variant_table((seek_isa)isa, (seek_dtype)t);
            seek_type_kernels *k = &merged[isa][t];
            *k = v ? *v : (seek_type_kernels){0};
            k->type = base->type;
            k->act_type = base->act_type; /* the activation format is fixed per type, not per ISA */
            fill_missing(k, &merged[isa - 1][t]);
        }
    }
    best_isa = detect_isa();
    env_isa = parse_isa(getenv("SEEK_ISA"), best_isa);
    if (env_isa > best_isa) env_isa = best_isa; /* never pick what this CPU cannot run */
}

const seek_type_kernels *seek_kernels_for(seek_dtype t, seek_isa isa) {
    pthread_once(&init_once, init_tables);
    if ((unsigned)t >= SEEK_TYPE_COUNT || (unsigned)isa >= SEEK_ISA_COUNT) return NULL;
    const seek_type_kernels *k = &merged[isa][t];
    return k->to_float ? k : NULL;
}

seek_isa seek_cpu_best_isa(void) {
    pthread_once(&init_once, init_tables);
    return best_isa;
}

seek_isa seek_kernels_isa(void) {
    pthread_once(&init_once, init_tables);
    const int f = atomic_load(&forced_isa);
    return f >= 0 ? (seek_isa)f : env_isa;
}

void seek_kernels_force_isa(seek_isa isa) {
    pthread_once(&init_once, init_tables);
    if ((unsigned)isa >= SEEK_ISA_COUNT) return;
    atomic_store(&forced_isa, (int)(isa > best_isa ? best_isa : isa));
}

const char *seek_isa_name(seek_isa isa) {
    switch (isa) {
    case SEEK_ISA_SCALAR: return "scalar";
    case SEEK_ISA_AVX2: return "avx2";
    case SEEK_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

const seek_type_kernels *seek_kernels(seek_dtype t) { return seek_kernels_for(t, seek_kernels_isa()); }
