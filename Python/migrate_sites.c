/* Python/migrate_sites.c: where new objects go (the placement hook the migration
 * plane installs in the allocator, Objects/placement.h): cold allocation sites learnt
 * from the walk's statistics (segregation) or named by a previous run's profile
 * (site_profile.h), or the threshold policy's size cut, which follows the fast-tier
 * budget; and the per-site statistics a profile is saved from. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_frame.h"
#include "internal/pycore_pystate.h"

#include "alloc_sites.h"
#include "site_profile.h"
#include "../Objects/placement.h"
#include "../Pypper/stats.h"
#include "migrate_internal.h"
#include "../Pypper/code_size.h"

#include <string.h>

static inline size_t cold_slot(const void *code, int offset)
{
    uint64_t h = ((uint64_t)(uintptr_t)code * 31 + (uint64_t)offset) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 52) & (COLD_SLOTS - 1);
}

/* The threshold policy's hook. */
static unsigned size_hook(size_t size, unsigned tier)
{
    (void)tier;
    return size < M.threshold ? PYPPER_TIER_FAST : PYPPER_TIER_SLOW;
}

/* Segregation's hook: at every allocation while installed (Objects/heap.c), in the
 * allocating thread (its GIL held): no allocation, no Python calls, few loads. */
static unsigned site_hook(size_t size, unsigned tier)
{
    (void)size;
    if (tier == PYPPER_TIER_SLOW)
        return tier;
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    if (!ts || !ts->cframe)
        return tier;
    _PyInterpreterFrame *f = ts->cframe->current_frame;
    while (f && f->owner == FRAME_OWNED_BY_CSTACK)
        f = f->previous;
    if (!f || !f->prev_instr || ts->interp != M.interp)
        return tier;
    PyCodeObject *code = f->f_code;
    int offset = (int)(f->prev_instr - _PyCode_CODE(code));
    const cold_site *c = &M.cold[cold_slot(code, offset)];
    if ((c->code == code && c->offset == offset && pypper_alloc_site_code(c->site) == code)
        || pypper_site_profile_cold(code, offset)) {
        pypper_stat_add(PYPPER_STAT_SEGREGATED, 1);
        return PYPPER_TIER_SLOW;
    }
    return tier;
}

/* Cold sites from the site statistics of the table's rotation so far: each round adds
 * the sites found cold; a completed rotation (replace) starts the set afresh from its
 * full statistics, so a site that warmed up leaves it. */
PYPPER_SMALL_CODE void pypper_mig_learn_sites(bool replace)
{
    /* (An empty set is all zero already: its pages stay untouched.) */
    if ((replace || !M.separating) && M.ncold) {
        memset(M.cold, 0, COLD_SLOTS * sizeof(cold_site));
        M.ncold = 0;
    }
    if (!M.separating)
        return;
    for (uint32_t s = 1; s < M.site_hi; s++) {
        if (M.site_objects[s] < SITE_MIN_OBJECTS)
            continue;
        const void *code;
        int offset;
        if (!pypper_alloc_site_key(s, &code, &offset))
            continue;
        if (M.site_cold[s] < SITE_COLD_SHARE * M.site_bytes[s]) {
            /* This run's evidence outweighs a profile's: a site seen warm is not. */
            if (M.site_cold[s] < SITE_WARM_SHARE * M.site_bytes[s])
                pypper_site_profile_overrule(code, offset);
            continue;
        }
        cold_site *c = &M.cold[cold_slot(code, offset)];
        if (c->code == code && c->offset == offset && c->site == s)
            continue;                           /* known already (a dead code's site at
                                                   the same address is replaced) */
        if (!c->code) {
            if (M.ncold < COLD_REPORT)
                M.cold_ids[M.ncold] = s;
            M.ncold++;
        }
        *c = (cold_site){code, offset, s};      /* a collision keeps the later one */
    }
}

/* Cold data has somewhere to go: a fast-tier budget below 100%, or eager demotion
 * (M.separating adds the settling time; a profile's evidence is from a run that had
 * it). */
