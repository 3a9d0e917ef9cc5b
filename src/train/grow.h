/* Progressive training: operators that turn a trained model into a larger one computing the same
 * function at the moment of growth.
 * - depth (n_layer L -> N > L): new layer j copies old layer floor(j*L/N); every copy after the
 *   first has its output projections (attn_output, ffn_down / down experts) zeroed, so it starts
 *   as an identity block (the residual passes through) and trains from there;
 * - dense -> MoE (sparse upcycling): every expert copies the dense MLP; the router starts near zero
 *   (N(0, 1e-4): equal scores up to noise) and the down projections are scaled by 1/(K*s0), s0 the
 *   score of a uniform router (1/E softmax, 1/2 sigmoid), so the K chosen experts sum to the
 *   dense output (exact with norm_topk, where no scaling is needed);
 * - MoE E -> m*E experts (DeepSeekMoE fine-grained segmentation): expert e splits into m experts,
 *   each one m-th of its hidden units with e's router row; K -> m*K and the down projections
 *   are scaled so each piece carries e's full gate (exact); shared experts are counted in pieces too
 *   (m*S of width F/m: the same tensors).
 * Optimizer moments restart at zero. Not for choosing when to grow (trainer.c). */
#ifndef SEEK_TRAIN_GROW_H
#define SEEK_TRAIN_GROW_H

#include "train/tmodel.h"

/* The config a growth gives: n_layer (0 = unchanged), n_expert (0 = unchanged). */
seek_status seek_grow_cfg(seek_tmodel_cfg *out, const seek_tmodel_cfg *in, int32_t n_layer, int32_t n_expert);
/* dst must be initialised with a config from seek_grow_cfg(src->cfg, ...). */
seek_status seek_grow(seek_tmodel *dst, const seek_tmodel *src, uint64_t seed);

#endif
