/* GPTQ into the ggml block formats, and its calibration over a model (gptq.h). Written from the
 * paper's Algorithm 1 (lazy batch updates, Cholesky form of the inverse Hessian); the factor and
 * its inverse run in double, the column loop and the lazy updates in float (seek_gemm_f32). */
#include "quant/gptq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "runtime/context.h"

/* ---- the inverse Hessian's upper Cholesky factor ---- */

/* sum a[k] b[k] over k < n in four interleaved partial sums (independent chains, so the loop
 * is not bound by the latency of one running sum) */
static double dot4(const double *a, const double *b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
    }
    for (; k < n; k++) s0 += a[k] * b[k];
    return (s0 + s1) + (s2 + s3);
}

typedef struct {
    double *V;
    const double *H;
    int64_t n, j;
} chol_job;

/* V[i][j] for rows i in [lo, hi) (all < j): H_ij = V_ij V_jj + sum_{k>j} V_ik V_jk. */
static void chol_column(int64_t lo, int64_t hi, void *arg) {
    const chol_job *c = arg;
    const int64_t n = c->n, j = c->j;
    const double *vj = c->V + j * n;
    for (int64_t i = lo; i < hi; i++) {
        const double *vi = c->V + i * n;
        c->V[i * n + j] = (c->H[i * n + j] - dot4(vi + j + 1, vj + j + 1, n - j - 1)) / vj[j];
    }
}

/* H = V V^T with V upper triangular: Cholesky run from the last row up. False when a pivot is
 * not positive (H not positive definite). */
static bool chol_upper(seek_pool *pool, double *V, const double *H, int64_t n) {
    memset(V, 0, (size_t)(n * n) * sizeof *V);
    for (int64_t j = n - 1; j >= 0; j--) {
        double *vj = V + j * n;
        const double s = H[j * n + j] - dot4(vj + j + 1, vj + j + 1, n - j - 1);
        if (!(s > 0) || !isfinite(s)) return false;
        vj[j] = sqrt(s);
        chol_job c = {V, H, n, j};
        seek_pool_for(pool, j, 32, chol_column, &c);
    }
    return true;
}

typedef struct {
    float *U;
    const double *V;
    int64_t n;
} inv_job;

/* Row i of U = V^-1 (upper): u V = e_i, solved left to right with running sums in acc. */
static void inv_row(const inv_job *c, int64_t i, double *acc) {
    const int64_t n = c->n;
    memset(acc + i, 0, (size_t)(n - i) * sizeof *acc);
    for (int64_t k = i; k < n; k++) {
        const double *vk = c->V + k * n;
        const double u = ((k == i) - acc[k]) / vk[k];
        c->U[i * n + k] = (float)u;
        for (int64_t j = k + 1; j < n; j++) acc[j] += u * vk[j];
    }
    for (int64_t k = 0; k < i; k++) c->U[i * n + k] = 0;
}

/* Rows p and n-1-p for p in [lo, hi): pairs even out the triangle's work. */
static void inv_rows(int64_t lo, int64_t hi, void *arg) {
    const inv_job *c = arg;
    double *acc = malloc((size_t)c->n * sizeof *acc);
    if (!acc) return; /* the caller checks U's diagonal */
    for (int64_t p = lo; p < hi; p++) {
        inv_row(c, p, acc);
        if (c->n - 1 - p != p) inv_row(c, c->n - 1 - p, acc);
    }
    free(acc);
}

/* ---- the column loop ---- */

typedef struct {
    seek_dtype t;
    const seek_type_kernels *k;
    int64_t rows, cols, bs, sub, n_sub, blk_bytes;
    size_t row_bytes;
    int qmin, qmax;
    bool act_order;
    const int64_t *perm; /* processing position -> column */
    float *W;            /* rows x cols, in processing order, updated in place */
    const float *U;      /* cols x cols, processing order */
    float *E;            /* rows x B: minus the scaled errors of the current block */
    int64_t B, i1, i2;
    float *scale, *offset; /* rows x (cols / sub): the grid of each sub-block */
    int8_t *levels;        /* rows x cols, column order */
    uint8_t *out;
} col_job;

