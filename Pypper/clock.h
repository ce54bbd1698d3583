/* Pypper/clock.h: a clock read in nanoseconds, the one helper every part uses:
 * CLOCK_MONOTONIC for intervals and deadlines, the thread and process CPU clocks for
 * what work costs. 0 when the clock cannot be read (an unknown clock id). */
#ifndef PYPPER_CLOCK_H
#define PYPPER_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t pypper_clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t pypper_mono_ns(void) { return pypper_clock_ns(CLOCK_MONOTONIC); }

#endif
