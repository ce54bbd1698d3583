/* tests/c/test_threads.c: Pypper's thread helper. A joined thread is gone from the
 * kernel's thread count (what CPython's fork() warning reads) when the join returns,
 * every time; a thread joined before a fork and started again after it leaves the
 * process with one thread at fork(), and the threads are counted; a thread's stack top
 * (its control block, TLS, rseq area) is locked in memory, and a range that cannot be
 * locked is counted, not fatal; a thread's stack is a mapping of its own, made at its
 * start and unmapped by its join (a thread started after a fork shares no page with
 * the child), and a fork while it runs leaves a working child. */
#include "check.h"
#include "stats.h"
#include "threads.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int ran;

static void *body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    return NULL;
}

static void *check_mask(void *arg)
{
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    /* The process's signals are blocked, the ones its own faults raise are not (else
     * a crash here would kill the process with no handler run, no report). */
    *(int *)arg = sigismember(&mask, SIGINT) && sigismember(&mask, SIGTERM)
                  && sigismember(&mask, SIGRTMIN) && !sigismember(&mask, SIGSEGV)
                  && !sigismember(&mask, SIGBUS) && !sigismember(&mask, SIGFPE)
                  && !sigismember(&mask, SIGILL);
    return NULL;
}

static void test_join_leaves_one_thread(void)
{
    CHECK(pypper_thread_count() == 1);
    pypper_thread t = {0};
    CHECK(pypper_thread_join(&t, 10));          /* never started: nothing to do */
    int gone = 0;
    for (int i = 0; i < 300; i++) {
        CHECK(pypper_thread_start(&t, body, NULL, "pypper-test") == 0);
        CHECK(t.running);
        gone += pypper_thread_join(&t, 1000) && pypper_thread_count() == 1;
        CHECK(!t.running);
    }
    CHECK(gone == 300);
    CHECK(atomic_load(&ran) == 300);
}

static void test_signals_blocked(void)
{
    int blocked = 0;
    pypper_thread t = {0};
    CHECK(pypper_thread_start(&t, check_mask, &blocked, "pypper-test") == 0);
    CHECK(pypper_thread_join(&t, 1000));
    CHECK(blocked == 1);
    sigset_t mine;                               /* the caller's mask is unchanged */
    pthread_sigmask(SIG_SETMASK, NULL, &mine);
    CHECK(!sigismember(&mine, SIGINT));
}

/* Locked kB of the process (VmLck), -1 when unknown. */
static long locked_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmLck:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static void *report_locked(void *arg)
{
    *(long *)arg = locked_kb();
    return NULL;
}

static void test_stack_top_pinned(void)
{
    long inside = -1, before = locked_kb();
    uint64_t failures = pypper_stat_get(PYPPER_STAT_PIN_FAILURES);
    pypper_thread t = {0};
    CHECK(pypper_thread_start(&t, report_locked, &inside, "pypper-test") == 0);
    CHECK(pypper_thread_join(&t, 1000));
    if (pypper_stat_get(PYPPER_STAT_PIN_FAILURES) == failures) {
        CHECK(inside >= 32);    /* its stack top is locked (nothing else here locks any) */
        /* The join unmapped the stack (and its lock); the pinned section stays
         * locked. */
        CHECK(locked_kb() < inside && locked_kb() >= before);
    }
    /* A range that is not mapped cannot be locked: false and counted. */
    long page = sysconf(_SC_PAGESIZE);
    char *gone = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(gone != MAP_FAILED);
    munmap(gone, (size_t)page);
    failures = pypper_stat_get(PYPPER_STAT_PIN_FAILURES);
    CHECK(!pypper_pin_memory(gone, 8));
    CHECK(pypper_stat_get(PYPPER_STAT_PIN_FAILURES) == failures + 1);
}

/* A thread that waits until told to return, as the session's threads do. */
static atomic_bool quit;

static void *waiter(void *arg)
{
    (void)arg;
    struct timespec pause = {0, 100 * 1000};
    while (!atomic_load(&quit))
        nanosleep(&pause, NULL);
    return NULL;
}

/* Joined before each fork and started again after it, as the session's threads are:
 * the process forks with one thread, and the counters of threads started and joined
 * agree once it is joined for good. */
static void test_thread_around_fork(void)
{
    pypper_thread t = {0};
    uint64_t started = pypper_stat_get(PYPPER_STAT_WORKER_STARTED);
    uint64_t joined = pypper_stat_get(PYPPER_STAT_WORKER_JOINED);
    atomic_store(&quit, false);
    CHECK(pypper_thread_start(&t, waiter, NULL, "pypper-test") == 0);
    for (int i = 0; i < 50; i++) {
        CHECK(pypper_thread_count() == 2);
        atomic_store(&quit, true);
        pypper_thread_join(&t, PYPPER_FORK_GONE_MS);
        long at_fork = pypper_thread_count();
        pid_t pid = fork();
        if (pid == 0)
            _exit(pypper_thread_count() == 1 ? 0 : 1);
        atomic_store(&quit, false);
        CHECK(pypper_thread_start(&t, waiter, NULL, "pypper-test") == 0);
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
              && WEXITSTATUS(status) == 0);
        CHECK(at_fork == 1);
    }
    atomic_store(&quit, true);
    /* Gone from the kernel's count a moment after the join: waited for, bounded (a
     * join without the wait failed once in about 20 runs here). */
    CHECK(pypper_thread_join(&t, PYPPER_FORK_GONE_MS));
    CHECK(pypper_thread_count() == 1);
    CHECK(pypper_stat_get(PYPPER_STAT_WORKER_STARTED) == started + 51);
    CHECK(pypper_stat_get(PYPPER_STAT_WORKER_JOINED) == joined + 51);
}

static void *report_stack(void *arg)
{
    volatile char here = 0;
    *(uintptr_t *)arg = (uintptr_t)&here;
    while (!atomic_load(&quit)) {
        struct timespec pause = {0, 100 * 1000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static bool mapped(uintptr_t addr)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char vec;
    return mincore((void *)(addr & ~(uintptr_t)(page - 1)), (size_t)page, &vec) == 0;
}

static void test_own_stack(void)
{
    pypper_thread t = {0};
    _Atomic uintptr_t where = 0;
    atomic_store(&quit, false);
    CHECK(pypper_thread_start(&t, report_stack, (void *)&where, "pypper-test") == 0);
    for (int i = 0; i < 10000 && !atomic_load(&where); i++) {
        struct timespec pause = {0, 100 * 1000};
        nanosleep(&pause, NULL);
    }
    uintptr_t stack = atomic_load(&where);
    CHECK(stack != 0 && t.stack != NULL);
    CHECK(stack > (uintptr_t)t.stack && stack < (uintptr_t)t.stack + t.stack_size);
    CHECK(mapped(stack));
    /* A C-level fork with the thread running: glibc's child writes into the thread's
     * control block (in that stack), which must be there. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(mapped(stack) ? 0 : 1);
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
          && WEXITSTATUS(status) == 0);
    atomic_store(&quit, true);
    CHECK(pypper_thread_join(&t, PYPPER_FORK_GONE_MS));
    CHECK(t.stack == NULL && !mapped(stack));
}

int main(void)
{
    test_join_leaves_one_thread();
    test_signals_blocked();
    test_stack_top_pinned();
    test_thread_around_fork();
    test_own_stack();
    return check_report("test_threads");
}
