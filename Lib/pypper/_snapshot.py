"""Snapshots of object temperatures: what ``pypper.snapshot()`` returns, its file
format (``Snapshot.save`` / ``pypper.load``) and its aggregates per type and per
allocation site. Doc/snapshots.md explains what the fields mean.

File format: the line ``PYPPER-SNAPSHOT 1`` then a zlib stream of one UTF-8 JSON
object: ``format``, ``version`` (2; version 1 files still load), ``time`` (Unix
seconds), ``uptime`` (seconds since the session started), ``pid``, ``page_size``,
``objects`` (rows ``[address, size, type, tier, temperature, site, class,
owned_bytes, site_kind]``; version 1 rows stop at class and have a numeric tier),
``pages`` (rows ``[address, tier, heat, hot_bytes, cold_bytes]``), ``model`` (the
model's parameters), ``owned_classes`` (rows ``[address, cold, warm, hot]``: owned
bytes not in their owner's class; absent in older files, read as none) and
``owned_heat`` (rows ``[address, heat]``: the sum of those owned bytes' temperatures;
absent in older files, read as the owner's temperature for each byte).
"""

import builtins
import contextlib
import gc
import heapq
import json
import os
import sys
import time
import types
import zlib
from collections import namedtuple
from collections.abc import Sequence

import _pypper

MAGIC = b"PYPPER-SNAPSHOT 1\n"
FORMAT = "pypper-snapshot"
VERSION = 2
VERSIONS = (1, 2)          # versions load() reads
TIERS = ("fast", "slow")   # numeric tiers of version 1 files, by index

#: One traced object. ``size``: bytes of the object's own heap block (its GC header
#: included); ``owned_bytes``: bytes of the heap buffers it owns alone (a list's item
#: array, a dict's table, a set's table, a bytearray's data, ...), so that
#: ``size + owned_bytes`` is what the object costs. ``tier``: "fast" or "slow", as
#: ``pypper.where()`` says, of the object's own block. ``site``: "file:line
#: (function)" of the Python code that allocated it, or None; ``site_kind`` says how
#: it was found: "sampled" (its own allocation was recorded), "buffer" (the latest
#: (re)allocation of the buffer it owns), "inferred" (a recorded object of the same
#: type in the same 16 KiB pool), or why there is none: "before session" (it existed
#: before the session started), "not sampled" (its allocation was not recorded);
#: None in version 1 files.
ObjectInfo = namedtuple("ObjectInfo",
                        "address size type tier temperature site klass owned_bytes site_kind",
                        defaults=(0, None))
#: One page the traced objects and their buffers occupy: ``heat`` is the
#: bytes-weighted mean temperature of the page (0..1); hot and cold bytes are those
#: of hot and cold objects there. An owned buffer counts on its own pages (where its
#: bytes are), with its owner's temperature and class.
PageInfo = namedtuple("PageInfo", "address tier heat hot_bytes cold_bytes")


def _ranked(groups):
    """Groups by hot bytes, most first; then by mean temperature, then by bytes."""
    return dict(sorted(groups.items(), key=lambda kv: (-kv[1]["hot_bytes"], -kv[1]["mean_temperature"],
                                                       -kv[1]["bytes"])))


