"""Captures: what ``python3 -m pypper run`` records while a program runs, for
``pypper report`` / ``stats`` / ``diff``.

File format (text, one record a line, each line complete in itself):

    PYPPER-CAPTURE 1
    {"k": "header", ...}        the program, the options, the machine's tiers
    {"k": "frame", ...}         every FRAME interval: the heat of every heap page
    {"k": "groups", ...}        now and then: bytes and temperatures per (site, type)
                                of traced objects, untraced bytes per site
    {"k": "end", ...}           at exit: the final groups and the session's counters

Records are appended and flushed to the kernel as they are made, so a program that
crashes or is killed (even SIGKILL) leaves every record but the one being written;
the reader ignores an incomplete last line. The file is bounded: when a record would
leave less than room for the end record under ``max_bytes``, or past ``max_frames``
frames, it is rewritten (to a temporary file, then renamed over it, so it is readable
at every instant) keeping every other frame and the groups records the report may
show, and the frame interval doubles; a record that still does not fit is dropped.

A frame's page heat is the bytes-weighted temperature of what is on the page: traced
objects, the buffers they own, and untraced bytes at their page's own heat: sum of
temperature x bytes over the page size, from 0 (nothing on it was used recently) to
1 (the page is full of objects as hot as the hottest object of the run).
Pages are every page of the heap in use when the frame is taken, cold ones (heat 0)
included (_pypper.snapshot_sums makes them in C with the walk).
"""

import base64
import contextlib
import itertools
import json
import operator
import os
import sys
import time
import zlib

import _pypper

from . import _trace     # LineFile: close() and abandon() of the writer
from ._snapshot import INTERNAL_TYPES, page_columns

MAGIC = "PYPPER-CAPTURE 1"
FORMAT_VERSION = 1
HEAT_SCALE = 10000              # a page's heat is stored as round(heat * HEAT_SCALE)
DEFAULT_MAX_BYTES = 32 << 20
DEFAULT_MAX_FRAMES = 400
COST_SHARE = 0.05              # default: at most this share of the run spent recording
GROWN = 1.1                     # MainReturn: a heap this much larger is worth a record
FIRST_ALLOWANCE = 0.1           # CPU seconds of recording allowed beyond the share
# A record's CPU cost, estimated as OBJECT_COST per traced object plus a cost per heap
# byte learned from the last record (what the objects do not explain: the heat of every
# page, 1-2 ns a byte: 0.10 s for lru.py's 35 MB and 190,000 objects, 0.16 s for the
# demo's 65 MB and 66,000). The walk cost 0.20-0.27 us an object until 2026-12-06
# (0.24 us on a newcomer's 1.3 million objects); since a buffer's sample reads no
# referred object's header and a short list's item array is not sampled, a record
# costs 0.09 s for Tools/bench/snapshot_cost.py's million objects, 0.09 s for a
# newcomer's LRU cache of 1.76 million objects in 105 MiB, 0.045 s for a BFS graph of
# 213,000 lists in 45 MiB, 0.26 s at the demo's main() return (450 MiB): at 0.3 us an
# object the LRU cache had no record between 0.02 s and 6 s, the demo one heat frame in
# 7 s. Before any record this alone is the estimate: the first record used to be taken
# whatever it cost, and on that heap a 1 s program spent 0.84 s recording. Learning the cost per
# object from the last record instead (as the larger of per byte and per object) made
# an early record's page cost look like a cost per object: the demo's first record
# (66,000 objects, 0.16 s) priced the one at 2.8 million at 6.5 s (it takes about
# 1.1 s), so every later record was skipped, main()'s return's included.
OBJECT_COST = 0.12e-6
# And a record's cost whatever the heap (its Python work: the groups, the frame's
# encoding, the write): 9-10 ms at a program's start, 3 MiB and 12,000 objects. Learned
# as a cost per byte, that start-up record priced a 105 MiB heap at 0.27 s more than
# its objects (the record then cost 0.09 s in all).
RECORD_COST = 0.01
MAIN_RETURN_SHARE = 0.25        # MainReturn's record: skipped when its estimated cost
MAIN_RETURN_ALLOWANCE = 1.0     # would take the recording past this share of the run
                                # plus this many CPU seconds
# The end record: the last groups record's size plus this for its counters (5.5 KiB on
# lru.py), kept free under --max-size while the run lasts.
END_EXTRA = 16 << 10
NEAR_PEAK = 0.9                 # the report's groups record: the last one with a heap
                                # at least this share of the largest recorded


