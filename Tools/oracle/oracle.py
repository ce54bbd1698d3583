#!/usr/bin/env python3
"""Tools/oracle/oracle.py -- owns the harness of Pypper's exact access oracle.

Runs programs under the ``pyoracle`` Valgrind tool (built from pypper_oracle.c by
Tools/oracle/Makefile into build/oracle/), reads its dump files and turns them into
per-object, per-page and per-line access counts and into Pypper heat traces.
Standard library only; importable, and a command line:

    python3 Tools/oracle/oracle.py build
    python3 Tools/oracle/oracle.py run [-o DUMP] [--dump-every N] [...] -- CMD ...
    python3 Tools/oracle/oracle.py info DUMP
    python3 Tools/oracle/oracle.py pages DUMP [--page-size N] [--top K]
    python3 Tools/oracle/oracle.py heat-trace DUMP... -o out.trace [--time seconds]

Dump file format: see README.md (and the comment in pypper_oracle.c).
"""

import argparse
import array
import bisect
import itertools
import json
import os
import re
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("PYORACLE_BUILD", os.path.join(ROOT, "build", "oracle"))
VALGRIND_LIB = os.path.join(BUILD_DIR, "lib")
TOOL = "pyoracle"
TOOL_EXE = os.path.join(VALGRIND_LIB, TOOL + "-amd64-linux")
CLIENT_LIB = os.path.join(BUILD_DIR, "liboracle_client.so")
SOURCES = ("pypper_oracle.c", "pypper_oracle.h", "client.c", "Makefile")

MAGIC = b"PYORACL1"
# magic, header_size, granule, n_records, loads, stores, instrs, time_ms, seq, pid,
# flags, record_size, dropped
_HEADER = struct.Struct("<8sIIQQQQQIIIIQ")
assert _HEADER.size == 80

FLAG_COUNTING = 0x1
FLAG_RANGE = 0x2
FLAG_NOSTACK = 0x4
FLAG_SATURATED = 0x8


class OracleError(RuntimeError):
    """The oracle cannot be built or run here, or a dump file is malformed."""


# --------------------------------------------------------------------------- build/run

def valgrind():
    """Path of the valgrind launcher, or None."""
    return shutil.which("valgrind")


def _outputs():
    return (TOOL_EXE, CLIENT_LIB, os.path.join(VALGRIND_LIB, ".links"))


def is_built():
    """Whether the tool and client library exist and are newer than their sources."""
    try:
        newest_src = max(os.path.getmtime(os.path.join(HERE, s)) for s in SOURCES)
        return all(os.path.getmtime(p) >= newest_src for p in _outputs())
    except OSError:
        return False


def build(force=False, quiet=True):
    """Build the tool and client library with make (only when out of date)."""
    if not force and is_built():
        return
    if shutil.which("make") is None:
        raise OracleError("make is not installed")
    cmd = ["make", "-C", HERE, "OUT=" + BUILD_DIR]
    if force:
        cmd.append("-B")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise OracleError("building the oracle failed:\n" + proc.stdout)
    if not quiet:
        sys.stderr.write(proc.stdout)


def available():
    """(True, "") when the oracle can run here, else (False, reason)."""
    if valgrind() is None:
        return False, "valgrind is not installed"
    try:
        build()
    except OracleError as e:
        return False, str(e)
    return True, ""


def command(argv, tool_args=()):
    """The full command line that runs argv under the oracle."""
    vg = valgrind()
    if vg is None:
        raise OracleError("valgrind is not installed")
    return [vg, "--tool=" + TOOL, *tool_args, *argv]


def environment(env=None):
    """env (default: os.environ) plus VALGRIND_LIB pointing at the oracle's lib dir."""
    out = dict(os.environ if env is None else env)
    out["VALGRIND_LIB"] = VALGRIND_LIB
    return out


def run(argv, env=None, tool_args=(), **kwargs):
    """Run argv under ``valgrind --tool=pyoracle`` (building first if needed).

    tool_args are Valgrind/tool options (e.g. ``["--dump-at-exit=out.dump", "-q"]``);
    kwargs go to subprocess.run (default: capture stdout/stderr as text).
    Returns the subprocess.CompletedProcess.
    """
    build()
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("text", True)
    return subprocess.run(command(list(argv), list(tool_args)), env=environment(env),
                          **kwargs)


# --------------------------------------------------------------------------- dumps

