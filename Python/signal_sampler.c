/* Python/signal_sampler.c: the signal sampler (signal_sampler.h).
 *
 * A POSIX timer on the main thread's CPU-time clock (timer_create from that thread with
 * CLOCK_THREAD_CPUTIME_ID), delivered to that thread (SIGEV_THREAD_ID), raises a
 * real-time signal each 1/SIGNAL_HZ s of CPU time the thread uses. The handler reads
 * the thread's own frames (frame_reader.c) and pushes the evidence into a
 * single-producer, single-consumer ring; hand-overs drain it into the sampler's
 * evidence table under the GIL (the handler may interrupt the drain itself: the ring's
 * indexes make that safe). The sampler thread needs a free core to see anything; this
 * needs none: on a loaded machine the thread that runs the program samples itself, at
 * the cost of a signal delivery and a frame read per sample (Doc/design.md §11 measured
 * 20-30 us a signal in this VM). A CPU-time timer does not run while the thread
 * blocks, so signals arrive while it computes; SA_RESTART restarts interrupted calls.
 *
 * The handler, once installed, stays for the life of the process and returns at once
 * while no session samples: a signal still pending when a session ends must not meet
 * the default action of a real-time signal (terminating the process). A signal whose
 * handler is not the default (the program uses it) is not taken; if the program
 * installs a handler later, the next hand-over sees it and disarms the timer. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "signal_sampler.h"

#include "../Pypper/log.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define RING 16384u             /* a power of two */
#define SIGNAL_OFFSET 5         /* SIGRTMIN + 5: above what glibc keeps for itself */

typedef struct {
    PyObject *object;
    uint8_t kind;
} ring_slot;

static struct {
    atomic_bool active;         /* the handler samples */
    bool armed;                 /* the timer exists */
    bool installed;             /* our handler is installed (for good) */
    int signo;
    timer_t timer;
    PyThreadState *target;
    int depth;
    pypper_frame_memory mem;    /* handler-private */
    ring_slot ring[RING];
    atomic_size_t head, tail;   /* written by the handler / by the drain */
    atomic_uint_fast64_t signals, found, dropped, slots_read, attr_evidence;
} S;

static void push(void *ctx, PyObject *object, pypper_evidence kind)
{
    (void)ctx;
    size_t head = atomic_load_explicit(&S.head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&S.tail, memory_order_acquire);
    if (head - tail >= RING) {
        atomic_fetch_add_explicit(&S.dropped, 1, memory_order_relaxed);
        return;
    }
    S.ring[head & (RING - 1)] = (ring_slot){object, (uint8_t)kind};
    atomic_store_explicit(&S.head, head + 1, memory_order_release);
    atomic_fetch_add_explicit(&S.found, 1, memory_order_relaxed);
}

static void on_signal(int signo, siginfo_t *info, void *context)
{
    (void)signo;
    (void)context;
    /* Only our timer's signals sample (a kill() of the same signal does nothing). */
    if (!atomic_load_explicit(&S.active, memory_order_acquire) || !info
        || info->si_code != SI_TIMER)
        return;
    int saved = errno;
    pypper_frame_counts c = {0, 0, 0};
    pypper_frames_read(S.target, S.depth, &S.mem, push, NULL, &c);
    atomic_fetch_add_explicit(&S.signals, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&S.slots_read, c.slots_read, memory_order_relaxed);
    atomic_fetch_add_explicit(&S.attr_evidence, c.attr_evidence, memory_order_relaxed);
    errno = saved;
}

static bool handler_is_ours(int signo)
{
    struct sigaction now;
    return sigaction(signo, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO)
           && now.sa_sigaction == on_signal;
}

