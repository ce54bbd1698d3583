"""Pypper: finds the temperature of Python objects and places hot ones in fast
memory and cold ones in slow memory (DRAM, CXL, far memory).

    import pypper
    pypper.start()          # or: with pypper.tracing(): ...
    ...                     # the code that matters
    pypper.end()

Every option can also come from a ``PYPPER_<NAME>`` environment variable; keyword
arguments of start() override them. ``python3 -m pypper options`` lists them.
"""

import os
import sys

import _pypper

from . import _options, _session

# The snapshot module (it needs zlib and json) is imported when first used, and so is
# Option (a named tuple: collections): importing pypper adds as little as it can to
# what the program sees (PYPPER_ENABLE=1 with a trace file imports it at start).
_SNAPSHOT_NAMES = ("Snapshot", "SnapshotError", "ObjectInfo", "PageInfo")


def __getattr__(name):
    if name in _SNAPSHOT_NAMES:
        from . import _snapshot
        return getattr(_snapshot, name)
    if name == "Option":
        return _options.Option
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["ConfigError", "Option", "start", "end", "stop", "is_running", "tracing",
           "config", "stats", "own_memory", "pressure", "live_trace_stats", "options", "placement", "topology", "where",
           "heap_stats", "heap_trim", "migrate_now", "migration_stats", "placement_map",
           "relocatable_report", "relocate", "temperature", "hot_objects", "snapshot", "load", "active_trace_stats",
           "Snapshot", "SnapshotError", "ObjectInfo", "PageInfo",
           "MODE", "__version__"]

__version__ = _pypper.VERSION
# Pypper's own code is no allocation site of the program's (a session may have started
# before this import: PYPPER_ENABLE=1).
_pypper._own_dir(os.path.dirname(__file__))
ConfigError = _pypper.ConfigError

#: What the API raises for the caller's mistakes (a bad option or argument, a file that
#: is not a snapshot or cannot be written, no session): these end at the caller's line.
_USER_ERRORS = (ValueError, TypeError, RuntimeError, OSError, MemoryError)


def _public(func):
    """func as the API shows it: a C callable (_pypper.public) that adds no frame, so the
    traceback of one of _USER_ERRORS shows the caller's frames and none of Pypper's (a
    Python wrapper would show its own `raise`). Other exceptions keep every frame, and
    so does every one under PYPPER_LOG=debug (Doc/errors.md)."""
    return _pypper.public(func, _USER_ERRORS)

#: "drop-in" inside the Pypper interpreter, "extension" in a stock python3.12.
MODE = "drop-in" if _pypper.DROPIN else "extension"


@_public
def start(**options):
    """Start a tracing session with the environment's options overridden by these.

    Returns True when a session started, False when one was already running with the
    same options. Raises ConfigError for a bad option name or value, and RuntimeError
    when a session with other options is running."""
    args = _options.to_args(options)
    with _session.lock:
        return _start_locked(args)


def _start_locked(args):
    values, sources = _pypper.resolve(args)
    running = _pypper.session_config()
    if running is not None:
        if args and values != running[0]:
            changed = sorted(k for k in values if values[k] != running[0][k])
            raise RuntimeError("pypper is already running with other options "
                               f"({', '.join(changed)}); call pypper.end() first")
        return False
    writer = _session.open_trace(values, sources)
    profile = None
    try:
        if values["profile"]:
            from . import _profile      # json: only with a profile
            profile = _profile.check(values, sources)
        started = _pypper.start(args)
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    if not started:             # started outside the API (raw _pypper)
        if writer is not None:
            writer.close()
        return False
    _session.began(values, sources, writer)
    if profile is not None:
        _profile.apply(profile)
    return True


@_public
def end():
    """End the tracing session: stop its threads and free tracing state.
    Returns True when a session ended, False when none was running."""
    with _session.lock:
        seconds = _pypper.uptime()
        _session.stop_heat_recorder()
        _session.save_profile()
        stopped = _pypper.end()
        if stopped:
            _session.ended(seconds)
        return stopped


stop = end


@_public
def is_running():
    """True while a tracing session runs in this process."""
    return _pypper.state() == "running"


class tracing:
    """``with pypper.tracing(**options):`` traces the block. Inside a running session
    with the same options it leaves that session running at the end of the block.
    (A class, not a contextlib generator: importing pypper imports no contextlib.)"""

    def __init__(self, **options):
        self._options = options
        self._started = False

    @_public
    def __enter__(self):
        self._started = start(**self._options)

    def __exit__(self, *exc):
        if self._started:
            self._started = False
            end()


@_public
def config():
    """The options of the running session, or those start() would use now
    (defaults overridden by PYPPER_* variables), as {name: value}."""
    running = _pypper.session_config()
    return dict((running or _pypper.resolve(None))[0])


@_public
def stats():
    """Event counters of this process, as {name: int}."""
    return _pypper.stats()


