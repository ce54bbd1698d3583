/* Modules/temperature_api.c: the temperature functions of _pypper: one object's
 * temperature, the hottest objects, and the data of a snapshot (every traced object
 * and every page they occupy, aggregated bytes-weighted). All run with the GIL, after
 * feeding the sampler's pending evidence to the model. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "temperature_api.h"

#include "../Objects/heap.h"
#include "../Pypper/objtable.h"
#include "../Pypper/temperature.h"
#include "../Python/active_trace.h"
#include "../Python/alloc_sites.h"
#include "../Python/live_trace.h"
#include "../Python/owned_buffers.h"
#include "../Python/site_infer.h"
#include "../Python/untraced_sites.h"

#include <sys/mman.h>
#include <unistd.h>

/* The entry of a live traced object, or NULL. */
static pypper_obj_entry *entry_of(PyObject *obj)
{
    pypper_block_info info;
    pypper_heap_lookup(obj, &info);
    if (!info.allocated)
        return NULL;
    pypper_obj_entry *e = pypper_objtable_find(info.block);
    /* A freed object's entry waits for a compaction: it is not current. */
    return e && pypper_entry_object(e) == (void *)obj && pypper_objtable_current(e) ? e : NULL;
}

static PyObject *temperature_of(PyObject *obj, uint32_t now)
{
    bool locked = pypper_heap_lock();
    pypper_obj_entry *e = entry_of(obj);
    double t = e ? pypper_model_temperature(pypper_model_heat(e, now), now) : -1.0;
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
    pypper_active_trace_drain();
    return temperature_of(obj, pypper_active_trace_now_ms());
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
    if (running)
        pypper_active_trace_drain();
    uint32_t now = pypper_active_trace_now_ms();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = running ? temperature_of(PySequence_Fast_GET_ITEM(fast, i), now)
                              : Py_NewRef(Py_None);
        if (!t) {
            Py_DECREF(out);
            Py_DECREF(fast);
            return NULL;
        }
        PyList_SET_ITEM(out, i, t);
    }
    Py_DECREF(fast);
    return out;
}

typedef struct {
    double heat;
    size_t index;
} ranked;

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
    double x = ((const ranked *)a)->heat, y = ((const ranked *)b)->heat;
    return x < y ? 1 : x > y ? -1 : 0;
}

static PyObject *hot_pair(PyObject *obj, double t, uint32_t site, int detail);

/* Objects of the table whose own allocation was recorded, as seeds for inference;
 * NULL when there is no memory (no inference then). */
static site_infer *seed_recorded_sites(size_t count)
{
    size_t seeds = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t site = pypper_entry_site(pypper_objtable_at(i));
        seeds += site && site != PYPPER_SITE_BEFORE_SESSION;
    }
    site_infer *t = pypper_site_infer_new(seeds);
    for (size_t i = 0; t && i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        if (!pypper_entry_site(e) || pypper_entry_site(e) == PYPPER_SITE_BEFORE_SESSION || !pypper_objtable_current(e)
            || Py_REFCNT((PyObject *)pypper_entry_object(e)) <= 0)
            continue;
        pypper_site_infer_seed(t, pypper_entry_block(e), Py_TYPE((PyObject *)pypper_entry_object(e)), pypper_entry_site(e));
    }
    return t;
}

