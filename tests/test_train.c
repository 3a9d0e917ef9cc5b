/* Training math against independent references:
 * - each op's backward (rmsnorm, RoPE, SwiGLU, attention with ALiBi / sliding window, softmax
 *   cross-entropy) against central finite differences of a random projection of its output;
 * - the whole model (MoE with shared experts + MHA/GQA, MLA, dense ALiBi + sliding window, GQA with
 *   Transformer-XL memory: also a second segment attending to the first's memory) against
 *   tests/fixtures/train/<variant>/ written by tests/ref/gen_train_ref.py (PyTorch, float64):
 *   logits, loss, every parameter's gradient, and a 10-step AdamW + clipping + SGDR trace;
 * - gradient accumulation: 2 micro-batches of 1 give the gradient of 1 batch of 2;
 * - the schedule against SPEC.md's formula and growth operators preserving the function. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "format/safetensors.h"
#include "kernels/grad.h"
#include "train/config.h"
#include "train/grow.h"
#include "train/optim.h"
#include "train/tmodel.h"

static uint64_t rng_state = 12345;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 11) / 4503599627370496.0 - 1.0);
}
static void fill(float *x, int64_t n, float s) {
    for (int64_t i = 0; i < n; i++) x[i] = s * frand();
}
static double dotd(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- op-level finite differences: f(x) = sum(r * op(x)); df/dx by the op's backward vs central
 * differences with step h. Float ops make the difference quotient noisy at about
 * 1e-7 * |f| / h, so h = 1e-2 and a tolerance of 2e-3 of the gradient's largest entry. */
typedef void (*op_fn)(float *out, const float *in, void *arg);

static void fd_check(const char *what, op_fn f, const float *grad, float *x, int64_t n_in, int64_t n_out, const float *r, void *arg) {
    float *out = malloc((size_t)n_out * sizeof *out);
    double gmax = 1e-12, emax = 0;
    for (int64_t i = 0; i < n_in; i++) gmax = fmax(gmax, fabs(grad[i]));
    for (int64_t i = 0; i < n_in; i++) {
        const float x0 = x[i], h = 1e-2f;
        x[i] = x0 + h;
        f(out, x, arg);
        const double fp = dotd(out, r, n_out);
        x[i] = x0 - h;
        f(out, x, arg);
        const double fm = dotd(out, r, n_out);
        x[i] = x0;
        emax = fmax(emax, fabs((fp - fm) / (2.0 * h) - grad[i]));
    }
    CHECK(emax <= 2e-3 * gmax, "%s: finite differences differ by %.3g (largest gradient %.3g)", what, emax, gmax);
    free(out);
}

typedef struct {
    int64_t n, d;
    float *w, *rstd;
} norm_arg;
static void norm_op(float *out, const float *in, void *a) {
    norm_arg *p = a;
    rmsnorm_forward(out, p->d, p->rstd, in, p->d, p->w, p->n, p->d, 1e-5f);
}

static void test_rmsnorm_fd(void) {
    const int64_t n = 3, d = 16;
    float x[48], w[16], r[48], dx[48] = {0}, dw[16] = {0}, y[48], rstd[3];
    fill(x, n * d, 1), fill(w, d, 1), fill(r, n * d, 1);
    norm_arg a = {n, d, w, rstd};
    norm_op(y, x, &a);
    rmsnorm_backward(dx, d, dw, r, d, x, d, w, rstd, n, d);
    /* dw: the output is linear in w */
    double emax = 0;
    for (int64_t i = 0; i < d; i++) {
        double g = 0;
        for (int64_t k = 0; k < n; k++) g += (double)r[k * d + i] * x[k * d + i] * rstd[k];
        emax = fmax(emax, fabs(g - dw[i]));
    }
    CHECK(emax < 1e-5, "rmsnorm dw differs by %g", emax);
    fd_check("rmsnorm dx", norm_op, dx, x, n * d, n * d, r, &a);
}

