/* Python/migrate_execute.c: a round's execute half, in the migration thread or the
 * caller of migrate_now(), without the GIL and without malloc (a fork may happen
 * meanwhile): where the pages are (the backend's locate, by its capabilities), the
 * plan (planner.c), the moves, the counts; failures injected for tests. */
#include "migrate_internal.h"

#include "../Pypper/heapsort.h"
#include "../Pypper/stats.h"

#include <errno.h>

static bool inject(int *err)
{
    if (M.cfg.test_fail_every <= 0)
        return false;
    uint64_t n = ++M.calls;
    if (n % (uint64_t)M.cfg.test_fail_every)
        return false;
    static const int errs[] = {ENOMEM, EBUSY, EACCES};
    *err = errs[M.injected++ % 3];
    pypper_stat_add(PYPPER_STAT_INJECTED, 1);
    return true;
}

static void count_error(int e)
{
    pypper_stat_add(e == ENOMEM ? PYPPER_STAT_ERR_ENOMEM : e == EBUSY ? PYPPER_STAT_ERR_EBUSY
                    : e == EACCES ? PYPPER_STAT_ERR_EACCES : PYPPER_STAT_ERR_OTHER, 1);
}

/* Where the n pages of M.addrs are, into M.status. */
static void locate(size_t n)
{
    int e;
    if (inject(&e)) {
        for (size_t i = 0; i < n; i++)
            M.status[i] = -e;
        count_error(e);
        return;
    }
    M.backend.ops->locate(M.addrs, n, M.status);
}

/* A round's answers for the n pages of M.addrs (pages[] indexes in M.chunk): into the
 * pages and Pypper's per-slot record, with the mistakes they reveal. */
static void note_located(size_t n)
{
    for (size_t k = 0; k < n; k++) {
        pypper_plan_page *p = &M.pages[M.chunk[k]];
        int w = M.status[k];
        size_t index = p->page;
        if (w == PYPPER_TIER_FAST || w == PYPPER_TIER_SLOW) {
            /* A page demoted lately is back in the fast tier: the program used it
             * (Pypper reads no page in swap), or the kernel brought it back. */
            if (w == PYPPER_TIER_FAST && where_of(index) == PL_SLOW
                && pypper_mistake_recent(M.moved[index], M.pass))
                M.cur.mistakes++;
            p->placed = (uint8_t)w;
            set_where(index, w == PYPPER_TIER_SLOW ? PL_SLOW : PL_FAST);
        } else if (where_of(index) == PL_UNKNOWN) {
            /* Not touched yet, or the query failed: asked again next round, and
             * left out of this round's plan. */
            p->unplaced = 1;
        }
    }
}

/* placement_map()'s answers: into the pages only. */
static void note_for_report(size_t n)
{
    for (size_t k = 0; k < n; k++) {
        pypper_plan_page *p = &M.pages[M.chunk[k]];
        int w = M.status[k];
        if (w == PYPPER_TIER_FAST || w == PYPPER_TIER_SLOW) {
            p->placed = (uint8_t)w;
            p->unplaced = 0;
        } else {
            p->unplaced = 1;
        }
    }
}

/* Ask the backend where the listed pages are (all of them, or those whose place is
 * unknown), MOVE_CHUNK a call; each call's answers go to note. A round's calls may
 * have failures injected (TEST_FAIL_EVERY); a report's do not. */
static void locate_pages(bool all, bool for_report)
{
    size_t n = 0;
    for (size_t i = 0; i < M.npages; i++) {
        if (all || where_of(M.pages[i].page) == PL_UNKNOWN) {
            M.chunk[n] = (uint32_t)i;
            M.addrs[n++] = pypper_heap_page_at(M.pages[i].page);
        }
        if (n == MOVE_CHUNK || (n && i + 1 == M.npages)) {
            if (for_report) {
                M.backend.ops->locate(M.addrs, n, M.status);
                note_for_report(n);
            } else {
                locate(n);
                note_located(n);
            }
            n = 0;
        }
    }
}

