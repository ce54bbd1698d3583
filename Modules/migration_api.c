/* Modules/migration_api.c: the migration plane as _pypper shows it: one round now,
 * the backend and its counters, the planner's placement of pages, and how much of
 * the heap is in buffers that can move. The plane is Python/migrate*.c, driven by
 * Python/engine.c. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "migration_api.h"

#include "../Pypper/stats.h"
#include "../Python/engine.h"
#include "../Python/migrate.h"
#include "../Python/owned_buffers.h"
#include "../Python/site_profile.h"

#include <string.h>

static PyObject *result_dict(const pypper_migrate_result *r)
{
    return Py_BuildValue(
        "{sKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsdsdsdsdsd}",
        "promoted_pages", (unsigned long long)r->promoted_pages,
        "demoted_pages", (unsigned long long)r->demoted_pages,
        "promoted_bytes", (unsigned long long)r->promoted_bytes,
        "demoted_bytes", (unsigned long long)r->demoted_bytes,
        "relocated_buffers", (unsigned long long)r->relocated_buffers,
        "relocated_bytes", (unsigned long long)r->relocated_bytes,
        "failed", (unsigned long long)r->failed,
        "absent", (unsigned long long)r->absent,
        "discarded_pages", (unsigned long long)r->discarded_pages,
        "pages", (unsigned long long)r->pages,
        "fast_pages", (unsigned long long)r->fast_pages,
        "slow_pages", (unsigned long long)r->slow_pages,
        "unknown_pages", (unsigned long long)r->unknown_pages,
        "unplaced_pages", (unsigned long long)r->unplaced_pages,
        "budget_pages", (unsigned long long)r->budget_pages,
        "held_by_cooldown", (unsigned long long)r->held_by_cooldown,
        "held_by_cap", (unsigned long long)r->held_by_cap,
        "held_unknown", (unsigned long long)r->held_unknown,
        "mistakes", (unsigned long long)r->mistakes,
        "mistake_rate", r->mistake_rate,
        "demote_scale", r->demote_scale,
        "cutoff_heat", r->cutoff_heat,
        "collect_ms", r->collect_ms,
        "execute_ms", r->execute_ms);
}

static PyObject *py_migrate_now(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_migrate_result r;
    if (pypper_engine_migrate_now(&r) < 0)
        return NULL;
    return result_dict(&r);
}

static PyObject *action(pypper_stat_id tried, pypper_stat_id done, pypper_stat_id failed,
                        pypper_stat_id bytes)
{
    return Py_BuildValue("{sKsKsKsK}", "tried", (unsigned long long)pypper_stat_get(tried),
                         "done", (unsigned long long)pypper_stat_get(done),
                         "failed", (unsigned long long)pypper_stat_get(failed),
                         "bytes", (unsigned long long)pypper_stat_get(bytes));
}

static PyObject *py_migration_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_migrate_result last;
    pypper_migrate_last(&last);
    return Py_BuildValue(
        "{sssssbsKsKsKsKsdsNsNsNs{sKsKsKsK}sKsKsKsKsKsKsKsdsdsNsNsN}",
        "backend", pypper_migrate_backend_name(),
        "reason", pypper_migrate_backend_reason(),
        "running", pypper_migrate_running(),
        "passes", (unsigned long long)pypper_stat_get(PYPPER_STAT_MIGRATE_PASSES),
        "idle_rounds", (unsigned long long)pypper_stat_get(PYPPER_STAT_MIGRATE_IDLE),
        "spaced_rounds", (unsigned long long)pypper_stat_get(PYPPER_STAT_MIGRATE_SPACED),
        "walked_rounds", (unsigned long long)pypper_stat_get(PYPPER_STAT_MIGRATE_WALKS),
        "collect_cpu_ms", (double)pypper_migrate_collect_cpu_ns() / 1e6,
        "promote", action(PYPPER_STAT_PROMOTE_TRIED, PYPPER_STAT_PROMOTE_DONE,
                          PYPPER_STAT_PROMOTE_FAILED, PYPPER_STAT_PROMOTE_BYTES),
        "demote", action(PYPPER_STAT_DEMOTE_TRIED, PYPPER_STAT_DEMOTE_DONE,
                         PYPPER_STAT_DEMOTE_FAILED, PYPPER_STAT_DEMOTE_BYTES),
        "relocate", action(PYPPER_STAT_RELOCATE_TRIED, PYPPER_STAT_RELOCATE_DONE,
                           PYPPER_STAT_RELOCATE_FAILED, PYPPER_STAT_RELOCATE_BYTES),
        "errors",
        "ENOMEM", (unsigned long long)pypper_stat_get(PYPPER_STAT_ERR_ENOMEM),
        "EBUSY", (unsigned long long)pypper_stat_get(PYPPER_STAT_ERR_EBUSY),
        "EACCES", (unsigned long long)pypper_stat_get(PYPPER_STAT_ERR_EACCES),
        "other", (unsigned long long)pypper_stat_get(PYPPER_STAT_ERR_OTHER),
        "fallbacks", (unsigned long long)pypper_stat_get(PYPPER_STAT_FALLBACKS),
        "injected", (unsigned long long)pypper_stat_get(PYPPER_STAT_INJECTED),
        "segregated", (unsigned long long)pypper_stat_get(PYPPER_STAT_SEGREGATED),
        "fast_pages", (unsigned long long)last.fast_pages,
        "slow_pages", (unsigned long long)last.slow_pages,
        "budget_pages", (unsigned long long)last.budget_pages,
        "mistakes", (unsigned long long)pypper_stat_get(PYPPER_STAT_MISTAKES),
        "mistake_rate", last.mistake_rate,
        "demote_scale", last.demote_scale,
        "last", result_dict(&last),
        "cold_sites", pypper_migrate_cold_sites(),
        "profile", pypper_site_profile_stats());
}

static PyObject *py_placement_map(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return pypper_engine_placement_map();
}

static PyObject *py_relocatable_report(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (!pypper_migrate_running()) {
        PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
        return NULL;
    }
    return pypper_migrate_relocatable_report();
}

/* relocate(obj, tier): move the buffer obj owns to tier's arenas now. */
static PyObject *py_relocate(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *obj;
    const char *tier;
    if (!PyArg_ParseTuple(args, "Os:relocate", &obj, &tier))
        return NULL;
    unsigned t;
    if (strcmp(tier, "fast") == 0)
        t = 0;
    else if (strcmp(tier, "slow") == 0)
        t = 1;
    else {
        PyErr_Format(PyExc_ValueError, "tier must be 'fast' or 'slow', not %R", PyTuple_GET_ITEM(args, 1));
        return NULL;
    }
    (void)pypper_owned_buffers_init();
    size_t bytes;
    int rc = pypper_relocate_buffer(obj, t, &bytes);
    pypper_stat_add(PYPPER_STAT_RELOCATE_TRIED, 1);
    if (rc < 0) {
        pypper_stat_add(PYPPER_STAT_RELOCATE_FAILED, 1);
        PyErr_Format(PyExc_MemoryError, "no memory in the %s tier for the buffer", tier);
        return NULL;
    }
    if (rc > 0) {
        pypper_stat_add(PYPPER_STAT_RELOCATE_DONE, 1);
        pypper_stat_add(PYPPER_STAT_RELOCATE_BYTES, bytes);
    }
    return PyLong_FromSize_t(bytes);
}