typedef struct {
    int64_t n;
    float *cos_t, *sin_t;
    int32_t *pos;
} rope_arg;
static void rope_op(float *out, const float *in, void *a) {
    rope_arg *p = a;
    memcpy(out, in, (size_t)(p->n * 2 * 8) * sizeof *out);
    rope_apply(out, 16, p->n, 2, 8, 0, 8, p->pos, p->cos_t, p->sin_t, false);
}

static void test_rope_fd(void) {
    const int64_t n = 3;
    float x[48], r[48], cs[16 * 4], sn[16 * 4];
    int32_t pos[3] = {0, 5, 11};
    for (int t = 0; t < 16; t++)
        for (int i = 0; i < 4; i++) {
            cs[t * 4 + i] = (float)cos(t * pow(10000.0, -2.0 * i / 8));
            sn[t * 4 + i] = (float)sin(t * pow(10000.0, -2.0 * i / 8));
        }
    fill(x, 48, 1), fill(r, 48, 1);
    rope_arg a = {n, cs, sn, pos};
    float g[48];
    memcpy(g, r, sizeof g); /* backward of a rotation: the inverse rotation of the output gradient */
    rope_apply(g, 16, n, 2, 8, 0, 8, pos, cs, sn, true);
    fd_check("rope", rope_op, g, x, 48, 48, r, &a);
}

static void swiglu_op(float *out, const float *in, void *a) {
    const int64_t n = *(int64_t *)a;
    swiglu_forward(out, in, in + n, n);
}

static void test_swiglu_fd(void) {
    int64_t n = 20;
    float x[40], r[20], g[40] = {0};
    fill(x, 40, 3), fill(r, 20, 1);
    swiglu_backward(g, g + n, r, x, x + n, n);
    fd_check("swiglu", swiglu_op, g, x, 2 * n, n, r, &n);
}

typedef struct {
    attn_dims d;
    float *p, *o;
} attn_arg;
/* in = [q | k | v] */
static void attn_op(float *out, const float *in, void *a) {
    attn_arg *p = a;
    const attn_dims *d = &p->d;
    const int64_t nq = d->B * d->T * d->sq, nk = d->B * (d->M + d->T) * d->sk;
    attention_forward(NULL, out, p->p, in, in + nq, in + nq + nk, d);
}

static void test_attention_fd(void) {
    struct {
        const char *name;
        int64_t H, Hkv, window, M;
        bool alibi;
    } cases[] = {{"attention mha", 2, 2, 0, 0, false}, {"attention gqa + window 3", 4, 2, 3, 0, false},
                 {"attention alibi", 4, 4, 0, 0, true}, {"attention + memory 3", 2, 2, 0, 3, false},
                 {"attention + memory 4, window 6, alibi", 4, 2, 6, 4, true}};
    float slopes[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
    const int32_t mlen[2] = {4, 2}; /* the second sequence's memory is only partly valid */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        attn_dims d = {.B = 2, .T = 5, .H = cases[c].H, .Hkv = cases[c].Hkv, .dk = 4, .dv = 3, .scale = 0.5f,
                       .slopes = cases[c].alibi ? slopes : NULL, .window = cases[c].window, .M = cases[c].M,
                       .mlen = cases[c].M == 4 ? mlen : NULL};
        d.sq = d.H * d.dk;
        d.sk = d.Hkv * d.dk;
        d.sv = d.Hkv * d.dv;
        const int64_t Tk = d.M + d.T;
        const int64_t nq = d.B * d.T * d.sq, nk = d.B * Tk * d.sk, nv = d.B * Tk * d.sv, no = d.B * d.T * d.H * d.dv;
        float *x = malloc((size_t)(nq + nk + nv) * sizeof *x), *g = calloc((size_t)(nq + nk + nv), sizeof *g);
        float *r = malloc((size_t)no * sizeof *r), *o = malloc((size_t)no * sizeof *o);
        float *p = malloc((size_t)(d.B * d.H * d.T * Tk) * sizeof *p);
        fill(x, nq + nk + nv, 1), fill(r, no, 1);
        attn_arg a = {d, p, o};
        attn_op(o, x, &a);
        float ds[5 * 9]; /* T * (M + T) */
        attention_backward(NULL, g, g + nq, g + nq + nk, ds, r, p, x, x + nq, x + nq + nk, &d);
        fd_check(cases[c].name, attn_op, g, x, nq + nk + nv, no, r, &a);
        free(x), free(g), free(r), free(o), free(p);
    }
}

