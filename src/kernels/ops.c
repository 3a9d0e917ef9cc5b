/* Scalar float ops of the forward pass (see ops.h); written plainly so the compiler vectorises
 * them; the heavy lifting is in the block-format dot products that op_matmul calls. */
#include "kernels/ops.h"

#include <math.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/vec.h"

/* The activations in the type the weights' kernels want (quantized once per input): returns
 * the rows and sets *act_row to their stride. */
static const void *act_for(const seek_exec *ex, const seek_type_kernels *k, int64_t n, seek_act *a, size_t *act_row) {
    if (k->act_type == SEEK_TYPE_F32) {
        *act_row = (size_t)n * sizeof(float);
        return a->x;
    }
    *act_row = seek_dtype_row_bytes(k->act_type, n);
    if (a->type != k->act_type) {
        const seek_type_kernels *qa = seek_kernels(k->act_type);
        int64_t lo, hi;
        seek_split(a->n_tok, ex->ith, ex->nth, &lo, &hi);
        for (int64_t t = lo; t < hi; t++) qa->from_float(a->x + t * n, (char *)a->buf + t * *act_row, n);
        a->type = k->act_type;
        seek_pool_barrier(ex);
    }
    return a->buf;
}

static bool is_packed(const seek_weight *w, const seek_type_kernels *k) {
    return w->packed && w->packed_by == k->repack && k->gemm_packed;
}

/* n_w (<= 4) weights repacked by k, all rows ne[0] long, on one input: their panels split across
 * the threads as one matrix, then one barrier. */
static void matmul_panels(const seek_exec *ex, const seek_type_kernels *k, int n_w, float *const *out, const int64_t *out_stride,
                          const seek_weight *const *w, seek_act *a) {
    const int64_t n = w[0]->ne[0], pr = k->repack_rows;
    int64_t first[5] = {0}; /* weight i's panels are [first[i], first[i + 1]) of them all */
    for (int i = 0; i < n_w; i++) first[i + 1] = first[i] + w[i]->ne[1] / pr;
    size_t act_row;
    const void *act = act_for(ex, k, n, a, &act_row);
    int64_t lo, hi; /* this thread's panels */
    seek_split(first[n_w], ex->ith, ex->nth, &lo, &hi);
    for (int i = 0; i < n_w; i++) {
        const int64_t p0 = lo > first[i] ? lo : first[i], p1 = hi < first[i + 1] ? hi : first[i + 1];
        if (p0 >= p1) continue;
        const int64_t r0 = (p0 - first[i]) * pr, r1 = (p1 - first[i]) * pr;
        k->gemm_packed(n, out[i] + r0, out_stride[i], (const char *)w[i]->packed + r0 * w[i]->row_bytes, w[i]->row_bytes, r1 - r0,
                       act, act_row, a->n_tok);
    }
    seek_pool_barrier(ex);
}

void op_matmul_n(const seek_exec *ex, int n_w, float *const *out, const int64_t *out_stride, const seek_weight *const *w,
                 seek_act *a) {
    const seek_type_kernels *k = seek_kernels(w[0]->type);
    bool fuse = !a->row_f32 && n_w <= 4;
    for (int i = 0; i < n_w && fuse; i++) fuse = w[i]->type == w[0]->type && w[i]->ne[0] == w[0]->ne[0] && is_packed(w[i], k);
    if (fuse) {
        matmul_panels(ex, k, n_w, out, out_stride, w, a);
        return;
    }
    for (int i = 0; i < n_w; i++) op_matmul(ex, out[i], out_stride[i], w[i], a);
}

