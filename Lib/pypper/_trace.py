"""The trace file of a tracing session (TRACE_FILE).

One JSON object per line: a ``start`` event with the configuration and a final
``end`` event with the session's counters. ``%p`` in the file name becomes the
process id, so forked children and separate runs do not overwrite each other.
"""

import json
import os
import time

FORMAT = "pypper-trace"
FORMAT_VERSION = 1


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
        self._file.write(json.dumps(record, sort_keys=True) + "\n")


def read(path):
    """The events of a trace file, as a list of dicts; ValueError when it is not one."""
    events = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                events.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: not a pypper trace line: {e}") from None
    if not events or events[0].get("format") != FORMAT:
        raise ValueError(f"{path}: not a pypper trace file")
    return events
