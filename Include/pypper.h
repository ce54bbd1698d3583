/* Include/pypper.h: the public C API of Pypper for embedders and extension authors.
 * Later parts of Pypper add placement hints and tier queries here. */
#ifndef PYPPER_PUBLIC_H
#define PYPPER_PUBLIC_H

#include <Python.h>

#define PYPPER_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The init function of the built-in module _pypper (the C side of `import pypper`). */
PyMODINIT_FUNC PyInit__pypper(void);

/* Called by the drop-in's main() before the interpreter starts: marks the process as
 * running the Pypper interpreter rather than a stock one with the extension module. */
void Pypper_MarkDropIn(void);

/* Called by the drop-in's main(): the directory holding the `pypper` package, found
 * through the _pypper module placed on sys.meta_path (sys.path is left alone). */
int Pypper_SetPackageDir(const char *dir);

/* 1 while a tracing session is running, else 0. Safe without the GIL. */
int Pypper_IsRunning(void);

#ifdef __cplusplus
}
#endif
#endif
