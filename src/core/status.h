/* Status codes and the thread-local error message every library function leaves behind.
 * Library code never exits: it returns a seek_status and describes the problem with seek_errorf().
 * Not for logging progress (see log.h). */
#ifndef SEEK_CORE_STATUS_H
#define SEEK_CORE_STATUS_H

#include "seek.h"

/* Formats a message into the calling thread's error buffer and returns `st`, so callers write
 * `return seek_errorf(SEEK_ERR_FORMAT, "gguf: tensor '%s' ...", name);` */
seek_status seek_errorf(seek_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
