/* Modules/pressure_api.c: _pypper.pressure() (the guard's state: paused or not, why,
 * the last reading, the hold, the thresholds, and the map of the heap's pages in
 * swap, Objects/swap_map.h, and the CPU-shortage guard's, Pypper/cpu_guard.h) and the
 * test hooks that feed them a reading, made up (_test_pressure_feed, _test_cpu_feed) or
 * taken from the kernel now (_test_pressure_check, _test_cpu_check), after starting
 * them over (_test_pressure_reset, _test_cpu_reset). */
#include "pressure_api.h"

#include "../Objects/residency.h"
#include "../Objects/swap_map.h"
#include "../Pypper/cpu_guard.h"
#include "../Pypper/main_readings.h"
#include "../Pypper/pressure.h"

static PyObject *state(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_pressure s;
    uint64_t now;
    pypper_pressure_snapshot(&s, &now);
    pypper_swap_map_stats m;
    pypper_swap_map_get_stats(&m);
    unsigned gate = pypper_residency_gate_bits();
    PyObject *swap = Py_BuildValue(
        "{s:O,s:K,s:K,s:K,s:K,s:K,s:O,s:O}", "active", m.active ? Py_True : Py_False,
        "refreshes", (unsigned long long)m.refreshes, "arenas_read", (unsigned long long)m.arenas_read,
        "pages_out", (unsigned long long)m.pages_out, "skipped_reads", (unsigned long long)m.skipped_reads,
        "vm_swap_kb", (unsigned long long)m.swap_kb,
        "reads_checked_swap", gate & PYPPER_RESIDENCY_SWAP ? Py_True : Py_False,
        "reads_checked_slow", gate & PYPPER_RESIDENCY_SLOW ? Py_True : Py_False);
    if (!swap)
        return NULL;
    pypper_cpu_guard c;
    uint64_t cnow;
    bool avail;
    pypper_cpu_guard_snapshot(&c, &cnow, &avail);
    PyObject *cpu = Py_BuildValue(
        "{s:O,s:K,s:d,s:d,s:N,s:d,s:O,s:d}", "short", c.short_of_cpu ? Py_True : Py_False,
        "shortages", (unsigned long long)c.shortages,
        "short_seconds", (double)pypper_cpu_guard_short_ns(&c, cnow) / 1e9,
        "hold_seconds", (double)c.hold_ms / 1e3,
        "wait_pct", c.last_pct >= 0 ? PyFloat_FromDouble(c.last_pct) : Py_NewRef(Py_None),
        "wait_threshold", c.p.wait_pct, "available", avail ? Py_True : Py_False,
        "sampler_duty_factor", c.short_of_cpu ? PYPPER_CPU_BACKOFF : 1.0);
    if (!cpu) {
        Py_DECREF(swap);
        return NULL;
    }
    return Py_BuildValue(
        "{s:O,s:s,s:K,s:d,s:d,s:d,s:N,s:d,s:K,s:d,s:N,s:N}",
        "paused", s.paused ? Py_True : Py_False,
        "reason", pypper_pressure_reason_name(s.paused ? s.reason : PYPPER_PRESSURE_NONE),
        "pauses", (unsigned long long)s.pauses,
        "paused_seconds", (double)pypper_pressure_paused_ns(&s, now) / 1e9,
        "hold_seconds", (double)s.hold_ms / 1e3,
        "majflt_per_s", s.last_rate,
        "psi", s.last_psi >= 0 ? PyFloat_FromDouble(s.last_psi) : Py_NewRef(Py_None),
        "psi_threshold", s.p.psi_pct,
        "majflt_threshold", (unsigned long long)s.p.majflt_per_s,
        "window_seconds", PYPPER_PRESSURE_WINDOW_MS / 1e3,
        "swap_map", swap, "cpu", cpu);
}

static PyObject *test_feed(PyObject *module, PyObject *args)
{
    (void)module;
    unsigned long long now_ms, majflt;
    double psi = -1.0;
    if (!PyArg_ParseTuple(args, "KK|d", &now_ms, &majflt, &psi))
        return NULL;
    return PyBool_FromLong(pypper_pressure_feed_now(now_ms * 1000000ull, majflt, psi));
}

static PyObject *test_cpu_feed(PyObject *module, PyObject *args)
{
    (void)module;
    unsigned long long now_ms, run_ms, wait_ms;
    if (!PyArg_ParseTuple(args, "KKK", &now_ms, &run_ms, &wait_ms))
        return NULL;
    return PyBool_FromLong(pypper_cpu_guard_feed_now(now_ms * 1000000ull, run_ms * 1000000ull,
                                                     wait_ms * 1000000ull));
}

static PyObject *test_cpu_check(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_main_readings_take(false);      /* (at most one per 200 ms) */
    return PyFloat_FromDouble(pypper_cpu_guard_check());
}

static PyObject *test_cpu_reset(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_cpu_guard_reset_now();
    Py_RETURN_NONE;
}

static PyObject *test_check(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(pypper_pressure_check());
}

static PyObject *test_reset(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    pypper_pressure_reset_now();
    Py_RETURN_NONE;
}

static PyObject *test_swap_force(PyObject *module, PyObject *arg)
{
    (void)module;
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    pypper_swap_map_test_force((int)(v < 0 ? -1 : v > 0));
    Py_RETURN_NONE;
}

static PyObject *test_swap_mark(PyObject *module, PyObject *arg)
{
    (void)module;
    void *p = PyLong_AsVoidPtr(arg);
    if (!p && PyErr_Occurred())
        return NULL;
    pypper_swap_map_test_mark(p);
    Py_RETURN_NONE;
}

static PyObject *test_swap_may_touch(PyObject *module, PyObject *arg)
{
    (void)module;
    void *p = PyLong_AsVoidPtr(arg);
    if (!p && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(pypper_swap_map_may_touch(p));
}

PyMethodDef pypper_pressure_methods[] = {
    {"pressure", state, METH_NOARGS,
     "pressure() -> dict: the memory-pressure guard of the running (or last) session"},
    {"_test_pressure_feed", test_feed, METH_VARARGS,
     "_test_pressure_feed(now_ms, majflt[, psi]) -> paused: feed the guard a reading"},
    {"_test_pressure_reset", test_reset, METH_NOARGS,
     "_test_pressure_reset(): start the guard over (thresholds kept)"},
    {"_test_swap_map_force", test_swap_force, METH_O,
     "_test_swap_map_force(n): 1 = read the heap's residency as if the process swapped, "
     "0 = as if not, -1 = as VmSwap says; the next hand-over refreshes the map"},
    {"_test_swap_map_mark", test_swap_mark, METH_O,
     "_test_swap_map_mark(address): the map says that page is out of memory (until a refresh)"},
    {"_test_swap_map_may_touch", test_swap_may_touch, METH_O,
     "_test_swap_map_may_touch(address) -> bool: the map's answer for that address"},
    {"_test_cpu_feed", test_cpu_feed, METH_VARARGS,
     "_test_cpu_feed(now_ms, run_ms, wait_ms) -> short of CPU: a made-up reading"},
    {"_test_cpu_check", test_cpu_check, METH_NOARGS,
     "_test_cpu_check() -> the sampler's duty factor after a reading of the main thread"},
    {"_test_cpu_reset", test_cpu_reset, METH_NOARGS, "_test_cpu_reset(): start the CPU guard over"},
    {"_test_pressure_check", test_check, METH_NOARGS,
     "_test_pressure_check() -> paused: a reading from the kernel now"},
    {NULL, NULL, 0, NULL},
};
