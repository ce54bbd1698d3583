"""Python-side bookkeeping of tracing sessions: the trace file, the summary printed
at exit (STATS), and what a forked child must forget."""

import atexit
import os
import sys
import _thread

import _pypper

from . import _trace

_writer = None          # TraceWriter of the running session, if it has a trace file
_summary_wanted = False  # a session of this process asked for STATS
_sessions = 0
_traced_seconds = 0.0
_owner_pid = os.getpid()
#: Serializes start() and end() with this bookkeeping across threads.
lock = _thread.RLock()


def open_trace(values):
    """Open the session's trace file before the session starts, so a bad path stops
    start() with a clear error instead of a session without its trace."""
    path = values["trace_file"]
    if not path:
        return None
    try:
        return _trace.TraceWriter(path)
    except OSError as e:
        raise _pypper.ConfigError(
            f"cannot write trace_file {_trace.expand_path(path)!r}: {e.strerror}") from None


def began(values, sources, writer):
    global _writer, _summary_wanted, _sessions, _owner_pid
    _writer = writer
    _sessions += 1
    _owner_pid = os.getpid()
    if values["stats"]:
        _summary_wanted = True
    if writer is not None:
        writer.event("start", format=_trace.FORMAT, format_version=_trace.FORMAT_VERSION,
                     version=_pypper.VERSION, mode="drop-in" if _pypper.DROPIN else "extension",
                     argv=list(sys.argv), config=values, sources=sources)


def ended(seconds):
    global _writer, _traced_seconds
    _traced_seconds += seconds
    if _writer is not None:
        _writer.event("end", seconds=seconds, stats=_pypper.stats())
        _writer.close()
        _writer = None


def _after_fork_in_child():
    # The C side has stopped the session in the child (no thread survives fork).
    global _writer, _summary_wanted, _sessions, _traced_seconds, lock
    lock = _thread.RLock()       # another thread may have held it at fork()
    _pypper.after_fork_in_child()
    if _writer is not None:
        _writer.abandon()
        _writer = None
    _summary_wanted = False
    _sessions = 0
    _traced_seconds = 0.0


def summary_text():
    stats = _pypper.stats()
    lines = [f"pypper: summary for pid {os.getpid()}: {_sessions} session(s), "
             f"{_traced_seconds:.3f} s traced"]
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        lines.append(f"pypper:   {key:<{width}}  {value}")
    return "\n".join(lines)


def at_exit(end):
    if _pypper.state() == "running" and os.getpid() == _owner_pid:
        end()
    if _summary_wanted:
        print(summary_text(), file=sys.stderr, flush=True)


def install(end):
    os.register_at_fork(after_in_child=_after_fork_in_child)
    atexit.register(at_exit, end)
