/* The training loop (see trainer.h). One optimizer step: grad_accum micro-batches of forward +
 * backward (each scaled by 1/grad_accum), the global gradient norm, clipping, the schedule's lr,
 * AdamW, the bf16 / fp8 weight copies, and the aux-free bias update. Files in run.out:
 *   tokenizer.gguf   the trained BPE (when data.tokenizer is "bpe:N")
 *   ckpt-NNNNNNNN.gguf  checkpoints (the two newest are kept)
 *   model.gguf       the export (every checkpoint and at the end)
 *   log.jsonl        one object per optimizer step; report.html the curves and expert load */
#include "train/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/status.h"
#include "format/gguf_write.h"
#include "train/bpe_train.h"
#include "train/ckpt.h"
#include "train/data.h"
#include "train/grow.h"
#include "train/optim.h"
#include "train/report.h"
#include "train/tmodel.h"

typedef struct {
    seek_train_cfg *cfg;
    FILE *out;
    seek_pool *pool;
    seek_gguf *tok_gguf;
    seek_tokenizer *tok;
    seek_tdata data;
    seek_tmodel tm;
    seek_tstate *st, *eval_st;
    seek_ckpt_state state;
    FILE *log;
    int32_t *inp, *tgt;
    char path[4096];
} trainer;

static const char *out_path(trainer *t, const char *name) {
    snprintf(t->path, sizeof t->path, "%s/%s", t->cfg->out, name);
    return t->path;
}

static seek_status make_dirs(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) return seek_errorf(SEEK_ERR_IO, "cannot create folder '%s': %s", p, strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0755) && errno != EEXIST) return seek_errorf(SEEK_ERR_IO, "cannot create folder '%s': %s", p, strerror(errno));
    /* writable? */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.seek-write-test", p);
    FILE *f = fopen(probe, "w");
    if (!f) return seek_errorf(SEEK_ERR_IO, "cannot write into the output folder '%s': %s", p, strerror(errno));
    fclose(f);
    unlink(probe);
    return SEEK_OK;
}

/* The newest checkpoint in run.out that opens cleanly (a torn one is skipped). */
static seek_status newest_ckpt(trainer *t, seek_gguf **g, char *path, size_t n) {
    *g = NULL;
    DIR *d = opendir(t->cfg->out);
    if (!d) return SEEK_OK;
    long best[64];
    int nb = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long step;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%ld.gguf%7s", &step, tail) == 1 && nb < 64) best[nb++] = step;
    }
    closedir(d);
    for (int pass = 0; pass < nb; pass++) {
        int bi = -1;
        for (int i = 0; i < nb; i++)
            if (best[i] >= 0 && (bi < 0 || best[i] > best[bi])) bi = i;
        snprintf(path, n, "%s/ckpt-%08ld.gguf", t->cfg->out, best[bi]);
        best[bi] = -1;
        if (seek_gguf_open(g, path) == SEEK_OK) return SEEK_OK;
        fprintf(t->out, "seek train: skipping unreadable checkpoint %s (%s)\n", path, seek_last_error());
    }
    return SEEK_OK;
}

/* Deletes checkpoints older than the newest `keep`. */
static void prune_ckpts(trainer *t, int keep) {
    DIR *d = opendir(t->cfg->out);
    if (!d) return;
    long steps[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        long s;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%ld.gguf%7s", &s, tail) == 1) steps[n++] = s;
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        int newer = 0;
        for (int j = 0; j < n; j++) newer += steps[j] > steps[i];
        if (newer >= keep) {
            char p[4200];
            snprintf(p, sizeof p, "%s/ckpt-%08ld.gguf", t->cfg->out, steps[i]);
            unlink(p);
        }
    }
}

/* data.tokenizer: "bpe:N" trains one on the training text (kept in run.out/tokenizer.gguf and
 * reused on resume), "byte" is bpe with no merges, otherwise the tokenizer of a GGUF file. */
