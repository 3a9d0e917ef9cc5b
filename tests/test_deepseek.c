/* DeepSeek architectures (and the llama / qwen2 Hugging Face path) against Hugging Face
 * transformers: tiny random models made by tests/ref/gen_hf_models.py, loaded four ways --
 *   the Hugging Face folder itself (safetensors, sharded or not, FP8 with block scales),
 *   GGUF files written independently with llama.cpp's gguf-py (deepseek with permuted q/k,
 *   deepseek2 in the old attn_kv_b layout and in the MLA attn_k_b / attn_v_b layout),
 *   and the folder converted by seek's own GGUF writer (f32; q8_0 with a looser bound) --
 * each run over the whole prompt at once and token by token through the KV cache.
 * Bound: max |logit difference| <= 1e-4 x the reference's logit range (max - min over all
 * positions), in fp32 (precise mode; the fixtures' weights are f32, or bf16 for FP8).
 * Routing masks dropped groups with -inf (DeepSeek's code; transformers 5.x DeepseekV3 does the
 * same); the hub code's 0.0 masking on the dsv3 fixture is reported too (it picks the same
 * experts there: no kept expert's biased score is negative). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fixture_io.h"
#include "core/status.h"
#include "format/gguf_write.h"
#include "core/fp16.h"
#include "format/safetensors.h"
#include "model/hf.h"
#include "runtime/context.h"

#define FIX "tests/fixtures/hf/"
#define N_TOK 48

/* Logits of every position: all ids in one batch, or one decode call per token. */
static bool run(const seek_model *m, const int32_t *ids, bool stepwise, float *out) {
    const int64_t V = m->hp.n_vocab;
    seek_context_params p = {.n_ctx = 64, .n_threads = 2, .precise = true};
    seek_context *c;
    if (seek_context_init(&c, m, &p) != SEEK_OK) return false;
    seek_batch b;
    seek_batch_init(&b, N_TOK);
    bool ok = true;
    for (int i = 0; ok && i < N_TOK; i++) {
        if (stepwise) seek_batch_clear(&b);
        seek_batch_add(&b, ids[i], i, 0, true);
        if (!stepwise && i < N_TOK - 1) continue;
        ok = seek_decode(c, &b) == SEEK_OK;
        for (int j = 0; ok && j < b.n; j++) memcpy(out + (int64_t)(stepwise ? i : j) * V, seek_get_logits(c, j), (size_t)V * 4);
    }
    seek_batch_free(&b);
    seek_context_free(c);
    return ok;
}


/* Loads path, compares both runs with NAME.logits.f32; returns the worst relative difference. */
static double check_model(const char *label, const char *path, const char *ref_name, seek_arch arch, bool hf_mask, double bound) {
    char p[512];
    seek_model *m;
    if (seek_model_load(&m, path) != SEEK_OK) {
        CHECK(0, "%s: load %s: %s", label, path, seek_last_error());
        return INFINITY;
    }
    CHECK(m->arch == arch, "%s: arch %s", label, seek_arch_name(m->arch));
    m->hp.moe.mask_zero = hf_mask;
    const int64_t V = m->hp.n_vocab;
    int32_t ids[N_TOK];
    snprintf(p, sizeof p, FIX "%s.ids.txt", ref_name);
    int n = fixture_read_ids(p, ids, N_TOK);
    snprintf(p, sizeof p, FIX "%s.logits.f32", ref_name);
    float *ref = fixture_read_f32(p, (size_t)N_TOK * (size_t)V), *got = malloc((size_t)N_TOK * (size_t)V * 4);
    CHECK(n == N_TOK && ref, "%s: fixtures (%d ids, vocab %lld)", label, n, (long long)V);
    double worst = INFINITY;
    if (n == N_TOK && ref) {
        bool ok1 = run(m, ids, false, got);
        double d1 = ok1 ? fixture_rel_diff(got, ref, N_TOK * V) : INFINITY;
        bool ok2 = run(m, ids, true, got);
        double d2 = ok2 ? fixture_rel_diff(got, ref, N_TOK * V) : INFINITY;
        printf("%-28s batched %.2e  token-by-token %.2e  (of the logit range)\n", label, d1, d2);
        CHECK(ok1 && ok2, "%s: decode failed: %s", label, seek_last_error());
        CHECK(d1 <= bound && d2 <= bound, "%s: logits differ by %.3g / %.3g of their range (bound %.0e)", label, d1, d2, bound);
        worst = fmax(d1, d2);
    }
    free(ref);
    free(got);
    seek_model_free(m);
    return worst;
}

