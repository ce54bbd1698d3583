/* Pypper/pressure.c: the memory-pressure guard's state machine (pressure.h): rate of
 * major faults per window, the memory stall figure, pause, calm, hold. Pure: it
 * reads no clock and no kernel file. */
#include "pressure.h"

#include "hold.h"
#include "code_size.h"

#include <string.h>

#define MS 1000000ull

void pypper_pressure_init(pypper_pressure *s, const pypper_pressure_params *p)
{
    memset(s, 0, sizeof(*s));
    s->p = *p;
    s->hold_ms = PYPPER_PRESSURE_HOLD_MS;
    s->last_psi = -1.0;
}

static bool pressed(const pypper_pressure *s, double rate, double psi, double scale,
                    uint64_t faults, pypper_pressure_reason *why)
{
    if (s->p.majflt_per_s && faults >= PYPPER_PRESSURE_MIN_FAULTS
        && rate >= (double)s->p.majflt_per_s * scale) {
        *why = PYPPER_PRESSURE_FAULTS;
        return true;
    }
    if (s->p.psi_pct > 0 && psi >= 0 && psi >= s->p.psi_pct * scale) {
        *why = PYPPER_PRESSURE_PSI;
        return true;
    }
    return false;
}

PYPPER_SMALL_CODE bool pypper_pressure_feed(pypper_pressure *s, uint64_t now_ns, uint64_t majflt, double psi)
{
    if (!s->started) {
        s->started = true;
        s->window_ns = now_ns;
        s->window_faults = majflt;
        return s->paused;
    }
    if (now_ns < s->window_ns + PYPPER_PRESSURE_WINDOW_MS * MS)
        return s->paused;
    uint64_t span = now_ns - s->window_ns;
    uint64_t faults = majflt >= s->window_faults ? majflt - s->window_faults : 0;
    double rate = (double)faults * 1e9 / (double)span;
    s->windows++;
    s->last_rate = rate;
    s->last_psi = psi;
    uint64_t window_start = s->window_ns;
    s->window_ns = now_ns;
    s->window_faults = majflt;
    pypper_pressure_reason why = PYPPER_PRESSURE_NONE;
    if (!s->paused) {
        if (!pressed(s, rate, psi, 1.0, faults, &why))
            return false;
        /* A pause soon after a resume: the hold doubles; after a calm minute it is
         * back at its base. */
        s->hold_ms = pypper_hold_next(s->hold_ms, now_ns, s->resumed_at_ns, PYPPER_PRESSURE_HOLD_MS,
                                      PYPPER_PRESSURE_HOLD_MAX_MS, PYPPER_PRESSURE_CALM_RESET_MS);
        s->paused = true;
        s->reason = why;
        s->pauses++;
        s->paused_at_ns = now_ns;
        s->calm_since_ns = 0;
        return true;
    }
    /* Paused: calm is under half the thresholds, for hold_ms in a row. */
    if (pressed(s, rate, psi, 0.5, faults, &why)) {
        s->calm_since_ns = 0;
        s->reason = why;
        return true;
    }
    if (!pypper_hold_calm_enough(&s->calm_since_ns, window_start, now_ns, s->hold_ms))
        return true;
    s->paused = false;
    s->paused_ns += now_ns - s->paused_at_ns;
    s->resumed_at_ns = now_ns;
    s->calm_since_ns = 0;
    return false;
}

uint64_t pypper_pressure_paused_ns(const pypper_pressure *s, uint64_t now_ns)
{
    return s->paused_ns + (s->paused && now_ns > s->paused_at_ns ? now_ns - s->paused_at_ns : 0);
}

const char *pypper_pressure_reason_name(pypper_pressure_reason r)
{
    switch (r) {
    case PYPPER_PRESSURE_FAULTS: return "major_faults";
    case PYPPER_PRESSURE_PSI: return "psi";
    default: return "none";
    }
}
