/* Python/main.c: main() of the drop-in interpreter. The PEP 587 start-up sequence of
 * a stock python3.12, plus Pypper's steps: PYPPER_* options are validated before the
 * interpreter exists (a bad one exits with status 2 before any user code runs), the
 * built-in _pypper module is registered, the pypper package's directory is put on
 * sys.path, and PYPPER_ENABLE=1 starts tracing before the program runs. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pypper.h"

#include "../Pypper/log.h"
#include "../Pypper/options.h"
#include "libdir.h"

#include <limits.h>
#include <stdio.h>

extern char **environ;

static void add_pypper_libdir(void)
{
    char dir[PATH_MAX];
    if (pypper_find_libdir(dir, sizeof(dir)) < 0) {
        pypper_log(PYPPER_LOG_WARN, "the pypper package was not found next to this "
                                    "interpreter; 'import pypper' will fail");
        return;
    }
    PyObject *path = PySys_GetObject("path");    /* borrowed */
    PyObject *entry = PyUnicode_DecodeFSDefault(dir);
    if (!path || !entry || PyList_Append(path, entry) < 0)
        PyErr_Clear();
    Py_XDECREF(entry);
}

/* Start tracing as pypper.start() would, with the options from the environment. */
static int autostart(void)
{
    PyObject *mod = PyImport_ImportModule("pypper");
    PyObject *res = mod ? PyObject_CallMethod(mod, "_autostart", NULL) : NULL;
    Py_XDECREF(mod);
    if (!res) {
        fprintf(stderr, "pypper: PYPPER_ENABLE=1 but tracing could not start:\n");
        PyErr_Print();
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

int main(int argc, char **argv)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    pypper_config_defaults(&cfg);
    if (pypper_config_apply_env(&cfg, environ, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    pypper_log_set_level(cfg.log_level);
    Pypper_MarkDropIn();

    PyPreConfig preconfig;
    PyPreConfig_InitPythonConfig(&preconfig);
    PyStatus status = Py_PreInitializeFromBytesArgs(&preconfig, argc, argv);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    if (PyImport_AppendInittab("_pypper", PyInit__pypper) < 0) {
        fprintf(stderr, "pypper: cannot register the _pypper module\n");
        return 1;
    }

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    add_pypper_libdir();
    if (cfg.enable && autostart() < 0) {
        Py_Finalize();
        return 2;
    }
    return Py_RunMain();
}
