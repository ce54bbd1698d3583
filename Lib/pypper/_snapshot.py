"""Snapshots of object temperatures: what ``pypper.snapshot()`` returns, its file
format (``Snapshot.save`` / ``pypper.load``) and its aggregates per type and per
allocation site.

File format: the line ``PYPPER-SNAPSHOT 1`` then a zlib stream of one UTF-8 JSON
object: ``format``, ``version``, ``time`` (Unix seconds), ``uptime`` (seconds since
the session started), ``pid``, ``page_size``, ``objects`` (rows ``[address, size,
type, tier, temperature, site, class]``), ``pages`` (rows ``[address, tier, heat,
hot_bytes, cold_bytes]``) and ``model`` (the model's parameters).
"""

import contextlib
import json
import os
import time
import zlib
from collections import namedtuple

MAGIC = b"PYPPER-SNAPSHOT 1\n"
FORMAT = "pypper-snapshot"
VERSION = 1

#: One traced object. ``site`` is "file:line (function)" of the Python code that
#: allocated it, or None: allocated before the session, or not among the sampled
#: allocations (one in ALLOC_SAMPLE).
ObjectInfo = namedtuple("ObjectInfo", "address size type tier temperature site klass")
#: One page the traced objects occupy: ``heat`` is the bytes-weighted mean temperature
#: of the page (0..1); hot and cold bytes are those of hot and cold objects.
PageInfo = namedtuple("PageInfo", "address tier heat hot_bytes cold_bytes")


class SnapshotError(ValueError):
    """A snapshot file that is not one, or is truncated or corrupt."""


class Snapshot:
    """Object and page temperatures at one instant of a tracing session."""

    def __init__(self, objects, pages, *, page_size, time, uptime, pid, model):
        self.objects = objects
        self.pages = pages
        self.page_size = page_size
        self.time = time
        self.uptime = uptime
        self.pid = pid
        self.model = model

    def __repr__(self):
        return (f"<pypper.Snapshot pid={self.pid} uptime={self.uptime:.3f}s "
                f"objects={len(self.objects)} pages={len(self.pages)}>")

    def hottest(self, n=10):
        """The n hottest objects, hottest first."""
        return sorted(self.objects, key=lambda o: o.temperature, reverse=True)[:n]

    def _aggregate(self, key):
        groups = {}
        for o in self.objects:
            g = groups.setdefault(key(o), {"objects": 0, "bytes": 0, "hot_bytes": 0,
                                           "cold_bytes": 0, "temperature_sum": 0.0})
            g["objects"] += 1
            g["bytes"] += o.size
            g["temperature_sum"] += o.temperature * o.size
            if o.klass == "hot":
                g["hot_bytes"] += o.size
            elif o.klass == "cold":
                g["cold_bytes"] += o.size
        for g in groups.values():
            total = g.pop("temperature_sum")
            g["mean_temperature"] = total / g["bytes"] if g["bytes"] else 0.0
        return dict(sorted(groups.items(), key=lambda kv: -kv[1]["mean_temperature"]))

    def by_type(self):
        """{type name: objects, bytes, hot_bytes, cold_bytes, mean_temperature
        (bytes-weighted)}, hottest first."""
        return self._aggregate(lambda o: o.type)

    def by_site(self):
        """The same aggregates per allocation site ("unknown" where none was recorded)."""
        return self._aggregate(lambda o: o.site or "unknown")

    def to_dict(self):
        return {"format": FORMAT, "version": VERSION, "time": self.time, "uptime": self.uptime,
                "pid": self.pid, "page_size": self.page_size, "model": self.model,
                "objects": [[o.address, o.size, o.type, o.tier, o.temperature, o.site, o.klass]
                            for o in self.objects],
                "pages": [list(p) for p in self.pages]}

    def save(self, path):
        """Write the snapshot to path (zlib-compressed JSON after a magic line), through
        a temporary file next to it: a failed save leaves no partial file. OSError
        naming path (not the temporary file) when it cannot be written."""
        body = zlib.compress(json.dumps(self.to_dict(), separators=(",", ":")).encode(), 6)
        target = os.fspath(path)
        tmp = f"{target}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                f.write(MAGIC)
                f.write(body)
            os.replace(tmp, target)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            # OSError(errno, ...) is the errno's subclass (FileNotFoundError, ...).
            raise OSError(e.errno, e.strerror or str(e), os.fsdecode(target)) from None