class ObjectRows(Sequence):
    """The objects of a snapshot as _pypper.snapshot_data(columns=True) gives them:
    columns of numbers in one bytes object (address, size, owned bytes, temperature,
    type and site numbers, tier, class, site kind) and the tables of names they
    index. A sequence of ObjectInfo made on demand, so a million objects cost 44
    bytes each rather than a named tuple each; equal to a list of the same rows."""

    __slots__ = ("_n", "_cap", "_buffer", "_cols", "_types", "_sites", "_tiers", "_classes",
                 "_kinds", "_json_tables")

    def __init__(self, data):
        n, cap = data["n"], data["capacity"]
        mv = memoryview(data["columns"])
        offsets, cols = 0, []
        for fmt, width in (("Q", 8), ("Q", 8), ("Q", 8), ("d", 8), ("I", 4), ("I", 4),
                           ("B", 1), ("B", 1), ("B", 1)):
            cols.append(mv[offsets:offsets + width * cap].cast(fmt)[:n])
            offsets += width * cap
        self._n, self._cap, self._buffer, self._json_tables = n, cap, data["columns"], None
        self._cols = cols      # address, size, owned, temperature, type, site, tier, klass, kind
        self._types, self._sites = data["types"], data["sites"]
        self._tiers, self._classes, self._kinds = data["tiers"], data["classes"], data["site_kinds"]

    def __len__(self):
        return self._n

    def _row(self, i):
        a, s, o, t, ty, si, ti, k, ki = self._cols
        return ObjectInfo(a[i], s[i], self._types[ty[i]], self._tiers[ti[i]], t[i],
                          self._sites[si[i]], self._classes[k[i]], o[i], self._kinds[ki[i]])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._row(k) for k in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("snapshot object index out of range")
        return self._row(i)

    def _iter_range(self, start, stop):
        a, s, o, t, ty, si, ti, k, ki = (c[start:stop] for c in self._cols)
        types, sites, tiers, classes, kinds = (self._types, self._sites, self._tiers,
                                               self._classes, self._kinds)
        for row in zip(a, s, o, t, ty, si, ti, k, ki):
            yield ObjectInfo(row[0], row[1], types[row[4]], tiers[row[6]], row[3],
                             sites[row[5]], classes[row[7]], row[2], kinds[row[8]])

    def __iter__(self):
        return self._iter_range(0, self._n)

    def json_text(self, start, stop):
        """Rows start..stop as the file format's JSON text (bytes), rows joined by
        commas (made in C: _pypper.snapshot_rows_json)."""
        import _pypper
        if self._json_tables is None:
            enc = [[json.dumps(x).encode() for x in table]
                   for table in (self._types, self._sites, self._tiers, self._classes, self._kinds)]
            self._json_tables = enc
        return _pypper.snapshot_rows_json(self._buffer, self._n, self._cap, start, stop,
                                          *self._json_tables)

    def json_rows(self, start, stop):
        """Rows [address, size, type, tier, temperature, site, class, owned_bytes,
        site_kind] of the file format, as tuples."""
        a, s, o, t, ty, si, ti, k, ki = (c[start:stop] for c in self._cols)
        g = list.__getitem__
        return list(zip(a, s, map(g.__get__(self._types), ty), map(g.__get__(self._tiers), ti), t,
                        map(g.__get__(self._sites), si), map(g.__get__(self._classes), k), o,
                        map(g.__get__(self._kinds), ki)))

    def hottest(self, n):
        temps = self._cols[3]
        return [self._row(i) for i in heapq.nlargest(n, range(self._n), key=temps.__getitem__)]

    def aggregate_by_type(self, owned_classes=None, owned_heat=None):
        """[(type name, objects, body bytes, owned bytes, hot bytes, cold bytes,
        temperature * bytes)] per type name seen (types of the same name, such as
        builtins.property and enum.property, are one group), from the columns;
        owned_classes, owned_heat: Snapshot's."""
        split = owned_classes or {}
        heat_of = owned_heat or {}
        group_of, names = {}, []
        for name in self._types:
            if name not in group_of:
                group_of[name] = len(names)
                names.append(name)
        group = [group_of[name] for name in self._types]
        ntypes = len(names)
        objects, body, owned, hot, cold, tsum = ([0] * ntypes for _ in range(6))
        hot_class = self._classes.index("hot")
        cold_class = self._classes.index("cold")
        a, s, o, t, ty, _, _, k, _ = self._cols
        for addr, size, own, temp, typ, klass in zip(a, s, o, t, ty, k):
            typ = group[typ]
            objects[typ] += 1
            body[typ] += size
            owned[typ] += own
            total = size + own
            tsum[typ] += temp * size + (heat_of.get(addr, temp * own) if heat_of else temp * own)
            parts = split.get(addr) if split else None
            if parts:
                c, _w, h = class_bytes(self._classes[klass], size, parts)
                hot[typ] += h
                cold[typ] += c
            elif klass == hot_class:
                hot[typ] += total
            elif klass == cold_class:
                cold[typ] += total
        return [(names[i], objects[i], body[i], owned[i], hot[i], cold[i], tsum[i])
                for i in range(ntypes) if objects[i]]

    def __eq__(self, other):
        if not isinstance(other, (list, tuple, ObjectRows)):
            return NotImplemented
        return len(self) == len(other) and all(x == y for x, y in zip(self, other))

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __repr__(self):
        return f"<pypper snapshot objects: {self._n}>"


