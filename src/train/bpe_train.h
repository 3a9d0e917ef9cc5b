/* Byte-level BPE training (GPT-2 style): a vocabulary of the 256 bytes, the merges learned from a
 * text, and "<|endoftext|>", written as the tokenizer.ggml.* keys that seek's tokenizer and
 * llama.cpp load (model "gpt2", pre "gpt-2"). Used by `seek tokenizer-train` and by `seek train`
 * ("tokenizer": "bpe:N"). Not for encoding (tokenizer/) or SentencePiece vocabularies.
 *
 * The algorithm, as Hugging Face tokenizers' BpeTrainer runs it: the text is cut into pre-tokens
 * ("words") by the GPT-2 regex, so no merge crosses a pre-token; each step merges the most frequent
 * adjacent pair of tokens (counted over all words, times the word's frequency; overlapping pairs
 * in "aaa" merge leftmost first). A merge whose result is already a token reuses that token (so a
 * vocabulary can hold more merges than new tokens), and training stops when the vocabulary is full
 * or no pair is left.
 *
 * Token ids: 0..255 are the bytes in the order of their GPT-2 characters' code points ('!'..'~',
 * U+00A1.., then U+0100.. for the bytes GPT-2 remaps: the order of GPT-2's own vocab.json), then
 * the merged tokens in the order they were made, then "<|endoftext|>" (bos and eos) last.
 *
 * Tie rule (deterministic, and Hugging Face's): among pairs with the same count, the pair with the
 * smaller left token id wins, then the smaller right token id. Ids grow with creation order, so
 * older tokens win ties. HF numbers its special tokens first, which shifts every id by the same
 * amount and leaves this order, hence the merges, the same. */
#ifndef SEEK_TRAIN_BPE_TRAIN_H
#define SEEK_TRAIN_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "seek.h"
#include "core/threadpool.h"
#include "format/gguf_write.h"
#include "tokenizer/tokenizer.h"

#define SEEK_BPE_EOT "<|endoftext|>"
#define SEEK_BPE_PRE "gpt-2" /* tokenizer.ggml.pre: the GPT-2 split in both seek and llama.cpp */

/* Tokens (byte-level strings as GGUF stores them), merges ("a b"), the special token. */
typedef struct seek_bpe_vocab seek_bpe_vocab;

/* Called after each new token with the number made so far and the number wanted. */
typedef void (*seek_bpe_progress)(void *arg, int32_t n_done, int32_t n_total);

/* Trains on text[0..len) until the vocabulary has n_vocab entries (257 <= n_vocab <= 2^30): 256
 * byte tokens + merged tokens + "<|endoftext|>". Fewer when the text runs out of pairs first
 * (seek_bpe_vocab_size says). pool (may be NULL) runs the pre-tokenization; the result does not
 * depend on it. Empty text is SEEK_ERR_INVALID. */
seek_status seek_bpe_train(seek_bpe_vocab **out, const char *text, size_t len, int32_t n_vocab, seek_pool *pool);
/* The same over several texts (files): no pre-token spans two texts. progress may be NULL. */
seek_status seek_bpe_train_texts(seek_bpe_vocab **out, const char *const *texts, const size_t *lens, size_t n_texts,
                                 int32_t n_vocab, seek_pool *pool, seek_bpe_progress progress, void *arg);
void seek_bpe_vocab_free(seek_bpe_vocab *v);

int32_t seek_bpe_vocab_size(const seek_bpe_vocab *v);     /* tokens, the special one included */
const char *seek_bpe_vocab_token(const seek_bpe_vocab *v, int32_t id); /* GGUF text, NULL when out of range */
int32_t seek_bpe_vocab_eot(const seek_bpe_vocab *v);      /* the id of "<|endoftext|>" */
int32_t seek_bpe_vocab_n_merges(const seek_bpe_vocab *v);
/* How many tokens the training text came to after the last merge (what seek_tokenize gives). */
int64_t seek_bpe_vocab_n_text_tokens(const seek_bpe_vocab *v);
/* Merge i (0 = first learned): the pair's token ids, the token it makes, and how often the pair
 * occurred in the training text when it was merged. */
void seek_bpe_vocab_merge(const seek_bpe_vocab *v, int32_t i, int32_t *left, int32_t *right, int32_t *result,
                          int64_t *count);

/* Adds the tokenizer.ggml.* keys (model, pre, tokens, token_type, merges, bos/eos ids, add_bos
 * false) to a GGUF writer, so a model file or a tokenizer-only file carries the vocabulary.
 * Allocation failures are the writer's to report (seek_gw_write / seek_gguf_from_writer). */
void seek_bpe_write_keys(seek_gguf_writer *w, const seek_bpe_vocab *v);

/* A tokenizer for the vocabulary, built as a file reader would see it (write_keys -> in-memory
 * GGUF -> seek_tokenizer_load), for C callers that tokenize with the result right away. */
seek_status seek_bpe_vocab_tokenizer(seek_tokenizer **out, const seek_bpe_vocab *v);

#endif
