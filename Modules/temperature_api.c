/* Modules/temperature_api.c: the temperature functions of _pypper: one object's
 * temperature, the hottest objects, the sampler's figures and its test hooks; the
 * data of a snapshot and its sums are Modules/snapshot_data.c's (listed here). All run with the
 * GIL, after feeding the sampler's pending evidence to the model. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "temperature_api.h"
#include "snapshot_data.h"
#include "snapshot_rows_parse.h"

#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/track.h"
#include "../Pypper/objtable.h"
#include "../Pypper/temperature.h"
#include "../Python/active_trace.h"
#include "../Python/alloc_sites.h"
#include "../Python/buffer_heat.h"
#include "../Python/engine.h"
#include "../Python/frame_reader.h"
#include "../Python/live_trace.h"
#include "../Python/owned_buffers.h"
#include "../Python/scan_groups.h"
#include "../Python/site_infer.h"
#include "../Python/session.h"
#include "../Python/traced_entry.h"


static void refresh_groups(uint32_t now)
{
    bool locked = pypper_heap_lock();
    pypper_scan_groups_refresh(now);
    pypper_heap_unlock(locked);
}

/* (Scan groups refreshed by the caller.) */
static PyObject *temperature_of(PyObject *obj, uint32_t now)
{
    bool locked = pypper_heap_lock();
    double t = pypper_object_temperature(obj, now, 0);
    pypper_heap_unlock(locked);
    if (t < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(t);
}

static PyObject *py_temperature(PyObject *module, PyObject *obj)
{
    (void)module;
    if (!pypper_live_trace_running())
        Py_RETURN_NONE;
    pypper_frames_pause_begin();        /* (its argument is not the program's use) */
    pypper_engine_catch_up();
    uint32_t now = pypper_active_trace_now_ms();
    refresh_groups(now);
    PyObject *t = temperature_of(obj, now);
    pypper_frames_pause_end();
    return t;
}

static PyObject *py_temperatures(PyObject *module, PyObject *seq)
{
    (void)module;
    PyObject *fast = PySequence_Fast(seq, "temperatures() takes a sequence of objects");
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject *out = PyList_New(n);
    if (!out) {
        Py_DECREF(fast);
        return NULL;
    }
    bool running = pypper_live_trace_running();
    pypper_frames_pause_begin();        /* (its argument is not the program's use) */
    if (running)
        pypper_engine_catch_up();
    uint32_t now = pypper_active_trace_now_ms();
    if (running)
        refresh_groups(now);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = running ? temperature_of(PySequence_Fast_GET_ITEM(fast, i), now)
                              : Py_NewRef(Py_None);
        if (!t) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, t);
    }
    pypper_frames_pause_end();
    Py_DECREF(fast);
    return out;
}

/* An object ranked by heat: an entry's (index: its number in the table) or a scan
 * group's member without one (index NO_ENTRY). */
typedef struct {
    double heat;
    size_t index;
    const void *object;
} ranked;
#define NO_ENTRY SIZE_MAX

/* Sift down in a min-heap of the n hottest so far. */
static void sift(ranked *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].heat < h[m].heat)
            m = l;
        if (l + 1 < n && h[l + 1].heat < h[m].heat)
            m = l + 1;
        if (m == i)
            return;
        ranked t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int by_heat_desc(const void *a, const void *b)
{
    const ranked *p = a, *q = b;
    if (p->heat != q->heat)
        return p->heat < q->heat ? 1 : -1;
    return p->object < q->object ? -1 : p->object > q->object;   /* (duplicates meet) */
}

/* The n hottest so far in a min-heap of at most cap. */
typedef struct {
    ranked *heap;
    size_t n, cap;
} hottest_set;

static void offer(hottest_set *s, ranked r)
{
    if (s->n < s->cap) {
        s->heap[s->n++] = r;
        if (s->n == s->cap)
            for (size_t k = s->n / 2; k-- > 0;)
                sift(s->heap, s->n, k);
    } else if (s->cap && r.heat > s->heap[0].heat) {
        s->heap[0] = r;
        sift(s->heap, s->n, 0);
    }
}