class CaptureError(ValueError):
    """A capture file that cannot be read: one line, no traceback."""


# ------------------------------------------------------------------ recording

@contextlib.contextmanager
def pypper_work():
    """Pypper's own work on a program thread (the capture's set-up, a record at main()'s
    return): its allocations get no allocation site (the records' tuples, sited at
    _capture.py, lent that site to the program's tuples allocated among them)."""
    _pypper._quiet_thread(True)
    try:
        yield
    finally:
        _pypper._quiet_thread(False)


def _encode(values):
    return base64.b64encode(zlib.compress(json.dumps(values, separators=(",", ":")).encode(),
                                          6)).decode("ascii")


def _decode(text):
    return json.loads(zlib.decompress(base64.b64decode(text)))


def sums_now(frame_min_t):
    """_pypper.snapshot_sums(): the traced objects summed per (site, type), and per
    site over those at or above frame_min_t, with every page's heat, made in C without
    a row per object (Tools/bench/snapshot_cost.py, three million objects: 0.7 s and
    9 MB more memory; their rows as columns take 138 MB, and as Python tuples summed
    in Python they took about 2 us an object)."""
    return _pypper.snapshot_sums(frame_min_t, MACHINERY)


# A site inferred from a neighbour of the same type says little of interpreter
# machinery: a pool of functions holds those of every module imported (column_store.py's
# one recorded def lent its line to 335 functions of the modules it imported, and
# `function` looked like the program's own). Those count without a site.
MACHINERY = tuple(sorted(INTERNAL_TYPES))


def frame_pages(data):
    """(base page, [index deltas], [quantized heats], [indexes of slow pages]): every
    heap page of a sums_now() (snapshot_sums: the pages in use now, cold ones at 0, in
    address order; each page's heat counts its traced objects, the buffers they own at
    their pages' temperatures (Python/buffer_heat.h) and its untraced bytes at the
    temperature of its page's heat)."""
    ps = data["page_size"]
    address, _hot, _cold, heat, slow = page_columns(data["pages"])
    if not len(address):
        return 0, [], [], []
    base = address[0]
    deltas = [0] * len(address)
    prev = base
    for i, page in enumerate(address):
        deltas[i] = (page - prev) // ps
        prev = page
    q = [int(round(h * HEAT_SCALE)) for h in heat]
    return base, deltas, q, [i for i, t in enumerate(slow) if t]


def frame_record(data):
    """A frame: every page's heat and the 40 sites of the most warm and hot bytes,
    counted as the by-site table counts them: "sites" the traced objects' [hot, warm]
    bytes, "untraced_sites" the untraced bytes' [hot, warm] by their pages' heat (a
    list of floats is mostly untraced: without them the chart showed cols.py's hot
    columns at a fifth of the table's figure). Captures of older versions have no
    "untraced_sites". data: a sums_now(the cold threshold) (frame_and_groups)."""
    base, deltas, q, slow = frame_pages(data)
    # Merged by text (two site ids of one description are one site).
    sites = {}
    for site, hot, warm in data["sites"]:
        s = sites.setdefault(site or "", [0, 0])
        s[0] += hot
        s[1] += warm
    untraced = {}
    for site, _size, _cold, warm, hot in data.get("untraced", ()):
        u = untraced.setdefault(site or "", [0, 0])
        u[0] += hot
        u[1] += warm
    # The top 40 by traced + untraced hot and warm bytes, as the chart plots them.
    def both(site):
        return sum(sites.get(site, (0, 0))) + sum(untraced.get(site, (0, 0)))
    top = sorted(set(sites) | set(untraced), key=lambda s: -both(s))[:40]
    return {"k": "frame", "t": round(data["uptime"], 3), "ps": data["page_size"], "base": base,
            "pages": _encode([deltas, q, slow]),
            "sites": {s: sites[s] for s in top if s in sites},
            "untraced_sites": {s: untraced[s] for s in top if any(untraced.get(s, ()))}}


