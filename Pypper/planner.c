/* Pypper/planner.c: the planner's decision (planner.h).
 *
 * temperature policy: rank pages by heat; the fast tier should hold the top
 * budget_pages (the cutoff is the heat at that rank). A slow page is promoted when its
 * heat clears the cutoff by the hysteresis margin; fast pages are demoted, coldest
 * first, only as far as the fast tier is over budget after the promotions (lazy
 * demotion), or, without lazy demotion, also every fast page colder than cold_heat.
 * Pages with no traced object (heat unknown) are never promoted and are demoted
 * after pages known to be cold. ratio / threshold policies: a page belongs to its
 * arena's tier (the allocator decided), and the planner only puts back pages that
 * are elsewhere. Every policy: a page moved within `cooldown` passes stays put (no
 * ping-pong), and each pass acts on at most a share of its candidates (0.25 + 0.75 *
 * aggressiveness) within the rate caps. */
#include "planner.h"
#include "backend.h"
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* qsort has no context argument in C11: the pages being sorted (callers serialize). */
static const pypper_plan_page *sort_pages;

static int hotter_first(const void *a, const void *b)
{
    float x = sort_pages[*(const size_t *)a].heat, y = sort_pages[*(const size_t *)b].heat;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Known-cold pages before unknown ones, then by heat. */
static float demote_key(const pypper_plan_page *pg)
{
    return pg->heat < 0 ? 1e-30f : pg->heat;
}

static int colder_first(const void *a, const void *b)
{
    float x = demote_key(&sort_pages[*(const size_t *)a]);
    float y = demote_key(&sort_pages[*(const size_t *)b]);
    return x < y ? -1 : x > y ? 1 : 0;
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
    return pg->moved_pass && p->pass - pg->moved_pass < cooldown;
}

void pypper_plan_pages(const pypper_plan_page *pages, size_t n, const pypper_plan_params *p,
                       pypper_plan *out, size_t *scratch)
{
    out->npromote = out->ndemote = 0;
    out->fast_pages = out->slow_pages = out->unknown_pages = 0;
    out->skipped_cooldown = out->held_by_cap = 0;
    double a = p->aggressiveness < 0 ? 0 : p->aggressiveness > 1 ? 1 : p->aggressiveness;
    out->margin = 0.5 * (1.0 - a);
    out->cooldown = 1u + (unsigned)((1.0 - a) * 4.0 + 0.5);
    out->cutoff = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (pages[i].placed == PYPPER_PLACE_FAST)
            out->fast_pages++;
        else
            out->slow_pages++;
        if (pages[i].heat < 0)
            out->unknown_pages++;
    }

    size_t *order = scratch;
    sort_pages = pages;
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
            if (pg->arena_tier == PYPPER_PLACE_FAST)
                out->promote[np++] = i;
            else
                out->demote[nd++] = i;
        }
    } else {
        /* The cutoff: heat of the page at rank budget_pages. */
        size_t known = 0;
        for (size_t i = 0; i < n; i++)
            if (pages[i].heat >= 0)
                order[known++] = i;
        qsort(order, known, sizeof(size_t), hotter_first);
        if (p->budget_pages < n && p->budget_pages < known)
            out->cutoff = pages[order[p->budget_pages]].heat;
        double up = out->cutoff * (1.0 + out->margin);
        double down = out->cutoff * (1.0 - out->margin);

        /* Promotions, hottest first: slow pages with evidence, into free room of the
         * budget, and beyond it (displacing colder pages) only when they clear the
         * cutoff by the hysteresis margin. */
        size_t room = p->budget_pages == SIZE_MAX ? SIZE_MAX
                      : p->budget_pages > out->fast_pages ? p->budget_pages - out->fast_pages : 0;
        for (size_t r = 0; r < known; r++) {
            const pypper_plan_page *pg = &pages[order[r]];
            if (pg->placed != PYPPER_PLACE_SLOW || pg->heat <= 0)
                continue;
            bool clears = pg->heat > up;
            if (!clears && room == 0)
                continue;
            if (cooling(pg, p, out->cooldown)) {
                out->skipped_cooldown++;
                continue;
            }
            out->promote[np++] = order[r];
            if (room && room != SIZE_MAX)
                room--;
        }
        /* Demotion candidates, coldest first. */
        size_t nf = 0;
        for (size_t i = 0; i < n; i++)
            if (pages[i].placed == PYPPER_PLACE_FAST)
                order[nf++] = i;
        qsort(order, nf, sizeof(size_t), colder_first);
        size_t over = 0;
        if (p->budget_pages != SIZE_MAX && out->fast_pages + np > p->budget_pages)
            over = out->fast_pages + np - p->budget_pages;
        for (size_t r = 0; r < nf; r++) {
            const pypper_plan_page *pg = &pages[order[r]];
            bool cold = pg->heat >= 0 && pg->heat < p->cold_heat;
            bool below = pg->heat < 0 || pg->heat < down || out->cutoff <= 0;
            bool needed = nd < over && below;
            if (!needed && !(cold && !p->lazy_demotion))
                continue;
            if (cooling(pg, p, out->cooldown)) {
                out->skipped_cooldown++;
                continue;
            }
            out->demote[nd++] = order[r];
        }
        /* Promotions that find no room stay slow. */
        if (p->budget_pages != SIZE_MAX) {
            size_t room = out->fast_pages - (nd < out->fast_pages ? nd : out->fast_pages);
            room = p->budget_pages > room ? p->budget_pages - room : 0;
            if (np > room) {
                out->held_by_cap += np - room;
                np = room;
            }
        }
    }

    /* Share of candidates per pass, then the rate caps; demotions (room) first. */
    size_t kd = share(nd, a), kp = share(np, a);
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
