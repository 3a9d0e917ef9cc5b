/* Pre-tokenizer splits for byte-level BPE vocabularies: the regex sequence named by
 * tokenizer.ggml.pre, run with PCRE2 the way Hugging Face `tokenizers` runs Split(Isolated)
 * pre-tokenizers one after another. Not for special tokens (tokenizer.c) or merging (bpe.c). */
#ifndef SEEK_TOKENIZER_PRETOK_H
#define SEEK_TOKENIZER_PRETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seek.h"

typedef struct tok_pretok tok_pretok;

/* Compiles the splits for `name` (NULL or unknown -> "gpt2", with *known = false).
 * *ignore_merges is set for vocabularies whose BPE takes a whole word found in the vocabulary
 * without merging (Llama-3's tokenizer.json "ignore_merges": true). */
seek_status tok_pretok_init(tok_pretok **out, const char *name, bool *known, bool *ignore_merges);
void tok_pretok_free(tok_pretok *p);
const char *tok_pretok_name(const tok_pretok *p); /* the canonical name of the split used */

/* One span of the input: text + off, len bytes. */
typedef struct {
    size_t off, len;
} tok_span;

/* Splits text[0..len) into pieces that together cover it in order. Invalid UTF-8 never matches
 * a split regex: each maximal run of invalid bytes is its own piece, and the valid stretches
 * between them are split independently (as if each were a separate input).
 * *spans is malloc'd (caller frees), *n_spans its length. */
seek_status tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_span **spans, size_t *n_spans);

/* The length of the valid UTF-8 sequence starting at s[0] (1-4), or 0 when s[0..n) does not
 * start with one (bad lead byte, bad continuation, overlong, surrogate, > U+10FFFF, truncated). */
size_t tok_utf8_valid_len(const unsigned char *s, size_t n);

#endif