static seek_status load_tokenizer(trainer *t) {
    const char *spec = t->cfg->tokenizer;
    seek_status st;
    int32_t n_vocab = 0;
    if (!strcmp(spec, "byte")) n_vocab = 257;
    else if (!strncmp(spec, "bpe:", 4)) {
        char *end;
        long v = strtol(spec + 4, &end, 10);
        if (*end || v < 257 || v > 1000000)
            return seek_errorf(SEEK_ERR_INVALID, "data.tokenizer '%s': bpe:N needs 257 <= N <= 1000000", spec);
        n_vocab = (int32_t)v;
    }
    if (!n_vocab) {
        if ((st = seek_gguf_open(&t->tok_gguf, spec))) return st;
        return seek_tokenizer_load(&t->tok, t->tok_gguf);
    }
    const char *tp = out_path(t, "tokenizer.gguf");
    if (access(tp, R_OK) == 0 && seek_gguf_open(&t->tok_gguf, tp) == SEEK_OK) {
        seek_tokenizer *tok;
        if (seek_tokenizer_load(&tok, t->tok_gguf) == SEEK_OK && seek_tokenizer_n_vocab(tok) == n_vocab) {
            t->tok = tok;
            fprintf(t->out, "seek train: tokenizer %s (%d tokens)\n", tp, n_vocab);
            return SEEK_OK;
        }
        if (t->tok_gguf) seek_gguf_close(t->tok_gguf);
        t->tok_gguf = NULL;
    }
    /* train it on the concatenated text files */
    char *all = NULL;
    size_t len = 0;
    for (int i = 0; i < t->cfg->n_train && n_vocab > 257; i++) { /* "byte" needs no text */
        char *text;
        size_t n;
        const size_t nl = strlen(t->cfg->train[i]);
        if (nl > 4 && !strcmp(t->cfg->train[i] + nl - 4, ".bin")) continue; /* token shards */
        if ((st = seek_read_text(t->cfg->train[i], &text, &n))) {
            free(all);
            return st;
        }
        char *grown = realloc(all, len + n + 1);
        if (!grown) {
            free(text);
            free(all);
            return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
        }
        all = grown;
        memcpy(all + len, text, n);
        len += n;
        all[len] = 0;
        free(text);
    }
    if (!all && n_vocab > 257) return seek_errorf(SEEK_ERR_INVALID, "data.tokenizer '%s' needs text files in data.train", spec);
    if (!all && !(all = calloc(1, 2))) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    if (!len) all[len++] = '\n'; /* "byte": the 256 byte tokens and <|endoftext|> */
    fprintf(t->out, "seek train: training a %d-token BPE tokenizer on %.1f MB of text\n", n_vocab, (double)len / 1e6);
    seek_bpe_vocab *v = NULL;
    st = seek_bpe_train(&v, all, len, n_vocab, t->pool);
    free(all);
    if (st) return st;
    seek_gguf_writer *w = seek_gw_new();
    if (!w) {
        seek_bpe_vocab_free(v);
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    }
    seek_gw_str(w, "general.architecture", "tokenizer");
    seek_bpe_write_keys(w, v);
    seek_bpe_vocab_free(v);
    if ((st = seek_gw_write(w, tp, NULL, NULL))) {
        seek_gw_free(w);
        return st;
    }
    seek_gw_free(w);
    if ((st = seek_gguf_open(&t->tok_gguf, tp))) return st;
    return seek_tokenizer_load(&t->tok, t->tok_gguf);
}

/* the held-out loss of the training tokens' unigram distribution (add-one smoothed): the loss a
 * model that ignores context would reach, the bar a trained model must go well below */
static double unigram_loss(const seek_tdata *d, int32_t V) {
    int64_t *cnt = calloc((size_t)V, sizeof *cnt);
    if (!cnt || !d->n_val) {
        free(cnt);
        return NAN;
    }
    for (int64_t i = 0; i < d->n_train; i++) cnt[d->train[i]]++;
    double loss = 0;
    for (int64_t i = 0; i < d->n_val; i++) loss -= log((double)(cnt[d->val[i]] + 1) / (double)(d->n_train + V));
    free(cnt);
    return loss / (double)d->n_val;
}

