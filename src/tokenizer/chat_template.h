/* Chat templates: recognise the family of a tokenizer.chat_template (Jinja text we do not run)
 * and apply it to a list of messages. Families: ChatML (SmolLM, Qwen), DeepSeek-R1 (<think>),
 * DeepSeek-V3, DeepSeek-LLM ("User:/Assistant:"), Llama-3. Unknown templates fall back to
 * ChatML with a warning. Not for tokenizing the result. */
#ifndef SEEK_CHAT_TEMPLATE_H
#define SEEK_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    SEEK_CHAT_CHATML = 0,
    SEEK_CHAT_DEEPSEEK_R1,
    SEEK_CHAT_DEEPSEEK_V3,
    SEEK_CHAT_DEEPSEEK_LLM,
    SEEK_CHAT_LLAMA3,
} seek_chat_family;

typedef struct {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content;
} seek_chat_msg;

/* The family of a template text (NULL or "" -> ChatML; *unknown set when nothing matched). */
seek_chat_family seek_chat_detect(const char *template_text, bool *unknown);
const char *seek_chat_family_name(seek_chat_family f);

/* Renders messages with the family's format, including the BOS text where the family's template
 * writes it (bos_text may be NULL), and the assistant prefix when add_generation_prompt.
 * Returns a malloc'd NUL-terminated string (caller frees), NULL when out of memory. */
char *seek_chat_apply(seek_chat_family f, const seek_chat_msg *msgs, size_t n_msgs, bool add_generation_prompt,
                      const char *bos_text);

/* The system prompt a ChatML template writes when the conversation has none (SmolLM2: "You are a
 * helpful AI assistant named SmolLM, trained by Hugging Face"; Qwen2.5: "You are Qwen, ..."),
 * malloc'd, or NULL when the template has none. */
char *seek_chat_default_system(const char *template_text);

/* detect + default system prompt + apply: what the model's own template renders for msgs. */
char *seek_chat_render(const char *template_text, const seek_chat_msg *msgs, size_t n_msgs,
                       bool add_generation_prompt, const char *bos_text);

#endif