static void test_xent_fd(void) {
    const int64_t n = 3, V = 7;
    int32_t tg[3] = {1, 6, 0};
    float x[21], g[21];
    fill(x, 21, 2);
    memcpy(g, x, sizeof g);
    const double loss = softmax_xent(NULL, g, tg, n, V, 1.0f, true) / (double)n;
    double emax = 0, gmax = 0;
    for (int64_t i = 0; i < n * V; i++) {
        const float x0 = x[i], h = 1e-2f;
        float t[21];
        x[i] = x0 + h;
        memcpy(t, x, sizeof t);
        const double fp = softmax_xent(NULL, t, tg, n, V, 1, false) / (double)n;
        x[i] = x0 - h;
        memcpy(t, x, sizeof t);
        const double fm = softmax_xent(NULL, t, tg, n, V, 1, false) / (double)n;
        x[i] = x0;
        emax = fmax(emax, fabs((fp - fm) / (2 * h) - g[i]));
        gmax = fmax(gmax, fabs(g[i]));
    }
    CHECK(loss > 0 && emax <= 2e-3 * gmax, "softmax cross-entropy: finite differences differ by %.3g (largest %.3g)", emax, gmax);
}

/* ---- whole model against PyTorch ---- */

static const seek_st_tensor *need(const seek_safetensors *s, const char *name, int64_t n) {
    const seek_st_tensor *t = seek_st_find(s, name);
    if (!t || seek_st_n_elements(t) != n) {
        CHECK(0, "fixture tensor '%s' missing or of another size", name);
        return NULL;
    }
    return t;
}

/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, int64_t n) {
    double e = 0, m = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return e / m;
}

/* The largest rel_err of any parameter-shaped tensor PREFIX.NAME of rs against vals (tm->g or
 * tm->w, the model's layout); its parameter's name in *worst_name when given. */
static double worst_tensor_err(const seek_tmodel *tm, const seek_safetensors *rs, const char *prefix, const float *vals,
                               const char **worst_name) {
    double worst = 0;
    for (int i = 0; i < tm->n_params; i++) {
        const seek_tparam *p = &tm->params[i];
        char n[96];
        snprintf(n, sizeof n, "%s.%s", prefix, p->name);
        const seek_st_tensor *t = need(rs, n, (int64_t)p->n);
        const double e = t ? rel_err(vals + p->off, t->data, (int64_t)p->n) : 0;
        if (e > worst) {
            worst = e;
            if (worst_name) *worst_name = p->name;
        }
    }
    return worst;
}