void op_matmul(const seek_exec *ex, float *out, int64_t out_stride, const seek_weight *w, seek_act *a) {
    const seek_type_kernels *k = seek_kernels(w->type);
    const int64_t n = w->ne[0], rows = w->ne[1], n_tok = a->n_tok;
    if (a->row_f32 && k->act_type != SEEK_TYPE_F32) {
        const seek_type_kernels *kf = seek_kernels(SEEK_TYPE_F32);
        float *wf = a->row_f32 + (int64_t)ex->ith * n;
        int64_t lo, hi;
        seek_split(rows, ex->ith, ex->nth, &lo, &hi);
        for (int64_t r = lo; r < hi; r++) {
            k->to_float((const char *)w->data + r * w->row_bytes, wf, n);
            for (int64_t t = 0; t < n_tok; t++) kf->vec_dot(n, out + t * out_stride + r, wf, a->x + t * n);
        }
        seek_pool_barrier(ex);
        return;
    }
    if (is_packed(w, k)) { /* whole panels per thread */
        matmul_panels(ex, k, 1, &out, &out_stride, &w, a);
        return;
    }
    size_t act_row;
    const void *act = act_for(ex, k, n, a, &act_row);
    int64_t lo, hi;
    /* Cache blocking: a block of 16 weight rows stays in L1 while every activation row
     * passes by once, so activations are read from L2 once per block instead of once per row.
     * Kernels that block for the caches themselves get the thread's rows in one call. */
    seek_split(rows, ex->ith, ex->nth, &lo, &hi);
    const int64_t step = k->gemm && k->gemm_all_rows ? hi - lo : 16;
    for (int64_t r0 = lo; r0 < hi; r0 += step) {
        const int64_t r1 = r0 + step < hi ? r0 + step : hi;
        if (k->gemm) {
            k->gemm(n, out + r0, out_stride, (const char *)w->data + r0 * w->row_bytes, w->row_bytes, r1 - r0, act,
                    act_row, n_tok);
            continue;
        }
        for (int64_t t = 0; t < n_tok; t++) {
            const void *at = (const char *)act + t * act_row;
            for (int64_t r = r0; r < r1; r++) k->vec_dot(n, out + t * out_stride + r, (const char *)w->data + r * w->row_bytes, at);
        }
    }
    seek_pool_barrier(ex);
}

void op_rmsnorm_strided(const seek_exec *ex, float *out, int64_t out_stride, const float *in, int64_t in_stride, const float *w,
                        int64_t n_tok, int64_t n, float eps) {
    int64_t lo, hi;
    seek_split(n_tok, ex->ith, ex->nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) {
        const float *x = in + t * in_stride;
        float *y = out + t * out_stride;
        double ss = 0; /* ggml sums squares in double (ggml_float) */
        for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
        float scale = 1.0f / sqrtf((float)(ss / n) + eps);
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
    }
    seek_pool_barrier(ex);
}

void op_rmsnorm(const seek_exec *ex, float *out, const float *in, const float *w, int64_t n_tok, int64_t n, float eps) {
    op_rmsnorm_strided(ex, out, n, in, n, w, n_tok, n, eps);
}

void op_matmul_heads(const seek_exec *ex, float *out, int64_t ot, int64_t oh, const seek_weight *w, const float *x, int64_t xt,
                     int64_t xh, int64_t n_tok, float *row) {
    const seek_type_kernels *k = seek_kernels(w->type);
    const seek_vec_kernels *vk = seek_vec();
    const int64_t n = w->ne[0], rows = w->ne[1];
    float *wr = row + (int64_t)ex->ith * n;
    int64_t lo, hi;
    seek_split(rows * w->ne[2], ex->ith, ex->nth, &lo, &hi);
    for (int64_t hr = lo; hr < hi; hr++) {
        const int64_t h = hr / rows, r = hr % rows;
        k->to_float((const char *)w->data + (size_t)h * w->mat_bytes + (size_t)r * w->row_bytes, wr, n);
        for (int64_t t = 0; t < n_tok; t++) out[t * ot + h * oh + r] = vk->dot(wr, x + t * xt + h * xh, n);
    }
    seek_pool_barrier(ex);
}

void op_copy_rows(const seek_exec *ex, float *dst, int64_t ds, const float *src, int64_t ss, int64_t n_tok, int64_t n) {
    int64_t lo, hi;
    seek_split(n_tok, ex->ith, ex->nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) memcpy(dst + t * ds, src + t * ss, (size_t)n * sizeof(float));
    seek_pool_barrier(ex);
}

void op_add_bias(const seek_exec *ex, float *x, const float *b, int64_t n_tok, int64_t n) {
    int64_t lo, hi;
    seek_split(n_tok, ex->ith, ex->nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++)
        for (int64_t i = 0; i < n; i++) x[t * n + i] += b[i];
    seek_pool_barrier(ex);
}

