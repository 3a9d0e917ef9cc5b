/* Chat template tests: family detection and rendering against what Hugging Face transformers'
 * apply_chat_template renders (tests/fixtures/chat/expected.txt, made by
 * tests/ref/gen_chat_fixtures.py) for SmolLM2, Qwen2.5, plain ChatML, DeepSeek-R1, DeepSeek-V3,
 * DeepSeek-LLM and Llama-3 templates; default system prompts; unknown templates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer/chat_template.h"

#ifndef SEEK_SOURCE_DIR
#define SEEK_SOURCE_DIR "."
#endif

enum { MAX_TEMPLATES = 16, MAX_MSGS = 16 };

typedef struct {
    char name[64];
    char family[64];
    char *text;
} tmpl;

static char *read_all(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s", rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(path, sizeof path, "%s/%s", SEEK_SOURCE_DIR, rel);
        f = fopen(path, "rb");
    }
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p) p[n] = '\0';
    fclose(f);
    return p;
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10; }

/* Decodes a hex word (ending at space, newline or NUL) into a malloc'd NUL-terminated string. */
static char *unhex(const char *s) {
    size_t n = strcspn(s, " \n");
    char *out = malloc(n / 2 + 1);
    for (size_t i = 0; i + 1 < n; i += 2) out[i / 2] = (char)(hexval(s[i]) * 16 + hexval(s[i + 1]));
    out[n / 2] = '\0';
    return out;
}

/* The n-th space-separated word of line (0-based). */
static const char *word(const char *line, int n) {
    for (int i = 0; i < n; i++) {
        line = strchr(line, ' ');
        if (!line) return "";
        line++;
    }
    return line;
}

static void print_diff(const char *want, const char *got) {
    size_t i = 0;
    while (want[i] && want[i] == got[i]) i++;
    fprintf(stderr, "  first difference at byte %zu\n  want: %s\n  got:  %s\n", i, want, got);
}

static void test_fixtures(void) {
    char *file = read_all("tests/fixtures/chat/expected.txt");
    CHECK(file != NULL, "tests/fixtures/chat/expected.txt is missing");
    if (!file) return;
    tmpl t[MAX_TEMPLATES];
    int n_t = 0, n_cases = 0, n_bad = 0;
    char *line = file;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (strncmp(line, "template ", 9) == 0 && n_t < MAX_TEMPLATES) {
            sscanf(line, "template %63s %63s", t[n_t].name, t[n_t].family);
            t[n_t].text = unhex(word(line, 3));
            bool unknown = true;
            seek_chat_family f = seek_chat_detect(t[n_t].text, &unknown);
            CHECK(!unknown && strcmp(seek_chat_family_name(f), t[n_t].family) == 0, "template %s detected as %s, want %s",
                  t[n_t].name, seek_chat_family_name(f), t[n_t].family);
            n_t++;
        } else if (strncmp(line, "case ", 5) == 0) {
            char name[64];
            int gen = 0, n_msgs = 0;
            sscanf(line, "case %63s %d", name, &gen);
            char *bos = unhex(word(line, 3));
            n_msgs = atoi(word(line, 4));
            seek_chat_msg msgs[MAX_MSGS];
            char *owned[2 * MAX_MSGS];
            int n_owned = 0;
            for (int i = 0; i < n_msgs && i < MAX_MSGS && nl; i++) {
                line = nl + 1;
                nl = strchr(line, '\n');
                if (nl) *nl = '\0';
                char role[32] = "";
                sscanf(line, "msg %31s", role);
                msgs[i].role = owned[n_owned++] = strdup(role);
                msgs[i].content = owned[n_owned++] = unhex(word(line, 2));
            }
            line = nl ? nl + 1 : NULL;
            nl = line ? strchr(line, '\n') : NULL;
            if (nl) *nl = '\0';
            char *want = line && strncmp(line, "expect ", 7) == 0 ? unhex(line + 7) : NULL;
            const tmpl *tp = NULL;
            for (int i = 0; i < n_t; i++) {
                if (strcmp(t[i].name, name) == 0) tp = &t[i];
            }
            CHECK(want && tp, "bad case record for %s", name);
            if (want && tp) {
                char *got = seek_chat_render(tp->text, msgs, (size_t)n_msgs, gen != 0, bos[0] ? bos : NULL);
                n_cases++;
                if (!got || strcmp(got, want) != 0) {
                    if (++n_bad <= 5) {
                        fprintf(stderr, "chat %s (gen=%d, %d messages) differs from HF\n", name, gen, n_msgs);
                        print_diff(want, got ? got : "(null)");
                    }
                }
                free(got);
            }
            free(want);
            free(bos);
            for (int i = 0; i < n_owned; i++) free(owned[i]);
        }
        line = nl ? nl + 1 : NULL;
    }
    CHECK(n_t == 7, "%d templates in the fixture", n_t);
    CHECK(n_cases >= 100, "%d cases in the fixture", n_cases);
    CHECK(n_bad == 0, "%d of %d rendered conversations differ from HF", n_bad, n_cases);
    printf("chat templates: %d templates, %d conversations checked against HF (%d mismatches)\n", n_t, n_cases, n_bad);

    /* default system prompts, read from the template text */
    for (int i = 0; i < n_t; i++) {
        char *sys = seek_chat_default_system(t[i].text);
        if (strcmp(t[i].name, "smollm2") == 0) {
            CHECK(sys && strcmp(sys, "You are a helpful AI assistant named SmolLM, trained by Hugging Face") == 0,
                  "smollm2 default system: %s", sys ? sys : "(none)");
        } else if (strcmp(t[i].name, "qwen2.5") == 0) {
            CHECK(sys && strcmp(sys, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.") == 0,
                  "qwen2.5 default system: %s", sys ? sys : "(none)");
        } else {
            CHECK(sys == NULL, "%s has no default system prompt, got %s", t[i].name, sys);
        }
        free(sys);
        free(t[i].text);
    }
    free(file);
}