static PyObject *py_hot_objects(PyObject *module, PyObject *args)
{
    (void)module;
    Py_ssize_t want;
    int detail = 0;
    if (!PyArg_ParseTuple(args, "n|p:hot_objects", &want, &detail))
        return NULL;
    if (want < 0) {
        PyErr_SetString(PyExc_ValueError, "hot_objects(n): n must be >= 0");
        return NULL;
    }
    if (!pypper_live_trace_running() || want == 0)
        return PyList_New(0);
    pypper_active_trace_drain();
    uint32_t now = pypper_active_trace_now_ms();
    bool locked = pypper_heap_lock();
    size_t count = pypper_objtable_count(), n = 0, cap = (size_t)want < count ? (size_t)want : count;
    ranked *heap = PyMem_RawMalloc((cap ? cap : 1) * sizeof(ranked));
    if (!heap) {
        pypper_heap_unlock(locked);
        return PyErr_NoMemory();
    }
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        double h = pypper_model_heat(e, now);
        if (h <= 0.0 || !pypper_objtable_current(e))
            continue;
        if (n < cap) {
            heap[n++] = (ranked){h, i};
            if (n == cap)
                for (size_t k = n / 2; k-- > 0;)
                    sift(heap, n, k);
        } else if (h > heap[0].heat) {
            heap[0] = (ranked){h, i};
            sift(heap, n, 0);
        }
    }
    qsort(heap, n, sizeof(ranked), by_heat_desc);
    /* Objects are built after the heap lock is released (building allocates). */
    uint32_t *sites = detail ? PyMem_RawCalloc(n ? n : 1, sizeof(uint32_t)) : NULL;
    site_infer *near = sites ? seed_recorded_sites(count) : NULL;
    for (size_t k = 0; k < n; k++) {
        pypper_obj_entry *e = pypper_objtable_at(heap[k].index);
        heap[k].index = (size_t)(uintptr_t)pypper_entry_object(e);
        if (sites && Py_REFCNT((PyObject *)pypper_entry_object(e)) > 0) {
            const void *buffer = NULL;
            bool before = pypper_entry_site(e) == PYPPER_SITE_BEFORE_SESSION;
            uint32_t site = before ? 0 : pypper_entry_site(e);
            if (!site)
                (void)pypper_owned_bytes(pypper_entry_object(e), &buffer);
            if (!site && buffer)
                site = pypper_alloc_site_of_block(buffer);
            if (!site && !before)
                site = pypper_site_infer(near, pypper_entry_block(e), Py_TYPE((PyObject *)pypper_entry_object(e)));
            sites[k] = site ? site : pypper_entry_site(e);
        }
    }
    pypper_site_infer_free(near);
    pypper_heap_unlock(locked);
    if (detail && !sites) {
        PyMem_RawFree(heap);
        return PyErr_NoMemory();
    }
    PyObject *out = PyList_New(0);
    for (size_t k = 0; out && k < n; k++) {
        PyObject *obj = (PyObject *)(uintptr_t)heap[k].index;
        if (Py_REFCNT(obj) <= 0)
            continue;           /* being deallocated */
        PyObject *pair = hot_pair(obj, pypper_model_temperature(heap[k].heat, now),
                                  sites ? sites[k] : 0, detail);
        if (!pair || PyList_Append(out, pair) < 0)
            Py_CLEAR(out);
        Py_XDECREF(pair);
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

/* ---- pages of a snapshot: an open-addressing map from page to its aggregate ---- */

typedef struct {
    uintptr_t page;             /* 0: empty slot */
    double heat;                /* sum of temperature * bytes on the page / page size */
    uint64_t hot_bytes, cold_bytes;
    unsigned tier;
} page_agg;

typedef struct {
    page_agg *slots;
    size_t cap, used;
} page_map;

static page_agg *page_slot(page_map *m, uintptr_t page)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)((page >> 12) * 0x9E3779B97F4A7C15ull >> 20) & mask;
    while (m->slots[i].page && m->slots[i].page != page)
        i = (i + 1) & mask;
    if (!m->slots[i].page) {
        m->slots[i].page = page;
        m->used++;
    }
    return &m->slots[i];
}

static void add_bytes(page_map *m, uintptr_t start, size_t size, unsigned tier, double t,
                      int klass, size_t page_size)
{
    uintptr_t end = start + size;
    for (uintptr_t a = start; a < end;) {
        uintptr_t page = a & ~(uintptr_t)(page_size - 1);
        uintptr_t stop = page + page_size < end ? page + page_size : end;
        page_agg *p = page_slot(m, page);
        p->tier = tier;
        p->heat += t * (double)(stop - a) / (double)page_size;
        if (klass == PYPPER_HOT)
            p->hot_bytes += stop - a;
        else if (klass == PYPPER_COLD)
            p->cold_bytes += stop - a;
        a = stop;
    }
}

