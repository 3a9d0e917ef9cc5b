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

/* torch.optim.AdamW (amsgrad off): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
void seek_adamw_step(seek_tmodel *tm, int64_t t, double lr, double beta1, double beta2, double eps, double weight_decay,
                     float grad_scale) {
    const float b1 = (float)beta1, b2 = (float)beta2;
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    const float step = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2), e = (float)eps;
    for (int i = 0; i < tm->n_params; i++) {
        const seek_tparam *p = &tm->params[i];
        if (!p->trained) continue;
        float *w = tm->w + p->off, *g = tm->g + p->off, *m = tm->m + p->off, *v = tm->v + p->off;
        const float decay = p->decay ? (float)(1.0 - lr * weight_decay) : 1.0f;
        for (size_t j = 0; j < p->n; j++) {
            const float gj = g[j] * grad_scale;
            g[j] = gj;
            w[j] *= decay;
            m[j] = b1 * m[j] + (1.0f - b1) * gj;
            v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
            w[j] -= step * m[j] / (sqrtf(v[j]) / bc2_sqrt + e);
        }
    }
}
