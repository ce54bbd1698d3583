"""Tools/oracle/oracle_client.py -- owns the Python side of the oracle's client requests.

A program that runs under the ``pyoracle`` Valgrind tool marks its phases with these
functions (standard library only: ctypes on build/oracle/liboracle_client.so):

    import oracle_client as oc
    oc.reset()              # zero every counter
    oc.start(); oc.stop()   # count only between start() and stop()
    oc.dump("phase1.dump")  # write the counts since the last reset

Outside Valgrind, under another Valgrind tool, or when the client library has not
been built (``make -C Tools/oracle``), every call is a no-op and ``active()`` is False.
``PYORACLE_CLIENT_LIB`` overrides the library's path.
"""

import ctypes
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_DEFAULT_LIB = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "build", "oracle",
                            "liboracle_client.so")

_lib = None
_present = False


def _load():
    global _lib, _present
    path = os.environ.get("PYORACLE_CLIENT_LIB", _DEFAULT_LIB)
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return
    for name in ("oracle_running", "oracle_present", "oracle_counting"):
        getattr(lib, name).restype = ctypes.c_int
        getattr(lib, name).argtypes = []
    for name in ("oracle_reset", "oracle_start", "oracle_stop"):
        getattr(lib, name).restype = None
        getattr(lib, name).argtypes = []
    lib.oracle_dump.restype = ctypes.c_long
    lib.oracle_dump.argtypes = [ctypes.c_char_p]
    _lib = lib
    # Cheap outside Valgrind (RUNNING_ON_VALGRIND is 0), and the tool cannot change.
    _present = bool(lib.oracle_running()) and bool(lib.oracle_present())


_load()


def active():
    """True when this process runs under the pyoracle tool with the client library."""
    return _present


def running_on_valgrind():
    """True under any Valgrind tool (needs the client library)."""
    return bool(_lib is not None and _lib.oracle_running())


def counting():
    """True while the oracle counts accesses."""
    return _present and bool(_lib.oracle_counting())


def reset():
    """Zero every counter of the oracle."""
    if _present:
        _lib.oracle_reset()


def start():
    """Start counting (when the tool runs with --start-counting=no, or after stop())."""
    if _present:
        _lib.oracle_start()


def stop():
    """Stop counting: nothing is instrumented until start()."""
    if _present:
        _lib.oracle_stop()


def dump(path):
    """Write the counts to path; returns the number of granule records, or None when
    inactive. OSError when the tool could not write the file."""
    if not _present:
        return None
    n = _lib.oracle_dump(os.fsencode(path))
    if n < 0:
        raise OSError(f"pyoracle could not write {path}")
    return n


# Type flags of CPython 3.12 (Include/object.h).
_TPFLAGS_MANAGED_WEAKREF = 1 << 3
_TPFLAGS_MANAGED_DICT = 1 << 4
_TPFLAGS_HAVE_GC = 1 << 14


def object_range(obj):
    """(start_address, length) of obj's memory block in CPython 3.12: id(obj) minus
    the pre-header (16 bytes of GC links for GC types, 16 more for managed
    dict/weakref pointers), and sys.getsizeof(obj), which includes that pre-header
    in 3.12. Out-of-line buffers (list items, dict tables, ...) are not included."""
    flags = type(obj).__flags__
    pre = 0
    if flags & _TPFLAGS_HAVE_GC:
        pre += 16
    if sys.version_info >= (3, 12) and flags & (_TPFLAGS_MANAGED_DICT
                                                | _TPFLAGS_MANAGED_WEAKREF):
        pre += 16
    return id(obj) - pre, sys.getsizeof(obj)
