/* Pypper/planner.h: the migration planner's decision, as a pure function over the
 * heap's pages: given each page's heat and where it is, which pages to promote to the
 * fast tier and which to demote, under the fast-tier budget, with hysteresis,
 * cool-down, rate caps and lazy demotion. Pure C; Python/migrate_execute.c feeds it. */
#ifndef PYPPER_PLANNER_H
#define PYPPER_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../Objects/tier.h"

#define PYPPER_HEAT_UNKNOWN (-1.0f)     /* no traced object on the page */

/* 16 bytes a page of the heap (a round lists every page in use). */
typedef struct {
    uint32_t page;              /* the heap's page index (Objects/heap_pages.h; < 2^25) */
    float heat;                 /* >= 0, or PYPPER_HEAT_UNKNOWN */
    uint8_t placed;             /* a pypper_tier: where it is now */
    uint8_t arena_tier;         /* a pypper_tier: the tier of the arena it belongs to */
    uint8_t unplaced;           /* where it is could not be learnt: left alone */
    uint32_t moved_pass;        /* the pass that last moved it; 0: never */
} pypper_plan_page;
_Static_assert(sizeof(pypper_plan_page) == 16, "a round's page record is 16 bytes");

typedef struct {
    int policy;                 /* pypper_migrate_policy */
    size_t budget_pages;        /* fast pages allowed; SIZE_MAX: no limit */
    double aggressiveness;      /* 0..1 */
    bool lazy_demotion;
    double cold_heat;           /* without lazy demotion: known heat below this demotes */
    size_t promote_cap;         /* pages per pass; SIZE_MAX: none */
    size_t move_cap;            /* promotions + demotions per pass; SIZE_MAX: none */
    uint32_t pass;              /* this pass's number (>= 1) */
    bool all_candidates;        /* act on every candidate (a round asked for by the
                                 * program), not a share of them; caps still apply */
    double demote_scale;        /* share of the demotions a background round acts on
                                 * (Pypper/mistakes.h); 0 or 1: all. A round the
                                 * program asked for (all_candidates) ignores it. */
} pypper_plan_params;

typedef struct {
    uint32_t *promote;          /* indexes into the pages, hottest first */
    size_t npromote;
    uint32_t *demote;           /* coldest first */
    size_t ndemote;
    double cutoff;              /* heat at the budget's rank (0: everything fits) */
    double margin;              /* hysteresis: promote above cutoff*(1+m), demote below cutoff*(1-m) */
    unsigned cooldown;          /* passes a moved page stays put */
    size_t fast_pages, slow_pages, unknown_pages;
    size_t skipped_cooldown;    /* candidates held back by the cool-down */
    size_t held_unknown;        /* fast pages without evidence: never demoted */
    size_t held_by_cap;         /* candidates held back by the rate caps */
} pypper_plan;

/* Decide, for n < 2^32 pages. out->promote, out->demote and scratch must each have
 * room for n indexes (the caller provides all memory, and nothing here allocates: this
 * may run in a thread that must not call malloc, see Python/migrate_execute.c). */
void pypper_plan_pages(const pypper_plan_page *pages, size_t n, const pypper_plan_params *p,
                       pypper_plan *out, uint32_t *scratch);

#endif
