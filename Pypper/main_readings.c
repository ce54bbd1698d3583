/* Pypper/main_readings.c: the main thread's readings of /proc for the guards and the
 * sampler's placement (main_readings.h), under a lock the sampler thread shares. */
#include "main_readings.h"
#include "clock.h"
#include "threads.h"
#include "code_size.h"

#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu PYPPER_PINNED = PTHREAD_MUTEX_INITIALIZER;
static pypper_main_reading latest = {.psi = -1.0, .cpu = -1};
static int main_tid;

/* The file's first bytes as a string; 0, or -1. Opened and closed at once. */
static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* "some avg10=1.23 ..." -> 1.23; -1 when there is no such figure. */
static double read_psi(void)
{
    char buf[256];
    if (read_small("/proc/pressure/memory", buf, sizeof(buf)) < 0)
        return -1.0;
    const char *p = strstr(buf, "some avg10=");
    if (!p)
        return -1.0;
    char *end;
    double v = strtod(p + 11, &end);
    return end == p + 11 ? -1.0 : v;
}

/* "<run ns> <wait ns> <slices>" of the main thread -> 0, or -1. */
static int read_schedstat(int tid, uint64_t *run_ns, uint64_t *wait_ns)
{
    char path[64], buf[128];
    if (tid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
    if (read_small(path, buf, sizeof(buf)) < 0)
        return -1;
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

PYPPER_SMALL_CODE void pypper_main_readings_take(bool want_psi)
{
    uint64_t now = pypper_mono_ns();
    pthread_mutex_lock(&mu);
    uint64_t last = latest.stamp_ns;
    int cpu = latest.cpu, tid = main_tid;
    pthread_mutex_unlock(&mu);
    if (last && now - last < PYPPER_MAIN_READINGS_EVERY_MS * 1000000ull)
        return;
    pypper_main_reading r = {.stamp_ns = now, .psi = want_psi ? read_psi() : -1.0,
                             .cpu = tid > 0 && (int)syscall(SYS_gettid) == tid ? sched_getcpu() : cpu};
    r.sched_ok = read_schedstat(tid, &r.run_ns, &r.wait_ns) == 0;
    pthread_mutex_lock(&mu);
    latest = r;
    pthread_mutex_unlock(&mu);
}

void pypper_main_readings_get(pypper_main_reading *out)
{
    pthread_mutex_lock(&mu);
    *out = latest;
    pthread_mutex_unlock(&mu);
}

void pypper_main_readings_reset(int tid)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    mu = fresh;
    latest = (pypper_main_reading){.psi = -1.0, .cpu = -1};
    main_tid = tid;
}
