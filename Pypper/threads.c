/* Pypper/threads.c: starting and joining Pypper's native threads (threads.h). After
 * pthread_join() returns, the kernel may still count the thread for a moment: the
 * joiner is woken when the thread clears its id, before the kernel unhashes it. A fork
 * in that moment would let CPython count it, so a join also waits (bounded) until
 * /proc/self/task/<tid> is gone, which the kernel removes together with the count. */
#include "threads.h"

#include "stats.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *trampoline(void *arg)
{
    pypper_thread *t = arg;
    /* Created with every signal blocked (pypper_thread_start), but not the ones a
     * fault of this thread raises: blocked, the kernel kills the process without
     * running any handler, so a crash here would leave no trace (no faulthandler
     * dump, no sanitizer report). Unblocked, they are delivered to this thread. */
    sigset_t faults;
    sigemptyset(&faults);
    static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
        sigaddset(&faults, fault_signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &faults, NULL);
    __atomic_store_n(&t->tid, gettid(), __ATOMIC_RELEASE);
    return t->main(t->arg);
}

int pypper_thread_start(pypper_thread *t, void *(*main)(void *), void *arg, const char *name)
{
    t->main = main;
    t->arg = arg;
    t->tid = 0;
    t->running = false;
    /* The thread inherits the creator's signal mask: block everything while it is
     * created, so the process's signals are never delivered to it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->thread, NULL, trampoline, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return rc;
    pthread_setname_np(t->thread, name);
    t->running = true;
    pypper_stat_add(PYPPER_STAT_WORKER_STARTED, 1);
    return 0;
}

static bool task_listed(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
    return access(path, F_OK) == 0;
}

bool pypper_thread_join(pypper_thread *t, unsigned wait_gone_ms)
{
    if (!t->running)
        return true;
    pthread_join(t->thread, NULL);
    t->running = false;
    pypper_stat_add(PYPPER_STAT_WORKER_JOINED, 1);
    pid_t tid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
    if (tid <= 0)
        return true;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (task_listed(tid)) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms >= (long long)wait_gone_ms)
            return false;
        struct timespec pause = {0, 20 * 1000};
        nanosleep(&pause, NULL);
    }
    return true;
}

long pypper_thread_count(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    char line[1024];
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name (field 2) may hold spaces: count from its closing ')'. */
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    /* Field 20 is num_threads; p points at the end of field 2. */
    for (int field = 2; field < 20 && p; field++)
        p = strchr(p + 1, ' ');
    return p ? strtol(p + 1, NULL, 10) : -1;
}
