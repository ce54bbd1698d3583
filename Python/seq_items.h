/* Python/seq_items.h: the items of a list or tuple, read by Pypper's hand-over
 * (held_numbers.c, scan_groups.c) under the GIL. */
#ifndef PYPPER_SEQ_ITEMS_H
#define PYPPER_SEQ_ITEMS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>

#include "../Objects/residency.h"

/* op's items (*items, *n) when it is a live list or tuple whose header and item array
 * are resident (never read where the pageout backend sent them to swap). A dead list
 * or tuple on CPython's free list keeps its block, its tracked bit and its size, but
 * its items (and a list's item array) are gone: false. */
static inline bool pypper_seq_items(PyObject *op, PyObject *const **items, Py_ssize_t *n)
{
    if (!pypper_residency_may_touch(op) || Py_REFCNT(op) <= 0)
        return false;
    if (PyList_CheckExact(op)) {
        *items = ((PyListObject *)op)->ob_item;
        *n = PyList_GET_SIZE(op);
        return !*n || pypper_residency_may_touch(*items);
    }
    if (PyTuple_CheckExact(op)) {
        *items = ((PyTupleObject *)op)->ob_item;
        *n = PyTuple_GET_SIZE(op);
        return true;
    }
    return false;
}

#endif
