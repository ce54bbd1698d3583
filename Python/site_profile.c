/* Python/site_profile.c: the cold sites of a loaded allocation-site profile and
 * their match to this process's code objects (see site_profile.h). Three tables,
 * mapped as Pypper's own memory: the profile's sites sorted by fingerprint; the
 * matched (code object, instruction) pairs, direct mapped as the placement hook reads
 * them; and the set of matched code objects, so that a code object's destruction
 * (the watcher's other event) removes its pairs before its address can be reused. */
#include "site_profile.h"

#include "../Pypper/log.h"
#include "../Pypper/own_memory.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PROFILE_MAX 65536        /* sites a profile may name */
#define CODE_SLOTS 4096          /* matched code objects (power of two) */
#define CODE_TOMB ((const void *)1)

typedef struct {
    uint64_t fp;
    int32_t offset;
} prof_site;

/* The table the placement hook reads: P.match while a profile is loaded. */
pypper_profile_slot *pypper_site_profile_match;

static struct {
    prof_site *sites;            /* sorted by (fp, offset) */
    size_t nsites, sites_bytes;
    pypper_profile_slot *match;           /* PYPPER_PROFILE_SLOTS */
    const void **codes;          /* CODE_SLOTS: open addressing, CODE_TOMB removed */
    size_t ncodes;               /* live + tombstones */
    int watcher;                 /* -1: none */
    uint64_t matched_codes, matched_sites, collisions, overruled, code_set_full;
} P = {.watcher = -1};

/* ---- fingerprint ---- */

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_str(uint64_t h, PyObject *s)
{
    if (!s || !PyUnicode_Check(s))
        return fnv(h, "", 1);
    unsigned kind = PyUnicode_KIND(s);
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    h = fnv(h, &kind, sizeof(kind));
    return fnv(h, PyUnicode_DATA(s), (size_t)len * kind);
}

uint64_t pypper_code_fingerprint(PyCodeObject *co)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv_str(h, co->co_filename);
    h = fnv_str(h, co->co_qualname);
    int32_t nums[2] = {co->co_firstlineno, (int32_t)Py_SIZE(co)};
    h = fnv(h, nums, sizeof(nums));
    if (co->co_linetable && PyBytes_Check(co->co_linetable))
        h = fnv(h, PyBytes_AS_STRING(co->co_linetable), (size_t)PyBytes_GET_SIZE(co->co_linetable));
    return h;
}

/* ---- tables ---- */

static inline size_t code_slot_of(const void *code)
{
    return (size_t)(((uint64_t)(uintptr_t)code >> 4) * 0x9E3779B97F4A7C15ull >> 40) & (CODE_SLOTS - 1);
}