/* The folder converted with seek's writer (every weight as `type`, vectors f32) into a temp file. */
static bool convert(const char *dir, seek_dtype type, char *out, size_t n) {
    snprintf(out, n, "/tmp/seek_test_convert_%d.gguf", (int)getpid());
    seek_gguf_writer *w = seek_gw_new();
    seek_hf_keep *keep = NULL;
    bool ok = seek_hf_read(w, dir, false, &keep) == SEEK_OK;
    for (size_t i = 0; ok && i < seek_gw_n_tensors(w); i++) {
        int64_t ne[4];
        seek_dtype held = seek_gw_tensor_type(w, i, ne);
        const char *nm = seek_gw_tensor_name(w, i);
        if (ne[1] > 1 && !strstr(nm, "ffn_gate_inp") && held != type && ne[0] % 32 == 0) ok = seek_gw_retype(w, i, type) == SEEK_OK;
    }
    ok = ok && seek_gw_write(w, out, NULL, NULL) == SEEK_OK;
    CHECK(ok, "convert %s: %s", dir, seek_last_error());
    seek_gw_free(w);
    seek_hf_keep_free(keep);
    return ok;
}

/* tokenizer.json read through the folder loader against HF tokenizers' ids
 * (tokenizer_cases.txt: family, hex of the UTF-8 text, ids): the pre-tokenizer is recognised from
 * its regexes (deepseek-v3, llama-bpe, qwen2), merges and added tokens come through. */
static void check_tokenizers(void) {
    static const struct { const char *family, *folder; } fams[] = {{"deepseek", "dsv3"}, {"llama", "llama"}, {"qwen2", "qwen2"}};
    for (size_t f = 0; f < 3; f++) {
        char path[256], line[8192];
        snprintf(path, sizeof path, FIX "%s", fams[f].folder);
        seek_model *m;
        if (seek_model_load(&m, path) != SEEK_OK) {
            CHECK(0, "load %s: %s", path, seek_last_error());
            continue;
        }
        FILE *fh = fopen(FIX "tokenizer_cases.txt", "r");
        int n_cases = 0, n_ok = 0;
        while (fh && fgets(line, sizeof line, fh)) {
            char *fam = strtok(line, "\t"), *hex = strtok(NULL, "\t"), *ids = strtok(NULL, "\n");
            if (!fam || !hex || fam[0] == '#' || strcmp(fam, fams[f].family)) continue;
            char text[2048];
            size_t len = 0;
            for (size_t i = 0; hex[i] && hex[i + 1] && len < sizeof text; i += 2) {
                unsigned v;
                sscanf(hex + i, "%2x", &v);
                text[len++] = (char)v;
            }
            int32_t want[1024], got[1024];
            int n_want = 0;
            for (char *t = ids ? strtok(ids, " ") : NULL; t && n_want < 1024; t = strtok(NULL, " ")) want[n_want++] = atoi(t);
            int64_t n_got = seek_tokenize(m->tok, text, len, false, true, got, 1024);
            bool same = n_got == n_want && !memcmp(got, want, (size_t)n_want * sizeof(int32_t));
            CHECK(same, "%s tokenizer: case %d ('%.*s') gives %lld ids, HF %d", fams[f].family, n_cases, (int)len, text,
                  (long long)n_got, n_want);
            n_cases++;
            n_ok += same;
        }
        if (fh) fclose(fh);
        printf("%-8s tokenizer.json: %d/%d cases as HF tokenizers\n", fams[f].family, n_ok, n_cases);
        CHECK(n_cases >= 5, "%s: only %d tokenizer cases", fams[f].family, n_cases);
        seek_model_free(m);
    }
}

