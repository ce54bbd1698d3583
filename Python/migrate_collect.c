/* Python/migrate_collect.c: a round's collect half (GIL held): the page list, a
 * slice of the traced objects and every object with heat, spreading heat over pages
 * and choosing the owned buffers to relocate, the site statistics, then the
 * relocations, the cold sites and the placement hook, and the heat that counts as
 * cold for the plan. */
#include "../Pypper/code_size.h"
#include "migrate_internal.h"

#include "../Objects/residency.h"
#include "../Objects/track.h"
#include "live_trace.h"
#include "scan_groups.h"
#include "traced_entry.h"
#include "../Pypper/stats.h"

#include <math.h>
#include <string.h>

/* The buffer an object owns. Whether its type can own one is learnt the first time
 * and kept in its entry if it has one (the note: 0 not known yet, 1 cannot, 2 can;
 * the kinds of buffer owners do not change type), so such objects are not read
 * again. */
static pypper_buf_kind buffer_of(pypper_obj_entry *e, PyObject *op, pypper_owned_buffer *b)
{
    b->kind = PYPPER_BUF_NONE;
    if (e && pypper_entry_note(e) == 1)
        return PYPPER_BUF_NONE;
    pypper_owned_buffer_of(op, b);
    if (e && !pypper_entry_note(e) && Py_REFCNT(op) > 0)
        pypper_entry_set_note(e, pypper_type_may_own_buffer(Py_TYPE(op)) ? 2 : 1);
    return b->kind;
}

/* e's own heat now (0 without an entry or evidence). */
static double own_heat(const pypper_obj_entry *e, uint32_t now_ms)
{
    const pypper_obj_state *st = e ? pypper_entry_state(e) : &pypper_obj_state_zero;
    return st->heat > 0 ? pypper_model_heat(st, now_ms) : 0.0;
}

/* Per object (one with evidence, or in this round's slice): heat onto its pages and
 * its buffer's, the buffer's relocation, and for the slice the site statistics. e:
 * its entry, or NULL (no evidence, no site); own: its own heat (own_heat). */
static void visit(void *block, PyObject *op, pypper_obj_entry *e, double own, uint32_t now_ms,
                  bool slice, bool learn, const pypper_model_params *mp)
{
    double h = pypper_object_heat(own, op, now_ms);
    pypper_block_info info;
    pypper_heap_lookup(block, &info);
    if (!info.allocated)
        return;
    if (h > 0)
        pypper_mig_spread(info.block, info.size, h);
    double t = h > 0 ? pypper_model_temperature(h, now_ms) : 0.0;
    uint32_t site = e ? pypper_entry_site(e) : 0;
    if (slice && learn && site && site < SITE_MAX) {
        M.site_bytes[site] += (float)info.size;
        M.site_objects[site]++;
        if (t < mp->cold_threshold)
            M.site_cold[site] += (float)info.size;
        if (site >= M.site_hi)
            M.site_hi = site + 1;
        if (now_ms >= SETTLE_MS) {
            M.sess_bytes[site] += (double)info.size;
            M.sess_objects[site]++;
            if (t < mp->cold_threshold)
                M.sess_cold[site] += (double)info.size;
        }
    }
    /* Without heat, a buffer matters only to a round that places pages (its pages
     * become known as cold) or that sends cold buffers to the slow tier: an idle
     * round (nothing to place) reads no object. */
    if (h == 0 && !M.pages_listed && !M.separating)
        return;
    if (!pypper_residency_may_touch(info.block))     /* in swap: not read */
        return;
    pypper_owned_buffer b;
    if (buffer_of(e, op, &b) == PYPPER_BUF_NONE)
        return;
    pypper_mig_spread(b.block, b.size, h);
    /* A buffer the pageout backend sent to swap would be faulted in by the copy. */
    if (!M.cfg.relocate || !b.movable || b.size < RELOC_MIN_BYTES
        || M.nreloc >= RELOC_MAX || !pypper_residency_may_touch(b.block))
        return;
    unsigned want = t >= mp->hot_threshold ? PYPPER_TIER_FAST
                    : t < mp->cold_threshold && M.separating ? PYPPER_TIER_SLOW : 2u;
    pypper_block_info bi;
    pypper_heap_lookup(b.block, &bi);
    if (want < 2 && bi.tier != want && b.size <= M.reloc_budget) {
        M.reloc[M.nreloc++] = (reloc_req){op, want};
        M.reloc_budget -= b.size;
    }
}

/* Heat below this share of the reference heat (temperature 0.008) is as none: the
 * objects with only that wait for the slice like those without. In a program that
 * walks many objects once they are most of those with evidence (a newcomer's ETL job:
 * a round visited 24,000 of its 40,000 entries, in 7-12 ms; 3,000-11,000 now). The
 * objects with heat are found from the model's states (objtable.h), not by a look at
 * every entry's. */
#define NEGLIGIBLE_SHARE 1e-3

/* This round's slice: the next tracked objects in address order (Objects/track.h),
 * 1/SLICE_ROUNDS of them (within [SLICE_MIN, SLICE_MAX]), every one looked at for
 * relocation and for the site statistics; then every object with evidence (heat)
 * outside the slice, through its entry. A rotation that reaches the heap's end ends with learning the cold
 * sites. learn: sites are learnt (their statistics summed). */
