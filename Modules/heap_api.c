/* Modules/heap_api.c: Python access to the tier-aware heap: pypper.topology(),
 * pypper.where(obj), pypper.heap_stats() and the per-thread placement scope behind
 * `with pypper.placement(...)`. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "heap_api.h"
#include "../Python/pypper_import.h"
#include "../Python/owned_buffers.h"

#include "../Objects/heap.h"
#include "../Objects/placement.h"
#include "../Objects/pymem_glue.h"
#include "../Pypper/tiers.h"

#include <stdio.h>
#include <string.h>

static const char *const tier_names[] = {"fast", "slow"};

/* The heap's counters, walked now, in one buffer (about 10 KiB: not on the stack)
 * shared by every caller here; the GIL serializes them. */
static pypper_heap_stats *current_stats(void)
{
    static pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    return &st;
}

static PyObject *nodes_list(const pypper_nodeset *set)
{
    PyObject *list = PyList_New(0);
    for (unsigned n = 0; list && n < PYPPER_MAX_NODES; n++) {
        if (!pypper_nodeset_has(set, n))
            continue;
        PyObject *v = PyLong_FromUnsignedLong(n);
        if (!v || PyList_Append(list, v) < 0)
            Py_CLEAR(list);
        Py_XDECREF(v);
    }
    return list;
}

static PyObject *py_topology(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    const pypper_topology *t = pypper_tiers_topology();
    if (!t)
        Py_RETURN_NONE;
    PyObject *nodes = PyList_New(0);
    for (int i = 0; nodes && i < t->nnodes; i++) {
        const pypper_node *n = &t->nodes[i];
        PyObject *dist = PyList_New(0);
        for (int j = 0; dist && j < t->nnodes; j++) {
            PyObject *d = PyLong_FromLong(n->distance[j]);
            if (!d || PyList_Append(dist, d) < 0)
                Py_CLEAR(dist);
            Py_XDECREF(d);
        }
        PyObject *tier = pypper_nodeset_has(&t->fast, (unsigned)n->id)
                             ? PyUnicode_FromString("fast")
                             : PyUnicode_FromString("slow");
        PyObject *row = dist && tier
            ? Py_BuildValue("{s:i,s:O,s:i,s:K,s:K,s:O,s:O}", "node", n->id, "has_cpus",
                            n->has_cpus ? Py_True : Py_False, "memory_tier", n->memory_tier,
                            "mem_total_kb", n->mem_total_kb, "mem_free_kb", n->mem_free_kb,
                            "distances", dist, "tier", tier)
            : NULL;
        Py_XDECREF(dist);
        Py_XDECREF(tier);
        if (!row || PyList_Append(nodes, row) < 0)
            Py_CLEAR(nodes);
        Py_XDECREF(row);
    }
    if (!nodes)
        return NULL;
    return Py_BuildValue("{s:N,s:N,s:N,s:s,s:O,s:O}", "nodes", nodes, "fast_nodes",
                         nodes_list(&t->fast), "slow_nodes", nodes_list(&t->slow), "source",
                         pypper_topology_source_name(t->source), "simulated",
                         t->simulated ? Py_True : Py_False, "bound",
                         pypper_tiers_bound() ? Py_True : Py_False);
}