static bool copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    bool ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) fclose(b);
    return ok;
}

/* Writes a safetensors file: the JSON header (padded to 8 bytes) and n bytes of buf. */
static bool write_st(const char *path, json_t *hdr, const char *buf, size_t n) {
    char *h = json_dumps(hdr, JSON_COMPACT);
    FILE *f = h ? fopen(path, "wb") : NULL;
    bool ok = f != NULL;
    if (ok) {
        uint64_t hl = (strlen(h) + 7) / 8 * 8;
        ok = fwrite(&hl, 8, 1, f) == 1 && fprintf(f, "%-*s", (int)hl, h) == (int)hl && fwrite(buf, 1, n, f) == n;
        ok = fclose(f) == 0 && ok;
    }
    free(h);
    return ok;
}

/* Copies the dsv3 fixture's files[i][0] to dir/files[i][1]. */
static bool copy_fixture_files(const char *dir, const char *const (*files)[2], int n) {
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char from[256], to[512];
        snprintf(from, sizeof from, FIX "dsv3/%s", files[i][0]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i][1]);
        ok = ok && copy_file(from, to);
    }
    return ok;
}

/* DeepSeek-V3's multi-token-prediction layer (model.layers.<num_hidden_layers>.*): HF does not
 * save it, so the folder is made here from the dsv3 fixture: its files, config.json with
 * num_nextn_predict_layers 1, and a second shard holding layer 3 (a copy of layer 2 plus
 * eh_proj, enorm, hnorm, shared_head.norm as in DeepSeek-V3's README_WEIGHTS). The module must be
 * loaded (for speculative decoding) without changing the main logits, dropped by convert unless
 * asked for, and kept by convert --mtp. */
