/* Modules/own_memory_api.h: pypper.own_memory(): Pypper's own resident bytes by part
 * next to the heap's bytes in use (Modules/own_memory_api.c). */
#ifndef PYPPER_MODULES_OWN_MEMORY_API_H
#define PYPPER_MODULES_OWN_MEMORY_API_H

#include <Python.h>
#include <stdint.h>

extern PyMethodDef pypper_own_memory_methods[];

#endif
