/* Modules/write_tracking_api.h: the write-tracking functions of _pypper
 * (write_tracking_stats, page_heat, page_history, _test_wt_scan), defined in
 * Modules/write_tracking_api.c. */
#ifndef PYPPER_MODULES_WRITE_TRACKING_API_H
#define PYPPER_MODULES_WRITE_TRACKING_API_H

#include <Python.h>

extern PyMethodDef pypper_write_tracking_methods[];

#endif
