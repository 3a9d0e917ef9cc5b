/* Training ops, forward and backward (see grad.h). Plain C over float with double accumulators
 * where a sum runs over a whole row; attention is split over threads by (sequence, kv head) so
 * no two threads write the same gradient rows. Not for inference. */
#include "kernels/grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/vec.h"

void rmsnorm_forward(float *y, int64_t sy, float *rstd, const float *x, int64_t sx, const float *w, int64_t n, int64_t d, float eps) {
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * sx;
        float *yr = y + r * sy;
        double ss = 0;
        for (int64_t i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        const float rs = (float)(1.0 / sqrt(ss / (double)d + eps));
        rstd[r] = rs;
        for (int64_t i = 0; i < d; i++) yr[i] = xr[i] * rs * w[i];
    }
}

/* y = x * r * w, r = (mean(x^2) + eps)^-1/2:
 * dw += dy * x * r;  dx += r * w * dy - x * r^3 / d * sum(w * dy * x) */
void rmsnorm_backward(float *dx, int64_t sdx, float *dw, const float *dy, int64_t sdy, const float *x, int64_t sx,
                      const float *w, const float *rstd, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * sx, *dyr = dy + r * sdy;
        float *dxr = dx + r * sdx;
        const float rs = rstd[r];
        double dot = 0;
        for (int64_t i = 0; i < d; i++) {
            dot += (double)w[i] * dyr[i] * xr[i];
            dw[i] += dyr[i] * xr[i] * rs;
        }
        const float c = (float)(dot * rs * rs * rs / (double)d);
        for (int64_t i = 0; i < d; i++) dxr[i] += rs * w[i] * dyr[i] - xr[i] * c;
    }
}

void rope_apply(float *x, int64_t s, int64_t n, int64_t n_heads, int64_t head_stride, int64_t at, int64_t d,
                const int32_t *pos, const float *cos_t, const float *sin_t, bool inverse) {
    const int64_t half = d / 2;
    for (int64_t r = 0; r < n; r++) {
        const float *c = cos_t + (int64_t)pos[r] * half, *sn = sin_t + (int64_t)pos[r] * half;
        for (int64_t h = 0; h < n_heads; h++) {
            float *v = x + r * s + h * head_stride + at;
            for (int64_t i = 0; i < half; i++) {
                const float a = v[2 * i], b = v[2 * i + 1], si = inverse ? -sn[i] : sn[i];
                v[2 * i] = a * c[i] - b * si;
                v[2 * i + 1] = a * si + b * c[i];
            }
        }
    }
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void swiglu_forward(float *a, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) a[i] = g[i] * sigmoidf(g[i]) * u[i];
}

void swiglu_backward(float *dg, float *du, const float *da, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float sg = sigmoidf(g[i]), silu = g[i] * sg;
        du[i] += da[i] * silu;
        dg[i] += da[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
    }
}

typedef struct {
    float *o, *p, *dq, *dk, *dv, *scratch;
    const float *q, *k, *v, *dout;
    const attn_dims *a;
} attn_job;

/* the keys query i of sequence b sees: [lo, M + i] */
static inline int64_t attn_lo(const attn_dims *a, int64_t b, int64_t i) {
    int64_t lo = a->mlen ? a->M - a->mlen[b] : 0;
    if (a->window > 0 && a->M + i - a->window + 1 > lo) lo = a->M + i - a->window + 1;
    return lo;
}

/* The keys of (b, kh) that some query sees: [attn_lo(b, 0), M + T). Rows before it (memory
 * not valid for this sequence) are never read, so they may hold anything. */
static inline int64_t attn_key0(const attn_dims *a, int64_t b) { return attn_lo(a, b, 0); }

/* One (sequence, query head) at a time, as three products: S = Q K^T over the keys any query
 * of the sequence sees, each row scaled, biased (ALiBi), masked to [attn_lo, M + i] and
 * softmaxed into P (zeros outside), then O = P V. The masked products cost a little work the
 * row-by-row form skipped; the GEMM kernel more than pays for it. */
