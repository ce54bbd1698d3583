/* Modules/_pypper.c: the C module behind `import pypper`. A thin layer: it converts
 * between Python values and the options table, and exposes the session lifecycle and
 * counters. Built into the drop-in interpreter and, unchanged, as an extension module
 * for a stock python3.12. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pypper.h"

#include "../Objects/heap.h"
#include "../Objects/pymem_glue.h"
#include "../Pypper/lifecycle.h"
#include "../Pypper/tiers.h"
#include "heap_api.h"
#include "own_memory_api.h"
#include "pressure_api.h"
#include "../Pypper/pressure.h"
#include "profile_api.h"
#include "../Pypper/own_memory.h"
#include "process_hooks.h"
#include "../Python/pypper_import.h"
#include "temperature_api.h"
#include "migration_api.h"
#include "../Pypper/backend.h"
#include "../Python/frame_reader.h"
#include "../Python/live_trace.h"
#include "../Python/delayed_start.h"
#include "../Python/session.h"
#include "../Pypper/log.h"
#include "../Pypper/options.h"
#include "../Pypper/stats.h"
#include "../Pypper/write_tracking_heap.h"
#include "write_tracking_api.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include "../Pypper/code_size.h"

extern char **environ;

static bool is_dropin;
static char package_dir[4096];        /* where the drop-in's `pypper` package is */

void Pypper_MarkDropIn(void) { is_dropin = true; }

int Pypper_SetPackageDir(const char *dir)
{
    if (strlen(dir) >= sizeof(package_dir))
        return -1;
    strcpy(package_dir, dir);
    return 0;
}

int Pypper_IsRunning(void) { return pypper_lifecycle_state() == PYPPER_STATE_RUNNING; }

typedef struct {
    PyObject *config_error;
} module_state;

static module_state *get_state(PyObject *module)
{
    return (module_state *)PyModule_GetState(module);
}

static const char *type_name(pypper_opt_type t)
{
    switch (t) {
    case PYPPER_OPT_BOOL: return "bool";
    case PYPPER_OPT_INT: return "int";
    case PYPPER_OPT_FLOAT: return "float";
    case PYPPER_OPT_SIZE: return "size";
    case PYPPER_OPT_ENUM: return "choice";
    case PYPPER_OPT_NODES: return "nodes";
    case PYPPER_OPT_PATH: return "path";
    }
    return "?";
}

static void lower_copy(const char *src, char *dst, size_t len)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* The Python value of one option: bool, int, float, str, list of node numbers, or
 * for sizes an int (bytes) or a str ("50%"). */
static PyObject *option_value(const pypper_option_def *def, const pypper_config *cfg)
{
    const char *field = (const char *)cfg + def->offset;
    char text[PYPPER_PATH_MAX + 32];
    switch (def->type) {
    case PYPPER_OPT_BOOL:
        return PyBool_FromLong(*(const bool *)field);
    case PYPPER_OPT_INT:
        return PyLong_FromLongLong((long long)*(const int64_t *)field);
    case PYPPER_OPT_FLOAT:
        return PyFloat_FromDouble(*(const double *)field);
    case PYPPER_OPT_SIZE: {
        const pypper_size *s = (const pypper_size *)field;
        if (!s->is_percent)
            return PyLong_FromUnsignedLongLong(s->bytes);
        break;
    }
    case PYPPER_OPT_NODES: {
        const pypper_nodeset *set = (const pypper_nodeset *)field;
        PyObject *list = PyList_New(0);
        for (unsigned n = 0; list && n < PYPPER_MAX_NODES; n++) {
            if (!pypper_nodeset_has(set, n))
                continue;
            PyObject *num = PyLong_FromUnsignedLong(n);
            if (!num || PyList_Append(list, num) < 0) {
                Py_XDECREF(num);
                Py_CLEAR(list);
                break;
            }
            Py_DECREF(num);
        }
        return list;
    }
    case PYPPER_OPT_ENUM:
    case PYPPER_OPT_PATH:
        break;
    }
    pypper_option_format(def, cfg, text, sizeof(text));
    return PyUnicode_DecodeFSDefault(text);
}