class Dump:
    """One dump file: per-granule load and store counts plus the header fields.

    ``addrs``, ``loads`` and ``stores`` are parallel arrays (ascending addresses of
    16-byte granules with at least one access); ``total_loads``/``total_stores`` are
    access counts (an access spanning several granules is one access there, but
    counts in each granule it touches).
    """

    def __init__(self, path, header, addrs, loads, stores):
        self.path = path
        (_, self.header_size, self.granule, n, self.total_loads, self.total_stores,
         self.guest_instrs, self.time_ms, self.seq, self.pid, self.flags,
         self.record_size, self.dropped) = header
        self.addrs = addrs
        self.loads = loads
        self.stores = stores
        self._cum = None

    def __len__(self):
        return len(self.addrs)

    def __repr__(self):
        return (f"<Dump {self.path!r}: {len(self)} granules, {self.total_loads} loads, "
                f"{self.total_stores} stores, seq {self.seq}>")

    @property
    def counting(self):
        return bool(self.flags & FLAG_COUNTING)

    @property
    def saturated(self):
        return bool(self.flags & FLAG_SATURATED)

    def items(self):
        """(granule_address, loads, stores) in ascending address order."""
        return zip(self.addrs, self.loads, self.stores)

    def counts(self, addr):
        """(loads, stores) of the granule holding addr."""
        g = addr - addr % self.granule
        i = bisect.bisect_left(self.addrs, g)
        if i < len(self.addrs) and self.addrs[i] == g:
            return self.loads[i], self.stores[i]
        return 0, 0

    def granule_sum(self):
        """Sum over granules of loads+stores (>= total accesses: spanning ones repeat)."""
        return sum(self.loads) + sum(self.stores)

    def range_count(self, start, length, kind="all"):
        """Accesses (granule counts) in the granules overlapping [start, start+length)."""
        if length <= 0:
            return 0
        cum = self._prefix(kind)
        g = self.granule
        first = start - start % g
        last = start + length - 1
        last -= last % g
        i = bisect.bisect_left(self.addrs, first)
        j = bisect.bisect_right(self.addrs, last)
        return cum[j] - cum[i]

    def _prefix(self, kind):
        if self._cum is None:
            self._cum = {}
        if kind not in self._cum:
            vals = _values(self, kind)
            self._cum[kind] = array.array("Q", itertools.accumulate(vals, initial=0))
        return self._cum[kind]


def _values(dump, kind):
    if kind == "all":
        return (a + b for a, b in zip(dump.loads, dump.stores))
    if kind == "loads":
        return iter(dump.loads)
    if kind == "stores":
        return iter(dump.stores)
    raise ValueError(f"kind must be 'all', 'loads' or 'stores', not {kind!r}")