def groups_record(data=None, heap=None):
    """Bytes, owned bytes, hot/warm/cold bytes and a temperature histogram per
    (allocation site, type) of every traced object, the heap's size, and the heap's
    untraced bytes (no traced object's block nor a buffer one owns) per allocation
    site: a pool's untraced bytes go to the site of its recorded block (the first
    recorded one while it lives, Python/alloc_sites.c), a
    block above 512 bytes to its own (Doc/report.md: how exact that is), split into
    cold / warm / hot by the heat of their pages. An owned buffer's bytes count in the
    classes of its pages (a log's item array is cold where its records are). data,
    heap: a sums_now() and the heap's bytes taken before it (frame_and_groups)."""
    if data is None:
        heap = heap_bytes()
        data = sums_now(2.0)            # (no frame sites)
    # Merged by text: two types of one name (or two site ids of one description) are
    # one group, as the report names them.
    merged = {}
    for site, tname, objects, size, owned, hot, warm, cold, tsum, slow, hist in data["groups"]:
        key = (site or "", tname)
        g = merged.get(key)
        if g is None:
            merged[key] = {"site": key[0], "type": tname, "objects": objects, "bytes": size,
                           "owned": owned, "hot": hot, "warm": warm, "cold": cold,
                           "tsum": tsum, "slow": slow, "hist": hist}
            continue
        for name, v in (("objects", objects), ("bytes", size), ("owned", owned), ("hot", hot),
                        ("warm", warm), ("cold", cold), ("tsum", tsum), ("slow", slow)):
            g[name] += v
        g["hist"] = [a + b for a, b in zip(g["hist"], hist)]
    untraced = {}
    for site, size, cold, warm, hot in data.get("untraced", ()):
        u = untraced.setdefault(site or "", {"site": site or "", "bytes": 0, "cold": 0,
                                             "warm": 0, "hot": 0})
        u["bytes"] += size
        u["cold"] += cold
        u["warm"] += warm
        u["hot"] += hot
    return {"k": "groups", "t": round(data["uptime"], 3), "heap": heap,
            "model": data["model"],
            "groups": [dict(g, tsum=round(g["tsum"], 3)) for g in merged.values()],
            "untraced": sorted(untraced.values(), key=lambda u: -u["bytes"])}


def frame_and_groups():
    """A frame and a groups record from one walk of the traced objects (the walk is
    most of the cost of each)."""
    heap = heap_bytes()
    data = sums_now(_pypper.session_config()[0]["cold_threshold"])
    return frame_record(data), groups_record(data, heap)


def chosen_groups(heaps):
    """The index of the groups record the report shows, given the heap of each record
    in the order they were taken (None when there is none): the last one taken while
    the heap was within NEAR_PEAK of its largest. At exit the program's data is mostly
    freed, so the last record is not it; the largest heap alone is often the end of a
    loading phase, where what was just built still looks used (a column store loaded
    in 0.5 s showed 4x its hot bytes at 1 s into a 3 s run); the last record near the
    peak is the latest state of the data at (about) its full size."""
    if not heaps:
        return None
    floor = NEAR_PEAK * max(heaps)
    return max(i for i, h in enumerate(heaps) if h >= floor)


def size_now():
    """(heap bytes in use, traced objects): what a record's cost grows with."""
    return heap_bytes(), _pypper.live_trace_stats()["objects"]


def heap_bytes():
    try:
        tiers = _pypper.heap_stats()["tiers"]
        return sum(t.get("bytes_in_use", 0) for t in tiers.values())
    except (RuntimeError, KeyError, TypeError):
        return 0


def _counters():
    out = {}
    for name, fn in (("migration", _pypper.migration_stats), ("stats", _pypper.stats),
                     ("live_trace", _pypper.live_trace_stats),
                     ("active_trace", _pypper.active_trace_stats),
                     ("topology", _pypper.topology)):
        try:
            out[name] = fn()
        except RuntimeError:
            out[name] = None
    try:
        hs = _pypper.heap_stats()
        out["heap_stats"] = {"tiers": hs.get("tiers"), "retention": hs.get("retention"),
                             "simulated": hs.get("simulated"),
                             "tier_fallbacks": hs.get("tier_fallbacks")}
    except RuntimeError:
        out["heap_stats"] = None
    try:
        out["relocatable"] = _pypper.relocatable_report()
    except RuntimeError:
        out["relocatable"] = None
    return out