/* (values, sources): two dicts keyed by lower-case option name. */
static PyObject *config_to_python(const pypper_config *cfg)
{
    PyObject *values = PyDict_New(), *sources = PyDict_New();
    if (!values || !sources)
        goto fail;
    for (size_t i = 0; i < pypper_option_count(); i++) {
        const pypper_option_def *def = pypper_option_at(i);
        char key[64];
        lower_copy(def->name, key, sizeof(key));
        PyObject *v = option_value(def, cfg);
        if (!v)
            goto fail;
        int rc = PyDict_SetItemString(values, key, v);
        Py_DECREF(v);
        if (rc < 0)
            goto fail;
        PyObject *s = PyUnicode_FromString(pypper_source_name((pypper_opt_source)cfg->source[i]));
        if (!s)
            goto fail;
        rc = PyDict_SetItemString(sources, key, s);
        Py_DECREF(s);
        if (rc < 0)
            goto fail;
    }
    return Py_BuildValue("(NN)", values, sources);
fail:
    Py_XDECREF(values);
    Py_XDECREF(sources);
    return NULL;
}

/* defaults <- PYPPER_* environment <- args ({"NAME": "text"} or {"NAME": ("text",
 * value as given)}: messages show the value as given; may be None), then the checks
 * between options. Messages name environment variables PYPPER_NAME and keywords name. */
static PYPPER_SMALL_CODE int resolve_config(PyObject *module, PyObject *args, pypper_config *cfg)
{
    char err[PYPPER_ERR_MAX];
    pypper_config_defaults(cfg);
    if (pypper_config_apply_env(cfg, environ, err, sizeof(err)) < 0) {
        const char *msg = strncmp(err, "pypper: ", 8) == 0 ? err + 8 : err;
        PyErr_SetString(get_state(module)->config_error, msg);
        return -1;
    }
    if (args == NULL || args == Py_None) {
        if (pypper_config_check(cfg, err, sizeof(err)) < 0) {
            PyErr_SetString(get_state(module)->config_error, err);
            return -1;
        }
        return 0;
    }
    if (!PyDict_Check(args)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict of option name to text");
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(args, &pos, &key, &value)) {
        PyObject *shown = value;
        if (PyTuple_Check(value) && PyTuple_GET_SIZE(value) == 2) {
            shown = PyTuple_GET_ITEM(value, 1);
            value = PyTuple_GET_ITEM(value, 0);
        }
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!name || !PyUnicode_Check(value)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "option names and values must be str");
            return -1;
        }
        /* The file system's encoding: a path given as bytes comes back unchanged. */
        PyObject *encoded = PyUnicode_EncodeFSDefault(value);
        if (!encoded) {
            PyErr_Clear();
            char lname[64];
            lower_copy(name, lname, sizeof(lname));
            PyErr_Format(get_state(module)->config_error,
                         "bad value %R for %s: not encodable in the file system's encoding",
                         shown, lname);
            return -1;
        }
        Py_ssize_t text_len = PyBytes_GET_SIZE(encoded);
        char text[PYPPER_PATH_MAX + 1];
        bool too_long = text_len > PYPPER_PATH_MAX;
        memcpy(text, PyBytes_AS_STRING(encoded), too_long ? PYPPER_PATH_MAX : (size_t)text_len);
        text[too_long ? PYPPER_PATH_MAX : text_len] = '\0';
        Py_DECREF(encoded);
        const pypper_option_def *def = pypper_option_find(name);
        char lname[64];
        lower_copy(name, lname, sizeof(lname));
        if (!def) {
            const char *guess = pypper_option_suggest(name);
            char lguess[64];
            if (guess) {
                lower_copy(guess, lguess, sizeof(lguess));
                PyErr_Format(get_state(module)->config_error,
                             "unknown option %s (did you mean %s?)", lname, lguess);
            } else {
                PyErr_Format(get_state(module)->config_error, "unknown option %s", lname);
            }
            return -1;
        }
        if (!too_long && strlen(text) != (size_t)text_len) {
            PyErr_Format(get_state(module)->config_error, "bad value %R for %s: embedded NUL",
                         shown, lname);
            return -1;
        }
        if (too_long || pypper_option_parse(def, text, PYPPER_SRC_ARG, cfg, err, sizeof(err)) < 0) {
            if (too_long) {
                char accepts[PYPPER_ERR_MAX / 2];
                pypper_option_accepts(def, accepts, sizeof(accepts));
                snprintf(err, sizeof(err), "expected %s", accepts);
            }
            PyObject *r = PyObject_Repr(shown);
            if (!r)
                return -1;
            /* A long value is cut: the message stays one readable line. */
            if (PyUnicode_GET_LENGTH(r) > 80) {
                PyObject *cut = PyUnicode_Substring(r, 0, 72);
                Py_SETREF(r, cut ? PyUnicode_FromFormat("%U...", cut) : NULL);
                Py_XDECREF(cut);
                if (!r)
                    return -1;
            }
            PyErr_Format(get_state(module)->config_error, "bad value %U for %s: %s", r,
                         lname, err);
            Py_DECREF(r);
            return -1;
        }
    }
    if (pypper_config_check(cfg, err, sizeof(err)) < 0) {
        PyErr_SetString(get_state(module)->config_error, err);
        return -1;
    }
    return 0;
}