static void attn_fwd_fn(const seek_exec *ex, void *arg) {
    const attn_job *J = arg;
    const attn_dims *a = J->a;
    const seek_vec_kernels *vk = seek_vec();
    const int64_t group = a->H / a->Hkv, T = a->T, Tk = a->M + a->T, od = a->H * a->dv;
    int64_t lo, hi;
    seek_split(a->B * a->Hkv, ex->ith, ex->nth, &lo, &hi);
    for (int64_t job = lo; job < hi; job++) {
        const int64_t b = job / a->Hkv, kh = job % a->Hkv, k0 = attn_key0(a, b), nk = Tk - k0;
        const float *kb = J->k + (b * Tk + k0) * a->sk + kh * a->dk, *vb = J->v + (b * Tk + k0) * a->sv + kh * a->dv;
        for (int64_t h = kh * group; h < (kh + 1) * group; h++) {
            const float slope = a->slopes ? a->slopes[h] : 0.0f;
            float *P = J->p + (b * a->H + h) * T * Tk;
            seek_gemm_f32(NULL, false, true, T, nk, a->dk, J->q + b * T * a->sq + h * a->dk, a->sq, kb, a->sk, 0.0f, P + k0, Tk);
            for (int64_t i = 0; i < T; i++) {
                float *pi = P + i * Tk;
                const int64_t j0 = attn_lo(a, b, i), j1 = a->M + i;
                const int32_t n = (int32_t)(j1 - j0 + 1);
                const float mx = vk->scale_max(pi + j0, n, a->scale, slope, n - 1, 0);
                const float sum = vk->exp_sum(pi + j0, n, mx);
                vk->scale(pi + j0, 1.0f / sum, n);
                memset(pi, 0, (size_t)j0 * sizeof *pi);
                memset(pi + j1 + 1, 0, (size_t)(Tk - j1 - 1) * sizeof *pi);
            }
            seek_gemm_f32(NULL, false, false, T, a->dv, nk, P + k0, Tk, vb, a->sv, 0.0f, J->o + b * T * od + h * a->dv, od);
        }
    }
}

void attention_forward(seek_pool *pool, float *o, float *p, const float *q, const float *k, const float *v, const attn_dims *a) {
    attn_job J = {.o = o, .p = p, .q = q, .k = k, .v = v, .a = a};
    if (pool) seek_pool_run(pool, attn_fwd_fn, &J);
    else attn_fwd_fn(&(seek_exec){0, 1, NULL}, &J);
}

/* s = scale q.k (+ bias), p = softmax(s), o = sum p v, per (sequence, head) as products:
 * dP = dO V^T;  dS = scale * P o (dP - rowsum(P o dP));  dQ += dS K;  dK += dS^T Q;  dV += P^T dO
 * over the keys any query of the sequence sees (P and dS are zero outside each row's keys). */
static void attn_bwd_fn(const seek_exec *ex, void *arg) {
    const attn_job *J = arg;
    const attn_dims *a = J->a;
    const int64_t group = a->H / a->Hkv, T = a->T, Tk = a->M + a->T, od = a->H * a->dv;
    float *dS = J->scratch + ex->ith * T * Tk;
    int64_t lo, hi;
    seek_split(a->B * a->Hkv, ex->ith, ex->nth, &lo, &hi);
    for (int64_t job = lo; job < hi; job++) {
        const int64_t b = job / a->Hkv, kh = job % a->Hkv, k0 = attn_key0(a, b), nk = Tk - k0;
        const int64_t koff = (b * Tk + k0) * a->sk + kh * a->dk, voff = (b * Tk + k0) * a->sv + kh * a->dv;
        for (int64_t h = kh * group; h < (kh + 1) * group; h++) {
            const float *P = J->p + (b * a->H + h) * T * Tk + k0, *dO = J->dout + b * T * od + h * a->dv;
            const int64_t qoff = b * T * a->sq + h * a->dk;
            seek_gemm_f32(NULL, false, true, T, nk, a->dv, dO, od, J->v + voff, a->sv, 0.0f, dS, nk);
            for (int64_t i = 0; i < T; i++) {
                const float *pi = P + i * Tk;
                float *di = dS + i * nk;
                double dot = 0;
                for (int64_t j = 0; j < nk; j++) dot += (double)pi[j] * di[j];
                for (int64_t j = 0; j < nk; j++) di[j] = pi[j] * (di[j] - (float)dot) * a->scale;
            }
            seek_gemm_f32(NULL, false, false, T, a->dk, nk, dS, nk, J->k + koff, a->sk, 1.0f, J->dq + qoff, a->sq);
            seek_gemm_f32(NULL, true, false, nk, a->dk, T, dS, nk, J->q + qoff, a->sq, 1.0f, J->dk + koff, a->sk);
            seek_gemm_f32(NULL, true, false, nk, a->dv, T, P, Tk, dO, od, 1.0f, J->dv + voff, a->sv);
        }
    }
}