/* The grid of the block of row r starting at column c, from the block's bytes in out. */
static void read_grid(const col_job *j, int64_t r, int64_t c) {
    seek_block_grid g;
    seek_block_grid_get(j->t, j->out + (size_t)r * j->row_bytes + (size_t)(c / j->bs * j->blk_bytes), &g);
    for (int s = 0; s < g.n_sub; s++) {
        j->scale[r * (j->cols / j->sub) + c / j->sub + s] = g.scale[s];
        j->offset[r * (j->cols / j->sub) + c / j->sub + s] = g.offset[s];
    }
}

static void quantize_rows(int64_t lo, int64_t hi, void *arg) {
    const col_job *j = arg;
    const int64_t C = j->cols, ns = C / j->sub;
    for (int64_t r = lo; r < hi; r++) {
        float *w = j->W + r * C;
        for (int64_t i = j->i1; i < j->i2; i++) {
            const int64_t c = j->perm[i];
            if (!j->act_order && c % j->bs == 0) { /* a new block: the format picks its scales from the values now */
                j->k->from_float(w + i, j->out + (size_t)r * j->row_bytes + (size_t)(c / j->bs * j->blk_bytes), j->bs);
                read_grid(j, r, c);
            }
            const float a = j->scale[r * ns + c / j->sub], b = j->offset[r * ns + c / j->sub];
            long q = a != 0 ? lrintf((w[i] - b) / a) : 0;
            q = q < j->qmin ? j->qmin : q > j->qmax ? j->qmax : q;
            j->levels[r * C + c] = (int8_t)q;
            const float *u = j->U + i * C;
            const float e = (w[i] - (a * (float)q + b)) / u[i];
            for (int64_t x = i + 1; x < j->i2; x++) w[x] -= e * u[x];
            j->E[r * j->B + (i - j->i1)] = -e;
        }
    }
}

/* sum over rows of d H d^T, d = W - deq(q): the proxy loss */
static double proxy_loss(seek_pool *pool, const seek_type_kernels *k, const float *W, const void *q, int64_t rows,
                         int64_t cols, size_t row_bytes, const float *H, float *D, float *DH) {
    for (int64_t r = 0; r < rows; r++) {
        k->to_float((const uint8_t *)q + (size_t)r * row_bytes, D + r * cols, cols);
        for (int64_t c = 0; c < cols; c++) D[r * cols + c] = W[r * cols + c] - D[r * cols + c];
    }
    seek_gemm_f32(pool, false, false, rows, cols, cols, D, cols, H, cols, 0.0f, DH, cols);
    double s = 0;
    for (int64_t i = 0; i < rows * cols; i++) s += (double)D[i] * DH[i];
    return s;
}

typedef struct {
    double d;
    int64_t i;
} diag_entry;

/* decreasing H_ii, ties by column */
static int cmp_diag_desc(const void *pa, const void *pb) {
    const diag_entry *a = pa, *b = pb;
    if (a->d != b->d) return a->d > b->d ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The inverse Hessian's upper factor in processing order, damped by damp * mean(diag). */
static bool inverse_factor(seek_pool *pool, const float *H, const int64_t *perm, int64_t n, double damp, double *Hd,
                           double *V, float *U) {
    double mean = 0;
    for (int64_t i = 0; i < n; i++) {
        const double h = H[perm[i] * n + perm[i]];
        mean += h > 0 ? h : 1;
    }
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t x = 0; x < n; x++) Hd[i * n + x] = H[perm[i] * n + perm[x]];
        if (Hd[i * n + i] <= 0) Hd[i * n + i] = 1; /* a column no input reached */
        Hd[i * n + i] += damp * mean;
    }
    if (!chol_upper(pool, V, Hd, n)) return false;
    for (int64_t i = 0; i < n; i++) U[i * n + i] = 0;
    inv_job ij = {U, V, n};
    seek_pool_for(pool, (n + 1) / 2, 8, inv_rows, &ij);
    for (int64_t i = 0; i < n; i++)
        if (!(U[i * n + i] > 0) || !isfinite(U[i * n + i])) return false;
    return true;
}

