/* Modules/process_hooks.c: ties a tracing session to the process's fork() and exit,
 * without anything the program can see. The _pypper module's own functions are
 * registered with register_at_fork of the built-in posix module (always loaded at
 * start-up) and with the atexit machinery through a module object made by
 * _imp.create_builtin (its callbacks live in the interpreter, shared with any
 * `import atexit`): neither sys.modules nor -X importtime shows a new import. */
#define Py_BUILD_CORE 1
#include "process_hooks.h"
#include "internal/pycore_interp.h"     /* after_forkers_child */

#include "../Python/pypper_import.h"
#include "../Pypper/code_size.h"

#include <stdbool.h>

/* For this process (a forked child inherits the registrations). */
static bool fork_hooks, exit_hook;

/* The callables `name` of module. */
static PyObject *attr(PyObject *module, const char *name)
{
    return PyObject_GetAttrString(module, name);
}

/* The child's hooks run in the order they were registered; Pypper's is made the
 * first, so that the child forgets the session before any other runs: a hook of the
 * program's registered earlier (threading's, random's, its own) may allocate,
 * collect, ask Pypper or start a session, and must not find the parent's session
 * (its tables are empty copies in the child: Pypper/own_memory.c), nor have its
 * start forgotten after it (a start there was undone by Pypper's hook, the state left
 * "running" and nothing traced: found in review, 2026-12-06). */
static void child_hook_first(PyObject *hook)
{
    PyObject *list = PyInterpreterState_Get()->after_forkers_child;
    if (!list || !PyList_Check(list))
        return;
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n < 2 || PyList_GET_ITEM(list, n - 1) != hook)
        return;
    Py_INCREF(hook);
    if (PyList_SetSlice(list, n - 1, n, NULL) == 0 && PyList_Insert(list, 0, hook) < 0)
        PyErr_Clear();
    Py_DECREF(hook);
}

static int register_fork_hooks(PyObject *module)
{
    PyObject *posix = pypper_import("posix");   /* built in, already loaded */
    PyObject *reg = posix ? attr(posix, "register_at_fork") : NULL;
    PyObject *before = attr(module, "before_fork");
    PyObject *parent = attr(module, "after_fork_in_parent");
    PyObject *child = attr(module, "after_fork_in_child");
    PyObject *args = PyTuple_New(0);
    PyObject *kw = before && parent && child
                       ? Py_BuildValue("{s:O,s:O,s:O}", "before", before, "after_in_parent",
                                       parent, "after_in_child", child)
                       : NULL;
    PyObject *res = reg && args && kw ? PyObject_Call(reg, args, kw) : NULL;
    if (res && child)
        child_hook_first(child);
    Py_XDECREF(res);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(child);
    Py_XDECREF(parent);
    Py_XDECREF(before);
    Py_XDECREF(reg);
    Py_XDECREF(posix);
    return res ? 0 : -1;
}

PyObject *pypper_quiet_builtin(const char *name)
{
    PyObject *key = PyUnicode_FromString(name);
    PyObject *mod = key ? PyImport_GetModule(key) : NULL;
    Py_XDECREF(key);
    if (mod || PyErr_Occurred())
        return mod;
    /* {"name": name} is all the spec _imp.create_builtin reads. */
    PyObject *imp = pypper_import("_imp");      /* built in, always loaded */
    PyObject *impl = PySys_GetObject("implementation");  /* a SimpleNamespace; borrowed */
    PyObject *args = PyTuple_New(0);
    PyObject *kw = Py_BuildValue("{s:s}", "name", name);
    PyObject *spec = imp && impl && args && kw ? PyObject_Call((PyObject *)Py_TYPE(impl), args, kw)
                                               : NULL;
    mod = spec ? PyObject_CallMethod(imp, "create_builtin", "O", spec) : NULL;
    PyObject *done = mod ? PyObject_CallMethod(imp, "exec_builtin", "O", mod) : NULL;
    if (!done)
        Py_CLEAR(mod);
    Py_XDECREF(done);
    Py_XDECREF(spec);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(imp);
    if (!mod) {
        /* Not a built-in module here: the ordinary import. */
        PyErr_Clear();
        mod = pypper_import(name);
    }
    return mod;
}

static int register_exit_hook(PyObject *module)
{
    PyObject *atexit = pypper_quiet_builtin("atexit");
    PyObject *end = attr(module, "end");
    PyObject *res = atexit && end ? PyObject_CallMethod(atexit, "register", "O", end) : NULL;
    Py_XDECREF(res);
    Py_XDECREF(end);
    Py_XDECREF(atexit);
    return res ? 0 : -1;
}

PYPPER_SMALL_CODE int pypper_process_hooks_install(PyObject *module)
{
    if (!fork_hooks) {
        if (register_fork_hooks(module) < 0)
            return -1;
        fork_hooks = true;
    }
    if (!exit_hook) {
        if (register_exit_hook(module) < 0)
            return -1;
        exit_hook = true;
    }
    return 0;
}
