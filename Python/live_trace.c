/* Python/live_trace.c: the live trace: which Python objects are alive, kept in the
 * object table (Pypper/objtable.c) while a session runs.
 *
 * - At start, a full pass over the cyclic GC's generation lists (and the permanent
 *   generation) tracks every container, and through tp_traverse its referents, so
 *   non-container objects (str, int, float, bytes, untracked tuples and dicts) are
 *   known too.
 * - Afterwards, at the "start" of every collection, the youngest generation is
 *   walked the same way: every object that can survive into an older generation
 *   passes through it, and what dies in the collection leaves the table again
 *   through the heap's free path (Objects/track.c), which never reads freed memory.
 *   This reads no list pointer across a collection (a tail recorded at "start" may
 *   be freed by then), at the price of visiting the young objects that die.
 * - Immortal objects and objects outside Pypper's heap (static types, other
 *   allocators) are skipped.
 * Each pass runs with the GIL held; its duration is recorded (count, total, maximum,
 * and a histogram for the 99th percentile). */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_interp.h"

#include "live_trace.h"

#include "../Objects/heap.h"
#include "../Objects/track.h"
#include "../Pypper/log.h"
#include "../Pypper/objtable.h"

#include <time.h>

/* Pause histogram: bucket i counts passes of [2^(i-1), 2^i) microseconds. */
#define PAUSE_BUCKETS 32

static struct {
    bool on;
    PyObject *callback;                 /* our entry in gc.callbacks */
    uint64_t passes;
    uint64_t pause_total_ns, pause_max_ns;
    uint64_t pause_hist[PAUSE_BUCKETS];
    uint64_t full_pass_ns, full_pass_objects;
    uint64_t tracked_total, freed;
    uint64_t table_failures;
} LT;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record_pause(uint64_t ns)
{
    LT.passes++;
    LT.pause_total_ns += ns;
    if (ns > LT.pause_max_ns)
        LT.pause_max_ns = ns;
    uint64_t us = ns / 1000;
    unsigned b = us ? 64 - (unsigned)__builtin_clzll(us) : 0;
    LT.pause_hist[b < PAUSE_BUCKETS ? b : PAUSE_BUCKETS - 1]++;
}

/* Upper edge (microseconds) of the bucket holding the 99th percentile pass. */
static uint64_t pause_p99_us(void)
{
    uint64_t want = LT.passes - LT.passes / 100, seen = 0;
    for (unsigned b = 0; b < PAUSE_BUCKETS; b++) {
        seen += LT.pause_hist[b];
        if (seen >= want && LT.passes) {
            uint64_t edge = (uint64_t)1 << b, max_us = LT.pause_max_ns / 1000 + 1;
            return edge < max_us ? edge : max_us;
        }
    }
    return 0;
}

static void forget_block(void *block)
{
    if (pypper_objtable_remove(block))
        LT.freed++;
}

/* Add op to the table if it lives in an allocated block of the heap and is not
 * tracked yet. Returns 1 when it was added. */
static int track_object(PyObject *op)
{
    if (_Py_IsImmortal(op))
        return 0;
    bool locked = pypper_heap_lock();
    void *block = pypper_heap_track_containing(op);
    int added = 0;
    if (block) {
        if (pypper_objtable_add(block, op) == 0) {
            added = 1;
        } else {
            pypper_heap_untrack(block);
            LT.table_failures++;
        }
    }
    pypper_heap_unlock(locked);
    LT.tracked_total += (uint64_t)added;
    return added;
}

static int visit_referent(PyObject *op, void *depth)
{
    /* Containers the GC tracks are in its lists and get their own visit. */
    if (op == NULL || (PyObject_IS_GC(op) && PyObject_GC_IsTracked(op)))
        return 0;
    if (track_object(op) && depth == NULL && PyObject_IS_GC(op)) {
        /* An untracked container (a tuple or dict of atoms): its items, one level. */
        traverseproc traverse = Py_TYPE(op)->tp_traverse;
        if (traverse)
            traverse(op, visit_referent, (void *)1);
    }
    return 0;
}

static void track_with_referents(PyObject *op)
{
    track_object(op);
    traverseproc traverse = Py_TYPE(op)->tp_traverse;
    if (traverse)
        traverse(op, visit_referent, NULL);
}

static uint64_t walk_list(PyGC_Head *head)
{
    uint64_t n = 0;
    for (PyGC_Head *g = _PyGCHead_NEXT(head); g != head; g = _PyGCHead_NEXT(g)) {
        track_with_referents((PyObject *)(g + 1));
        n++;
    }
    return n;
}

static PyObject *gc_callback(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyUnicode_Check(args[0]))
        Py_RETURN_NONE;
    if (LT.on && PyUnicode_CompareWithASCIIString(args[0], "start") == 0) {
        uint64_t t0 = now_ns();
        PyInterpreterState *interp = PyInterpreterState_Get();
        walk_list(&interp->gc.generations[0].head);
        record_pause(now_ns() - t0);
    }
    Py_RETURN_NONE;
}

