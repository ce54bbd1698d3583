/* Python/main.c: main() of the drop-in interpreter. The PEP 587 start-up sequence of
 * a stock python3.12, plus Pypper's steps: PYPPER_* options are validated before the
 * interpreter exists (a bad one exits with status 2 before any user code runs), the
 * built-in _pypper module is registered and made the finder of the pypper package
 * (sys.path stays stock), and PYPPER_ENABLE=1 starts tracing before the program runs.
 * Start-up failures are one line on stderr, never a traceback (Doc/errors.md). */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1        /* _PyRuntime.preconfig: the allocator asked for */
#include <Python.h>
#include "internal/pycore_runtime.h"

#include "pypper.h"

#include "../Objects/heap.h"
#include "../Objects/pymem_glue.h"
#include "../Pypper/log.h"
#include "../Pypper/options.h"
#include "../Pypper/tiers.h"
#include "error_line.h"
#include "libdir.h"
#include "pypper_import.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

extern char **environ;

/* After Py_PreInitialize (the last moment an allocator may be replaced): put the
 * tiered heap behind the MEM and OBJ domains, keeping CPython's debug hooks when
 * they were asked for (-X dev, PYTHONMALLOC=debug). PYTHONMALLOC naming an allocator
 * (malloc, pymalloc, and their _debug forms) is obeyed: the heap stays off. Returns -1
 * on a bad node override (reported; the caller exits 2). */
static int install_heap(const pypper_config *cfg)
{
    char err[PYPPER_ERR_MAX];
    if (pypper_tiers_setup(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "pypper: %s\n", err);
        return -1;
    }
    int asked = _PyRuntime.preconfig.allocator;
    if (asked == PYMEM_ALLOCATOR_MALLOC || asked == PYMEM_ALLOCATOR_MALLOC_DEBUG
        || asked == PYMEM_ALLOCATOR_PYMALLOC || asked == PYMEM_ALLOCATOR_PYMALLOC_DEBUG) {
        pypper_log(PYPPER_LOG_INFO, "PYTHONMALLOC names an allocator: the tiered heap is off");
        return 0;
    }
    if (pypper_pymem_install(PYPPER_INSTALL_REPLACE) < 0)
        return 0;
    pypper_pymem_apply_retention(cfg);
    pypper_tiers_apply_budget(cfg);
    if (asked == PYMEM_ALLOCATOR_DEBUG || asked == PYMEM_ALLOCATOR_PYMALLOC_DEBUG)
        PyMem_SetupDebugHooks();
    return 0;
}

/* Make `import pypper` find the package next to this interpreter: the finder class
 * _pypper.PackageFinder goes at the end of sys.meta_path; sys.path stays stock. */
static __attribute__((noinline)) void add_pypper_finder(void)
{
    char dir[PATH_MAX];
    int found = pypper_find_libdir(NULL, dir, sizeof(dir));
    if (found < 0) {
        /* A copied executable (venv --copies): look next to the base interpreter. */
        PyObject *base = PySys_GetObject("_base_executable");     /* borrowed */
        const char *path = base && PyUnicode_Check(base) ? PyUnicode_AsUTF8(base) : NULL;
        if (path)
            found = pypper_find_libdir(path, dir, sizeof(dir));
        PyErr_Clear();
    }
    if (found < 0 || Pypper_SetPackageDir(dir) < 0) {
        /* Said once `import pypper` is tried (ModuleNotFoundError), not at every start. */
        pypper_log(PYPPER_LOG_DEBUG, "the pypper package was not found next to this "
                                     "interpreter");
        return;
    }
    PyObject *meta_path = PySys_GetObject("meta_path");    /* borrowed */
    PyObject *module = pypper_import("_pypper");
    PyObject *finder = module ? PyObject_GetAttrString(module, "PackageFinder") : NULL;
    if (!meta_path || !finder || PyList_Append(meta_path, finder) < 0) {
        pypper_log(PYPPER_LOG_WARN, "cannot register the finder of the pypper package");
        PyErr_Clear();
    }
    Py_XDECREF(finder);
    Py_XDECREF(module);
}

/* PYPPER_ENABLE=1 with a trace file or the exit summary: they are the Python
 * package's work, so it is imported. When it cannot be (a ._pth file or PYTHONPATH
 * hiding what it imports), one line says so and the program runs untraced. Otherwise
 * pypper._autostart() starts the session: 0, or the exit status after its one-line
 * reason (2 for a configuration error). */
