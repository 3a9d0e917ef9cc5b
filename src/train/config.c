/* Training configuration: one table of fields drives the JSON reader, the command-line flags and
 * the JSON writer, so a field added here exists in all three. Not for validation of data files
 * (data.c checks those when it reads them). */
#include "train/config.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

typedef enum { F_INT, F_FLOAT, F_BOOL, F_STR, F_FILES, F_ENUM, F_U64, F_STAGES } ftype;

typedef struct {
    const char *section, *name;
    ftype type;
    size_t off;
    const char *const *choices; /* F_ENUM: names in enum order */
    double lo, hi;              /* F_INT / F_FLOAT: allowed range */
} field;

static const char *const attn_names[] = {"mha", "mla", NULL};
static const char *const pos_names[] = {"rope", "alibi", NULL};
static const char *const ffn_names[] = {"dense", "moe", NULL};
static const char *const gating_names[] = {"softmax", "sigmoid", NULL};
static const char *const bal_names[] = {"aux_loss", "aux_free", "none", NULL};
static const char *const sched_names[] = {"cosine_restarts", "cosine", "constant", "linear", NULL};
static const char *const prec_names[] = {"fp32", "bf16", "fp8", NULL};

#define M(f) offsetof(seek_train_cfg, model.f)
#define C(f) offsetof(seek_train_cfg, f)
static const field fields[] = {
    {"model", "n_layer", F_INT, M(n_layer), NULL, 1, 256},
    {"model", "dim", F_INT, M(dim), NULL, 2, 65536},
    {"model", "n_head", F_INT, M(n_head), NULL, 1, 1024},
    {"model", "n_kv_head", F_INT, M(n_kv_head), NULL, 0, 1024},
    {"model", "ctx", F_INT, M(ctx), NULL, 2, 1 << 20},
    {"model", "vocab", F_INT, M(vocab), NULL, 2, 1 << 22},
    {"model", "attention", F_ENUM, M(attention), attn_names, 0, 0},
    {"model", "kv_lora_rank", F_INT, M(kv_lora_rank), NULL, 0, 65536},
    {"model", "q_lora_rank", F_INT, M(q_lora_rank), NULL, 0, 65536},
    {"model", "qk_nope_dim", F_INT, M(qk_nope_dim), NULL, 0, 4096},
    {"model", "qk_rope_dim", F_INT, M(qk_rope_dim), NULL, 0, 4096},
    {"model", "v_head_dim", F_INT, M(v_head_dim), NULL, 0, 4096},
    {"model", "position", F_ENUM, M(position), pos_names, 0, 0},
    {"model", "rope_base", F_FLOAT, M(rope_base), NULL, 1, 1e12},
    {"model", "rms_eps", F_FLOAT, M(rms_eps), NULL, 0, 1},
    {"model", "sliding_window", F_INT, M(sliding_window), NULL, 0, 1 << 20},
    {"model", "xl_memory", F_INT, M(xl_memory), NULL, 0, 1 << 20},
    {"model", "ffn", F_ENUM, M(moe), ffn_names, 0, 0},
    {"model", "ff_dim", F_INT, M(ff_dim), NULL, 0, 1 << 20},
    {"model", "n_expert", F_INT, M(n_expert), NULL, 0, 4096},
    {"model", "n_expert_used", F_INT, M(n_expert_used), NULL, 0, 64},
    {"model", "n_shared_expert", F_INT, M(n_shared_expert), NULL, 0, 64},
    {"model", "expert_dim", F_INT, M(expert_dim), NULL, 0, 1 << 20},
    {"model", "n_dense_lead", F_INT, M(n_dense_lead), NULL, 0, 256},
    {"model", "gating", F_ENUM, M(gating_sigmoid), gating_names, 0, 0},
    {"model", "norm_topk", F_BOOL, M(norm_topk), NULL, 0, 0},
    {"model", "balance", F_ENUM, M(balance), bal_names, 0, 0},
    {"model", "aux_loss_weight", F_FLOAT, M(aux_loss_weight), NULL, 0, 100},
    {"model", "bias_update_rate", F_FLOAT, M(bias_update_rate), NULL, 0, 1},
    {"data", "train", F_FILES, C(train), NULL, 0, 0},
    {"data", "val", F_STR, C(val), NULL, 0, 0},
    {"data", "val_fraction", F_FLOAT, C(val_fraction), NULL, 0, 0.5},
    {"data", "tokenizer", F_STR, C(tokenizer), NULL, 0, 0},
    {"optim", "lr", F_FLOAT, C(lr), NULL, 0, 10},
    {"optim", "min_lr", F_FLOAT, C(min_lr), NULL, 0, 10},
    {"optim", "warmup", F_INT, C(warmup), NULL, 0, 1 << 30},
    {"optim", "schedule", F_ENUM, C(schedule), sched_names, 0, 0},
    {"optim", "T_0", F_INT, C(T_0), NULL, 1, 1 << 30},
    {"optim", "T_mult", F_INT, C(T_mult), NULL, 1, 64},
    {"optim", "weight_decay", F_FLOAT, C(weight_decay), NULL, 0, 10},
    {"optim", "beta1", F_FLOAT, C(beta1), NULL, 0, 0.999999},
    {"optim", "beta2", F_FLOAT, C(beta2), NULL, 0, 0.999999999},
    {"optim", "eps", F_FLOAT, C(eps), NULL, 0, 1},
    {"optim", "clip", F_FLOAT, C(clip), NULL, 0, 1e9},
    {"optim", "micro_batch", F_INT, C(micro_batch), NULL, 1, 65536},
    {"optim", "seq_len", F_INT, C(seq_len), NULL, 1, 1 << 20},
    {"optim", "grad_accum", F_INT, C(grad_accum), NULL, 1, 65536},
    {"optim", "steps", F_INT, C(steps), NULL, 0, 1 << 30},
    {"optim", "precision", F_ENUM, C(precision), prec_names, 0, 0},
    {"optim", "seed", F_U64, C(seed), NULL, 0, 0},
    {"run", "out", F_STR, C(out), NULL, 0, 0},
    {"run", "eval_every", F_INT, C(eval_every), NULL, 0, 1 << 30},
    {"run", "eval_batches", F_INT, C(eval_batches), NULL, 1, 1 << 20},
    {"run", "ckpt_every", F_INT, C(ckpt_every), NULL, 0, 1 << 30},
    {"run", "log_every", F_INT, C(log_every), NULL, 1, 1 << 30},
    {"run", "threads", F_INT, C(threads), NULL, 1, 1024},
    {"run", "init", F_STR, C(init), NULL, 0, 0},
    {"run", "stages", F_STAGES, C(n_stages), NULL, 0, 0},
};
#undef M
#undef C
#define N_FIELDS (sizeof fields / sizeof fields[0])

