/* Python/pypper_import.h: how Pypper's C code imports a module. */
#ifndef PYPPER_IMPORT_H
#define PYPPER_IMPORT_H

#include <Python.h>

/* The module `name`, as `import name` would give it, without looking up `__import__`
 * in the globals of the frame the program is running: Pypper's code runs in pending
 * calls (a delayed start, a hand-over) in whatever frame that is, and the methods
 * collections.namedtuple generates run with empty builtins. A delayed start that came
 * due while a program made records (PYPPER_ENABLE=1 and a million namedtuples) failed
 * with "KeyError: '__import__'", and the program ran untraced. New reference, or NULL
 * with an exception. */
static inline PyObject *pypper_import(const char *name)
{
    return PyImport_ImportModuleLevel(name, NULL, NULL, NULL, 0);
}

#endif