static PyObject *py_resolve(PyObject *module, PyObject *args)
{
    pypper_config cfg;
    if (resolve_config(module, args, &cfg) < 0)
        return NULL;
    return config_to_python(&cfg);
}

/* What a start needs before the session: the options, the tiers and the backend.
 * 0, or -1 with ConfigError set (counted as a start error). */
static int prepare_start(PyObject *module, PyObject *args, pypper_config *cfg,
                         pypper_backend_choice *backend)
{
    if (resolve_config(module, args, cfg) < 0) {
        pypper_stat_add(PYPPER_STAT_START_ERRORS, 1);
        return -1;
    }
    char err[PYPPER_ERR_MAX];
    if (pypper_tiers_setup(cfg, err, sizeof(err)) < 0
        || pypper_backend_select(cfg, pypper_tiers_topology(), "/proc/swaps", backend, err,
                                 sizeof(err)) < 0) {
        pypper_stat_add(PYPPER_STAT_START_ERRORS, 1);
        PyErr_SetString(get_state(module)->config_error, err);
        return -1;
    }
    return 0;
}

static PyObject *py_start(PyObject *module, PyObject *args)
{
    pypper_config cfg;
    pypper_backend_choice backend;
    if (prepare_start(module, args, &cfg, &backend) < 0)
        return NULL;
    int rc = pypper_session_start(&cfg, &backend);
    if (rc < 0)
        return NULL;
    return PyBool_FromLong(rc);
}

/* The drop-in's PYPPER_ENABLE=1 with START_DELAY_MS: the options are checked now (a
 * bad one still stops the program before it runs), the session starts later. */
