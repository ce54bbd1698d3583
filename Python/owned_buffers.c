/* Python/owned_buffers.c: owned out-of-line buffers and their relocation
 * (owned_buffers.h). What may move, from Doc/design.md §5: a list's ob_item unless a sort
 * runs (allocated < 0); a dict's keys object when the table is combined (no values
 * array), not the shared empty keys and referenced by this dict alone (dk_refcnt 1),
 * copied whole so dk_version and the entries stay as they are; a set's table when it
 * is not the small table inside the object; a bytearray's or an array.array's data
 * when no buffer is exported (ob_exports 0; ob_start is rebased). The buffer must be
 * a block of Pypper's heap. Moving is copy, repoint, free: the same change CPython
 * makes when it resizes these buffers, which code that may release the GIL in the
 * middle of an operation already re-checks. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include "owned_buffers.h"

#include "internal/pycore_dict.h"
#include "internal/pycore_object.h"

#include "alloc_sites.h"
#include "../Objects/heap.h"

#include <string.h>

/* array.array's object and item descriptor, as Modules/arraymodule.c lays them out
 * in 3.12 (the module has no header); checked against the type's basic size. */
typedef struct {
    char typecode;
    int itemsize;
} array_descr_head;

typedef struct {
    PyObject_VAR_HEAD
    char *ob_item;
    Py_ssize_t allocated;
    const array_descr_head *ob_descr;
    PyObject *weakreflist;
    Py_ssize_t ob_exports;
} array_layout;

static PyTypeObject *array_type;

int pypper_owned_buffers_init(void)
{
    if (array_type)
        return 0;
    /* Not imported here (the program would see it, and array imports collections):
     * the type is looked for again at each migration round until the program has
     * imported the module. */
    PyObject *name = PyUnicode_FromString("array");
    PyObject *mod = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    PyObject *t = mod ? PyObject_GetAttrString(mod, "array") : NULL;
    Py_XDECREF(mod);
    if (!t || !PyType_Check(t) || ((PyTypeObject *)t)->tp_basicsize != (Py_ssize_t)sizeof(array_layout)) {
        Py_XDECREF(t);
        PyErr_Clear();
        return -1;
    }
    array_type = (PyTypeObject *)t;       /* a static type: kept for the process */
    return 0;
}

const char *pypper_buf_kind_name(pypper_buf_kind k)
{
    static const char *const names[PYPPER_BUF_KINDS] = {"none", "list", "dict", "set",
                                                        "bytearray", "array"};
    return k < PYPPER_BUF_KINDS ? names[k] : "?";
}

bool pypper_type_may_own_buffer(PyTypeObject *tp)
{
    return PyType_FastSubclass(tp, Py_TPFLAGS_LIST_SUBCLASS | Py_TPFLAGS_DICT_SUBCLASS)
           || PyType_IsSubtype(tp, &PySet_Type) || PyType_IsSubtype(tp, &PyFrozenSet_Type)
           || PyType_IsSubtype(tp, &PyByteArray_Type)
           || (array_type && PyType_IsSubtype(tp, array_type));
}

void pypper_owned_buffer_of(PyObject *op, pypper_owned_buffer *out)
{
    *out = (pypper_owned_buffer){PYPPER_BUF_NONE, NULL, 0, false};
    /* A block on one of CPython's free lists (refcount 0) is no object: the float
     * free list even links through ob_type. */
    if (Py_REFCNT(op) <= 0)
        return;
    PyTypeObject *tp = Py_TYPE(op);
    if (PyType_FastSubclass(tp, Py_TPFLAGS_LIST_SUBCLASS)) {
        PyListObject *l = (PyListObject *)op;
        if (!l->ob_item)
            return;
        *out = (pypper_owned_buffer){PYPPER_BUF_LIST, l->ob_item,
                                     l->allocated > 0 ? (size_t)l->allocated * sizeof(PyObject *) : 0,
                                     l->allocated > 0};
    } else if (PyType_FastSubclass(tp, Py_TPFLAGS_DICT_SUBCLASS)) {
        PyDictObject *d = (PyDictObject *)op;
        PyDictKeysObject *k = d->ma_keys;
        if (!k)
            return;
        *out = (pypper_owned_buffer){PYPPER_BUF_DICT, k, 0,
                                     d->ma_values == NULL && k->dk_refcnt == 1
                                     && k->dk_kind != DICT_KEYS_SPLIT};
    } else if (tp == &PySet_Type || tp == &PyFrozenSet_Type
               || PyType_IsSubtype(tp, &PySet_Type) || PyType_IsSubtype(tp, &PyFrozenSet_Type)) {
        PySetObject *s = (PySetObject *)op;
        if (s->table == s->smalltable || !s->table)
            return;
        *out = (pypper_owned_buffer){PYPPER_BUF_SET, s->table,
                                     ((size_t)s->mask + 1) * sizeof(setentry), true};
    } else if (PyByteArray_Check(op)) {
        PyByteArrayObject *b = (PyByteArrayObject *)op;
        if (!b->ob_bytes)
            return;
        *out = (pypper_owned_buffer){PYPPER_BUF_BYTEARRAY, b->ob_bytes, (size_t)b->ob_alloc,
                                     b->ob_exports == 0 && b->ob_alloc > 0};
    } else if (array_type && PyObject_TypeCheck(op, array_type)) {
        array_layout *a = (array_layout *)op;
        if (!a->ob_item)
            return;
        *out = (pypper_owned_buffer){PYPPER_BUF_ARRAY, a->ob_item,
                                     (size_t)a->allocated * (size_t)a->ob_descr->itemsize,
                                     a->ob_exports == 0 && a->allocated > 0};
    } else {
        return;
    }
    pypper_block_info info;
    if (pypper_heap_owns(out->block))
        pypper_heap_lookup(out->block, &info);
    else
        info.allocated = false;
    if (!info.allocated || info.block != out->block) {
        out->kind = PYPPER_BUF_NONE;    /* not a block of the heap (static, foreign) */
        out->block = NULL;
        return;
    }
    if (out->kind == PYPPER_BUF_DICT || out->size > info.size)
        out->size = info.size;          /* the keys object's whole block */
}

