/* One thread pool owned by the caller (DESIGN decision 6). seek_pool_run() runs fn on every
 * thread (the caller is thread 0) and returns when all are done; inside fn, seek_pool_barrier()
 * separates ops, so a whole forward pass costs one wake-up and a spin barrier per op.
 * Not for task queues or the server's request threads. */
#ifndef SEEK_CORE_THREADPOOL_H
#define SEEK_CORE_THREADPOOL_H

#include "seek.h"

typedef struct seek_pool seek_pool;

/* What each thread of a run knows about itself. */
typedef struct {
    int ith, nth;
    seek_pool *pool;
} seek_exec;

typedef void (*seek_pool_fn)(const seek_exec *ex, void *arg);

seek_status seek_pool_init(seek_pool **out, int n_threads);
void seek_pool_free(seek_pool *p);
int seek_pool_size(const seek_pool *p);
void seek_pool_run(seek_pool *p, seek_pool_fn fn, void *arg);
/* All threads of the current run wait here for each other. */
void seek_pool_barrier(const seek_exec *ex);

/* Runs fn over [0, n) split in one contiguous range per thread (the caller's thread alone when
 * pool is NULL or n < min_n), for element-wise work whose result does not depend on the split. */
typedef void (*seek_range_fn)(int64_t lo, int64_t hi, void *arg);
void seek_pool_for(seek_pool *p, int64_t n, int64_t min_n, seek_range_fn fn, void *arg);

/* The half-open range [*lo, *hi) of n items that thread ith of nth takes. */
static inline void seek_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = (n + nth - 1) / nth;
    *lo = per * ith < n ? per * ith : n;
    *hi = *lo + per < n ? *lo + per : n;
}

#endif
