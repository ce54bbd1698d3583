/* Python/libdir.h: where the drop-in finds the pure-Python part of Pypper. */
#ifndef PYPPER_LIBDIR_H
#define PYPPER_LIBDIR_H

#include <stddef.h>

/* Fill buf with the directory that holds the `pypper` package for the interpreter
 * at exe (NULL: this process's executable, through /proc/self/exe):
 * <exe dir>/build/lib in a build tree, <exe dir>/../lib/pypper when installed.
 * Returns 0 when found, -1 when neither exists. */
int pypper_find_libdir(const char *exe, char *buf, size_t len);

#endif
