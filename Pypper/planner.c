/* Pypper/planner.c: the planner's decision (planner.h).
 *
 * temperature policy: the fast tier should hold the hottest pages that fit in
 * budget_pages. In order: (1) while the fast tier holds more than the budget, its
 * coldest pages are demoted (lazy demotion: this pressure is the only reason to
 * demote); (2) free room in the budget takes the hottest slow pages; (3) a slow page
 * displaces the coldest fast page only when it is hotter by the hysteresis margin;
 * (4) without lazy demotion, every fast page colder than cold_heat is demoted too.
 * Pages with no traced object and no heat of their own (heat unknown) are never
 * moved: a demotion needs evidence (a page known to be cold), else nothing moves. ratio / threshold policies: a page belongs to its
 * arena's tier (the allocator decided), and the planner only puts back pages that
 * are elsewhere. Every policy: a page moved within `cooldown` passes stays put (no
 * ping-pong), a page whose place is unknown is left alone, and each pass acts on at most a share of its candidates (0.25 + 0.75 *
 * aggressiveness) within the rate caps. */
#include "planner.h"
#include "heapsort.h"
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int hotter_first(uint32_t a, uint32_t b, const void *ctx)
{
    const pypper_plan_page *pages = ctx;
    float x = pages[a].heat, y = pages[b].heat;
    return x < y ? 1 : x > y ? -1 : a < b ? -1 : a > b;
}

static int colder_first(uint32_t a, uint32_t b, const void *ctx)
{
    const pypper_plan_page *pages = ctx;
    float x = pages[a].heat, y = pages[b].heat;
    return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b;
}

static size_t share(size_t n, double aggressiveness)
{
    if (!n)
        return 0;
    size_t k = (size_t)((double)n * (0.25 + 0.75 * aggressiveness) + 0.999);
    return k < 1 ? 1 : k > n ? n : k;
}

static bool cooling(const pypper_plan_page *pg, const pypper_plan_params *p, unsigned cooldown)
{
    return pg->unplaced || (pg->moved_pass && p->pass - pg->moved_pass < cooldown);
}