typedef struct {
    hottest_set *set;
    uint32_t now;
} member_offer;

/* A scan group's member (pypper_scan_groups_members): offered with its groups' heat
 * when it is still a tracked object and has no current entry (an entry's object was
 * offered with its own heat and its groups'). */
static void offer_member(void *ctx, const void *obj, double heat)
{
    member_offer *m = ctx;
    if (!pypper_heap_owns(obj))
        return;
    pypper_block_info info;
    pypper_heap_lookup(obj, &info);
    if (!info.allocated || !pypper_heap_tracks(info.block, obj))
        return;
    pypper_obj_entry *e = pypper_traced_entry_find(info.block, (void *)obj);
    if (e && pypper_entry_object(e) == obj && pypper_objtable_current(e))
        return;
    /* (Its hottest group's: a member of two groups is offered by the hotter.) */
    if (pypper_scan_groups_heat(obj, m->now) > heat)
        return;
    offer(m->set, (ranked){heat, NO_ENTRY, obj});
}

static PyObject *hot_pair(PyObject *obj, double t, uint32_t site, int detail);

/* The `want` hottest objects, hottest first, in a PyMem_RawMalloc'd array of *n; NULL
 * when there is no memory. An object's heat is its own and its scan groups' (as
 * temperature() says): the table's current entries, and the groups' members without
 * one (at most `want` of each group: they share its heat). Heap lock held, groups
 * refreshed. */
static ranked *rank_hottest(size_t want, size_t *n_out, uint32_t now)
{
    size_t count = pypper_objtable_count();
    pypper_scan_groups_stats groups;
    pypper_scan_groups_get_stats(&groups);
    size_t held = pypper_objtable_used() + (size_t)groups.members;
    size_t cap = want < held ? want : held;
    hottest_set s = {PyMem_RawMalloc((cap ? cap : 1) * sizeof(ranked)), 0, cap};
    if (!s.heap)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        if (!pypper_objtable_current(e))
            continue;
        const void *obj = pypper_entry_object(e);
        double h = pypper_object_heat(pypper_model_heat(pypper_entry_state(e), now), obj, now);
        if (h > 0.0)
            offer(&s, (ranked){h, i, obj});
    }
    member_offer m = {&s, now};
    pypper_scan_groups_members(offer_member, &m, want, now);
    qsort(s.heap, s.n, sizeof(ranked), by_heat_desc);
    size_t n = 0;
    for (size_t k = 0; k < s.n; k++)
        if (!n || s.heap[k].object != s.heap[n - 1].object)
            s.heap[n++] = s.heap[k];
    *n_out = n;
    return s.heap;
}

/* The start of hot_objects(): 1 with the sampler's evidence
 * handed over and *now the model's time; 0 with *out an empty list (no session, or
 * n == 0); -1 with ValueError set (n < 0). */
static int hottest_begin(const char *name, Py_ssize_t want, uint32_t *now, PyObject **out)
{
    if (want < 0) {
        PyErr_Format(PyExc_ValueError, "%s(n): n must be >= 0", name);
        return -1;
    }
    if (!pypper_live_trace_running() || want == 0) {
        *out = PyList_New(0);
        return 0;
    }
    pypper_engine_catch_up();
    *now = pypper_active_trace_now_ms();
    return 1;
}

/* Objects of the table whose own allocation was recorded, as seeds for inference;
 * NULL when there is no memory (no inference then). */
static site_infer *seed_recorded_sites(void)
{
    size_t seeds = pypper_recorded_site_count();
    site_infer *t = pypper_site_infer_new(seeds);
    if (t)
        pypper_seed_recorded_sites(t, seeds);
    return t;
}

/* The site of a hot object (e: its entry, or NULL for a scan group's member without
 * one): its own, its buffer's, or one inferred from its neighbours; failing those,
 * its own record (before session, or none). Heap lock held. */