static PyObject *py_start_later(PyObject *module, PyObject *unused)
{
    (void)unused;
    pypper_config cfg;
    pypper_backend_choice backend;
    if (prepare_start(module, Py_None, &cfg, &backend) < 0)
        return NULL;
    if (cfg.start_delay_ms == 0 || pypper_lifecycle_state() != PYPPER_STATE_STOPPED) {
        int rc = pypper_session_start(&cfg, &backend);
        return rc < 0 ? NULL : PyBool_FromLong(rc);
    }
    if (pypper_session_start_later(&cfg, &backend) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *py_start_pending(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    int64_t ms = pypper_delayed_start_remaining_ms();
    if (ms < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)ms / 1000.0);
}

static PyObject *py_start_now(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(pypper_delayed_start_now() == 1);
}

static PyObject *py_end(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    int rc = pypper_session_end();
    return PyBool_FromLong(rc);
}

static PyObject *py_state(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    static const char *const names[] = {"stopped", "running", "stopping"};
    return PyUnicode_FromString(names[pypper_lifecycle_state()]);
}

static PyObject *py_session_config(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_config cfg;
    if (!pypper_lifecycle_config(&cfg))
        Py_RETURN_NONE;
    return config_to_python(&cfg);
}

static PyObject *py_uptime(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyFloat_FromDouble(pypper_lifecycle_uptime());
}

static PyObject *py_live_trace_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return pypper_live_trace_stats();
}

static PyObject *py_live_trace_knows(PyObject *module, PyObject *obj)
{
    (void)module;
    return PyBool_FromLong(pypper_live_trace_knows(obj));
}

static PyObject *py_test_live_trace_progress(PyObject *module, PyObject *obj)
{
    (void)module;
    return pypper_live_trace_progress(obj);
}

static PyObject *py_test_give_entries(PyObject *module, PyObject *seq)
{
    (void)module;
    PyObject *fast = PySequence_Fast(seq, "_test_give_entries(seq): seq must be a sequence");
    if (!fast)
        return NULL;
    Py_ssize_t made = 0, n = PySequence_Fast_GET_SIZE(fast);
    for (Py_ssize_t i = 0; i < n; i++)
        made += pypper_live_trace_give_entry(PySequence_Fast_GET_ITEM(fast, i)) == 1;
    Py_DECREF(fast);
    return PyLong_FromSsize_t(made);
}

static PyObject *py_before_fork(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_session_before_fork();
    Py_RETURN_NONE;
}

static PyObject *py_after_fork_in_parent(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_session_after_fork_in_parent();
    Py_RETURN_NONE;
}

static PyObject *py_after_fork_in_child(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_session_after_fork_in_child();
    Py_RETURN_NONE;
}

static PyObject *py_install_hooks(PyObject *module, PyObject *unused)
{
    (void)unused;
    if (pypper_process_hooks_install(module) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_pressure_count_so_far();
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < PYPPER_STAT_COUNT; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(pypper_stat_get((pypper_stat_id)i));
        if (!v || PyDict_SetItemString(d, pypper_stat_name((pypper_stat_id)i), v) < 0) {
            Py_XDECREF(v);
            Py_CLEAR(d);
            break;
        }
        Py_DECREF(v);
    }
    /* The temperature signal of the current or last session, and why. */
    PyObject *sig = d ? PyUnicode_FromString(pypper_wt_signal()) : NULL;
    if (d && (!sig || PyDict_SetItemString(d, "signal", sig) < 0))
        Py_CLEAR(d);
    Py_XDECREF(sig);
    /* Pypper's own resident bytes next to the heap's bytes in use (own_memory()). */
    PyObject *own = d ? PyLong_FromUnsignedLongLong(pypper_own_resident_total()) : NULL;
    PyObject *heap = own ? PyLong_FromUnsignedLongLong(pypper_heap_bytes_in_use()) : NULL;
    if (d && (!heap || PyDict_SetItemString(d, "own_bytes", own) < 0
              || PyDict_SetItemString(d, "heap_bytes_in_use", heap) < 0))
        Py_CLEAR(d);
    Py_XDECREF(own);
    Py_XDECREF(heap);
    return d;
}

