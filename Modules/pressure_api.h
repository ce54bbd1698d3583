/* Modules/pressure_api.h: the Python face of the memory-pressure guard
 * (Pypper/pressure.h): pypper.pressure() and its test hooks. */
#ifndef PYPPER_PRESSURE_API_H
#define PYPPER_PRESSURE_API_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

extern PyMethodDef pypper_pressure_methods[];

#endif