def page_columns(data):
    """(address, hot bytes, cold bytes, heat, tier number) of snapshot_data's pages as
    columns (memoryviews over its one bytes object)."""
    n = data["n"]
    mv = memoryview(data["columns"])
    return (mv[:8 * n].cast("Q"), mv[8 * n:16 * n].cast("Q"), mv[16 * n:24 * n].cast("Q"),
            mv[24 * n:32 * n].cast("d"), mv[32 * n:33 * n].cast("B"))


def _pages_from_columns(data):
    address, hot, cold, heat, tier = page_columns(data)
    return [PageInfo(a, TIERS[t], h, hb, cb) for a, t, h, hb, cb in zip(address, tier, heat, hot, cold)]


def _tier_name(tier):
    """A tier as load() and the rows give it: "fast" or "slow"."""
    if isinstance(tier, str):
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        return tier
    if int(tier) not in range(len(TIERS)):
        raise ValueError(f"unknown tier {tier!r}")
    return TIERS[int(tier)]


def site_label(o):
    """by_site()'s key for an object: its site, or why it has none."""
    return o.site or o.site_kind or "unknown"


class SnapshotError(ValueError):
    """A snapshot file that is not one, or is truncated or corrupt."""


# Its public name (pypper exports it): what a traceback's last line shows.
SnapshotError.__module__ = "pypper"

#: What save() and load() raise for the caller's mistakes; they end at the caller's
#: line (pypper._public: no frame of Pypper's in the traceback).
_USER_ERRORS = (ValueError, TypeError, OSError)