static void check_mtp(void) {
    char dir[] = "/tmp/seek_mtp_XXXXXX", p[512];
    if (!mkdtemp(dir)) return;
    /* tokenizer files, the dsv3 weights as the first shard, config.json asking for one MTP layer */
    static const char *const files[][2] = {{"tokenizer.json", "tokenizer.json"}, {"tokenizer_config.json", "tokenizer_config.json"},
                                           {"model.safetensors", "model-1.safetensors"}};
    bool ok = copy_fixture_files(dir, files, 3);
    json_t *cfg = json_load_file(FIX "dsv3/config.json", 0, NULL);
    snprintf(p, sizeof p, "%s/config.json", dir);
    ok = ok && cfg && !json_object_set_new(cfg, "num_nextn_predict_layers", json_integer(1)) && !json_dump_file(cfg, p, 0);
    json_decref(cfg);
    /* model-2.safetensors: layer 2 renamed to 3, plus the MTP tensors (f32) */
    seek_safetensors *st = NULL;
    ok = ok && seek_st_open(&st, FIX "dsv3/model.safetensors") == SEEK_OK;
    json_t *hdr = json_object(), *map = json_object();
    size_t off = 0;
    char *buf = malloc(1 << 20);
    for (size_t i = 0; ok && i < st->n_tensors; i++) {
        const seek_st_tensor *t = &st->tensors[i];
        json_object_set_new(map, t->name, json_string("model-1.safetensors"));
        if (strncmp(t->name, "model.layers.2.", 15)) continue;
        char name[256];
        snprintf(name, sizeof name, "model.layers.3.%s", t->name + 15);
        json_t *shape = json_array();
        for (int d = 0; d < t->n_dims; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_object_set_new(hdr, name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", seek_st_dtype_name(t->dtype), "shape", shape,
                                                 "data_offsets", (json_int_t)off, (json_int_t)(off + t->end - t->begin)));
        json_object_set_new(map, name, json_string("model-2.safetensors"));
        memcpy(buf + off, t->data, t->end - t->begin);
        off += t->end - t->begin;
    }
    static const struct { const char *name; int rows, cols; } extra[] = {
        {"eh_proj.weight", 64, 128}, {"enorm.weight", 64, 0}, {"hnorm.weight", 64, 0}, {"shared_head.norm.weight", 64, 0}};
    for (int i = 0; ok && i < 4; i++) {
        char name[256];
        snprintf(name, sizeof name, "model.layers.3.%s", extra[i].name);
        const size_t n = (size_t)extra[i].rows * (size_t)(extra[i].cols ? extra[i].cols : 1);
        for (size_t j = 0; j < n; j++) {
            float v = 1.0f / (float)(1 + j % 7);
            memcpy(buf + off + 4 * j, &v, 4);
        }
        json_t *shape = extra[i].cols ? json_pack("[i, i]", extra[i].rows, extra[i].cols) : json_pack("[i]", extra[i].rows);
        json_object_set_new(hdr, name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape, "data_offsets",
                                                 (json_int_t)off, (json_int_t)(off + 4 * n)));
        json_object_set_new(map, name, json_string("model-2.safetensors"));
        off += 4 * n;
    }
    snprintf(p, sizeof p, "%s/model-2.safetensors", dir);
    ok = ok && write_st(p, hdr, buf, off);
    json_t *index = json_pack("{s:{}, s:O}", "metadata", "weight_map", map);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    ok = ok && index && !json_dump_file(index, p, 0);
    free(buf);
    json_decref(hdr);
    json_decref(map);
    json_decref(index);
    seek_st_close(st);
    CHECK(ok, "mtp: building the folder failed");

    /* loaded with the module; the main logits are dsv3's */
    seek_model *m;
    if (ok && seek_model_load(&m, dir) == SEEK_OK) {
        CHECK(m->hp.n_layer == 3 && m->hp.n_mtp == 1 && m->mtp && m->layers[3].moe && m->mtp[0].eh_proj.ne[0] == 128,
              "mtp: not loaded (%lld layers, %lld mtp)", (long long)m->hp.n_layer, (long long)m->hp.n_mtp);
        seek_model_free(m);
    } else {
        CHECK(0, "mtp: load: %s", seek_last_error());
    }
    check_model("dsv3 + MTP layer (HF folder)", dir, "dsv3", SEEK_ARCH_DEEPSEEK2, false, 1e-4);
    /* convert: dropped by default (llama.cpp's layout), kept with mtp */
    for (int keep = 0; keep < 2; keep++) {
        char out[600];
        snprintf(out, sizeof out, "%s/out.gguf", dir);
        seek_gguf_writer *w = seek_gw_new();
        seek_hf_keep *k = NULL;
        bool wrote = seek_hf_read(w, dir, keep, &k) == SEEK_OK && seek_gw_write(w, out, NULL, NULL) == SEEK_OK;
        seek_gw_free(w);
        seek_hf_keep_free(k);
        if (wrote && seek_model_load(&m, out) == SEEK_OK) {
            CHECK(m->hp.n_mtp == keep && m->hp.n_layer == 3, "mtp: converted (keep %d) has %lld mtp layers", keep, (long long)m->hp.n_mtp);
            CHECK((seek_gguf_tensor(m->gguf, "blk.3.nextn.eh_proj.weight") != NULL) == keep, "mtp: nextn tensors (keep %d)", keep);
            seek_model_free(m);
        } else {
            CHECK(0, "mtp: convert (keep %d): %s", keep, seek_last_error());
        }
        unlink(out);
    }
    const char *names[] = {"tokenizer.json", "tokenizer_config.json", "model-1.safetensors", "model-2.safetensors", "config.json",
                           "model.safetensors.index.json"};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* Logits of every position of the dsv3 prompt, batched (precise mode). */
