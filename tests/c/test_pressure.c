/* tests/c/test_pressure.c: the memory-pressure guard's state machine: a window of
 * major faults at the threshold pauses, fewer than the minimum never does, the
 * memory stall figure pauses on its own (and is ignored when absent or switched
 * off), a pause ends only after hold_ms of calm (half the thresholds), the hold
 * doubles when a pause follows a resume closely, is capped, and returns to its base
 * after a calm minute; the paused time is counted; readings inside a window are
 * ignored. */
#include "check.h"
#include "../../Pypper/pressure.h"

#include <string.h>

#define MS 1000000ull
#define W (PYPPER_PRESSURE_WINDOW_MS * MS)

/* Feed one window at time *t with `faults` new major faults and psi; returns paused. */
static bool window(pypper_pressure *s, uint64_t *t, uint64_t *majflt, uint64_t faults, double psi)
{
    *t += W;
    *majflt += faults;
    return pypper_pressure_feed(s, *t, *majflt, psi);
}

int main(void)
{
    pypper_pressure s;
    pypper_pressure_params p = {.majflt_per_s = 400, .psi_pct = 10.0};
    uint64_t t = 1000 * MS, f = 5000;

    pypper_pressure_init(&s, &p);
    CHECK(!pypper_pressure_feed(&s, t, f, -1));          /* the first reading: a baseline */
    /* 400/s over 250 ms = 100 faults: 99 is calm, 100 pauses. */
    CHECK(!window(&s, &t, &f, 99, -1));
    CHECK(s.windows == 1 && s.last_rate > 395 && s.last_rate < 397);
    CHECK(window(&s, &t, &f, 100, -1));
    CHECK(s.paused && s.pauses == 1 && s.reason == PYPPER_PRESSURE_FAULTS);
    /* Inside a window nothing changes. */
    CHECK(pypper_pressure_feed(&s, t + W / 2, f + 100000, 99.0) && s.windows == 2);
    /* Still faulting at half the rate (50 a window): not calm. */
    for (int i = 0; i < 20; i++)
        CHECK(window(&s, &t, &f, 50, -1));
    /* Calm (49 a window, under half): the hold (2 s = 8 windows) must pass. */
    uint64_t calm_from = t;
    int n = 0;
    while (window(&s, &t, &f, 49, -1))
        n++;
    CHECK(n == 7 && t - calm_from == 8 * W);
    CHECK(!s.paused && s.resumed_at_ns == t);
    CHECK(pypper_pressure_paused_ns(&s, t) == t - s.paused_at_ns);

    /* A pause again within 4 holds of the resume: the hold doubles (4 s = 16 windows). */
    CHECK(window(&s, &t, &f, 1000, -1) && s.pauses == 2 && s.hold_ms == 4000);
    n = 0;
    while (window(&s, &t, &f, 0, -1))
        n++;
    CHECK(n == 15);
    /* Repeated flapping: capped. */
    for (int k = 0; k < 10; k++) {
        CHECK(window(&s, &t, &f, 1000, -1));
        while (window(&s, &t, &f, 0, -1))
            ;
    }
    CHECK(s.hold_ms == PYPPER_PRESSURE_HOLD_MAX_MS);
    /* A calm minute after the resume: back at the base. */
    t += PYPPER_PRESSURE_CALM_RESET_MS * MS;
    CHECK(!pypper_pressure_feed(&s, t, f, -1));
    CHECK(window(&s, &t, &f, 1000, -1) && s.hold_ms == PYPPER_PRESSURE_HOLD_MS);
    while (window(&s, &t, &f, 0, -1))
        ;

    /* Fewer than the minimum faults never pause, whatever the rate. */
    pypper_pressure_params low = {.majflt_per_s = 1, .psi_pct = 0};
    pypper_pressure_init(&s, &low);
    CHECK(!pypper_pressure_feed(&s, t, f, -1));
    CHECK(!window(&s, &t, &f, PYPPER_PRESSURE_MIN_FAULTS - 1, 50.0));   /* psi off */
    CHECK(window(&s, &t, &f, PYPPER_PRESSURE_MIN_FAULTS, -1));

    /* The stall figure alone; absent (< 0) it never decides. */
    pypper_pressure_init(&s, &p);
    CHECK(!pypper_pressure_feed(&s, t, f, -1));
    CHECK(!window(&s, &t, &f, 0, -1) && !window(&s, &t, &f, 0, 9.99));
    CHECK(window(&s, &t, &f, 0, 10.0) && s.reason == PYPPER_PRESSURE_PSI);
    CHECK(window(&s, &t, &f, 0, 5.0));                    /* half: not calm yet */
    n = 0;
    while (window(&s, &t, &f, 0, 4.9))
        n++;
    CHECK(n == 7);

    /* Faults switched off (0): only the stall figure. */
    pypper_pressure_params psi_only = {.majflt_per_s = 0, .psi_pct = 10.0};
    pypper_pressure_init(&s, &psi_only);
    CHECK(!pypper_pressure_feed(&s, t, f, -1));
    CHECK(!window(&s, &t, &f, 1000000, 0.0));

    /* A counter that goes back (a reading from another source) counts as no faults. */
    pypper_pressure_init(&s, &p);
    CHECK(!pypper_pressure_feed(&s, t, f, -1));
    t += W;
    CHECK(!pypper_pressure_feed(&s, t, f - 100, -1));
    CHECK(strcmp(pypper_pressure_reason_name(PYPPER_PRESSURE_PSI), "psi") == 0);
    return check_report("test_pressure");
}