class Snapshot:
    """Object and page temperatures at one instant of a tracing session.
    ``owned_classes``: {address: (cold, warm, hot) bytes} of the objects whose owned
    buffer is not all in their own class or not all at their temperature (each page
    of a buffer has its owner's
    temperature or, when lower, that of the objects it refers to: a hot list that is
    only appended to has cold items, and so a cold item array but for its end). The
    aggregates (by_type, by_site) and the pages count those bytes in those classes.
    ``owned_heat``: {address: the sum of those buffer bytes' temperatures}, what the
    aggregates' mean temperature counts for them (without it, the owner's
    temperature for each byte: a hot dict with a cold table looked hot on average
    while its bytes were all cold)."""

    def __init__(self, objects, pages, *, page_size, time, uptime, pid, model, owned_classes=None,
                 owned_heat=None):
        self.owned_classes = owned_classes or {}
        self.owned_heat = owned_heat or {}
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

    def hottest(self, n=10, user=True):
        """The n hottest objects, hottest first. With user=True (the default, as for
        pypper.hot_objects()) only the program's own data, as is_user_object() says
        from a row's type, site and site kind (a newcomer's first ten were a method
        descriptor, three dicts from before the session, a class and a tuple);
        user=False: every object."""
        if not user:
            if isinstance(self.objects, ObjectRows):
                return self.objects.hottest(n)
            return sorted(self.objects, key=lambda o: o.temperature, reverse=True)[:n]
        return first_kept(lambda k: self.hottest(k, user=False),
                          lambda o: is_user_object(o.type, o.site, o.site_kind), n, len(self.objects))

    def _aggregate(self, key):
        groups = {}
        for o in self.objects:
            g = groups.setdefault(key(o), {"objects": 0, "bytes": 0, "body_bytes": 0,
                                           "owned_bytes": 0, "hot_bytes": 0, "cold_bytes": 0,
                                           "temperature_sum": 0.0})
            size = o.size + o.owned_bytes
            g["objects"] += 1
            g["bytes"] += size
            g["body_bytes"] += o.size
            g["owned_bytes"] += o.owned_bytes
            g["temperature_sum"] += o.temperature * o.size + self.owned_heat.get(
                o.address, o.temperature * o.owned_bytes)
            parts = self.owned_classes.get(o.address)
            if parts:
                c, _w, h = class_bytes(o.klass, o.size, parts)
                g["hot_bytes"] += h
                g["cold_bytes"] += c
            elif o.klass == "hot":
                g["hot_bytes"] += size
            elif o.klass == "cold":
                g["cold_bytes"] += size
        for g in groups.values():
            total = g.pop("temperature_sum")
            g["mean_temperature"] = total / g["bytes"] if g["bytes"] else 0.0
        return _ranked(groups)

    def by_type(self):
        """{type name: objects, bytes, body_bytes, owned_bytes, hot_bytes, cold_bytes,
        mean_temperature}, most hot bytes first (then the warmest, then the largest:
        two objects at 0.9 are not what a program spends its memory on). ``bytes`` =
        body_bytes + owned_bytes (the
        objects' own blocks and the buffers they own); hot/cold bytes and the mean
        temperature are weighted by it."""
        if isinstance(self.objects, ObjectRows):
            groups = {}
            for name, objects, body, owned, hot, cold, tsum in self.objects.aggregate_by_type(self.owned_classes,
                                                                                              self.owned_heat):
                total = body + owned
                groups[name] = {"objects": objects, "bytes": total, "body_bytes": body,
                                "owned_bytes": owned, "hot_bytes": hot, "cold_bytes": cold,
                                "mean_temperature": tsum / total if total else 0.0}
            return _ranked(groups)
        return self._aggregate(lambda o: o.type)

    def by_site(self):
        """The same aggregates per allocation site; objects without one are grouped
        under "before session" or "not sampled" ("unknown" in version 1 files)."""
        return self._aggregate(site_label)

    def site_coverage(self):
        """{site_kind: bytes (body + owned)}, and "known_share": the share of the
        bytes whose site is known (sampled, buffer or inferred)."""
        out = {}
        for o in self.objects:
            k = o.site_kind or ("sampled" if o.site else "unknown")
            out[k] = out.get(k, 0) + o.size + o.owned_bytes
        total = sum(out.values())
        known = sum(b for o_kind, b in out.items() if o_kind in ("sampled", "buffer", "inferred"))
        out["known_share"] = known / total if total else 0.0
        return out

    def user_objects(self):
        """The objects a user most likely cares about (see is_user_object): those
        whose site is in the user's code or unknown, less the interpreter's and the
        standard library's."""
        return [o for o in self.objects if is_user_object(o.type, o.site, o.site_kind)]

    def to_dict(self):
        return {"format": FORMAT, "version": VERSION, "time": self.time, "uptime": self.uptime,
                "pid": self.pid, "page_size": self.page_size, "model": self.model,
                "objects": [[o.address, o.size, o.type, o.tier, o.temperature, o.site, o.klass,
                             o.owned_bytes, o.site_kind] for o in self.objects],
                "pages": [list(p) for p in self.pages],
                "owned_classes": [[a, *parts] for a, parts in self.owned_classes.items()],
                "owned_heat": [[a, h] for a, h in self.owned_heat.items()]}

    def _json_chunks(self, rows_per_chunk=20000):
        """The text of to_dict() as compact JSON (bytes), in pieces: the objects a chunk
        of rows at a time, so that saving a million objects never holds them all as
        Python lists or one string."""
        head = {"format": FORMAT, "version": VERSION, "time": self.time, "uptime": self.uptime,
                "pid": self.pid, "page_size": self.page_size, "model": self.model}
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        yield (dumps(head)[:-1] + ',"objects":[').encode()
        objs = self.objects
        n = len(objs)
        for start in range(0, n, rows_per_chunk):
            stop = min(start + rows_per_chunk, n)
            if isinstance(objs, ObjectRows):
                rows = objs.json_text(start, stop)
            else:
                rows = dumps([[o.address, o.size, o.type, o.tier, o.temperature, o.site, o.klass,
                               o.owned_bytes, o.site_kind] for o in objs[start:stop]])[1:-1].encode()
            yield (b"," if start else b"") + rows
        yield ('],"pages":' + dumps([list(p) for p in self.pages])
               + ',"owned_classes":' + dumps([[a, *parts] for a, parts in self.owned_classes.items()])
               + ',"owned_heat":' + dumps([[a, h] for a, h in self.owned_heat.items()])
               + "}").encode()

    def save(self, path):
        """Write the snapshot to path (zlib-compressed JSON after a magic line), through
        a temporary file next to it: a failed save leaves no partial file. OSError
        naming path (not the temporary file) when it cannot be written. The JSON is
        made and compressed a piece at a time (the file is the same as one
        json.dumps(to_dict()) would give)."""
        target = os.fspath(path)
        tmp = f"{target}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                f.write(MAGIC)
                z = zlib.compressobj(1)      # level 1: twice as fast as 6, 20% bigger
                for piece in self._json_chunks():
                    f.write(z.compress(piece))
                f.write(z.flush())
            os.replace(tmp, target)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            # OSError(errno, ...) is the errno's subclass (FileNotFoundError, ...).
            raise OSError(e.errno, e.strerror or str(e), os.fsdecode(target)) from None

    save = _pypper.public(save, _USER_ERRORS)