bool pypper_mig_slow_tier_wanted(void)
{
    const pypper_size *fb = &M.cfg.fast_budget;
    return !fb->is_percent || fb->percent < 100.0 || !M.cfg.lazy_demotion;
}

bool pypper_mig_round_idle(void)
{
    return M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE && !pypper_mig_slow_tier_wanted()
           && !pypper_heap_tier_used(PYPPER_TIER_SLOW);
}

void pypper_mig_update_hook(void)
{
    bool segregating = M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE
                       && ((M.separating && M.ncold)
                           || (pypper_site_profile_active() && pypper_mig_slow_tier_wanted()));
    pypper_placement_site_hook = !M.on ? NULL
                                 : M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD ? size_hook
                                 : segregating ? site_hook : NULL;
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

/* Per allocation site: objects, bytes and the bytes of cold objects (temperature
 * below COLD_THRESHOLD), summed over the slices looked at since the session settled
 * and one last pass over the whole object table now, with the site's identity across
 * runs: a list of (fingerprint, instruction, file, qualified name, first line, line,
 * objects, bytes, cold bytes). Object bodies, as the online statistics count them. */
PyObject *pypper_migrate_site_totals(uint32_t now_ms)
{
    if (!M.on) {
        PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
        return NULL;
    }
    uint32_t nsites = pypper_alloc_sites_count();
    if (nsites >= SITE_MAX)
        nsites = SITE_MAX - 1;
    size_t n = (size_t)nsites + 1;
    double *bytes = map_array(n * sizeof(double)), *cold = map_array(n * sizeof(double));
    uint32_t *objects = map_array(n * sizeof(uint32_t));
    if (!bytes || !cold || !objects) {
        unmap_array(bytes, n * sizeof(double));
        unmap_array(cold, n * sizeof(double));
        unmap_array(objects, n * sizeof(uint32_t));
        return PyErr_NoMemory();
    }
    memcpy(bytes, M.sess_bytes, n * sizeof(double));
    memcpy(cold, M.sess_cold, n * sizeof(double));
    memcpy(objects, M.sess_objects, n * sizeof(uint32_t));
    const pypper_model_params *mp = pypper_model_params_get();
    bool locked = pypper_heap_lock();
    (void)pypper_objtable_sync();
    size_t count = pypper_objtable_count();
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        uint32_t s = pypper_entry_site(e);
        if (!s || s > nsites || !pypper_objtable_current(e))
            continue;
        pypper_block_info info;
        pypper_heap_lookup(pypper_entry_block(e), &info);
        if (!info.allocated)
            continue;
        const pypper_obj_state *st = pypper_entry_state(e);
        double h = st->heat > 0 ? pypper_model_heat(st, now_ms) : 0.0;
        double t = h > 0 ? pypper_model_temperature(h, now_ms) : 0.0;
        objects[s]++;
        bytes[s] += (double)info.size;
        if (t < mp->cold_threshold)
            cold[s] += (double)info.size;
    }
    pypper_heap_unlock(locked);

    PyObject *list = PyList_New(0);
    for (uint32_t s = 1; list && s <= nsites; s++) {
        pypper_site_identity id;
        if (!objects[s] || !pypper_alloc_site_identity(s, &id))
            continue;
        PyObject *row = Py_BuildValue(
            "(KiOOiiIdd)", (unsigned long long)pypper_alloc_site_fingerprint(s), id.offset,
            id.filename, id.qualname, id.firstlineno, id.line, objects[s], bytes[s], cold[s]);
        if (!row || PyList_Append(list, row) < 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    unmap_array(bytes, n * sizeof(double));
    unmap_array(cold, n * sizeof(double));
    unmap_array(objects, n * sizeof(uint32_t));
    return list;
}

bool pypper_migrate_settled(uint32_t now_ms)
{
    return now_ms >= SETTLE_MS;
}

void pypper_migrate_update_placement(void)
{
    pypper_mig_update_hook();
}