def read_dump(path):
    """Read a pyoracle dump file; returns a Dump. OracleError when malformed."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _HEADER.size or data[:8] != MAGIC:
        raise OracleError(f"{path}: not a pyoracle dump (bad magic)")
    header = _HEADER.unpack_from(data, 0)
    hsize, granule, n, rsize = header[1], header[2], header[3], header[11]
    if rsize != 16 or granule <= 0 or hsize < _HEADER.size:
        raise OracleError(f"{path}: unsupported dump layout "
                          f"(record size {rsize}, granule {granule})")
    end = hsize + n * rsize
    if len(data) < end:
        raise OracleError(f"{path}: truncated ({len(data)} bytes, expected {end})")
    words = array.array("I")
    words.frombytes(data[hsize:end])
    if sys.byteorder != "little":
        words.byteswap()
    lo, hi = words[0::4], words[1::4]
    addrs = array.array("Q", (a | (b << 32) for a, b in zip(lo, hi)))
    return Dump(path, header, addrs, words[2::4], words[3::4])


def object_counts(dump, ranges, kind="all"):
    """{key: accesses} for ranges = iterable of (key, start_address, length).

    An object's count is the sum of the loads and stores (kind "all"; or only
    "loads"/"stores") counted in the 16-byte granules that overlap
    [start, start+length): exact for objects that start and end on 16-byte
    boundaries, as blocks of CPython's heaps do.
    """
    if isinstance(dump, str):
        dump = read_dump(dump)
    return {key: dump.range_count(start, length, kind) for key, start, length in ranges}


def _aggregate(dump, unit, kind):
    if isinstance(dump, str):
        dump = read_dump(dump)
    if unit <= 0 or unit % dump.granule:
        raise ValueError(f"unit must be a positive multiple of {dump.granule}")
    out = {}
    for addr, v in zip(dump.addrs, _values(dump, kind)):
        base = addr - addr % unit
        out[base] = out.get(base, 0) + v
    return dict(sorted(out.items()))


def page_counts(dump, page_size=4096, kind="all"):
    """{page_address: accesses} for pages with accesses, ascending by address."""
    return _aggregate(dump, page_size, kind)


def line_counts(dump, line=64, kind="all"):
    """{line_address: accesses} for cache lines with accesses, ascending."""
    return _aggregate(dump, line, kind)


def series(prefix):
    """The files prefix.0, prefix.1, ... written by --dump-every, in order."""
    directory = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix)
    pat = re.compile(re.escape(base) + r"\.(\d+)$")
    found = []
    for name in os.listdir(directory):
        m = pat.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(directory, name)))
    return [p for _, p in sorted(found)]


def to_heat_trace(dump_paths, out_path, time="index", page_size=4096):
    """Write the dumps as a Pypper heat trace (JSON lines); returns the event count.

    First line: {"event": "start", "format": "pypper-trace", "source": "oracle", ...};
    then one {"event": "heat", "time": T, "page_size": P, "pages": [[page, n], ...]}
    per dump, in the given order, pages with accesses sorted by address. T is the
    dump's index (time="index") or its time in seconds since Valgrind started
    (time="seconds").
    """
    if time not in ("index", "seconds"):
        raise ValueError("time must be 'index' or 'seconds'")
    paths = list(dump_paths)
    n = 0
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"event": "start", "format": "pypper-trace", "source": "oracle",
                            "format_version": 1, "granule": 16, "dumps": len(paths)})
                + "\n")
        for i, path in enumerate(paths):
            d = read_dump(path)
            pages = page_counts(d, page_size)
            t = i if time == "index" else d.time_ms / 1000.0
            f.write(json.dumps({"event": "heat", "time": t, "page_size": page_size,
                                "pages": [[p, c] for p, c in pages.items()],
                                "dump": os.path.basename(path), "loads": d.total_loads,
                                "stores": d.total_stores}) + "\n")
            n += 1
    return n


# --------------------------------------------------------------------------- CLI

def _cmd_build(args):
    build(force=args.force, quiet=False)
    print(TOOL_EXE)
    return 0


def _cmd_run(args):
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        sys.stderr.write("oracle run: no command given (run -- CMD ...)\n")
        return 2
    tool_args = []
    if args.output:
        tool_args.append("--dump-at-exit=" + args.output)
    if args.dump_every:
        tool_args.append(f"--dump-every={args.dump_every}")
    if args.dump_prefix:
        tool_args.append("--dump-prefix=" + args.dump_prefix)
    if args.range:
        tool_args.append("--range=" + args.range)
    if args.no_stack:
        tool_args.append("--no-stack=yes")
    if args.stopped:
        tool_args.append("--start-counting=no")
    tool_args.extend(args.tool_arg or ())
    proc = run(cmd, tool_args=tool_args, stdout=None, stderr=None)
    return proc.returncode


def _cmd_info(args):
    for path in args.dumps:
        d = read_dump(path)
        print(f"{path}: seq {d.seq} pid {d.pid} time {d.time_ms / 1000:.3f}s "
              f"granules {len(d)} loads {d.total_loads} stores {d.total_stores} "
              f"instrs {d.guest_instrs} flags {d.flags:#x} dropped {d.dropped}")
    return 0


def _cmd_pages(args):
    d = read_dump(args.dump)
    pages = page_counts(d, args.page_size)
    loads = page_counts(d, args.page_size, "loads")
    rows = list(pages.items())
    if args.top:
        rows = sorted(rows, key=lambda r: -r[1])[:args.top]
    print(f"# {args.dump}: {len(pages)} pages of {args.page_size} bytes, "
          f"{d.total_loads} loads, {d.total_stores} stores")
    print("# page_address accesses loads stores")
    for page, n in rows:
        ld = loads.get(page, 0)
        print(f"{page:#x} {n} {ld} {n - ld}")
    return 0


def _cmd_heat_trace(args):
    paths = []
    for p in args.dumps:
        paths.extend(series(p) if not os.path.exists(p) else [p])
    if not paths:
        sys.stderr.write("oracle heat-trace: no dump files\n")
        return 2
    n = to_heat_trace(paths, args.output, time=args.time, page_size=args.page_size)
    print(f"{args.output}: {n} heat events")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="oracle.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the tool and client library")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("run", help="run a command under the oracle")
    p.add_argument("-o", "--output", help="dump at exit to this file (%%p = pid)")
    p.add_argument("--dump-every", type=int, metavar="N",
                   help="dump every N million guest instructions")
    p.add_argument("--dump-prefix", metavar="P", help="prefix of --dump-every files")
    p.add_argument("--range", metavar="START-END", help="count only this address range")
    p.add_argument("--no-stack", action="store_true", help="ignore thread stacks")
    p.add_argument("--stopped", action="store_true",
                   help="start with counting off (the program calls start())")
    p.add_argument("--tool-arg", action="append", metavar="ARG",
                   help="another valgrind/tool option (repeatable)")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("info", help="print dump headers")
    p.add_argument("dumps", nargs="+")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("pages", help="per-page access counts of a dump")
    p.add_argument("dump")
    p.add_argument("--page-size", type=int, default=4096)
    p.add_argument("--top", type=int, default=0, help="only the K hottest pages")
    p.set_defaults(func=_cmd_pages)

    p = sub.add_parser("heat-trace", help="convert dumps to a Pypper heat trace")
    p.add_argument("dumps", nargs="+",
                   help="dump files in time order, or a --dump-every prefix")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--time", choices=("index", "seconds"), default="index")
    p.add_argument("--page-size", type=int, default=4096)
    p.set_defaults(func=_cmd_heat_trace)

    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (OracleError, OSError) as e:
        sys.stderr.write(f"oracle.py: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