static PyObject *py_option_table(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < pypper_option_count(); i++) {
        const pypper_option_def *def = pypper_option_at(i);
        char accepts[PYPPER_ERR_MAX];
        pypper_option_accepts(def, accepts, sizeof(accepts));
        PyObject *row = Py_BuildValue("(sssss)", def->name, type_name(def->type),
                                      def->default_text, accepts, def->help);
        if (!row || PyList_Append(list, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(row);
    }
    return list;
}

static PyObject *py_log(PyObject *module, PyObject *args)
{
    (void)module;
    int level;
    const char *msg;
    if (!PyArg_ParseTuple(args, "is:log", &level, &msg))
        return NULL;
    if (level < PYPPER_LOG_ERROR || level > PYPPER_LOG_DEBUG) {
        PyErr_SetString(PyExc_ValueError, "log level must be from 1 (error) to 4 (debug)");
        return NULL;
    }
    pypper_log(level, "%s", msg);
    Py_RETURN_NONE;
}

static PyObject *py_set_log_level(PyObject *module, PyObject *arg)
{
    (void)module;
    long level = PyLong_AsLong(arg);
    if (level == -1 && PyErr_Occurred())
        return NULL;
    if (level < PYPPER_LOG_OFF || level > PYPPER_LOG_DEBUG) {
        PyErr_SetString(PyExc_ValueError, "log level must be from 0 (off) to 4 (debug)");
        return NULL;
    }
    pypper_log_set_level((int)level);
    Py_RETURN_NONE;
}

/* _pypper.PackageFinder on sys.meta_path (drop-in only): a finder class, like
 * importlib's own, that finds the top-level `pypper` package in the drop-in's package
 * directory, so sys.path stays exactly the stock one. */
static PyObject *py_find_spec(PyObject *cls, PyObject *const *args, Py_ssize_t nargs)
{
    (void)cls;
    if (nargs < 1 || nargs > 3 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "find_spec(name, path=None, target=None)");
        return NULL;
    }
    if (!package_dir[0] || PyUnicode_CompareWithASCIIString(args[0], "pypper") != 0)
        Py_RETURN_NONE;
    /* importlib.machinery.PathFinder is this class: the module importlib itself loads
     * at start-up (importing importlib.machinery would add importlib and warnings). */
    PyObject *machinery = pypper_import("_frozen_importlib_external");
    PyObject *finder = machinery ? PyObject_GetAttrString(machinery, "PathFinder") : NULL;
    Py_XDECREF(machinery);
    PyObject *path = finder ? Py_BuildValue("[s]", package_dir) : NULL;
    PyObject *spec = path ? PyObject_CallMethod(finder, "find_spec", "OO", args[0], path) : NULL;
    Py_XDECREF(finder);
    Py_XDECREF(path);
    return spec;
}