static PyObject *py_test_collect_cost(PyObject *module, PyObject *arg)
{
    (void)module;
    double ms = PyFloat_AsDouble(arg);
    if (ms == -1.0 && PyErr_Occurred())
        return NULL;
    if (!(ms >= 0.0 && ms <= 3.6e6)) {
        PyErr_SetString(PyExc_ValueError, "_test_collect_cost(ms): ms must be in [0, 3600000]");
        return NULL;
    }
    if (!pypper_migrate_running()) {
        PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
        return NULL;
    }
    return PyFloat_FromDouble((double)pypper_migrate_test_set_collect_cpu_ns((uint64_t)(ms * 1e6)) / 1e6);
}

PyMethodDef pypper_migration_methods[] = {
    {"_test_collect_cost", py_test_collect_cost, METH_O,
     "_test_collect_cost(ms) -> float: for tests: take the last round's collection as "
     "having cost ms of CPU time (it spaces the next round); returns the value before"},
    {"relocate", py_relocate, METH_VARARGS,
     "relocate(obj, 'fast'|'slow') -> bytes moved (0: nothing movable now)"},
    {"migrate_now", py_migrate_now, METH_NOARGS,
     "migrate_now() -> dict: one migration round now (RuntimeError without a session)"},
    {"migration_stats", py_migration_stats, METH_NOARGS,
     "migration_stats() -> dict: backend, why, and counters of every action"},
    {"placement_map", py_placement_map, METH_NOARGS,
     "placement_map() -> [(page, 'fast'|'slow')] as of the last round"},
    {"relocatable_report", py_relocatable_report, METH_NOARGS,
     "relocatable_report() -> dict: bytes of traced objects and of their owned buffers"},
    {NULL, NULL, 0, NULL},
};
