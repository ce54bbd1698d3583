"""The trace file of a tracing session (TRACE_FILE).

One JSON object per line: a ``start`` event with the configuration and a final
``end`` event with the session's counters. ``%p`` in the file name becomes the
process id, so forked children and separate runs do not overwrite each other.
"""

import os
import time

FORMAT = "pypper-trace"
FORMAT_VERSION = 1

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
            "\f": "\\f"}


def _quote(s):
    """A JSON string as json.dumps writes it (ensure_ascii): what _json's
    encode_basestring_ascii does, without loading that extension (0.1 MiB)."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = ['"']
    for c in s:
        o = ord(c)
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0x20 <= o < 0x7F:
            out.append(c)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            o -= 0x10000
            out.append(f"\\u{0xD800 | (o >> 10):04x}\\u{0xDC00 | (o & 0x3FF):04x}")
    out.append('"')
    return "".join(out)


def dumps(value):
    """json.dumps(value, sort_keys=True), byte for byte, for what events hold (dicts,
    lists, tuples, str, int, float, bool, None). The json package is not imported: it
    imports re, about 1 MiB more resident in every process with a trace file."""
    out = []
    _encode(value, out)
    return "".join(out)


def _float(v):
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return float.__repr__(v)


def _key(k):
    if isinstance(k, str):
        return _quote(k)
    if k is True or k is False or k is None:
        return _quote({True: "true", False: "false", None: "null"}[k])
    if isinstance(k, int):
        return _quote(int.__repr__(k))
    if isinstance(k, float):
        return _quote(_float(k))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _encode(v, out):
    if isinstance(v, str):
        out.append(_quote(v))
    elif v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(int.__repr__(v))
    elif isinstance(v, float):
        out.append(_float(v))
    elif isinstance(v, dict):
        out.append("{")
        for i, (k, x) in enumerate(sorted(v.items())):
            if i:
                out.append(", ")
            out.append(_key(k))
            out.append(": ")
            _encode(x, out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(", ")
            _encode(x, out)
        out.append("]")
    else:
        raise TypeError(f"Object of type {type(v).__name__} is not JSON serializable")


def expand_path(path):
    return path.replace("%p", str(os.getpid()))


class LineFile:
    """The file of a writer of one JSON record a line (the trace file here, the
    capture of `pypper run` in _capture.py): self._file, None once closed."""
    _file = None

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def abandon(self):
        """In a forked child: drop the parent's file without writing to it."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


class TraceWriter(LineFile):
    def __init__(self, path):
        self.path = expand_path(path)
        # Line-buffered text: each event reaches the file when it is written.
        self._file = open(self.path, "w", encoding="utf-8", buffering=1)
        self.pid = os.getpid()

    def event(self, kind, **fields):
        if self._file is None:
            return
        record = {"event": kind, "time": time.time(), "pid": os.getpid()}
        record.update(fields)
        try:
            self._file.write(dumps(record) + "\n")
        except (OSError, ValueError) as e:
            self._failed(e)

    def close(self):
        try:
            super().close()
        except (OSError, ValueError) as e:
            self._failed(e)

    def _failed(self, e):
        """A write failed (a full disk, a descriptor closed under it): the trace
        stops there, said in one line of the log, and the session goes on."""
        self.abandon()
        import _pypper
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        _pypper.log(2, f"cannot write the trace file {self.path!r}: {reason}; "
                       "the trace stops here, the session goes on")


def read(path):
    """The events of a trace file, as a list of dicts; ValueError when it is not one. A
    last line without its end (the write that failed, or the process died in) is left
    out."""
    import json
    events = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                events.append(json.loads(line))
            except ValueError as e:
                if not line.endswith("\n") and events:
                    break
                raise ValueError(f"{path}:{lineno}: not a pypper trace line: {e}") from None
    if not events or events[0].get("format") != FORMAT:
        raise ValueError(f"{path}: not a pypper trace file")
    return events