static PyMethodDef finder_methods[] = {
    {"find_spec", (PyCFunction)(void (*)(void))py_find_spec, METH_FASTCALL | METH_CLASS,
     "find_spec(name, path=None, target=None): the spec of the drop-in's pypper package"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot finder_slots[] = {
    {Py_tp_doc, (void *)"Finds the pypper package next to the Pypper interpreter."},
    {Py_tp_methods, finder_methods},
    {0, NULL},
};

static PyType_Spec finder_spec = {
    .name = "_pypper.PackageFinder",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = finder_slots,
};

/* _pypper.public(func, errors): func as Pypper's API shows it. An exception of one of
 * the classes `errors` (the caller's mistake: a bad option, a file that is no
 * snapshot, no session) leaves it with no traceback of its own and with the caller's
 * exception context, so what Python prints ends at the caller's line: a C callable
 * adds no frame, and the calling frame adds its own as the exception passes through
 * it. (A Python function always shows its own frame, even for `raise e.with_traceback
 * (None)`.) Other exceptions (a bug in Pypper) keep every frame, and so does every
 * exception under PYPPER_LOG=debug. A descriptor, so a method can be one too. */
typedef struct {
    PyObject_HEAD
    PyObject *func;
    PyObject *errors;
    vectorcallfunc vectorcall;
} public_object;

static bool keep_pypper_frames(void)
{
    const char *log = getenv("PYPPER_LOG");
    return pypper_log_get_level() >= PYPPER_LOG_DEBUG || (log && strcasecmp(log, "debug") == 0);
}

static PyObject *public_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames)
{
    public_object *p = (public_object *)self;
    PyObject *handled = PyErr_GetHandledException();    /* the caller's, or None */
    pypper_frames_pause_begin();        /* the arguments are not the program's use */
    PyObject *result = PyObject_Vectorcall(p->func, args, nargsf, kwnames);
    pypper_frames_pause_end();
    if (result == NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        if (exc && PyErr_GivenExceptionMatches(exc, p->errors) && !keep_pypper_frames()) {
            PyException_SetTraceback(exc, Py_None);
            PyException_SetCause(exc, NULL);
            ((PyBaseExceptionObject *)exc)->suppress_context = 0;     /* (SetCause set it) */
            PyObject *context = (handled && handled != Py_None && handled != exc)
                                ? Py_NewRef(handled) : NULL;
            PyException_SetContext(exc, context);
        }
        PyErr_SetRaisedException(exc);
    }
    Py_XDECREF(handled);
    return result;
}

static PyObject *public_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *func, *errors;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "public(func, errors) takes no keywords");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OO!:public", &func, &PyTuple_Type, &errors))
        return NULL;
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "public(func, errors): func must be callable");
        return NULL;
    }
    public_object *p = (public_object *)type->tp_alloc(type, 0);
    if (p == NULL)
        return NULL;
    p->func = Py_NewRef(func);
    p->errors = Py_NewRef(errors);
    p->vectorcall = public_vectorcall;
    return (PyObject *)p;
}

static int public_traverse(PyObject *self, visitproc visit, void *arg)
{
    public_object *p = (public_object *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(p->func);
    Py_VISIT(p->errors);
    return 0;
}

static int public_clear(PyObject *self)
{
    public_object *p = (public_object *)self;
    Py_CLEAR(p->func);
    Py_CLEAR(p->errors);
    return 0;
}

static void public_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    public_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyObject *public_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None)
        return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

/* The function's __doc__, __name__, __qualname__ and __module__ as the object's own (data
 * descriptors, as a function's are: pydoc reads __doc__ bypassing getattr), and
 * __wrapped__, which inspect.signature() follows. */
static PyObject *public_forward(PyObject *self, void *name)
{
    return PyObject_GetAttrString(((public_object *)self)->func, (const char *)name);
}

static PyObject *public_wrapped(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((public_object *)self)->func);
}

