/* tests/c/test_cpu_guard.c: the CPU-shortage guard's state machine: two windows in a
 * row with the main thread waiting at the threshold make it short (one does not), a
 * main thread runnable for under a tenth of a window gives no figure, recovery needs
 * hold_ms of calm (under half the threshold), the hold doubles when a shortage follows
 * a recovery closely and is back at its base after a calm minute; 0 never acts. */
#include "check.h"
#include "../../Pypper/cpu_guard.h"

#define MS 1000000ull
#define W (PYPPER_CPU_WINDOW_MS * MS)

/* One window at *t: the main thread ran run_ms and waited wait_ms in it. */
static bool window(pypper_cpu_guard *s, uint64_t *t, uint64_t *run, uint64_t *wait,
                   uint64_t run_ms, uint64_t wait_ms)
{
    *t += W;
    *run += run_ms * MS;
    *wait += wait_ms * MS;
    return pypper_cpu_guard_feed(s, *t, *run, *wait);
}

int main(void)
{
    pypper_cpu_guard s;
    pypper_cpu_guard_params p = {.wait_pct = 25.0};
    uint64_t t = 1000 * MS, run = 0, wait = 0;

    pypper_cpu_guard_init(&s, &p);
    CHECK(!pypper_cpu_guard_feed(&s, t, run, wait));          /* a baseline */
    /* 24% waiting: calm. */
    CHECK(!window(&s, &t, &run, &wait, 190, 60));
    CHECK(s.last_pct == 24.0);
    /* One window at 25%: not yet; a calm one resets the count; then two in a row. */
    CHECK(!window(&s, &t, &run, &wait, 150, 50));
    CHECK(!window(&s, &t, &run, &wait, 250, 0));
    CHECK(!window(&s, &t, &run, &wait, 150, 50));
    CHECK(window(&s, &t, &run, &wait, 100, 100));
    CHECK(s.short_of_cpu && s.shortages == 1 && s.hold_ms == 2000);
    /* Inside a window nothing changes. */
    CHECK(pypper_cpu_guard_feed(&s, t + W / 2, run, wait + 1000 * MS) && s.windows == 5);
    /* Waiting 13% (over half the threshold): still short. */
    for (int i = 0; i < 20; i++)
        CHECK(window(&s, &t, &run, &wait, 200, 30));
    /* Calm at 12% for the hold (2 s = 8 windows). */
    uint64_t calm_from = t;
    int n = 0;
    while (window(&s, &t, &run, &wait, 220, 30))
        n++;
    CHECK(n == 7 && t - calm_from == 8 * W && !s.short_of_cpu);
    CHECK(pypper_cpu_guard_short_ns(&s, t) == s.short_ns && s.short_ns == t - s.short_at_ns);

    /* Short again soon after: the hold doubles (4 s = 16 windows). */
    CHECK(!window(&s, &t, &run, &wait, 50, 200));
    CHECK(window(&s, &t, &run, &wait, 50, 200) && s.shortages == 2 && s.hold_ms == 4000);
    /* A main thread that blocks (runnable 10 ms of 250) gives no figure: it counts as calm. */
    n = 0;
    while (window(&s, &t, &run, &wait, 5, 5))
        n++;
    CHECK(n == 15 && s.last_pct < 0);
    /* Flapping: capped at 64 s. */
    for (int k = 0; k < 10; k++) {
        CHECK(!window(&s, &t, &run, &wait, 50, 200));
        CHECK(window(&s, &t, &run, &wait, 50, 200));
        while (window(&s, &t, &run, &wait, 250, 0))
            ;
    }
    CHECK(s.hold_ms == PYPPER_CPU_HOLD_MAX_MS);
    /* A calm minute: the next shortage starts at the base hold again. */
    for (int i = 0; i < 241; i++)
        CHECK(!window(&s, &t, &run, &wait, 250, 0));
    CHECK(!window(&s, &t, &run, &wait, 50, 200));
    CHECK(window(&s, &t, &run, &wait, 50, 200) && s.hold_ms == PYPPER_CPU_HOLD_MS);

    /* Threshold 0: never short, the figure still kept. */
    pypper_cpu_guard_params off = {.wait_pct = 0.0};
    pypper_cpu_guard_init(&s, &off);
    t = 0;
    run = wait = 0;
    CHECK(!pypper_cpu_guard_feed(&s, t, run, wait));
    for (int i = 0; i < 10; i++)
        CHECK(!window(&s, &t, &run, &wait, 10, 240));
    CHECK(s.last_pct == 96.0 && s.shortages == 0);
    return check_report("cpu_guard");
}