seek_status seek_gptq_matrix(seek_pool *pool, seek_dtype t, const float *W0, int64_t rows, int64_t cols, const float *H,
                             const seek_gptq_opts *o, void *out, seek_gptq_loss *loss) {
    const seek_type_kernels *k = seek_kernels_for(t, SEEK_ISA_SCALAR);
    const int64_t bs = seek_dtype_block_size(t);
    uint8_t probe[512] = {0};
    seek_block_grid g0;
    if (!k || !k->from_float || bs < 2 || !seek_block_grid_get(t, probe, &g0) || cols % bs)
        return seek_errorf(SEEK_ERR_UNSUPPORTED, "gptq: cannot write %s rows of %lld", seek_dtype_name(t), (long long)cols);
    const size_t row_bytes = seek_dtype_row_bytes(t, cols);
    int64_t B = o->block > 0 ? o->block : 128;
    B = (B + bs - 1) / bs * bs;
    const double damp = o->damp > 0 ? o->damp : 0.01;
    const int64_t C = cols, R = rows, ns = C / g0.sub;
    int64_t *perm = malloc((size_t)C * sizeof *perm);
    double *Hd = malloc((size_t)(C * C) * sizeof *Hd), *V = malloc((size_t)(C * C) * sizeof *V);
    diag_entry *diag = malloc((size_t)C * sizeof *diag);
    float *U = malloc((size_t)(C * C) * sizeof *U), *W = malloc((size_t)(R * C) * sizeof *W), *E = malloc((size_t)(R * B) * sizeof *E);
    float *scale = malloc((size_t)(R * ns) * sizeof *scale), *offset = malloc((size_t)(R * ns) * sizeof *offset);
    int8_t *levels = malloc((size_t)(R * C));
    seek_status st = SEEK_OK;
    if (!perm || !Hd || !V || !diag || !U || !W || !E || !scale || !offset || !levels) {
        st = seek_errorf(SEEK_ERR_NOMEM, "gptq: out of memory for a %lld x %lld matrix", (long long)R, (long long)C);
        goto done;
    }
    for (int64_t i = 0; i < C; i++) diag[i] = (diag_entry){H[i * C + i] > 0 ? H[i * C + i] : 1, i}; /* dead columns: 1 */
    if (o->act_order) qsort(diag, (size_t)C, sizeof *diag, cmp_diag_desc);
    for (int64_t i = 0; i < C; i++) perm[i] = diag[i].i;
    /* round-to-nearest first: the result if H fails, the static grids with act_order */
    k->from_float(W0, out, R * C);
    bool ok = false;
    for (int attempt = 0; attempt < 3 && !ok; attempt++) ok = inverse_factor(pool, H, perm, C, damp * pow(10, attempt), Hd, V, U);
    free(Hd); /* the factors are made: the largest buffer goes before the next ones come */
    Hd = NULL;
    if (!ok) {
        st = seek_errorf(SEEK_ERR_INVALID, "gptq: the Hessian is not positive definite even with damping");
        goto done;
    }
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < C; i++) W[r * C + i] = W0[r * C + perm[i]];
    col_job j = {t, k, R, C, bs, g0.sub, g0.n_sub, (int64_t)(seek_dtype_row_bytes(t, bs)), row_bytes, g0.qmin, g0.qmax,
                 o->act_order, perm, W, U, E, B, 0, 0, scale, offset, levels, out};
    if (o->act_order)
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c += bs) read_grid(&j, r, c);
    for (int64_t i1 = 0; i1 < C; i1 += B) {
        j.i1 = i1;
        j.i2 = i1 + B < C ? i1 + B : C;
        seek_pool_for(pool, R, 4, quantize_rows, &j);
        /* W[:, i2:] -= Err U[i1:i2, i2:] (E holds -Err) */
        if (j.i2 < C) seek_gemm_f32(pool, false, false, R, C - j.i2, j.i2 - i1, E, B, U + i1 * C + j.i2, C, 1.0f, W + j.i2, C);
    }
    for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c += bs)
            seek_block_set_levels(t, (uint8_t *)out + (size_t)r * row_bytes + (size_t)(c / bs) * (size_t)j.blk_bytes,
                                  levels + r * C + c);
    if (loss) { /* W is free now: it holds the differences */
        float *DH = malloc((size_t)(R * C) * sizeof *DH);
        uint8_t *rtn = malloc(row_bytes * (size_t)R);
        if (DH && rtn) {
            loss->gptq = proxy_loss(pool, k, W0, out, R, C, row_bytes, H, W, DH);
            k->from_float(W0, rtn, R * C);
            loss->rtn = proxy_loss(pool, k, W0, rtn, R, C, row_bytes, H, W, DH);
        } else {
            st = seek_errorf(SEEK_ERR_NOMEM, "gptq: out of memory");
        }
        free(DH);
        free(rtn);
    }
done:
    free(perm), free(Hd), free(V), free(diag), free(U), free(W), free(E), free(scale), free(offset), free(levels);
    return st;
}