/* The first of the profile's sites with this fingerprint, or nsites. */
static size_t first_site(uint64_t fp)
{
    size_t lo = 0, hi = P.nsites;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (P.sites[mid].fp < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < P.nsites && P.sites[lo].fp == fp ? lo : P.nsites;
}

static const void **code_find(const void *code)
{
    size_t i = code_slot_of(code);
    for (size_t probes = 0; probes < CODE_SLOTS; probes++, i = (i + 1) & (CODE_SLOTS - 1)) {
        if (P.codes[i] == code)
            return &P.codes[i];
        if (!P.codes[i])
            return NULL;
    }
    return NULL;
}

static bool code_add(const void *code)
{
    if (P.ncodes + 1 >= CODE_SLOTS / 2) {
        P.code_set_full++;
        return false;
    }
    size_t i = code_slot_of(code);
    while (P.codes[i] && P.codes[i] != CODE_TOMB)
        i = (i + 1) & (CODE_SLOTS - 1);
    if (!P.codes[i])
        P.ncodes++;                  /* a reused tombstone was counted already */
    P.codes[i] = code;
    return true;
}

static void match_code(PyCodeObject *co)
{
    size_t i = first_site(pypper_code_fingerprint(co));
    if (i == P.nsites || code_find(co) || !code_add(co))
        return;
    P.matched_codes++;
    for (uint64_t fp = P.sites[i].fp; i < P.nsites && P.sites[i].fp == fp; i++) {
        int offset = P.sites[i].offset;
        if (offset >= Py_SIZE(co))
            continue;
        pypper_profile_slot *m = &P.match[pypper_site_profile_slot(co, offset)];
        if (m->code)
            P.collisions++;          /* the later code keeps the slot */
        *m = (pypper_profile_slot){co, offset};
        P.matched_sites++;
    }
}

static void unmatch_code(PyCodeObject *co)
{
    const void **slot = code_find(co);
    if (!slot)
        return;
    *slot = CODE_TOMB;
    size_t i = first_site(pypper_code_fingerprint(co));
    for (uint64_t fp = i < P.nsites ? P.sites[i].fp : 0; i < P.nsites && P.sites[i].fp == fp; i++) {
        pypper_profile_slot *m = &P.match[pypper_site_profile_slot(co, P.sites[i].offset)];
        if (m->code == co)
            *m = (pypper_profile_slot){NULL, 0};
    }
}

static int on_code(PyCodeEvent event, PyCodeObject *co)
{
    if (!P.nsites)
        return 0;
    if (event == PY_CODE_EVENT_CREATE)
        match_code(co);
    else if (event == PY_CODE_EVENT_DESTROY)
        unmatch_code(co);
    return 0;
}

static int by_site(const void *a, const void *b)
{
    const prof_site *x = a, *y = b;
    if (x->fp != y->fp)
        return x->fp < y->fp ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

void pypper_site_profile_clear(void)
{
    if (P.watcher >= 0) {
        PyObject *exc = PyErr_GetRaisedException();
        if (PyCode_ClearWatcher(P.watcher) < 0)
            PyErr_Clear();
        PyErr_SetRaisedException(exc);
        P.watcher = -1;
    }
    pypper_site_profile_match = NULL;
    if (P.sites)
        pypper_own_munmap(P.sites, P.sites_bytes);
    if (P.match)
        pypper_own_munmap(P.match, PYPPER_PROFILE_SLOTS * sizeof(pypper_profile_slot));
    if (P.codes)
        pypper_own_munmap(P.codes, CODE_SLOTS * sizeof(void *));
    memset(&P, 0, sizeof(P));
    P.watcher = -1;
}

static void *map_part(size_t bytes)
{
    void *p = pypper_own_mmap(PYPPER_OWN_SITE_PROFILE, bytes, MAP_NORESERVE);
    return p == MAP_FAILED ? NULL : p;
}

int pypper_site_profile_load(const uint64_t *fingerprints, const int *offsets, size_t n,
                             PyObject *existing)
{
    pypper_site_profile_clear();
    if (!n)
        return 0;
    if (n > PROFILE_MAX) {
        PyErr_Format(PyExc_ValueError, "a profile may name at most %d cold sites, not %zu",
                     PROFILE_MAX, n);
        return -1;
    }
    P.sites_bytes = n * sizeof(prof_site);
    P.sites = map_part(P.sites_bytes);
    P.match = map_part(PYPPER_PROFILE_SLOTS * sizeof(pypper_profile_slot));
    P.codes = map_part(CODE_SLOTS * sizeof(void *));
    if (!P.sites || !P.match || !P.codes) {
        pypper_site_profile_clear();
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        P.sites[i] = (prof_site){fingerprints[i], offsets[i]};
    qsort(P.sites, n, sizeof(prof_site), by_site);
    P.nsites = n;
    P.watcher = PyCode_AddWatcher(on_code);
    if (P.watcher < 0) {
        pypper_site_profile_clear();
        return -1;                   /* "no more code watcher IDs available" */
    }
    PyObject *it = existing ? PyObject_GetIter(existing) : NULL;
    if (existing && !it) {
        pypper_site_profile_clear();
        return -1;
    }
    for (PyObject *item; it && (item = PyIter_Next(it)) != NULL; Py_DECREF(item))
        if (PyCode_Check(item))
            match_code((PyCodeObject *)item);
    Py_XDECREF(it);
    if (PyErr_Occurred()) {
        pypper_site_profile_clear();
        return -1;
    }
    pypper_site_profile_match = P.match;
    pypper_log(PYPPER_LOG_INFO, "profile: %zu cold sites loaded, %llu matched in %llu code objects",
               n, (unsigned long long)P.matched_sites, (unsigned long long)P.matched_codes);
    return 0;
}

bool pypper_site_profile_active(void)
{
    return P.nsites > 0;
}

void pypper_site_profile_overrule(const void *code, int offset)
{
    if (!P.match)
        return;
    pypper_profile_slot *m = &P.match[pypper_site_profile_slot(code, offset)];
    if (m->code == code && m->offset == offset) {
        *m = (pypper_profile_slot){NULL, 0};
        P.overruled++;
    }
}

PyObject *pypper_site_profile_stats(void)
{
    return Py_BuildValue("{snsKsKsKsKsK}", "sites", (Py_ssize_t)P.nsites,
                         "code_objects", (unsigned long long)P.matched_codes,
                         "matched_sites", (unsigned long long)P.matched_sites,
                         "collisions", (unsigned long long)P.collisions,
                         "overruled", (unsigned long long)P.overruled,
                         "code_set_full", (unsigned long long)P.code_set_full);
}
