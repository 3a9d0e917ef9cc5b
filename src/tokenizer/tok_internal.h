/* The tokenizer's private state, shared by tokenizer.c (loading, special tokens, decoding),
 * bpe.c (byte-level BPE) and spm.c (SentencePiece-style BPE). Not part of the public API. */
#ifndef SEEK_TOKENIZER_TOK_INTERNAL_H
#define SEEK_TOKENIZER_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seek.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tok_hash.h"
#include "tokenizer/tokenizer.h"

/* tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
enum {
    TOK_TYPE_UNDEFINED = 0,
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6,
};

typedef enum { TOK_KIND_BPE, TOK_KIND_SPM } tok_kind;

/* Token texts that can appear in raw text, sorted bytewise for a longest-prefix search. */
typedef struct {
    int32_t *ids;        /* (n) sorted by text */
    size_t n;
    bool first_byte[256]; /* some entry starts with this byte */
} tok_special_set;

struct seek_tokenizer {
    tok_kind kind;
    int32_t n_vocab;

    char *text;          /* all vocab entries, each NUL-terminated */
    size_t *text_off;    /* (n_vocab) */
    uint32_t *text_len;  /* (n_vocab) */
    char *piece;         /* the bytes each token decodes to (byte-level unmapped, "▁" -> " ", <0xXX>) */
    size_t *piece_off;   /* (n_vocab) */
    uint32_t *piece_len; /* (n_vocab) */
    uint8_t *type;       /* (n_vocab) TOK_TYPE_* */
    float *score;        /* (n_vocab) SentencePiece scores; NULL for BPE */
    bool *eog;           /* (n_vocab) ends a generation */
    tok_strmap vocab;    /* text -> id */

    /* byte-level BPE */
    tok_pairmap merges;  /* (left, right) -> (rank, merged id) */
    int32_t byte_id[256]; /* the token of each byte's GPT-2 unicode character, -1 if none */
    tok_pretok *pretok;
    bool ignore_merges;
    bool nfc;            /* normalize text to NFC before splitting (Qwen2's tokenizer.json) */

    /* SentencePiece */
    int32_t byte_token[256]; /* <0xXX> tokens, -1 if none */
    bool add_space_prefix;

    tok_special_set special_all;  /* control + unknown + user-defined (parse_special) */
    tok_special_set special_user; /* user-defined only: matched even without parse_special */

    int32_t bos, eos, unk, eot, eom, pad;
    bool add_bos, add_eos;
};

/* Where encoded ids go: writes up to max, counts all. */
typedef struct {
    int32_t *ids;
    int64_t max;
    int64_t n;
} tok_sink;

static inline void tok_sink_push(tok_sink *s, int32_t id) {
    if (s->n < s->max) s->ids[s->n] = id;
    s->n++;
}

/* Encodes one stretch of plain text (no special tokens in it) with the BPE / SPM model.
 * `first` is true for the first stretch of the input or one that follows a special token
 * (SentencePiece adds its space prefix there). */
seek_status tok_bpe_encode(const seek_tokenizer *t, const char *text, size_t len, tok_sink *out);
seek_status tok_spm_encode(const seek_tokenizer *t, const char *text, size_t len, bool first, tok_sink *out);

/* GPT-2's bytes_to_unicode: the code point byte b is written as in byte-level vocabularies. */
uint32_t tok_byte_to_cp(uint8_t b);
/* The inverse: the byte for code point cp, or -1 when cp is not one of the 256. */
int tok_cp_to_byte(uint32_t cp);

#endif