def from_data(data, pid):
    """A Snapshot from _pypper.snapshot_data() (rows, or columns)."""
    if isinstance(data["objects"], dict):
        objects = ObjectRows(data["objects"])
    else:
        objects = [ObjectInfo(a, s, t, tier, temp, site, klass, owned, kind)
                   for a, s, t, tier, temp, klass, site, owned, kind in data["objects"]]
    if isinstance(data["pages"], dict):
        pages = _pages_from_columns(data["pages"])      # sorted by address already
    else:
        pages = sorted(PageInfo(*p) for p in data["pages"])
    return Snapshot(objects, pages, page_size=data["page_size"], time=time.time(),
                    uptime=data["uptime"], pid=pid, model=data["model"],
                    owned_classes=owned_classes_of(data.get("owned_classes", ())),
                    owned_heat={int(r[0]): float(r[4]) for r in data.get("owned_classes", ())
                                if len(r) > 4})


def owned_classes_of(rows):
    """{address: (cold, warm, hot)} from owned_classes rows [address, cold, warm, hot]
    (snapshot_data's have the sum of the bytes' temperatures after them)."""
    out = {}
    for row in rows:
        if len(row) not in (4, 5):
            raise ValueError(f"an owned_classes row of {len(row)} fields")
        out[int(row[0])] = (int(row[1]), int(row[2]), int(row[3]))
    return out


def owned_heat_of(rows):
    """{address: heat} from owned_heat rows [address, heat]."""
    return {int(a): float(h) for a, h in rows}


def class_bytes(klass, size, parts):
    """(cold, warm, hot) bytes of an object whose owned buffer's bytes are split by
    class (parts: its owned_classes entry): its body of `size` bytes in its own class
    ("hot", "warm" or "cold"), its buffer's bytes in theirs."""
    cold, warm, hot = parts
    if klass == "hot":
        return cold, warm, hot + size
    if klass == "warm":
        return cold, warm + size, hot
    return cold + size, warm, hot


def _object_row(row, version, names=None):
    """An ObjectInfo from a row of a version 1 or 2 file; names (a dict) makes equal
    strings one object across rows."""
    if version == 1:
        a, s, t, tier, temp, site, k = row
        owned, kind = 0, None
    else:
        a, s, t, tier, temp, site, k, owned, kind = row
        kind = None if kind is None else str(kind)
    t, site, k = str(t), None if site is None else str(site), str(k)
    if names is not None:
        t, k = names.setdefault(t, t), names.setdefault(k, k)
        site = site if site is None else names.setdefault(site, site)
        kind = kind if kind is None else names.setdefault(kind, kind)
    return ObjectInfo(int(a), int(s), t, _tier_name(tier), float(temp), site, k, int(owned), kind)


# ---- user objects and interpreter internals ----

#: Types whose objects are the interpreter's machinery rather than a program's data.
INTERNAL_TYPES = frozenset(t.__name__ for t in (
    types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
    types.WrapperDescriptorType, types.GetSetDescriptorType, types.MemberDescriptorType,
    types.ClassMethodDescriptorType, types.MethodWrapperType, types.CodeType, types.FrameType,
    types.CellType, types.ModuleType, types.MappingProxyType, types.MethodType, type, property,
    staticmethod, classmethod, types.TracebackType, types.SimpleNamespace.__class__)) | {
    "weakref", "weakref.ReferenceType", "weakcallableproxy", "weakproxy", "moduledef",
    "builtin_function_or_method", "method-wrapper", "classmethod_descriptor", "module",
    "code", "frame", "cell", "function", "_abc_data", "ModuleSpec", "SourceFileLoader",
    "FileFinder", "mappingproxy", "getset_descriptor", "member_descriptor",
    "wrapper_descriptor", "method_descriptor"}


def _library_dirs():
    # The standard library is where os.py is (its extension modules in lib-dynload
    # below it); not sysconfig, which imports threading.
    dirs = {os.path.dirname(os.path.abspath(os.__file__)),
            os.path.dirname(os.path.abspath(__file__))}
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs if d)


LIBRARY_DIRS = _library_dirs()
PYPPER_DIR = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(__file__))), "")


def _site_path(site):
    path = site.rsplit(":", 1)[0] if ":" in site else site
    return os.path.realpath(path) if os.path.isabs(path) else path