void op_add(const seek_exec *ex, float *x, const float *y, int64_t n_tok, int64_t n) {
    int64_t lo, hi;
    seek_split(n_tok * n, ex->ith, ex->nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) x[i] += y[i];
    seek_pool_barrier(ex);
}

void op_swiglu(const seek_exec *ex, float *g, const float *u, int64_t n_tok, int64_t n) {
    int64_t lo, hi;
    seek_split(n_tok * n, ex->ith, ex->nth, &lo, &hi);
    seek_vec()->swiglu(g + lo, u + lo, hi - lo);
    seek_pool_barrier(ex);
}

void op_rope(const seek_exec *ex, float *x, const float *cs, const float *sn, int64_t n_tok, int64_t n_heads,
             int64_t head_dim, int64_t n_rot, seek_rope_type type) {
    const int64_t half = n_rot / 2;
    int64_t lo, hi;
    seek_split(n_tok * n_heads, ex->ith, ex->nth, &lo, &hi);
    for (int64_t th = lo; th < hi; th++) {
        int64_t t = th / n_heads;
        float *h = x + th * head_dim;
        const float *c = cs + t * half, *s = sn + t * half;
        for (int64_t i = 0; i < half; i++) {
            int64_t a = type == SEEK_ROPE_NEOX ? i : 2 * i;
            int64_t b = type == SEEK_ROPE_NEOX ? i + half : 2 * i + 1;
            float x0 = h[a], x1 = h[b];
            h[a] = x0 * c[i] - x1 * s[i];
            h[b] = x0 * s[i] + x1 * c[i];
        }
    }
    seek_pool_barrier(ex);
}

/* YaRN's ramp between the interpolated and extrapolated frequencies (ggml rope_yarn_ramp). */
static float yarn_ramp(float low, float high, int64_t i0) {
    float y = ((float)i0 / 2 - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

/* The dimension where the wavelength equals n_ctx_orig / n_rot_turns (ggml_rope_yarn_corr_dim). */
static float yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, float n_rot_turns, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot_turns * 2.0f * (float)M_PI)) / (2.0f * logf(base));
}

void rope_tables(float *cs, float *sn, const int32_t *pos, int64_t n_tok, const seek_hparams *hp, const float *freq_factors) {
    const int64_t half = hp->n_rot / 2;
    const float theta_scale = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    const float freq_scale = 1.0f / hp->rope_scale;
    float ext = hp->rope_scaling == SEEK_ROPE_SCALING_YARN ? hp->yarn_ext_factor : 0.0f;
    float corr0 = 0, corr1 = 0, mscale = hp->rope_scaling == SEEK_ROPE_SCALING_YARN ? hp->yarn_attn_factor : 1.0f;
    if (ext != 0.0f) {
        corr0 = fmaxf(0.0f, floorf(yarn_corr_dim(hp->n_rot, hp->rope_orig_ctx, hp->yarn_beta_fast, hp->rope_base)));
        corr1 = fminf((float)(hp->n_rot - 1), ceilf(yarn_corr_dim(hp->n_rot, hp->rope_orig_ctx, hp->yarn_beta_slow, hp->rope_base)));
        mscale *= 1.0f + 0.1f * logf(1.0f / freq_scale);
    }
    for (int64_t t = 0; t < n_tok; t++) {
        float theta_base = (float)pos[t];
        for (int64_t i = 0; i < half; i++) {
            float ff = freq_factors ? freq_factors[i] : 1.0f;
            float theta_extrap = theta_base / ff;
            float theta = freq_scale * theta_extrap;
            if (ext != 0.0f) {
                float mix = yarn_ramp(corr0, corr1, 2 * i) * ext;
                theta = theta * (1 - mix) + theta_extrap * mix;
            }
            cs[t * half + i] = cosf(theta) * mscale;
            sn[t * half + i] = sinf(theta) * mscale;
            theta_base *= theta_scale;
        }
    }
}

void op_get_rows(const seek_exec *ex, float *out, const seek_weight *w, const int32_t *ids, int64_t n_tok) {
    const seek_type_kernels *k = seek_kernels(w->type);
    int64_t lo, hi;
    seek_split(n_tok, ex->ith, ex->nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++)
        k->to_float((const char *)w->data + (int64_t)ids[t] * w->row_bytes, out + t * w->ne[0], w->ne[0]);
    seek_pool_barrier(ex);
}
