/* Modules/profile_api.c: what Lib/pypper/_profile.py needs of the C side to load and
 * save an allocation-site profile: hand the profile's cold sites to the placement
 * hook (Python/site_profile.c), read the session's per-site statistics
 * (Python/migrate_sites.c), a code object's fingerprint, and the counters. */
#include "profile_api.h"

#include "../Python/active_trace.h"
#include "../Python/migrate.h"
#include "../Python/site_profile.h"

#include <stdint.h>

static PyObject *no_session(void)
{
    PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
    return NULL;
}

/* profile_load([(fingerprint, instruction), ...], existing_code_objects) -> None */
static PyObject *py_profile_load(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *sites, *existing;
    if (!PyArg_ParseTuple(args, "OO:profile_load", &sites, &existing))
        return NULL;
    if (!pypper_migrate_running())
        return no_session();
    PyObject *seq = PySequence_Fast(sites, "profile_load: sites must be a sequence");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint64_t *fps = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    int *offsets = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int));
    int rc = fps && offsets ? 0 : -1;
    if (rc < 0)
        PyErr_NoMemory();
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
        unsigned long long fp;
        int offset;
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyArg_ParseTuple(item, "Ki:profile_load", &fp, &offset))
            rc = -1;
        else if (offset < 0) {
            PyErr_SetString(PyExc_ValueError, "profile_load: an instruction index is negative");
            rc = -1;
        } else {
            fps[i] = fp;
            offsets[i] = offset;
        }
    }
    if (rc == 0)
        rc = pypper_site_profile_load(fps, offsets, (size_t)n, existing == Py_None ? NULL : existing);
    PyMem_Free(fps);
    PyMem_Free(offsets);
    Py_DECREF(seq);
    if (rc < 0)
        return NULL;
    pypper_migrate_update_placement();
    Py_RETURN_NONE;
}

/* profile_sites() -> (settled, [(fingerprint, instruction, file, qualname, first line,
 * line, objects, bytes, cold bytes), ...]) */
static PyObject *py_profile_sites(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (!pypper_migrate_running())
        return no_session();
    uint32_t now = pypper_active_trace_now_ms();
    PyObject *rows = pypper_migrate_site_totals(now);
    return rows ? Py_BuildValue("(ON)", pypper_migrate_settled(now) ? Py_True : Py_False, rows)
                : NULL;
}

static PyObject *py_profile_fingerprint(PyObject *module, PyObject *code)
{
    (void)module;
    if (!PyCode_Check(code)) {
        PyErr_Format(PyExc_TypeError, "profile_fingerprint() expects a code object, not %.100s",
                     Py_TYPE(code)->tp_name);
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(pypper_code_fingerprint((PyCodeObject *)code));
}

static PyObject *py_profile_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return pypper_site_profile_stats();
}

PyMethodDef pypper_profile_methods[] = {
    {"profile_load", py_profile_load, METH_VARARGS,
     "profile_load(sites, existing_code) -> None: a profile's cold sites for this session"},
    {"profile_sites", py_profile_sites, METH_NOARGS,
     "profile_sites() -> (settled, rows): per-site statistics of the session now"},
    {"profile_fingerprint", py_profile_fingerprint, METH_O,
     "profile_fingerprint(code) -> int: the code object's identity across runs"},
    {"profile_stats", py_profile_stats, METH_NOARGS,
     "profile_stats() -> dict: the loaded profile's sites and their matches"},
    {NULL, NULL, 0, NULL},
};
