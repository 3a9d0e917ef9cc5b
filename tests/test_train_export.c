/* The export path of seek train against seek's inference engine: a randomly initialised model
 * of each export architecture (llama dense, deepseek MoE, deepseek2 MLA, seek with ALiBi +
 * sliding window + top-k normalisation) is written as GGUF, loaded by seek_model_load, and its
 * logits (one batch and token by token through the KV cache) must equal the trainer's forward.
 * Also: a checkpoint read back restores every tensor bit for bit; growth written by export and
 * read back as --init. The independent references for both engines are in test_train.c and
 * test_deepseek.c / test_golden.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fixture_io.h"
#include "model/model.h"
#include "runtime/context.h"
#include "train/ckpt.h"
#include "train/tmodel.h"

#define TOK_GGUF "tests/fixtures/tiny/llama_bf16.gguf" /* a 300-token tokenizer to carry */
#define T 20


/* A training config around model section mc (no data is read). */
static void make_cfg(seek_train_cfg *cfg, seek_tmodel_cfg mc, int32_t seq_len) {
    seek_train_cfg_defaults(cfg);
    cfg->model = mc;
    cfg->n_train = 1;
    cfg->train[0] = strdup("unused.txt");
    cfg->out = strdup("/tmp");
    cfg->seq_len = seq_len;
}

static void check_arch(const char *label, seek_tmodel_cfg mc, const char *want_arch, seek_pool *pool, const seek_gguf *tok) {
    seek_train_cfg cfg;
    make_cfg(&cfg, mc, T);
    if (seek_train_cfg_check(&cfg)) {
        CHECK(0, "%s: %s", label, seek_last_error());
        seek_train_cfg_free(&cfg);
        return;
    }
    CHECK(!strcmp(seek_export_arch(&cfg.model), want_arch), "%s: exported as %s, expected %s", label, seek_export_arch(&cfg.model),
          want_arch);
    seek_tmodel tm;
    seek_tstate *s;
    if (seek_tmodel_init(&tm, &cfg.model, pool) || seek_tstate_new(&s, &tm, 1, T)) {
        CHECK(0, "%s: %s", label, seek_last_error());
        return;
    }
    seek_tmodel_randomize(&tm, 11);
    for (size_t i = 0; i < tm.n_floats; i++) tm.w[i] *= 20; /* sharp attention and routing */
    for (int i = 0; i < tm.n_params; i++) /* norms near 1, not exactly 1, so a missing weight shows */
        if (tm.params[i].n_dims == 1 && strstr(tm.params[i].name, "norm"))
            for (size_t j = 0; j < tm.params[i].n; j++) tm.w[tm.params[i].off + j] = 1.0f + 0.01f * (float)(j % 7);
        else if (strstr(tm.params[i].name, "exp_probs_b")) /* the aux-free bias steers selection */
            for (size_t j = 0; j < tm.params[i].n; j++) tm.w[tm.params[i].off + j] = 0.3f * (float)(j % 3);
    int32_t ids[T];
    for (int i = 0; i < T; i++) ids[i] = (i * 37 + 11) % cfg.model.vocab;
    seek_tloss l;
    seek_tmodel_forward(&tm, s, ids, NULL, &l);
    char path[256];
    snprintf(path, sizeof path, "/tmp/seek-export-%d-%s.gguf", (int)getpid(), want_arch);
    seek_status st = seek_export_write(path, &tm, &cfg, tok);
    seek_model *m = NULL;
    if (!st) st = seek_model_load(&m, path);
    if (st) {
        CHECK(0, "%s: %s", label, seek_last_error());
        goto done;
    }
    const int64_t V = cfg.model.vocab;
    float *got = malloc((size_t)(T * V) * sizeof *got);
    for (int stepwise = 0; stepwise < 2; stepwise++) {
        seek_context_params p = {.n_ctx = 64, .n_threads = 2, .precise = true};
        seek_context *c;
        seek_batch b;
        if (seek_context_init(&c, m, &p)) {
            CHECK(0, "%s: %s", label, seek_last_error());
            break;
        }
        seek_batch_init(&b, T);
        for (int i = 0; i < T; i++) {
            if (stepwise) seek_batch_clear(&b);
            seek_batch_add(&b, ids[i], i, 0, true);
            if (!stepwise && i < T - 1) continue;
            CHECK(seek_decode(c, &b) == SEEK_OK, "%s: decode", label);
            for (int j = 0; j < b.n; j++) memcpy(got + (int64_t)(stepwise ? i : j) * V, seek_get_logits(c, j), (size_t)V * 4);
        }
        const double d = fixture_rel_diff(got, seek_tstate_logits(s), T * V);
        /* the same math in two engines, both fp32 (precise: no activation quantization) */
        CHECK(d < 1e-4, "%s: inference logits (%s) differ from the trainer's by %.3g of their range", label,
              stepwise ? "token by token" : "one batch", d);
        printf("%s (%s): %s, inference vs training forward %.2g\n", label, want_arch, stepwise ? "stepwise" : "batch", d);
        seek_batch_free(&b);
        seek_context_free(c);
    }
    free(got);
    seek_model_free(m);
    /* checkpoint round trip */
    seek_tmodel_alloc_optim(&tm);
    for (size_t i = 0; i < tm.n_floats; i++) tm.m[i] = (float)i * 1e-3f, tm.v[i] = (float)i * 1e-6f;
    seek_ckpt_state cs = {.step = 42, .rng = 0x123456789abcdefull, .tokens = 999}, back;
    seek_tmodel t2;
    seek_gguf *g = NULL;
    st = seek_ckpt_write(path, &tm, &cfg, tok, &cs, NULL, NULL);
    if (!st) st = seek_gguf_open(&g, path);
    if (!st) st = seek_tmodel_init(&t2, &cfg.model, pool);
    if (!st) st = seek_tmodel_alloc_optim(&t2);
    if (!st) st = seek_tmodel_read(&t2, g, path, &back);
    CHECK(st == SEEK_OK, "%s: checkpoint: %s", label, seek_last_error());
    if (!st) {
        bool same = true;
        for (int i = 0; i < tm.n_params; i++) {
            const size_t o = tm.params[i].off, n = tm.params[i].n * 4;
            same &= !memcmp(t2.w + o, tm.w + o, n) && !memcmp(t2.m + o, tm.m + o, n) && !memcmp(t2.v + o, tm.v + o, n);
        }
        CHECK(same, "%s: checkpoint tensors differ after reading back", label);
        CHECK(back.step == 42 && back.rng == cs.rng && back.tokens == 999, "%s: checkpoint state", label);
        seek_tmodel_free(&t2);
    }
    if (g) seek_gguf_close(g);
done:
    unlink(path);
    seek_tstate_free(s);
    seek_tmodel_free(&tm);
    seek_train_cfg_free(&cfg);
}

