/* Modules/temperature_api.h: the temperature functions of _pypper (temperature,
 * temperatures, hot_objects, snapshot_data, active_trace_stats), defined in
 * Modules/temperature_api.c. */
#ifndef PYPPER_MODULES_TEMPERATURE_API_H
#define PYPPER_MODULES_TEMPERATURE_API_H

#include <Python.h>

extern PyMethodDef pypper_temperature_methods[];

#endif
