/* Pypper/sampler_placement.c: the sampler thread's CPU affinity, kept off the main
 * thread's CPU (sampler_placement.h). */
#include "sampler_placement.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool pypper_placement_choose(const cpu_set_t *allowed, const cpu_set_t *current, int main_cpu,
                             cpu_set_t *out)
{
    if (main_cpu < 0 || main_cpu >= CPU_SETSIZE || !CPU_ISSET(main_cpu, current))
        return false;
    cpu_set_t rest = *allowed;
    CPU_CLR(main_cpu, &rest);
    if (CPU_COUNT(&rest) == 0)
        return false;           /* nowhere else to go */
    *out = rest;
    return true;
}

int pypper_placement_parse_stat_cpu(const char *text)
{
    /* "tid (comm) state ppid ...": comm may hold ") ", so the fields start after the
     * last ')'. The state is field 3; the CPU, field 39, is 36 fields after it. */
    const char *p = strrchr(text, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field < 39; field++) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            return -1;
        while (*p && *p != ' ' && *p != '\n')
            p++;
    }
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    int cpu = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        cpu = cpu * 10 + (*p - '0');
        if (cpu >= CPU_SETSIZE)
            return -1;
    }
    return (*p == ' ' || *p == '\n' || !*p) ? cpu : -1;
}

void pypper_placement_begin(pypper_sampler_placement *p, pid_t main_tid)
{
    p->main_tid = main_tid;
    CPU_ZERO(&p->allowed);
    p->on = main_tid > 0 && sched_getaffinity(0, sizeof(p->allowed), &p->allowed) == 0
            && CPU_COUNT(&p->allowed) > 1;
    p->current = p->allowed;
}

/* The CPU the main thread runs on (or waits for), -1 when it cannot be read. The file
 * is opened for each reading and closed at once, as pressure_probe.c does: a
 * descriptor kept open would show in the program's /proc/self/fd. */
static int main_cpu(pid_t tid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return pypper_placement_parse_stat_cpu(buf);
}

bool pypper_placement_check(pypper_sampler_placement *p)
{
    if (!p->on)
        return false;
    p->checks++;
    int cpu = main_cpu(p->main_tid);
    if (cpu < 0) {
        p->failures++;
        return false;
    }
    cpu_set_t next;
    if (!pypper_placement_choose(&p->allowed, &p->current, cpu, &next))
        return false;
    p->shared++;
    if (sched_setaffinity(0, sizeof(next), &next) != 0) {
        /* (A cpuset narrowed since the start, say: the mask stays as it is.) */
        p->failures++;
        p->on = false;
        pypper_log(PYPPER_LOG_INFO, "sampler thread: cannot move off CPU %d (%s); it stays "
                                    "where the kernel puts it", cpu, strerror(errno));
        return false;
    }
    p->current = next;
    p->moves++;
    return true;
}
