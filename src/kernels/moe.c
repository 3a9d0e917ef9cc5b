/* Expert routing for one token (see moe.h). */
#include "kernels/moe.h"

#include <math.h>
#include <string.h>

/* Index of the largest of v[0..n) not yet taken (ties: the lowest index), or -1. */
static int32_t argmax_free(const float *v, const uint8_t *taken, int32_t n) {
    int32_t best = -1;
    for (int32_t i = 0; i < n; i++)
        if (!taken[i] && (best < 0 || v[i] > v[best])) best = i;
    return best;
}

void moe_route(const seek_moe_cfg *cfg, const float *logits, const float *bias, int32_t *ids, float *w, float *scratch) {
    const int32_t n = cfg->n_expert;
    float *s = scratch, *c = scratch + n;
    if (cfg->sigmoid) {
        for (int32_t e = 0; e < n; e++) s[e] = 1.0f / (1.0f + expf(-logits[e]));
    } else {
        float mx = -INFINITY, sum = 0;
        for (int32_t e = 0; e < n; e++) mx = logits[e] > mx ? logits[e] : mx;
        for (int32_t e = 0; e < n; e++) sum += s[e] = expf(logits[e] - mx);
        for (int32_t e = 0; e < n; e++) s[e] /= sum;
    }
    for (int32_t e = 0; e < n; e++) c[e] = bias ? s[e] + bias[e] : s[e];
    uint8_t taken[4096]; /* n_expert <= 4096 (model.c checks) */
    memset(taken, 0, (size_t)n);
    if (cfg->n_group > 1 && cfg->n_group_used < cfg->n_group) {
        const int32_t per = n / cfg->n_group;
        float gs[4096];
        for (int32_t g = 0; g < cfg->n_group; g++) {
            const float *cg = c + g * per;
            float a = -INFINITY, b = -INFINITY; /* the best two */
            for (int32_t i = 0; i < per; i++) {
                if (cg[i] > a) b = a, a = cg[i];
                else if (cg[i] > b) b = cg[i];
            }
            gs[g] = cfg->group_top2 ? a + (per > 1 ? b : 0.0f) : a;
        }
        uint8_t keep[4096];
        memset(keep, 0, (size_t)cfg->n_group);
        for (int32_t k = 0; k < cfg->n_group_used; k++) keep[argmax_free(gs, keep, cfg->n_group)] = 1;
        for (int32_t e = 0; e < n; e++)
            if (!keep[e / per]) c[e] = cfg->mask_zero ? 0.0f : -INFINITY;
    }
    float sum = 0;
    for (int32_t k = 0; k < cfg->n_used; k++) {
        const int32_t e = argmax_free(c, taken, n);
        taken[e] = 1;
        ids[k] = e;
        sum += w[k] = s[e];
    }
    for (int32_t k = 0; k < cfg->n_used; k++) {
        if (cfg->norm) w[k] /= sum + 1e-20f;
        w[k] *= cfg->scale;
    }
}