static void test_variant(const char *variant, seek_pool *pool) {
    char path[512];
    snprintf(path, sizeof path, "tests/fixtures/train/%s/config.json", variant);
    seek_train_cfg cfg;
    seek_train_cfg_defaults(&cfg);
    if (seek_train_cfg_load(&cfg, path) || seek_train_cfg_check(&cfg)) {
        CHECK(0, "%s: %s", variant, seek_last_error());
        seek_train_cfg_free(&cfg);
        return;
    }
    seek_safetensors *ps = NULL, *rs = NULL;
    snprintf(path, sizeof path, "tests/fixtures/train/%s/params.safetensors", variant);
    seek_status st = seek_st_open(&ps, path);
    snprintf(path, sizeof path, "tests/fixtures/train/%s/ref.safetensors", variant);
    if (!st) st = seek_st_open(&rs, path);
    seek_tmodel tm;
    if (!st) st = seek_tmodel_init(&tm, &cfg.model, pool);
    if (st) {
        CHECK(0, "%s: %s", variant, seek_last_error());
        goto done;
    }
    for (int i = 0; i < tm.n_params; i++) {
        const seek_tparam *p = &tm.params[i];
        const seek_st_tensor *t = need(ps, p->name, (int64_t)p->n);
        if (!t || t->dtype != SEEK_ST_F32) goto free_model;
        for (int d = 0; d < p->n_dims; d++) CHECK(t->shape[d] == p->shape[d], "%s: %s dim %d", variant, p->name, d);
        memcpy(tm.w + p->off, t->data, p->n * sizeof(float));
    }
    const int32_t B = cfg.micro_batch, T = cfg.seq_len, V = cfg.model.vocab;
    const seek_st_tensor *tok = need(rs, "tokens", 10LL * B * (T + 1));
    if (!tok) goto free_model;
    int32_t *inp = malloc((size_t)B * T * sizeof *inp), *tgt = malloc((size_t)B * T * sizeof *tgt);
    const int32_t *all = tok->data;
#define BATCH(s)                                                               \
    for (int32_t b = 0; b < B; b++)                                            \
        for (int32_t t = 0; t < T; t++) {                                      \
            inp[b * T + t] = all[((s) * B + b) * (T + 1) + t];                 \
            tgt[b * T + t] = all[((s) * B + b) * (T + 1) + t + 1];             \
        }
    BATCH(0);
    seek_tstate *s;
    if ((st = seek_tstate_new(&s, &tm, B, T)) || (st = seek_tmodel_alloc_optim(&tm))) {
        CHECK(0, "%s: %s", variant, seek_last_error());
        goto free_batch;
    }
    seek_tloss l;
    CHECK(seek_tmodel_forward(&tm, s, inp, tgt, &l) == SEEK_OK, "%s: forward", variant);
    const seek_st_tensor *lg = need(rs, "logits", (int64_t)B * T * V), *lr = need(rs, "loss", 1), *la = need(rs, "loss_aux", 1);
    /* fp32 against float64: a few ulps per op over ~20 ops of width 64 */
    if (lg) CHECK(rel_err(seek_tstate_logits(s), lg->data, (int64_t)B * T * V) < 2e-5, "%s: logits differ by %.3g of their range",
                  variant, rel_err(seek_tstate_logits(s), lg->data, (int64_t)B * T * V));
    if (lr) CHECK(fabs(l.loss - *(const float *)lr->data) < 1e-5 * fabs(*(const float *)lr->data), "%s: loss %.7f, PyTorch %.7f", variant,
                  l.loss, *(const float *)lr->data);
    if (la) CHECK(fabs(l.aux - *(const float *)la->data) < 1e-5 * fmax(1, fabs(l.aux)), "%s: aux loss %.7g, PyTorch %.7g", variant,
                  l.aux, *(const float *)la->data);
    memset(tm.g, 0, tm.n_floats * sizeof(float));
    seek_tmodel_backward(&tm, s, 1.0f);
    /* gradients: relative to each tensor's largest entry (they are sums over the batch); fp32
     * against float64 measures about 1e-6 */
    const char *worst_name = "";
    const double worst = worst_tensor_err(&tm, rs, "grad", tm.g, &worst_name);
    CHECK(worst < 1e-5, "%s: gradient of %s differs by %.3g of its largest entry", variant, worst_name, worst);
    printf("%s: loss %.6f, worst gradient error %.2g (%s)\n", variant, l.loss, worst, worst_name);
    if (cfg.model.xl_memory) { /* the second segment, attending to the first one's memory */
        seek_tstate_xl_reset(s);
        BATCH(0);
        seek_tmodel_forward(&tm, s, inp, NULL, NULL);
        BATCH(1);
        CHECK(seek_tmodel_forward(&tm, s, inp, tgt, &l) == SEEK_OK, "%s: xl forward", variant);
        const seek_st_tensor *xg = need(rs, "xl.logits", (int64_t)B * T * V), *xr = need(rs, "xl.loss", 1);
        if (xg) CHECK(rel_err(seek_tstate_logits(s), xg->data, (int64_t)B * T * V) < 2e-5, "%s: xl logits differ by %.3g",
                      variant, rel_err(seek_tstate_logits(s), xg->data, (int64_t)B * T * V));
        if (xr) CHECK(fabs(l.loss - *(const float *)xr->data) < 1e-5 * fabs(*(const float *)xr->data), "%s: xl loss %.7f, PyTorch %.7f",
                      variant, l.loss, *(const float *)xr->data);
        memset(tm.g, 0, tm.n_floats * sizeof(float));
        seek_tmodel_backward(&tm, s, 1.0f);
        const double xw = worst_tensor_err(&tm, rs, "xl.grad", tm.g, NULL);
        CHECK(xw < 1e-5, "%s: gradients with memory differ by %.3g", variant, xw);
        printf("%s: second segment with memory: loss %.6f, worst gradient error %.2g\n", variant, l.loss, xw);
        seek_tstate_xl_reset(s);
    }
    /* 10 optimizer steps with clipping and the schedule */
    const seek_st_tensor *lt = need(rs, "loss_trace", 10), *lrt = need(rs, "lr_trace", 10), *gt = need(rs, "grad_norm_trace", 10);
    double e_loss = 0, e_lr = 0, e_gn = 0;
    for (int step = 0; step < 10 && lt && lrt && gt; step++) {
        BATCH(step);
        memset(tm.g, 0, tm.n_floats * sizeof(float));
        seek_tmodel_forward(&tm, s, inp, tgt, &l);
        seek_tmodel_backward(&tm, s, 1.0f);
        const double gn = seek_grad_norm(&tm), lrs = seek_train_lr(&cfg, step);
        seek_adamw_step(&tm, step + 1, lrs, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, seek_clip_scale(gn, cfg.clip));
        e_loss = fmax(e_loss, fabs(l.loss - ((const float *)lt->data)[step]) / fabs(((const float *)lt->data)[step]));
        e_lr = fmax(e_lr, fabs(lrs - ((const float *)lrt->data)[step]) / ((const float *)lrt->data)[step]);
        e_gn = fmax(e_gn, fabs(gn - ((const float *)gt->data)[step]) / ((const float *)gt->data)[step]);
    }
    /* after 10 Adam steps small differences grow (Adam normalises tiny gradients to lr-sized
     * steps), hence the looser bounds than for one gradient */
    CHECK(e_loss < 1e-5, "%s: 10-step loss trace differs by %.3g (relative)", variant, e_loss);
    CHECK(e_lr < 1e-6, "%s: lr trace differs by %.3g", variant, e_lr);
    CHECK(e_gn < 1e-4, "%s: grad norm trace differs by %.3g", variant, e_gn);
    const double e_final = worst_tensor_err(&tm, rs, "final", tm.w, NULL);
    CHECK(e_final < 5e-4, "%s: parameters after 10 steps differ by %.3g of their range", variant, e_final);
    printf("%s: 10 steps: loss %.2g, lr %.2g, grad norm %.2g, final parameters %.2g (relative errors)\n", variant, e_loss, e_lr, e_gn,
           e_final);
    seek_tstate_free(s);
free_batch:
    free(inp);
    free(tgt);
free_model:
    seek_tmodel_free(&tm);
done:
    if (ps) seek_st_close(ps);
    if (rs) seek_st_close(rs);
    seek_train_cfg_free(&cfg);
#undef BATCH
}