/* the model sections of two configs describe the same tensors */
static bool same_shape(const seek_tmodel_cfg *a, const seek_tmodel_cfg *b) {
    return a->n_layer == b->n_layer && a->dim == b->dim && a->n_head == b->n_head && a->n_kv_head == b->n_kv_head &&
           a->vocab == b->vocab && a->attention == b->attention && a->kv_lora_rank == b->kv_lora_rank && a->q_lora_rank == b->q_lora_rank &&
           a->qk_nope_dim == b->qk_nope_dim && a->qk_rope_dim == b->qk_rope_dim && a->v_head_dim == b->v_head_dim &&
           a->moe == b->moe && a->ff_dim == b->ff_dim && (!a->moe || (a->n_expert == b->n_expert && a->expert_dim == b->expert_dim &&
           a->n_shared_expert == b->n_shared_expert && a->n_dense_lead == b->n_dense_lead)) && (a->balance == TBAL_AUX_FREE) == (b->balance == TBAL_AUX_FREE);
}

static void describe(char *buf, size_t n, const seek_tmodel_cfg *c) {
    snprintf(buf, n, "%d layers, dim %d, %d heads, vocab %d, %s, %s", c->n_layer, c->dim, c->n_head, c->vocab,
             c->attention == TATT_MLA ? "MLA" : "MHA", c->moe ? "MoE" : "dense");
    if (c->moe) snprintf(buf + strlen(buf), n - strlen(buf), " (%d experts, top-%d, width %d)", c->n_expert, c->n_expert_used, c->expert_dim);
}

static seek_status alloc_states(trainer *t) {
    seek_tstate_free(t->st);
    seek_tstate_free(t->eval_st);
    t->st = t->eval_st = NULL;
    seek_status st = seek_tstate_new(&t->st, &t->tm, t->cfg->micro_batch, t->cfg->seq_len);
    if (!st && t->data.n_val) st = seek_tstate_new(&t->eval_st, &t->tm, 1, t->cfg->seq_len);
    return st;
}

/* mean loss over the held-out windows (at most eval_batches * micro_batch of them) */
static double evaluate(trainer *t) {
    const int32_t T = t->cfg->seq_len;
    int64_t n = seek_tdata_n_val_windows(&t->data, T);
    const int64_t cap = (int64_t)t->cfg->eval_batches * t->cfg->micro_batch;
    if (n > cap) n = cap;
    double sum = 0;
    seek_tstate_xl_reset(t->eval_st); /* consecutive windows: one XL stream */
    for (int64_t i = 0; i < n; i++) {
        seek_tloss l;
        seek_tdata_val_window(&t->data, i, T, t->inp, t->tgt);
        if (seek_tmodel_forward(&t->tm, t->eval_st, t->inp, t->tgt, &l)) return NAN;
        sum += l.ce;
    }
    return n ? sum / (double)n : NAN;
}

/* test hook: SEEK_TEST_KILL_IN_CKPT=N kills the process half-way through writing checkpoint N,
 * so tests can check that a torn write never replaces a good checkpoint */
static void kill_half_way(void *arg, uint64_t done, uint64_t total) {
    if (arg && done * 2 >= total) raise(SIGKILL);
}

/* the checkpoint state's view of the training streams' XL memory (NULL without one) */
static void point_xl_state(trainer *t) {
    t->state.xl_mem = seek_tstate_xl_memory(t->st, &t->state.xl_n, &t->state.xl_mlen);
    t->state.xl_b = t->cfg->micro_batch;
}

static seek_status save(trainer *t) {
    char name[64];
    snprintf(name, sizeof name, "ckpt-%08lld.gguf", (long long)t->state.step);
    const char *kill_at = getenv("SEEK_TEST_KILL_IN_CKPT");
    void *arm = kill_at && atoll(kill_at) == t->state.step ? (void *)1 : NULL;
    point_xl_state(t);
    seek_status st = seek_ckpt_write(out_path(t, name), &t->tm, t->cfg, t->tok_gguf, &t->state, kill_half_way, arm);
    if (!st) st = seek_export_write(out_path(t, "model.gguf"), &t->tm, t->cfg, t->tok_gguf);
    if (!st) prune_ckpts(t, 2);
    return st;
}