def is_library_site(site):
    """Whether a site ("file:line (function)") is in the standard library, in Pypper
    itself or in frozen interpreter code, not in the user's program."""
    if not site:
        return False
    path = _site_path(site)
    if path.startswith("<frozen ") or path.startswith("<built-in"):
        return True
    return path.startswith(LIBRARY_DIRS)


def _library_type(tp):
    """A class defined by the standard library or Pypper (not a builtin container)."""
    if not isinstance(tp, type):
        return False
    mod = sys.modules.get(getattr(tp, "__module__", None) or "")
    if mod is None or tp.__module__ in ("builtins", "__main__"):
        return False
    f = getattr(mod, "__file__", None)
    return f is None or is_library_site(f)


#: Standard-library classes that hold a program's data (kept by is_user_object).
_DATA_CLASSES = frozenset({"collections.OrderedDict", "collections.defaultdict",
                           "collections.deque", "collections.Counter", "collections.ChainMap",
                           "collections.UserDict", "collections.UserList",
                           "collections.UserString", "array.array", "fractions.Fraction",
                           "decimal.Decimal", "datetime.datetime", "datetime.date"})


#: Builtin types of plain data, kept when library code made them.
_DATA_TYPES = (dict, list, set, frozenset, tuple, str, bytes, bytearray, int, float, complex)
_DATA_TYPE_NAMES = frozenset(t.__name__ for t in _DATA_TYPES)


def _is_data_class(tp):
    return any(f"{c.__module__}.{c.__qualname__}" in _DATA_CLASSES for c in tp.__mro__)


def is_user_object(type_name, site, site_kind, obj=None):
    """Whether an object is the user's data rather than an interpreter or standard
    library internal: its site is in the user's code; or its site is in library code
    and it is plain data (an object of a builtin data type exactly, or of a data
    class: json.loads' dicts and lists); or it has no site and it is not
    of an interpreter machinery type (functions, descriptors, code, modules, types,
    ...), not an object from before the session of a builtin type (module
    dictionaries, interned strings, constants), and (when obj is given) not an
    instance of a class of the standard library or Pypper other than the data
    classes of _DATA_CLASSES (so os._Environ and random.Random are internal,
    OrderedDict and deque are not)."""
    if site and not is_library_site(site):
        return True
    if site and _site_path(site).startswith(PYPPER_DIR):
        return False            # Pypper's own (a snapshot's rows and aggregates)
    if site:
        # Made by library code: its own machinery, unless plain data (what json.loads
        # or csv build is the program's data).
        if obj is not None:
            tp = type(obj)
            return tp in _DATA_TYPES or _is_data_class(tp)
        return type_name in _DATA_TYPE_NAMES or any(
            type_name == c.rsplit(".", 1)[1] for c in _DATA_CLASSES)
    if type_name in INTERNAL_TYPES:
        return False
    if obj is not None:
        tp = type(obj)
        if isinstance(obj, type):
            return False
        if _library_type(tp) and not _is_data_class(tp):
            return False
        if site_kind == "before session" and not tp.__flags__ & (1 << 9):
            return False        # a builtin (static) type's object from before the session
    elif site_kind == "before session" and "." not in type_name and type_name in _BUILTIN_NAMES:
        return False
    return True


_BUILTIN_NAMES = frozenset(n for n, v in vars(builtins).items() if isinstance(v, type))


def first_kept(fetch, keep, n, total):
    """The first n of fetch(k) (the k hottest, hottest first) that keep() accepts: k
    from 4n (at least 64), four times as many again until n are found or none is left;
    total bounds k (n may be sys.maxsize)."""
    if n <= 0:
        return []
    k = min(max(4 * n, 64), total)
    while True:
        rows = fetch(k)
        out = [r for r in rows if keep(r)]
        if len(out) >= n or len(rows) < k or k >= total:
            return out[:n]
        k = min(k * 4, total)


def hot_user_objects(hot, n, total):
    """The n hottest user objects (is_user_object), hottest first, as (object,
    temperature) pairs; hot(k) gives the k hottest with details, total bounds k."""
    module_dicts = {id(vars(m)) for m in list(sys.modules.values()) if hasattr(m, "__dict__")}
    rows = first_kept(hot, lambda r: id(r[0]) not in module_dicts
                      and is_user_object(type(r[0]).__name__, r[2], r[3], r[0]), n, total)
    return [(obj, t) for obj, t, _, _ in rows]


