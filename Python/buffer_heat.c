/* Python/buffer_heat.c: object temperatures, and the temperature of a part of an
 * owned buffer from the objects it refers to (buffer_heat.h). Reads the buffer's
 * memory (only when resident) and the referred objects' metadata: their heap block,
 * their table entry, their page's heat; an object's own memory only to see whether it
 * is immortal, and only when resident. */
#define Py_BUILD_CORE 1
#include "buffer_heat.h"

#include "internal/pycore_dict.h"

#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/residency.h"
#include "../Pypper/attribution.h"
#include "../Objects/track.h"
#include "../Pypper/objtable.h"
#include "traced_entry.h"
#include "../Pypper/page_heat.h"
#include "../Pypper/temperature.h"
#include "../Pypper/write_tracking_heap.h"

/* References looked at per page of a buffer: a dict whose looked-up keys are one in
 * 25, spread over its table, has about 7 on each page of its entries; with 64 its
 * table came out 88% hot (the rest: room for more entries), with 8 all cold
 * (tests/test_sites.py). */
#define BUFFER_HEAT_SAMPLES 64

/* pypper_object_temperature, and whether it rests on the object's own evidence
 * (*own = 1) or on its page's heat (0). */
static double temperature_of(PyObject *obj, uint32_t now, int resident_only, int *own)
{
    *own = 0;
    if (!obj || !pypper_heap_owns(obj))
        return -1.0;
    pypper_block_info info;
    pypper_heap_lookup(obj, &info);
    if (!info.allocated)
        return -1.0;
    if (pypper_heap_tracks(info.block, obj)) {
        /* A traced object: its entry's evidence, none without an entry. */
        pypper_obj_entry *e = pypper_traced_entry_find(info.block, obj);
        const pypper_obj_state *st = e ? pypper_entry_state(e) : &pypper_obj_state_zero;
        double t = pypper_model_temperature(pypper_model_heat(st, now), now);
        *own = 1;
        return pypper_attr_temperature(t, pypper_wt_page_history(obj), info.size);
    }
    if ((resident_only && !pypper_residency_may_touch(obj)) || _Py_IsImmortal(obj))
        return -1.0;
    return pypper_page_heat_temperature(obj, pypper_heap_page_index(obj), info.size, now);
}

double pypper_object_temperature(PyObject *obj, uint32_t now, int resident_only)
{
    int own;
    return temperature_of(obj, now, resident_only, &own);
}

/* What the sampled references of a part say: the hottest of those with their own
 * evidence (a lookup of any of them reads the part), else the mean of those known
 * only by their page's heat (a page is heated by whatever lives on it: one hot
 * neighbour must not make a list of untouched numbers hot). */
typedef struct {
    double max_own;
    int n_own;          /* references with their own evidence */
    double sum_page;
    int n_page;         /* references known by their page's heat */
    int slots;          /* slots in use looked at (with a temperature or not) */
    uint32_t now;
} reach;

static void take(reach *m, PyObject *obj)
{
    if (!obj)
        return;                         /* an empty slot (a deleted entry's value) */
    m->slots++;
    int own;
    double t = temperature_of(obj, m->now, 1, &own);
    if (t < 0.0)
        return;
    if (own) {
        m->max_own = m->n_own && m->max_own >= t ? m->max_own : t;
        m->n_own++;
    } else {
        m->sum_page += t;
        m->n_page++;
    }
}

/* The slots [lo, hi) of an array of `count` pointers at `base` that lie in [from, to). */
static void slots_in(const void *base, Py_ssize_t count, size_t width, const char *from,
                     const char *to, Py_ssize_t *lo, Py_ssize_t *hi)
{
    const char *b = base;
    Py_ssize_t first = from <= b ? 0 : (Py_ssize_t)((size_t)(from - b + width - 1) / width);
    Py_ssize_t last = to <= b ? 0 : (Py_ssize_t)((size_t)(to - b) / width);
    *lo = first < count ? first : count;
    *hi = last < count ? last : count;
}

/* The stride that looks at up to BUFFER_HEAT_SAMPLES of the slots [lo, hi). */
static Py_ssize_t sample_step(Py_ssize_t lo, Py_ssize_t hi)
{
    return (hi - lo + BUFFER_HEAT_SAMPLES - 1) / BUFFER_HEAT_SAMPLES;
}

/* A list's items (or a split dict's values): pointers, some NULL. */
static void sample_pointers(PyObject *const *items, Py_ssize_t count, const char *from,
                            const char *to, reach *m)
{
    Py_ssize_t lo, hi;
    slots_in(items, count, sizeof(PyObject *), from, to, &lo, &hi);
    if (hi <= lo)
        return;
    Py_ssize_t step = sample_step(lo, hi);
    for (Py_ssize_t i = lo; i < hi; i += step)
        take(m, items[i]);
}

/* The value of entry ix; NULL when its page is not resident (an index slot's entry
 * may be on another page of the table than the slot). */