class CaptureWriter(_trace.LineFile):
    """Appends records to a capture file; bounded (see the module docstring): a record
    is written only with room left under max_bytes for the end record (estimated as
    the largest groups record so far plus END_EXTRA for its counters); without it the
    file is thinned and, when that frees too little, the record is dropped (counted in
    `dropped`). The end record is written whatever it takes."""

    def __init__(self, path, header, *, max_bytes=DEFAULT_MAX_BYTES,
                 max_frames=DEFAULT_MAX_FRAMES):
        self.path = os.path.abspath(path)
        self.max_bytes = max_bytes
        self.max_frames = max_frames
        self.frames = 0
        self.thinned = 0
        self.dropped = 0
        self.end_reserve = END_EXTRA
        self._file = open(self.path, "w", encoding="utf-8")
        self._write_line(MAGIC)
        self.write(dict({"k": "header", "format_version": FORMAT_VERSION}, **header))

    def _write_line(self, text):
        self._file.write(text + "\n")
        self._file.flush()

    def write(self, record):
        if self._file is None:
            return
        # (ASCII: json.dumps escapes the rest, so characters are bytes.)
        line = json.dumps(record, separators=(",", ":"))
        kind = record.get("k")
        if kind == "groups":
            self.end_reserve = max(self.end_reserve, len(line) + END_EXTRA)
        need = len(line) + 1 + (0 if kind in ("end", "header") else self.end_reserve)
        if kind == "frame" and self.frames >= self.max_frames:
            self.thin()
        while self._file.tell() + need > self.max_bytes and self.thin():
            pass
        if self._file.tell() + need > self.max_bytes and kind not in ("end", "header"):
            self.dropped += 1
            return
        self._write_line(line)
        if kind == "frame":
            self.frames += 1

    def thin(self):
        """Keep every other frame, the last groups record, the one the report shows
        (chosen_groups) and the one of the heap's peak; the caller doubles its
        interval (the `thinned` count says how often this happened). Returns whether
        anything was removed."""
        self._file.close()
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        # Records are written with "k" first: the kind is the line's prefix.
        groups = [i for i, ln in enumerate(lines) if ln.startswith('{"k":"groups"')]
        keep_groups = set(groups[-1:])
        if groups:
            heaps = [json.loads(lines[i]).get("heap", 0) for i in groups]
            # The record shown now, and the peak's (a later record near a higher peak
            # may replace the one shown).
            keep_groups.add(groups[chosen_groups(heaps)])
            keep_groups.add(groups[heaps.index(max(heaps))])
        keep = []
        frames = 0
        for i, line in enumerate(lines):
            if line.startswith('{"k":"frame"'):
                if frames % 2 == 0:
                    keep.append(line)
                frames += 1
            elif not line.startswith('{"k":"groups"') or i in keep_groups:
                keep.append(line)
        removed = len(lines) - len(keep)
        if removed:
            tmp = f"{self.path}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("\n".join(keep) + "\n")
            os.replace(tmp, self.path)
            self.frames = (frames + 1) // 2
            self.thinned += 1
        self._file = open(self.path, "a", encoding="utf-8")
        return removed > 0