static float *all_logits(const char *path, int64_t *V) {
    seek_model *m;
    if (seek_model_load(&m, path) != SEEK_OK) return NULL;
    int32_t ids[N_TOK];
    int n = fixture_read_ids(FIX "dsv3.ids.txt", ids, N_TOK);
    *V = m->hp.n_vocab;
    float *out = malloc((size_t)(N_TOK * *V) * sizeof(float));
    if (n != N_TOK || !out || !run(m, ids, false, out)) {
        free(out);
        out = NULL;
    }
    seek_model_free(m);
    return out;
}

/* F16 and BF16 checkpoints (what real Hugging Face folders hold): the dsv3 folder rewritten with
 * its 2-D weights in half precision is used in place and must give exactly the logits of the same
 * weights rounded by `seek convert --type f16|bf16` (which goes through ggml's rounding). */
static void check_half_precision(void) {
    static const char *st_names[2] = {"F16", "BF16"};
    static const seek_dtype types[2] = {SEEK_TYPE_F16, SEEK_TYPE_BF16};
    for (int h = 0; h < 2; h++) {
        char dir[] = "/tmp/seek_half_XXXXXX", p[512], out[600];
        if (!mkdtemp(dir)) return;
        static const char *const files[][2] = {{"tokenizer.json", "tokenizer.json"}, {"tokenizer_config.json", "tokenizer_config.json"},
                                               {"config.json", "config.json"}};
        bool ok = copy_fixture_files(dir, files, 3);
        seek_safetensors *st = NULL;
        ok = ok && seek_st_open(&st, FIX "dsv3/model.safetensors") == SEEK_OK;
        json_t *hdr = json_object();
        size_t off = 0;
        char *buf = malloc(2u << 20);
        for (size_t i = 0; ok && i < st->n_tensors; i++) {
            const seek_st_tensor *t = &st->tensors[i];
            const size_t n = (size_t)seek_st_n_elements(t);
            /* the router stays f32; an even count keeps later tensors 4-byte aligned */
            const bool half = t->n_dims == 2 && !strstr(t->name, "mlp.gate.weight") && n % 2 == 0;
            for (size_t j = 0; j < n; j++) {
                float v;
                memcpy(&v, (const char *)t->data + 4 * j, 4);
                uint16_t u = h ? seek_f32_to_bf16(v) : seek_f32_to_f16(v);
                if (half) memcpy(buf + off + 2 * j, &u, 2);
                else memcpy(buf + off + 4 * j, &v, 4);
            }
            json_t *shape = json_array();
            for (int d = 0; d < t->n_dims; d++) json_array_append_new(shape, json_integer(t->shape[d]));
            const size_t bytes = n * (half ? 2 : 4);
            json_object_set_new(hdr, t->name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", half ? st_names[h] : "F32", "shape", shape,
                                                        "data_offsets", (json_int_t)off, (json_int_t)(off + bytes)));
            off += bytes;
        }
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        ok = ok && write_st(p, hdr, buf, off);
        free(buf);
        json_decref(hdr);
        seek_st_close(st);
        /* the reference: the f32 folder converted by seek's writer into the half type */
        snprintf(out, sizeof out, "%s/ref.gguf", dir);
        if (ok) {
            seek_gguf_writer *w = seek_gw_new();
            seek_hf_keep *k = NULL;
            ok = seek_hf_read(w, FIX "dsv3", false, &k) == SEEK_OK;
            for (size_t i = 0; ok && i < seek_gw_n_tensors(w); i++) {
                int64_t ne[4];
                seek_gw_tensor_type(w, i, ne);
                if (ne[1] > 1 && !strstr(seek_gw_tensor_name(w, i), "ffn_gate_inp")) ok = seek_gw_retype(w, i, types[h]) == SEEK_OK;
            }
            ok = ok && seek_gw_write(w, out, NULL, NULL) == SEEK_OK;
            seek_gw_free(w);
            seek_hf_keep_free(k);
        }
        int64_t V1 = 0, V2 = 0;
        float *a = ok ? all_logits(dir, &V1) : NULL, *b = ok ? all_logits(out, &V2) : NULL;
        CHECK(a && b && V1 == V2, "%s folder: %s", st_names[h], seek_last_error());
        if (a && b && V1 == V2) {
            double md = 0;
            for (int64_t i = 0; i < N_TOK * V1; i++) md = fmax(md, fabs((double)a[i] - b[i]));
            printf("dsv3 as a %-4s folder vs seek convert --type %s: max |logit difference| %.3g\n", st_names[h], h ? "bf16" : "f16", md);
            CHECK(md == 0, "%s folder and converted GGUF differ by %g", st_names[h], md);
        }
        free(a);
        free(b);
        const char *names[] = {"tokenizer.json", "tokenizer_config.json", "config.json", "model.safetensors", "ref.gguf"};
        for (int i = 0; i < 5; i++) {
            snprintf(p, sizeof p, "%s/%s", dir, names[i]);
            unlink(p);
        }
        rmdir(dir);
    }
}