@_public
def own_memory():
    """Pypper's own resident bytes (its tables beside the heap, counted page by page),
    by part, next to the heap's bytes in use: {"parts": {name: bytes}, "own_bytes",
    "heap_bytes_in_use", "own_per_heap", "at_session_end": the same figures taken as
    the last session ended (None before), "uncounted_mappings"}. See Doc/api.md."""
    return _pypper.own_memory()


@_public
def pressure():
    """The memory-pressure guard of the current (or last) session: whether Pypper is
    paused because the process is short of memory ("paused", "reason": "major_faults",
    "psi" or "none"), how often and how long ("pauses", "paused_seconds"), the calm
    time a resume needs now ("hold_seconds"), the last reading ("majflt_per_s", "psi":
    None where the kernel has no pressure stall information) and the thresholds
    (PRESSURE_MAJFLT, PRESSURE_PSI). See Doc/pressure.md."""
    return _pypper.pressure()


@_public
def live_trace_stats():
    """The live trace of the current (or last) session: objects in the object table,
    objects tracked and freed since start, collection passes, the full pass at start
    (objects, milliseconds, nanoseconds per object) and the GIL pause per pass
    (maximum, 99th percentile as a power-of-two bucket edge)."""
    return _pypper.live_trace_stats()


@_public
def active_trace_stats():
    """The sampler of the current (or last) session: bursts, frame samples, evidence
    of each kind (frame, caller, hold, refcount), reference counts read, evidence
    applied to the model or dropped, idle sleeps and the thread's CPU seconds."""
    return _pypper.active_trace_stats()


@_public
def temperature(obj):
    """obj's temperature, from 0.0 (no recent use seen) to 1.0 (as hot as the hottest
    object): its own evidence when the live trace holds it, else its page's heat. None
    when no session runs and for objects that are immortal, static or outside Pypper's
    heap."""
    return _pypper.temperature(obj)


@_public
def hot_objects(n=10, user=True):
    """The n hottest traced objects as (object, temperature) pairs, hottest first
    (all of them when n is larger than their number).
    With user=True (the default) only the program's own data: objects allocated by
    the user's code (not the standard library's or Pypper's), less interpreter
    machinery (functions, descriptors, code, modules, classes), module dictionaries,
    builtin-typed objects from before the session and instances of standard-library
    classes that are not containers (Doc/snapshots.md). user=False: every object."""
    import operator
    n = min(operator.index(n), sys.maxsize)
    if not user or n <= 0:
        return _pypper.hot_objects(n)   # (and its errors for a bad n)
    from . import _snapshot
    return _snapshot.hot_user_objects(lambda k: _pypper.hot_objects(k, True), n,
                                      _pypper.live_trace_stats()["objects"] + 1)


@_public
def snapshot(min_temperature=0.0):
    """Temperatures of every traced object (those at or above min_temperature) and of
    every page they occupy, now: a pypper.Snapshot with .objects (address, size, type,
    tier, temperature, site, klass), .pages (address, tier, heat, hot_bytes,
    cold_bytes), .by_type(), .by_site() and .save(path). RuntimeError when no session
    runs."""
    data = _pypper.snapshot_data(float(min_temperature), False, True)    # columns
    from . import _snapshot
    return _snapshot.from_data(data, os.getpid())


@_public
def load(path):
    """Read a snapshot written by Snapshot.save(); SnapshotError (a ValueError) when
    the file is not one or is truncated or corrupt."""
    from . import _snapshot
    return _snapshot.load(path)


@_public
def options():
    """Every option with its value, where it came from and what it accepts."""
    running = _pypper.session_config()
    values, sources = running or _pypper.resolve(None)
    return _options.listing(values, sources)


class placement:
    """``with pypper.placement("slow"):`` puts the objects this thread allocates in the
    block into the slow tier (or "fast"); scopes nest, and other threads are not
    affected. Objects never move when the block ends: placement is decided when an
    object is allocated."""

    def __init__(self, tier):
        self._tier = tier
        self._previous = []

    @_public
    def __enter__(self):
        self._previous.append(_pypper.set_placement(self._tier))

    def __exit__(self, *exc):
        _pypper.set_placement(self._previous.pop())


@_public
def topology():
    """The NUMA nodes and how they form the fast and slow tiers: {"nodes": [...],
    "fast_nodes", "slow_nodes", "source", "simulated", "bound"}. On a machine with one
    tier of memory "simulated" is True: the two tiers are logical, on the same node."""
    return _pypper.topology()


@_public
def where(obj):
    """Where obj's memory is: {"kind" ("small", "large", "huge", or "foreign" when
    Pypper's heap does not own it: static and immortal objects, memory from before the
    extension module was imported), "tier", "node" (from move_pages), "page",
    "block", "size", "size_class", "allocated", "simulated"}."""
    return _pypper.where(obj)


@_public
def heap_stats():
    """Counters of the tiered heap, per tier and per size class; "retention": the
    freed memory kept committed for reuse ("idle_bytes"), the bound learnt for it and
    its ceiling (RETAIN_MAX), the delay (RETAIN_DELAY_MS), and what was given back."""
    return _pypper.heap_stats()


