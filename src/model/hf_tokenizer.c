/* tokenizer.json + tokenizer_config.json -> GGUF tokenizer.* keys (see hf.h), as llama.cpp's
 * converter writes them for byte-level BPE tokenizers: the token list by id (padded with
 * [PADn] up to the embedding rows), token types (special added tokens are control tokens, other
 * added tokens user-defined), merges as "a b" strings, the pre-tokenizer recognised from its
 * regexes, bos/eos, add_bos_token and the chat template. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/hf.h"

enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5 };

seek_status seek_hf_json_load(json_t **out, const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t e;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!*out) {
        if (e.line < 0 || strstr(e.text, "unable to open"))
            return seek_errorf(SEEK_ERR_IO, "%s: cannot read: %s", path, e.text);
        return seek_errorf(SEEK_ERR_FORMAT, "%s: line %d, column %d: %s", path, e.line, e.column, e.text);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return seek_errorf(SEEK_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return SEEK_OK;
}

/* The pattern of a Split pre-tokenizer ({"type":"Split","pattern":{"Regex":...}}), or NULL. */
static const char *split_regex(const json_t *p) {
    if (!json_is_string(json_object_get(p, "type")) || strcmp(json_string_value(json_object_get(p, "type")), "Split"))
        return NULL;
    return json_string_value(json_object_get(json_object_get(p, "pattern"), "Regex"));
}

/* Recognises the pre-tokenizer by the regexes it splits with (llama.cpp instead hashes a test
 * tokenization; the regexes are what decide it). NULL when none matches. */
static const char *detect_pre(const json_t *tok) {
    const json_t *pre = json_object_get(tok, "pre_tokenizer");
    const json_t *list = pre;
    if (json_is_string(json_object_get(pre, "type")) && !strcmp(json_string_value(json_object_get(pre, "type")), "Sequence"))
        list = json_object_get(pre, "pretokenizers");
    const char *re[8] = {0};
    int n_re = 0;
    bool byte_regex = false, digits = false;
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_is_array(list) ? json_array_get(list, i) : list;
        const char *ty = json_string_value(json_object_get(p, "type"));
        const char *r = split_regex(p);
        if (r && n_re < 8) re[n_re++] = r;
        if (ty && !strcmp(ty, "ByteLevel") && json_is_true(json_object_get(p, "use_regex"))) byte_regex = true;
        if (ty && !strcmp(ty, "Digits")) digits = true;
    }
    if (n_re == 0 && byte_regex) return digits ? "smollm" : "gpt2";
    if (n_re == 1 && strstr(re[0], "(?i:'s|'t|'re|'ve|'m|'ll|'d)"))
        return strstr(re[0], "\\p{N}{1,3}") ? "llama-bpe" : "qwen2";
    if (n_re == 3 && !strcmp(re[0], "\\p{N}{1,3}") && strstr(re[2], "[\\p{L}\\p{M}]+")) return "deepseek-v3";
    if (n_re >= 5 && !strcmp(re[0], "[\\r\\n]")) return strncmp(re[1], "\\s?[A-Za-z", 10) == 0 ? "deepseek-llm" : "deepseek-coder";
    return NULL;
}

/* A token given as "text" or {"content": "text"} in tokenizer_config.json. */
static const char *token_text(const json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    return json_string_value(json_object_get(v, "content"));
}

static int64_t find_id(char **tokens, int64_t n, const char *s) {
    if (!s) return -1;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] && !strcmp(tokens[i], s)) return i;
    return -1;
}

/* Does the post-processor put a special token first (a BOS the tokenizer adds)? */
static bool post_adds_bos(const json_t *tok) {
    const json_t *pp = json_object_get(tok, "post_processor");
    const json_t *list = json_object_get(pp, "processors");
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_is_array(list) ? json_array_get(list, i) : pp;
        const json_t *first = json_array_get(json_object_get(p, "single"), 0);
        if (json_object_get(first, "SpecialToken")) return true;
    }
    return false;
}