static PyObject *py_where(PyObject *module, PyObject *obj)
{
    (void)module;
    pypper_block_info info;
    pypper_heap_lookup(obj, &info);
    static const char *const kinds[] = {"foreign", "small", "medium", "large", "huge"};
    if (info.kind == PYPPER_BLOCK_NONE) {
        return Py_BuildValue("{s:s,s:O,s:O,s:K,s:K}", "kind", "foreign", "tier", Py_None,
                             "node", Py_None, "address", (unsigned long long)(uintptr_t)obj,
                             "page", (unsigned long long)((uintptr_t)obj & ~(uintptr_t)4095));
    }
    int node = pypper_tiers_page_node(obj);
    PyObject *node_obj = node >= 0 ? PyLong_FromLong(node) : Py_NewRef(Py_None);
    const pypper_topology *t = pypper_tiers_topology();
    /* The out-of-line buffer the object owns, when one is in the heap. */
    PyObject *buffer;
    pypper_owned_buffer ob;
    (void)pypper_owned_buffers_init();
    pypper_owned_buffer_of(obj, &ob);
    if (ob.kind != PYPPER_BUF_NONE) {
        pypper_block_info bi;
        pypper_heap_lookup(ob.block, &bi);
        int bnode = pypper_tiers_page_node(ob.block);
        buffer = Py_BuildValue("{s:s,s:s,s:K,s:n,s:O,s:N}", "kind", pypper_buf_kind_name(ob.kind),
                               "tier", tier_names[bi.tier & 1],
                               "address", (unsigned long long)(uintptr_t)ob.block,
                               "size", (Py_ssize_t)ob.size, "movable", ob.movable ? Py_True : Py_False,
                               "node", bnode >= 0 ? PyLong_FromLong(bnode) : Py_NewRef(Py_None));
    } else {
        buffer = Py_NewRef(Py_None);
    }
    if (!buffer) {
        Py_DECREF(node_obj);
        return NULL;
    }
    return Py_BuildValue("{s:s,s:s,s:N,s:i,s:K,s:K,s:K,s:n,s:i,s:O,s:O,s:N}",
                         "kind", kinds[info.kind], "tier", tier_names[info.tier & 1],
                         "node", node_obj, "node_status", node < 0 ? node : 0,
                         "address", (unsigned long long)(uintptr_t)obj,
                         "page", (unsigned long long)(uintptr_t)info.page,
                         "block", (unsigned long long)(uintptr_t)info.block,
                         "size", (Py_ssize_t)info.size, "size_class", info.size_class,
                         "allocated", info.allocated ? Py_True : Py_False,
                         "simulated", (!t || t->simulated) ? Py_True : Py_False,
                         "buffer", buffer);
}

static PyObject *tier_dict(const pypper_tier_stats *s)
{
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}",
                         "arenas", s->arenas, "pool_arenas", s->pool_arenas,
                         "medium_arenas", s->medium_arenas, "medium_blocks", s->medium_blocks,
                         "medium_free_bytes", s->medium_free_bytes,
                         "large_arenas", s->large_arenas, "huge_arenas", s->huge_arenas,
                         "pages", s->pages, "bytes_in_use", s->bytes_in_use,
                         "blocks_in_use", s->blocks_in_use, "pools_used", s->pools_used,
                         "pools_full", s->pools_full, "pools_free", s->pools_free,
                         "pool_free_bytes", s->pool_free_bytes, "large_blocks", s->large_blocks,
                         "huge_blocks", s->huge_blocks);
}

