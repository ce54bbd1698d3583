/* Modules/heap_api.h: the heap and tier functions of _pypper (topology, where,
 * heap_stats, placement scopes), defined in Modules/heap_api.c. */
#ifndef PYPPER_MODULES_HEAP_API_H
#define PYPPER_MODULES_HEAP_API_H

#include <Python.h>

extern PyMethodDef pypper_heap_methods[];

/* Make sys.getallocatedblocks() and sys._debugmallocstats() describe the allocator in
 * use (they only know pymalloc, which the tiered heap replaces or wraps). 0 or -1. */
int pypper_install_sys_allocator_hooks(PyObject *module);

#endif
