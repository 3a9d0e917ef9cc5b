/* Mixture-of-experts routing for one token: scores from the router logits, optional group-limited
 * selection, top-k, and the weights the chosen experts' outputs are summed with. It follows
 * DeepSeek's own inference code (DeepSeek-V3 inference/model.py Gate and the hub modeling files):
 *   s = softmax(logits) | sigmoid(logits)          scores
 *   c = s + bias                                   used only to choose (V3's e_score_correction_bias)
 *   groups (n_group > 1): group score = max of c (V2 group_limited_greedy) or sum of its top 2
 *     (V3 noaux_tc); keep the n_group_used best groups; the other experts' c become -inf
 *     (DeepSeek-V3's inference code, transformers 5.x DeepseekV3, llama.cpp: the default) or 0.0
 *     (the hub modeling_deepseek.py files and transformers' DeepseekV2: masked_fill(~mask, 0.0)).
 *     The two differ only when a kept expert's c is negative (possible with V3's bias, never with
 *     softmax scores unless k exceeds the kept experts) -- cfg->mask_zero picks 0.0
 *   ids = top-k of c (ties: the lower expert id first);  w = s[ids] (unbiased)
 *   w /= sum(w) when cfg->norm (norm_topk_prob);  w *= cfg->scale (routed_scaling_factor)
 * Not for running the experts (model/moe.c). */
#ifndef SEEK_KERNELS_MOE_H
#define SEEK_KERNELS_MOE_H

#include "model/model.h"

/* Chooses cfg->n_used experts for one token: ids and weights in order of selection.
 * bias may be NULL; scratch holds 2 * cfg->n_expert floats. */
void moe_route(const seek_moe_cfg *cfg, const float *logits, const float *bias, int32_t *ids, float *w, float *scratch);

#endif
