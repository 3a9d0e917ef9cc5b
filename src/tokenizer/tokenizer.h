/* Tokenizers read from GGUF metadata: byte-level BPE (tokenizer.ggml.model = "gpt2") with the
 * pre-tokenizer splits named by tokenizer.ggml.pre, and SentencePiece-style BPE ("llama") with
 * byte fallback. Special (control / user-defined) tokens are recognised in text when asked.
 * Not for chat templates (chat_template.h) or sampling. */
#ifndef SEEK_TOKENIZER_H
#define SEEK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seek.h"
#include "format/gguf.h"

typedef struct seek_tokenizer seek_tokenizer;

/* Builds a tokenizer from the GGUF's tokenizer.ggml.* keys. Unknown pre-tokenizer names fall back
 * to the gpt2 split with a warning on stderr; an unknown model type is SEEK_ERR_UNSUPPORTED. */
seek_status seek_tokenizer_load(seek_tokenizer **out, const seek_gguf *g);
void seek_tokenizer_free(seek_tokenizer *tok);

/* Encodes len bytes of text. add_special: prepend BOS (and append EOS) as the metadata's
 * add_bos_token / add_eos_token say. parse_special: text like "<|im_start|>" becomes its special
 * token; otherwise it is tokenized as plain text. Writes at most max_ids ids and returns the
 * total count (which may exceed max_ids: call again with a larger buffer), or -1 on error. */
int64_t seek_tokenize(const seek_tokenizer *tok, const char *text, size_t len, bool add_special,
                      bool parse_special, int32_t *ids, int64_t max_ids);

/* seek_tokenize into a buffer it allocates (*ids, free() it; *n ids). Errors: out of memory, a
 * text the tokenizer rejects (its message is left). */
seek_status seek_tokenize_all(const seek_tokenizer *tok, const char *text, size_t len, bool add_special, bool parse_special,
                              int32_t **ids, int64_t *n);

/* The bytes of token `id` as text (byte-level tokens mapped back to raw bytes, SentencePiece
 * "▁" to space, <0xXX> byte tokens to their byte). Control tokens give "" unless render_special.
 * Writes at most n bytes (no NUL) and returns the full length, or -1 for an invalid id. */
int32_t seek_token_to_piece(const seek_tokenizer *tok, int32_t id, char *buf, int32_t n, bool render_special);

/* Decodes a whole id sequence into buf (no NUL). Returns the full length. SentencePiece vocabs
 * with a space prefix drop the leading space of the first piece (as HF does). */
int64_t seek_detokenize(const seek_tokenizer *tok, const int32_t *ids, int64_t n_ids, char *buf, int64_t n,
                        bool render_special);

int32_t seek_tokenizer_n_vocab(const seek_tokenizer *tok);
int32_t seek_tokenizer_bos(const seek_tokenizer *tok); /* -1 when none */
int32_t seek_tokenizer_eos(const seek_tokenizer *tok);
/* Whether seek_tokenize(add_special) prepends BOS / appends EOS. */
bool seek_tokenizer_add_bos(const seek_tokenizer *tok);
bool seek_tokenizer_add_eos(const seek_tokenizer *tok);
/* True for tokens that end a generation (eos, eot, <|im_end|>, <｜end▁of▁sentence｜>, ...). */
bool seek_tokenizer_is_eog(const seek_tokenizer *tok, int32_t id);
/* The id of a token with exactly this text, or -1. */
int32_t seek_tokenizer_find(const seek_tokenizer *tok, const char *text);
const char *seek_tokenizer_text(const seek_tokenizer *tok, int32_t id); /* raw vocab entry */

/* Streaming UTF-8: the length of the longest prefix of buf[0..n) that does not end inside an
 * incomplete multi-byte sequence (invalid bytes count as complete, so they are never held back
 * for more than 3 bytes). */
size_t seek_utf8_complete_prefix(const char *buf, size_t n);

#endif