static PyMethodDef callback_def = {
    "_pypper_live_trace", (PyCFunction)(void (*)(void))gc_callback, METH_FASTCALL,
    "Pypper's live trace: walks the young generation before each collection."};

static PyObject *gc_callbacks_list(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    if (!gc)
        return NULL;
    PyObject *list = PyObject_GetAttrString(gc, "callbacks");
    Py_DECREF(gc);
    if (list && !PyList_Check(list)) {
        Py_DECREF(list);
        PyErr_SetString(PyExc_RuntimeError, "gc.callbacks is not a list");
        return NULL;
    }
    return list;
}

int pypper_live_trace_start(void)
{
    if (LT.on)
        return 0;
    PyObject *list = gc_callbacks_list();
    PyObject *cb = list ? PyCFunction_New(&callback_def, NULL) : NULL;
    if (!cb || PyList_Append(list, cb) < 0) {
        Py_XDECREF(cb);
        Py_XDECREF(list);
        return -1;
    }
    Py_DECREF(list);
    memset(&LT, 0, sizeof(LT));
    LT.callback = cb;
    LT.on = true;
    pypper_heap_set_untrack_hook(forget_block);

    uint64_t t0 = now_ns();
    /* Room for every block of the heap at once: no rehashing during the pass. */
    pypper_heap_stats *hs = PyMem_RawMalloc(sizeof(*hs));
    if (hs) {
        pypper_heap_get_stats(hs);
        pypper_objtable_reserve(hs->tier[0].blocks_in_use + hs->tier[1].blocks_in_use);
        PyMem_RawFree(hs);
    }
    PyInterpreterState *interp = PyInterpreterState_Get();
    uint64_t containers = 0;
    for (int i = 0; i < NUM_GENERATIONS; i++)
        containers += walk_list(&interp->gc.generations[i].head);
    containers += walk_list(&interp->gc.permanent_generation.head);
    uint64_t ns = now_ns() - t0;
    LT.full_pass_ns = ns;
    LT.full_pass_objects = pypper_objtable_count();
    record_pause(ns);
    pypper_log(PYPPER_LOG_INFO, "live trace: %llu objects (%llu containers) in %.1f ms",
               (unsigned long long)LT.full_pass_objects, (unsigned long long)containers,
               (double)ns / 1e6);
    return 0;
}

void pypper_live_trace_stop(void)
{
    if (!LT.on)
        return;
    LT.on = false;
    PyObject *list = gc_callbacks_list();
    if (list) {
        Py_ssize_t n = PyList_GET_SIZE(list);
        for (Py_ssize_t i = n - 1; i >= 0; i--) {
            if (PyList_GET_ITEM(list, i) == LT.callback) {
                PySequence_DelItem(list, i);
                break;
            }
        }
        Py_DECREF(list);
    }
    PyErr_Clear();
    Py_CLEAR(LT.callback);
    bool locked = pypper_heap_lock();
    pypper_heap_set_untrack_hook(NULL);
    const pypper_obj_entry *e = pypper_objtable_entries();
    for (size_t i = 0, n = pypper_objtable_count(); i < n; i++)
        pypper_heap_untrack(e[i].block);
    pypper_objtable_clear();
    pypper_heap_unlock(locked);
}

void pypper_live_trace_forget_after_fork(void)
{
    /* In a forked child: the table and bits are the parent's copy; drop them. */
    if (LT.on)
        pypper_live_trace_stop();
}

bool pypper_live_trace_running(void) { return LT.on; }

bool pypper_live_trace_knows(PyObject *op)
{
    if (!LT.on)
        return false;
    pypper_block_info info;
    bool locked = pypper_heap_lock();
    pypper_heap_lookup(op, &info);
    bool known = info.allocated && pypper_heap_is_tracked(info.block)
                 && pypper_objtable_contains(info.block);
    pypper_heap_unlock(locked);
    return known;
}

PyObject *pypper_live_trace_stats(void)
{
    return Py_BuildValue(
        "{s:O,s:n,s:K,s:K,s:K,s:K,s:d,s:d,s:d,s:K,s:d}",
        "running", LT.on ? Py_True : Py_False,
        "objects", (Py_ssize_t)pypper_objtable_count(),
        "tracked_total", (unsigned long long)LT.tracked_total,
        "freed", (unsigned long long)LT.freed,
        "passes", (unsigned long long)LT.passes,
        "full_pass_objects", (unsigned long long)LT.full_pass_objects,
        "full_pass_ms", (double)LT.full_pass_ns / 1e6,
        "full_pass_ns_per_object",
        LT.full_pass_objects ? (double)LT.full_pass_ns / (double)LT.full_pass_objects : 0.0,
        "pause_max_ms", (double)LT.pause_max_ns / 1e6,
        "table_failures", (unsigned long long)LT.table_failures,
        "pause_p99_ms", (double)pause_p99_us() / 1e3);
}
