/* Objects/tier.h: the memory tiers, one type for all of Pypper: the heap's arenas,
 * the placement policy, where a backend says a page is, and the planner. A place
 * that may not be known keeps that explicit beside it (PYPPER_PLACE_UNKNOWN in
 * Pypper/backend.h, the page record of Python/migrate_internal.h). */
#ifndef PYPPER_TIER_H
#define PYPPER_TIER_H

typedef enum {
    PYPPER_TIER_FAST = 0,
    PYPPER_TIER_SLOW = 1,
} pypper_tier;

#define PYPPER_TIERS 2

#endif
