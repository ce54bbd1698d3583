/* Modules/snapshot_data.c: _pypper.snapshot_data(): every traced object (address,
 * size, type, tier, temperature, class, site, owned bytes, how the site was found)
 * and every page they and their buffers occupy (bytes-weighted heat, hot and cold
 * bytes), with the model's parameters; optionally the heap bytes no traced object
 * accounts for, by allocation site. _pypper.snapshot_sums(): the same walk, the
 * objects summed per (site, type) and per site (Pypper/group_sums.h) instead of
 * listed, and every page in use (cold ones at 0) with its untraced bytes' heat added,
 * for a capture's records.
 *
 * The objects are written as columns of fixed-size numbers (Pypper/snapshot_columns.h)
 * into one bytes object made before the heap's lock is taken (no Python object can
 * be made under it), with a table of type names and one of site texts that the
 * columns index: a million objects cost 44 bytes each, not a tuple of nine objects
 * each. With columns=False (the trace recorder's and older callers' form) the rows
 * are turned into a list of tuples from those columns. snapshot_sums() fills small
 * scratch columns chunk after chunk and sums each. Pages are aggregated in a map
 * sized for the heap's pages in use (it grows if more come), and come sorted by
 * address. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "snapshot_data.h"
#include "../Pypper/snapshot_columns.h"

#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/residency.h"
#include "../Objects/track.h"
#include "../Pypper/objtable.h"
#include "../Pypper/own_memory.h"
#include "../Pypper/page_heat.h"
#include "../Pypper/temperature.h"
#include "../Pypper/attribution.h"
#include "../Pypper/group_sums.h"
#include "../Pypper/write_tracking_heap.h"
#include "../Python/active_trace.h"
#include "../Python/alloc_sites.h"
#include "../Python/buffer_heat.h"
#include "../Python/scan_groups.h"
#include "../Python/engine.h"
#include "../Python/live_trace.h"
#include "../Python/owned_buffers.h"
#include "../Python/site_infer.h"
#include "../Python/traced_entry.h"
#include "../Python/untraced_sites.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *map_anon(size_t bytes) { return pypper_own_mmap(PYPPER_OWN_SNAPSHOT, bytes ? bytes : 1, 0); }
static void unmap_anon(void *p, size_t bytes) { pypper_own_munmap(p, bytes ? bytes : 1); }

static const char *tier_name(unsigned tier) { return tier == PYPPER_TIER_SLOW ? "slow" : "fast"; }

/* ---- pages: an open-addressing map from page to its aggregate, growing ---- */

/* 32 bytes: a capture's record maps twice the heap's pages in use (a 46 MiB heap's
 * map took 1.5 MB of the record's 4 MB of scratch memory with 48-byte slots). */
typedef struct {
    uintptr_t page;             /* 0: empty slot */
    double heat;                /* sum of temperature * bytes on the page / page size */
    uint32_t hot_bytes, cold_bytes;     /* at most the page's size */
    uint32_t tier;
} page_agg;

typedef struct {
    page_agg *slots;
    size_t cap, used;           /* cap: a power of two; kept at most half full */
    bool failed;                /* a page could not be added (no memory to grow) */
    page_agg *last[2];          /* the slot found last for objects (they come in address
                                 * order) and for the buffers they own (so do those, often) */
} page_map;

static size_t page_home(uintptr_t page, size_t mask)
{
    return (size_t)((page >> 12) * 0x9E3779B97F4A7C15ull >> 20) & mask;
}

static int page_map_grow_to(page_map *m, size_t cap)
{
    /* Populated at once: the hash spreads pages over all of it. */
    page_agg *fresh = pypper_own_mmap(PYPPER_OWN_SNAPSHOT, cap * sizeof(page_agg), MAP_POPULATE);
    if (!fresh)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].page)
            continue;
        size_t j = page_home(m->slots[i].page, cap - 1);
        while (fresh[j].page)
            j = (j + 1) & (cap - 1);
        fresh[j] = m->slots[i];
    }
    if (m->slots)
        unmap_anon(m->slots, m->cap * sizeof(page_agg));
    m->slots = fresh;
    m->cap = cap;
    m->last[0] = m->last[1] = NULL;
    return 0;
}

static int page_map_grow(page_map *m)
{
    return page_map_grow_to(m, m->cap ? m->cap * 2 : 1024);
}

static void count_page(size_t index, unsigned tier, void *ctx)
{
    (void)index;
    (void)tier;
    ++*(size_t *)ctx;
}

/* A map with room for every page of the heap now in use (and a quarter more), made
 * once: grown from 1,024 slots, a 300 MiB heap's map was remade and rehashed 7
 * times and its fresh pages faulted in each time (a fifth of a capture's record). */
static int page_map_init(page_map *m)
{
    size_t pages = 0, cap = 1024;
    pypper_heap_for_each_used_page(count_page, &pages);
    pages += pages / 4;
    while (cap < 2 * pages && cap < ((size_t)1 << 40))
        cap *= 2;
    return page_map_grow_to(m, cap);
}

/* The page's aggregate, added if new; NULL when the map is full and cannot grow. lane:
 * 0 for an object's block, 1 for an owned buffer's. */
static page_agg *page_slot(page_map *m, uintptr_t page, int lane)
{
    if (m->last[lane] && m->last[lane]->page == page)
        return m->last[lane];
    if ((m->used + 1) * 2 > m->cap && page_map_grow(m) < 0 && m->used + 1 >= m->cap) {
        m->failed = true;
        return NULL;
    }
    size_t mask = m->cap - 1;
    size_t i = page_home(page, mask);
    while (m->slots[i].page && m->slots[i].page != page)
        i = (i + 1) & mask;
    if (!m->slots[i].page) {
        m->slots[i].page = page;
        m->used++;
    }
    return m->last[lane] = &m->slots[i];
}

static void add_bytes(page_map *m, uintptr_t start, size_t size, unsigned tier, double t,
                      int klass, size_t page_size, int lane)
{
    uintptr_t end = start + size;
    for (uintptr_t a = start; a < end;) {
        uintptr_t page = a & ~(uintptr_t)(page_size - 1);
        uintptr_t stop = page + page_size < end ? page + page_size : end;
        page_agg *p = page_slot(m, page, lane);
        if (!p)
            return;
        p->tier = tier;
        p->heat += t * (double)(stop - a) / (double)page_size;
        if (klass == PYPPER_HOT)
            p->hot_bytes += (uint32_t)(stop - a);
        else if (klass == PYPPER_COLD)
            p->cold_bytes += (uint32_t)(stop - a);
        a = stop;
    }
}