static int install(void)
{
    int signo = SIGRTMIN + SIGNAL_OFFSET;
    if (signo > SIGRTMAX)
        return -1;
    if (S.installed && handler_is_ours(signo)) {
        S.signo = signo;
        return 0;
    }
    struct sigaction old;
    if (sigaction(signo, NULL, &old) != 0)
        return -1;
    bool taken = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != on_signal
                                             : old.sa_handler != SIG_DFL;
    if (taken) {
        pypper_log(PYPPER_LOG_INFO, "signal sampler: signal %d has a handler of the "
                                    "program's; not sampling with signals", signo);
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0)
        return -1;
    S.installed = true;
    S.signo = signo;
    return 0;
}

int pypper_signal_sampler_start(PyThreadState *target, int64_t hz, int depth)
{
    pypper_signal_sampler_stop();
    if (hz <= 0 || !target)
        return -1;
    if (install() < 0)
        return -1;
    memset(&S.mem, 0, sizeof(S.mem));
    atomic_store(&S.head, 0);
    atomic_store(&S.tail, 0);
    atomic_store(&S.signals, 0);
    atomic_store(&S.found, 0);
    atomic_store(&S.dropped, 0);
    atomic_store(&S.slots_read, 0);
    atomic_store(&S.attr_evidence, 0);
    S.target = target;
    S.depth = depth;
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = S.signo;
    sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &S.timer) != 0) {
        pypper_log(PYPPER_LOG_INFO, "signal sampler: timer_create: %s; not sampling with "
                                    "signals", strerror(errno));
        return -1;
    }
    long ns = (long)(1000000000 / hz);
    struct itimerspec its = {{ns / 1000000000, ns % 1000000000}, {ns / 1000000000, ns % 1000000000}};
    atomic_store_explicit(&S.active, true, memory_order_release);
    if (timer_settime(S.timer, 0, &its, NULL) != 0) {
        atomic_store(&S.active, false);
        timer_delete(S.timer);
        pypper_log(PYPPER_LOG_INFO, "signal sampler: timer_settime: %s", strerror(errno));
        return -1;
    }
    S.armed = true;
    return 0;
}

void pypper_signal_sampler_stop(void)
{
    atomic_store_explicit(&S.active, false, memory_order_release);
    if (S.armed)
        timer_delete(S.timer);  /* a signal still pending finds the handler idle */
    S.armed = false;
    atomic_store(&S.tail, atomic_load(&S.head));
}

void pypper_signal_sampler_after_fork_child(void)
{
    /* POSIX timers are not inherited: nothing to delete in the child. */
    atomic_store(&S.active, false);
    S.armed = false;
    atomic_store(&S.tail, atomic_load(&S.head));
}

void pypper_signal_sampler_pause(bool paused)
{
    if (S.armed)
        atomic_store_explicit(&S.active, !paused, memory_order_release);
}

bool pypper_signal_sampler_check(void)
{
    if (!S.armed)
        return false;
    if (handler_is_ours(S.signo))
        return true;
    pypper_log(PYPPER_LOG_INFO, "signal sampler: the program installed a handler for "
                                "signal %d; sampling with signals stops", S.signo);
    atomic_store(&S.active, false);
    timer_delete(S.timer);
    S.armed = false;
    S.installed = false;
    return false;
}

size_t pypper_signal_sampler_drain(pypper_frame_sink sink, void *ctx)
{
    size_t tail = atomic_load_explicit(&S.tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&S.head, memory_order_acquire);
    size_t n = 0;
    for (; tail != head; tail++, n++) {
        ring_slot r = S.ring[tail & (RING - 1)];
        sink(ctx, r.object, (pypper_evidence)r.kind);
    }
    atomic_store_explicit(&S.tail, tail, memory_order_release);
    return n;
}

bool pypper_signal_sampler_active(void) { return S.armed; }

void pypper_signal_sampler_get_stats(pypper_signal_sampler_stats *out)
{
    out->signals = atomic_load(&S.signals);
    out->found = atomic_load(&S.found);
    out->dropped = atomic_load(&S.dropped);
    out->slots_read = atomic_load(&S.slots_read);
    out->attr_evidence = atomic_load(&S.attr_evidence);
    out->signo = S.armed ? S.signo : 0;
}
