/* Python/migrate_sites.c: where new objects go (the placement hook the migration
 * plane installs in the allocator, Objects/placement.h): cold allocation sites learnt
 * from the walk's statistics (segregation), or the threshold policy's size cut, which
 * follows the fast-tier budget. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_frame.h"
#include "internal/pycore_pystate.h"

#include "alloc_sites.h"
#include "../Objects/placement.h"
#include "../Pypper/stats.h"
#include "migrate_internal.h"

#include <string.h>

static inline size_t cold_slot(const void *code, int offset)
{
    uint64_t h = ((uint64_t)(uintptr_t)code * 31 + (uint64_t)offset) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 52) & (COLD_SLOTS - 1);
}

/* Runs inside the allocator on its slow path, in the allocating thread (its GIL
 * held): no allocation, no Python calls. */
static unsigned site_hook(size_t size, unsigned tier)
{
    if (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD)
        return size < M.threshold ? PYPPER_TIER_FAST : PYPPER_TIER_SLOW;
    if (tier == PYPPER_TIER_SLOW || !M.ncold)
        return tier;
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    if (!ts || ts->interp != M.interp || !ts->cframe)
        return tier;
    _PyInterpreterFrame *f = ts->cframe->current_frame;
    while (f && f->owner == FRAME_OWNED_BY_CSTACK)
        f = f->previous;
    if (!f || !f->prev_instr)
        return tier;
    int offset = (int)(f->prev_instr - _PyCode_CODE(f->f_code));
    const cold_site *c = &M.cold[cold_slot(f->f_code, offset)];
    if (c->code == f->f_code && c->offset == offset) {
        pypper_stat_add(PYPPER_STAT_SEGREGATED, 1);
        return PYPPER_TIER_SLOW;
    }
    return tier;
}

/* Cold sites from the site statistics of the table's rotation so far: each round adds
 * the sites found cold; a completed rotation (replace) starts the set afresh from its
 * full statistics, so a site that warmed up leaves it. */
void pypper_mig_learn_sites(bool replace)
{
    /* (An empty set is all zero already: its pages stay untouched.) */
    if ((replace || !M.separating) && M.ncold) {
        memset(M.cold, 0, COLD_SLOTS * sizeof(cold_site));
        M.ncold = 0;
    }
    if (!M.separating)
        return;
    for (uint32_t s = 1; s < M.site_hi; s++) {
        if (M.site_objects[s] < SITE_MIN_OBJECTS
            || M.site_cold[s] < SITE_COLD_SHARE * M.site_bytes[s])
            continue;
        const void *code;
        int offset;
        if (!pypper_alloc_site_key(s, &code, &offset))
            continue;
        cold_site *c = &M.cold[cold_slot(code, offset)];
        if (c->code == code && c->offset == offset)
            continue;                           /* known already */
        if (!c->code) {
            if (M.ncold < COLD_REPORT)
                M.cold_ids[M.ncold] = s;
            M.ncold++;
        }
        *c = (cold_site){code, offset};         /* a collision keeps the later one */
    }
}

void pypper_mig_update_hook(void)
{
    bool want = M.on && (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD
                         || (M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE
                             && M.separating && M.ncold));
    pypper_placement_site_hook = want ? site_hook : NULL;
}

/* The threshold policy's size threshold follows the budget: halve it while the fast
 * tier holds more than FAST_BUDGET of the heap, double it while well under. */
void pypper_mig_adjust_threshold(void)
{
    pypper_heap_stats hs;
    pypper_heap_get_stats(&hs);
    double fast = (double)hs.tier[0].bytes_in_use, all = fast + (double)hs.tier[1].bytes_in_use;
    const pypper_size *b = &M.cfg.fast_budget;
    double limit = b->is_percent ? all * b->percent / 100.0 : (double)b->bytes;
    if (fast > limit && M.threshold > 16)
        M.threshold /= 2;
    else if (fast < 0.9 * limit && M.threshold < ((size_t)1 << 20))
        M.threshold *= 2;
}

PyObject *pypper_migrate_cold_sites(void)
{
    PyObject *list = PyList_New(0);
    size_t n = M.on ? (M.ncold < COLD_REPORT ? M.ncold : COLD_REPORT) : 0;
    for (size_t i = 0; list && i < n; i++) {
        PyObject *d = pypper_alloc_site_describe(M.cold_ids[i]);
        if (!d || PyList_Append(list, d) < 0)
            Py_CLEAR(list);
        Py_XDECREF(d);
    }
    return list;
}