/* Owned buffers count on their own pages, each page with its owner's temperature or,
 * when lower, that of the objects the page refers to (Python/buffer_heat.h: the part
 * of a hot log's item array that holds cold records is cold), and, when untraced bytes
 * are asked for, as traced. by_class: the buffer's bytes in each class.
 * A list's item array of one cache line or less (up to 8 items) takes the list's
 * temperature: whatever reads the list's items reads that line. Sampling what it
 * refers to (a cache miss for the buffer, a lookup for each item) was 60% of a
 * record's walk of a BFS graph of 200,000 adjacency lists, and a record's cost is what
 * spaces a capture's heat frames. (Not other small buffers: each node of an
 * OrderedDict is one, as used as its key, not as the dict.) */
#define BUFFER_OWNER_LINE 64

typedef struct {
    page_map *pages;
    PyObject *owner;
    double t;
    int klass;
    uint32_t now;
    size_t page_size;
    pypper_untraced *traced;
    pypper_owned_parts parts;       /* the buffer's bytes by class, by bin, their heat */
} buffer_pages;

/* Whether the buffer [block, block + size) of b's owner takes the owner's temperature
 * without a look at what it refers to (above). */
static bool owner_line(const buffer_pages *b, const void *block, size_t size)
{
    return size <= BUFFER_OWNER_LINE && PyList_Check(b->owner)
           && (const void *)((PyListObject *)b->owner)->ob_item == block;
}

static void add_buffer_pages(const void *block, size_t size, void *arg)
{
    buffer_pages *b = arg;
    pypper_block_info info;
    pypper_heap_lookup(block, &info);
    const char *end = (const char *)block + size;
    bool line = owner_line(b, block, size);
    for (const char *a = block; a < end;) {
        const char *stop = (const char *)(((uintptr_t)a & ~(uintptr_t)(b->page_size - 1)) + b->page_size);
        if (stop > end)
            stop = end;
        double items = b->t > 0.0 && !line
                           ? pypper_buffer_part_temperature(b->owner, block, size, a, stop, b->now) : -1.0;
        double t = items >= 0.0 && items < b->t ? items : b->t;
        int klass = t >= b->t ? b->klass : pypper_model_class_of(t);
        add_bytes(b->pages, (uintptr_t)a, (size_t)(stop - a), info.tier, t, klass, b->page_size, 1);
        b->parts.by_class[klass] += (uint64_t)(stop - a);
        b->parts.by_bin[pypper_group_bin(t)] += (uint64_t)(stop - a);
        b->parts.heat += t * (double)(stop - a);
        a = stop;
    }
    if (b->traced)
        (void)pypper_untraced_mark(b->traced, info.allocated ? info.block : block,
                                   info.allocated ? info.size : size);
}

/* Rows whose owned bytes are not all in their owner's class or at its temperature:
 * (address, cold, warm, hot, and the sum of those bytes' temperatures). */
typedef struct {
    uint64_t address, bytes[3];
    double heat;
} owned_split;

typedef struct {
    owned_split *rows;
    size_t n, cap;
} owned_splits;

static int by_page(const void *a, const void *b)
{
    uintptr_t x = ((const page_agg *)a)->page, y = ((const page_agg *)b)->page;
    return x < y ? -1 : x > y;
}

/* The used slots moved to the front, sorted by address; returns how many. */
static size_t page_map_sorted(page_map *m)
{
    m->last[0] = m->last[1] = NULL;
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].page)
            m->slots[n++] = m->slots[i];
    qsort(m->slots, n, sizeof(page_agg), by_page);
    return n;
}

/* ---- object columns ---- */

static const char *const site_kind_names[SITE_KIND_COUNT] = {"not sampled", "sampled", "buffer",
                                                        "inferred", "before session"};

/* Types seen, numbered in order: an open-addressing map from the type pointer. */
typedef struct {
    PyTypeObject **slots;       /* cap slots */
    uint32_t *index;            /* the number of slots[i] */
    PyTypeObject **types;       /* by number, n of them (room: cap / 2) */
    size_t cap, n;
} type_map;

static void type_map_free(type_map *m)
{
    if (m->slots) {
        unmap_anon(m->slots, m->cap * sizeof(PyTypeObject *));
        unmap_anon(m->index, m->cap * sizeof(uint32_t));
        unmap_anon(m->types, m->cap / 2 * sizeof(PyTypeObject *));
    }
    memset(m, 0, sizeof(*m));
}

static int type_map_init(type_map *m, size_t cap)
{
    m->cap = cap;
    m->n = 0;
    m->slots = map_anon(cap * sizeof(PyTypeObject *));
    m->index = map_anon(cap * sizeof(uint32_t));
    m->types = map_anon(cap / 2 * sizeof(PyTypeObject *));
    if (m->slots && m->index && m->types)
        return 0;
    if (m->slots)
        unmap_anon(m->slots, cap * sizeof(PyTypeObject *));
    if (m->index)
        unmap_anon(m->index, cap * sizeof(uint32_t));
    if (m->types)
        unmap_anon(m->types, cap / 2 * sizeof(PyTypeObject *));
    memset(m, 0, sizeof(*m));
    return -1;
}

static size_t type_home(const PyTypeObject *t, size_t mask)
{
    return (size_t)(((uint64_t)(uintptr_t)t >> 4) * 0x9E3779B97F4A7C15ull >> 24) & mask;
}

/* The number of type t, added if new; UINT32_MAX when there is no memory. */
static uint32_t type_number(type_map *m, PyTypeObject *t)
{
    size_t i = type_home(t, m->cap - 1);
    while (m->slots[i] && m->slots[i] != t)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i])
        return m->index[i];
    if ((m->n + 1) * 2 > m->cap) {
        type_map bigger;
        if (type_map_init(&bigger, m->cap * 2) < 0)
            return UINT32_MAX;
        for (size_t k = 0; k < m->n; k++)
            (void)type_number(&bigger, m->types[k]);
        type_map_free(m);
        *m = bigger;
        return type_number(m, t);
    }
    m->slots[i] = t;
    m->index[i] = (uint32_t)m->n;
    m->types[m->n] = t;
    return (uint32_t)m->n++;
}

/* The site of an object (e: its entry, or NULL; before: it existed before the
 * session) and how it was found. */
static uint32_t row_site(const pypper_obj_entry *e, bool before, const void *buffer, uint8_t *kind)
{
    uint32_t own = e ? pypper_entry_site(e) : before ? PYPPER_SITE_BEFORE_SESSION : 0;
    if (own && own != PYPPER_SITE_BEFORE_SESSION) {
        *kind = SITE_KIND_SAMPLED;
        return own;
    }
    /* An object from before the session whose buffer grew since has that site. */
    uint32_t site = buffer ? pypper_alloc_site_of_block(buffer) : 0;
    *kind = site ? SITE_KIND_BUFFER : own ? SITE_KIND_BEFORE : SITE_KIND_NOT_SAMPLED;
    return site;
}

