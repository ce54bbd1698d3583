/* Modules/process_hooks.h: a tracing session's hooks on the process (fork, exit). */
#ifndef PYPPER_PROCESS_HOOKS_H
#define PYPPER_PROCESS_HOOKS_H

#include <Python.h>

/* With the GIL: register module's before_fork, after_fork_in_parent and
 * after_fork_in_child with os.register_at_fork, and its end() to run at exit, once
 * per process (a forked child inherits them). 0, or -1 with a Python exception. */
int pypper_process_hooks_install(PyObject *module);

/* The built-in module `name` without importing it where the program would see it:
 * the one in sys.modules when it is loaded, else a private instance (built-in modules
 * such as gc and atexit keep their state in the interpreter, shared by every
 * instance). Falls back to an ordinary import. New reference, or NULL with an error. */
PyObject *pypper_quiet_builtin(const char *name);

#endif
