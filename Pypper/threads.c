/* Pypper/threads.c: starting and joining Pypper's native threads (threads.h), and
 * keeping in memory what the kernel reads or writes for them (pinning).
 *
 * Each thread runs on a stack mapped for it at its start and unmapped at its join.
 * Threads are joined before each fork and started again after it: on glibc's cached
 * stacks, the restarted threads wrote (and pinned) pages the parent then shared with
 * its child, each a copy-on-write fault, and the section of wait words was pinned
 * again by each thread at each start, which breaks copy-on-write on all of it too. A
 * fork loop (fork, the child exits at once) took 1.1 ms of the parent's CPU per fork
 * in the restarts, 2026-12-06 (this VM's faults that copy cost about 100 us each); a
 * stack mapped after the fork is the parent's alone. (Not MADV_DONTFORK: glibc's fork
 * child unlinks the forking thread from the list of threads on stacks of their own,
 * writing into its neighbours' control blocks, which live in those stacks: a C-level
 * fork while a thread runs crashed the child.) After
 * pthread_join() returns, the kernel may still count the thread for a moment: the
 * joiner is woken when the thread clears its id, before the kernel unhashes it. A fork
 * in that moment would let CPython count it, so a join also waits (bounded) until
 * /proc/self/task/<tid> is gone, which the kernel removes together with the count. */
#include "threads.h"

#include "clock.h"
#include "stats.h"
#include "code_size.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The top of each thread's stack that stays in memory: the thread control block and
 * static TLS (glibc keeps them at the top of the stack block, the rseq area among
 * them) and the frames Pypper's threads use, which stay shallow. */
#define PIN_STACK_BYTES ((uintptr_t)32 << 10)

/* The words Pypper's threads wait on (PYPPER_PINNED); weak: a program without any. */
extern char __start_pypper_pinned[] __attribute__((weak, visibility("hidden")));
extern char __stop_pypper_pinned[] __attribute__((weak, visibility("hidden")));

/* The system calls themselves: a sanitizer's mlock interceptor does nothing. */
static int lock_pages(uintptr_t lo, uintptr_t hi, bool lock)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    lo &= ~(page - 1);
    hi = (hi + page - 1) & ~(page - 1);
    if (hi <= lo)
        return -1;
    return (int)syscall(lock ? SYS_mlock : SYS_munlock, (void *)lo, (size_t)(hi - lo));
}

/* The stack size a thread would get from glibc (RLIMIT_STACK's, or its default). */
static size_t default_stack_bytes(void)
{
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    size_t min = (size_t)1 << 20;
    return size < min ? min : size;
}

/* A stack of its own for t in attr (a guard page below it); false when it cannot be
 * mapped (glibc's stack then). */
static bool own_stack(pypper_thread *t, pthread_attr_t *attr)
{
    size_t size = default_stack_bytes(), page = (size_t)sysconf(_SC_PAGESIZE);
    size = (size + page - 1) & ~(page - 1);
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                       -1, 0);
    if (stack == MAP_FAILED)
        return false;
    if (mprotect(stack, page, PROT_NONE) != 0
        || pthread_attr_setstack(attr, (char *)stack + page, size - page) != 0) {
        munmap(stack, size);
        return false;
    }
    t->stack = stack;
    t->stack_size = size;
    return true;
}

static void drop_stack(pypper_thread *t)
{
    if (t->stack)
        munmap(t->stack, t->stack_size);
    t->stack = NULL;
    t->stack_size = 0;
}

bool pypper_pin_memory(const void *p, size_t len)
{
    bool ok = lock_pages((uintptr_t)p, (uintptr_t)p + len, true) == 0;
    if (!ok)
        pypper_stat_add(PYPPER_STAT_PIN_FAILURES, 1);
    return ok;
}

/* Why: the kernel writes the thread's rseq area at every return to user space, and
 * reads or writes the futex words and time-outs of its waits, from kernel mode. When
 * such a page was swapped out and the memory cgroup is at its limit, that fault cannot
 * wait for memory as a fault of the program's own code does: the write fails and the
 * kernel kills the thread's process with SIGSEGV (rseq), or the wait fails with
 * EFAULT (glibc aborts). A thread that sleeps most of the time is what reclaim takes
 * first. Measured under Tools/bench/farmem_bench.py (graph at 50%, memcg v1 with its
 * OOM killer off): 3 of 30 runs died of SIGSEGV, forced on the sleeping sampler
 * thread (Doc/pressure.md). Pinned at every start (mlock is not inherited by a fork
 * child, and is idempotent).
 *
 * The stack top is pinned by the thread that starts it (pin_stack_top), not by the
 * thread itself: pthread_getattr_np() calls malloc, and the first malloc of a thread
 * gives it an arena of its own (a 128 KiB heap, 32-40 KiB of it resident, in every
 * process that traces). The new thread pins the wait words and, when it lies outside
 * that range, its rseq area, neither of which allocates. */
