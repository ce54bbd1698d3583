"""Tools/oracle/test_oracle.py -- owns the tests of Pypper's access oracle.

    python3 -m pytest -q Tools/oracle/test_oracle.py

* harness tests on synthetic dump files (always run);
* exact counts of a C program that touches known addresses a known number of times
  (needs valgrind and gcc), with and without --range, with START/STOP and RESET;
* per-object counts of a Python registry under Pypper's ./python3: object i read i
  times, the counts must rise with i (Spearman 1) by the same amount per read;
* --dump-every time series converted to a heat trace.
Tests that need valgrind, gcc or ./python3 are skipped when those are missing.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oracle  # noqa: E402
import oracle_client  # noqa: E402

PYTHON = os.path.join(oracle.ROOT, "python3")
FIXED_BASE = 0x200000000000          # where test_touch maps its buffer with --range


def _oracle_or_skip():
    ok, why = oracle.available()
    if not ok:
        pytest.skip(why)


def _clean_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYPPER_") and k not in ("PYTHONPATH", "PYTHONHOME")}


# --------------------------------------------------------------------------- synthetic

def write_dump(path, records, loads=None, stores=None, seq=0, time_ms=0):
    """A dump file in the documented format (README.md), written independently of
    the tool, for the reader tests."""
    records = sorted(records)
    total_l = sum(r[1] for r in records) if loads is None else loads
    total_s = sum(r[2] for r in records) if stores is None else stores
    header = struct.pack("<8sIIQQQQQIIIIQ", b"PYORACL1", 80, 16, len(records), total_l,
                         total_s, 0, time_ms, seq, 1234, 1, 16, 0)
    with open(path, "wb") as f:
        f.write(header)
        for addr, ld, st in records:
            f.write(struct.pack("<QII", addr, ld, st))


def test_read_dump_and_aggregates(tmp_path):
    p = str(tmp_path / "a.dump")
    recs = [(0x1000, 1, 0), (0x1010, 2, 3), (0x1030, 0, 4), (0x1040, 5, 5),
            (0x2000, 7, 0), (0x7f0000001ff0, 1, 1)]
    write_dump(p, recs)
    d = oracle.read_dump(p)
    assert len(d) == 6 and d.granule == 16 and d.pid == 1234 and d.counting
    assert list(d.items())[1] == (0x1010, 2, 3)
    assert d.counts(0x101f) == (2, 3) and d.counts(0x1020) == (0, 0)
    # object_counts: [start, start+length) at 16-byte granularity
    got = oracle.object_counts(d, [("a", 0x1000, 32), ("b", 0x1010, 1), ("c", 0x1020, 16),
                                   ("d", 0x1008, 0x40), ("e", 0x0, 0x1000),
                                   ("f", 0x1000, 0x10000000), ("z", 0x1000, 0)])
    assert got == {"a": 6, "b": 5, "c": 0, "d": 1 + 5 + 4 + 10, "e": 0,
                   "f": 1 + 5 + 4 + 10 + 7, "z": 0}
    assert oracle.object_counts(d, [("a", 0x1000, 32)], kind="stores") == {"a": 3}
    assert oracle.page_counts(d) == {0x1000: 20, 0x2000: 7, 0x7f0000001000: 2}
    assert oracle.line_counts(d) == {0x1000: 10, 0x1040: 10, 0x2000: 7,
                                     0x7f0000001fc0: 2}
    assert oracle.page_counts(d, kind="loads")[0x1000] == 8


def test_read_dump_rejects_garbage(tmp_path):
    p = tmp_path / "bad.dump"
    p.write_bytes(b"NOTADUMP" + bytes(100))
    with pytest.raises(oracle.OracleError):
        oracle.read_dump(str(p))
    write_dump(str(p), [(0x1000, 1, 1), (0x1010, 1, 1)])
    data = p.read_bytes()
    p.write_bytes(data[:-4])
    with pytest.raises(oracle.OracleError):
        oracle.read_dump(str(p))


def test_heat_trace_format(tmp_path):
    paths = []
    for i in range(3):
        p = str(tmp_path / f"s.{i}")
        write_dump(p, [(0x1000 + 16 * i, i + 1, 0), (0x3000, 0, 2)], time_ms=500 * i)
        paths.append(p)
    assert oracle.series(str(tmp_path / "s")) == paths
    out = str(tmp_path / "t.trace")
    assert oracle.to_heat_trace(paths, out) == 3
    lines = [json.loads(x) for x in open(out)]
    assert lines[0]["event"] == "start" and lines[0]["format"] == "pypper-trace"
    assert lines[0]["source"] == "oracle"
    assert [e["time"] for e in lines[1:]] == [0, 1, 2]
    assert all(e["event"] == "heat" and e["page_size"] == 4096 for e in lines[1:])
    assert lines[2]["pages"] == [[0x1000, 2], [0x3000, 2]]
    oracle.to_heat_trace(paths, out, time="seconds")
    assert [json.loads(x).get("time") for x in open(out)][1:] == [0.0, 0.5, 1.0]
    # the CLI, with a --dump-every prefix instead of file names
    r = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "heat-trace",
                        str(tmp_path / "s"), "-o", out], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(open(out).readlines()) == 4
    r = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "pages",
                        paths[0]], capture_output=True, text=True)
    assert r.returncode == 0 and "0x1000 1 1 0" in r.stdout


def test_client_is_noop_outside_valgrind(tmp_path):
    assert not oracle_client.active()
    oracle_client.reset()
    oracle_client.start()
    oracle_client.stop()
    assert oracle_client.dump(str(tmp_path / "x")) is None
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- C program

@pytest.fixture(scope="module")
def touch_exe(tmp_path_factory):
    _oracle_or_skip()
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = str(tmp_path_factory.mktemp("touch") / "test_touch")
    subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-I", HERE, "-o", exe,
                    os.path.join(HERE, "test_touch.c")], check=True)
    return exe


def _expected_buffer_counts():
    """{granule index: (loads, stores)} that test_touch.c promises."""
    exp = {}
    for k in range(64):
        if k:
            exp[k] = (k, 0)
            exp[64 + k] = (0, 2 * k)
    exp[200] = exp[201] = (5, 0)
    exp[300] = (7, 7)
    exp[400] = (1, 0)
    for k in range(600, 604):
        exp[k] = (0, 2)
    return exp


def _run_touch(exe, tmp_path, tool_args=(), fixed=False):
    dump = str(tmp_path / "touch.dump")
    argv = [exe, dump] + ([f"{FIXED_BASE:x}"] if fixed else [])
    r = oracle.run(argv, tool_args=["-q", *tool_args])
    assert r.returncode == 0, r.stderr
    out = dict(line.split(None, 1) for line in r.stdout.splitlines())
    base = int(out["base"], 16)
    d = oracle.read_dump(dump)
    assert int(out["records"]) == len(d)
    assert int(out["status"]) & 1
    return base, d


def _buffer_counts(d, base):
    return {(a - base) // 16: (ld, st) for a, ld, st in d.items() if base <= a < base + 65536}


@pytest.mark.parametrize("tool_args", [(), ("--batch=1", "--defer=no")],
                         ids=["batched", "one-per-call"])
def test_c_exact_counts(touch_exe, tmp_path, tool_args):
    base, d = _run_touch(touch_exe, tmp_path, tool_args)
    assert _buffer_counts(d, base) == _expected_buffer_counts()
    assert d.granule == 16 and d.counting and not d.saturated
    # the whole-process totals include the program's other accesses (stack, libc)
    assert d.total_loads >= 2029 and d.total_stores >= 4047


@pytest.mark.parametrize("tool_args", [(), ("--batch=1", "--defer=no")],
                         ids=["batched", "one-per-call"])
def test_c_range_filter_and_totals(touch_exe, tmp_path, tool_args):
    rng = f"--range={FIXED_BASE:#x}-{FIXED_BASE + 65536:#x}"
    base, d = _run_touch(touch_exe, tmp_path, (rng, *tool_args), fixed=True)
    assert base == FIXED_BASE
    assert all(FIXED_BASE <= a < FIXED_BASE + 65536 for a in d.addrs)
    assert _buffer_counts(d, base) == _expected_buffer_counts()
    # Only the buffer counts, so the totals are exact: the spanning loads count once.
    assert d.total_loads == sum(range(64)) + 5 + 7 + 1
    assert d.total_stores == 2 * sum(range(64)) + 7 + 8
    counts = oracle.object_counts(d, [("first64", base, 64 * 16), ("span", base + 3212, 8)])
    assert counts == {"first64": sum(range(64)), "span": 10}


def test_c_no_stack(touch_exe, tmp_path):
    base, d = _run_touch(touch_exe, tmp_path, ("--no-stack=yes",))
    assert _buffer_counts(d, base) == _expected_buffer_counts()
    # the request blocks live on main's stack; with --no-stack none of it is counted
    stack = [a for a in d.addrs if 0x1ff0000000 <= a < 0x2000000000 or a >= 0x7ff000000000]
    assert stack == []


# --------------------------------------------------------------------------- Python

PY_SCRIPT = textwrap.dedent("""
    import gc, json, sys
    sys.path.insert(0, {here!r})
    import oracle_client as oc
    assert oc.active(), "not running under the pyoracle tool"

    class Obj:
        __slots__ = ("x",)

    def touch(pairs):
        for o, n in pairs:
            for _ in range(n):
                o.x

    N = {n}
    registry = {{}}
    for i in range(N):
        registry[i] = Obj()
        registry[i].x = i
    warm = [Obj() for _ in range(4)]
    for w in warm:
        w.x = 0
    touch([(w, 100) for w in warm])      # let the bytecode specialise first
    pairs = [(registry[i], i) for i in range(N)]
    gc.disable()
    oc.start()
    touch([(registry[0], 500)])          # dropped by the reset
    oc.reset()
    touch(pairs)
    oc.stop()
    n = oc.dump({dump!r})
    with open({out!r}, "w") as f:
        json.dump([[i, *oc.object_range(registry[i])] for i in range(N)], f)
    print("records", n)
