/* Modules/write_tracking_api.c: the write-tracking functions of _pypper: the signal
 * in use and the tracker's figures, the page heat of an object (the write history of
 * the page holding its header: its reference count), and a synchronous scan for
 * tests. All run with the GIL. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "write_tracking_api.h"

#include "../Pypper/write_tracking_heap.h"

static PyObject *py_write_tracking_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_wt_stats s;
    pypper_wt_get_stats(&s);
    return Py_BuildValue(
        "{s:s,s:O,s:s,s:K,s:d,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:d,s:d,s:i}",
        "signal", pypper_wt_signal(),
        "active", s.active ? Py_True : Py_False,
        "route", s.route,
        "interval_ms", (unsigned long long)s.interval_ms,
        "budget", s.budget,
        "fault_ns", (unsigned long long)s.fault_ns,
        "scans", (unsigned long long)s.c.scans,
        "ioctls", (unsigned long long)s.c.ioctls,
        "registered_pages", (unsigned long long)s.c.registered_pages,
        "written_pages", (unsigned long long)s.c.written_pages,
        "last_written", (unsigned long long)s.c.last_written,
        "faulted_pages", (unsigned long long)s.c.faulted_pages,
        "swapped_pages", (unsigned long long)s.c.swapped_pages,
        "huge_pages", (unsigned long long)s.c.huge_pages,
        "parked_pages", (unsigned long long)s.c.parked_now,
        "parks", (unsigned long long)s.c.parks,
        "discards", (unsigned long long)s.c.discards,
        "discard_overflows", (unsigned long long)s.c.discard_overflows,
        "scan_errors", (unsigned long long)s.c.scan_errors,
        "scan_seconds", s.scan_seconds,
        "est_fault_seconds", s.est_fault_seconds,
        "last_errno", s.c.last_errno);
}

static PyObject *py_page_heat(PyObject *module, PyObject *obj)
{
    (void)module;
    double h = pypper_wt_page_heat(obj);
    if (h < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(h);
}

static PyObject *py_page_history(PyObject *module, PyObject *obj)
{
    (void)module;
    int h = pypper_wt_page_history(obj);
    if (h < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(h);
}

static PyObject *py_test_wt_scan(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    long n = pypper_wt_scan_now();
    if (n < 0) {
        PyErr_Format(PyExc_RuntimeError, "no write tracking runs (signal: %s)", pypper_wt_signal());
        return NULL;
    }
    return PyLong_FromLong(n);
}

PyMethodDef pypper_write_tracking_methods[] = {
    {"write_tracking_stats", py_write_tracking_stats, METH_NOARGS,
     "write_tracking_stats() -> dict: the signal in use and why, scans, pages written, "
     "parked, the interval and the estimated cost"},
    {"page_heat", py_page_heat, METH_O,
     "page_heat(obj) -> float in [0, 1]: in how many of the last 8 scans the page holding "
     "obj's header was written; None when not tracked"},
    {"page_history", py_page_history, METH_O,
     "page_history(obj) -> int: the page's history bits (bit 0: the last scan), or None"},
    {"_test_wt_scan", py_test_wt_scan, METH_NOARGS,
     "_test_wt_scan() -> int: for tests: one write-tracking scan now; pages seen written"},
    {NULL, NULL, 0, NULL},
};
