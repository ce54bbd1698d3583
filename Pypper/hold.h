/* Pypper/hold.h: the hold time shared by Pypper's guards (pressure.h: short of
 * memory; cpu_guard.h: short of CPU): once a guard acts, it lets go only after calm
 * has lasted its hold; the hold doubles (up to a cap) when the guard acts again within
 * four holds of letting go, so a guard whose own release brings the trouble back
 * cannot flap, and it is back at its base after a calm minute. Pure. */
#ifndef PYPPER_HOLD_H
#define PYPPER_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#define PYPPER_HOLD_NS_PER_MS 1000000ull

/* The hold for an action starting at now_ns; released_at_ns: when the guard last let
 * go (0: never). */
static inline uint32_t pypper_hold_next(uint32_t hold_ms, uint64_t now_ns, uint64_t released_at_ns,
                                        uint32_t base_ms, uint32_t max_ms, uint32_t reset_ms)
{
    uint64_t since = released_at_ns ? now_ns - released_at_ns : UINT64_MAX;
    if (since >= (uint64_t)reset_ms * PYPPER_HOLD_NS_PER_MS)
        return base_ms;
    if (since < 4ull * hold_ms * PYPPER_HOLD_NS_PER_MS)
        return hold_ms * 2 > max_ms ? max_ms : hold_ms * 2;
    return hold_ms;
}

/* A calm window [window_start_ns, now_ns): whether calm has now lasted hold_ms
 * (*calm_since_ns: the first calm window's start, 0 while not calm). */
static inline bool pypper_hold_calm_enough(uint64_t *calm_since_ns, uint64_t window_start_ns,
                                           uint64_t now_ns, uint32_t hold_ms)
{
    if (!*calm_since_ns)
        *calm_since_ns = window_start_ns;
    return now_ns - *calm_since_ns >= (uint64_t)hold_ms * PYPPER_HOLD_NS_PER_MS;
}

#endif