static PyObject *py_heap_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_heap_stats *st = current_stats();
    PyObject *classes = PyList_New(0);
    for (unsigned c = 0; classes && c < st->nclasses; c++) {
        const pypper_class_stats *cs = &st->classes[c];
        if (!cs->pools[0] && !cs->pools[1])
            continue;
        PyObject *row = Py_BuildValue(
            "{s:I,s:I,s:{s:K,s:K,s:K},s:{s:K,s:K,s:K}}", "class", c, "size", cs->size,
            "fast", "blocks", cs->blocks_in_use[0], "pools", cs->pools[0], "free_bytes",
            cs->free_bytes[0], "slow", "blocks", cs->blocks_in_use[1], "pools", cs->pools[1],
            "free_bytes", cs->free_bytes[1]);
        if (!row || PyList_Append(classes, row) < 0)
            Py_CLEAR(classes);
        Py_XDECREF(row);
    }
    if (!classes)
        return NULL;
    const pypper_topology *t = pypper_tiers_topology();
    PyObject *retention = Py_BuildValue(
        "{s:K,s:K,s:K,s:I,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "idle_bytes", st->idle_bytes, "bound",
        st->retain_bound, "bound_max", st->retain_bound_max, "delay_ms", st->retain_delay_ms,
        "trims", st->trims, "trimmed_bytes", st->trimmed_bytes, "stale_trims", st->stale_trims,
        "stale_trimmed_bytes", st->stale_trimmed_bytes, "mistakes", st->retain_mistakes,
        "span_moves", st->span_moves, "span_move_failures", st->span_move_failures,
        "calloc_discards", st->calloc_discards);
    if (!retention) {
        Py_DECREF(classes);
        return NULL;
    }
    return Py_BuildValue(
        "{s:s,s:O,s:O,s:s,s:K,s:K,s:{s:N,s:N},s:N,s:N,s:K,s:K,s:K,s:i,s:K,s:K,s:K,s:K}",
        "allocator", pypper_pymem_mode(), "simulated", (!t || t->simulated) ? Py_True : Py_False,
        "locking", st->locking ? Py_True : Py_False, "default_tier", tier_names[st->default_tier & 1],
        "reservation_per_tier", st->reservation_per_tier,
        "base", (unsigned long long)st->base, "tiers", "fast", tier_dict(&st->tier[0]),
        "slow", tier_dict(&st->tier[1]), "classes", classes, "retention", retention,
        "fallback_allocs", st->fallback_allocs,
        "commit_failures", st->commit_failures, "bind_failures", st->bind_failures,
        "last_bind_errno", st->last_bind_errno, "tier_fallbacks", st->tier_fallbacks,
        "arenas_released", st->arenas_released, "arenas_parked", st->arenas_parked,
        "invalid_frees", st->invalid_frees);
}

static PyObject *py_heap_trim(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLongLong(pypper_heap_trim());
}

static PyObject *py_set_placement(PyObject *module, PyObject *arg)
{
    (void)module;
    int tier;
    if (arg == Py_None)
        tier = -1;
    else if (PyUnicode_Check(arg) && PyUnicode_CompareWithASCIIString(arg, "fast") == 0)
        tier = PYPPER_TIER_FAST;
    else if (PyUnicode_Check(arg) && PyUnicode_CompareWithASCIIString(arg, "slow") == 0)
        tier = PYPPER_TIER_SLOW;
    else {
        PyErr_Format(PyExc_ValueError, "placement tier must be 'fast', 'slow' or None, not %R",
                     arg);
        return NULL;
    }
    int old = pypper_placement_set_scope(tier);
    if (old < 0)
        Py_RETURN_NONE;
    return PyUnicode_FromString(tier_names[old & 1]);
}

/* ---- sys.getallocatedblocks() and sys._debugmallocstats() ---- */

static PyObject *original_getallocatedblocks;   /* CPython's: pymalloc's blocks */
static PyObject *original_debugmallocstats;     /* CPython's: free lists and pymalloc */

static uint64_t heap_blocks(void)
{
    pypper_heap_stats *st = current_stats();
    return st->tier[0].blocks_in_use + st->tier[1].blocks_in_use;
}

/* The interpreter's blocks: the tiered heap's plus those of the allocator it wraps
 * or falls back to (pymalloc counts its own). */
