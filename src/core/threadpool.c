/* Thread pool with a generation counter for start-up and a sense-reversing barrier. Workers
 * spin briefly before sleeping on a condition variable, so back-to-back runs (one per token)
 * don't pay a futex wake each, while an idle pool costs no CPU. */
#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/status.h"

#define SPIN_BEFORE_SLEEP 200000

struct seek_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint generation; /* bumped by the caller to start a run */
    atomic_int n_done;      /* workers finished with the current run */
    atomic_int stop;
    seek_pool_fn fn;
    void *arg;
    /* barrier */
    atomic_int bar_count;
    atomic_uint bar_phase;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void seek_pool_barrier(const seek_exec *ex) {
    seek_pool *p = ex->pool;
    if (ex->nth == 1) return;
    unsigned phase = atomic_load_explicit(&p->bar_phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == ex->nth - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->bar_phase, 1, memory_order_release);
        return;
    }
    for (long spins = 0; atomic_load_explicit(&p->bar_phase, memory_order_acquire) == phase; spins++) {
        if (spins < 100000) cpu_relax();
        else sched_yield();
    }
}

typedef struct { seek_pool *pool; int ith; } worker_arg;

static void *worker_main(void *varg) {
    worker_arg *wa = varg;
    seek_pool *p = wa->pool;
    seek_exec ex = {wa->ith, p->n, p};
    free(wa);
    unsigned seen = 0;
    for (;;) {
        long spins = 0;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_acquire)) {
            if (++spins < SPIN_BEFORE_SLEEP) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load(&p->generation);
        p->fn(&ex, p->arg);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_acq_rel);
    }
}

seek_status seek_pool_init(seek_pool **out, int n_threads) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 512) return seek_errorf(SEEK_ERR_INVALID, "thread count %d is out of range (1..512)", n_threads);
    seek_pool *p = calloc(1, sizeof *p);
    if (!p) return seek_errorf(SEEK_ERR_NOMEM, "out of memory");
    p->n = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
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
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
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
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(&ex, arg);
    for (long spins = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) != p->n - 1; spins++) {
        if (spins < 100000) cpu_relax();
        else sched_yield();
    }
}