void pypper_seed_recorded_sites(site_infer *t, size_t room)
{
    size_t seeded = 0, count = pypper_objtable_count();
    for (size_t i = 0; i < count && seeded < room; i++) {
        const pypper_obj_entry *e = pypper_objtable_at(i);
        uint32_t own = pypper_entry_site(e);
        if (!own || own == PYPPER_SITE_BEFORE_SESSION || !pypper_objtable_current(e)
            || !pypper_residency_may_touch(pypper_entry_block(e)))
            continue;
        PyObject *op = pypper_entry_object(e);
        if (Py_REFCNT(op) <= 0)
            continue;
        pypper_site_infer_seed(t, pypper_entry_block(e), Py_TYPE(op), own);
        seeded++;
    }
    pypper_site_infer_settle(t, pypper_alloc_sites_in_turn, pypper_alloc_sites_samples,
                             pypper_alloc_sites_functions);
}

size_t pypper_recorded_site_count(void)
{
    size_t n = 0, count = pypper_objtable_count();
    for (size_t i = 0; i < count; i++) {
        uint32_t own = pypper_entry_site(pypper_objtable_at(i));
        n += own && own != PYPPER_SITE_BEFORE_SESSION;
    }
    return n;
}

/* Give rows [0, n) without a site the site of a recorded object of the same type
 * allocated near them (pypper_seed_recorded_sites). */
static void infer_sites(pypper_snapshot_columns *c, size_t n, const type_map *types, const site_infer *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < n; i++) {
        if (c->kind[i] == SITE_KIND_NOT_SAMPLED) {
            const char *block = (const char *)(uintptr_t)c->address[i] - c->head[i] * 16u;
            c->site[i] = pypper_site_infer(t, block, types->types[c->type[i]]);
            if (c->site[i])
                c->kind[i] = SITE_KIND_INFERRED;
        }
    }
}

/* Sites are alloc_sites ids below 2^16 (objtable.h keeps 16 bits): renumber the
 * site column 1.. in order of first appearance (0: none) and return the ids by
 * number (ids[0] = 0) in *ids (n_ids of them), or -1 when there is no memory. */
#define SITE_IDS 65536u
static int number_sites(pypper_snapshot_columns *c, size_t n, uint32_t **ids, size_t *n_ids)
{
    uint32_t *number = map_anon(SITE_IDS * sizeof(uint32_t));
    uint32_t *by_number = map_anon(SITE_IDS * sizeof(uint32_t));
    if (!number || !by_number) {
        if (number)
            unmap_anon(number, SITE_IDS * sizeof(uint32_t));
        if (by_number)
            unmap_anon(by_number, SITE_IDS * sizeof(uint32_t));
        return -1;
    }
    size_t next = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = c->site[i] < SITE_IDS ? c->site[i] : 0;
        if (id && !number[id]) {
            number[id] = (uint32_t)next;
            by_number[next++] = id;
        }
        c->site[i] = id ? number[id] : 0;
    }
    unmap_anon(number, SITE_IDS * sizeof(uint32_t));
    *ids = by_number;
    *n_ids = next;
    return 0;
}

/* ---- untraced bytes by site ---- */

/* Untraced bytes by site and class, gathered under the heap's serialization (no
 * Python object can be made there) and turned into a list after it. */
typedef struct {
    uint32_t site;
    uint64_t bytes[3];              /* cold, warm, hot */
} untraced_row;

typedef struct {
    untraced_row *rows;
    size_t n, cap;
} untraced_rows;

static void keep_untraced(uint32_t site, const uint64_t bytes[3], void *arg)
{
    untraced_rows *r = arg;
    untraced_row *row;
    if (r->n < r->cap) {
        row = &r->rows[r->n++];     /* mmap'ed: zero */
        row->site = site;
    } else if (r->n) {
        row = &r->rows[0];          /* no room (sites interned meanwhile): no site */
    } else {
        return;
    }
    for (int c = 0; c < 3; c++)
        row->bytes[c] += bytes[c];
}

/* The heat of untraced bytes, page by page (their bytes on the page x their
 * temperature / the page size), in address order: what a capture's frames add to the
 * traced objects' heat, so that floats and objects the live trace has not taken are
 * on the heatmap with their pages' heat. */
typedef struct {
    uintptr_t page;
    double heat;
} untraced_heat;

typedef struct {
    uint32_t now;
    size_t page_size;
    untraced_heat *rows;
    size_t n, cap;
} untraced_pages;

static void add_untraced_heat(untraced_pages *u, uintptr_t page, double heat)
{
    if (u->n && u->rows[u->n - 1].page == page) {
        u->rows[u->n - 1].heat += heat;
        return;
    }
    if (u->n == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 4096;
        untraced_heat *rows = map_anon(cap * sizeof(untraced_heat));
        if (!rows)
            return;                     /* no memory: the page's untraced heat is left out */
        if (u->rows) {
            memcpy(rows, u->rows, u->n * sizeof(untraced_heat));
            unmap_anon(u->rows, u->cap * sizeof(untraced_heat));
        }
        u->rows = rows;
        u->cap = cap;
    }
    u->rows[u->n++] = (untraced_heat){page, heat};
}

/* The class of untraced bytes from their page's settled heat (page_heat.h), by the
 * thresholds alone (no hysteresis: nothing remembers a page's class); the page's heat
 * from all its evidence goes to the pages they are on. */
static int untraced_class(const void *start, size_t block_size, uint64_t bytes, void *arg)
{
    untraced_pages *u = arg;
    size_t index = pypper_heap_page_index(start);
    double t = pypper_page_heat_page_temperature(start, index, block_size, u->now);
    if (t > 0.0) {
        uintptr_t a = (uintptr_t)start, end = a + bytes;
        while (a < end) {
            uintptr_t page = a & ~(uintptr_t)(u->page_size - 1), stop = page + u->page_size;
            stop = stop < end ? stop : end;
            add_untraced_heat(u, page, t * (double)(stop - a) / (double)u->page_size);
            a = stop;
        }
    }
    return pypper_model_class_of(pypper_page_heat_temperature(start, index, block_size, u->now));
}

/* A capture's frame has every page of the heap: the pages in use now (cold ones at
 * heat 0, with their arena's tier) and the untraced bytes' heat added to theirs, so
 * that the frame is made from the map's sorted pages alone (merging them in Python,
 * dict by dict, took 0.1-0.17 s of a 330 MiB heap's 0.45 s record). Under the heap's
 * serialization; the map was sized for the pages in use. */