static uint32_t object_site(const pypper_obj_entry *e, PyObject *obj, const site_infer *near)
{
    pypper_block_info info;
    pypper_heap_lookup(obj, &info);
    uint32_t own = e ? pypper_entry_site(e)
                     : pypper_heap_is_before(info.block) ? PYPPER_SITE_BEFORE_SESSION
                                                         : pypper_alloc_site_of_block(info.block);
    bool before = own == PYPPER_SITE_BEFORE_SESSION;
    uint32_t site = before ? 0 : own;
    const void *buffer = NULL;
    if (!site)
        (void)pypper_owned_bytes(obj, &buffer);
    if (!site && buffer)
        site = pypper_alloc_site_of_block(buffer);
    if (!site && !before)
        site = pypper_site_infer(near, info.block, Py_TYPE(obj));
    return site ? site : own;
}

static PyObject *py_hot_objects(PyObject *module, PyObject *args)
{
    (void)module;
    Py_ssize_t want;
    int detail = 0;
    if (!PyArg_ParseTuple(args, "n|p:hot_objects", &want, &detail))
        return NULL;
    uint32_t now;
    PyObject *empty = NULL;
    int go = hottest_begin("hot_objects", want, &now, &empty);
    if (go <= 0)
        return go < 0 ? NULL : empty;
    bool locked = pypper_heap_lock();
    pypper_scan_groups_refresh(now);
    size_t n;
    ranked *heap = rank_hottest((size_t)want, &n, now);
    if (!heap) {
        pypper_heap_unlock(locked);
        return PyErr_NoMemory();
    }
    /* Objects are built after the heap lock is released (building allocates). */
    uint32_t *sites = detail ? PyMem_RawCalloc(n ? n : 1, sizeof(uint32_t)) : NULL;
    site_infer *near = sites ? seed_recorded_sites() : NULL;
    for (size_t k = 0; k < n; k++) {
        PyObject *obj = (PyObject *)heap[k].object;
        if (Py_REFCNT(obj) <= 0) {
            heap[k].object = NULL;      /* being deallocated */
            continue;
        }
        /* Held while the list is built: building allocates, and a collection then
         * could free an object not yet listed. */
        Py_INCREF(obj);
        if (sites)
            sites[k] = object_site(heap[k].index == NO_ENTRY ? NULL : pypper_objtable_at(heap[k].index),
                                   obj, near);
    }
    pypper_site_infer_free(near);
    pypper_heap_unlock(locked);
    PyObject *out = detail && !sites ? PyErr_NoMemory() : PyList_New(0);
    for (size_t k = 0; k < n; k++) {
        PyObject *obj = (PyObject *)heap[k].object;
        if (!obj)
            continue;
        PyObject *pair = out ? hot_pair(obj, pypper_model_temperature(heap[k].heat, now),
                                        sites ? sites[k] : 0, detail) : NULL;
        if (out && (!pair || PyList_Append(out, pair) < 0))
            Py_CLEAR(out);
        Py_XDECREF(pair);
        Py_DECREF(obj);
    }
    PyMem_RawFree(heap);
    PyMem_RawFree(sites);
    return out;
}

/* (obj, temperature), or with detail (obj, temperature, site text or None, site kind:
 * "known" (its own, its buffer's or inferred), "before session", "not sampled"). */
static PyObject *hot_pair(PyObject *obj, double t, uint32_t site, int detail)
{
    if (!detail)
        return Py_BuildValue("(Od)", obj, t);
    bool before = site == PYPPER_SITE_BEFORE_SESSION;
    PyObject *text = pypper_alloc_site_describe(before ? 0 : site);
    if (!text)
        return NULL;
    const char *kind = before ? "before session" : Py_IsNone(text) ? "not sampled" : "known";
    return Py_BuildValue("(OdNs)", obj, t, text, kind);
}


static PyObject *py_alloc_sites_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return pypper_alloc_sites_stats();
}