class Recorder:
    """A thread that writes a frame and a groups record, from one snapshot, every
    `interval` seconds (doubling when the file is thinned, and longer when reading the
    heap costs more than cost_share of the time). Every record is both: the walk of
    the traced objects is nearly all of a frame's cost (a groups record adds 0.5 ms to
    a frame's 0.06-0.4 s), and a frame alone spent the budget without saving the
    program's data (lru.py: frames at 1, 2.6 and 4.3 s, groups records at 0.01 s and
    at main()'s return only, so a killed run showed 7 MiB of a 34 MiB heap). The
    report shows the last groups record taken near the heap's peak (chosen_groups: at
    exit the program's data is mostly freed).

    Around a fork() the thread ends and is started again in the parent (hooks of
    os.register_at_fork, as for Pypper's native threads: Doc/compatibility.md):
    CPython 3.12 warns about fork() in a process with more than one thread, counted
    after the fork and before the parent's after-fork hooks, and this thread was one
    the program did not start."""

    def __init__(self, writer, interval, lock, cost_share=COST_SHARE):
        self.cost_share = cost_share
        self.writer = writer
        self.interval = interval
        self.lock = lock
        self.errors = 0
        self.last_error = None
        self.cost = 0.0
        self.last_groups = 0.0          # time.monotonic() of the last groups record
        self.last_groups_heap = 0       # and the heap's bytes in use then
        # CPU seconds a heap byte costs beyond OBJECT_COST a traced object, learned
        # from the last record: a record's cost grows with the heap and the objects,
        # so the next one is estimated from them now and skipped when it would pass
        # the budget (Tools/demo/sample_workload.py: a pair that cost 0.46 s at 2.4 s
        # took 11 s at 7.6 s, 53% of the run).
        self.byte_cost = 0.0
        self.last_cost = 0.0            # CPU seconds of the last record
        self.skipped = 0                # records skipped for their estimated cost
        self.started = time.monotonic()
        self.forks = 0                  # forks the thread was ended and restarted for
        self.main_cost = 0.0            # of `cost`, spent on the main thread (groups_now)
        self._due = time.monotonic() + interval     # the next record's time
        self._finished = False          # stopped for good (stop(), or it ended itself)
        self._halted_for_fork = False
        self._start()
        os.register_at_fork(before=self._before_fork, after_in_parent=self._after_fork_parent,
                            after_in_child=self._after_fork_child)

    def _start(self):
        """A thread with its own stop and done locks (a thread still finishing a record
        after a halt that timed out keeps its own)."""
        import _thread
        stop, done = _thread.allocate_lock(), _thread.allocate_lock()
        stop.acquire()
        done.acquire()
        self._stop, self._done, self._tid, self._ident = stop, done, None, None
        self._ident = _thread.start_new_thread(self._loop, (stop, done))

    def _halt(self, timeout):
        """Ask the thread to end and wait for it (bounded)."""
        stop, done = self._stop, self._done
        if stop.locked():
            stop.release()
        got = done.acquire(timeout=timeout)
        if got:
            done.release()
        return got

    def _before_fork(self):
        import _thread
        if self._finished or self._halted_for_fork or _thread.get_ident() == self._ident:
            return                      # (a fork from the recorder's own thread: it stays)
        self._halted_for_fork = True
        if not self._halt(30.0):
            return                      # inside a long record: it ends after it (and counts)
        # Until the kernel has removed the thread (what the fork warning counts).
        tid, deadline = self._tid, time.monotonic() + 1.0
        while tid and os.path.exists(f"/proc/self/task/{tid}") and time.monotonic() < deadline:
            time.sleep(0.0005)

    def _after_fork_parent(self):
        if self._halted_for_fork:
            self._halted_for_fork = False
            if not self._finished:      # (stop() may have come in between)
                self.forks += 1
                self._start()

    def _after_fork_child(self):
        self._halted_for_fork = False
        self._finished = True           # the child owns no recorder

    def estimate(self, size):
        """CPU seconds a record is expected to cost at size (the heap's bytes and
        traced objects now)."""
        return RECORD_COST + self.byte_cost * size[0] + OBJECT_COST * size[1]

    def _affordable(self, size, share, allowance=None):
        """Whether a record at size keeps the recording within `share` of the run so
        far plus `allowance` CPU seconds (FIRST_ALLOWANCE by default)."""
        budget = (share * (time.monotonic() - self.started)
                  + (FIRST_ALLOWANCE if allowance is None else allowance))
        return self.cost + self.estimate(size) <= budget

    def _learn(self, cost, size):
        self.last_cost = cost
        if size[0] > 0:
            self.byte_cost = max(0.0, cost - RECORD_COST - OBJECT_COST * size[1]) / size[0]

    def _record(self, size):
        """A frame and a groups record from one snapshot, written; their CPU cost.
        (The caller holds the lock.)"""
        t0 = time.thread_time()
        frame, groups = frame_and_groups()
        self.writer.write(frame)
        self.writer.write(groups)
        cost = time.thread_time() - t0
        self._learn(cost, size)
        self.last_groups = time.monotonic()
        self.last_groups_heap = groups["heap"]
        return cost

    def groups_now(self):
        """A frame and a groups record now, on the calling thread (MainReturn: the
        program's main function returns, or the program ends by an exception: its data
        still there)."""
        with self.lock:
            if _pypper.state() != "running":
                return
            size = size_now()
            if not self._affordable(size, max(MAIN_RETURN_SHARE, self.cost_share),
                                    MAIN_RETURN_ALLOWANCE):
                self.skipped += 1
                return
            try:
                with pypper_work():
                    cost = self._record(size)
            except (OSError, RuntimeError, MemoryError) as e:
                self.errors += 1
                self.last_error = str(e)
                return
            self.cost += cost
            self.main_cost += cost

    def _loop(self, stop, done):
        import _thread
        self._tid = _thread.get_native_id()
        # Its allocations are Pypper's, not the program's: no allocation site (the
        # placement map's tuples, sited at _capture.py among an LRU cache's audit
        # tuples, stopped the inference of theirs: 17,229 of 17,314 had no site).
        _pypper._quiet_thread(True)
        ended = True                    # by itself (not asked to)
        try:
            while True:
                # Until the next record is due (kept across a restart around a fork:
                # a program that forks often still gets its records).
                if stop.acquire(timeout=max(0.0, self._due - time.monotonic())):
                    ended = False
                    break
                with self.lock:
                    if _pypper.state() != "running":
                        break
                    self._due = time.monotonic() + self.interval   # (also after an error)
                    try:
                        thinned = self.writer.thinned
                        size = size_now()
                        # CPU time of this thread: what it takes from the program
                        # (it holds the GIL while it reads the heap).
                        if self._affordable(size, self.cost_share):
                            self.cost += self._record(size)
                        else:
                            self.skipped += 1
                        if self.writer.thinned != thinned:
                            self.interval *= 2
                        # Spaced by the last record's cost: at most cost_share of the
                        # time between records goes to them.
                        self._due = time.monotonic() + max(self.interval,
                                                           self.last_cost / self.cost_share)
                    except (OSError, RuntimeError, MemoryError) as e:
                        self.errors += 1
                        self.last_error = str(e)
                        if isinstance(e, OSError):
                            break       # the file is gone or the disk is full
        finally:
            if ended:
                self._finished = True
            done.release()

    def stop(self, timeout=30.0):
        """Stop the thread for good and wait for it (bounded: it may be inside a
        frame)."""
        self._finished = True
        return self._halt(timeout)


