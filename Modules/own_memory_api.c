/* Modules/own_memory_api.c: pypper.own_memory(): the resident bytes of the tables
 * Pypper keeps for itself (Pypper/own_memory.c), by part, next to the bytes in use in
 * the heap it manages, now and at the end of the last session. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "own_memory_api.h"

#include "../Objects/heap.h"
#include "../Pypper/own_memory.h"

/* {"parts": {name: bytes}, "own_bytes", "heap_bytes_in_use", "own_per_heap"}. */
static PyObject *figures(const uint64_t resident[PYPPER_OWN_PARTS], uint64_t heap_bytes)
{
    PyObject *parts = PyDict_New();
    uint64_t total = 0;
    for (int p = 0; parts && p < PYPPER_OWN_PARTS; p++) {
        total += resident[p];
        PyObject *v = PyLong_FromUnsignedLongLong(resident[p]);
        if (!v || PyDict_SetItemString(parts, pypper_own_part_name((pypper_own_part)p), v) < 0)
            Py_CLEAR(parts);
        Py_XDECREF(v);
    }
    if (!parts)
        return NULL;
    return Py_BuildValue("{s:N,s:K,s:K,s:d}", "parts", parts, "own_bytes", (unsigned long long)total,
                         "heap_bytes_in_use", (unsigned long long)heap_bytes, "own_per_heap",
                         heap_bytes ? (double)total / (double)heap_bytes : 0.0);
}

static PyObject *py_own_memory(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    uint64_t resident[PYPPER_OWN_PARTS];
    for (int p = 0; p < PYPPER_OWN_PARTS; p++)
        resident[p] = pypper_own_resident((pypper_own_part)p);
    PyObject *d = figures(resident, pypper_heap_bytes_in_use());
    uint64_t heap_end;
    PyObject *end = NULL;
    if (d && pypper_own_end_record(resident, &heap_end))
        end = figures(resident, heap_end);
    else if (d)
        end = Py_NewRef(Py_None);
    PyObject *uncounted = end ? PyLong_FromUnsignedLongLong(pypper_own_uncounted()) : NULL;
    if (!uncounted || PyDict_SetItemString(d, "at_session_end", end) < 0
        || PyDict_SetItemString(d, "uncounted_mappings", uncounted) < 0)
        Py_CLEAR(d);
    Py_XDECREF(end);
    Py_XDECREF(uncounted);
    return d;
}

PyMethodDef pypper_own_memory_methods[] = {
    {"own_memory", py_own_memory, METH_NOARGS,
     "own_memory() -> dict: Pypper's own resident bytes by part, the heap's bytes in use, "
     "their ratio, now and at the end of the last session"},
    {NULL, NULL, 0, NULL},
};