/* log.jsonl keeps only the steps a resumed run has not redone (temp file + rename) */
static seek_status trim_log(trainer *t, int64_t upto) {
    char src[4200], tmp[4300];
    snprintf(src, sizeof src, "%s/log.jsonl", t->cfg->out);
    snprintf(tmp, sizeof tmp, "%s.tmp", src);
    FILE *in = fopen(src, "r");
    if (!in) return SEEK_OK;
    FILE *o = fopen(tmp, "w");
    if (!o) {
        fclose(in);
        return seek_errorf(SEEK_ERR_IO, "cannot write %s", tmp);
    }
    char line[1 << 16];
    while (fgets(line, sizeof line, in)) {
        long long s;
        if (sscanf(line, "{\"step\": %lld", &s) == 1 && s <= upto) fputs(line, o);
    }
    fclose(in);
    if (fclose(o) || rename(tmp, src)) return seek_errorf(SEEK_ERR_IO, "cannot rewrite %s", src);
    return SEEK_OK;
}

/* aux-free balancing: b_e += gamma * sign(mean load - load_e), per MoE layer (SPEC.md) */
static void update_bias(trainer *t) {
    int n_moe;
    const int64_t *load = seek_tstate_load(t->st, &n_moe);
    const int64_t E = t->tm.cfg.n_expert;
    int k = 0;
    for (int il = 0; il < t->tm.cfg.n_layer; il++) {
        seek_tlayer *ly = &t->tm.layers[il];
        if (!ly->moe) continue;
        const int64_t *l = load + (int64_t)k++ * E;
        if (!ly->exp_bias) continue;
        double mean = 0;
        for (int64_t e = 0; e < E; e++) mean += (double)l[e] / (double)E;
        for (int64_t e = 0; e < E; e++)
            ly->exp_bias[e] += t->tm.cfg.bias_update_rate * (float)((l[e] < mean) - (l[e] > mean));
    }
}

/* min and max over experts and layers of load / fair share, and the loads as a JSON array */
static void load_stats(trainer *t, double *lo, double *hi, char *json, size_t n) {
    int n_moe;
    const int64_t *load = seek_tstate_load(t->st, &n_moe);
    const int64_t E = t->tm.cfg.n_expert;
    *lo = INFINITY;
    *hi = 0;
    size_t at = (size_t)snprintf(json, n, "[");
    for (int k = 0; k < n_moe; k++) {
        int64_t total = 0;
        for (int64_t e = 0; e < E; e++) total += load[k * E + e];
        at += (size_t)snprintf(json + at, at < n ? n - at : 0, "%s[", k ? "," : "");
        for (int64_t e = 0; e < E; e++) {
            const double f = total ? (double)load[k * E + e] * (double)E / (double)total : 0;
            *lo = f < *lo ? f : *lo;
            *hi = f > *hi ? f : *hi;
            at += (size_t)snprintf(json + at, at < n ? n - at : 0, "%s%.3f", e ? "," : "", f);
        }
        at += (size_t)snprintf(json + at, at < n ? n - at : 0, "]");
    }
    snprintf(json + (at < n ? at : n - 1), at < n ? n - at : 1, "]");
    if (!n_moe) *lo = *hi = 1;
}

/* the growth stage that starts at this step: a new model with the grown shape replaces the old */
static seek_status grow_stage(trainer *t, int k) {
    seek_tmodel_cfg nc;
    seek_status st = seek_grow_cfg(&nc, &t->tm.cfg, t->cfg->stages[k].n_layer, t->cfg->stages[k].n_expert);
    if (st) return st;
    seek_tmodel big;
    if ((st = seek_tmodel_init(&big, &nc, t->pool)) || (st = seek_grow(&big, &t->tm, t->cfg->seed + (uint64_t)k)) ||
        (st = seek_tmodel_alloc_optim(&big)) || (st = seek_tmodel_set_precision(&big, t->cfg->precision))) {
        seek_tmodel_free(&big);
        return st;
    }
    seek_tmodel_free(&t->tm);
    t->tm = big;
    t->cfg->model = nc;
    char d[256];
    describe(d, sizeof d, &nc);
    fprintf(t->out, "seek train: step %lld: grew to %s\n", (long long)t->state.step, d);
    return alloc_states(t);
}