class MainReturn:
    """A frame and a groups record (one snapshot) when a function returns to the
    program's module level (the main() of `if __name__ == "__main__": main()`), while
    the data it built are still in its frame: the recorder spaces its records by their
    cost, so a 3 s run had one, 1 s in, with half of the heap its data reached
    (tests/programs/lru_zipf.py), and at exit main()'s data are freed. Through
    sys.monitoring's PY_RETURN event (a tool id of its own: 5, OPTIMIZER_ID, unused by
    CPython 3.12's own tools; else 4, else 3; none free: nothing is done; a program
    that asks for the id held gets ValueError): a return to anything but the __main__
    module's code disables the event at that return (each such return costs one call,
    once); a return to module level takes the records unless some were taken in the
    last MIN_SPACING seconds with a heap at least 1/GROWN of today's (or less than
    MIN_GROWTH smaller: a module-level call of a set-up helper 0.03 s in gave a
    newcomer's BFS a second heat frame of the start-up heap), and after
    MAX_FIRES of them at one return (a module-level loop calling a function) that
    return is disabled too."""

    MIN_SPACING = 0.5
    MIN_GROWTH = 1 << 20
    MAX_FIRES = 1000

    def __init__(self, recorder):
        self.recorder = recorder
        self.pid = os.getpid()
        self.fires = {}
        self.tool = None
        mon = getattr(sys, "monitoring", None)
        if mon is None:
            return
        for tool in (5, 4, 3):
            try:
                mon.use_tool_id(tool, "pypper run")
            except ValueError:
                continue                # the program's, or another tool's
            self.tool = tool
            mon.register_callback(tool, mon.events.PY_RETURN, self._on_return)
            mon.set_events(tool, mon.events.PY_RETURN)
            return

    def _on_return(self, code, offset, retval):
        disable = sys.monitoring.DISABLE
        if os.getpid() != self.pid:
            return disable              # a forked child: the capture is not its own
        caller = sys._getframe(1).f_back
        if (caller is None or caller.f_code.co_name != "<module>"
                or caller.f_globals.get("__name__") != "__main__"):
            return disable
        key = (code, offset)
        n = self.fires[key] = self.fires.get(key, 0) + 1
        if self._worth():
            self.recorder.groups_now()
        return disable if n >= self.MAX_FIRES else None

    def _worth(self):
        """Whether the heap now is worth a record beside the last one (above)."""
        if time.monotonic() - self.recorder.last_groups >= self.MIN_SPACING:
            return True
        heap, last = heap_bytes(), self.recorder.last_groups_heap
        return heap > GROWN * last and heap - last >= self.MIN_GROWTH

    def on_exception(self):
        """The program ends by an exception (raised in main(), or SystemExit or
        KeyboardInterrupt): the same record, called by `pypper run` where it catches
        the exception. Its traceback holds the frames it left, main()'s with its
        locals, so the data are still there (lru_raise.py: without this, the report
        showed the 7 MiB left at exit instead of the 34 MiB main() held); the
        traceback is complete by then, so it has no frame of Pypper's. (sys.monitoring's
        PY_UNWIND would see main() leave, but it cannot be disabled where it fires:
        every Python function ending by an exception paid a call, 2.6 us instead of
        0.25-0.3 us.)"""
        if os.getpid() != self.pid:
            return
        try:
            if self._worth():
                self.recorder.groups_now()
        except Exception:
            pass                        # the program's own error is the one to show

    def stop(self):
        if self.tool is None:
            return
        mon = sys.monitoring
        mon.set_events(self.tool, 0)
        mon.register_callback(self.tool, mon.events.PY_RETURN, None)
        mon.free_tool_id(self.tool)
        self.tool = None