int main(void) {
    check_tokenizers();
    check_mtp();
    check_half_precision();
    static const struct { const char *name; seek_arch arch; } folders[] = {
        {"llama", SEEK_ARCH_LLAMA}, {"qwen2", SEEK_ARCH_QWEN2}, {"deepseek_moe", SEEK_ARCH_DEEPSEEK},
        {"dsv2_lite", SEEK_ARCH_DEEPSEEK2}, {"dsv2", SEEK_ARCH_DEEPSEEK2}, {"dsv3", SEEK_ARCH_DEEPSEEK2},
        {"dsv3_fp8", SEEK_ARCH_DEEPSEEK2},
    };
    const double bound = 1e-4;
    char path[512], label[128], tmp[256];
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        snprintf(path, sizeof path, FIX "%s", folders[i].name);
        snprintf(label, sizeof label, "%s (HF folder)", folders[i].name);
        check_model(label, path, folders[i].name, folders[i].arch, false, bound);
        if (convert(path, SEEK_TYPE_F32, tmp, sizeof tmp)) {
            snprintf(label, sizeof label, "%s (seek convert f32)", folders[i].name);
            check_model(label, tmp, folders[i].name, folders[i].arch, false, bound);
            unlink(tmp);
        }
    }
    /* q8_0 weights (activations stay fp32 in precise mode): each weight moves by up to 0.4% of
     * its block's largest, which moves these tiny models' logits by 1-5% of their range (more
     * where a routing decision flips: the dsv3 fixture's biased scores are near ties), so only a
     * dense and a MoE model with wide margins are held to a bound */
    static const struct { const char *name; seek_arch arch; double bound; } q8[] = {
        {"llama", SEEK_ARCH_LLAMA, 3e-2}, {"dsv2", SEEK_ARCH_DEEPSEEK2, 6e-2}};
    for (size_t i = 0; i < sizeof q8 / sizeof q8[0]; i++) {
        snprintf(path, sizeof path, FIX "%s", q8[i].name);
        snprintf(label, sizeof label, "%s (seek convert q8_0)", q8[i].name);
        if (convert(path, SEEK_TYPE_Q8_0, tmp, sizeof tmp)) {
            check_model(label, tmp, q8[i].name, q8[i].arch, false, q8[i].bound);
            unlink(tmp);
        }
    }
    /* GGUF files written by gguf-py the way llama.cpp's converter writes them */
    check_model("deepseek_moe.gguf (gguf-py)", FIX "deepseek_moe.gguf", "deepseek_moe", SEEK_ARCH_DEEPSEEK, false, bound);
    check_model("dsv2_lite_legacy.gguf (kv_b)", FIX "dsv2_lite_legacy.gguf", "dsv2_lite", SEEK_ARCH_DEEPSEEK2, false, bound);
    check_model("dsv3_mla.gguf (k_b, v_b)", FIX "dsv3_mla.gguf", "dsv3", SEEK_ARCH_DEEPSEEK2, false, bound);
    /* the hub code's 0.0 masking: the same choices on this fixture */
    check_model("dsv3 (0.0 masking)", FIX "dsv3", "dsv3", SEEK_ARCH_DEEPSEEK2, true, bound);
    return check_summary("test_deepseek");
}
