/* seek: the command. Dispatches to one cmd_*.c per subcommand. */
#include <stdio.h>
#include <string.h>

#include "common.h"

static void usage(FILE *f) {
    fprintf(f,
            "seek %s: run, serve and train DeepSeek-family language models\n"
            "usage: seek COMMAND [options]\n"
            "  run    -m MODEL -p TEXT   generate text (stdout = the text only)\n"
            "  chat   -m MODEL           interactive chat, KV cache kept across turns\n"
            "  serve  -m MODEL           OpenAI-compatible HTTP server (+ chat page at /)\n"
            "  info   MODEL              metadata, tensors, memory estimate\n"
            "  bench  -m MODEL           prompt (pp) and generation (tg) speed\n"
            "  convert HF_DIR -o OUT.gguf  Hugging Face folder -> GGUF (--type f32|f16|bf16|q8_0)\n"
            "  quantize IN OUT TYPE      GGUF or HF folder -> q4_k_m, q8_0, ... (llama-quantize's choices)\n"
            "  perplexity -m MODEL -f FILE  perplexity on a text, as llama-perplexity computes it\n"
            "  train  --config RUN.json  train a DeepSeek-style (MoE) model on your text\n"
            "  grow   IN OUT --layers N | --experts N   grow a trained model (progressive training)\n"
            "  tokenizer-train FILE... -o OUT.gguf --vocab N  train a byte-level BPE tokenizer\n"
            "MODEL is a GGUF file or a Hugging Face model folder.\n"
            "Without -m, the default model (%s) is used; get it with scripts/get-model.sh.\n"
            "'seek COMMAND --help' lists a command's options.\n",
            SEEK_VERSION, SEEK_DEFAULT_MODEL_NAME);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "chat")) return cmd_chat(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc - 2, argv + 2);
    if (!strcmp(cmd, "quantize")) return cmd_quantize(argc - 2, argv + 2);
    if (!strcmp(cmd, "perplexity")) return cmd_perplexity(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve")) return cmd_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "grow")) return cmd_grow(argc - 2, argv + 2);
    if (!strcmp(cmd, "tokenizer-train")) return cmd_tokenizer_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("seek %s\n", SEEK_VERSION);
        return 0;
    }
    fprintf(stderr, "seek: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
