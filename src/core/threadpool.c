/* Thread pool with a generation counter for start-up and a sense-reversing barrier. Waiters
 * spin briefly, then sleep on a futex: back-to-back runs (one per token) and ops microseconds
 * apart pay no system call, while an idle pool, or more threads than cores, costs no CPU. */
#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/status.h"


struct seek_pool {
    int n;
    pthread_t *threads;
    atomic_uint generation; /* bumped by the caller to start a run */
    atomic_int gen_sleepers;
    int spins; /* how long a waiter spins before sleeping: 0 with more threads than cores */
    atomic_int n_done;      /* workers finished with the current run */
    atomic_int stop;
    seek_pool_fn fn;
    void *arg;
    /* barrier */
    atomic_int bar_count;
    atomic_uint bar_phase;
    atomic_int bar_sleepers;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Waits until *word != old: spins first (ops are microseconds apart), then sleeps on a futex so
 * that more threads than cores (or a busy machine) does not turn waiting into stolen time. */
static void wait_change(atomic_uint *word, unsigned old, atomic_int *sleepers, int max_spins) {
    for (int spins = 0; spins < max_spins; spins++) {
        if (atomic_load_explicit(word, memory_order_acquire) != old) return;
        cpu_relax();
    }
    atomic_fetch_add(sleepers, 1);
    while (atomic_load_explicit(word, memory_order_acquire) == old)
        syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
    atomic_fetch_sub(sleepers, 1);
}

void seek_pool_barrier(const seek_exec *ex) {
    seek_pool *p = ex->pool;
    if (ex->nth == 1) return;
    unsigned phase = atomic_load_explicit(&p->bar_phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == ex->nth - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->bar_phase, 1, memory_order_release);
        if (atomic_load(&p->bar_sleepers) > 0)
            syscall(SYS_futex, (unsigned *)&p->bar_phase, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
        return;
    }
    wait_change(&p->bar_phase, phase, &p->bar_sleepers, p->spins);
}

typedef struct { seek_pool *pool; int ith; } worker_arg;

static void *worker_main(void *varg) {
    worker_arg *wa = varg;
    seek_pool *p = wa->pool;
    seek_exec ex = {wa->ith, p->n, p};
    free(wa);
    unsigned seen = 0;
    for (;;) {
        wait_change(&p->generation, seen, &p->gen_sleepers, p->spins);
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load(&p->generation);
        p->fn(&ex, p->arg);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_acq_rel);
    }
}

/* Starts a new generation: workers spinning see it at once, sleeping ones are woken. */
static void bump_generation(seek_pool *p) {
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
    if (atomic_load(&p->gen_sleepers) > 0)
        syscall(SYS_futex, (unsigned *)&p->generation, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

seek_status seek_pool_init(seek_pool **out, int n_threads) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 512) return seek_errorf(SEEK_ERR_INVALID, "thread count %d is out of range (1..512)", n_threads);
    seek_pool *p = calloc(1, sizeof *p);
    if (!p) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    p->n = n_threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    p->spins = cores > 0 && n_threads > cores ? 0 : 4000;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        seek_pool_free(p);
        return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) { p->n = i; seek_pool_free(p); return seek_errorf(SEEK_ERR_NOMEM, "out of memory"); }
        wa->pool = p;
        wa->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->n = i;
            seek_pool_free(p);
            return seek_errorf(SEEK_ERR_NOMEM, "cannot start thread %d", i);
        }
    }
    *out = p;
    return SEEK_OK;
}

void seek_pool_free(seek_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    bump_generation(p);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    free(p);
}

int seek_pool_size(const seek_pool *p) { return p->n; }

void seek_pool_run(seek_pool *p, seek_pool_fn fn, void *arg) {
    seek_exec ex = {0, p->n, p};
    if (p->n == 1) {
        fn(&ex, arg);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->n_done, 0);
    bump_generation(p);
    fn(&ex, arg);
    for (long spins = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) != p->n - 1; spins++) {
        if (spins < p->spins) cpu_relax();
        else sched_yield();
    }
}

typedef struct {
    int64_t n;
    seek_range_fn fn;
    void *arg;
} range_job;

static void range_run(const seek_exec *ex, void *arg) {
    const range_job *j = arg;
    int64_t lo, hi;
    seek_split(j->n, ex->ith, ex->nth, &lo, &hi);
    if (lo < hi) j->fn(lo, hi, j->arg);
}

void seek_pool_for(seek_pool *p, int64_t n, int64_t min_n, seek_range_fn fn, void *arg) {
    if (!p || seek_pool_size(p) < 2 || n < min_n) {
        if (n > 0) fn(0, n, arg);
        return;
    }
    range_job j = {n, fn, arg};
    seek_pool_run(p, range_run, &j);
}
