"""Shared fixtures: where the build is, and how to run the drop-in and the stock
interpreter in a clean environment (no PYPPER_* from the caller; the memory-pressure guard
off unless a test sets it)."""

import json
import os
import subprocess
import sys

import pytest

# The suite runs under the drop-in: ./python3 sits at the top of the build tree.
BUILDDIR = os.path.dirname(os.path.abspath(sys.executable))
with open(os.path.join(BUILDDIR, "build", "buildinfo.json")) as f:
    BUILDINFO = json.load(f)
SRCDIR = BUILDINFO["srcdir"]
DROPIN = os.path.join(BUILDDIR, "python3")
STOCK = BUILDINFO["python_stock"]
EXT_LIB = os.path.join(BUILDDIR, "build", "lib")


# The memory-pressure guard reads the machine's memory stall figure (PSI): with another
# job swapping beside the suite it paused the sampler and the hand-overs that tests
# wait for or drive (seen: a signal-sampler test failed while a far-memory benchmark
# ran). It is off in the processes the tests start, unless a test sets it; the guard's
# own tests (test_pressure.py) set what they test.
GUARD_OFF = {"PYPPER_PRESSURE_PSI": "0", "PYPPER_PRESSURE_MAJFLT": "0"}


def pypper_threads():
    """The names of Pypper's native threads in this process now, sorted (a session
    has pypper-sampler and pypper-migrate). Also run inside test programs:
    PYPPER_THREADS below."""
    import os
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                out.append(f.read().strip())
        except FileNotFoundError:
            pass
    return sorted(n for n in out if n.startswith("pypper-"))


def _source_of(fn):
    import inspect
    return inspect.getsource(fn)


# Prepended to a test program: pypper_threads() there, as names().
PYPPER_THREADS = _source_of(pypper_threads) + "names = pypper_threads\n"


def clean_env(extra=None, stock=False):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYPPER_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(GUARD_OFF)
    if stock:
        env["PYTHONPATH"] = EXT_LIB
        if BUILDINFO["sanitizers"]:
            # The extension is instrumented, the stock interpreter is not.
            env["LD_PRELOAD"] = BUILDINFO["asan_runtime"]
    env.update(extra or {})
    return env


def run(args, env=None, python=DROPIN, stock=False, input=None, cwd=None, timeout=120):
    """Run `python args...`; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([python, *args], env=clean_env(env, stock=stock), input=input,
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)


def run_script(prelude, code, env=None, timeout=120):
    """Run prelude + code (dedented) in a fresh drop-in process; the process must exit
    0. A script that prints SKIP first (what it needs is missing here, e.g. write
    tracking) skips the test with that line."""
    import textwrap
    r = run(["-c", prelude + textwrap.dedent(code)], env=env, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    if r.stdout.startswith("SKIP"):
        pytest.skip(r.stdout.strip())
    return r


@pytest.fixture
def dropin():
    return lambda *args, env=None, **kw: run(list(args), env=env, **kw)


@pytest.fixture
def stock():
    return lambda *args, env=None, **kw: run(list(args), env=env, python=STOCK, stock=True, **kw)


@pytest.fixture(autouse=True)
def no_session_left():
    """Every test must leave no tracing session behind in the test process."""
    yield
    import pypper
    if pypper.is_running():
        pypper.end()
        pytest.fail("test left a pypper session running")


def wait_for(what, cond, timeout=60.0, interval=0.01):
    """Wait until cond() is true, polling every `interval` seconds; fail the test when
    it is not after `timeout` seconds. For what a background thread does by itself;
    work a test needs done is driven through the _pypper._test_* hooks instead."""
    import time
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(interval)


def sampler_turns():
    """How many times the session's sampler thread has gone round its loop (a burst
    of sampling, or a sleep while the process is idle)."""
    import pypper
    s = pypper.active_trace_stats()
    return s["bursts"] + s["idle_sleeps"]


def wait_for_sampler(n=1, timeout=60.0):
    """Return once the sampler thread has gone round its loop n more times. Tests that
    fork call this first: under ASan a fork while the new thread is still inside the
    sanitizer's allocator can hang the child (a sanitizer limitation, not Pypper's)."""
    start = sampler_turns()
    wait_for(f"{n} sampler turn(s)", lambda: sampler_turns() >= start + n, timeout=timeout)