def _fail(path, what):
    raise SnapshotError(f"{os.fsdecode(os.fspath(path))!r}: {what}")


def _header_error(raw, path):
    """Why raw (the file at path) does not start with MAGIC, in words (never its
    bytes)."""
    line = raw[:64].split(b"\n", 1)[0]
    if line.startswith(b"PYPPER-SNAPSHOT "):
        version = line[len(b"PYPPER-SNAPSHOT "):]
        if version.isdigit() and len(version) <= 6:
            return (f"snapshot format {int(version)}, written by another version of Pypper "
                    f"(this one reads format {int(MAGIC.split()[1])})")
        return "not a pypper snapshot (bad version in its header)"
    if not raw:
        return "empty file, not a pypper snapshot"
    if line.startswith(b"PYPPER-CAPTURE"):
        # What `pypper run -o FILE` writes: people try load() on it first. The command
        # to paste, on one line (a name that is not printable stays FILE).
        import shlex
        name = os.fsdecode(os.fspath(path))
        name = shlex.quote(name) if name.isprintable() else "FILE"
        return (f"a capture of `pypper run`, not a snapshot: read it with "
                f"python3 -m pypper report {name}")
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
    why, never quoting its bytes); OSError when it cannot be read. A file as save()
    writes it is read a piece at a time into columns (_load_columns: no Python object
    per row); any other (version 1, or JSON laid out otherwise) through json."""
    with open(os.fspath(path), "rb") as f:      # fspath: a number is no file descriptor here
        raw = f.read()
    if not raw.startswith(MAGIC):
        _fail(path, _header_error(raw, path))
    snap = _load_columns(raw)
    if snap is not None:
        return snap
    decomp = zlib.decompressobj()
    try:
        text = decomp.decompress(raw[len(MAGIC):]) + decomp.flush()
    except zlib.error:
        _fail(path, "corrupt snapshot (its compressed data does not decompress)")
    if not decomp.eof:
        _fail(path, "truncated snapshot (the compressed data ends early)")
    if decomp.unused_data:
        _fail(path, "corrupt snapshot (data after the end of its compressed data)")
    # A million rows are a million containers: no collection while they are made (the
    # program's setting is restored after).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    box = [text]            # the text is dropped once parsed
    del text
    try:
        return _snapshot_from_text(path, box)
    finally:
        if gc_was_enabled:
            gc.enable()


LOAD_CHUNK = 1 << 22        # bytes of JSON text decompressed at a time
_MAX_PENDING = 1 << 20      # text carried to the next piece: more is no row save() wrote
_OBJECTS_KEY = b'"objects":['
_HEAD_LIMIT = 1 << 20       # a head longer than this is not one save() wrote


def _text_pieces(raw):
    """The decompressed text of a snapshot file, LOAD_CHUNK bytes at a time; None as
    the last piece when the compressed data is corrupt, truncated or followed by
    more (load's slow path then says which)."""
    decomp = zlib.decompressobj()
    data = memoryview(raw)[len(MAGIC):]
    try:
        # Until the stream ends (what follows it is then unused_data) or the input
        # runs out; every turn either yields text or consumes input.
        while not decomp.eof and data:
            piece = decomp.decompress(data, LOAD_CHUNK)
            progressed = piece or len(decomp.unconsumed_tail) < len(data)
            data = decomp.unconsumed_tail
            if piece:
                yield piece
            if not progressed:
                break
        if not decomp.eof:
            rest = decomp.flush()
            if rest:
                yield rest
    except zlib.error:
        yield None
        return
    if not decomp.eof or decomp.unused_data:
        yield None


def _load_columns(raw):
    """A Snapshot from a version 2 file as Snapshot.save() writes it (the head's
    fields, then the objects, then the pages and owned classes), its objects read
    into ObjectRows columns by _pypper.snapshot_rows_parse; None for anything else."""
    import _pypper
    pieces = _text_pieces(raw)
    text = b""
    for piece in pieces:
        if piece is None:
            return None
        text += piece
        at = text.find(_OBJECTS_KEY)
        if at >= 0 or len(text) > _HEAD_LIMIT:
            break
    at = text.find(_OBJECTS_KEY)
    if at < 0 or at > _HEAD_LIMIT or not text.startswith(b"{"):
        return None
    try:
        head = json.loads(text[:at] + b'"objects":[]}')
    except (ValueError, RecursionError):
        return None
    if (not isinstance(head, dict) or head.get("format") != FORMAT or head.get("version") != 2
            or any(k in head for k in ("pages", "owned_classes", "owned_heat"))):
        return None
    cols = [bytearray() for _ in range(9)]
    tables = [{} for _ in range(5)]
    pos, after_row, ended = at + len(_OBJECTS_KEY), False, False
    try:
        while True:
            pos, after_row, ended = _pypper.snapshot_rows_parse(text, pos, after_row, cols, tables)
            if ended:
                break
            piece = next(pieces, b"")
            if not piece or len(text) - pos > _MAX_PENDING:
                return None         # the text ends inside the objects, is corrupt, or
                                    # has no row end for a megabyte (each piece would
                                    # read it all again)
            text = text[pos:] + piece
            pos = 0
        tail = bytearray(text[pos:])
        del text
        for piece in pieces:
            if piece is None:
                return None
            tail += piece
        tail = tail.strip()
        if tail[:1] == b",":
            rest = json.loads(b"{" + tail[1:])
        elif tail == b"}":
            rest = {}
        else:
            return None
        names = [[json.loads(tok) for tok in sorted(t, key=t.get)] for t in tables]
    except (ValueError, RecursionError):
        return None
    # What json would read differently: a field after the objects that came before
    # (the last one counts), no pages, or one name written two ways ("hot", "\u0068ot").
    if (not isinstance(rest, dict) or "pages" not in rest
            or set(rest) & (set(head) | {"objects"})
            or any(len(set(map(repr, table))) != len(table) for table in names)):
        return None
    types, sites, tiers, classes, kinds = names
    if (not all(isinstance(x, str) for x in types + classes)
            or not all(x is None or isinstance(x, str) for x in sites + kinds)
            or not all(x in TIERS for x in tiers)):
        return None
    for klass in ("cold", "warm", "hot"):       # (ObjectRows' sums look them up)
        if klass not in classes:
            classes.append(klass)
    n = len(cols[0]) // 8
    columns = b"".join(cols)
    del cols
    objects = ObjectRows({"n": n, "capacity": n, "columns": columns, "types": types,
                          "sites": sites, "tiers": tiers, "classes": classes,
                          "site_kinds": kinds})
    try:
        return _snapshot_of_fields({**head, **rest}, objects)
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError, IndexError):
        return None


