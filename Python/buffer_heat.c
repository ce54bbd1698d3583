/* Python/buffer_heat.c: object temperatures, and the temperature of a part of an
 * owned buffer from the objects it refers to (buffer_heat.h). Reads the buffer's
 * memory (only when resident) and the referred objects' metadata: their heap block,
 * their table entry, their page's heat; an object's own memory only to see whether it
 * is immortal (not for a buffer's sample), and only when resident. */
#define Py_BUILD_CORE 1
#include "buffer_heat.h"

#include "internal/pycore_dict.h"

#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/residency.h"
#include "owned_buffers.h"
#include "scan_groups.h"
#include "../Pypper/attribution.h"
#include "../Objects/track.h"
#include "../Pypper/objtable.h"
#include "traced_entry.h"
#include "../Pypper/page_heat.h"
#include "../Pypper/temperature.h"
#include "../Pypper/write_tracking_heap.h"

/* References looked at per page of a buffer: enough that the sum of their heats says
 * how often the page is read (a page of a dict's entries holds 170; a sample of 8 left
 * a dict whose looked-up keys were one in 25 all cold). */
#define BUFFER_HEAT_SAMPLES 64

/* Bytes one use of a part of a buffer reads: a cache line (a slot, an entry, an index
 * slot). */
#define BUFFER_HEAT_LINE 64.0

/* pypper_object_temperature, and whether it rests on the object's own evidence
 * (*own = 1, its heat in *heat) or on its page's heat (0). Without `read_header`,
 * the object's header is not read to tell an immortal object (no temperature) from
 * others: it takes its page's temperature then. A buffer's sample does not read it:
 * the referred objects are scattered, and that read was a cache miss for nearly each
 * (a 45 MiB BFS graph's snapshot spent 30% of its 150 ms on it); in the heap only
 * interned strings are immortal, and buffers' values are rarely those. */
static double temperature_of(PyObject *obj, uint32_t now, int resident_only, bool read_header,
                             int *own, double *heat)
{
    *own = 0;
    *heat = 0.0;
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
        *heat = pypper_object_heat(pypper_model_heat(st, now), obj, now);
        double t = pypper_model_temperature(*heat, now);
        *own = 1;
        return pypper_attr_temperature(t, pypper_wt_page_history(obj), info.size);
    }
    if (resident_only && !pypper_residency_may_touch(obj))
        return -1.0;
    if (read_header && _Py_IsImmortal(obj))
        return -1.0;
    return pypper_page_heat_temperature(obj, pypper_heap_page_index(obj), info.size, now);
}

double pypper_object_temperature(PyObject *obj, uint32_t now, int resident_only)
{
    int own;
    double heat;
    return temperature_of(obj, now, resident_only, true, &own, &heat);
}

/* What the sampled references of a part say. Those with their own evidence: the
 * part is read whenever one of them is reached through it, so it is used as often as
 * all of them together, which the sample's heats, each counted for the slots it
 * stands for, estimate; spread over the part's cache lines, that heat is on the
 * objects' scale (an object's use reads a line of it too). Those known only by their
 * page's heat: the mean of their temperatures (a page is heated by whatever lives on
 * it: one hot neighbour must not make a list of untouched numbers hot). */
typedef struct {
    double sum_heat;    /* heat of the references with own evidence, each x what it stands for */
    int n_own;          /* references with their own evidence */
    double sum_page;
    int n_page;         /* references known by their page's heat */
    int slots;          /* slots in use looked at (with a temperature or not) */
    uint32_t now;
} reach;