static void tier_of_page(size_t index, unsigned tier, void *ctx)
{
    page_agg *p = page_slot(ctx, (uintptr_t)pypper_heap_page_at(index), 0);
    if (p)
        p->tier = tier;
}

static void every_page(page_map *m, const untraced_pages *u)
{
    for (size_t i = 0; i < u->n; i++) {
        page_agg *p = page_slot(m, u->rows[i].page, 1);
        if (p)
            p->heat += u->rows[i].heat;
    }
    pypper_heap_for_each_used_page(tier_of_page, m);
}

static PyObject *untraced_heat_list(const untraced_pages *u)
{
    PyObject *list = PyList_New((Py_ssize_t)u->n);
    for (size_t i = 0; list && i < u->n; i++) {
        PyObject *row = Py_BuildValue("(Kd)", (unsigned long long)u->rows[i].page, u->rows[i].heat);
        if (!row)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

/* The description of a site (None for 0), made once per snapshot through memo. */
static PyObject *site_text(PyObject *memo, uint32_t site)
{
    if (!site)
        return Py_NewRef(Py_None);
    PyObject *key = PyLong_FromUnsignedLong(site);
    if (!key)
        return NULL;
    PyObject *text = PyDict_GetItemWithError(memo, key);
    if (text) {
        Py_DECREF(key);
        return Py_NewRef(text);
    }
    text = PyErr_Occurred() ? NULL : pypper_alloc_site_describe(site);
    if (text && PyDict_SetItem(memo, key, text) < 0)
        Py_CLEAR(text);
    Py_DECREF(key);
    return text;
}

/* [(site or None, bytes, cold, warm, hot)], largest first is the caller's business. */
static PyObject *untraced_list(const untraced_rows *r, PyObject *memo)
{
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < r->n; i++) {
        const uint64_t *b = r->rows[i].bytes;
        PyObject *site = site_text(memo, r->rows[i].site);
        PyObject *row = site ? Py_BuildValue("(NKKKK)", site, (unsigned long long)(b[0] + b[1] + b[2]),
                                             (unsigned long long)b[0], (unsigned long long)b[1],
                                             (unsigned long long)b[2])
                             : NULL;
        if (!row || PyList_Append(list, row) < 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    return list;
}

/* ---- Python results ---- */

/* A list of str (or None) for a table of C strings / ids. */
static PyObject *type_names(const type_map *types)
{
    PyObject *list = PyList_New((Py_ssize_t)types->n);
    for (size_t k = 0; list && k < types->n; k++) {
        PyObject *name = PyUnicode_InternFromString(types->types[k]->tp_name);
        if (!name)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)k, name);
    }
    return list;
}

static PyObject *site_texts(const uint32_t *ids, size_t n_ids, PyObject *memo)
{
    PyObject *list = PyList_New((Py_ssize_t)n_ids);
    for (size_t k = 0; list && k < n_ids; k++) {
        PyObject *text = site_text(memo, ids[k]);
        if (!text)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)k, text);
    }
    return list;
}

static PyObject *names_of(const char *const *names, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t k = 0; list && k < n; k++) {
        PyObject *s = PyUnicode_InternFromString(names[k]);
        if (!s)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)k, s);
    }
    return list;
}

/* The rows as tuples (address, size, type, tier, temperature, class, site,
 * owned_bytes, site_kind), the form before columns. */
static PyObject *rows_as_tuples(const pypper_snapshot_columns *c, size_t n, PyObject *types, PyObject *sites,
                                PyObject *tiers, PyObject *classes, PyObject *kinds)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *row = Py_BuildValue(
            "(KKOOdOOKO)", (unsigned long long)c->address[i], (unsigned long long)c->size[i],
            PyList_GET_ITEM(types, c->type[i]), PyList_GET_ITEM(tiers, c->tier[i]),
            c->temperature[i], PyList_GET_ITEM(classes, c->klass[i]),
            PyList_GET_ITEM(sites, c->site[i]), (unsigned long long)c->owned[i],
            PyList_GET_ITEM(kinds, c->kind[i]));
        if (!row)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

/* Pages as columns: address, hot bytes, cold bytes (uint64), heat (double), tier
 * (uint8); or as tuples (address, tier, heat, hot_bytes, cold_bytes). */
#define PAGE_ROW_BYTES 33u
static PyObject *pages_out(const page_agg *p, size_t n, bool as_columns, PyObject *tiers)
{
    if (!as_columns) {
        PyObject *list = PyList_New((Py_ssize_t)n);
        for (size_t i = 0; list && i < n; i++) {
            PyObject *row = Py_BuildValue("(KOdKK)", (unsigned long long)p[i].page,
                                          PyList_GET_ITEM(tiers, p[i].tier ? 1 : 0), p[i].heat,
                                          (unsigned long long)p[i].hot_bytes,
                                          (unsigned long long)p[i].cold_bytes);
            if (!row)
                Py_CLEAR(list);
            else
                PyList_SET_ITEM(list, (Py_ssize_t)i, row);
        }
        return list;
    }
    PyObject *buf = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * PAGE_ROW_BYTES));
    if (!buf)
        return NULL;
    uint64_t *address = (uint64_t *)PyBytes_AS_STRING(buf), *hot = address + n, *cold = hot + n;
    double *heat = (double *)(cold + n);
    uint8_t *tier = (uint8_t *)(heat + n);
    for (size_t i = 0; i < n; i++) {
        address[i] = p[i].page;
        hot[i] = p[i].hot_bytes;
        cold[i] = p[i].cold_bytes;
        heat[i] = p[i].heat;
        tier[i] = p[i].tier ? 1 : 0;
    }
    return Py_BuildValue("{s:n,s:N}", "n", (Py_ssize_t)n, "columns", buf);
}

/* ---- the call ---- */

typedef struct {
    pypper_snapshot_columns cols;
    type_map types;
    page_map pages;
    pypper_untraced *traced;
    untraced_rows urows;
    untraced_pages upages;
    owned_splits splits;
    uint32_t *site_ids;
    site_infer *infer;              /* seeded before the rows are made */
    char *sums_rows;                /* sums mode: the scratch columns' buffer */
    pypper_owned_parts *owned;      /* sums mode: each row's owned bytes by temperature */
    bool *machinery;                /* sums mode: by type number (MACHINERY_TYPES) */
    pypper_group_sums *sums;        /* sums mode */
} scratch;