/* ---- calibration over a model ---- */

/* One weight of the layer being quantized: a writer tensor the forward multiplies by. */
typedef struct {
    size_t wi;         /* in the writer */
    seek_weight *mw;   /* the model's (3-D for experts) */
    seek_dtype type;   /* written */
    int64_t n_mat;     /* matrices: experts, or 1 */
    int32_t *group;    /* per matrix: its H group (-1: no input seen) */
    uint8_t *out;      /* n_mat matrices of type */
} target;

typedef struct {
    float *H;          /* n x n, the sum of x x^T */
    int64_t n, n_tok;
} hgroup;

typedef struct {
    target *t;
    int n_t;
    hgroup *g;
    int n_g, cap_g;
    int last, acc;     /* the group of the previous matmul (-1: none), the group this call adds to */
    bool oom;
} calib;

static int new_group(calib *c, int64_t n) {
    if (c->n_g == c->cap_g) {
        const int cap = c->cap_g ? 2 * c->cap_g : 16;
        hgroup *g = realloc(c->g, (size_t)cap * sizeof *g);
        if (!g) return c->oom = true, -1;
        c->g = g, c->cap_g = cap;
    }
    float *H = calloc((size_t)(n * n), sizeof *H);
    if (!H) return c->oom = true, -1;
    c->g[c->n_g] = (hgroup){H, n, 0};
    return c->n_g++;
}

/* The matmul observer: H of the weight's input group += x^T x, the rows of H split over threads.
 * Inputs shared by several weights (q, k, v; gate and up) are added once, to one group. */
static void observe(void *arg, const seek_exec *ex, const seek_weight *w, const float *x, int64_t n_tok, int64_t n,
                    bool same_input) {
    calib *c = arg;
    const target *tg = NULL;
    int64_t e = 0;
    for (int i = 0; i < c->n_t && !tg; i++) {
        const char *base = c->t[i].mw->data, *p = w->data;
        if (p >= base && p < base + (size_t)c->t[i].n_mat * c->t[i].mw->mat_bytes)
            tg = &c->t[i], e = (int64_t)((size_t)(p - base) / c->t[i].mw->mat_bytes);
    }
    if (!tg) {
        if (ex->ith == 0) c->last = -1;
        return;
    }
    if (ex->ith == 0) {
        int32_t *g = &tg->group[e];
        const bool shared = same_input && c->last >= 0;
        if (*g < 0) *g = shared && c->g[c->last].n == n ? c->last : new_group(c, n);
        c->acc = *g >= 0 && c->g[*g].n == n && !(shared && *g == c->last) ? *g : -1;
        if (c->acc >= 0) c->g[c->acc].n_tok += n_tok;
        c->last = *g;
    }
    seek_pool_barrier(ex);
    if (c->acc >= 0) {
        hgroup *h = &c->g[c->acc];
        int64_t lo, hi;
        seek_split(n, ex->ith, ex->nth, &lo, &hi);
        if (lo < hi) seek_gemm_f32(NULL, true, false, hi - lo, n, n_tok, x + lo, n, x, n, 1.0f, h->H + lo * n, n);
    }
    seek_pool_barrier(ex);
}

/* The weights of a layer the forward passes to fwd_matmul (forward.c, mla.c, moe.c). */
static int layer_weights(seek_layer *L, seek_weight **out) {
    seek_weight *all[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down, &L->wq_a, &L->wq_b,
                          &L->wkv_a, &L->gate_exps, &L->up_exps, &L->down_exps, &L->gate_shexp, &L->up_shexp,
                          &L->down_shexp};
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->data && all[i]->name) out[n++] = all[i];
    return n;
}

static bool is_block_type(seek_dtype t) { return seek_dtype_block_size(t) > 1; }