def allowed_cpus():
    """How many CPUs this process may run on (its affinity), or None when unknown."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def header_record(argv, target, config, interval):
    try:
        topo = _pypper.topology()
    except RuntimeError:
        topo = None
    # (The standard library's and site-packages' folders without sysconfig, which
    # took 0.8 MiB of every `pypper run` before the program started.)
    import site
    try:
        site_dirs = site.getsitepackages()
    except AttributeError:          # (a virtualenv's old site module)
        site_dirs = []
    return {"version": _pypper.VERSION, "mode": "drop-in" if _pypper.DROPIN else "extension",
            "pid": os.getpid(), "argv": list(argv), "target": target, "cwd": os.getcwd(),
            "time": time.time(), "config": config, "interval": interval,
            "python": sys.version.split()[0], "topology": topo, "cpus": allowed_cpus(),
            "internal_paths": sorted({p for p in (getattr(sys, "_stdlib_dir", None),
                                                  *site_dirs,
                                                  sys.prefix, sys.base_prefix,
                                                  os.path.dirname(os.path.abspath(__file__)))
                                      if p})}


def cpu_split(recorder_cost=0.0):
    """CPU seconds of the process so far, called on the main thread: "process" (all
    threads, those that ended too), "main" (the main thread's), "pypper" (Pypper's
    own: the sampler's, over all its threads, restarted around forks included; the
    migration thread's as /proc/self/task shows it now; and recorder_cost, the
    capture recorder's records taken on its own thread). What is left is the
    program's other threads, whose frames the sampler does not read."""
    out = {"process": time.process_time(), "main": time.thread_time(),
           "pypper": float(recorder_cost)}
    try:
        out["pypper"] += float(_pypper.active_trace_stats().get("cpu_seconds") or 0.0)
    except RuntimeError:
        pass
    try:
        tick = os.sysconf("SC_CLK_TCK")
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue                # the thread ended meanwhile
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            if comm == "pypper-migrate":
                fields = stat[stat.rindex(")") + 2:].split()
                out["pypper"] += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, IndexError):
        pass                            # no /proc: the migration thread not counted
    return {k: round(v, 3) for k, v in out.items()}


def end_record(status, seconds):
    rec = groups_record()
    rec["k"] = "end"
    rec["status"] = status
    rec["seconds"] = round(seconds, 3)
    rec.update(_counters())
    return rec


# ------------------------------------------------------------------ reading

class Frame:
    """A frame read back. sites: {site: [hot, warm]} of traced objects; untraced_sites:
    {site: [hot, warm]} of untraced bytes by their pages' heat, or None in a capture
    made before frames had them."""
    __slots__ = ("t", "pages", "heat", "slow", "sites", "untraced_sites")

    def __init__(self, t, pages, heat, slow, sites, untraced_sites=None):
        self.t, self.pages, self.heat, self.slow, self.sites = t, pages, heat, slow, sites
        self.untraced_sites = untraced_sites


class Capture:
    """A capture read back: header, frames (decoded), the groups record shown
    (chosen_groups, the end record among them), the end
    record (None when the program was killed before its end), and whether the last
    line was incomplete."""

    def __init__(self, path, header, frames, groups, end, truncated, record_times=()):
        self.record_times = list(record_times)  # seconds into the run of each groups record
        self.path = path
        self.header = header
        self.frames = frames
        self.groups_record = groups or end
        self.end = end
        self.truncated = truncated

    @property
    def finished(self):
        return self.end is not None

    @property
    def groups(self):
        return (self.groups_record or {}).get("groups", [])

    @property
    def untraced(self):
        """[{"site", "bytes", "cold", "warm", "hot"}]: the heap's untraced bytes per
        allocation site ("" for none) in the same groups record, and how many of them
        are cold, warm, hot by their pages' heat (absent in captures of older versions:
        bytes only)."""
        return (self.groups_record or {}).get("untraced", [])

    @property
    def heap(self):
        if self.groups_record and self.groups_record.get("heap"):
            return self.groups_record["heap"]
        return 0