void seek_train_cfg_defaults(seek_train_cfg *c) {
    memset(c, 0, sizeof *c);
    seek_tmodel_cfg *m = &c->model;
    *m = (seek_tmodel_cfg){.n_layer = 4, .dim = 256, .n_head = 8, .ctx = 256, .vocab = 4096, .rope_base = 10000.0f,
                           .rms_eps = 1e-5f, .moe = true, .n_expert = 16, .n_expert_used = 2, .n_shared_expert = 1,
                           .expert_dim = 256, .n_dense_lead = 1, .aux_loss_weight = 0.001f,
                           .bias_update_rate = 0.001f};
    c->val_fraction = 0.05f;
    c->lr = 3e-3f;
    c->min_lr = 3e-4f;
    c->warmup = 50;
    c->T_0 = 200;
    c->T_mult = 2;
    c->weight_decay = 0.1f;
    c->beta1 = 0.9f;
    c->beta2 = 0.95f;
    c->eps = 1e-8f;
    c->clip = 1.0f;
    c->micro_batch = 8;
    c->seq_len = 128;
    c->grad_accum = 1;
    c->steps = 1000;
    c->seed = 1;
    c->eval_every = 100;
    c->eval_batches = 8;
    c->ckpt_every = 200;
    c->log_every = 1;
    c->threads = 2;
}