/* The targets of layer l: its weights that w writes in a block type. */
static seek_status layer_targets(seek_gguf_writer *w, seek_model *m, int64_t l, calib *c) {
    seek_weight *ws[16];
    const int n = layer_weights(&m->layers[l], ws);
    c->n_t = 0;
    for (int i = 0; i < n; i++) {
        size_t wi = 0;
        while (wi < seek_gw_n_tensors(w) && strcmp(seek_gw_tensor_name(w, wi), ws[i]->name)) wi++;
        if (wi == seek_gw_n_tensors(w) || !is_block_type(seek_gw_tensor_out_type(w, wi))) continue;
        target *t = &c->t[c->n_t];
        *t = (target){wi, ws[i], seek_gw_tensor_out_type(w, wi), ws[i]->ne[2] > 1 ? ws[i]->ne[2] : 1, NULL, NULL};
        const size_t mat = seek_dtype_row_bytes(t->type, ws[i]->ne[0]) * (size_t)ws[i]->ne[1];
        t->group = malloc((size_t)t->n_mat * sizeof *t->group);
        t->out = malloc(mat * (size_t)t->n_mat);
        c->n_t++;
        if (!t->group || !t->out) return seek_errorf(SEEK_ERR_NOMEM, "gptq: out of memory for %s", ws[i]->name);
        for (int64_t e = 0; e < t->n_mat; e++) t->group[e] = -1;
    }
    return SEEK_OK;
}

static void calib_reset(calib *c) {
    for (int i = 0; i < c->n_t; i++) {
        free(c->t[i].group);
        free(c->t[i].out); /* NULL once the writer owns it */
    }
    for (int i = 0; i < c->n_g; i++) free(c->g[i].H);
    c->n_t = c->n_g = 0;
    c->last = c->acc = -1;
}

/* Quantizes every matrix of target t (GPTQ where its H saw input, else round-to-nearest). */
static seek_status quantize_target(seek_pool *pool, calib *c, target *t, const seek_gptq_params *p, seek_gptq_stats *s) {
    const seek_weight *mw = t->mw;
    const int64_t R = mw->ne[1], C = mw->ne[0];
    const size_t mat = seek_dtype_row_bytes(t->type, C) * (size_t)R;
    const seek_type_kernels *src = seek_kernels_for(mw->type, SEEK_ISA_SCALAR), *dst = seek_kernels_for(t->type, SEEK_ISA_SCALAR);
    float *W = malloc((size_t)(R * C) * sizeof *W);
    if (!W || !src || !dst) {
        free(W);
        return seek_errorf(SEEK_ERR_NOMEM, "gptq: cannot read %s", mw->name);
    }
    seek_status st = SEEK_OK;
    double lg = 0, lr = 0;
    int n_gptq = 0;
    for (int64_t e = 0; e < t->n_mat && !st; e++) {
        const uint8_t *in = (const uint8_t *)mw->data + (size_t)e * mw->mat_bytes;
        for (int64_t r = 0; r < R; r++) src->to_float(in + (size_t)r * mw->row_bytes, W + r * C, C);
        uint8_t *out = t->out + (size_t)e * mat;
        const int32_t g = t->group[e];
        if (g < 0 || c->g[g].n_tok == 0) {
            dst->from_float(W, out, R * C);
            s->n_rtn++;
            continue;
        }
        seek_gptq_loss loss = {0, 0};
        st = seek_gptq_matrix(pool, t->type, W, R, C, c->g[g].H, &p->opts, out, &loss);
        if (st == SEEK_ERR_INVALID) { /* H failed: out holds round-to-nearest */
            fprintf(stderr, "gptq: %s: %s; left round-to-nearest\n", mw->name, seek_last_error());
            s->n_rtn++;
            st = SEEK_OK;
            continue;
        }
        if (st) break;
        s->n_matrices++, n_gptq++;
        if (loss.rtn > 0) lg += loss.gptq / loss.rtn, lr += 1;
    }
    s->loss_gptq += lg, s->loss_rtn += lr;
    if (!st && p->verbose)
        fprintf(stderr, "gptq: %-32s %-5s %lld x %lld%s: proxy loss %.3f of round-to-nearest's\n", mw->name,
                seek_dtype_name(t->type), (long long)R, (long long)C,
                t->n_mat > 1 ? " (experts)" : "", lr > 0 ? lg / lr : 1.0);
    free(W);
    return st;
}

/* Runs every window through layers [l, l+1): in from the store (l > 0) or the embeddings, out to
 * the store when propagate. */
static seek_status run_layer(seek_context *ctx, seek_batch *b, const int32_t *ids, int32_t n_win, int32_t n_ctx, int32_t bos,
                             float *store, int64_t l, bool propagate) {
    const int64_t dim = ctx->model->hp.dim;
    ctx->layer_first = l;
    ctx->layer_end = l + 1;
    for (int32_t wdx = 0; wdx < n_win; wdx++) {
        float *x = store + (size_t)wdx * (size_t)n_ctx * (size_t)dim;
        ctx->calib_in = l > 0 ? x : NULL;
        ctx->calib_out = propagate ? x : NULL;
        seek_seq_truncate(ctx, 0, 0);
        seek_batch_clear(b);
        for (int32_t pos = 0; pos < n_ctx; pos++)
            seek_batch_add(b, pos == 0 && bos >= 0 ? bos : ids[(int64_t)wdx * n_ctx + pos], pos, 0, false);
        seek_status st = seek_decode(ctx, b);
        if (st) return st;
    }
    return SEEK_OK;
}