/* k micro-batches of b, each scaled 1/k, give the gradient of one batch of k*b */
static void test_grad_accum(seek_pool *pool) {
    seek_train_cfg cfg;
    seek_train_cfg_defaults(&cfg);
    cfg.model = (seek_tmodel_cfg){.n_layer = 2, .dim = 32, .n_head = 4, .n_kv_head = 2, .ctx = 16, .vocab = 50, .rope_base = 10000,
                                  .rms_eps = 1e-5f, .moe = true, .n_expert = 8, .n_expert_used = 2, .n_shared_expert = 1,
                                  .expert_dim = 16, .n_dense_lead = 1, .balance = TBAL_AUX_LOSS, .aux_loss_weight = 0.01f, .ff_dim = 64};
    cfg.n_train = 1;
    cfg.train[0] = strdup("x");
    cfg.out = strdup("x");
    cfg.seq_len = 12;
    CHECK(seek_train_cfg_check(&cfg) == SEEK_OK, "accum config: %s", seek_last_error());
    seek_tmodel tm;
    seek_tstate *s2, *s1;
    if (seek_tmodel_init(&tm, &cfg.model, pool) || seek_tstate_new(&s2, &tm, 2, 12) || seek_tstate_new(&s1, &tm, 1, 12)) {
        CHECK(0, "accum: %s", seek_last_error());
        return;
    }
    seek_tmodel_randomize(&tm, 7);
    int32_t inp[24], tgt[24];
    for (int i = 0; i < 24; i++) inp[i] = (i * 7 + 3) % 50, tgt[i] = (i * 11 + 5) % 50;
    seek_tloss l2, la, lb;
    seek_tmodel_forward(&tm, s2, inp, tgt, &l2);
    seek_tmodel_backward(&tm, s2, 1.0f);
    float *g2 = malloc(tm.n_floats * sizeof(float));
    memcpy(g2, tm.g, tm.n_floats * sizeof(float));
    memset(tm.g, 0, tm.n_floats * sizeof(float));
    seek_tmodel_forward(&tm, s1, inp, tgt, &la);
    seek_tmodel_backward(&tm, s1, 0.5f);
    seek_tmodel_forward(&tm, s1, inp + 12, tgt + 12, &lb);
    seek_tmodel_backward(&tm, s1, 0.5f);
    CHECK(fabs((la.loss + lb.loss) / 2 - l2.loss) < 1e-5 * l2.loss, "accum: loss %.7f vs %.7f", (la.loss + lb.loss) / 2, l2.loss);
    const double e = rel_err(tm.g, g2, (int64_t)tm.n_floats);
    CHECK(e < 1e-5, "accum: 2 x 1 micro-batches vs 1 x 2: gradients differ by %.3g", e);
    printf("grad accumulation: 2 x 1 vs 1 x 2: gradient difference %.2g of the largest entry\n", e);
    free(g2);
    seek_tstate_free(s1);
    seek_tstate_free(s2);
    seek_tmodel_free(&tm);
    seek_train_cfg_free(&cfg);
}