static PyObject *py_quiet_thread(PyObject *module, PyObject *arg)
{
    (void)module;
    int quiet = PyObject_IsTrue(arg);
    if (quiet < 0)
        return NULL;
    pypper_alloc_sites_quiet_thread(quiet != 0);
    Py_RETURN_NONE;
}

static PyObject *py_own_dir(PyObject *module, PyObject *arg)
{
    (void)module;
    const char *dir = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!dir) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "_own_dir: a directory (str) is expected");
        return NULL;
    }
    pypper_alloc_sites_own_dir(dir);
    Py_RETURN_NONE;
}

static PyObject *py_active_trace_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return pypper_active_trace_stats();
}

/* ---- test hooks (active_trace.h): the sampler's work on the caller's thread ---- */

static PyObject *py_test_hold_sampler(PyObject *module, PyObject *args)
{
    (void)module;
    int on;
    double timeout = 30.0;
    if (!PyArg_ParseTuple(args, "p|d:_test_hold_sampler", &on, &timeout))
        return NULL;
    if (!(timeout > 0)) {
        PyErr_SetString(PyExc_ValueError, "_test_hold_sampler: timeout must be > 0");
        return NULL;
    }
    pypper_session_resume(true);        /* (threads a fork joined: started first) */
    if (pypper_active_trace_hold(on != 0, timeout) < 0)
        return NULL;
    /* The test's hand-overs take what was promoted before them, whenever they come;
     * a test of the wait sets it after this (_test_promoted_age). */
    (void)pypper_live_trace_set_promoted_age_ms(on ? 0 : LIVE_TRACE_PROMOTED_AGE_MS);
    Py_RETURN_NONE;
}

static PyObject *py_test_promoted_age(PyObject *module, PyObject *arg)
{
    (void)module;
    long ms = PyLong_AsLong(arg);
    if (ms == -1 && PyErr_Occurred())
        return NULL;
    if (ms < 0 || ms > 3600000) {
        PyErr_SetString(PyExc_ValueError, "_test_promoted_age(ms): ms must be 0 to 3600000");
        return NULL;
    }
    return PyLong_FromUnsignedLong(pypper_live_trace_set_promoted_age_ms((unsigned)ms));
}

static PyObject *py_test_sample(PyObject *module, PyObject *args)
{
    (void)module;
    long n = 1;
    if (!PyArg_ParseTuple(args, "|l:_test_sample", &n))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "_test_sample(n): n must be >= 0");
        return NULL;
    }
    if (pypper_active_trace_sample_now(n) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_test_hand_over(PyObject *module, PyObject *args)
{
    (void)module;
    long n = 1;
    int round = 0;
    if (!PyArg_ParseTuple(args, "|lp:_test_hand_over", &n, &round))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "_test_hand_over(n): n must be >= 0");
        return NULL;
    }
    for (long i = 0; i < n; i++)
        if (pypper_active_trace_hand_over(round) < 0)
            return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_test_set_clock(PyObject *module, PyObject *arg)
{
    (void)module;
    long long ms = -1;
    if (arg != Py_None) {
        ms = PyLong_AsLongLong(arg);
        if (ms == -1 && PyErr_Occurred())
            return NULL;
        if (ms < 0) {
            PyErr_SetString(PyExc_ValueError, "_test_set_clock(ms): ms must be >= 0 or None");
            return NULL;
        }
    }
    if (!pypper_live_trace_running()) {
        PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
        return NULL;
    }
    return PyLong_FromUnsignedLong(pypper_active_trace_set_clock(ms));
}