static PyGetSetDef public_getset[] = {
    {"__doc__", public_forward, NULL, NULL, "__doc__"},
    {"__name__", public_forward, NULL, NULL, "__name__"},
    {"__qualname__", public_forward, NULL, NULL, "__qualname__"},
    {"__module__", public_forward, NULL, NULL, "__module__"},
    {"__wrapped__", public_wrapped, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *public_repr(PyObject *self) { return PyObject_Repr(((public_object *)self)->func); }

static PyMemberDef public_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(public_object, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot public_slots[] = {
    {Py_tp_new, public_new},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_descr_get, public_descr_get},
    {Py_tp_getset, public_getset},
    {Py_tp_repr, public_repr},
    {Py_tp_traverse, public_traverse},
    {Py_tp_clear, public_clear},
    {Py_tp_dealloc, public_dealloc},
    {Py_tp_members, public_members},
    {0, NULL},
};

static PyType_Spec public_spec = {
    .name = "_pypper.function",     /* help() says "function in module pypper" */
    .basicsize = sizeof(public_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL
             | Py_TPFLAGS_METHOD_DESCRIPTOR,
    .slots = public_slots,
};

/* For tests: _start_later(), then, in the same call (no pending call can run in
 * between), wait until the start's call is queued and lose its signal. */
static PyObject *py_test_lose_start_signal(PyObject *module, PyObject *arg)
{
    long ms = PyLong_AsLong(arg);
    if (ms == -1 && PyErr_Occurred())
        return NULL;
    if (ms < 0 || ms > 600000) {
        PyErr_SetString(PyExc_ValueError, "_test_lose_start_signal(ms): ms must be in [0, 600000]");
        return NULL;
    }
    pypper_config cfg;
    pypper_backend_choice backend;
    if (prepare_start(module, Py_None, &cfg, &backend) < 0)
        return NULL;
    if (cfg.start_delay_ms == 0 || pypper_lifecycle_state() != PYPPER_STATE_STOPPED) {
        PyErr_SetString(PyExc_ValueError, "_test_lose_start_signal(ms): needs START_DELAY_MS > 0 "
                                          "and no session");
        return NULL;
    }
    if (pypper_session_start_later(&cfg, &backend) < 0)
        return NULL;
    /* With the GIL all along: taking it again recomputes the breaker. */
    return PyBool_FromLong(pypper_delayed_start_test_lose_signal((unsigned)ms));
}

static PyMethodDef methods[] = {
    {"resolve", py_resolve, METH_O,
     "resolve(args) -> (values, sources): defaults <- PYPPER_* env <- args {NAME: text}"},
    {"start", py_start, METH_O, "start(args) -> bool: start a session (False: one is running)"},
    {"end", py_end, METH_NOARGS, "end() -> bool: end the session (False: none was running)"},
    {"_start_later", py_start_later, METH_NOARGS,
     "_start_later() -> bool: the environment's session, START_DELAY_MS from now (True: "
     "started at once)"},
    {"_start_pending", py_start_pending, METH_NOARGS,
     "_start_pending() -> float | None: seconds until a delayed start, None: none pending"},
    {"_test_lose_start_signal", py_test_lose_start_signal, METH_O,
     "_test_lose_start_signal(ms) -> bool: for tests: _start_later(), wait (at most ms) "
     "until the start's call is queued, then clear the eval breaker as a lost race would"},
    {"_start_now", py_start_now, METH_NOARGS,
     "_start_now() -> bool: run a pending delayed start now (True: the session started)"},
    {"state", py_state, METH_NOARGS, "state() -> 'stopped' | 'running' | 'stopping'"},
    {"session_config", py_session_config, METH_NOARGS,
     "session_config() -> (values, sources) of the running session, or None"},
    {"uptime", py_uptime, METH_NOARGS, "seconds since the running session started"},
    {"stats", py_stats, METH_NOARGS, "stats() -> dict of event counters"},
    {"live_trace_stats", py_live_trace_stats, METH_NOARGS,
     "live_trace_stats() -> dict: objects in the table, passes, pause figures"},
    {"_test_give_entries", py_test_give_entries, METH_O,
     "_test_give_entries(seq) -> int: for tests: an object-table entry for each tracked object of seq, as evidence would give it; how many were made"},
    {"live_trace_knows", py_live_trace_knows, METH_O,
     "live_trace_knows(obj) -> bool: does the live trace track obj"},
    {"_test_live_trace_progress", py_test_live_trace_progress, METH_O,
     "_test_live_trace_progress(obj) -> dict: for tests: the first pass and the pending "
     "containers as they are (no catch-up), and whether obj is tracked now and marked as "
     "existing before the session"},
    {"after_fork_in_child", py_after_fork_in_child, METH_NOARGS,
     "after_fork_in_child(): drop the tracing state copied from the parent"},
    {"_install_hooks", py_install_hooks, METH_NOARGS,
     "_install_hooks(): register this module's fork hooks and end() at exit, once"},
    {"before_fork", py_before_fork, METH_NOARGS,
     "before_fork(): join the session's threads until after_fork_in_parent()"},
    {"after_fork_in_parent", py_after_fork_in_parent, METH_NOARGS,
     "after_fork_in_parent(): start the session's threads again"},
    {"option_table", py_option_table, METH_NOARGS,
     "option_table() -> [(NAME, type, default, accepts, help)]"},
    {"log", py_log, METH_VARARGS, "log(level, message): report through Pypper's log"},
    {"set_log_level", py_set_log_level, METH_O, "set the LOG level (0 off .. 4 debug)"},
    {NULL, NULL, 0, NULL},
};

/* In a stock python3.12 the heap wraps CPython's allocator when _pypper is first
 * imported; the drop-in installed it before the interpreter started. */
static void install_heap_in_extension(void)
{
    if (is_dropin || strcmp(pypper_pymem_mode(), "none") != 0)
        return;
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    pypper_config_defaults(&cfg);
    if (pypper_config_apply_env(&cfg, environ, err, sizeof(err)) < 0)
        pypper_config_defaults(&cfg);      /* start() reports the bad variable */
    if (pypper_tiers_setup(&cfg, err, sizeof(err)) < 0) {
        pypper_config_defaults(&cfg);
        (void)pypper_tiers_setup(&cfg, err, sizeof(err));
    }
    if (pypper_pymem_install(PYPPER_INSTALL_WRAP) == 0) {
        pypper_pymem_apply_retention(&cfg);
        pypper_tiers_apply_budget(&cfg);
    }
}

static int module_exec(PyObject *module)
{
    module_state *st = get_state(module);
    install_heap_in_extension();
    if (PyModule_AddFunctions(module, pypper_heap_methods) < 0
        || PyModule_AddFunctions(module, pypper_temperature_methods) < 0
        || PyModule_AddFunctions(module, pypper_migration_methods) < 0
        || PyModule_AddFunctions(module, pypper_write_tracking_methods) < 0
        || PyModule_AddFunctions(module, pypper_own_memory_methods) < 0
        || PyModule_AddFunctions(module, pypper_pressure_methods) < 0
        || PyModule_AddFunctions(module, pypper_profile_methods) < 0)
        return -1;
    if (pypper_install_sys_allocator_hooks(module) < 0)
        return -1;
    PyObject *public = PyType_FromModuleAndSpec(module, &public_spec, NULL);
    int public_added = public ? PyModule_AddObjectRef(module, "public", public) : -1;
    Py_XDECREF(public);
    if (public_added < 0)
        return -1;
    PyObject *finder = PyType_FromModuleAndSpec(module, &finder_spec, NULL);
    int added = finder ? PyModule_AddObjectRef(module, "PackageFinder", finder) : -1;
    Py_XDECREF(finder);
    if (added < 0)
        return -1;
    st->config_error = PyErr_NewExceptionWithDoc(
        "pypper.ConfigError", "A Pypper option has a bad name or value.", PyExc_ValueError, NULL);
    if (!st->config_error || PyModule_AddObjectRef(module, "ConfigError", st->config_error) < 0)
        return -1;
    if (PyModule_AddStringConstant(module, "VERSION", PYPPER_VERSION) < 0
        || PyModule_AddObjectRef(module, "DROPIN", is_dropin ? Py_True : Py_False) < 0
        || PyModule_AddIntConstant(module, "LOG_ERROR", PYPPER_LOG_ERROR) < 0
        || PyModule_AddIntConstant(module, "LOG_WARN", PYPPER_LOG_WARN) < 0
        || PyModule_AddIntConstant(module, "LOG_INFO", PYPPER_LOG_INFO) < 0
        || PyModule_AddIntConstant(module, "LOG_DEBUG", PYPPER_LOG_DEBUG) < 0)
        return -1;
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    Py_VISIT(get_state(module)->config_error);
    return 0;
}

static int module_clear(PyObject *module)
{
    Py_CLEAR(get_state(module)->config_error);
    return 0;
}

static void module_free(void *module) { module_clear((PyObject *)module); }

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, module_exec},
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pypper",
    .m_doc = "C core of Pypper: options, session lifecycle, counters.",
    .m_size = sizeof(module_state),
    .m_methods = methods,
    .m_slots = slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__pypper(void) { return PyModuleDef_Init(&module_def); }