/* growth keeps the function: the loss right after equals the loss right before */
static void test_grow(seek_pool *pool) {
    seek_tmodel_cfg base = {.n_layer = 2, .dim = 32, .n_head = 4, .n_kv_head = 4, .ctx = 16, .vocab = 50, .rope_base = 10000,
                            .rms_eps = 1e-5f, .moe = false, .ff_dim = 64, .n_expert_used = 2, .n_dense_lead = 1,
                            .balance = TBAL_AUX_LOSS, .aux_loss_weight = 0};
    struct {
        const char *what;
        int32_t layers, experts;
        bool start_moe, norm_topk, sigmoid;
        double tol;
    } cases[] = {
        {"depth 2 -> 5", 5, 0, false, false, false, 1e-6},
        {"depth 2 -> 3 (MoE)", 3, 0, true, false, false, 1e-6},
        {"upcycle dense -> 8 experts (softmax)", 0, 8, false, false, false, 1e-3},
        {"upcycle dense -> 8 experts (norm_topk)", 0, 8, false, true, false, 1e-6},
        {"upcycle dense -> 4 experts (sigmoid)", 0, 4, false, false, true, 1e-3},
        {"split 4 -> 8 experts", 0, 8, true, false, false, 1e-6},
        {"split 4 -> 12 experts (norm_topk)", 0, 12, true, true, false, 1e-6},
    };
    int32_t inp[24], tgt[24];
    for (int i = 0; i < 24; i++) inp[i] = (i * 7 + 3) % 50, tgt[i] = (i * 13 + 1) % 50;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        seek_tmodel_cfg c = base, g;
        c.norm_topk = cases[k].norm_topk;
        c.gating_sigmoid = cases[k].sigmoid;
        if (cases[k].start_moe) c.moe = true, c.n_expert = 4, c.expert_dim = 24, c.n_shared_expert = 1;
        seek_tmodel a, b;
        seek_tstate *sa, *sb;
        seek_tloss la, lb;
        if (seek_grow_cfg(&g, &c, cases[k].layers, cases[k].experts) || seek_tmodel_init(&a, &c, pool) || seek_tmodel_init(&b, &g, pool)) {
            CHECK(0, "%s: %s", cases[k].what, seek_last_error());
            continue;
        }
        seek_tmodel_randomize(&a, 3);
        for (size_t i = 0; i < a.n_floats; i++) a.w[i] *= 10; /* a non-trivial function */
        CHECK(seek_grow(&b, &a, 1) == SEEK_OK, "%s: %s", cases[k].what, seek_last_error());
        seek_tstate_new(&sa, &a, 2, 12);
        seek_tstate_new(&sb, &b, 2, 12);
        seek_tmodel_forward(&a, sa, inp, tgt, &la);
        seek_tmodel_forward(&b, sb, inp, tgt, &lb);
        CHECK(fabs(la.ce - lb.ce) <= cases[k].tol * la.ce, "%s: loss %.7f before, %.7f after", cases[k].what, la.ce, lb.ce);
        printf("grow %s: loss %.6f -> %.6f\n", cases[k].what, la.ce, lb.ce);
        seek_tstate_free(sa);
        seek_tstate_free(sb);
        seek_tmodel_free(&a);
        seek_tmodel_free(&b);
    }
}