static void test_detect_edges(void) {
    bool unknown = true;
    CHECK(seek_chat_detect(NULL, &unknown) == SEEK_CHAT_CHATML && !unknown, "NULL -> ChatML");
    CHECK(seek_chat_detect("", &unknown) == SEEK_CHAT_CHATML && !unknown, "empty -> ChatML");
    CHECK(seek_chat_detect("{{ messages }} [INST]", &unknown) == SEEK_CHAT_CHATML && unknown, "unknown -> ChatML");
    CHECK(seek_chat_detect("{{'<｜User｜>' + m}}{{'<｜Assistant｜>'}}", &unknown) == SEEK_CHAT_DEEPSEEK_V3 && !unknown,
          "V3 without </think>");
    /* R1-distill-Qwen ships ChatML tokens too: the DeepSeek markers win */
    CHECK(seek_chat_detect("<|im_start|> <｜Assistant｜> </think>", NULL) == SEEK_CHAT_DEEPSEEK_R1, "R1 wins");
    CHECK(strcmp(seek_chat_family_name(SEEK_CHAT_LLAMA3), "llama3") == 0, "family name");
}

static void test_apply_direct(void) {
    seek_chat_msg msgs[] = {{"system", "S"}, {"user", "U"}, {"assistant", "<think>r</think>A"}};
    char *s = seek_chat_apply(SEEK_CHAT_CHATML, msgs, 3, true, NULL);
    CHECK(s && strcmp(s, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
                         "<think>r</think>A<|im_end|>\n<|im_start|>assistant\n") == 0,
          "chatml: %s", s);
    free(s);
    s = seek_chat_apply(SEEK_CHAT_DEEPSEEK_R1, msgs, 3, true, "<BOS>");
    CHECK(s && strcmp(s, "<BOS>S<｜User｜>U<｜Assistant｜>A<｜end▁of▁sentence｜><｜Assistant｜><think>\n") == 0, "r1: %s", s);
    free(s);
    s = seek_chat_apply(SEEK_CHAT_DEEPSEEK_LLM, msgs + 1, 1, true, NULL);
    CHECK(s && strcmp(s, "User: U\n\nAssistant:") == 0, "deepseek-llm without bos: %s", s);
    free(s);
    s = seek_chat_apply(SEEK_CHAT_LLAMA3, NULL, 0, false, "<B>");
    CHECK(s && strcmp(s, "") == 0, "no messages, no prompt: empty string");
    free(s);
}

int main(void) {
    test_fixtures();
    test_detect_edges();
    test_apply_direct();
    return check_summary("test_chat_template");
}
