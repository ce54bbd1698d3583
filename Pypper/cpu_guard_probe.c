/* Pypper/cpu_guard_probe.c: the process's instance of the CPU-shortage guard
 * (cpu_guard.h) and what feeds it: the main thread's schedstat line
 * (/proc/self/task/<tid>/schedstat: nanoseconds on a CPU, nanoseconds waiting in the
 * run queue, timeslices). The file is opened for each reading and closed at once (a
 * descriptor kept open would show in the program's /proc/self/fd and in a child's).
 * Kernels without it (no CONFIG_SCHED_INFO) give no readings: the guard never acts. */
#include "cpu_guard.h"

#include "log.h"
#include "stats.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pypper_cpu_guard guard;
static bool on;
static bool available;           /* the last reading worked */
static pid_t tid;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void pypper_cpu_guard_start(const pypper_cpu_guard_params *p, pid_t main_tid)
{
    pthread_mutex_lock(&mu);
    pypper_cpu_guard_init(&guard, p);
    tid = main_tid;
    available = false;
    on = true;
    pthread_mutex_unlock(&mu);
}

static void count_end(uint64_t now_ns)
{
    if (now_ns > guard.short_at_ns)
        pypper_stat_add(PYPPER_STAT_CPU_SHORT_MS, (now_ns - guard.short_at_ns) / 1000000u);
}

void pypper_cpu_guard_stop(void)
{
    pthread_mutex_lock(&mu);
    if (on && guard.short_of_cpu) {         /* the shortage ends with the session */
        uint64_t now = mono_ns();
        count_end(now);
        guard.short_ns = pypper_cpu_guard_short_ns(&guard, now);
        guard.short_of_cpu = false;
    }
    on = false;
    pthread_mutex_unlock(&mu);
}

void pypper_cpu_guard_forget_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    mu = fresh;
    on = false;
}

/* "<run ns> <wait ns> <slices>" -> 0, or -1. */
static int read_schedstat(uint64_t *run_ns, uint64_t *wait_ns)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end;
    unsigned long long run = strtoull(buf, &end, 10);
    if (end == buf)
        return -1;
    char *p = end;
    unsigned long long wait = strtoull(p, &end, 10);
    if (end == p)
        return -1;
    *run_ns = run;
    *wait_ns = wait;
    return 0;
}

static bool feed_locked(uint64_t now_ns, uint64_t run_ns, uint64_t wait_ns)
{
    if (!on)
        return false;
    bool before = guard.short_of_cpu;
    bool s = pypper_cpu_guard_feed(&guard, now_ns, run_ns, wait_ns);
    if (s && !before) {
        pypper_stat_add(PYPPER_STAT_CPU_SHORTAGES, 1);
        pypper_log(PYPPER_LOG_INFO, "short of CPU (the main thread waited %.0f%% of its runnable "
                                    "time for a CPU): the sampler backs off for at least %u ms",
                   guard.last_pct, guard.hold_ms);
    } else if (!s && before) {
        count_end(now_ns);
        pypper_log(PYPPER_LOG_INFO, "CPU calm again after %llu ms: the sampler resumes",
                   (unsigned long long)((now_ns - guard.short_at_ns) / 1000000u));
    }
    return s;
}

double pypper_cpu_guard_check(void)
{
    uint64_t now = mono_ns();
    pthread_mutex_lock(&mu);
    bool s = guard.short_of_cpu;
    uint64_t run, wait;
    if (on && !(guard.started && now < guard.window_ns + PYPPER_CPU_WINDOW_MS * 1000000ull)
        && guard.p.wait_pct > 0) {
        available = read_schedstat(&run, &wait) == 0;
        if (available)
            s = feed_locked(now, run, wait);
    }
    pthread_mutex_unlock(&mu);
    return s ? PYPPER_CPU_BACKOFF : 1.0;
}

void pypper_cpu_guard_snapshot(pypper_cpu_guard *out, uint64_t *now_ns, bool *avail)
{
    pthread_mutex_lock(&mu);
    *out = guard;
    *avail = available;
    pthread_mutex_unlock(&mu);
    *now_ns = mono_ns();
}

void pypper_cpu_guard_reset_now(void)
{
    pthread_mutex_lock(&mu);
    pypper_cpu_guard_params p = guard.p;
    pypper_cpu_guard_init(&guard, &p);
    pthread_mutex_unlock(&mu);
}

bool pypper_cpu_guard_feed_now(uint64_t now_ns, uint64_t run_ns, uint64_t wait_ns)
{
    pthread_mutex_lock(&mu);
    bool s = feed_locked(now_ns, run_ns, wait_ns);
    pthread_mutex_unlock(&mu);
    return s;
}