static void test_schedule(void) {
    seek_train_cfg c;
    seek_train_cfg_defaults(&c);
    c.lr = 1e-2f, c.min_lr = 1e-3f, c.warmup = 5, c.T_0 = 10, c.T_mult = 2;
    /* restarts at steps 5, 15, 35, 75 (cycle lengths 10, 20, 40) */
    CHECK(fabs(seek_train_lr(&c, 0) - 2e-3) < 1e-9, "warmup step 0");
    CHECK(fabs(seek_train_lr(&c, 5) - 1e-2) < 1e-9 && fabs(seek_train_lr(&c, 15) - 1e-2) < 1e-9 &&
              fabs(seek_train_lr(&c, 35) - 1e-2) < 1e-9 && fabs(seek_train_lr(&c, 75) - 1e-2) < 1e-9,
          "restarts at 5, 15, 35, 75");
    CHECK(fabs(seek_train_lr(&c, 25) - (1e-3 + 9e-3 * 0.5)) < 1e-9, "middle of the second cycle");
}

int main(void) {
    seek_pool *pool;
    if (seek_pool_init(&pool, 2)) return 1;
    test_rmsnorm_fd();
    test_rope_fd();
    test_swiglu_fd();
    test_attention_fd();
    test_xent_fd();
    test_schedule();
    test_variant("moe_mha", pool);
    test_variant("moe_mla", pool);
    test_variant("dense_alibi_swa", pool);
    test_variant("xl_gqa_swa", pool);
    test_grad_accum(pool);
    test_grow(pool);
    seek_pool_free(pool);
    return check_summary("test_train");
}
