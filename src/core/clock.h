/* Seconds on the monotonic clock, for timings (per-op times, latencies, benchmarks), and
 * deadlines for timed waits. */
#ifndef SEEK_CORE_CLOCK_H
#define SEEK_CORE_CLOCK_H

#include <time.h>

static inline double seek_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The wall-clock time ms milliseconds from now: a deadline for pthread_cond_timedwait. */
static inline struct timespec seek_deadline_ms(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += ms % 1000 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    return ts;
}

#endif