static PyObject *entry_value(PyDictKeysObject *k, Py_ssize_t ix)
{
    PyObject **value = DK_IS_UNICODE(k) ? &DK_UNICODE_ENTRIES(k)[ix].me_value : &DK_ENTRIES(k)[ix].me_value;
    return pypper_residency_may_touch(value) ? *value : NULL;
}

static Py_ssize_t index_at(PyDictKeysObject *k, Py_ssize_t slot)
{
    switch (k->dk_log2_index_bytes - k->dk_log2_size) {
    case 0: return ((const int8_t *)k->dk_indices)[slot];
    case 1: return ((const int16_t *)k->dk_indices)[slot];
    case 2: return ((const int32_t *)k->dk_indices)[slot];
    default: return (Py_ssize_t)((const int64_t *)k->dk_indices)[slot];
    }
}

/* A combined dict's keys object: the index slots lead to entries, whose values are
 * what a lookup through that part of the table uses; an entry's value likewise. */
static void sample_dict_keys(PyDictKeysObject *k, const char *from, const char *to, reach *m)
{
    Py_ssize_t nentries = k->dk_nentries, lo, hi;
    size_t width = (size_t)1 << (k->dk_log2_index_bytes - k->dk_log2_size);
    slots_in(k->dk_indices, (Py_ssize_t)1 << k->dk_log2_size, width, from, to, &lo, &hi);
    if (hi > lo) {
        Py_ssize_t step = sample_step(lo, hi);
        for (Py_ssize_t i = lo; i < hi; i += step) {
            /* The first used slot at or after i, within the part. */
            Py_ssize_t j = i, ix = -1;
            for (; j < hi && j < i + step && (ix = index_at(k, j)) < 0; j++)
                ;
            if (ix >= 0 && ix < nentries)
                take(m, entry_value(k, ix));
        }
    }
    size_t esize = DK_IS_UNICODE(k) ? sizeof(PyDictUnicodeEntry) : sizeof(PyDictKeyEntry);
    slots_in(_DK_ENTRIES(k), nentries, esize, from, to, &lo, &hi);
    if (hi > lo) {
        Py_ssize_t step = sample_step(lo, hi);
        for (Py_ssize_t i = lo; i < hi; i += step)
            take(m, entry_value(k, i));
    }
}

static void sample_set(PySetObject *so, const char *from, const char *to, reach *m)
{
    Py_ssize_t lo, hi;
    slots_in(so->table, so->mask + 1, sizeof(setentry), from, to, &lo, &hi);
    if (hi <= lo)
        return;
    Py_ssize_t step = sample_step(lo, hi);
    for (Py_ssize_t i = lo; i < hi; i += step) {
        PyObject *key = so->table[i].key;
        if (key && key != _PySet_Dummy)
            take(m, key);
    }
}

/* p lies in the block [block, end). */
static bool in_block(const void *p, const char *block, const char *end)
{
    return p && (const char *)p >= block && (const char *)p < end;
}

double pypper_buffer_part_temperature(PyObject *owner, const void *block, size_t size,
                                      const void *from, const void *to, uint32_t now)
{
    const char *start = block, *end = start + size;
    if (!pypper_residency_may_touch(from))
        return -1.0;
    reach m = {0.0, 0, 0.0, 0, 0, now};
    const char *a = from, *b = to;
    PyTypeObject *tp = Py_TYPE(owner);
    bool known = false;             /* the block's layout is one read here */
    if (PyType_FastSubclass(tp, Py_TPFLAGS_LIST_SUBCLASS)) {
        PyListObject *l = (PyListObject *)owner;
        if ((known = in_block(l->ob_item, start, end)))
            sample_pointers(l->ob_item, Py_SIZE(l), a, b, &m);
    } else if (PyType_FastSubclass(tp, Py_TPFLAGS_DICT_SUBCLASS)) {
        PyDictObject *d = (PyDictObject *)owner;
        const char *values = (const char *)d->ma_values;
        /* (The keys object's header is on its first page: read only when resident.) */
        if ((known = in_block(d->ma_keys, start, end) && pypper_residency_may_touch(d->ma_keys)
                     && d->ma_keys->dk_kind != DICT_KEYS_SPLIT))
            sample_dict_keys(d->ma_keys, a, b, &m);
        else if ((known = in_block(values, start, end) && d->ma_keys))
            /* the values array's block: a prefix (its insertion order), then the values */
            sample_pointers(d->ma_values->values, d->ma_keys->dk_nentries, a, b, &m);
    } else if (PyType_IsSubtype(tp, &PySet_Type) || PyType_IsSubtype(tp, &PyFrozenSet_Type)) {
        PySetObject *so = (PySetObject *)owner;
        if ((known = in_block(so->table, start, end)))
            sample_set(so, a, b, &m);
    }
    /* A part of a known layout with no slot in use (a list's room to grow, a table's
     * unused entries) is not read by anything the owner does: 0. */
    if (m.n_own)
        return m.max_own;
    if (m.n_page)
        return m.sum_page / m.n_page;
    return known && !m.slots ? 0.0 : -1.0;
}