void pypper_plan_pages(const pypper_plan_page *pages, size_t n, const pypper_plan_params *p,
                       pypper_plan *out, uint32_t *scratch)
{
    out->npromote = out->ndemote = 0;
    out->fast_pages = out->slow_pages = out->unknown_pages = 0;
    out->skipped_cooldown = out->held_by_cap = out->held_unknown = 0;
    double a = p->aggressiveness < 0 ? 0 : p->aggressiveness > 1 ? 1 : p->aggressiveness;
    out->margin = 0.5 * (1.0 - a);
    out->cooldown = 1u + (unsigned)((1.0 - a) * 4.0 + 0.5);
    out->cutoff = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (pages[i].placed == PYPPER_TIER_FAST)
            out->fast_pages++;
        else
            out->slow_pages++;
        if (pages[i].heat < 0)
            out->unknown_pages++;
    }

    uint32_t *order = scratch;
    size_t np = 0, nd = 0;

    if (p->policy != PYPPER_POLICY_TEMPERATURE) {
        for (size_t i = 0; i < n; i++) {
            const pypper_plan_page *pg = &pages[i];
            if (pg->placed == pg->arena_tier)
                continue;
            if (cooling(pg, p, out->cooldown)) {
                out->skipped_cooldown++;
                continue;
            }
            if (pg->arena_tier == PYPPER_TIER_FAST)
                out->promote[np++] = (uint32_t)i;
            else
                out->demote[nd++] = (uint32_t)i;
        }
    } else {
        /* The cutoff (reported): heat of the page at rank budget_pages. */
        size_t known = 0;
        for (size_t i = 0; i < n; i++)
            if (pages[i].heat >= 0)
                order[known++] = (uint32_t)i;
        pypper_heapsort(order, known, hotter_first, pages);
        if (p->budget_pages < known)
            out->cutoff = pages[order[p->budget_pages]].heat;
        /* Promotion candidates, hottest first, into out->promote (not yet taken). */
        size_t nc = 0;
        for (size_t r = 0; r < known; r++) {
            const pypper_plan_page *pg = &pages[order[r]];
            if (pg->placed != PYPPER_TIER_SLOW || pg->heat <= 0)
                continue;
            if (cooling(pg, p, out->cooldown)) {
                out->skipped_cooldown++;
                continue;
            }
            out->promote[nc++] = order[r];
        }
        /* Demotion victims, coldest first; never a page without evidence. */
        size_t nv = 0;
        for (size_t i = 0; i < n; i++) {
            if (pages[i].placed != PYPPER_TIER_FAST)
                continue;
            if (pages[i].heat < 0) {
                out->held_unknown++;
                continue;
            }
            if (cooling(&pages[i], p, out->cooldown)) {
                out->skipped_cooldown++;
                continue;
            }
            order[nv++] = (uint32_t)i;
        }
        pypper_heapsort(order, nv, colder_first, pages);
        size_t vi = 0, ci = 0;
        bool limited = p->budget_pages != SIZE_MAX;
        /* 1. Pressure: the fast tier holds more than the budget. */
        size_t pressure = limited && out->fast_pages > p->budget_pages
                          ? out->fast_pages - p->budget_pages : 0;
        while (nd < pressure && vi < nv)
            out->demote[nd++] = order[vi++];
        /* 2. Free room in the budget: the hottest slow pages move up. */
        size_t room = !limited ? SIZE_MAX
                      : p->budget_pages > out->fast_pages ? p->budget_pages - out->fast_pages : 0;
        while (ci < nc && room > 0) {
            np++;
            ci++;
            if (room != SIZE_MAX)
                room--;
        }
        /* 3. Swaps: a slow page displaces the coldest fast one only when it is hotter
         * by the hysteresis margin. */
        while (ci < nc && vi < nv) {
            const pypper_plan_page *c = &pages[out->promote[ci]], *v = &pages[order[vi]];
            double vh = v->heat > 0 ? v->heat : 0.0;
            if (!(c->heat > vh * (1.0 + out->margin)))
                break;
            np++;
            ci++;
            out->demote[nd++] = order[vi++];
        }
        /* 4. Without lazy demotion every page known to be cold leaves too. */
        if (!p->lazy_demotion)
            for (; vi < nv; vi++)
                if (pages[order[vi]].heat >= 0 && pages[order[vi]].heat <= p->cold_heat)
                    out->demote[nd++] = order[vi];
    }

    /* Share of candidates per pass, then the rate caps; demotions (room) first. */
    double portion = p->all_candidates ? 1.0 : a;
    size_t kd = share(nd, portion), kp = share(np, portion);
    /* Demotions that did not stick slow the background rounds' demotions down
     * (Pypper/mistakes.h); the program's own migrate_now() is not paced. */
    if (kd && !p->all_candidates && p->demote_scale > 0 && p->demote_scale < 1) {
        size_t scaled = (size_t)((double)kd * p->demote_scale + 0.5);
        kd = scaled < 1 ? 1 : scaled;
    }
    if (kp > p->promote_cap)
        kp = p->promote_cap;
    if (kd > p->move_cap)
        kd = p->move_cap;
    if (kp > p->move_cap - kd)
        kp = p->move_cap - kd;
    if (p->policy == PYPPER_POLICY_TEMPERATURE && p->budget_pages != SIZE_MAX) {
        size_t stay = out->fast_pages - (kd < out->fast_pages ? kd : out->fast_pages);
        size_t room = p->budget_pages > stay ? p->budget_pages - stay : 0;
        if (kp > room)
            kp = room;
    }
    out->held_by_cap += (nd - kd) + (np - kp);
    out->ndemote = kd;
    out->npromote = kp;
}