/* How an object's site was found (the `site_kind` of a row). */
enum {
    SITE_NOT_SAMPLED,       /* allocated in the session, its allocation not recorded */
    SITE_SAMPLED,           /* its own allocation was recorded */
    SITE_BUFFER,            /* the recorded (re)allocation of the buffer it owns */
    SITE_INFERRED,          /* a recorded object of its type in the same pool */
    SITE_BEFORE,            /* allocated before the session started */
};
static const char *const site_kind_names[] = {"not sampled", "sampled", "buffer", "inferred",
                                              "before session"};

typedef struct {
    PyObject *object;
    size_t size, owned;
    double temperature;
    unsigned tier;
    int klass;
    uint32_t site;
    uint8_t site_kind;
    const void *block;
} object_row;

/* Give rows without a site the site of a recorded object of the same type allocated
 * near them (Python/site_infer.h). */
static void infer_sites(object_row *rows, size_t n)
{
    site_infer *t = pypper_site_infer_new(n);
    if (!t)
        return;
    for (size_t i = 0; i < n; i++)
        if (rows[i].site_kind == SITE_SAMPLED)   /* bodies: a buffer's site is its own */
            pypper_site_infer_seed(t, rows[i].block, Py_TYPE(rows[i].object), rows[i].site);
    for (size_t i = 0; i < n; i++) {
        object_row *r = &rows[i];
        if (r->site_kind == SITE_NOT_SAMPLED) {
            r->site = pypper_site_infer(t, r->block, Py_TYPE(r->object));
            if (r->site)
                r->site_kind = SITE_INFERRED;
        }
    }
    pypper_site_infer_free(t);
}

/* memo[key], made by make(arg) and kept there the first time it is asked for; key is
 * a new reference (NULL: its creation failed), consumed. A snapshot's rows repeat a
 * few sites and names many times: each becomes one Python object per snapshot. */
static PyObject *memo_text(PyObject *memo, PyObject *key, PyObject *(*make)(const void *),
                           const void *arg)
{
    if (!key)
        return NULL;
    PyObject *text = PyDict_GetItemWithError(memo, key);
    if (text) {
        Py_DECREF(key);
        return Py_NewRef(text);
    }
    text = PyErr_Occurred() ? NULL : make(arg);
    if (text && PyDict_SetItem(memo, key, text) < 0)
        Py_CLEAR(text);
    Py_DECREF(key);
    return text;
}

static PyObject *describe_site(const void *site)
{
    return pypper_alloc_site_describe(*(const uint32_t *)site);
}

static PyObject *intern_name(const void *name) { return PyUnicode_InternFromString(name); }

/* The description of a site, made once per snapshot (sites repeat a lot). */
static PyObject *site_text(PyObject *memo, uint32_t site)
{
    if (!site)
        return Py_NewRef(Py_None);
    return memo_text(memo, PyLong_FromUnsignedLong(site), describe_site, &site);
}

static const char *tier_name(unsigned tier) { return tier == PYPPER_TIER_SLOW ? "slow" : "fast"; }

/* A str made once per snapshot for each distinct C string (type names, tiers,
 * classes, site kinds), instead of one per row. */
static PyObject *name_text(PyObject *memo, const char *name)
{
    return memo_text(memo, PyLong_FromVoidPtr((void *)name), intern_name, name);
}