static void pin_stack_top(pypper_thread *t)
{
    t->pin_lo = t->pin_hi = 0;
    if (t->stack) {
        uintptr_t top = (uintptr_t)t->stack + t->stack_size;
        if (pypper_pin_memory((void *)(top - PIN_STACK_BYTES), PIN_STACK_BYTES)) {
            t->pin_lo = top - PIN_STACK_BYTES;
            t->pin_hi = top;
        }
        return;
    }
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(t->thread, &attr) != 0) {
        pypper_stat_add(PYPPER_STAT_PIN_FAILURES, 1);
        return;
    }
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        uintptr_t top = (uintptr_t)addr + size;
        uintptr_t low = size > PIN_STACK_BYTES ? top - PIN_STACK_BYTES : (uintptr_t)addr;
        if (pypper_pin_memory((void *)low, (size_t)(top - low))) {
            t->pin_lo = low;
            t->pin_hi = top;
        }
    }
    pthread_attr_destroy(&attr);
}

/* The process whose PYPPER_PINNED section is locked (a fork child's is not). */
static pid_t section_pinned_in;

static void pin_thread(uintptr_t lo, uintptr_t hi)
{
    char *first = __start_pypper_pinned, *end = __stop_pypper_pinned;
    pid_t pid = getpid();
    if (first && end > first && __atomic_load_n(&section_pinned_in, __ATOMIC_RELAXED) != pid
        && pypper_pin_memory(first, (size_t)(end - first)))
        __atomic_store_n(&section_pinned_in, pid, __ATOMIC_RELAXED);
    /* The rseq area is inside the stack's range with glibc's own stacks; not if it is
     * not. */
    if (__rseq_size) {
        uintptr_t area = (uintptr_t)__builtin_thread_pointer() + (uintptr_t)__rseq_offset;
        if (area < lo || area + __rseq_size > hi)
            (void)pypper_pin_memory((void *)area, __rseq_size);
    }
}

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
    /* The starter pinned the stack top before it let this thread go on. */
    pthread_mutex_lock(&t->started_mu);
    while (!t->started)
        pthread_cond_wait(&t->started_cv, &t->started_mu);
    pthread_mutex_unlock(&t->started_mu);
    pin_thread(t->pin_lo, t->pin_hi);
    __atomic_store_n(&t->tid, gettid(), __ATOMIC_RELEASE);
    return t->main(t->arg);
}

PYPPER_SMALL_CODE int pypper_thread_start(pypper_thread *t, void *(*main)(void *), void *arg, const char *name)
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
    pthread_mutex_init(&t->started_mu, NULL);
    pthread_cond_init(&t->started_cv, NULL);
    t->started = false;
    pthread_attr_t attr;
    bool have_attr = pthread_attr_init(&attr) == 0;
    t->stack = NULL;
    if (have_attr)
        (void)own_stack(t, &attr);
    int rc = pthread_create(&t->thread, have_attr ? &attr : NULL, trampoline, t);
    if (have_attr)
        pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        drop_stack(t);
        pthread_cond_destroy(&t->started_cv);
        pthread_mutex_destroy(&t->started_mu);
        return rc;
    }
    pin_stack_top(t);
    pthread_mutex_lock(&t->started_mu);
    t->started = true;
    pthread_cond_signal(&t->started_cv);
    pthread_mutex_unlock(&t->started_mu);
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
    /* Its own stack goes (and its lock with it); glibc caches its stacks for the next
     * thread (the program's too): unlocked. */
    if (t->stack)
        drop_stack(t);
    else if (t->pin_hi > t->pin_lo)
        (void)lock_pages(t->pin_lo, t->pin_hi, false);
    t->pin_lo = t->pin_hi = 0;
    pthread_cond_destroy(&t->started_cv);
    pthread_mutex_destroy(&t->started_mu);
    pypper_stat_add(PYPPER_STAT_WORKER_JOINED, 1);
    pid_t tid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
    if (tid <= 0)
        return true;
    uint64_t start = pypper_mono_ns();
    while (task_listed(tid)) {
        if (pypper_mono_ns() - start >= (uint64_t)wait_gone_ms * 1000000u)
            return false;
        struct timespec pause = {0, 20 * 1000};
        nanosleep(&pause, NULL);
    }
    return true;
}

void pypper_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
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
