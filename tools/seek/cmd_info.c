/* seek info: architecture, hyper-parameters, tokenizer, tensors with types, file and memory size. */
#include <string.h>

#include "common.h"
#include "quant/quantize.h"
#include "runtime/kv_cache.h"

int cmd_info(int argc, char **argv) {
    seek_opts o;
    if (!opts_parse(&o, argc, argv, "info")) return 2;
    seek_model *m = opts_load_model(&o);
    if (!m) return 1;
    const seek_hparams *hp = &m->hp;
    const seek_gguf *g = m->gguf;
    if (m->hf_keep)
        printf("file:           Hugging Face folder, %.2f MiB of weights, %llu tensors (as GGUF), %llu metadata keys\n",
               (double)m->weight_bytes / (1 << 20), (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv);
    else
        printf("file:           GGUF v%u, %.2f MiB, %llu tensors, %llu metadata keys\n", g->version,
               (double)g->size / (1 << 20), (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv);
    uint32_t ftype;
    if (seek_gguf_get_u32(g, "general.file_type", &ftype)) {
        const seek_ftype *ft = seek_ftype_by_id(ftype);
        if (ft) printf("file type:      %s (%s)\n", ft->label, ft->name);
        else printf("file type:      %u (general.file_type)\n", ftype);
    }
    printf("name:           %s\n", m->name[0] ? m->name : "(none)");
    printf("architecture:   %s\n", seek_arch_name(m->arch));
    printf("layers:         %lld\n", (long long)hp->n_layer);
    printf("embedding:      %lld\n", (long long)hp->dim);
    printf("feed-forward:   %lld\n", (long long)hp->n_ff);
    printf("heads:          %lld (kv heads %lld, head dim %lld)\n", (long long)hp->n_head, (long long)hp->n_head_kv,
           (long long)hp->head_dim);
    if (hp->mla)
        printf("attention:      MLA, q %s, kv latent %lld + rope key %lld, head dims %lld (k) / %lld (v), scale %.6g\n",
               hp->q_lora ? "LoRA" : "plain", (long long)hp->kv_lora, (long long)hp->n_rot, (long long)hp->head_dim,
               (long long)hp->head_dim_v, hp->kq_scale);
    if (hp->moe.n_expert) {
        const seek_moe_cfg *c = &hp->moe;
        printf("experts:        %d routed (%d per token, width %lld) + %lld shared, %lld leading dense layers\n", c->n_expert,
               c->n_used, (long long)hp->n_ff_exp, (long long)(hp->n_ff_exp ? hp->n_ff_shexp / hp->n_ff_exp : 0),
               (long long)hp->n_layer_dense);
        printf("routing:        %s scores, %d groups (%d kept, group score %s), %s, scale %g\n", c->sigmoid ? "sigmoid" : "softmax",
               c->n_group, c->n_group_used, c->group_top2 ? "top-2 sum" : "max", c->norm ? "weights renormalised" : "raw weights",
               c->scale);
        printf("weights/token:  %.2f MiB of %.2f MiB (only the routed experts)\n", (double)m->active_bytes / (1 << 20),
               (double)m->weight_bytes / (1 << 20));
    }
    printf("context:        %lld (training)\n", (long long)hp->n_ctx_train);
    if (hp->alibi) printf("positions:      ALiBi (no RoPE)\n");
    else
        printf("rope:           %s, base %g, %lld dims, scaling %s x%g\n", hp->rope_type == SEEK_ROPE_NEOX ? "neox" : "norm",
               hp->rope_base, (long long)hp->n_rot,
               hp->rope_scaling == SEEK_ROPE_SCALING_YARN ? "yarn" : hp->rope_scaling == SEEK_ROPE_SCALING_LINEAR ? "linear" : "none",
               hp->rope_scale);
    if (hp->window) printf("attention:      sliding window of %d positions\n", hp->window);
    if (hp->xl_seg)
        printf("attention:      Transformer-XL memory: a position sees its %d-token segment and the %d positions before it\n",
               hp->xl_seg, hp->xl_mem);
    printf("rms eps:        %g\n", hp->rms_eps);
    gguf_str tm = {0}, pre = {0};
    char b1[64] = "?", b2[64] = "?";
    if (seek_gguf_get_str(g, "tokenizer.ggml.model", &tm)) gguf_str_copy(tm, b1, sizeof b1);
    if (seek_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) gguf_str_copy(pre, b2, sizeof b2);
    printf("tokenizer:      %s (pre %s), %lld tokens, bos %d, eos %d\n", b1, b2, (long long)hp->n_vocab,
           seek_tokenizer_bos(m->tok), seek_tokenizer_eos(m->tok));
    printf("chat template:  %s%s\n", seek_chat_family_name(m->chat), m->chat_unknown ? " (unrecognised, fallback)" : "");
    printf("output:         %s\n", m->output.data == m->tok_embd.data ? "tied to token_embd" : "separate");
    const int64_t n_params = seek_model_n_params(m);
    size_t type_bytes[SEEK_TYPE_COUNT] = {0}, tensor_bytes = 0;
    int64_t type_count[SEEK_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        type_bytes[t->type] += t->n_bytes;
        type_count[t->type]++;
        tensor_bytes += t->n_bytes;
    }
    /* bits per weight of the file: all tensor bytes over all tensor elements (llama.cpp's BPW) */
    printf("parameters:     %.1f M (%.2f bits per weight)\n", n_params / 1e6, 8.0 * (double)tensor_bytes / (double)n_params);
    for (int t = 0; t < SEEK_TYPE_COUNT; t++)
        if (type_count[t])
            printf("  %-6s %4lld tensors %9.2f MiB\n", seek_dtype_name((seek_dtype)t), (long long)type_count[t],
                   (double)type_bytes[t] / (1 << 20));
    int64_t n_ctx = o.n_ctx > 0 ? o.n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    double kv_per_tok = (double)seek_model_kv_floats(m) * sizeof(float);
    printf("KV cache:       %.0f bytes per token (f32); %.1f MiB for %lld tokens\n", kv_per_tok,
           kv_per_tok * (double)n_ctx / (1 << 20), (long long)n_ctx);
    if (hp->mla) /* what caching expanded keys and values per head would cost */
        printf("                (MLA: %.1fx smaller than caching full k, v per head: %.0f bytes per token)\n",
               (double)(hp->n_head * (hp->head_dim + hp->head_dim_v)) / (double)(hp->kv_lora + hp->n_rot),
               (double)(hp->n_layer * hp->n_head * (hp->head_dim + hp->head_dim_v)) * sizeof(float));
    printf("memory:         ~%.1f MiB (mapped weights + KV cache for -c %lld)\n",
           ((double)m->weight_bytes + kv_per_tok * (double)n_ctx) / (1 << 20), (long long)n_ctx);
    printf("tensors:\n");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        printf("  %-32s %-6s [", t->name, seek_dtype_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++) printf(d ? ", %lld" : "%lld", (long long)t->ne[d]);
        printf("]\n");
    }
    seek_model_free(m);
    return 0;
}