/* the model shape at a given step: the config's start shape grown by every stage before it */
static seek_status shape_at(const seek_train_cfg *c, int64_t step, seek_tmodel_cfg *m) {
    for (int k = 0; k < c->n_stages && c->stages[k].at_step < step; k++) { /* a stage at step s grows before step s+1 */
        seek_tmodel_cfg g;
        seek_status st = seek_grow_cfg(&g, m, c->stages[k].n_layer, c->stages[k].n_expert);
        if (st) return st;
        *m = g;
    }
    return SEEK_OK;
}

static seek_status setup(trainer *t, bool resume) {
    seek_train_cfg *c = t->cfg;
    seek_status st;
    if ((st = seek_train_cfg_check(c)) || (st = make_dirs(c->out))) return st;
    seek_gguf *ck = NULL, *init = NULL;
    char ck_path[4200] = "";
    if (resume) {
        if ((st = newest_ckpt(t, &ck, ck_path, sizeof ck_path))) return st;
        if (!ck) return seek_errorf(SEEK_ERR_INVALID, "--resume: no complete checkpoint in '%s'", c->out);
    }
    if ((st = seek_pool_init(&t->pool, c->threads))) goto done;
    if ((st = load_tokenizer(t))) goto done;
    const int32_t nv = seek_tokenizer_n_vocab(t->tok);
    if (nv != c->model.vocab) {
        fprintf(t->out, "seek train: model.vocab %d -> %d (the tokenizer's size)\n", c->model.vocab, nv);
        c->model.vocab = nv;
    }
    if ((st = seek_tdata_load(&t->data, c, t->tok))) goto done;
    fprintf(t->out, "seek train: %lld training tokens, %lld held out; unigram baseline %.4f nats/token\n", (long long)t->data.n_train,
            (long long)t->data.n_val, unigram_loss(&t->data, nv));
    seek_tmodel_cfg shape = c->model;
    if (!ck && c->init) { /* the model section comes from the file (seek grow's output, or an export) */
        seek_train_cfg ic;
        seek_train_cfg_defaults(&ic);
        if (!(st = seek_gguf_open(&init, c->init))) st = seek_train_cfg_from_gguf(&ic, init, c->init);
        if (!st) {
            ic.model.vocab = shape.vocab;
            ic.model.ctx = shape.ctx > ic.model.ctx ? shape.ctx : ic.model.ctx;
            if (!(st = seek_train_cfg_check(&ic)) && !same_shape(&ic.model, &shape)) {
                char a[256];
                describe(a, sizeof a, &ic.model);
                fprintf(t->out, "seek train: the model's shape comes from %s: %s\n", c->init, a);
            }
            shape = ic.model;
        }
        seek_train_cfg_free(&ic);
        if (st) goto done;
    }
    if (ck) { /* the checkpoint's shape must be the config's shape at the checkpoint's step */
        seek_train_cfg saved;
        seek_train_cfg_defaults(&saved);
        uint64_t step = 0;
        seek_gguf_get_u64(ck, "seek.train.step", &step);
        st = seek_train_cfg_from_gguf(&saved, ck, ck_path);
        if (!st) st = seek_train_cfg_check(&saved);
        if (!st) st = shape_at(c, (int64_t)step, &shape);
        if (!st && !same_shape(&saved.model, &shape)) {
            char a[256], b[256];
            describe(a, sizeof a, &saved.model);
            describe(b, sizeof b, &shape);
            st = seek_errorf(SEEK_ERR_INVALID, "--resume: %s holds a model of another shape (%s) than the config (%s)", ck_path, a, b);
        }
        if (!st) shape = saved.model;
        seek_train_cfg_free(&saved);
        if (st) goto done;
    }
    if ((st = seek_tmodel_init(&t->tm, &shape, t->pool)) || (st = seek_tmodel_alloc_optim(&t->tm))) goto done;
    c->model = shape;
    if (ck) {
        if ((st = seek_tmodel_read(&t->tm, ck, ck_path, &t->state)) || (st = trim_log(t, t->state.step))) goto done;
        fprintf(t->out, "seek train: resuming from %s (step %lld)\n", ck_path, (long long)t->state.step);
    } else if (init) {
        if ((st = seek_tmodel_read(&t->tm, init, c->init, NULL))) goto done;
        t->state.rng = c->seed * 0x9e3779b97f4a7c15ull + 7;
        unlink(out_path(t, "log.jsonl"));
    } else {
        seek_tmodel_randomize(&t->tm, c->seed);
        t->state.rng = c->seed * 0x9e3779b97f4a7c15ull + 7;
        unlink(out_path(t, "log.jsonl"));
    }
    if ((st = seek_tmodel_set_precision(&t->tm, c->precision)) || (st = alloc_states(t))) goto done;
    if (c->model.xl_memory) { /* B streams through the training text, each its own memory */
        if (seek_tdata_n_segments(&t->data, c->micro_batch, c->seq_len) < 2) {
            st = seek_errorf(SEEK_ERR_INVALID, "model.xl_memory: the training text is too short for %d streams of %d-token segments",
                             c->micro_batch, c->seq_len);
            goto done;
        }
        if (ck) {
            point_xl_state(t);
            if ((st = seek_ckpt_read_xl(ck, ck_path, &t->state))) goto done;
        }
    }
    const int64_t BT = (int64_t)c->micro_batch * c->seq_len;
    t->inp = malloc((size_t)BT * sizeof *t->inp);
    t->tgt = malloc((size_t)BT * sizeof *t->tgt);
    if (!t->inp || !t->tgt) st = seek_errorf(SEEK_ERR_NOMEM, "out of memory");
done:
    if (ck) seek_gguf_close(ck);
    if (init) seek_gguf_close(init);
    return st;
}