#define MACHINERY_TYPES 65536u
/* Sums mode: rows made at a time. Each takes its columns (44 bytes) and its buffers'
 * sums (112): 16,384 took 2.5 MB of a record's scratch memory, which a capture adds
 * to the program's peak RSS; 4,096 take 640 KB, for a few more rounds of the loop. */
#define SUMS_CHUNK 4096u

static void scratch_free(scratch *s)
{
    if (s->cols.head)
        unmap_anon(s->cols.head, s->cols.cap);
    type_map_free(&s->types);
    if (s->pages.slots)
        unmap_anon(s->pages.slots, s->pages.cap * sizeof(page_agg));
    pypper_untraced_free(s->traced);
    if (s->urows.rows)
        unmap_anon(s->urows.rows, s->urows.cap * sizeof(untraced_row));
    if (s->splits.rows)
        unmap_anon(s->splits.rows, s->splits.cap * sizeof(owned_split));
    if (s->upages.rows)
        unmap_anon(s->upages.rows, s->upages.cap * sizeof(untraced_heat));
    if (s->site_ids)
        unmap_anon(s->site_ids, SITE_IDS * sizeof(uint32_t));
    pypper_site_infer_free(s->infer);
    if (s->owned)
        unmap_anon(s->owned, s->cols.cap * sizeof(*s->owned));
    if (s->machinery)
        unmap_anon(s->machinery, MACHINERY_TYPES * sizeof(bool));
    pypper_group_sums_free(s->sums);
    if (s->sums_rows)
        unmap_anon(s->sums_rows, SUMS_CHUNK * PYPPER_SNAPSHOT_ROW_BYTES);
}

/* [(address, cold, warm, hot)]: the owned bytes of each row whose buffer is not all
 * in its owner's class. */
