/* Pypper/cpu_guard.c: the CPU-shortage guard's state machine (cpu_guard.h): the main
 * thread's run-queue share per window, shortage, calm, hold. Pure: it reads no clock
 * and no kernel file. */
#include "cpu_guard.h"

#include "hold.h"
#include "code_size.h"

#include <string.h>

#define MS 1000000ull

void pypper_cpu_guard_init(pypper_cpu_guard *s, const pypper_cpu_guard_params *p)
{
    memset(s, 0, sizeof(*s));
    s->p = *p;
    s->hold_ms = PYPPER_CPU_HOLD_MS;
    s->last_pct = -1.0;
}

PYPPER_SMALL_CODE bool pypper_cpu_guard_feed(pypper_cpu_guard *s, uint64_t now_ns, uint64_t run_ns, uint64_t wait_ns)
{
    if (!s->started) {
        s->started = true;
        s->window_ns = now_ns;
        s->run0_ns = run_ns;
        s->wait0_ns = wait_ns;
        return s->short_of_cpu;
    }
    if (now_ns < s->window_ns + PYPPER_CPU_WINDOW_MS * MS)
        return s->short_of_cpu;
    uint64_t span = now_ns - s->window_ns;
    uint64_t run = run_ns >= s->run0_ns ? run_ns - s->run0_ns : 0;
    uint64_t wait = wait_ns >= s->wait0_ns ? wait_ns - s->wait0_ns : 0;
    uint64_t window_start = s->window_ns;
    s->window_ns = now_ns;
    s->run0_ns = run_ns;
    s->wait0_ns = wait_ns;
    s->windows++;
    /* Runnable for under a tenth of the window: no figure. */
    double pct = (run + wait) * 10 < span ? -1.0 : 100.0 * (double)wait / (double)(run + wait);
    s->last_pct = pct;
    if (!(s->p.wait_pct > 0))
        return false;
    if (!s->short_of_cpu) {
        s->over = pct >= s->p.wait_pct ? s->over + 1 : 0;
        if (s->over < PYPPER_CPU_SHORT_WINDOWS)
            return false;
        s->hold_ms = pypper_hold_next(s->hold_ms, now_ns, s->recovered_at_ns, PYPPER_CPU_HOLD_MS,
                                      PYPPER_CPU_HOLD_MAX_MS, PYPPER_CPU_CALM_RESET_MS);
        s->short_of_cpu = true;
        s->shortages++;
        s->short_at_ns = now_ns;
        s->calm_since_ns = 0;
        s->over = 0;
        return true;
    }
    /* Short: calm is under half the threshold (or not runnable), hold_ms in a row. */
    if (pct >= s->p.wait_pct * 0.5) {
        s->calm_since_ns = 0;
        return true;
    }
    if (!pypper_hold_calm_enough(&s->calm_since_ns, window_start, now_ns, s->hold_ms))
        return true;
    s->short_of_cpu = false;
    s->short_ns += now_ns - s->short_at_ns;
    s->recovered_at_ns = now_ns;
    return false;
}

uint64_t pypper_cpu_guard_short_ns(const pypper_cpu_guard *s, uint64_t now_ns)
{
    return s->short_ns + (s->short_of_cpu && now_ns > s->short_at_ns ? now_ns - s->short_at_ns : 0);
}