static void teardown(trainer *t) {
    if (t->log) fclose(t->log);
    seek_tstate_free(t->st);
    seek_tstate_free(t->eval_st);
    seek_tmodel_free(&t->tm);
    seek_tdata_free(&t->data);
    if (t->tok) seek_tokenizer_free(t->tok);
    if (t->tok_gguf) seek_gguf_close(t->tok_gguf);
    if (t->pool) seek_pool_free(t->pool);
    free(t->inp);
    free(t->tgt);
}

seek_status seek_train_run(seek_train_cfg *c, bool resume, FILE *progress) {
    trainer t = {.cfg = c, .out = progress};
    seek_status st = setup(&t, resume);
    if (st) goto done;
    char desc[256];
    describe(desc, sizeof desc, &t.tm.cfg);
    int64_t total, active;
    seek_tmodel_count(&t.tm, &total, &active);
    fprintf(t.out, "seek train: %s; %.2fM parameters (%.2fM active per token); %s; %d x %d tokens x %d micro-batches per step\n",
            desc, total / 1e6, active / 1e6, seek_export_arch(&t.tm.cfg), c->micro_batch, c->seq_len, c->grad_accum);
    if (!(t.log = fopen(out_path(&t, "log.jsonl"), "a"))) {
        st = seek_errorf(SEEK_ERR_IO, "cannot write %s", t.path);
        goto done;
    }
    const int64_t BT = (int64_t)c->micro_batch * c->seq_len;
    while (t.state.step < c->steps) {
        for (int k = 0; k < c->n_stages; k++)
            if (c->stages[k].at_step == t.state.step && (st = grow_stage(&t, k))) goto done;
        const double t0 = seek_now();
        memset(t.tm.g, 0, t.tm.n_floats * sizeof(float));
        seek_tstate_reset_load(t.st);
        double loss = 0, aux = 0;
        for (int32_t a = 0; a < c->grad_accum; a++) {
            seek_tloss l;
            if (c->model.xl_memory) { /* the streams' next segments (micro-batches continue them too) */
                const int64_t seg = t.state.step * c->grad_accum + a;
                if (seg % seek_tdata_n_segments(&t.data, c->micro_batch, c->seq_len) == 0) seek_tstate_xl_reset(t.st);
                seek_tdata_stream_batch(&t.data, seg, c->micro_batch, c->seq_len, t.inp, t.tgt);
            } else {
                seek_tdata_batch(&t.data, &t.state.rng, c->micro_batch, c->seq_len, t.inp, t.tgt);
            }
            if ((st = seek_tmodel_forward(&t.tm, t.st, t.inp, t.tgt, &l))) goto done;
            seek_tmodel_backward(&t.tm, t.st, 1.0f / (float)c->grad_accum);
            loss += l.loss / c->grad_accum;
            aux += l.aux / c->grad_accum;
        }
        const double gnorm = seek_grad_norm(&t.tm), lr = seek_train_lr(c, t.state.step);
        if (!isfinite(loss) || !isfinite(gnorm)) {
            st = seek_errorf(SEEK_ERR_INVALID, "step %lld: the loss or the gradient is not finite (lower optim.lr?)", (long long)t.state.step + 1);
            goto done;
        }
        seek_adamw_step(&t.tm, t.state.step + 1, lr, c->beta1, c->beta2, c->eps, c->weight_decay, seek_clip_scale(gnorm, c->clip));
        seek_tmodel_round(&t.tm);
        update_bias(&t);
        t.state.step++;
        t.state.tokens += BT * c->grad_accum;
        const double dt = seek_now() - t0, tps = (double)(BT * c->grad_accum) / dt, fpt = seek_tmodel_flops_per_token(&t.tm, c->seq_len);
        t.state.flops += fpt * (double)(BT * c->grad_accum);
        const double flops = fpt * tps;
        double lo, hi;
        char loads[8192];
        load_stats(&t, &lo, &hi, loads, sizeof loads);
        double val = NAN;
        const bool eval = t.eval_st && ((c->eval_every && t.state.step % c->eval_every == 0) || t.state.step == c->steps);
        if (eval) val = evaluate(&t);
        fprintf(t.log, "{\"step\": %lld, \"loss\": %.6f, \"aux\": %.6f, \"lr\": %.9g, \"grad_norm\": %.6f, \"tokens_per_s\": %.1f, "
                       "\"gflops\": %.2f, \"tokens\": %lld, \"flops\": %.6g",
                (long long)t.state.step, loss, aux, lr, gnorm, tps, flops / 1e9, (long long)t.state.tokens, t.state.flops);
        if (eval) fprintf(t.log, ", \"val_loss\": %.6f", val);
        if (t.tm.cfg.moe) fprintf(t.log, ", \"expert_load\": %s", loads);
        fprintf(t.log, "}\n");
        fflush(t.log);
        if (t.state.step % c->log_every == 0 || eval || t.state.step == c->steps) {
            fprintf(t.out, "step %6lld/%d  loss %.4f  lr %.3e  grad %.3f  %6.0f tok/s  %5.1f GFLOP/s", (long long)t.state.step,
                    c->steps, loss, lr, gnorm, tps, flops / 1e9);
            if (t.tm.cfg.moe) fprintf(t.out, "  load %.2f..%.2f", lo, hi);
            if (eval) fprintf(t.out, "  val %.4f", val);
            fputc('\n', t.out);
        }
        if ((c->ckpt_every && t.state.step % c->ckpt_every == 0) || t.state.step == c->steps)
            if ((st = save(&t))) goto done;
    }
    if (t.state.step == 0 || c->steps == 0) st = save(&t);
    if (!st) {
        fclose(t.log);
        t.log = NULL;
        st = seek_train_report(c->out);
        if (!st) fprintf(t.out, "seek train: wrote %s/model.gguf and %s/report.html\n", c->out, c->out);
    }
done:
    teardown(&t);
    return st;
}