static void walk_objects(uint32_t now_ms, bool whole, bool learn)
{
    const pypper_model_params *mp = pypper_model_params_get();
    size_t objects = pypper_live_trace_objects();
    size_t span = whole ? SIZE_MAX : objects / SLICE_ROUNDS + 1;
    if (span < SLICE_MIN)
        span = SLICE_MIN;
    if (span > SLICE_MAX && !whole)
        span = SLICE_MAX;
    if (whole)
        M.slice_start = 0;
    if (M.slice_start == 0 && learn) {
        /* Only the sites seen: the arrays' pages above them stay untouched. */
        memset(M.site_bytes, 0, M.site_hi * sizeof(float));
        memset(M.site_cold, 0, M.site_hi * sizeof(float));
        memset(M.site_objects, 0, M.site_hi * sizeof(uint32_t));
        M.site_hi = 0;
    }
    uint64_t lo = M.slice_start, hi = lo, end = pypper_heap_granule_end();
    bool more = true;
    size_t k = 0;
    pypper_tracked_block t;
    while (k < span && (more = pypper_heap_tracked_next(&hi, end, &t))) {
        k++;
        if (!t.object)
            continue;
        pypper_obj_entry *e = t.noted ? pypper_traced_entry_find(t.block, t.object) : NULL;
        visit(t.block, t.object, e, own_heat(e, now_ms), now_ms, true, learn, mp);
    }
    size_t count = pypper_objtable_count();
    double negligible = pypper_model_reference_heat(now_ms) * NEGLIGIBLE_SHARE;
    size_t cursor = 0, i;
    const pypper_obj_state *st;
    while ((st = pypper_objtable_next_state(&cursor, &i)) != NULL) {
        if (!(st->heat > 0) || i >= count)
            continue;
        double own = pypper_model_heat(st, now_ms);
        if (own < negligible)
            continue;
        pypper_obj_entry *e = pypper_objtable_at(i);
        if (!pypper_objtable_current(e))
            continue;
        uint64_t g = pypper_heap_granule_of(pypper_entry_block(e));
        if (g >= lo && g < hi)
            continue;                   /* visited in the slice */
        visit(pypper_entry_block(e), pypper_entry_object(e), e, own, now_ms, false, learn, mp);
    }
    M.rotation_done = !more;
    M.slice_start = more ? hi : 0;
}

/* Once a migration round (a second or more apart): built for size. */
PYPPER_SMALL_CODE void pypper_mig_collect(bool whole, uint32_t now_ms, bool list_pages)
{
    (void)pypper_owned_buffers_init();      /* array.array: once the program imports it */
    M.whole_round = whole;
    uint64_t t0 = pypper_mono_ns();
    M.pass++;
    memset(&M.cur, 0, sizeof(M.cur));
    bool locked = pypper_heap_lock();
    M.pages_listed = list_pages;
    if (list_pages)
        (void)pypper_mig_list_pages(now_ms);
    else
        M.npages = 0;            /* heat has no page to go to */
    M.nreloc = 0;
    M.reloc_budget = pypper_mig_cap_bytes(M.cfg.migrate_mbps);
    M.separating = pypper_mig_slow_tier_wanted() && pypper_migrate_settled(now_ms);
    pypper_objtable_sync();
    /* (pypper.migrate() asks as a question does: groups built at once.) */
    if (whole)
        pypper_scan_groups_refresh(now_ms);
    else
        pypper_scan_groups_refresh_step(now_ms);
    /* An idle round (no pages listed: nothing can be placed, nothing is separated, no
     * buffer is in the slow tier) has one use for the walk: the site totals a PROFILE
     * saves at the end, summed once the session has settled and only while sites are
     * learnt (visit). Otherwise it would only cost the program's thread, about 600
     * instructions an object of the slice (pickle_sort.py: 4.5% of its main thread,
     * 2026-12-07). (A whole round lists pages.) */
    bool learn = M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE;
    if (list_pages || (M.cfg.profile[0] && learn && pypper_migrate_settled(now_ms))) {
        walk_objects(now_ms, whole, learn);
        pypper_stat_add(PYPPER_STAT_MIGRATE_WALKS, 1);
    }
    pypper_heap_unlock(locked);

    pypper_mig_relocate_queued();      /* outside the table's lock */
    if (learn)
        pypper_mig_learn_sites(M.rotation_done);
    if (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD)
        pypper_mig_adjust_threshold();
    pypper_mig_update_hook();

    /* The heat at COLD_THRESHOLD on today's scale (t = 1 - 10^-u). */
    const pypper_model_params *mp = pypper_model_params_get();
    double ref = pypper_model_reference_heat(now_ms);
    double u = -log10(1.0 - mp->cold_threshold);
    M.cold_heat = ref > 0 ? pow(1.0 + ref, u) - 1.0 : 0.0;
    M.cur.collect_ms = (double)(pypper_mono_ns() - t0) / 1e6;
}
