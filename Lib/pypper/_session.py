"""Python-side bookkeeping of tracing sessions: the trace file, the summary printed
at exit (STATS), and what a forked child must forget."""

import atexit
import os
import sys
import _thread

import _pypper

_writer = None          # TraceWriter of the running session, if it has a trace file
_summary_wanted = False  # a session of this process asked for STATS
_sessions = 0
_traced_seconds = 0.0
_owner_pid = os.getpid()
_heat_stop = None        # held while the heat recorder thread should run
#: Serializes start() and end() with this bookkeeping across threads.
lock = _thread.RLock()


def open_trace(values, sources=None):
    """Open the session's trace file before the session starts, so a bad path stops
    start() with a clear error instead of a session without its trace. The error names
    PYPPER_TRACE_FILE when the path came from the environment, trace_file otherwise."""
    path = values["trace_file"]
    if not path:
        return None
    from . import _trace        # json: only with a trace file
    try:
        return _trace.TraceWriter(path)
    except OSError as e:
        name = "PYPPER_TRACE_FILE" if (sources or {}).get("trace_file") == "env" else "trace_file"
        raise _pypper.ConfigError(
            f"cannot write {name} {_trace.expand_path(path)!r}: {e.strerror}") from None


def began(values, sources, writer):
    global _writer, _summary_wanted, _sessions, _owner_pid
    _writer = writer
    _sessions += 1
    _owner_pid = os.getpid()
    if values["stats"]:
        _summary_wanted = True
    if writer is not None:
        from . import _trace
        writer.event("start", format=_trace.FORMAT, format_version=_trace.FORMAT_VERSION,
                     version=_pypper.VERSION, mode="drop-in" if _pypper.DROPIN else "extension",
                     argv=list(sys.argv), config=values, sources=sources)
        if values["heat_interval_ms"] > 0:
            _start_heat_recorder(values["heat_interval_ms"] / 1000.0)


def _record_heat():
    """One "heat" event: the heat of EVERY page of the heap, cold ones (heat 0)
    included: the pages placement_map() lists (the last migration round's, or the
    pages in use now after idle rounds) and those holding traced objects. A page's heat
    is sum(temperature x bytes) of the traced objects and buffers on it, and of its
    untraced bytes at their page's temperature, over the page size (0..1)."""
    data = _pypper.snapshot_data(2.0, True)     # above any temperature: pages only
    heat = {}
    try:
        for page, _tier in _pypper.placement_map():
            heat[page] = 0.0
    except RuntimeError:
        pass
    for p in data["pages"]:
        heat[p[0]] = heat.get(p[0], 0.0) + p[2]
    for page, h in data.get("untraced_heat", ()):
        heat[page] = heat.get(page, 0.0) + h
    pages = sorted([page, round(h, 6)] for page, h in heat.items())
    _writer.event("heat", uptime=data["uptime"], page_size=data["page_size"], pages=pages)


def _heat_loop(stop, interval):
    while not stop.acquire(timeout=interval):
        with lock:
            if stop.locked() is False or _writer is None or _pypper.state() != "running":
                return
            _record_heat()


def _start_heat_recorder(interval):
    global _heat_stop
    stop = _thread.allocate_lock()
    stop.acquire()
    _heat_stop = stop
    _thread.start_new_thread(_heat_loop, (stop, interval))


def stop_heat_recorder():
    """Called with `lock` held, before the session ends."""
    global _heat_stop
    if _heat_stop is not None:
        _heat_stop.release()
        _heat_stop = None


def ended(seconds):
    global _writer, _traced_seconds
    _traced_seconds += seconds
    if _writer is not None:
        _writer.event("end", seconds=seconds, stats=_pypper.stats(),
                      live_trace=_pypper.live_trace_stats(),
                      active_trace=_pypper.active_trace_stats(),
                      own_memory=_pypper.own_memory()["at_session_end"])
        _writer.close()
        _writer = None


def save_profile():
    """Called with `lock` held, before the session ends: the allocation-site profile
    (PYPPER_PROFILE) takes this run's statistics. Never raises: a failure is one line."""
    profile = sys.modules.get("pypper._profile")
    if profile is None or _pypper.state() != "running":
        return
    try:
        profile.save()
    except Exception as e:
        _pypper.log(2, f"the profile was not saved: {type(e).__name__}: {e}")


def _after_fork_in_child():
    # The C side's own hook (registered first, so run first) has stopped the session
    # in the child: no thread survives fork().
    global _writer, _summary_wanted, _sessions, _traced_seconds, lock
    global _heat_stop
    lock = _thread.RLock()       # another thread may have held it at fork()
    _heat_stop = None            # the recorder thread did not survive fork()
    profile = sys.modules.get("pypper._profile")
    if profile is not None:
        profile.forget()         # the parent saves it
    if _writer is not None:
        _writer.abandon()
        _writer = None
    _summary_wanted = False
    _sessions = 0
    _traced_seconds = 0.0


def summary_text():
    """PYPPER_STATS=1's lines: the session count, then the counters of stats() that are
    not 0 (a short run printed 48 lines, 40 of them 0)."""
    stats = _pypper.stats()
    lines = [f"pypper: summary for pid {os.getpid()}: {_sessions} session(s), "
             f"{_traced_seconds:.3f} s traced"]
    shown = {k: v for k, v in stats.items() if v != 0}
    width = max((len(k) for k in shown), default=0)
    for key, value in shown.items():
        lines.append(f"pypper:   {key:<{width}}  {value}")
    if len(shown) < len(stats):
        lines.append(f"pypper:   ({len(stats) - len(shown)} counters at 0 not shown: "
                     "pypper.stats() has them all)")
    return "\n".join(lines)


def at_exit(end):
    if _pypper.state() == "running" and os.getpid() == _owner_pid:
        end()
    if _summary_wanted:
        print(summary_text(), file=sys.stderr, flush=True)


def install(end):
    # The C side's hooks (once per process; PYPPER_ENABLE=1 in the drop-in registers
    # them before the program runs): its threads are joined before fork() and started
    # again after it in the parent, and the session ends at exit. Then this module's
    # bookkeeping: the child's, and the summary at exit (run first: last registered).
    _pypper._install_hooks()
    os.register_at_fork(after_in_child=_after_fork_in_child)
    atexit.register(at_exit, end)