/* Transformer-XL memory: the trainer runs three segments of S tokens in a row, each attending to
 * the previous one's memory; the exported model (arch seek, xl_memory / xl_segment keys) decodes
 * the 3*S tokens as one sequence and must give the same logits, in one batch and token by token.
 * The memory also survives a checkpoint. */
static void check_xl(const char *label, seek_tmodel_cfg mc, seek_pool *pool, const seek_gguf *tok) {
    enum { S = 8, NSEG = 3 };
    seek_train_cfg cfg;
    make_cfg(&cfg, mc, S);
    seek_tmodel tm;
    seek_tstate *s;
    if (seek_train_cfg_check(&cfg) || seek_tmodel_init(&tm, &cfg.model, pool) || seek_tstate_new(&s, &tm, 1, S)) {
        CHECK(0, "%s: %s", label, seek_last_error());
        seek_train_cfg_free(&cfg);
        return;
    }
    seek_tmodel_randomize(&tm, 5);
    for (size_t i = 0; i < tm.n_floats; i++) tm.w[i] *= 10;
    const int64_t V = cfg.model.vocab;
    int32_t ids[NSEG * S];
    for (int i = 0; i < NSEG * S; i++) ids[i] = (i * 53 + 7) % (int32_t)V;
    float *want = malloc((size_t)(NSEG * S * V) * sizeof *want), *got = malloc((size_t)(NSEG * S * V) * sizeof *got);
    for (int g = 0; g < NSEG; g++) {
        seek_tmodel_forward(&tm, s, ids + g * S, NULL, NULL);
        memcpy(want + (int64_t)g * S * V, seek_tstate_logits(s), (size_t)(S * V) * sizeof *want);
    }
    char path[256];
    snprintf(path, sizeof path, "/tmp/seek-export-%d-xl.gguf", (int)getpid());
    seek_model *m = NULL;
    seek_status st = seek_export_write(path, &tm, &cfg, tok);
    if (!st) st = seek_model_load(&m, path);
    CHECK(st == SEEK_OK && m && m->hp.xl_mem == mc.xl_memory && m->hp.xl_seg == S, "%s: export loads with its XL keys: %s", label,
          st ? seek_last_error() : "");
    for (int stepwise = 0; stepwise < 2 && m; stepwise++) {
        seek_context_params p = {.n_ctx = 64, .n_threads = 2, .precise = true};
        seek_context *c;
        seek_batch b;
        if (seek_context_init(&c, m, &p)) break;
        seek_batch_init(&b, NSEG * S);
        for (int i = 0; i < NSEG * S; i++) {
            if (stepwise) seek_batch_clear(&b);
            seek_batch_add(&b, ids[i], i, 0, true);
            if (!stepwise && i < NSEG * S - 1) continue;
            seek_decode(c, &b);
            for (int j = 0; j < b.n; j++) memcpy(got + (int64_t)(stepwise ? i : j) * V, seek_get_logits(c, j), (size_t)V * 4);
        }
        const double d = fixture_rel_diff(got, want, NSEG * S * V);
        CHECK(d < 1e-4, "%s: inference (%s) differs from %d training segments with memory by %.3g", label,
              stepwise ? "token by token" : "one batch", NSEG, d);
        printf("%s (seek): %s over %d segments, inference vs training forward with memory %.2g\n", label,
               stepwise ? "stepwise" : "batch", NSEG, d);
        seek_batch_free(&b);
        seek_context_free(c);
    }
    seek_model_free(m);
    /* the memory in a checkpoint */
    seek_ckpt_state cs = {.step = 3};
    cs.xl_mem = seek_tstate_xl_memory(s, &cs.xl_n, &cs.xl_mlen);
    cs.xl_b = 1;
    seek_tstate *s2;
    seek_gguf *g = NULL;
    st = seek_ckpt_write(path, &tm, &cfg, tok, &cs, NULL, NULL);
    if (!st) st = seek_gguf_open(&g, path);
    if (!st) st = seek_tstate_new(&s2, &tm, 1, S);
    if (!st) {
        seek_ckpt_state back = {0};
        back.xl_mem = seek_tstate_xl_memory(s2, &back.xl_n, &back.xl_mlen);
        back.xl_b = 1;
        st = seek_ckpt_read_xl(g, path, &back);
        CHECK(st == SEEK_OK && !memcmp(back.xl_mem, cs.xl_mem, (size_t)cs.xl_n * 4) && back.xl_mlen[0] == cs.xl_mlen[0],
              "%s: XL memory read back from a checkpoint", label);
        seek_tstate_free(s2);
    }
    CHECK(st == SEEK_OK, "%s: checkpoint: %s", label, seek_last_error());
    if (g) seek_gguf_close(g);
    unlink(path);
    free(want), free(got);
    seek_tstate_free(s);
    seek_tmodel_free(&tm);
    seek_train_cfg_free(&cfg);
}

