/* The training loop behind `seek train`: tokenizer (trained or taken from a GGUF), data, model
 * (random, --init, or the newest checkpoint with --resume), gradient accumulation, clipping,
 * AdamW with the schedule, aux-free bias updates, progressive growth stages, evaluation,
 * checkpoints, the export, log.jsonl and the report. Not for the math (tmodel.h, optim.h). */
#ifndef SEEK_TRAIN_TRAINER_H
#define SEEK_TRAIN_TRAINER_H

#include <stdbool.h>
#include <stdio.h>

#include "train/config.h"

/* Runs the whole job; progress lines go to `progress` (stderr in the CLI). The config is checked
 * and the data read before any training starts. */
seek_status seek_train_run(seek_train_cfg *cfg, bool resume, FILE *progress);

#endif