/* Where the pages are: pageout every round (mincore is cheap), numa for pages not
 * seen before or given back since (migrate_discards.c) and every LOCATE_ALL_EVERY
 * rounds, sim never (its record is all). */
static void refresh_placement(void)
{
    (void)pypper_mig_forget_discarded(false);
    if (!(M.backend.ops->caps & PYPPER_BACKEND_REPORTS_PLACEMENT)) {
        for (size_t i = 0; i < M.npages; i++) {
            size_t index = M.pages[i].page;
            if (where_of(index) == PL_UNKNOWN)
                set_where(index, M.pages[i].placed == PYPPER_TIER_SLOW ? PL_SLOW : PL_FAST);
        }
        return;
    }
    locate_pages((M.backend.ops->caps & PYPPER_BACKEND_CHEAP_LOCATE)
                 || M.pass % LOCATE_ALL_EVERY == 1, false);
}

void pypper_mig_locate_for_report(bool all)
{
    if (M.backend.ops->caps & PYPPER_BACKEND_REPORTS_PLACEMENT)
        locate_pages(all, true);
    /* else: the arenas' tiers, as listed */
}

static int ascending(uint32_t a, uint32_t b, const void *ctx)
{
    (void)ctx;
    return a < b ? -1 : a > b;
}

/* Move the chosen pages (indexes into pages[], which is in address order; sorted
 * here) to tier, in address order, MOVE_CHUNK pages a call. */
static void move_pages_to(uint32_t *chosen, size_t n, unsigned tier)
{
    bool promote = tier == PYPPER_TIER_FAST;
    pypper_heapsort(chosen, n, ascending, NULL);
    pypper_stat_add(promote ? PYPPER_STAT_PROMOTE_TRIED : PYPPER_STAT_DEMOTE_TRIED, n);
    uint64_t failed = 0;
    for (size_t off = 0; off < n; off += MOVE_CHUNK) {
        size_t m = n - off < MOVE_CHUNK ? n - off : MOVE_CHUNK;
        for (size_t i = 0; i < m; i++)
            M.addrs[i] = pypper_heap_page_at(M.pages[chosen[off + i]].page);
        int *status = M.status;
        int e;
        if (inject(&e)) {
            for (size_t i = 0; i < m; i++)
                status[i] = -e;
        } else {
            M.backend.ops->move(M.addrs, m, tier, status);
        }
        for (size_t i = 0; i < m; i++) {
            pypper_plan_page *p = &M.pages[chosen[off + i]];
            size_t index = p->page;
            if (status[i] == 0) {
                /* Promoted again soon after its demotion: a mistake. */
                if (promote && where_of(index) == PL_SLOW
                    && pypper_mistake_recent(M.moved[index], M.pass))
                    M.cur.mistakes++;
                set_where(index, promote ? PL_FAST : PL_SLOW);
                M.moved[index] = M.pass;
                p->placed = (uint8_t)tier;
                if (promote) {
                    M.cur.promoted_pages++;
                    M.cur.promoted_bytes += PAGE;
                } else {
                    M.cur.demoted_pages++;
                    M.cur.demoted_bytes += PAGE;
                }
                continue;
            }
            /* Not populated (never written, or discarded since the round began):
             * nothing to move, and no failure. */
            if (status[i] == -ENOENT || status[i] == -EFAULT) {
                M.cur.absent++;
                continue;
            }
            /* A failed page stays where it is; it waits out the cool-down. */
            M.moved[index] = M.pass;
            failed++;
            if (status[i] != -EAGAIN)
                count_error(-status[i]);
            if (!promote && status[i] == -ENOMEM)
                pypper_stat_add(PYPPER_STAT_FALLBACKS, 1);
        }
    }
    /* Absent pages count as tried, neither done nor failed. */
    M.cur.failed += failed;
    if (promote) {
        pypper_stat_add(PYPPER_STAT_PROMOTE_DONE, M.cur.promoted_pages);
        pypper_stat_add(PYPPER_STAT_PROMOTE_BYTES, M.cur.promoted_bytes);
        pypper_stat_add(PYPPER_STAT_PROMOTE_FAILED, failed);
    } else {
        pypper_stat_add(PYPPER_STAT_DEMOTE_DONE, M.cur.demoted_pages);
        pypper_stat_add(PYPPER_STAT_DEMOTE_BYTES, M.cur.demoted_bytes);
        pypper_stat_add(PYPPER_STAT_DEMOTE_FAILED, failed);
    }
}