int main(void) {
    seek_pool *pool;
    seek_gguf *tok;
    if (seek_pool_init(&pool, 2) || seek_gguf_open(&tok, TOK_GGUF)) {
        fprintf(stderr, "setup: %s\n", seek_last_error());
        return 1;
    }
    const seek_tmodel_cfg base = {.n_layer = 3, .dim = 64, .n_head = 4, .n_kv_head = 2, .ctx = 64, .vocab = 300, .rope_base = 10000,
                                  .rms_eps = 1e-5f, .ff_dim = 96, .n_expert_used = 2, .expert_dim = 32, .aux_loss_weight = 0.01f};
    seek_tmodel_cfg c = base;
    check_arch("dense GQA + RoPE", c, "llama", pool, tok);
    c = base;
    c.moe = true, c.n_expert = 8, c.n_shared_expert = 1, c.n_dense_lead = 1;
    check_arch("MoE GQA (DeepSeekMoE)", c, "deepseek", pool, tok);
    c.attention = TATT_MLA, c.kv_lora_rank = 32, c.qk_nope_dim = 16, c.qk_rope_dim = 8, c.v_head_dim = 16;
    check_arch("MoE MLA (DeepSeek-V2)", c, "deepseek2", pool, tok);
    c.gating_sigmoid = true, c.norm_topk = true, c.q_lora_rank = 24;
    check_arch("MoE MLA q LoRA, sigmoid + norm_topk (V3-style)", c, "deepseek2", pool, tok);
    c = base;
    c.moe = true, c.n_expert = 8, c.n_shared_expert = 2, c.norm_topk = true, c.position = TPOS_ALIBI, c.sliding_window = 7;
    check_arch("MoE ALiBi + window 7 + norm_topk", c, "seek", pool, tok);
    c = base;
    c.n_head = 5, c.n_kv_head = 5, c.dim = 80, c.position = TPOS_ALIBI; /* non-power-of-two ALiBi slopes */
    check_arch("dense ALiBi 5 heads", c, "seek", pool, tok);
    c = base;
    c.sliding_window = 5, c.moe = true, c.n_expert = 4, c.balance = TBAL_AUX_FREE;
    check_arch("MoE RoPE + window 5 + aux-free bias", c, "seek", pool, tok);
    c = base;
    c.xl_memory = 6;
    check_xl("dense GQA RoPE + XL memory 6", c, pool, tok);
    c.moe = true, c.n_expert = 4, c.position = TPOS_ALIBI, c.sliding_window = 10, c.xl_memory = 5;
    check_xl("MoE ALiBi + window 10 + XL memory 5", c, pool, tok);
    seek_gguf_close(tok);
    seek_pool_free(pool);
    return check_summary("test_train_export");
}