static PyObject *py_getallocatedblocks(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyObject *theirs = PyObject_CallNoArgs(original_getallocatedblocks);
    if (!theirs)
        return NULL;
    long long other = PyLong_AsLongLong(theirs);
    Py_DECREF(theirs);
    if (other == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromUnsignedLongLong(heap_blocks() + (uint64_t)other);
}

static PyObject *py_debugmallocstats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyObject *r = PyObject_CallNoArgs(original_debugmallocstats);
    if (!r)
        return NULL;
    Py_DECREF(r);
    pypper_heap_stats *st = current_stats();
    fprintf(stderr, "Pypper tiered heap (%s%s)\n", pypper_pymem_mode(),
            pypper_tiers_topology() && !pypper_tiers_topology()->simulated ? "" : ", simulated tiers");
    fprintf(stderr, "Small block threshold = 512, in %u size classes; medium blocks (513 bytes "
                    "to 32 KiB) in runs of 64-byte units.\n\n", st->nclasses);
    fprintf(stderr, "class   size   tier   num pools   blocks in use   free bytes\n");
    fprintf(stderr, "-----   ----   ----   ---------   -------------   ----------\n");
    for (unsigned c = 0; c < st->nclasses; c++) {
        for (unsigned t = 0; t < 2; t++) {
            const pypper_class_stats *cs = &st->classes[c];
            if (!cs->pools[t])
                continue;
            fprintf(stderr, "%5u %6u   %4s %11llu %15llu %12llu\n", c, cs->size, tier_names[t],
                    (unsigned long long)cs->pools[t], (unsigned long long)cs->blocks_in_use[t],
                    (unsigned long long)cs->free_bytes[t]);
        }
    }
    for (unsigned t = 0; t < 2; t++) {
        const pypper_tier_stats *ts = &st->tier[t];
        fprintf(stderr, "\n%s tier: %llu arenas (%llu pool, %llu medium, %llu large, %llu huge), "
                        "%llu bytes in %llu blocks, %llu medium, %llu large and %llu huge blocks\n",
                tier_names[t], (unsigned long long)ts->arenas, (unsigned long long)ts->pool_arenas,
                (unsigned long long)ts->medium_arenas, (unsigned long long)ts->large_arenas, (unsigned long long)ts->huge_arenas,
                (unsigned long long)ts->bytes_in_use, (unsigned long long)ts->blocks_in_use,
                (unsigned long long)ts->medium_blocks, (unsigned long long)ts->large_blocks, (unsigned long long)ts->huge_blocks);
    }
    fflush(stderr);
    Py_RETURN_NONE;
}

static PyMethodDef sys_hook_methods[] = {
    {"getallocatedblocks", py_getallocatedblocks, METH_NOARGS,
     "Return the number of memory blocks currently allocated (Pypper's heap and CPython's)."},
    {"_debugmallocstats", py_debugmallocstats, METH_NOARGS,
     "Print summary info to stderr about the state of the allocators (free lists, Pypper's heap)."},
    {NULL, NULL, 0, NULL},
};

int pypper_install_sys_allocator_hooks(PyObject *module)
{
    if (original_getallocatedblocks || strcmp(pypper_pymem_mode(), "none") == 0)
        return 0;
    PyObject *sys = pypper_import("sys");
    if (!sys)
        return -1;
    original_getallocatedblocks = PyObject_GetAttrString(sys, "getallocatedblocks");
    original_debugmallocstats = PyObject_GetAttrString(sys, "_debugmallocstats");
    int rc = original_getallocatedblocks && original_debugmallocstats ? 0 : -1;
    for (PyMethodDef *def = sys_hook_methods; rc == 0 && def->ml_name; def++) {
        PyObject *fn = PyCFunction_NewEx(def, module, NULL);
        if (!fn || PyObject_SetAttrString(sys, def->ml_name, fn) < 0)
            rc = -1;
        Py_XDECREF(fn);
    }
    Py_DECREF(sys);
    return rc;
}

PyMethodDef pypper_heap_methods[] = {
    {"topology", py_topology, METH_NOARGS, "topology() -> dict of nodes and tiers"},
    {"where", py_where, METH_O, "where(obj) -> dict: tier, node, page, block of obj's memory"},
    {"heap_stats", py_heap_stats, METH_NOARGS, "heap_stats() -> dict of per-tier counters"},
    {"heap_trim", py_heap_trim, METH_NOARGS,
     "heap_trim() -> bytes: give every idle (freed, still committed) byte back now"},
    {"set_placement", py_set_placement, METH_O,
     "set_placement('fast' | 'slow' | None) -> previous: this thread's placement scope"},
    {NULL, NULL, 0, NULL},
};