static size_t budget_pages(void)
{
    const pypper_size *b = &M.cfg.fast_budget;
    if (!b->is_percent)
        return (size_t)(b->bytes / PAGE);
    if (b->percent >= 100.0)
        return SIZE_MAX;
    return (size_t)((double)M.npages * b->percent / 100.0);
}

static size_t pages_of(uint64_t bytes)
{
    return bytes == UINT64_MAX ? SIZE_MAX : (size_t)(bytes / PAGE);
}

void pypper_mig_execute(void)
{
    uint64_t t0 = pypper_mono_ns();
    refresh_placement();
    pypper_plan_params p = {
        .policy = M.cfg.migrate_policy,
        .budget_pages = budget_pages(),
        .aggressiveness = M.cfg.aggressiveness,
        .lazy_demotion = M.cfg.lazy_demotion,
        .cold_heat = M.cold_heat,
        .promote_cap = pages_of(pypper_mig_cap_bytes(M.cfg.promote_mbps ? M.cfg.promote_mbps : M.cfg.migrate_mbps)),
        .move_cap = pages_of(pypper_mig_cap_bytes(M.cfg.migrate_mbps)),
        .pass = M.pass,
        .all_candidates = M.whole_round,
        .demote_scale = M.mistakes.scale,
    };
    pypper_plan plan = {.promote = M.promote, .demote = M.demote};
    pypper_plan_pages(M.pages, M.npages, &p, &plan, M.scratch);
    move_pages_to(plan.demote, plan.ndemote, PYPPER_TIER_SLOW);
    move_pages_to(plan.promote, plan.npromote, PYPPER_TIER_FAST);

    /* As placement_map() shows them: pages whose place is unknown in neither count. */
    M.cur.pages = M.npages;
    M.cur.fast_pages = M.cur.slow_pages = M.cur.unplaced_pages = 0;
    for (size_t i = 0; i < M.npages; i++) {
        if (M.pages[i].unplaced)
            M.cur.unplaced_pages++;
        else if (M.pages[i].placed == PYPPER_TIER_SLOW)
            M.cur.slow_pages++;
        else
            M.cur.fast_pages++;
    }
    M.cur.unknown_pages = plan.unknown_pages;
    M.cur.budget_pages = p.budget_pages == SIZE_MAX ? M.npages : p.budget_pages;
    M.cur.held_by_cooldown = plan.skipped_cooldown;
    M.cur.held_by_cap = plan.held_by_cap;
    M.cur.held_unknown = plan.held_unknown;
    pypper_mistakes_round(&M.mistakes, M.cur.demoted_pages, M.cur.mistakes);
    pypper_stat_add(PYPPER_STAT_MISTAKES, M.cur.mistakes);
    M.cur.mistake_rate = M.mistakes.rate;
    M.cur.demote_scale = M.mistakes.scale;
    M.cur.cutoff_heat = plan.cutoff;
    M.cur.execute_ms = (double)(pypper_mono_ns() - t0) / 1e6;
    M.last = M.cur;
    pypper_stat_add(PYPPER_STAT_MIGRATE_PASSES, 1);
    M.last_ns = pypper_mono_ns();
}