@_public
def heap_trim():
    """Give every idle byte (freed memory the heap keeps committed for reuse) back to
    the kernel now, as malloc_trim(3) does; returns the bytes given back. While a
    session runs, emptied arenas stay (the session retains them); their pages do not."""
    return _pypper.heap_trim()


@_public
def migrate_now():
    """Run one migration round now, in this thread, over every traced object and
    acting on every candidate the planner finds (background rounds act on a share
    set by AGGRESSIVENESS; the rate caps apply to both): page heat from the objects'
    temperatures, owned buffers relocated between the tiers' arenas, pages promoted
    and demoted by the backend. Returns what the round did ({"promoted_pages",
    "demoted_pages", "promoted_bytes", "demoted_bytes", "relocated_buffers",
    "relocated_bytes", "failed", "pages", "fast_pages", "slow_pages", ...}).
    RuntimeError when no session runs. Rounds also run by themselves every
    MIGRATE_INTERVAL_MS."""
    return _pypper.migrate_now()


@_public
def migration_stats():
    """The migration plane: {"backend" ("numa", "pageout", "sim"), "reason" (why that
    backend), "passes", "idle_rounds" (rounds with nothing to place: an unlimited
    budget and nothing slow; they list no pages and, without a PROFILE to save,
    walk no object), "walked_rounds" (rounds that walked the traced objects),
    "spaced_rounds" (rounds started
    later than MIGRATE_INTERVAL_MS: each waits 20 times the last collection's CPU
    time), "collect_cpu_ms" (that time), "promote"/"demote"/"relocate":
    {"tried", "done", "failed",
    "bytes"}, "errors": {"ENOMEM", "EBUSY", "EACCES", "other"}, "fallbacks" (demotions
    left in the fast tier: slow tier full), "injected" (TEST_FAIL_EVERY),
    "segregated" (allocations sent to the slow tier by a cold site), "cold_sites"
    (those sites, "file:line (function)"), "fast_pages",
    "slow_pages", "budget_pages", "last" (the last round)}. With the sim backend
    nothing moves: the counts are what it would have done."""
    return _pypper.migration_stats()


@_public
def placement_map():
    """[(page address, "fast" | "slow" | "unknown")]: where the last migration round
    left every page of the heap in use (for sim: the placement it recorded); "unknown":
    the backend could not say (a page not populated yet, or a failed query), and the
    round left it alone. After rounds with nothing to place (idle_rounds in
    migration_stats()), the pages in use now, located now."""
    return _pypper.placement_map()


@_public
def relocatable_report():
    """How much of the traced heap could move: {"heap_bytes", "objects",
    "object_bytes" (object bodies: never move), "buffer_bytes" (out-of-line buffers
    they own), "movable_buffer_bytes" (of those, what the relocation rules allow now),
    "by_kind": {"list", "dict", "set", "bytearray", "array"}}. RuntimeError when no
    session runs."""
    return _pypper.relocatable_report()


@_public
def relocate(obj, tier):
    """Move the out-of-line buffer obj owns (a list's items, a dict's combined table,
    a set's table, a bytearray's or array.array's data) into the arenas of tier
    ("fast" or "slow") now. The object itself, its address and its contents do not
    change. Returns the bytes moved: 0 when obj owns no such buffer, it is already
    there, or it may not move now (a list being sorted, a bytearray or array with an
    exported buffer such as a live memoryview, a dict sharing its keys). MemoryError
    when the tier has no memory left. Works with or without a session."""
    return _pypper.relocate(obj, tier)


def _autostart():
    """PYPPER_ENABLE=1: start with the environment's options. Returns 0, or when
    tracing cannot start the exit status, after one line on stderr: 2 for a
    configuration error (ConfigError), 1 for anything else (the program then does not
    run untraced: it asked for tracing)."""
    try:
        if _pypper.resolve(None)[0]["enable"]:
            start()
        return 0
    except ConfigError as e:
        _startup_error(str(e))
        return 2
    except Exception as e:
        _startup_error(f"tracing could not start: {type(e).__name__}: {e}")
        return 1


def _startup_error(text):
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    try:
        print(f"pypper: {line}", file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass                    # no usable stderr: the exit status says it


_session.install(end)

# In the drop-in PYPPER_ENABLE=1 may have put the session's start off (START_DELAY_MS:
# short programs pay nothing); a program that imports pypper wants it now.
if _pypper.DROPIN and _pypper._start_pending() is not None:
    _pypper._start_now()

# In a stock python3.12 nothing runs before the program, so `import pypper` is where
# PYPPER_ENABLE=1 takes effect; the drop-in checks it before the program instead. A
# failure ends the program there, as the drop-in would before it: SystemExit(status).
if not _pypper.DROPIN and os.environ.get("PYPPER_ENABLE") is not None:
    _status = _autostart()
    if _status:
        raise SystemExit(_status)