seek_status seek_gptq_model(seek_gguf_writer *w, const char *model_path, const char *text, size_t len,
                            const seek_gptq_params *p, seek_gptq_progress progress, void *arg, seek_gptq_stats *stats) {
    memset(stats, 0, sizeof *stats);
    const int32_t n_ctx = p->n_ctx > 0 ? p->n_ctx : 512, max_win = p->max_windows > 0 ? p->max_windows : 128;
    seek_model *m = NULL;
    seek_status st = seek_model_load(&m, model_path);
    if (st) return st;
    int32_t *ids = NULL;
    int64_t n_tok = 0;
    seek_context *ctx = NULL;
    seek_batch b = {0};
    float *store = NULL;
    calib c = {.last = -1, .acc = -1};
    if ((st = seek_tokenize_all(m->tok, text, len, true, false, &ids, &n_tok))) goto done;
    const int32_t n_win = (int32_t)(n_tok / n_ctx < max_win ? n_tok / n_ctx : max_win);
    if (n_win < 1) {
        st = len == 0 ? seek_errorf(SEEK_ERR_INVALID, "the calibration text is empty")
                      : seek_errorf(SEEK_ERR_INVALID, "the calibration text is %lld tokens; one window needs %d (-c)",
                                    (long long)n_tok, n_ctx);
        goto done;
    }
    stats->n_windows = n_win;
    stats->n_tokens = (int64_t)n_win * n_ctx;
    const int32_t bos = seek_tokenizer_add_bos(m->tok) ? seek_tokenizer_bos(m->tok) : -1;
    seek_context_params cp = {.n_ctx = n_ctx, .n_batch = n_ctx, .n_seq = 1, .n_threads = p->n_threads};
    if ((st = seek_context_init(&ctx, m, &cp)) || (st = seek_batch_init(&b, n_ctx))) goto done;
    const int64_t dim = m->hp.dim, n_layer = m->hp.n_layer;
    store = malloc((size_t)n_win * (size_t)n_ctx * (size_t)dim * sizeof *store);
    c.t = calloc(16, sizeof *c.t);
    if (!store || !c.t) {
        st = seek_errorf(SEEK_ERR_NOMEM, "gptq: out of memory for the calibration's residual stream (%d windows of %d)", n_win, n_ctx);
        goto done;
    }
    ctx->observe_arg = &c;
    for (int64_t l = 0; l < n_layer && !st; l++) {
        if ((st = layer_targets(w, m, l, &c))) break;
        if (c.n_t) {
            ctx->observe = observe;
            st = run_layer(ctx, &b, ids, n_win, n_ctx, bos, store, l, false);
            ctx->observe = NULL;
            if (!st && c.oom) st = seek_errorf(SEEK_ERR_NOMEM, "gptq: out of memory for the Hessians of layer %lld", (long long)l);
        }
        for (int i = 0; i < c.n_t && !st; i++) st = quantize_target(ctx->pool, &c, &c.t[i], p, stats);
        for (int i = 0; i < c.n_t && !st; i++) { /* the quantized weights: into the file, and into the model */
            target *t = &c.t[i];
            seek_gw_set_data(w, t->wi, t->type, t->out, true);
            t->mw->data = t->out;
            t->mw->type = t->type;
            t->mw->row_bytes = seek_dtype_row_bytes(t->type, t->mw->ne[0]);
            t->mw->mat_bytes = t->mw->row_bytes * (size_t)t->mw->ne[1];
            t->out = NULL;
        }
        calib_reset(&c);
        if (!st && l + 1 < n_layer) st = run_layer(ctx, &b, ids, n_win, n_ctx, bos, store, l, true);
        if (!st && progress) progress(arg, l + 1, n_layer);
    }
done:
    calib_reset(&c);
    free(c.t);
    free(c.g);
    free(store);
    seek_batch_free(&b);
    seek_context_free(ctx);
    free(ids);
    seek_model_free(m);
    return st;
}