static PyObject *object_rows_to_list(const object_row *rows, size_t n)
{
    PyObject *list = PyList_New(0);
    PyObject *memo = PyDict_New(), *names = PyDict_New();
    if (!memo || !names)
        Py_CLEAR(list);
    for (size_t i = 0; list && i < n; i++) {
        const object_row *r = &rows[i];
        PyObject *site = site_text(memo, r->site);
        PyObject *type = site ? name_text(names, Py_TYPE(r->object)->tp_name) : NULL;
        PyObject *tier = type ? name_text(names, tier_name(r->tier)) : NULL;
        PyObject *klass = tier ? name_text(names, pypper_model_class_name(r->klass)) : NULL;
        PyObject *kind = klass ? name_text(names, site_kind_names[r->site_kind]) : NULL;
        PyObject *row = kind ? Py_BuildValue("(KnNNdNNnN)", (unsigned long long)(uintptr_t)r->object,
                                             (Py_ssize_t)r->size, type, tier, r->temperature,
                                             klass, site, (Py_ssize_t)r->owned, kind)
                             : NULL;
        if (!kind) {
            Py_XDECREF(site);
            Py_XDECREF(type);
            Py_XDECREF(tier);
            Py_XDECREF(klass);
        }
        if (!row || PyList_Append(list, row) < 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    Py_XDECREF(memo);
    Py_XDECREF(names);
    return list;
}

static PyObject *page_map_to_list(const page_map *pages)
{
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < pages->cap; i++) {
        const page_agg *p = &pages->slots[i];
        if (!p->page)
            continue;
        PyObject *row = Py_BuildValue("(KsdKK)", (unsigned long long)p->page, tier_name(p->tier),
                                      p->heat, (unsigned long long)p->hot_bytes,
                                      (unsigned long long)p->cold_bytes);
        if (!row || PyList_Append(list, row) < 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    return list;
}

static void *map_anon(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap_anon(void *p, size_t bytes) { munmap(p, bytes ? bytes : 1); }

/* Owned buffers count on their own pages, with their owner's temperature (and, when
 * untraced bytes are asked for, as traced). */
typedef struct {
    page_map *pages;
    double t;
    int klass;
    size_t page_size;
    pypper_untraced *traced;
} buffer_pages;

static void add_buffer_pages(const void *block, size_t size, void *arg)
{
    buffer_pages *b = arg;
    pypper_block_info info;
    pypper_heap_lookup(block, &info);
    add_bytes(b->pages, (uintptr_t)block, size, info.tier, b->t, b->klass, b->page_size);
    if (b->traced)
        (void)pypper_untraced_mark(b->traced, info.allocated ? info.block : block,
                                   info.allocated ? info.size : size);
}

/* Untraced bytes by site, gathered under the heap's serialization (no Python object
 * can be made there) and turned into a list after it. */
typedef struct {
    uint32_t site;
    uint64_t bytes;
} untraced_row;

typedef struct {
    untraced_row *rows;
    size_t n, cap;
} untraced_rows;

static void keep_untraced(uint32_t site, uint64_t bytes, void *arg)
{
    untraced_rows *r = arg;
    if (r->n < r->cap)
        r->rows[r->n++] = (untraced_row){site, bytes};
    else if (r->n)
        r->rows[0].bytes += bytes;  /* no room (sites interned meanwhile): no site */
}

/* [(site or None, bytes)], largest first is the caller's business. */
static PyObject *untraced_list(const untraced_rows *r)
{
    PyObject *list = PyList_New(0), *memo = PyDict_New();
    if (!memo)
        Py_CLEAR(list);
    for (size_t i = 0; list && i < r->n; i++) {
        PyObject *site = site_text(memo, r->rows[i].site);
        PyObject *row = site ? Py_BuildValue("(NK)", site, (unsigned long long)r->rows[i].bytes) : NULL;
        if (!row || PyList_Append(list, row) < 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    Py_XDECREF(memo);
    return list;
}

/* The site of entry e's object and how it was found. */
static uint32_t row_site(const pypper_obj_entry *e, const void *buffer, uint8_t *kind)
{
    if (pypper_entry_site(e) && pypper_entry_site(e) != PYPPER_SITE_BEFORE_SESSION) {
        *kind = SITE_SAMPLED;
        return pypper_entry_site(e);
    }
    /* An object from before the session whose buffer grew since has that site. */
    uint32_t site = buffer ? pypper_alloc_site_of_block(buffer) : 0;
    *kind = site ? SITE_BUFFER : pypper_entry_site(e) ? SITE_BEFORE : SITE_NOT_SAMPLED;
    return site;
}

static PyObject *py_snapshot_data(PyObject *module, PyObject *args)
{
    (void)module;
    double min_t = 0.0;
    int want_untraced = 0;
    if (!PyArg_ParseTuple(args, "|dp:snapshot_data", &min_t, &want_untraced))
        return NULL;
    if (!pypper_live_trace_running()) {
        PyErr_SetString(PyExc_RuntimeError, "no tracing session is running: call pypper.start() first");
        return NULL;
    }
    (void)pypper_owned_buffers_init();      /* array.array's layout, once (imports) */
    pypper_active_trace_drain();
    uint32_t now = pypper_active_trace_now_ms();
    size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
    bool locked = pypper_heap_lock();
    size_t count = pypper_objtable_count(), nrows = 0;
    /* Room for every page any object or buffer touches, at most half full. */
    size_t need = 0;
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        pypper_block_info info;
        pypper_heap_lookup(pypper_entry_block(e), &info);
        need += info.size / page_size + 2;
        if (pypper_objtable_current(e) && Py_REFCNT((PyObject *)pypper_entry_object(e)) > 0) {
            const void *buffer;
            size_t owned = pypper_owned_bytes(pypper_entry_object(e), &buffer);
            need += owned ? owned / page_size + 2 : 0;
        }
    }
    page_map pages = {NULL, 1024, 0};
    while (pages.cap < need * 2)
        pages.cap *= 2;
    pages.slots = map_anon(pages.cap * sizeof(page_agg));
    object_row *rows = map_anon(count * sizeof(object_row));
    /* Untraced bytes: one row per site (and one for none) at most. */
    pypper_untraced *traced = want_untraced ? pypper_untraced_new() : NULL;
    untraced_rows urows = {NULL, 0, want_untraced ? (size_t)pypper_alloc_sites_count() + 1 : 0};
    urows.rows = want_untraced ? map_anon(urows.cap * sizeof(untraced_row)) : NULL;
    if (!pages.slots || !rows || (want_untraced && (!traced || !urows.rows))) {
        pypper_heap_unlock(locked);
        pypper_untraced_free(traced);
        if (urows.rows)
            unmap_anon(urows.rows, urows.cap * sizeof(untraced_row));
        if (pages.slots)
            munmap(pages.slots, pages.cap * sizeof(page_agg));
        if (rows)
            unmap_anon(rows, count * sizeof(object_row));
        return PyErr_NoMemory();
    }
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        if (!pypper_objtable_current(e) || Py_REFCNT((PyObject *)pypper_entry_object(e)) <= 0)
            continue;
        pypper_block_info info;
        pypper_heap_lookup(pypper_entry_block(e), &info);
        double t = pypper_model_temperature(pypper_model_heat(e, now), now);
        int klass = pypper_model_classify(e, t);
        /* The object's whole block counts for its pages (its header included), and
         * each buffer it owns for the buffer's pages. */
        add_bytes(&pages, (uintptr_t)pypper_entry_block(e), info.size, info.tier, t, klass, page_size);
        if (traced)
            (void)pypper_untraced_mark(traced, pypper_entry_block(e), info.size);
        buffer_pages bp = {&pages, t, klass, page_size, traced};
        const void *buffer;
        size_t owned = pypper_owned_blocks(pypper_entry_object(e), &buffer, add_buffer_pages, &bp);
        if (t >= min_t) {
            uint8_t kind;
            uint32_t site = row_site(e, buffer, &kind);
            rows[nrows++] = (object_row){pypper_entry_object(e), info.size, owned, t, info.tier, klass, site,
                                         kind, pypper_entry_block(e)};
        }
    }
    uint64_t untraced_total = traced ? pypper_untraced_walk(traced, keep_untraced, &urows) : 0;
    pypper_heap_unlock(locked);
    pypper_untraced_free(traced);
    infer_sites(rows, nrows);
    /* Built without the heap lock (building allocates); the GIL keeps them alive. */
    PyObject *objects = object_rows_to_list(rows, nrows);
    PyObject *page_list = objects ? page_map_to_list(&pages) : NULL;
    PyObject *untraced = page_list && want_untraced ? untraced_list(&urows) : NULL;
    unmap_anon(rows, count * sizeof(object_row));
    munmap(pages.slots, pages.cap * sizeof(page_agg));
    if (urows.rows)
        unmap_anon(urows.rows, urows.cap * sizeof(untraced_row));
    if (!page_list || (want_untraced && !untraced)) {
        Py_XDECREF(objects);
        Py_XDECREF(page_list);
        return NULL;
    }
    const pypper_model_params *mp = pypper_model_params_get();
    PyObject *out = Py_BuildValue(
        "{s:N,s:N,s:n,s:d,s:{s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d}}",
        "objects", objects, "pages", page_list, "page_size", (Py_ssize_t)page_size,
        "uptime", (double)now / 1e3,
        "model",
        "half_life_ms", mp->half_life_ms, "hot_threshold", mp->hot_threshold,
        "cold_threshold", mp->cold_threshold, "hysteresis", mp->hysteresis,
        "frame_weight", mp->weight[PYPPER_EVIDENCE_FRAME],
        "caller_weight", mp->weight[PYPPER_EVIDENCE_CALLER],
        "hold_weight", mp->weight[PYPPER_EVIDENCE_HOLD],
        "refcount_weight", mp->weight[PYPPER_EVIDENCE_REFCOUNT],
        "reference_heat", pypper_model_reference_heat(now));
    if (out && untraced) {
        PyObject *total = PyLong_FromUnsignedLongLong(untraced_total);
        if (!total || PyDict_SetItemString(out, "untraced", untraced) < 0
            || PyDict_SetItemString(out, "untraced_bytes", total) < 0)
            Py_CLEAR(out);
        Py_XDECREF(total);
    }
    Py_XDECREF(untraced);
    return out;
}

static PyObject *py_alloc_sites_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return pypper_alloc_sites_stats();
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
    if (pypper_active_trace_hold(on != 0, timeout) < 0)
        return NULL;
    Py_RETURN_NONE;
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
    if (!PyArg_ParseTuple(args, "|l:_test_hand_over", &n))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "_test_hand_over(n): n must be >= 0");
        return NULL;
    }
    for (long i = 0; i < n; i++)
        if (pypper_active_trace_hand_over() < 0)
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
    {"snapshot_data", py_snapshot_data, METH_VARARGS,
     "snapshot_data([min_temperature[, untraced]]) -> dict: objects (address, size, type, tier, "
     "temperature, class, site, owned_bytes, site_kind), pages (address, tier, heat, hot_bytes, "
     "cold_bytes), model; with untraced true also untraced: [(site or None, bytes)] (heap bytes "
     "that are no traced object's block nor a buffer one owns, by allocation site) and "
     "untraced_bytes"},
    {"alloc_sites_stats", py_alloc_sites_stats, METH_NOARGS,
     "alloc_sites_stats() -> dict: allocation sites recorded (small blocks by bytes, large "
     "blocks), allocations without a Python frame, map sizes"},
    {"active_trace_stats", py_active_trace_stats, METH_NOARGS,
     "active_trace_stats() -> dict: the sampler's counters and CPU time"},
    {"_test_hold_sampler", py_test_hold_sampler, METH_VARARGS,
     "_test_hold_sampler(on, timeout=30.0): for tests: park the sampler thread (waiting "
     "up to timeout seconds, TimeoutError then) or let it go on"},
    {"_test_sample", py_test_sample, METH_VARARGS,
     "_test_sample(n=1): for tests: n sampling iterations now, on this thread"},
    {"_test_hand_over", py_test_hand_over, METH_VARARGS,
     "_test_hand_over(n=1): for tests: n of the sampler's periodic hand-overs now "
     "(evidence to the model, a rescan slice, the next polling window)"},
    {"_test_set_clock", py_test_set_clock, METH_O,
     "_test_set_clock(ms): for tests: freeze the model's time at ms since the session "
     "started (None: back on the monotonic clock); returns the model time before"},
    {NULL, NULL, 0, NULL},
};