static int autostart_package(void)
{
    PyObject *mod = pypper_import("pypper");
    if (!mod && PyErr_ExceptionMatches(PyExc_ImportError)) {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *text = PyObject_Str(exc);
        const char *why = text ? PyUnicode_AsUTF8(text) : NULL;
        PyErr_Clear();
        fprintf(stderr, "pypper: PYPPER_ENABLE=1: tracing is off: the pypper package cannot be "
                        "imported (%s)\n", why ? why : "ImportError");
        Py_XDECREF(text);
        Py_DECREF(exc);
        return 0;
    }
    PyObject *res = mod ? PyObject_CallMethod(mod, "_autostart", NULL) : NULL;
    Py_XDECREF(mod);
    if (!res) {
        pypper_report_exception_line("PYPPER_ENABLE=1 but the pypper package cannot be loaded");
        return 1;
    }
    long status = PyLong_AsLong(res);
    Py_DECREF(res);
    if (status == -1 && PyErr_Occurred()) {
        pypper_report_exception_line("PYPPER_ENABLE=1 but tracing could not start");
        return 1;
    }
    return (int)status;
}

/* Start tracing as pypper.start() would, with the options from the environment,
 * from the built-in _pypper module alone: nothing is imported, so sys.modules,
 * sys.path and -X importtime look as they do without tracing (-S, -I and ._pth
 * files change nothing). With START_DELAY_MS the options are checked now and the
 * session starts that much later (Python/delayed_start.h). Returns 0, or the exit
 * status after one line on stderr: 2 for a configuration error (ConfigError: e.g.
 * BACKEND=numa on one node), 1 for anything else; the program then does not run
 * untraced (it asked for tracing). */
static int autostart(bool package, bool delayed)
{
    if (package)
        return autostart_package();
    PyObject *mod = pypper_import("_pypper");
    PyObject *res = !mod ? NULL
                    : delayed ? PyObject_CallMethod(mod, "_start_later", NULL)
                              : PyObject_CallMethod(mod, "start", "O", Py_None);
    if (res) {
        Py_DECREF(res);
        res = PyObject_CallMethod(mod, "_install_hooks", NULL);
    }
    int rc = 0;
    if (!res) {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *config_error = mod ? PyObject_GetAttrString(mod, "ConfigError") : NULL;
        if (!config_error)
            PyErr_Clear();
        bool is_config = config_error && exc && PyErr_GivenExceptionMatches(exc, config_error);
        Py_XDECREF(config_error);
        PyErr_SetRaisedException(exc);
        pypper_report_exception_line(is_config ? NULL : "PYPPER_ENABLE=1 but tracing could not start");
        rc = is_config ? 2 : 1;
    }
    Py_XDECREF(res);
    Py_XDECREF(mod);
    return rc;
}

/* What start-up needs of the options once the interpreter exists. */
typedef struct {
    bool enable;        /* PYPPER_ENABLE=1 */
    bool package;       /* a trace file, a profile or the exit summary: the package autostarts */
    bool delayed;       /* START_DELAY_MS: the session starts once the program has run a while */
} start_flags;

/* Options from the environment, pre-initialization, the heap. Returns -1 to go on,
 * else the exit status. Not inlined: its frame (the options: about 5 KiB) is gone
 * before the interpreter initializes, so the interpreter's stack is as deep as under
 * the stock one (deeper, it put pages in every process that stock leaves untouched). */
static __attribute__((noinline)) int configure(int argc, char **argv, start_flags *flags)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    pypper_config_defaults(&cfg);
    if (pypper_config_apply_env(&cfg, environ, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (pypper_config_check(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "pypper: %s\n", err);
        return 2;
    }
    pypper_log_set_level(cfg.log_level);
    Pypper_MarkDropIn();

    PyPreConfig preconfig;
    PyPreConfig_InitPythonConfig(&preconfig);
    PyStatus status = Py_PreInitializeFromBytesArgs(&preconfig, argc, argv);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    if (install_heap(&cfg) < 0)
        return 2;
    flags->enable = cfg.enable;
    flags->package = cfg.trace_file[0] || cfg.profile[0] || cfg.stats;
    flags->delayed = cfg.start_delay_ms > 0;
    return -1;
}

int main(int argc, char **argv)
{
    start_flags flags;
    int exit_status = configure(argc, argv, &flags);
    if (exit_status >= 0)
        return exit_status;

    if (PyImport_AppendInittab("_pypper", PyInit__pypper) < 0) {
        fprintf(stderr, "pypper: cannot register the _pypper module\n");
        return 1;
    }

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    PyStatus status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    add_pypper_finder();
    exit_status = flags.enable ? autostart(flags.package, flags.delayed) : 0;
    if (exit_status != 0) {
        /* The program does not run untraced: PYPPER_ENABLE=1 asked for tracing. */
        Py_Finalize();
        return exit_status;
    }
    return Py_RunMain();
}