void seek_train_cfg_free(seek_train_cfg *c) {
    for (int i = 0; i < c->n_train; i++) free(c->train[i]);
    free(c->val);
    free(c->tokenizer);
    free(c->out);
    free(c->init);
    c->n_train = 0;
    c->val = c->tokenizer = c->out = c->init = NULL;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static const field *find_field(const char *section, const char *name) {
    for (size_t i = 0; i < N_FIELDS; i++)
        if ((!section || !strcmp(fields[i].section, section)) && !strcmp(fields[i].name, name)) return &fields[i];
    return NULL;
}

static seek_status set_str(char **dst, const char *v) {
    char *d = dup_str(v);
    if (!d) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = d;
    return SEEK_OK;
}

static seek_status set_number(seek_train_cfg *c, const field *f, double v) {
    char *p = (char *)c + f->off;
    if (!(v >= f->lo && v <= f->hi))
        return seek_errorf(SEEK_ERR_INVALID, "%s.%s = %g is out of range [%g, %g]", f->section, f->name, v, f->lo, f->hi);
    if (f->type == F_INT) {
        if (v != floor(v)) return seek_errorf(SEEK_ERR_INVALID, "%s.%s must be an integer, not %g", f->section, f->name, v);
        *(int32_t *)p = (int32_t)v;
    } else {
        *(float *)p = (float)v;
    }
    return SEEK_OK;
}

static seek_status set_enum(seek_train_cfg *c, const field *f, const char *v) {
    for (int i = 0; f->choices[i]; i++)
        if (!strcmp(f->choices[i], v)) {
            if (f->off == offsetof(seek_train_cfg, model.moe) || f->off == offsetof(seek_train_cfg, model.gating_sigmoid))
                *(bool *)((char *)c + f->off) = i == 1;
            else
                *(int *)((char *)c + f->off) = i;
            return SEEK_OK;
        }
    char list[160] = "";
    for (int i = 0; f->choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, f->choices[i], sizeof list - strlen(list) - 1);
    }
    return seek_errorf(SEEK_ERR_INVALID, "%s.%s = '%s' is not one of: %s", f->section, f->name, v, list);
}

static seek_status add_file(seek_train_cfg *c, const char *path) {
    if (c->n_train >= SEEK_TRAIN_MAX_FILES)
        return seek_errorf(SEEK_ERR_INVALID, "data.train: at most %d files", SEEK_TRAIN_MAX_FILES);
    if (!(c->train[c->n_train] = dup_str(path))) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    c->n_train++;
    return SEEK_OK;
}

static seek_status set_stages(seek_train_cfg *c, const json_t *v) {
    if (!json_is_array(v) || json_array_size(v) > SEEK_TRAIN_MAX_STAGES)
        return seek_errorf(SEEK_ERR_INVALID, "run.stages must be a list of at most %d objects", SEEK_TRAIN_MAX_STAGES);
    c->n_stages = 0;
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        json_t *at = json_object_get(s, "at_step");
        if (!json_is_object(s) || !json_is_integer(at) || json_integer_value(at) < 1 || json_integer_value(at) > (1 << 30))
            return seek_errorf(SEEK_ERR_INVALID, "run.stages[%zu] needs \"at_step\" (a positive integer)", i);
        const char *key;
        json_t *x;
        c->stages[i].at_step = (int32_t)json_integer_value(at);
        c->stages[i].n_layer = c->stages[i].n_expert = 0;
        json_object_foreach(s, key, x) {
            if (!strcmp(key, "at_step")) continue;
            int32_t *dst = !strcmp(key, "n_layer") ? &c->stages[i].n_layer : !strcmp(key, "n_expert") ? &c->stages[i].n_expert : NULL;
            if (!dst) return seek_errorf(SEEK_ERR_INVALID, "run.stages[%zu]: unknown key '%s' (n_layer, n_expert)", i, key);
            if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 4096)
                return seek_errorf(SEEK_ERR_INVALID, "run.stages[%zu].%s must be a positive integer", i, key);
            *dst = (int32_t)json_integer_value(x);
        }
        if (i > 0 && c->stages[i].at_step <= c->stages[i - 1].at_step)
            return seek_errorf(SEEK_ERR_INVALID, "run.stages: at_step must increase");
        c->n_stages++;
    }
    return SEEK_OK;
}

