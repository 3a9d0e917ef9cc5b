/* The training report: run.out/report.html with SVG charts of the loss (train and held-out),
 * the learning rate and the final per-expert load, drawn from run.out/log.jsonl. Written to a
 * temporary file and renamed. Not for the numbers themselves (trainer.c logs them). */
#ifndef SEEK_TRAIN_REPORT_H
#define SEEK_TRAIN_REPORT_H

#include "seek.h"

seek_status seek_train_report(const char *out_dir);

#endif
