/* Thread-local error messages behind seek_errorf() / seek_last_error(). */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char error_buf[1024];

seek_status seek_errorf(seek_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return st;
}

const char *seek_last_error(void) { return error_buf; }

const char *seek_status_name(seek_status st) {
    switch (st) {
    case SEEK_OK: return "ok";
    case SEEK_ERR_IO: return "i/o error";
    case SEEK_ERR_FORMAT: return "format error";
    case SEEK_ERR_UNSUPPORTED: return "unsupported";
    case SEEK_ERR_INVALID: return "invalid argument";
    case SEEK_ERR_NOMEM: return "out of memory";
    case SEEK_ERR_FULL: return "capacity exhausted";
    }
    return "unknown status";
}
