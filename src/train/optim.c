/* AdamW and gradient clipping over the model's one parameter allocation (see optim.h). */
#include "train/optim.h"

#include <math.h>

double seek_grad_norm(const seek_tmodel *tm) {
    double ss = 0;
    for (int i = 0; i < tm->n_params; i++) {
        const seek_tparam *p = &tm->params[i];
        if (!p->trained) continue;
        const float *g = tm->g + p->off;
        for (size_t j = 0; j < p->n; j++) ss += (double)g[j] * g[j];
    }
    return sqrt(ss);
}

float seek_clip_scale(double norm, double clip) {
    if (clip <= 0) return 1.0f;
    const double s = clip / (norm + 1e-6);
    return s < 1.0 ? (float)s : 1.0f;
}

typedef struct {
    seek_tmodel *tm;
    float b1, b2, step, bc2_sqrt, e, decay, grad_scale;
    const seek_tparam *p;
} adam_job;

static void adam_range(int64_t lo, int64_t hi, void *arg) {
    const adam_job *j = arg;
    const size_t off = j->p->off;
    float *w = j->tm->w + off, *g = j->tm->g + off, *m = j->tm->m + off, *v = j->tm->v + off;
    for (int64_t i = lo; i < hi; i++) {
        const float gi = g[i] * j->grad_scale;
        g[i] = gi;
        w[i] *= j->decay;
        m[i] = j->b1 * m[i] + (1.0f - j->b1) * gi;
        v[i] = j->b2 * v[i] + (1.0f - j->b2) * gi * gi;
        w[i] -= j->step * m[i] / (sqrtf(v[i]) / j->bc2_sqrt + j->e);
    }
}

/* torch.optim.AdamW (amsgrad off): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). Element-wise, split over the pool. */
void seek_adamw_step(seek_tmodel *tm, int64_t t, double lr, double beta1, double beta2, double eps, double weight_decay,
                     float grad_scale) {
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    adam_job j = {.tm = tm, .b1 = (float)beta1, .b2 = (float)beta2, .step = (float)(lr / bc1), .bc2_sqrt = (float)sqrt(bc2),
                  .e = (float)eps, .grad_scale = grad_scale};
    for (int i = 0; i < tm->n_params; i++) {
        j.p = &tm->params[i];
        if (!j.p->trained) continue;
        j.decay = j.p->decay ? (float)(1.0 - lr * weight_decay) : 1.0f;
        seek_pool_for(tm->pool, (int64_t)j.p->n, 1 << 15, adam_range, &j);
    }
}