def _one_line(text, limit=120):
    """Printable, one line, bounded: for error messages about file contents."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def load(path, at=None):
    """Read a capture file; CaptureError (one line) when it is not one. at: show the
    groups record taken nearest to that many seconds into the run instead of the one
    chosen_groups picks (a program that analyses its data after main() returns makes
    its largest heap then: `report --at`)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory, not a capture file") from None
    except OSError as e:
        raise CaptureError(f"{path}: cannot read: {e.strerror}") from None
    first = raw.split(b"\n", 1)[0]
    if not first.startswith(b"PYPPER-CAPTURE "):
        what = "empty file" if not raw else "no 'PYPPER-CAPTURE 1' first line"
        if raw.startswith(b"PYPPER-SNAPSHOT"):
            what = "a snapshot (pypper.snapshot().save()), not a capture of `pypper run`"
        elif raw[:1] == b"{":
            what = "looks like a trace file (TRACE_FILE), not a capture of `pypper run`"
        raise CaptureError(f"{path}: not a pypper capture ({what})")
    if first.rstrip() != MAGIC.encode():
        version = _one_line(first[15:40].decode("utf-8", "replace"))
        raise CaptureError(f"{path}: unsupported capture version {version!r} "
                           f"(this pypper reads version {FORMAT_VERSION})")
    lines = raw.split(b"\n")[1:]
    truncated = bool(lines) and lines[-1] != b""
    header = None
    frames = []
    groups = []
    end = None
    for no, line in enumerate(lines, 2):
        if not line:
            continue
        try:
            rec = json.loads(line)
            kind = rec["k"]
            if kind == "header":
                header = rec
            elif kind == "frame":
                deltas, q, slow = _decode(rec["pages"])
                if len(q) != len(deltas):
                    raise ValueError("a heat per page")
                # (map and accumulate: the per-page work stays in C; a Python loop
                # over a large heap's pages was a fifth of `pypper run`'s summary.
                # The operators raise TypeError on a value of the wrong type, as
                # the loop did: a corrupt record.)
                ps, base = rec["ps"], rec["base"]
                index = itertools.islice(itertools.accumulate(deltas, initial=0), 1, None)
                pages = list(map(operator.add, itertools.repeat(base),
                                 map(operator.mul, index, itertools.repeat(ps))))
                heat = list(map(operator.truediv, q, itertools.repeat(HEAT_SCALE)))
                frames.append(Frame(rec["t"], pages, heat, set(slow),
                                    rec.get("sites", {}), rec.get("untraced_sites")))
            elif kind == "groups":
                groups.append(rec)
            elif kind == "end":
                end = rec
        except (ValueError, KeyError, TypeError, zlib.error) as e:
            if no == len(lines) + 1 and truncated:
                break       # the record being written when the program died
            raise CaptureError(f"{path}: line {no}: corrupt record "
                               f"({type(e).__name__})") from None
    if header is None:
        raise CaptureError(f"{path}: capture has no header record (the program died "
                           f"before its first record was written)")
    if header.get("format_version") != FORMAT_VERSION:
        version = _one_line(str(header.get("format_version"))[:24])
        raise CaptureError(f"{path}: unsupported capture version {version!r} in its header "
                           f"(this pypper reads version {FORMAT_VERSION})")
    # The end record has the same figures, taken at exit: shown when the program's
    # data was still there (a program that keeps it in globals, or exits from inside).
    candidates = groups + ([end] if end is not None else [])
    if at is not None and candidates:
        shown = min(range(len(candidates)), key=lambda i: abs(candidates[i].get("t", 0.0) - at))
    else:
        shown = chosen_groups([g.get("heap", 0) for g in candidates])
    return Capture(os.fspath(path), header, frames,
                   candidates[shown] if shown is not None else None, end, truncated,
                   [round(g.get("t", 0.0), 2) for g in candidates])
