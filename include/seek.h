/* seek: a C11 engine that runs, serves and trains DeepSeek-family language models.
 * This is the small public surface shared by the library and its tools: status codes and
 * error messages. Model, context and tokenizer handles are declared in their own headers. */
#ifndef SEEK_H
#define SEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEEK_VERSION "0.1.0"

typedef enum {
    SEEK_OK = 0,
    SEEK_ERR_IO,          /* a file could not be opened, mapped or read */
    SEEK_ERR_FORMAT,      /* a file's bytes break its format (truncated, bad magic, out of range) */
    SEEK_ERR_UNSUPPORTED, /* valid input we do not handle (architecture, tensor type) */
    SEEK_ERR_INVALID,     /* a bad argument from the caller (prompt too long, bad flag value) */
    SEEK_ERR_NOMEM,       /* an allocation failed */
    SEEK_ERR_FULL,        /* a fixed capacity is exhausted (KV cache, queue) */
} seek_status;

/* The last error message set on this thread ("" when none). */
const char *seek_last_error(void);
const char *seek_status_name(seek_status st);

#endif