static seek_status set_json(seek_train_cfg *c, const field *f, const json_t *v) {
    char *p = (char *)c + f->off;
    switch (f->type) {
    case F_INT:
    case F_FLOAT:
        if (!json_is_number(v)) break;
        return set_number(c, f, json_number_value(v));
    case F_U64:
        if (!json_is_integer(v) || json_integer_value(v) < 0) break;
        *(uint64_t *)p = (uint64_t)json_integer_value(v);
        return SEEK_OK;
    case F_BOOL:
        if (!json_is_boolean(v)) break;
        *(bool *)p = json_is_true(v);
        return SEEK_OK;
    case F_STR:
        if (!json_is_string(v)) break;
        return set_str((char **)p, json_string_value(v));
    case F_ENUM:
        if (!json_is_string(v)) break;
        return set_enum(c, f, json_string_value(v));
    case F_FILES: {
        if (json_is_string(v)) v = json_pack("[O]", v);
        else if (json_is_array(v)) json_incref((json_t *)v);
        else break;
        for (int i = 0; i < c->n_train; i++) free(c->train[i]);
        c->n_train = 0;
        size_t i;
        json_t *s;
        seek_status st = SEEK_OK;
        json_array_foreach(v, i, s) {
            if (!json_is_string(s)) st = seek_errorf(SEEK_ERR_INVALID, "data.train[%zu] must be a file name", i);
            else st = add_file(c, json_string_value(s));
            if (st) break;
        }
        json_decref((json_t *)v);
        return st;
    }
    case F_STAGES:
        return set_stages(c, v);
    }
    static const char *const type_names[] = {"an integer", "a number", "true or false", "a string", "a list of files",
                                             "a string", "a non-negative integer", "a list of stages"};
    return seek_errorf(SEEK_ERR_INVALID, "%s.%s must be %s", f->section, f->name, type_names[f->type]);
}

seek_status seek_train_cfg_parse(seek_train_cfg *c, const char *text, const char *what) {
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    if (!root) return seek_errorf(SEEK_ERR_INVALID, "%s: line %d: %s", what, err.line, err.text);
    seek_status st = SEEK_OK;
    if (!json_is_object(root)) {
        st = seek_errorf(SEEK_ERR_INVALID, "%s: the config must be a JSON object", what);
        goto done;
    }
    const char *sec;
    json_t *body;
    json_object_foreach(root, sec, body) {
        if (strcmp(sec, "model") && strcmp(sec, "data") && strcmp(sec, "optim") && strcmp(sec, "run")) {
            st = seek_errorf(SEEK_ERR_INVALID, "%s: unknown section '%s' (model, data, optim, run)", what, sec);
            goto done;
        }
        if (!json_is_object(body)) {
            st = seek_errorf(SEEK_ERR_INVALID, "%s: section '%s' must be an object", what, sec);
            goto done;
        }
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
            const field *f = find_field(sec, key);
            if (!f) {
                st = seek_errorf(SEEK_ERR_INVALID, "%s: unknown field '%s.%s'", what, sec, key);
                goto done;
            }
            if ((st = set_json(c, f, v))) goto done;
        }
    }
done:
    json_decref(root);
    return st;
}

seek_status seek_train_cfg_load(seek_train_cfg *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return seek_errorf(SEEK_ERR_IO, "cannot open config '%s'", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = cap > (64u << 20) ? NULL : realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return seek_errorf(SEEK_ERR_INVALID, "config '%s' is too large", path);
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r < 4096) break;
    }
    fclose(f);
    buf[n] = 0;
    seek_status st = seek_train_cfg_parse(c, buf, path);
    free(buf);
    return st;
}

