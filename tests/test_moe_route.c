/* Expert routing (kernels/moe.h) on hand-worked cases for each method DeepSeek uses:
 * softmax + greedy top-k (DeepSeekMoE, V2-Lite), softmax + group-limited greedy with the group
 * max (V2, V2.5), sigmoid + bias-corrected group top-2 sums (V3 noaux_tc) with renormalised,
 * scaled weights, and the two ways of masking dropped groups (-inf: DeepSeek-V3's code,
 * transformers' DeepseekV3 and llama.cpp; 0.0: the hub modeling files and transformers'
 * DeepseekV2), which pick different experts when a kept expert's biased score is negative. Expected values are written out from the definitions. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "kernels/moe.h"

static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }

static void route(const seek_moe_cfg *c, const float *logits, const float *bias, int32_t *ids, float *w) {
    float scratch[64];
    moe_route(c, logits, bias, ids, w, scratch);
}

static void check_case(const char *name, const seek_moe_cfg *c, const float *logits, const float *bias, const int32_t *want_ids,
                       const double *want_w) {
    int32_t ids[8];
    float w[8];
    route(c, logits, bias, ids, w);
    for (int k = 0; k < c->n_used; k++) {
        CHECK(ids[k] == want_ids[k], "%s: expert %d is %d, expected %d", name, k, ids[k], want_ids[k]);
        CHECK(fabs(w[k] - want_w[k]) <= 1e-6 * fmax(1.0, fabs(want_w[k])), "%s: weight %d is %.7f, expected %.7f", name, k, w[k],
              want_w[k]);
    }
}

int main(void) {
    /* DeepSeekMoE: softmax over 4 experts, top-2, raw probabilities */
    {
        const float l[4] = {1, 2, 3, 0};
        const double z = exp(1) + exp(2) + exp(3) + exp(0);
        seek_moe_cfg c = {.n_expert = 4, .n_used = 2, .n_group = 1, .n_group_used = 1, .scale = 1};
        check_case("softmax greedy", &c, l, NULL, (int32_t[]){2, 1}, (double[]){exp(3) / z, exp(2) / z});
    }
    /* V2: 8 experts in 4 groups of 2, keep 2 groups by their max, top-3, weights x16.
     * Group maxima 5, 4.4, 0, 4.5 keep groups 0 and 3: experts 0 (5), 7 (4.5), 6 (3.9), although
     * experts 2 and 3 (4.4) beat expert 6 globally. */
    const float l8[8] = {5, -1, 4.4f, 4.4f, 0, 0, 3.9f, 4.5f};
    const double e44 = exp((double)4.4f), e39 = exp((double)3.9f);
    double z8 = 0;
    for (int e = 0; e < 8; e++) z8 += exp(l8[e]);
    {
        seek_moe_cfg c = {.n_expert = 8, .n_used = 3, .n_group = 4, .n_group_used = 2, .scale = 16};
        check_case("group max", &c, l8, NULL, (int32_t[]){0, 7, 6},
                   (double[]){16 * exp(5) / z8, 16 * exp(4.5) / z8, 16 * e39 / z8});
        /* scored by the sum of their top-2 probabilities (e^5+e^-1 = 148.8, 2e^4.4 = 162.9, 2,
         * e^3.9+e^4.5 = 139.4, over z) groups 1 and 0 are kept instead */
        c.group_top2 = true;
        check_case("group top-2 sum", &c, l8, NULL, (int32_t[]){0, 2, 3},
                   (double[]){16 * exp(5) / z8, 16 * e44 / z8, 16 * e44 / z8});
        /* without groups: plain top-3 */
        c.n_group = 1;
        c.n_group_used = 1;
        check_case("softmax top-3", &c, l8, NULL, (int32_t[]){0, 7, 2},
                   (double[]){16 * exp(5) / z8, 16 * exp(4.5) / z8, 16 * e44 / z8});
    }
    /* V3: sigmoid scores, top-2, renormalised and x2.5 */
    const float l4[4] = {0, 1, 2, -1};
    seek_moe_cfg v3 = {.n_expert = 4, .n_used = 2, .n_group = 1, .n_group_used = 1, .sigmoid = true, .group_top2 = true,
                       .norm = true, .scale = 2.5f};
    {
        const double a = sig(2), b = sig(1);
        check_case("sigmoid norm", &v3, l4, NULL, (int32_t[]){2, 1}, (double[]){2.5 * a / (a + b), 2.5 * b / (a + b)});
        /* the bias only chooses: expert 3 (sigmoid(-1) + 5) is picked, weighted by its unbiased score */
        const float bias[4] = {0, 0, 0, 5};
        const double c3 = sig(-1), c2 = sig(2);
        check_case("bias selects only", &v3, l4, bias, (int32_t[]){3, 2}, (double[]){2.5 * c3 / (c3 + c2), 2.5 * c2 / (c3 + c2)});
    }
    /* Masking: 2 groups of 2, keep 1, top-2; all scores 0.5; biased scores -0.5, -0.4, 0.7, -1.5.
     * Top-2 sums -0.9 and -0.8 keep group 1. DeepSeek (-inf): experts 2 and 3. Hub code (0.0): the
     * dropped experts score 0.0 > -1.5, so expert 0 (the lower id of the tie) replaces expert 3. */
    {
        const float zero[4] = {0, 0, 0, 0}, bias[4] = {-1, -0.9f, 0.2f, -2};
        seek_moe_cfg c = v3;
        c.n_group = 2;
        c.n_group_used = 1;
        check_case("mask -inf", &c, zero, bias, (int32_t[]){2, 3}, (double[]){1.25, 1.25});
        c.mask_zero = true;
        check_case("mask 0.0 (hub code)", &c, zero, bias, (int32_t[]){2, 0}, (double[]){1.25, 1.25});
    }
    return check_summary("test_moe_route");
}