seek_status seek_hf_read_tokenizer(seek_gguf_writer *w, const char *dir, const json_t *config, int64_t n_vocab) {
    json_t *tok = NULL, *tcfg = NULL;
    seek_status st = seek_hf_json_load(&tok, dir, "tokenizer.json");
    if (st) return st;
    if (seek_hf_json_load(&tcfg, dir, "tokenizer_config.json")) tcfg = json_object(); /* optional */
    char **tokens = NULL, **merges = NULL;
    int32_t *types = NULL;
    int64_t n = 0, n_merges = 0;
    const json_t *model = json_object_get(tok, "model");
    const json_t *vocab = json_object_get(model, "vocab"), *added = json_object_get(tok, "added_tokens");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    if (!mtype || strcmp(mtype, "BPE") || !json_is_object(vocab)) {
        st = seek_errorf(SEEK_ERR_UNSUPPORTED, "%s/tokenizer.json: model.type '%s' is not supported (byte-level BPE only)", dir,
                         mtype ? mtype : "(missing)");
        goto done;
    }
    if (json_is_true(json_object_get(model, "byte_fallback"))) {
        st = seek_errorf(SEEK_ERR_UNSUPPORTED, "%s/tokenizer.json: byte_fallback BPE (SentencePiece style) is not supported", dir);
        goto done;
    }
    /* ids: the vocab's, the added tokens', and the embedding rows */
    const char *key;
    json_t *val;
    size_t i;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= (1 << 24)) {
            st = seek_errorf(SEEK_ERR_FORMAT, "%s/tokenizer.json: model.vocab['%s'] is not a valid id", dir, key);
            goto done;
        }
        if (json_integer_value(val) >= n) n = json_integer_value(val) + 1;
    }
    json_array_foreach(added, i, val) {
        json_int_t id = json_integer_value(json_object_get(val, "id"));
        if (!json_is_string(json_object_get(val, "content")) || id < 0 || id >= (1 << 24)) {
            st = seek_errorf(SEEK_ERR_FORMAT, "%s/tokenizer.json: added_tokens[%zu] needs an id and a content", dir, i);
            goto done;
        }
        if (id >= n) n = id + 1;
    }
    if (n_vocab > n) n = n_vocab;
    if (n_vocab > 0 && n > n_vocab) {
        st = seek_errorf(SEEK_ERR_FORMAT, "%s: the tokenizer has %lld tokens but config.json vocab_size is %lld", dir,
                         (long long)n, (long long)n_vocab);
        goto done;
    }
    tokens = calloc((size_t)n, sizeof *tokens);
    types = calloc((size_t)n, sizeof *types);
    if (!tokens || !types) goto oom;
    json_object_foreach((json_t *)vocab, key, val) {
        int64_t id = json_integer_value(val);
        if (!tokens[id] && !(tokens[id] = strdup(key))) goto oom;
        types[id] = TT_NORMAL;
    }
    json_array_foreach(added, i, val) {
        int64_t id = json_integer_value(json_object_get(val, "id"));
        free(tokens[id]);
        if (!(tokens[id] = strdup(json_string_value(json_object_get(val, "content"))))) goto oom;
        types[id] = json_is_true(json_object_get(val, "special")) ? TT_CONTROL : TT_USER_DEFINED;
    }
    for (int64_t id = 0; id < n; id++)
        if (!tokens[id]) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%lld]", (long long)id);
            if (!(tokens[id] = strdup(pad))) goto oom;
            types[id] = TT_UNUSED;
        }
    /* merges: "a b" strings, or [a, b] pairs in newer files */
    const json_t *mj = json_object_get(model, "merges");
    n_merges = json_is_array(mj) ? (int64_t)json_array_size(mj) : 0;
    merges = calloc((size_t)n_merges + 1, sizeof *merges);
    if (!merges) goto oom;
    json_array_foreach(mj, i, val) {
        const char *a = json_string_value(val), *b = NULL;
        if (json_is_array(val) && json_array_size(val) == 2) {
            a = json_string_value(json_array_get(val, 0));
            b = json_string_value(json_array_get(val, 1));
        }
        if (!a || (json_is_array(val) && !b)) {
            st = seek_errorf(SEEK_ERR_FORMAT, "%s/tokenizer.json: model.merges[%zu] is not a merge", dir, i);
            goto done;
        }
        size_t len = strlen(a) + (b ? strlen(b) + 2 : 1);
        if (!(merges[i] = malloc(len))) goto oom;
        snprintf(merges[i], len, b ? "%s %s" : "%s", a, b ? b : "");
    }
    const char *pre = detect_pre(tok);
    if (!pre) {
        st = seek_errorf(SEEK_ERR_UNSUPPORTED, "%s/tokenizer.json: the pre_tokenizer's regexes match no tokenizer seek knows "
                         "(gpt2, smollm, llama-bpe, qwen2, deepseek-llm, deepseek-coder, deepseek-v3)", dir);
        goto done;
    }
    seek_gw_str(w, "tokenizer.ggml.model", "gpt2");
    seek_gw_str(w, "tokenizer.ggml.pre", pre);
    seek_gw_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, (size_t)n);
    seek_gw_arr_i32(w, "tokenizer.ggml.token_type", types, (size_t)n);
    seek_gw_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges, (size_t)n_merges);
    /* bos / eos: tokenizer_config.json's tokens, else config.json's ids */
    const char *names[2] = {"bos", "eos"};
    for (int k = 0; k < 2; k++) {
        char cfg_key[32], gguf_key[64];
        snprintf(cfg_key, sizeof cfg_key, "%s_token", names[k]);
        int64_t id = find_id(tokens, n, token_text(json_object_get(tcfg, cfg_key)));
        snprintf(cfg_key, sizeof cfg_key, "%s_token_id", names[k]);
        const json_t *cid = json_object_get(config, cfg_key);
        if (json_is_array(cid)) cid = json_array_get(cid, 0);
        if (id < 0 && json_is_integer(cid) && json_integer_value(cid) >= 0 && json_integer_value(cid) < n) id = json_integer_value(cid);
        snprintf(gguf_key, sizeof gguf_key, "tokenizer.ggml.%s_token_id", names[k]);
        if (id >= 0) seek_gw_u32(w, gguf_key, (uint32_t)id);
    }
    int64_t pad_id = find_id(tokens, n, token_text(json_object_get(tcfg, "pad_token")));
    if (pad_id >= 0) seek_gw_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad_id);
    const json_t *add_bos = json_object_get(tcfg, "add_bos_token");
    seek_gw_bool(w, "tokenizer.ggml.add_bos_token", json_is_boolean(add_bos) ? json_is_true(add_bos) : post_adds_bos(tok));
    const json_t *tmpl = json_object_get(tcfg, "chat_template");
    if (json_is_array(tmpl)) { /* [{"name": "default", "template": ...}, ...] */
        const json_t *chosen = NULL;
        json_array_foreach(tmpl, i, val) {
            const char *nm = json_string_value(json_object_get(val, "name"));
            if (nm && !strcmp(nm, "default")) chosen = json_object_get(val, "template");
        }
        tmpl = chosen;
    }
    if (!json_is_string(tmpl)) { /* newer folders keep it in chat_template.jinja */
        char path[4096];
        snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
        FILE *f = fopen(path, "rb");
        if (f) {
            char *buf = malloc(1 << 20);
            size_t len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
            fclose(f);
            if (buf) seek_gw_str_n(w, "tokenizer.chat_template", buf, len);
            free(buf);
        }
    } else {
        seek_gw_str(w, "tokenizer.chat_template", json_string_value(tmpl));
    }
    goto done;
oom:
    st = seek_errorf(SEEK_ERR_NOMEM, "%s: out of memory reading the tokenizer", dir);
done:
    for (int64_t k = 0; tokens && k < n; k++) free(tokens[k]);
    for (int64_t k = 0; merges && k < n_merges; k++) free(merges[k]);
    free(tokens);
    free(types);
    free(merges);
    json_decref(tok);
    json_decref(tcfg);
    return st;
}