seek_status seek_train_cfg_set(seek_train_cfg *c, const char *name, const char *value) {
    const field *f = find_field(NULL, name);
    if (!f || f->type == F_STAGES) return seek_errorf(SEEK_ERR_INVALID, "unknown option --%s", name);
    char *end;
    switch (f->type) {
    case F_INT:
    case F_FLOAT: {
        double v = strtod(value, &end);
        if (end == value || *end) return seek_errorf(SEEK_ERR_INVALID, "--%s: '%s' is not a number", name, value);
        return set_number(c, f, v);
    }
    case F_U64: {
        unsigned long long v = strtoull(value, &end, 10);
        if (end == value || *end || value[0] == '-') return seek_errorf(SEEK_ERR_INVALID, "--%s: '%s' is not a non-negative integer", name, value);
        *(uint64_t *)((char *)c + f->off) = v;
        return SEEK_OK;
    }
    case F_BOOL:
        if (strcmp(value, "true") && strcmp(value, "false")) return seek_errorf(SEEK_ERR_INVALID, "--%s takes true or false", name);
        *(bool *)((char *)c + f->off) = value[0] == 't';
        return SEEK_OK;
    case F_STR:
        return set_str((char **)((char *)c + f->off), value);
    case F_ENUM:
        return set_enum(c, f, value);
    case F_FILES: /* a flag replaces the list with one file; repeat --train to add more */
        return add_file(c, value);
    case F_STAGES:
        break;
    }
    return SEEK_ERR_INVALID;
}

seek_status seek_train_cfg_check(seek_train_cfg *c) {
    seek_tmodel_cfg *m = &c->model;
#define BAD(...) return seek_errorf(SEEK_ERR_INVALID, __VA_ARGS__)
    if (!m->n_kv_head) m->n_kv_head = m->n_head;
    if (m->dim % m->n_head) BAD("model: n_head %d does not divide dim %d", m->n_head, m->dim);
    const int32_t hd = m->dim / m->n_head;
    if (m->attention == TATT_MHA) {
        if (m->n_head % m->n_kv_head) BAD("model: n_kv_head %d does not divide n_head %d", m->n_kv_head, m->n_head);
        if (m->position == TPOS_ROPE && hd % 2) BAD("model: RoPE needs an even head dimension (dim / n_head = %d)", hd);
        if (m->q_lora_rank) BAD("model: q_lora_rank needs attention \"mla\"");
    } else {
        if (!m->qk_nope_dim) m->qk_nope_dim = hd;
        if (!m->qk_rope_dim) m->qk_rope_dim = hd / 2;
        if (!m->v_head_dim) m->v_head_dim = hd;
        if (!m->kv_lora_rank) m->kv_lora_rank = 4 * hd < m->dim ? 4 * hd : m->dim;
        if (m->qk_rope_dim % 2) BAD("model: qk_rope_dim %d must be even", m->qk_rope_dim);
        if (m->position != TPOS_ROPE) BAD("model: MLA is defined with RoPE (position \"rope\")");
        if (m->sliding_window) BAD("model: sliding_window is not supported with MLA (use attention \"mha\")");
        m->n_kv_head = m->n_head;
    }
    if (!m->ff_dim) m->ff_dim = 4 * m->dim;
    if (m->moe) {
        if (m->n_expert < 1) BAD("model: n_expert must be at least 1 for ffn \"moe\" (got %d)", m->n_expert);
        if (m->n_expert_used < 1 || m->n_expert_used > m->n_expert)
            BAD("model: n_expert_used %d must be between 1 and n_expert %d", m->n_expert_used, m->n_expert);
        if (m->expert_dim < 1) BAD("model: expert_dim must be positive");
        if (m->n_dense_lead > m->n_layer) BAD("model: n_dense_lead %d exceeds n_layer %d", m->n_dense_lead, m->n_layer);
    }
    if (m->xl_memory && m->attention != TATT_MHA) BAD("model: xl_memory needs attention \"mha\" (MLA keeps no per-head keys to remember)");
    if (c->seq_len > m->ctx) BAD("optim.seq_len %d exceeds model.ctx %d", c->seq_len, m->ctx);
    if (c->min_lr > c->lr) BAD("optim.min_lr %g exceeds optim.lr %g", c->min_lr, c->lr);
    if (!c->n_train && !c->val) BAD("data.train: no training files given");
    if (!c->tokenizer && !(c->tokenizer = dup_str("bpe:4096"))) BAD("out of memory");
    if (!c->out) BAD("run.out: no output folder given");
    for (int i = 0; i < c->n_stages; i++)
        if (c->stages[i].at_step >= c->steps) BAD("run.stages[%d].at_step %d is not before optim.steps %d", i, c->stages[i].at_step, c->steps);
#undef BAD
    return SEEK_OK;
}

