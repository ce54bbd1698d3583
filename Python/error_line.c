/* Python/error_line.c: the one-line report of a pending exception (error_line.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "error_line.h"

#include <stdio.h>

void pypper_report_exception_line(const char *what)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *text = exc ? PyObject_Str(exc) : NULL;
    const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
    PyErr_Clear();
    if (what)
        fprintf(stderr, "pypper: %s: %s", what, exc ? Py_TYPE(exc)->tp_name : "unknown error");
    else
        fputs("pypper", stderr);
    if (msg && *msg) {
        fputs(": ", stderr);
        for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
            fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
    }
    fputc('\n', stderr);
    Py_XDECREF(text);
    Py_XDECREF(exc);
}