void attention_backward(seek_pool *pool, float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *p,
                        const float *q, const float *k, const float *v, const attn_dims *a) {
    attn_job J = {.dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .dout = dout, .p = (float *)p, .q = q, .k = k, .v = v, .a = a};
    if (pool) seek_pool_run(pool, attn_bwd_fn, &J);
    else attn_bwd_fn(&(seek_exec){0, 1, NULL}, &J);
}

typedef struct {
    float *logits;
    const int32_t *targets;
    int64_t n, V;
    float scale;
    bool grad;
    double part[64];
} xent_job;

/* Row by row: the maximum, then the exponentials in chunks of XENT_CHUNK by the vector kernels
 * (in place when the gradient replaces the logits, in a copy otherwise: the same sums either
 * way), each chunk's float sum added in double. */
#define XENT_CHUNK 256
static void xent_fn(const seek_exec *ex, void *arg) {
    xent_job *J = arg;
    const seek_vec_kernels *vk = seek_vec();
    int64_t lo, hi;
    seek_split(J->n, ex->ith, ex->nth, &lo, &hi);
    double total = 0;
    float buf[XENT_CHUNK];
    for (int64_t r = lo; r < hi; r++) {
        float *l = J->logits + r * J->V;
        const int32_t t = J->targets[r];
        const float lt = l[t];
        const float mx = vk->scale_max(l, (int32_t)J->V, 1.0f, 0.0f, 0, 0); /* s * 1 - 0: unchanged */
        double sum = 0;
        for (int64_t i = 0; i < J->V; i += XENT_CHUNK) {
            const int32_t n = (int32_t)(J->V - i < XENT_CHUNK ? J->V - i : XENT_CHUNK);
            float *e = J->grad ? l + i : memcpy(buf, l + i, (size_t)n * sizeof *buf);
            sum += vk->exp_sum(e, n, mx);
        }
        total += mx + log(sum) - lt;
        if (J->grad) { /* l holds exp(l - mx) */
            const float c = J->scale / (float)J->n;
            vk->scale(l, (float)(c / sum), J->V);
            l[t] -= c;
        }
    }
    J->part[ex->ith] = total;
}

double softmax_xent(seek_pool *pool, float *logits, const int32_t *targets, int64_t n, int64_t V, float scale, bool grad) {
    xent_job J = {.logits = logits, .targets = targets, .n = n, .V = V, .scale = scale, .grad = grad};
    int nth = 1;
    if (pool && seek_pool_size(pool) <= 64) {
        nth = seek_pool_size(pool);
        seek_pool_run(pool, xent_fn, &J);
    } else {
        xent_fn(&(seek_exec){0, 1, NULL}, &J);
    }
    double total = 0;
    for (int i = 0; i < nth; i++) total += J.part[i];
    return total;
}

void round_bf16(float *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x7fffu + ((u >> 16) & 1)) & 0xffff0000u;
        memcpy(&dst[i], &u, 4);
    }
}

/* e4m3: 1 sign, 4 exponent (bias 7), 3 mantissa bits; largest 448, smallest normal 2^-6,
 * subnormal step 2^-9. Values are scaled so the block's amax maps to 448, rounded to the nearest
 * representable value (ties to even through nearbyint), and scaled back. */
static inline float e4m3_round(float x) {
    const float ax = fabsf(x);
    if (ax == 0) return 0;
    int e;
    frexpf(ax, &e); /* ax = f * 2^e, f in [0.5, 1) */
    int ue = e - 1; /* ax in [2^ue, 2^(ue+1)) */
    if (ue < -6) ue = -6;
    const float step = ldexpf(1.0f, ue - 3);
    float r = nearbyintf(ax / step) * step;
    if (r > 448.0f) r = 448.0f;
    return x < 0 ? -r : r;
}

void round_fp8_e4m3(float *dst, const float *src, int64_t n, int64_t block) {
    for (int64_t b0 = 0; b0 < n; b0 += block) {
        const int64_t b1 = b0 + block < n ? b0 + block : n;
        float amax = 0;
        for (int64_t i = b0; i < b1; i++) amax = fabsf(src[i]) > amax ? fabsf(src[i]) : amax;
        if (amax == 0 || !isfinite(amax)) {
            for (int64_t i = b0; i < b1; i++) dst[i] = src[i];
            continue;
        }
        const float s = amax / 448.0f;
        for (int64_t i = b0; i < b1; i++) dst[i] = e4m3_round(src[i] / s) * s;
    }
}