PyMethodDef pypper_temperature_methods[] = {
    {"temperature", py_temperature, METH_O,
     "temperature(obj) -> float in [0, 1], or None when obj is not traced"},
    {"temperatures", py_temperatures, METH_O,
     "temperatures(objects) -> [float or None]: temperature() of each, at one instant"},
    {"hot_objects", py_hot_objects, METH_VARARGS,
     "hot_objects(n, detail=False) -> [(obj, temperature)]: the n hottest traced objects, "
     "hottest first; with detail (obj, temperature, site or None, site kind)"},
    {"snapshot_rows_json", pypper_snapshot_rows_json, METH_VARARGS,
     "snapshot_rows_json(columns, n, capacity, start, stop, types, sites, tiers, classes, kinds) "
     "-> bytes: object rows of snapshot_data(columns=True) as a snapshot file's JSON"},
    {"snapshot_rows_parse", pypper_snapshot_rows_parse, METH_VARARGS,
     "snapshot_rows_parse(text, pos, after_row, columns, tables) -> (pos, after_row, ended): "
     "a snapshot file's object rows read into columns (Modules/snapshot_rows_parse.h)"},
    {"snapshot_sums", pypper_snapshot_sums, METH_VARARGS,
     "snapshot_sums(frame_min_t, machinery) -> dict: snapshot_data(0.0, True, True) with the objects "
     "summed instead of listed: groups [(site or None, type, objects, bytes, owned, hot, warm, cold, "
     "tsum, slow, hist)] per (site, type) (an inferred site of a type named in the tuple machinery "
     "counts as None), sites [(site or None, hot, warm)] over the objects at or above frame_min_t, "
     "objects (how many), pages (every page in use, cold ones at 0, untraced bytes' heat included: a "
     "capture's frame), page_size, uptime, model, untraced, untraced_bytes"},
    {"snapshot_data", pypper_snapshot_data, METH_VARARGS,
     "snapshot_data([min_temperature[, untraced[, columns]]]) -> dict: objects (address, size, type, tier, "
     "temperature, class, site, owned_bytes, site_kind), pages (address, tier, heat, hot_bytes, "
     "cold_bytes), model; with untraced true also untraced: [(site or None, bytes)] (heap bytes "
     "that are no traced object's block nor a buffer one owns, by allocation site) and "
     "untraced_bytes; with columns true the objects and pages as columns (Lib/pypper/_snapshot.py)"},
    {"alloc_sites_stats", py_alloc_sites_stats, METH_NOARGS,
     "alloc_sites_stats() -> dict: allocation sites recorded (small blocks by bytes, large "
     "blocks), allocations without a Python frame, map sizes"},
    {"_quiet_thread", py_quiet_thread, METH_O,
     "_quiet_thread(quiet): the calling thread is Pypper's own (a capture's recorder): "
     "its allocations get no allocation site (Python/alloc_sites.h)"},
    {"_own_dir", py_own_dir, METH_O,
     "_own_dir(dir): the pypper package's directory: its code is no allocation site of the "
     "program's (Python/alloc_sites.h)"},
    {"active_trace_stats", py_active_trace_stats, METH_NOARGS,
     "active_trace_stats() -> dict: the sampler's counters and CPU time"},
    {"_test_hold_sampler", py_test_hold_sampler, METH_VARARGS,
     "_test_hold_sampler(on, timeout=30.0): for tests: park the sampler thread (waiting "
     "up to timeout seconds, TimeoutError then) or let it go on; without a session, "
     "the next session's sampler starts parked (on) or not"},
    {"_test_promoted_age", py_test_promoted_age, METH_O,
     "_test_promoted_age(ms) -> the previous value: for tests: how long what joins the "
     "oldest GC generation waits before a hand-over's walk takes it (100 by default, 0 "
     "while the sampler is held)"},
    {"_test_sample", py_test_sample, METH_VARARGS,
     "_test_sample(n=1): for tests: n sampling iterations now, on this thread"},
    {"_test_hand_over", py_test_hand_over, METH_VARARGS,
     "_test_hand_over(n=1, round=False): for tests: n of the sampler's periodic hand-overs "
     "now (evidence to the model, a rescan slice, the next polling window; with round, "
     "the migration round too when one is due)"},
    {"_test_set_clock", py_test_set_clock, METH_O,
     "_test_set_clock(ms): for tests: freeze the model's time at ms since the session "
     "started (None: back on the monotonic clock); returns the model time before"},
    {NULL, NULL, 0, NULL},
};