""")


def spearman(xs, ys):
    def ranks(v):
        order = sorted(range(len(v)), key=v.__getitem__)
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy)


def _dropin_or_skip():
    """The drop-in, runnable under Valgrind: not an AddressSanitizer build (ASan's
    runtime must come first in the process and reserves shadow memory Valgrind
    cannot give it)."""
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f"{PYTHON} is not built")
    info = os.path.join(oracle.ROOT, "build", "buildinfo.json")
    if os.path.exists(info):
        with open(info) as f:
            if json.load(f).get("sanitizers"):
                pytest.skip("a sanitizer build of the drop-in cannot run under Valgrind")


def test_python_object_counts(tmp_path):
    _oracle_or_skip()
    _dropin_or_skip()
    dump, out, script = (str(tmp_path / n) for n in ("py.dump", "ranges.json", "s.py"))
    n = 64
    with open(script, "w") as f:
        f.write(PY_SCRIPT.format(here=HERE, n=n, dump=dump, out=out))
    r = oracle.run([PYTHON, script], env=_clean_env(),
                   tool_args=["-q", "--start-counting=no"], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    d = oracle.read_dump(dump)
    ranges = json.load(open(out))
    assert all(start % 16 == 0 for _, start, _ in ranges)
    counts = oracle.object_counts(d, [tuple(x) for x in ranges])
    ys = [counts[i] for i in range(n)]
    assert spearman(list(range(n)), ys) == pytest.approx(1.0)
    assert all(b > a for a, b in zip(ys, ys[1:])), ys
    # every read of o.x costs the same accesses to o: the counts are an exact line
    per_read = ys[1] - ys[0]
    assert per_read > 0
    assert ys == [ys[0] + per_read * i for i in range(n)], ys


def test_dump_every_series(tmp_path):
    _oracle_or_skip()
    _dropin_or_skip()
    prefix = str(tmp_path / "series")
    r = oracle.run([PYTHON, "-c", "x = [i * i for i in range(300000)]; print(sum(x))"],
                   env=_clean_env(),
                   tool_args=["-q", "--dump-every=20", "--dump-prefix=" + prefix],
                   timeout=300)
    assert r.returncode == 0, r.stderr
    paths = oracle.series(prefix)
    assert len(paths) >= 3
    dumps = [oracle.read_dump(p) for p in paths]
    assert [d.seq for d in dumps] == list(range(len(dumps)))
    # every interval but the last is 20 million instructions (to within one block)
    for d in dumps[:-1]:
        assert 20_000_000 <= d.guest_instrs < 20_001_000
    assert all(d.total_loads > 0 and d.total_stores > 0 for d in dumps)
    out = str(tmp_path / "series.trace")
    assert oracle.to_heat_trace(paths, out) == len(paths)
    lines = [json.loads(x) for x in open(out)]
    assert lines[0] == {**lines[0], "event": "start", "format": "pypper-trace",
                        "source": "oracle"}
    for e in lines[1:]:
        pages = [p for p, _ in e["pages"]]
        assert pages == sorted(pages) and all(c > 0 for _, c in e["pages"])


def test_cli_run(tmp_path, touch_exe):
    dump = str(tmp_path / "cli.dump")
    r = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "run",
                        "-o", dump, "--", touch_exe, str(tmp_path / "inner.dump")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "base 0x" in r.stdout
    d = oracle.read_dump(dump)
    assert d.total_loads > 0 and len(d) > 0
