/* Pypper/sampler_placement.c: the sampler thread's CPU affinity, kept off the main
 * thread's CPU (sampler_placement.h). */
#include "sampler_placement.h"

#include "log.h"

#include <errno.h>
#include <string.h>

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

void pypper_placement_begin(pypper_sampler_placement *p)
{
    CPU_ZERO(&p->allowed);
    p->on = sched_getaffinity(0, sizeof(p->allowed), &p->allowed) == 0
            && CPU_COUNT(&p->allowed) > 1;
    p->current = p->allowed;
}

bool pypper_placement_check(pypper_sampler_placement *p, int cpu)
{
    if (!p->on)
        return false;
    p->checks++;
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