/* The usable size of the heap block holding p (any address in it), 0 when p is not
 * in an allocated block of the heap. */
static size_t block_bytes(const void *p, const void **block)
{
    if (!p || !pypper_heap_owns(p))
        return 0;
    pypper_block_info info;
    pypper_heap_lookup(p, &info);
    if (!info.allocated)
        return 0;
    if (block)
        *block = info.block;
    return info.size;
}

typedef struct {
    size_t total, main_size;
    const void **main;
    pypper_owned_visit_fn visit;
    void *arg;
} owned_walk;

static void add_block(const void *p, owned_walk *w)
{
    const void *block = NULL;
    size_t n = block_bytes(p, &block);
    if (!n)
        return;
    w->total += n;
    if (n > w->main_size) {
        w->main_size = n;
        *w->main = block;
    }
    if (w->visit)
        w->visit(block, n, w->arg);
}

size_t pypper_owned_bytes(PyObject *op, const void **main)
{
    return pypper_owned_blocks(op, main, NULL, NULL);
}

size_t pypper_owned_blocks(PyObject *op, const void **main, pypper_owned_visit_fn visit, void *arg)
{
    owned_walk w = {0, 0, main, visit, arg};
    *main = NULL;
    if (Py_REFCNT(op) <= 0)
        return 0;
    PyTypeObject *tp = Py_TYPE(op);
    if (PyType_FastSubclass(tp, Py_TPFLAGS_LIST_SUBCLASS)) {
        add_block(((PyListObject *)op)->ob_item, &w);
    } else if (PyType_FastSubclass(tp, Py_TPFLAGS_DICT_SUBCLASS)) {
        PyDictObject *d = (PyDictObject *)op;
        if (d->ma_values)
            add_block(d->ma_values, &w);
        if (d->ma_keys && d->ma_keys->dk_refcnt == 1)
            add_block(d->ma_keys, &w);
        pypper_odict_layout *od = pypper_odict(op);
        if (od) {
            add_block(od->od_fast_nodes, &w);
            /* The nodes: a linked list {key, hash, next, prev}, one per key. */
            void **node = od->od_first;
            for (Py_ssize_t i = 0, n = PyDict_GET_SIZE(op); node && i < n; i++) {
                add_block(node, &w);
                node = (void **)node[2];
            }
        }
    } else if (PyType_IsSubtype(tp, &PySet_Type) || PyType_IsSubtype(tp, &PyFrozenSet_Type)) {
        PySetObject *so = (PySetObject *)op;
        if (so->table != so->smalltable)
            add_block(so->table, &w);
    } else if (PyByteArray_Check(op)) {
        add_block(((PyByteArrayObject *)op)->ob_bytes, &w);
    } else if (array_type && PyObject_TypeCheck(op, array_type)) {
        add_block(((array_layout *)op)->ob_item, &w);
    }
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(op);
        if (_PyDictOrValues_IsValues(dorv))
            add_block(_PyDictOrValues_GetValues(dorv), &w);
    }
    return w.total;
}

int pypper_relocate_buffer(PyObject *op, unsigned tier, size_t *bytes)
{
    *bytes = 0;
    pypper_owned_buffer b;
    pypper_owned_buffer_of(op, &b);
    if (b.kind == PYPPER_BUF_NONE || !b.movable || !b.size)
        return 0;
    pypper_block_info info;
    pypper_heap_lookup(b.block, &info);
    if (info.tier == tier)
        return 0;
    void *nb = pypper_heap_malloc_in(tier, b.size);
    if (!nb)
        return -1;
    pypper_heap_lookup(nb, &info);
    if (info.tier != tier) {            /* the tier was full: served by the other */
        pypper_heap_free(nb);
        return -1;
    }
    switch (b.kind) {
    case PYPPER_BUF_LIST: {
        PyListObject *l = (PyListObject *)op;
        memcpy(nb, l->ob_item, (size_t)Py_SIZE(op) * sizeof(PyObject *));
        l->ob_item = nb;
        break;
    }
    case PYPPER_BUF_DICT:
        memcpy(nb, b.block, b.size);
        ((PyDictObject *)op)->ma_keys = nb;
        break;
    case PYPPER_BUF_SET:
        memcpy(nb, b.block, b.size);
        ((PySetObject *)op)->table = nb;
        break;
    case PYPPER_BUF_BYTEARRAY: {
        PyByteArrayObject *ba = (PyByteArrayObject *)op;
        Py_ssize_t start = ba->ob_start - ba->ob_bytes;
        memcpy(nb, ba->ob_bytes, b.size);
        ba->ob_bytes = nb;
        ba->ob_start = (char *)nb + start;
        break;
    }
    case PYPPER_BUF_ARRAY: {
        array_layout *a = (array_layout *)op;
        memcpy(nb, a->ob_item, (size_t)Py_SIZE(op) * (size_t)a->ob_descr->itemsize);
        a->ob_item = nb;
        break;
    }
    default:
        pypper_heap_free(nb);
        return 0;
    }
    pypper_alloc_sites_moved(b.block, nb);
    pypper_heap_free(b.block);
    *bytes = b.size;
    return 1;
}
