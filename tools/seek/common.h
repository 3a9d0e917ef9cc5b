/* Shared by the seek subcommands: option parsing with llama.cpp's flag names, loading the model
 * (the default one when -m is absent), generation with streamed UTF-8 output, and stats.
 * Argument parsing and printing only: the work happens in libseek. */
#ifndef SEEK_TOOLS_COMMON_H
#define SEEK_TOOLS_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "model/model.h"
#include "runtime/context.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizer/reasoning.h"

typedef struct {
    const char *model;       /* -m */
    const char *prompt;      /* -p */
    const char *prompt_file; /* -f */
    const char *system;      /* -s */
    int32_t n_predict;       /* -n (-1: until end of generation or context) */
    int32_t n_threads;       /* -t */
    int32_t n_ctx;           /* -c */
    int32_t n_batch;         /* -b */
    bool chat;               /* --chat */
    bool verbose;            /* --verbose */
    bool precise;            /* --precise: fp32 activations in every matmul */
    seek_dtype cache_k, cache_v; /* -ctk / -ctv: KV cache storage (default f16, as llama.cpp) */
    bool hide_reasoning;     /* --hide-reasoning: print only the answer after </think> */
    seek_sampler_params sp;
    bool seed_set;
    /* bench */
    int32_t n_prompt_bench, n_gen_bench, reps;
    int32_t n_parallel; /* bench: sequences decoding together (tg N x np), 0: none */
    int32_t n_depth;    /* bench -d: tokens in the cache before each test (llama-bench's -d) */
    bool json;
    const char *positional;  /* first positional argument (seek info MODEL) */
} seek_opts;

/* Parses argv (after the subcommand). Prints a message and returns false on a bad flag. */
bool opts_parse(seek_opts *o, int argc, char **argv, const char *cmd);
/* Loads -m (or the default model), printing a clear error on failure. */
seek_model *opts_load_model(const seek_opts *o);
seek_context *opts_new_context(const seek_opts *o, const seek_model *m);
/* -ctk / -ctv values: f16 or f32; false (with a message) otherwise */
bool parse_cache_type(const char *flag, const char *v, seek_dtype *out);
seek_context *opts_new_context_seqs(const seek_opts *o, const seek_model *m, int32_t n_seq);

double now_seconds(void);
/* Resident memory now and at its peak, in MiB (from /proc/self/status). */
void mem_rss_mib(double *now, double *peak);

/* Tokenizes text (parse_special on), returning a malloc'd array and its count; NULL on error. */
int32_t *tokenize_alloc(const seek_model *m, const char *text, bool add_special, int32_t *n);

/* Sets r up to show generated text on out: reasoning hidden with --hide-reasoning, dimmed when out
 * is a terminal (and NO_COLOR is unset), raw (tags included) otherwise. think_open: the prompt was
 * rendered with a template whose generation prompt opens <think> (DeepSeek-R1), so the output
 * starts inside the reasoning. */
void reasoning_init_file(seek_reasoning *r, const seek_opts *o, bool think_open, FILE *out);
/* Whether the prompt rendered for m (with --chat / seek chat) ends inside an open <think>. */
bool chat_opens_think(const seek_model *m);

/* Streams token pieces to out (through the reasoning filter), holding back incomplete UTF-8
 * sequences; capture (if given) gets the text unfiltered. */
typedef struct {
    char buf[64];
    size_t n;
} utf8_stream;
void utf8_stream_put(utf8_stream *u, const char *piece, size_t len, seek_reasoning *out, char *capture, size_t *cap_len,
                     size_t cap_size);
void utf8_stream_flush(utf8_stream *u, seek_reasoning *out, char *capture, size_t *cap_len, size_t cap_size);

/* Generates up to n_predict tokens after the session's current logits, streaming text to out (may
 * be NULL; flushed at the end) and appending the raw text, reasoning included, to capture (if
 * given). Returns the number generated, -1 on error. */
int32_t generate(seek_session *s, seek_sampler *smp, int32_t n_predict, seek_reasoning *out, char *capture,
                 size_t cap_size, double *t_gen);

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_tokenizer_train(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_grow(int argc, char **argv);

#endif