/* obj, sampled for `stands_for` slots of the part. */
static void take(reach *m, PyObject *obj, Py_ssize_t stands_for)
{
    if (!obj)
        return;                         /* an empty slot (a deleted entry's value) */
    m->slots++;
    int own;
    double heat;
    double t = temperature_of(obj, m->now, 1, false, &own, &heat);
    if (t < 0.0)
        return;
    if (own) {
        m->sum_heat += heat * (double)stands_for;
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

/* The slot of stride number n (of `width` slots) to look at: one spread by a hash, not
 * the first, so that keys used at a regular interval (one in 12) are not all seen or
 * all missed on a page by a stride that divides it. */
static Py_ssize_t in_stride(Py_ssize_t n, Py_ssize_t width)
{
    return width > 1 ? (Py_ssize_t)(((uint64_t)n * 0x9E3779B97F4A7C15ull >> 40) % (uint64_t)width) : 0;
}

/* Stride number n, from slot i of [lo, hi): its width (*width) and the slot to look at. */
static Py_ssize_t stride_slot(Py_ssize_t i, Py_ssize_t n, Py_ssize_t step, Py_ssize_t hi,
                              Py_ssize_t *width)
{
    *width = step < hi - i ? step : hi - i;
    return i + in_stride(n, *width);
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
    for (Py_ssize_t i = lo, n = 0; i < hi; i += step, n++) {
        Py_ssize_t width, at = stride_slot(i, n, step, hi, &width);
        take(m, items[at], width);
    }
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

/* The index slots [lo, hi) of k (all resident): in each sampled stride, the first used
 * slot from its slot to look at on (round to the stride's start) leads to an entry,
 * whose value stands for all the used slots of the stride. */
static void sample_index_slots(PyDictKeysObject *k, Py_ssize_t lo, Py_ssize_t hi, reach *m)
{
    Py_ssize_t nentries = k->dk_nentries;
    Py_ssize_t step = sample_step(lo, hi);
    for (Py_ssize_t i = lo, n = 0; i < hi; i += step, n++) {
        Py_ssize_t width, look = stride_slot(i, n, step, hi, &width), ix = -1, used = 0;
        for (Py_ssize_t j = 0; j < width; j++) {
            Py_ssize_t at = index_at(k, look + j < i + width ? look + j : look + j - width);
            if (at >= 0 && at < nentries && used++ == 0)
                ix = at;
        }
        if (used)
            take(m, entry_value(k, ix), used);
    }
}

/* A combined dict's keys object: the index slots lead to entries, whose values are
 * what a lookup through that part of the table uses; an entry's value likewise. */
static void sample_dict_keys(PyDictKeysObject *k, const char *from, const char *to, reach *m)
{
    Py_ssize_t nentries = k->dk_nentries, lo, hi;
    size_t width = (size_t)1 << (k->dk_log2_index_bytes - k->dk_log2_size);
    slots_in(k->dk_indices, (Py_ssize_t)1 << k->dk_log2_size, width, from, to, &lo, &hi);
    if (hi > lo)
        sample_index_slots(k, lo, hi, m);
    size_t esize = DK_IS_UNICODE(k) ? sizeof(PyDictUnicodeEntry) : sizeof(PyDictKeyEntry);
    slots_in(_DK_ENTRIES(k), nentries, esize, from, to, &lo, &hi);
    if (hi > lo) {
        Py_ssize_t step = sample_step(lo, hi);
        for (Py_ssize_t i = lo, n = 0; i < hi; i += step, n++) {
            Py_ssize_t width, at = stride_slot(i, n, step, hi, &width);
            take(m, entry_value(k, at), width);
        }
    }
}

/* An OrderedDict's keys table, when its node index matches it (the index is resized
 * lazily, at the next use, after the table is) and the table's header is resident. */
static PyDictKeysObject *odict_keys(pypper_odict_layout *od)
{
    PyDictKeysObject *k = od->od_dict.ma_keys;
    if (!k || (void *)k != od->od_resize_sentinel || !pypper_residency_may_touch(k)
        || k->dk_kind == DICT_KEYS_SPLIT || od->od_fast_nodes_size != ((Py_ssize_t)1 << k->dk_log2_size))
        return NULL;
    return k;
}

/* Whether the index slots [lo, hi) of k are resident. */
static bool index_slots_resident(PyDictKeysObject *k, Py_ssize_t lo, Py_ssize_t hi)
{
    size_t width = (size_t)1 << (k->dk_log2_index_bytes - k->dk_log2_size);
    const char *first = (const char *)k->dk_indices + (size_t)lo * width;
    const char *last = (const char *)k->dk_indices + (size_t)(hi - 1) * width;
    for (const char *p = first; p <= last; p += 4096)
        if (!pypper_residency_may_touch(p))
            return false;
    return pypper_residency_may_touch(last);
}

/* The slots [from, to) of an OrderedDict's node index: a node is found through the
 * index slot of the same number, so that part is used as that part of its keys
 * table's index is. */
static void sample_odict_index(pypper_odict_layout *od, const char *from, const char *to, reach *m)
{
    PyDictKeysObject *k = odict_keys(od);
    Py_ssize_t lo, hi;
    if (!k)
        return;
    slots_in(od->od_fast_nodes, od->od_fast_nodes_size, sizeof(void *), from, to, &lo, &hi);
    if (hi > lo && index_slots_resident(k, lo, hi))
        sample_index_slots(k, lo, hi, m);
}

/* An OrderedDict's node {key, hash, next, prev}: used as its key's value is (a
 * move_to_end() of the key rewrites it). The entry is found by the table's probe
 * sequence, comparing keys by identity (no __eq__ runs here, and the key is not
 * read). */
static void sample_odict_node(pypper_odict_layout *od, void *const *node, reach *m)
{
    PyDictKeysObject *k = odict_keys(od);
    if (!k)
        return;
    PyObject *key = node[0];
    size_t mask = ((size_t)1 << k->dk_log2_size) - 1, perturb = (size_t)(Py_hash_t)node[1];
    size_t i = perturb & mask, width = (size_t)1 << (k->dk_log2_index_bytes - k->dk_log2_size);
    for (size_t tries = 0; tries <= mask; tries++) {
        if (!pypper_residency_may_touch((const char *)k->dk_indices + i * width))
            return;
        Py_ssize_t ix = index_at(k, (Py_ssize_t)i);
        if (ix == DKIX_EMPTY || ix >= k->dk_nentries)
            return;
        if (ix >= 0) {
            PyObject **at = DK_IS_UNICODE(k) ? &DK_UNICODE_ENTRIES(k)[ix].me_key : &DK_ENTRIES(k)[ix].me_key;
            if (!pypper_residency_may_touch(at))
                return;
            if (*at == key) {
                /* The block is this key's node (not another block the OrderedDict
                 * owns: a subclass instance's attribute values) when the node index
                 * points at it. */
                void **slot = &od->od_fast_nodes[i];
                if (pypper_residency_may_touch(slot) && *slot == (void *)node)
                    take(m, entry_value(k, ix), 1);
                return;
            }
        }
        perturb >>= 5;                  /* PERTURB_SHIFT, Objects/dictobject.c */
        i = (i * 5 + perturb + 1) & mask;
    }
}

static void sample_set(PySetObject *so, const char *from, const char *to, reach *m)
{
    Py_ssize_t lo, hi;
    slots_in(so->table, so->mask + 1, sizeof(setentry), from, to, &lo, &hi);
    if (hi <= lo)
        return;
    Py_ssize_t step = sample_step(lo, hi);
    for (Py_ssize_t i = lo, n = 0; i < hi; i += step, n++) {
        Py_ssize_t width, at = stride_slot(i, n, step, hi, &width);
        PyObject *key = so->table[at].key;
        if (key && key != _PySet_Dummy)
            take(m, key, width);
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
        pypper_odict_layout *od = pypper_odict(owner);
        if ((known = in_block(d->ma_keys, start, end) && pypper_residency_may_touch(d->ma_keys)
                     && d->ma_keys->dk_kind != DICT_KEYS_SPLIT))
            sample_dict_keys(d->ma_keys, a, b, &m);
        else if ((known = in_block(values, start, end) && d->ma_keys))
            /* the values array's block: a prefix (its insertion order), then the values */
            sample_pointers(d->ma_values->values, d->ma_keys->dk_nentries, a, b, &m);
        else if (od && (known = in_block(od->od_fast_nodes, start, end)))
            sample_odict_index(od, a, b, &m);
        else if (od && size >= 2 * sizeof(void *))
            /* any other block an OrderedDict owns is one of its nodes */
            sample_odict_node(od, (void *const *)block, &m);
    } else if (PyType_IsSubtype(tp, &PySet_Type) || PyType_IsSubtype(tp, &PyFrozenSet_Type)) {
        PySetObject *so = (PySetObject *)owner;
        if ((known = in_block(so->table, start, end)))
            sample_set(so, a, b, &m);
    }
    /* A part of a known layout with no slot in use (a list's room to grow, a table's
     * unused entries) is not read by anything the owner does: 0. */
    double t = -1.0;
    if (m.n_own) {
        double lines = (double)((const char *)to - (const char *)from) / BUFFER_HEAT_LINE;
        t = pypper_model_temperature(m.sum_heat / (lines > 1.0 ? lines : 1.0), now);
    }
    if (m.n_page && m.sum_page / m.n_page > t)
        t = m.sum_page / m.n_page;
    if (t >= 0.0)
        return t;
    return known && !m.slots ? 0.0 : -1.0;
}