char *seek_train_cfg_json(const seek_train_cfg *c) {
    json_t *root = json_object();
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        const char *p = (const char *)c + f->off;
        json_t *sec = json_object_get(root, f->section), *v = NULL;
        if (!sec) json_object_set_new(root, f->section, sec = json_object());
        switch (f->type) {
        case F_INT: v = json_integer(*(const int32_t *)p); break;
        case F_FLOAT: v = json_real(*(const float *)p); break;
        case F_U64: v = json_integer((json_int_t) * (const uint64_t *)p); break;
        case F_BOOL: v = json_boolean(*(const bool *)p); break;
        case F_STR: v = *(char *const *)p ? json_string(*(char *const *)p) : NULL; break;
        case F_ENUM: {
            int idx = (f->off == offsetof(seek_train_cfg, model.moe) || f->off == offsetof(seek_train_cfg, model.gating_sigmoid))
                          ? *(const bool *)p
                          : *(const int *)p;
            v = json_string(f->choices[idx]);
            break;
        }
        case F_FILES:
            v = json_array();
            for (int k = 0; k < c->n_train; k++) json_array_append_new(v, json_string(c->train[k]));
            break;
        case F_STAGES:
            v = json_array();
            for (int k = 0; k < c->n_stages; k++) {
                json_t *s = json_pack("{s:i}", "at_step", c->stages[k].at_step);
                if (c->stages[k].n_layer) json_object_set_new(s, "n_layer", json_integer(c->stages[k].n_layer));
                if (c->stages[k].n_expert) json_object_set_new(s, "n_expert", json_integer(c->stages[k].n_expert));
                json_array_append_new(v, s);
            }
            break;
        }
        if (v) json_object_set_new(sec, f->name, v);
    }
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    return s;
}

double seek_train_lr(const seek_train_cfg *c, int64_t step) {
    const double lr = c->lr, lo = c->min_lr;
    if (step < c->warmup) return lr * (double)(step + 1) / (double)c->warmup;
    const int64_t u0 = step - c->warmup;
    switch (c->schedule) {
    case TSCHED_CONSTANT:
        return lr;
    case TSCHED_LINEAR: {
        const int64_t span = c->steps - c->warmup;
        return span <= 0 ? lr : lr + (lo - lr) * (double)(u0 < span ? u0 : span) / (double)span;
    }
    case TSCHED_COSINE: {
        const int64_t span = c->steps - c->warmup;
        const double x = span <= 0 ? 0 : (double)(u0 < span ? u0 : span) / (double)span;
        return lo + (lr - lo) * (1 + cos(M_PI * x)) / 2;
    }
    case TSCHED_COSINE_RESTARTS:
        break;
    }
    int64_t u = u0, Ti = c->T_0;
    while (u >= Ti) {
        u -= Ti;
        Ti *= c->T_mult;
    }
    return lo + (lr - lo) * (1 + cos(M_PI * (double)u / (double)Ti)) / 2;
}