static PyObject *splits_list(const scratch *s)
{
    PyObject *list = PyList_New((Py_ssize_t)s->splits.n);
    for (size_t i = 0; list && i < s->splits.n; i++) {
        const owned_split *r = &s->splits.rows[i];
        PyObject *row = Py_BuildValue("(KKKKd)", (unsigned long long)r->address,
                                      (unsigned long long)r->bytes[0], (unsigned long long)r->bytes[1],
                                      (unsigned long long)r->bytes[2], r->heat);
        if (!row)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

/* The type of a row whose object is in swap: a snapshot does not read it (its page
 * would come back from far memory), so its type and owned buffers are unknown. */
static PyTypeObject in_swap_type = {PyVarObject_HEAD_INIT(NULL, 0).tp_name = "(in swap: not read)"};

/* An object's class as its entry has it (e, with hysteresis), or as a fresh entry's
 * would be (an object without evidence has no entry). */
static int row_class(pypper_obj_entry *e, double t)
{
    pypper_obj_entry fresh = {0};
    return pypper_model_classify(e ? e : &fresh, t);
}

/* Fill the columns (and pages, untraced marks) from the tracked objects (Objects/
 * track.h, in address order) from granule *next on, under the heap's serialization,
 * until the columns are full or the walk ends (*done); returns the number of rows and
 * sets *next to the granule after the last object read. */
static size_t fill(scratch *s, double min_t, uint32_t now, size_t page_size, uint64_t *next, bool *done)
{
    pypper_snapshot_columns *c = &s->cols;
    size_t nrows = 0;
    uint64_t end = pypper_heap_granule_end();
    pypper_tracked_block tb;
    *done = false;
    while (nrows < c->cap) {
        if (!pypper_heap_tracked_next(next, end, &tb)) {
            *done = true;
            break;
        }
        PyObject *op = tb.object;
        if (!op)
            continue;
        pypper_obj_entry *e = tb.noted ? pypper_traced_entry_find(tb.block, op) : NULL;
        bool readable = pypper_residency_may_touch(tb.block);
        if (readable && Py_REFCNT(op) <= 0)
            continue;
        pypper_block_info info;
        pypper_heap_lookup(tb.block, &info);
        /* Its own evidence and its share of its page's writes (attribution.h). */
        const pypper_obj_state *st = e ? pypper_entry_state(e) : &pypper_obj_state_zero;
        double t = pypper_attr_temperature(
            pypper_model_temperature(pypper_object_heat(pypper_model_heat(st, now), op, now), now),
            pypper_wt_page_history(op), info.size);
        int klass = row_class(e, t);
        /* The object's whole block counts for its pages (its header included), and
         * each buffer it owns for the buffer's pages. */
        add_bytes(&s->pages, (uintptr_t)tb.block, info.size, info.tier, t, klass, page_size, 0);
        if (s->traced)
            (void)pypper_untraced_mark(s->traced, tb.block, info.size);
        buffer_pages bp = {&s->pages, op, t, klass, now, page_size, s->traced, {{0}, {0}, 0.0}};
        const void *buffer = NULL;
        size_t owned = readable ? pypper_owned_blocks(op, &buffer, add_buffer_pages, &bp) : 0;
        if (t < min_t)
            continue;
        /* A row for a buffer not all in its owner's class, or not all at its owner's
         * temperature (its bytes' heat is what means count: as the capture's groups). */
        if (owned && !s->owned
            && (bp.parts.by_class[klass] != owned
                || fabs(bp.parts.heat - t * (double)owned) > 1e-9 * t * (double)owned)) {
            if (!s->splits.rows) {
                s->splits.cap = c->cap;
                s->splits.rows = map_anon(s->splits.cap * sizeof(owned_split));
                if (!s->splits.rows)
                    s->splits.cap = 0;  /* no memory: the owner's class for all of it */
            }
            if (s->splits.n < s->splits.cap)
                s->splits.rows[s->splits.n++] = (owned_split){(uint64_t)(uintptr_t)op, {bp.parts.by_class[0], bp.parts.by_class[1], bp.parts.by_class[2]}, bp.parts.heat};
        }
        uint32_t type = type_number(&s->types, readable ? Py_TYPE(op) : &in_swap_type);
        if (type == UINT32_MAX) {
            s->pages.failed = true;     /* no memory: the call fails */
            break;
        }
        uint8_t kind;
        uint32_t site = row_site(e, tb.before, buffer, &kind);
        pypper_snapshot_columns_set(c, nrows, &(pypper_snapshot_row){
            (uint64_t)(uintptr_t)op, info.size, owned, t, type, site,
            info.tier == PYPPER_TIER_SLOW ? 1 : 0, (uint8_t)klass, kind});
        c->head[nrows] = (uint8_t)(((char *)op - (char *)tb.block) / 16);
        if (s->owned)
            s->owned[nrows] = bp.parts;
        nrows++;
    }
    return nrows;
}

static PyObject *model_dict(uint32_t now)
{
    const pypper_model_params *mp = pypper_model_params_get();
    return Py_BuildValue(
        "{s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d,s:d}",
        "half_life_ms", mp->half_life_ms, "hot_threshold", mp->hot_threshold,
        "cold_threshold", mp->cold_threshold, "hysteresis", mp->hysteresis,
        "frame_weight", mp->weight[PYPPER_EVIDENCE_FRAME],
        "caller_weight", mp->weight[PYPPER_EVIDENCE_CALLER],
        "hold_weight", mp->weight[PYPPER_EVIDENCE_HOLD],
        "refcount_weight", mp->weight[PYPPER_EVIDENCE_REFCOUNT],
        "reference_heat", pypper_model_reference_heat(now));
}

PyObject *pypper_snapshot_data(PyObject *module, PyObject *args)
{
    (void)module;
    double min_t = 0.0;
    int want_untraced = 0, as_columns = 0;
    if (!PyArg_ParseTuple(args, "|dpp:snapshot_data", &min_t, &want_untraced, &as_columns))
        return NULL;
    if (!pypper_live_trace_running()) {
        PyErr_SetString(PyExc_RuntimeError, "no tracing session is running: call pypper.start() first");
        return NULL;
    }
    (void)pypper_owned_buffers_init();      /* array.array's layout, once (imports) */
    pypper_engine_catch_up();
    uint32_t now = pypper_active_trace_now_ms();
    size_t page_size = (size_t)sysconf(_SC_PAGESIZE);

    /* Everything that needs memory is had before the heap's lock: the columns (a
     * bytes object, room for every entry of the table), the scratch maps. Nothing
     * allocates from Python until the lock is released, so the table cannot change. */
    size_t cap = pypper_live_trace_objects();
    PyObject *buf = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(cap * PYPPER_SNAPSHOT_ROW_BYTES));
    if (!buf)
        return NULL;
    scratch s;
    memset(&s, 0, sizeof(s));
    pypper_snapshot_columns_place(&s.cols, PyBytes_AS_STRING(buf), cap);
    s.cols.head = map_anon(cap);
    size_t seeds = pypper_recorded_site_count();
    s.infer = seeds ? pypper_site_infer_new(seeds) : NULL;     /* NULL: no inference */
    s.traced = want_untraced ? pypper_untraced_new() : NULL;
    s.urows.cap = want_untraced ? (size_t)pypper_alloc_sites_count() + 1 : 0;
    s.urows.rows = want_untraced ? map_anon(s.urows.cap * sizeof(untraced_row)) : NULL;
    if (!s.cols.head || type_map_init(&s.types, 256) < 0 || page_map_init(&s.pages) < 0
        || (want_untraced && (!s.traced || !s.urows.rows))) {
        scratch_free(&s);
        Py_DECREF(buf);
        return PyErr_NoMemory();
    }
    bool locked = pypper_heap_lock();
    (void)pypper_objtable_sync();       /* a failed one: objects' entries read as none */
    pypper_scan_groups_refresh(now);
    if (s.traced) {
        /* The columns' own block is the snapshot's, not the program's untraced bytes. */
        pypper_block_info info;
        pypper_heap_lookup(buf, &info);
        if (info.allocated)
            (void)pypper_untraced_mark(s.traced, info.block, info.size);
    }
    if (s.infer)
        pypper_seed_recorded_sites(s.infer, seeds);
    uint64_t next = 0;
    bool done;
    size_t n = fill(&s, min_t, now, page_size, &next, &done);
    s.upages = (untraced_pages){now, page_size, NULL, 0, 0};
    uint64_t untraced_total = s.traced ? pypper_untraced_walk(s.traced, untraced_class, &s.upages, keep_untraced, &s.urows) : 0;
    pypper_heap_unlock(locked);
    infer_sites(&s.cols, n, &s.types, s.infer);
    size_t n_ids = 0, npages = s.pages.failed ? 0 : page_map_sorted(&s.pages);
    if (s.pages.failed || number_sites(&s.cols, n, &s.site_ids, &n_ids) < 0) {
        scratch_free(&s);
        Py_DECREF(buf);
        return PyErr_NoMemory();
    }

    PyObject *memo = PyDict_New();
    PyObject *types = memo ? type_names(&s.types) : NULL;
    PyObject *sites = types ? site_texts(s.site_ids, n_ids, memo) : NULL;
    PyObject *tiers = sites ? names_of((const char *const[]){tier_name(0), tier_name(1)}, 2) : NULL;
    const char *class_names[] = {pypper_model_class_name(PYPPER_COLD), pypper_model_class_name(PYPPER_WARM),
                                 pypper_model_class_name(PYPPER_HOT)};
    PyObject *classes = tiers ? names_of(class_names, 3) : NULL;
    PyObject *kinds = classes ? names_of(site_kind_names, SITE_KIND_COUNT) : NULL;
    PyObject *objects = NULL;
    if (kinds && as_columns)
        objects = Py_BuildValue("{s:n,s:n,s:O,s:O,s:O,s:O,s:O,s:O}", "n", (Py_ssize_t)n,
                                "capacity", (Py_ssize_t)cap, "columns", buf, "types", types,
                                "sites", sites, "tiers", tiers, "classes", classes,
                                "site_kinds", kinds);
    else if (kinds)
        objects = rows_as_tuples(&s.cols, n, types, sites, tiers, classes, kinds);
    Py_DECREF(buf);
    PyObject *page_list = objects ? pages_out(s.pages.slots, npages, as_columns, tiers) : NULL;
    PyObject *untraced = page_list && want_untraced ? untraced_list(&s.urows, memo) : NULL;
    PyObject *uheat = untraced ? untraced_heat_list(&s.upages) : NULL;
    PyObject *splits = page_list && (!want_untraced || uheat) ? splits_list(&s) : NULL;
    PyObject *model = splits ? model_dict(now) : NULL;
    scratch_free(&s);
    Py_XDECREF(types);
    Py_XDECREF(sites);
    Py_XDECREF(tiers);
    Py_XDECREF(classes);
    Py_XDECREF(kinds);
    Py_XDECREF(memo);
    PyObject *out = model ? Py_BuildValue("{s:N,s:N,s:n,s:d,s:N}", "objects", objects, "pages", page_list,
                                          "page_size", (Py_ssize_t)page_size, "uptime",
                                          (double)now / 1e3, "model", model)
                          : NULL;
    if (!model) {
        Py_XDECREF(objects);
        Py_XDECREF(page_list);
    }
    if (out && PyDict_SetItemString(out, "owned_classes", splits) < 0)
        Py_CLEAR(out);
    Py_XDECREF(splits);
    if (out && untraced) {
        PyObject *total = PyLong_FromUnsignedLongLong(untraced_total);
        if (!total || PyDict_SetItemString(out, "untraced", untraced) < 0
            || PyDict_SetItemString(out, "untraced_bytes", total) < 0
            || PyDict_SetItemString(out, "untraced_heat", uheat) < 0)
            Py_CLEAR(out);
        Py_XDECREF(total);
    }
    Py_XDECREF(untraced);
    Py_XDECREF(uheat);
    return out;
}

/* ---- sums per (site, type) without the rows ---- */

/* A capture's groups and frame records need the rows' sums, not the rows: a snapshot
 * of three million objects as columns is 130 MiB more of memory while it is made.
 * The rows are made SUMS_CHUNK at a time into scratch columns, their sites inferred
 * and their sums added (Pypper/group_sums.h), all under the heap's serialization. */

/* machinery[k] for the types numbered from *done on: true when the type's name is
 * one of `names` (UTF-8 texts, n of them). */
static void mark_machinery(scratch *s, const char *const *names, size_t n, size_t *done)
{
    for (; *done < s->types.n && *done < MACHINERY_TYPES; (*done)++) {
        const char *name = s->types.types[*done]->tp_name;
        for (size_t k = 0; k < n && !s->machinery[*done]; k++)
            s->machinery[*done] = strcmp(name, names[k]) == 0;
    }
}

static PyObject *sums_groups(const scratch *s, PyObject *types, PyObject *memo)
{
    PyObject *list = PyList_New(0);
    size_t cursor = 0;
    for (const pypper_group_sum *g; list && (g = pypper_group_sums_next(s->sums, &cursor));) {
        PyObject *hist = PyList_New(PYPPER_GROUP_BINS);
        for (Py_ssize_t b = 0; hist && b < PYPPER_GROUP_BINS; b++) {
            PyObject *v = PyLong_FromUnsignedLongLong(g->hist[b]);
            if (!v)
                Py_CLEAR(hist);
            else
                PyList_SET_ITEM(hist, b, v);
        }
        PyObject *site = hist ? site_text(memo, g->site) : NULL;
        PyObject *row = site ? Py_BuildValue("(NOKKKKKKdKN)", site, PyList_GET_ITEM(types, g->type),
                                             (unsigned long long)g->objects, (unsigned long long)g->bytes,
                                             (unsigned long long)g->owned, (unsigned long long)g->by_class[2],
                                             (unsigned long long)g->by_class[1],
                                             (unsigned long long)g->by_class[0], g->tsum,
                                             (unsigned long long)g->slow, hist)
                             : NULL;
        if (!site)
            Py_XDECREF(hist);
        if (!row || PyList_Append(list, row) < 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    return list;
}

static PyObject *sums_sites(const scratch *s, PyObject *memo)
{
    PyObject *list = PyList_New(0);
    for (uint32_t site = 0; list && site < PYPPER_GROUP_SITES; site++) {
        const pypper_site_sum *f = pypper_group_sums_site(s->sums, site);
        if (!f->hot && !f->warm)
            continue;
        PyObject *text = site_text(memo, site);
        PyObject *row = text ? Py_BuildValue("(NKK)", text, (unsigned long long)f->hot,
                                             (unsigned long long)f->warm)
                             : NULL;
        if (!row || PyList_Append(list, row) < 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    return list;
}

PyObject *pypper_snapshot_sums(PyObject *module, PyObject *args)
{
    (void)module;
    double frame_min_t;
    PyObject *names_in;
    if (!PyArg_ParseTuple(args, "dO!:snapshot_sums", &frame_min_t, &PyTuple_Type, &names_in))
        return NULL;
    Py_ssize_t n_names = PyTuple_GET_SIZE(names_in);
    const char **names = PyMem_Calloc((size_t)n_names + 1, sizeof(char *));
    if (!names)
        return PyErr_NoMemory();
    for (Py_ssize_t k = 0; k < n_names; k++) {
        PyObject *name = PyTuple_GET_ITEM(names_in, k);
        names[k] = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        if (!names[k]) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "snapshot_sums: machinery type names must be str");
            PyMem_Free(names);
            return NULL;
        }
    }
    if (!pypper_live_trace_running()) {
        PyMem_Free(names);
        PyErr_SetString(PyExc_RuntimeError, "no tracing session is running: call pypper.start() first");
        return NULL;
    }
    (void)pypper_owned_buffers_init();
    pypper_engine_catch_up();
    uint32_t now = pypper_active_trace_now_ms();
    size_t page_size = (size_t)sysconf(_SC_PAGESIZE);

    /* As in snapshot_data: all memory before the heap's lock (own memory, mmap'ed:
     * the scratch columns, the maps, the sums, which grow there without the heap). */
    scratch s;
    memset(&s, 0, sizeof(s));
    s.sums_rows = map_anon(SUMS_CHUNK * PYPPER_SNAPSHOT_ROW_BYTES);
    if (s.sums_rows)
        pypper_snapshot_columns_place(&s.cols, s.sums_rows, SUMS_CHUNK);
    s.cols.cap = SUMS_CHUNK;        /* (what scratch_free unmaps the row arrays by) */
    s.cols.head = map_anon(SUMS_CHUNK);
    s.owned = map_anon(SUMS_CHUNK * sizeof(*s.owned));
    s.machinery = map_anon(MACHINERY_TYPES * sizeof(bool));
    s.sums = pypper_group_sums_new(frame_min_t);
    size_t seeds = pypper_recorded_site_count();
    s.infer = seeds ? pypper_site_infer_new(seeds) : NULL;
    s.traced = pypper_untraced_new();
    s.urows.cap = (size_t)pypper_alloc_sites_count() + 1;
    s.urows.rows = map_anon(s.urows.cap * sizeof(untraced_row));
    if (!s.sums_rows || !s.cols.head || !s.owned || !s.machinery || !s.sums || !s.traced
        || !s.urows.rows || type_map_init(&s.types, 256) < 0 || page_map_init(&s.pages) < 0) {
        scratch_free(&s);
        PyMem_Free(names);
        return PyErr_NoMemory();
    }
    bool locked = pypper_heap_lock();
    (void)pypper_objtable_sync();       /* a failed one: objects' entries read as none */
    pypper_scan_groups_refresh(now);
    if (s.infer)
        pypper_seed_recorded_sites(s.infer, seeds);
    uint64_t next = 0;
    size_t rows = 0, typed = 0;
    bool summed = true, done = false;
    while (summed && !done && !s.pages.failed) {
        size_t n = fill(&s, 0.0, now, page_size, &next, &done);
        infer_sites(&s.cols, n, &s.types, s.infer);
        mark_machinery(&s, names, (size_t)n_names, &typed);
        summed = pypper_group_sums_add(s.sums, &s.cols, n, s.owned, s.machinery,
                                       s.types.n < MACHINERY_TYPES ? s.types.n : MACHINERY_TYPES);
        rows += n;
    }
    s.upages = (untraced_pages){now, page_size, NULL, 0, 0};
    uint64_t untraced_total = pypper_untraced_walk(s.traced, untraced_class, &s.upages, keep_untraced, &s.urows);
    every_page(&s.pages, &s.upages);
    pypper_heap_unlock(locked);
    PyMem_Free(names);
    if (!summed || s.pages.failed) {
        scratch_free(&s);
        return PyErr_NoMemory();
    }
    size_t npages = page_map_sorted(&s.pages);

    PyObject *memo = PyDict_New();
    PyObject *types = memo ? type_names(&s.types) : NULL;
    PyObject *tiers = types ? names_of((const char *const[]){tier_name(0), tier_name(1)}, 2) : NULL;
    PyObject *groups = tiers ? sums_groups(&s, types, memo) : NULL;
    PyObject *sites = groups ? sums_sites(&s, memo) : NULL;
    PyObject *pages = sites ? pages_out(s.pages.slots, npages, true, tiers) : NULL;
    PyObject *untraced = pages ? untraced_list(&s.urows, memo) : NULL;
    PyObject *model = untraced ? model_dict(now) : NULL;
    PyObject *out = model ? Py_BuildValue("{s:N,s:N,s:N,s:n,s:n,s:d,s:N,s:N,s:K}", "groups", groups,
                                          "sites", sites, "pages", pages, "objects", (Py_ssize_t)rows,
                                          "page_size", (Py_ssize_t)page_size, "uptime", (double)now / 1e3,
                                          "model", model, "untraced", untraced, "untraced_bytes",
                                          (unsigned long long)untraced_total)
                          : NULL;
    if (!model) {
        Py_XDECREF(groups);
        Py_XDECREF(sites);
        Py_XDECREF(pages);
        Py_XDECREF(untraced);
    }
    scratch_free(&s);
    Py_XDECREF(types);
    Py_XDECREF(tiers);
    Py_XDECREF(memo);
    return out;
}

/* ---- the file format's object rows, as JSON text ---- */

/* Appends to a growing buffer; false once it could not grow. */
typedef struct {
    char *p;
    size_t n, cap;
    bool failed;
} text;

static bool text_room(text *t, size_t more)
{
    if (t->n + more <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 1 << 16;
    while (cap < t->n + more)
        cap *= 2;
    char *p = PyMem_RawRealloc(t->p, cap);
    if (!p) {
        t->failed = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

static void put(text *t, const char *s, size_t len)
{
    if (!t->failed && text_room(t, len)) {
        memcpy(t->p + t->n, s, len);
        t->n += len;
    }
}

static void put_u64(text *t, uint64_t v)
{
    char digits[20];
    size_t k = sizeof(digits);
    do {
        digits[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(t, digits + k, sizeof(digits) - k);
}

/* As Python's repr() writes it (what json.dumps writes for a finite float). */
static void put_double(text *t, double v)
{
    if (v == 0.0) {
        put(t, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 4 : 3);
        return;
    }
    char *s = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!s) {
        t->failed = true;
        return;
    }
    put(t, s, strlen(s));
    PyMem_Free(s);
}

/* table[k] as bytes (the JSON text of a name, made by the caller). */
static bool put_item(text *t, PyObject *table, uint32_t k)
{
    if ((Py_ssize_t)k >= PyList_GET_SIZE(table) || !PyBytes_Check(PyList_GET_ITEM(table, k))) {
        PyErr_SetString(PyExc_ValueError, "snapshot_rows_json: a name table is too short");
        return false;
    }
    PyObject *b = PyList_GET_ITEM(table, k);
    put(t, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    return true;
}

/* snapshot_rows_json(columns, n, capacity, start, stop, types, sites, tiers, classes,
 * kinds) -> bytes: rows start..stop of snapshot_data(columns=True)'s objects as the
 * file format writes them, "[address,size,type,tier,temperature,site,class,
 * owned_bytes,site_kind]" joined by commas; the tables are lists of the JSON text
 * (bytes) of each name. */
PyObject *pypper_snapshot_rows_json(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer buf;
    Py_ssize_t n, cap, start, stop;
    PyObject *tables[5];
    if (!PyArg_ParseTuple(args, "y*nnnnO!O!O!O!O!:snapshot_rows_json", &buf, &n, &cap, &start, &stop,
                          &PyList_Type, &tables[0], &PyList_Type, &tables[1], &PyList_Type,
                          &tables[2], &PyList_Type, &tables[3], &PyList_Type, &tables[4]))
        return NULL;
    if (n < 0 || cap < n || (size_t)buf.len < (size_t)cap * PYPPER_SNAPSHOT_ROW_BYTES || start < 0 || stop > n
        || start > stop) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "snapshot_rows_json: rows or columns out of range");
        return NULL;
    }
    pypper_snapshot_columns c;
    pypper_snapshot_columns_place(&c, buf.buf, (size_t)cap);
    text t = {NULL, 0, 0, false};
    bool ok = true;
    for (Py_ssize_t i = start; ok && !t.failed && i < stop; i++) {
        put(&t, i > start ? ",[" : "[", i > start ? 2 : 1);
        put_u64(&t, c.address[i]);
        put(&t, ",", 1);
        put_u64(&t, c.size[i]);
        put(&t, ",", 1);
        ok = put_item(&t, tables[0], c.type[i]);
        put(&t, ",", 1);
        ok = ok && put_item(&t, tables[2], c.tier[i]);
        put(&t, ",", 1);
        put_double(&t, c.temperature[i]);
        put(&t, ",", 1);
        ok = ok && put_item(&t, tables[1], c.site[i]);
        put(&t, ",", 1);
        ok = ok && put_item(&t, tables[3], c.klass[i]);
        put(&t, ",", 1);
        put_u64(&t, c.owned[i]);
        put(&t, ",", 1);
        ok = ok && put_item(&t, tables[4], c.kind[i]);
        put(&t, "]", 1);
    }
    PyBuffer_Release(&buf);
    PyObject *out = NULL;
    if (t.failed)
        PyErr_NoMemory();
    else if (ok)
        out = PyBytes_FromStringAndSize(t.p ? t.p : "", (Py_ssize_t)t.n);
    PyMem_RawFree(t.p);
    return out;
}
