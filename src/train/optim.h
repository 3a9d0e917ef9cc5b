/* AdamW with decoupled weight decay and global-norm gradient clipping, as torch.optim.AdamW and
 * torch.nn.utils.clip_grad_norm_ compute them (SPEC.md). Not for the learning-rate schedule
 * (config.h: seek_train_lr) or for aux-free bias updates (trainer.c). */
#ifndef SEEK_TRAIN_OPTIM_H
#define SEEK_TRAIN_OPTIM_H

#include "train/tmodel.h"

/* The L2 norm of all gradients of trained tensors. */
double seek_grad_norm(const seek_tmodel *tm);
/* One AdamW update of every trained tensor at step t (1-based, for bias correction), after scaling
 * the gradients by grad_scale (clipping). Gradients are left as they were (scaled). */
void seek_adamw_step(seek_tmodel *tm, int64_t t, double lr, double beta1, double beta2, double eps, double weight_decay,
                     float grad_scale);
/* The factor clip_grad_norm_ multiplies the gradients by: min(1, clip / (norm + 1e-6)); clip 0 = off. */
float seek_clip_scale(double norm, double clip);

#endif
