/* Pypper/threads.h: Pypper's own native threads (sampler, migration). Each is
 * started with every signal blocked and a name, counted (worker_threads_started and
 * _joined in pypper.stats()), and records its kernel thread id, so
 * that a join can wait until the kernel no longer counts the thread: CPython 3.12's
 * os.fork() warns when /proc/self/stat counts more than one thread, and Pypper's
 * threads are joined before a fork and started again after it (the program must not
 * see them). Process-wide; no Python. */
#ifndef PYPPER_THREADS_H
#define PYPPER_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    pthread_t thread;
    void *(*main)(void *);
    void *arg;
    pid_t tid;              /* the kernel's id, set by the thread itself; 0 before */
    bool running;           /* started and not joined yet */
    uintptr_t pin_lo, pin_hi;       /* its stack top, pinned by the starter */
    void *stack;                    /* its stack's own mapping (threads.c), or NULL */
    size_t stack_size;
    pthread_mutex_t started_mu;     /* the thread waits until it is pinned */
    pthread_cond_t started_cv;
    bool started;
} pypper_thread;

/* How long a join before a fork waits for the kernel to stop counting the thread. */
#define PYPPER_FORK_GONE_MS 200

/* Static data that Pypper's threads wait on (mutexes, condition variables: the kernel
 * reads their futex words from kernel mode, threads.c says why they must not be
 * swapped out) goes in one section, which each thread locks in memory as it starts. */
#define PYPPER_PINNED __attribute__((section("pypper_pinned")))

/* Keep [p, p + len) in memory (mlock; each thread does it for the PYPPER_PINNED
 * section as it starts, its starter for its stack top). Returns whether it could; a failure
 * (RLIMIT_MEMLOCK) is counted in pypper.stats() as pin_failures. */
bool pypper_pin_memory(const void *p, size_t len);

/* Start t running main(arg) under `name` (at most 15 characters), with every signal
 * blocked but the fault signals; the top of its stack (its control block, TLS and rseq
 * area) is locked in memory before it runs main (by the caller, threads.c says why),
 * and the thread locks the PYPPER_PINNED section; the join unlocks the stack. Returns 0, or the error number of pthread_create (t is left not running). */
int pypper_thread_start(pypper_thread *t, void *(*main)(void *), void *arg, const char *name);
/* Join t (the caller has asked it to return) and wait until the kernel has removed
 * it from the process's thread count, at most wait_gone_ms. Returns whether it is
 * gone from the count (true also when /proc cannot tell). No-op when t is not running. */
bool pypper_thread_join(pypper_thread *t, unsigned wait_gone_ms);
/* Threads of this process as the kernel counts them (/proc/self/stat), or -1. */
long pypper_thread_count(void);
/* Initialize cv for timed waits on CLOCK_MONOTONIC (a wall-clock step does not move
 * Pypper's deadlines). */
void pypper_cond_init_monotonic(pthread_cond_t *cv);

#endif
