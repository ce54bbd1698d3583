/* Modules/heap_api.h: the heap and tier functions of _pypper (topology, where,
 * heap_stats, placement scopes), defined in Modules/heap_api.c. */
#ifndef PYPPER_MODULES_HEAP_API_H
#define PYPPER_MODULES_HEAP_API_H

#include <Python.h>

extern PyMethodDef pypper_heap_methods[];

#endif
