"""Shared plumbing of the far-memory workloads: phase meters and the result line.

The workloads are ordinary Python programs (stdlib only) that run unchanged on the
stock python3.12 and on ./python3; Pypper is switched on only through PYPPER_*
variables. Each prints one JSON object on its last stdout line. With FARMEM_REPORT=path
and a running Pypper session (pypper importable, session on), it also writes what
Pypper says about the heap (relocatable_report, migration_stats, stats, own_memory) to that path;
on any other interpreter that variable is ignored.

Run by Tools/bench/farmem_bench.py, a workload calls ready() between its build and its
access phase: the harness then applies the memory limit (the kernel reclaims the built
data down to it) and only then lets the access phase start. Run alone, ready() does
nothing.
"""

import json
import os
import resource
import sys
import time


def _pswpin():
    """Pages swapped in, machine-wide (/proc/vmstat); None where unavailable."""
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                if line.startswith("pswpin "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _vm_hwm_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Phase:
    """Wall time, faults and swap-ins between start() and stop()."""

    def __init__(self):
        self.t0 = self.ru0 = self.sw0 = None
        self.result = {}

    def start(self):
        self.ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self.sw0 = _pswpin()
        self.t0 = time.perf_counter()
        return self

    def stop(self):
        t1 = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        sw1 = _pswpin()
        self.result = {
            "wall_s": t1 - self.t0,
            "cpu_s": (ru1.ru_utime - self.ru0.ru_utime) + (ru1.ru_stime - self.ru0.ru_stime),
            "majflt": ru1.ru_majflt - self.ru0.ru_majflt,
            "minflt": ru1.ru_minflt - self.ru0.ru_minflt,
            "pswpin": None if sw1 is None or self.sw0 is None else sw1 - self.sw0,
        }
        return self.result


def ready():
    """Say the build is done (FARMEM_READY_FD) and wait for the harness's go
    (FARMEM_GO_FD); a no-op without them. The harness bounds the wait: it kills a
    workload that does not finish in time."""
    rfd, gfd = os.environ.get("FARMEM_READY_FD"), os.environ.get("FARMEM_GO_FD")
    if not rfd or not gfd:
        return
    os.write(int(rfd), b"ready\n")
    os.close(int(rfd))
    word = os.read(int(gfd), 16)
    os.close(int(gfd))
    if not word.startswith(b"go"):
        sys.exit("farmem workload: the harness went away before saying go")


def pypper_report():
    """What a running Pypper session says about the heap, or None."""
    try:
        import pypper
    except ImportError:
        return None
    try:
        if not pypper.is_running():
            return None
    except Exception:
        return None
    out = {}
    for name in ("relocatable_report", "migration_stats", "stats", "own_memory"):
        fn = getattr(pypper, name, None)
        if fn is None:
            out[name] = "missing"
            continue
        try:
            out[name] = fn()
        except Exception as e:  # report, never fail the workload over it
            out[name] = f"error: {type(e).__name__}: {e}"
    return out


def finish(workload, params, checksum, build, access):
    """Print the result line and honour FARMEM_REPORT."""
    path = os.environ.get("FARMEM_REPORT")
    if path:
        rep = pypper_report()
        if rep is not None:
            with open(path, "w") as f:
                json.dump(rep, f, default=str)
    line = {"workload": workload, "params": params, "checksum": checksum,
            "build": build, "access": access, "vm_hwm_kb": _vm_hwm_kb(),
            "python": sys.version.split()[0]}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