def from_data(data, pid):
    """A Snapshot from _pypper.snapshot_data()."""
    objects = [ObjectInfo(a, s, t, tier, temp, site, klass)
               for a, s, t, tier, temp, klass, site in data["objects"]]
    pages = sorted(PageInfo(*p) for p in data["pages"])
    return Snapshot(objects, pages, page_size=data["page_size"], time=time.time(),
                    uptime=data["uptime"], pid=pid, model=data["model"])


def _fail(path, what):
    raise SnapshotError(f"{os.fsdecode(os.fspath(path))!r}: {what}")


def _header_error(raw):
    """Why raw does not start with MAGIC, in words (never its bytes)."""
    line = raw[:64].split(b"\n", 1)[0]
    if line.startswith(b"PYPPER-SNAPSHOT "):
        version = line[len(b"PYPPER-SNAPSHOT "):]
        if version.isdigit() and len(version) <= 6:
            return (f"snapshot format {int(version)}, written by another version of Pypper "
                    f"(this one reads format {VERSION})")
        return "not a pypper snapshot (bad version in its header)"
    if not raw:
        return "empty file, not a pypper snapshot"
    if MAGIC.startswith(raw):
        return "truncated snapshot (the file ends inside its header)"
    if raw.startswith(b"\x1f\x8b"):
        return "a gzip file, not a pypper snapshot (no 'PYPPER-SNAPSHOT 1' header)"
    return "not a pypper snapshot (no 'PYPPER-SNAPSHOT 1' header)"


def _short(e):
    """An exception's text for a message: one line, at most 100 characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= 100 else text[:97] + "..."


def load(path):
    """Read a snapshot file written by Snapshot.save(); SnapshotError when the file is
    not a snapshot, or is truncated or corrupt (the message names the file and says
    why, never quoting its bytes); OSError when it cannot be read."""
    with open(os.fspath(path), "rb") as f:      # fspath: a number is no file descriptor here
        raw = f.read()
    if not raw.startswith(MAGIC):
        _fail(path, _header_error(raw))
    decomp = zlib.decompressobj()
    try:
        text = decomp.decompress(raw[len(MAGIC):]) + decomp.flush()
    except zlib.error:
        _fail(path, "corrupt snapshot (its compressed data does not decompress)")
    if not decomp.eof:
        _fail(path, "truncated snapshot (the compressed data ends early)")
    if decomp.unused_data:
        _fail(path, "corrupt snapshot (data after the end of its compressed data)")
    try:
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            _fail(path, "not a pypper snapshot (wrong format field)")
        if d.get("version") != VERSION:
            version = d.get("version")
            shown = version if isinstance(version, int) else "unknown"
            _fail(path, f"snapshot format {shown}, written by another version of Pypper "
                        f"(this one reads format {VERSION})")
        objects = [ObjectInfo(int(a), int(s), str(t), int(tier), float(temp), site, str(k))
                   for a, s, t, tier, temp, site, k in d["objects"]]
        pages = [PageInfo(int(a), int(tier), float(h), int(hb), int(cb))
                 for a, tier, h, hb, cb in d["pages"]]
        return Snapshot(objects, pages, page_size=int(d["page_size"]), time=float(d["time"]),
                        uptime=float(d["uptime"]), pid=int(d["pid"]), model=dict(d["model"]))
    except SnapshotError:
        raise
    except UnicodeDecodeError:
        _fail(path, "corrupt snapshot contents (not UTF-8 text)")
    except RecursionError:
        _fail(path, "corrupt snapshot contents (nested too deeply)")
    except KeyError as e:
        _fail(path, f"corrupt snapshot contents (no {_short(e)} field)")
    except (ValueError, TypeError, AttributeError) as e:
        _fail(path, f"corrupt snapshot contents ({type(e).__name__}: {_short(e)})")