def _snapshot_of_fields(d, objects):
    """The Snapshot of a file's fields d (a dict as json reads it) and its objects,
    read by either path of load(); what a bad field raises is the caller's to say."""
    pages = [PageInfo(int(a), _tier_name(tier), float(h), int(hb), int(cb))
             for a, tier, h, hb, cb in d["pages"]]
    return Snapshot(objects, pages, page_size=int(d["page_size"]), time=float(d["time"]),
                    uptime=float(d["uptime"]), pid=int(d["pid"]), model=dict(d["model"]),
                    owned_classes=owned_classes_of(d.get("owned_classes", ())),
                    owned_heat=owned_heat_of(d.get("owned_heat", ())))


def _snapshot_from_text(path, box):
    try:
        d = json.loads(box.pop())
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            _fail(path, "not a pypper snapshot (wrong format field)")
        if d.get("version") not in VERSIONS:
            version = d.get("version")
            shown = version if isinstance(version, int) else "unknown"
            _fail(path, f"snapshot format {shown}, written by another version of Pypper "
                        f"(this one reads formats {', '.join(map(str, VERSIONS))})")
        # Each row's list is replaced by its ObjectInfo as it goes (the lists are freed
        # one by one, not all at the end), equal strings shared.
        objects = d["objects"]
        if not isinstance(objects, list):
            objects = list(objects)
        names = {}
        for i, row in enumerate(objects):
            objects[i] = _object_row(row, d["version"], names)
        return _snapshot_of_fields(d, objects)
    except SnapshotError:
        raise
    except UnicodeDecodeError:
        _fail(path, "corrupt snapshot contents (not UTF-8 text)")
    except RecursionError:
        _fail(path, "corrupt snapshot contents (nested too deeply)")
    except KeyError as e:
        _fail(path, f"corrupt snapshot contents (no {_short(e)} field)")
    except (ValueError, TypeError, AttributeError, OverflowError, IndexError) as e:
        _fail(path, f"corrupt snapshot contents ({type(e).__name__}: {_short(e)})")
