/* seek train: train (or continue training) a DeepSeek-style model on text, and seek grow: make a
 * trained model larger without changing what it computes (progressive training).
 * Argument parsing only: the work is in src/train/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "format/gguf.h"
#include "train/ckpt.h"
#include "train/grow.h"
#include "train/trainer.h"

static void train_usage(FILE *f) {
    fprintf(f,
            "usage: seek train --config RUN.json [--resume] [--steps N] [--out DIR] [--FIELD VALUE ...]\n"
            "Trains the model the config describes (see docs/training.md); every config field is also a flag,\n"
            "e.g. --dim 256 --n_expert 16 --lr 3e-3 --precision bf16 --train corpus.txt --tokenizer bpe:4096.\n"
            "  --resume       continue from the newest complete checkpoint in the output folder\n"
            "Writes OUT/model.gguf (run it with seek run -m), checkpoints, log.jsonl and report.html.\n");
}

int cmd_train(int argc, char **argv) {
    seek_train_cfg c;
    seek_train_cfg_defaults(&c);
    bool resume = false, files_from_flags = false;
    const char *config = NULL;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[i + 1];
    seek_status st = SEEK_OK;
    if (config && (st = seek_train_cfg_load(&c, config))) goto fail;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            train_usage(stdout);
            seek_train_cfg_free(&c);
            return 0;
        }
        if (!strcmp(a, "--resume")) {
            resume = true;
            continue;
        }
        if (strncmp(a, "--", 2) || i + 1 >= argc) {
            fprintf(stderr, "seek train: unexpected argument '%s'\n", a);
            train_usage(stderr);
            seek_train_cfg_free(&c);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--config")) continue;
        if (!strcmp(a, "--train") && !files_from_flags) { /* flags replace the config's file list */
            for (int k = 0; k < c.n_train; k++) free(c.train[k]);
            c.n_train = 0;
            files_from_flags = true;
        }
        if ((st = seek_train_cfg_set(&c, a + 2, v))) goto fail;
    }
    if ((st = seek_train_run(&c, resume, stderr))) goto fail;
    seek_train_cfg_free(&c);
    return 0;
fail:
    fprintf(stderr, "seek train: %s\n", seek_last_error());
    seek_train_cfg_free(&c);
    return 1;
}

int cmd_grow(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    int32_t layers = 0, experts = 0;
    uint64_t seed = 1;
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--layers") || !strcmp(argv[i], "--experts") || !strcmp(argv[i], "--seed")) && i + 1 < argc) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*end || v < 1 || v > 4096) {
                fprintf(stderr, "seek grow: %s needs a number from 1 to 4096, not '%s'\n", argv[i], argv[i + 1]);
                return 2;
            }
            if (argv[i][2] == 'l') layers = (int32_t)v;
            else if (argv[i][2] == 'e') experts = (int32_t)v;
            else seed = (uint64_t)v;
            i++;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: seek grow IN.gguf OUT.gguf (--layers N | --experts N)\n"
                   "Grows a model written by seek train: deeper (new layers start as identity blocks), dense -> MoE\n"
                   "(upcycling), or each expert split into finer ones. Continue training with --init OUT.gguf.\n");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "seek grow: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            fprintf(stderr, "seek grow: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!in || !out || (!layers && !experts)) {
        fprintf(stderr, "usage: seek grow IN.gguf OUT.gguf (--layers N | --experts N)\n");
        return 2;
    }
    seek_train_cfg c;
    seek_train_cfg_defaults(&c);
    seek_gguf *g = NULL;
    seek_tmodel small = {0}, big = {0};
    seek_tmodel_cfg nc;
    seek_status st;
    if ((st = seek_gguf_open(&g, in)) || (st = seek_train_cfg_from_gguf(&c, g, in))) goto done;
    c.model.n_kv_head = c.model.n_kv_head ? c.model.n_kv_head : c.model.n_head;
    if ((st = seek_tmodel_init(&small, &c.model, NULL)) || (st = seek_tmodel_read(&small, g, in, NULL))) goto done;
    if ((st = seek_grow_cfg(&nc, &c.model, layers, experts)) || (st = seek_tmodel_init(&big, &nc, NULL)) ||
        (st = seek_grow(&big, &small, seed)))
        goto done;
    c.model = nc;
    st = seek_export_write(out, &big, &c, g);
    if (!st) {
        int64_t t0, a0, t1, a1;
        seek_tmodel_count(&small, &t0, &a0);
        seek_tmodel_count(&big, &t1, &a1);
        fprintf(stderr, "seek grow: %s (%.2fM parameters, %.2fM active) -> %s (%.2fM, %.2fM active)\n", in, t0 / 1e6, a0 / 1e6, out,
                t1 / 1e6, a1 / 1e6);
    }
done:
    if (st) fprintf(stderr, "seek grow: %s\n", seek_last_error());
    seek_tmodel_free(&small);
    seek_tmodel_free(&big);
    if (g) seek_gguf_close(g);
    seek_train_cfg_free(&c);
    return st ? 1 : 0;
}
