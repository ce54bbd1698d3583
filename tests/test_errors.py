"""Error paths (issue 14, item 5): a configuration Pypper cannot use is one clear
line on stderr starting with ``pypper:`` and exit status 2, with no traceback and no
binary bytes; keyword errors name the keyword, environment errors the variable;
snapshot files that are not snapshots raise SnapshotError with a readable message;
API misuse raises a clear exception or has a documented result, never a crash.
Every case runs in a subprocess (Doc/errors.md lists what each looks like)."""

import json
import os
import re
import subprocess
import textwrap

import pytest

from conftest import DROPIN, STOCK, clean_env

PROGRAM = "import pypper; print('the program ran')"


def run_bytes(args, env=None, stock=False):
    """Run the drop-in (or the stock python3.12 with the extension); stdout and stderr
    as bytes, so a binary byte in a message cannot hide in decoding."""
    python = STOCK if stock else DROPIN
    return subprocess.run([python, *args], env=clean_env(env, stock=stock),
                          capture_output=True, timeout=120)


def one_line_error(r, status=2):
    """The line of a failed run after checking it is the only one, says ``pypper:``,
    is printable ASCII, shows no traceback, and the exit status is `status`."""
    assert r.returncode == status, (r.returncode, r.stderr)
    assert b"Traceback" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0].decode("ascii")          # raises on any non-ASCII byte
    assert line.isprintable(), line
    assert line.startswith("pypper: "), line
    assert r.stdout == b"", r.stdout         # the program did not run untraced
    return line


def two_tiers():
    import pypper
    return not pypper.topology()["simulated"]


def missing_node():
    import pypper
    return max(n["node"] for n in pypper.topology()["nodes"]) + 1


MODES = [pytest.param(False, id="drop-in"), pytest.param(True, id="extension")]


# -- PYPPER_ENABLE=1 when the session cannot start --------------------------------

@pytest.mark.parametrize("stock", MODES)
@pytest.mark.skipif("two_tiers()")
def test_enable_with_numa_backend_on_one_node(stock):
    r = run_bytes(["-c", PROGRAM], {"PYPPER_ENABLE": "1", "PYPPER_BACKEND": "numa"}, stock)
    line = one_line_error(r)
    assert line.startswith("pypper: PYPPER_BACKEND=numa needs two tiers of memory, and this "
                           "machine has one"), line
    assert "use PYPPER_BACKEND=pageout" in line


@pytest.mark.parametrize("stock", MODES)
@pytest.mark.parametrize("where", ["missing-dir", "under-a-file", "a-directory"])
def test_enable_with_unwritable_trace_file(stock, where, tmp_path):
    regular = tmp_path / "file"
    regular.write_text("x")
    path = {"missing-dir": tmp_path / "no" / "such" / "dir" / "t.trace",
            "under-a-file": regular / "t.trace",
            "a-directory": tmp_path}[where]
    r = run_bytes(["-c", PROGRAM], {"PYPPER_ENABLE": "1", "PYPPER_TRACE_FILE": str(path)}, stock)
    line = one_line_error(r)
    assert line.startswith(f"pypper: cannot write PYPPER_TRACE_FILE '{path}': "), line


@pytest.mark.parametrize("stock", MODES)
def test_enable_with_trace_file_that_fails_to_write(stock):
    # Opened, but a write fails (a full disk): one warning, the program runs traced.
    r = run_bytes(["-c", PROGRAM + "; import _pypper; print(_pypper.state())"],
                  {"PYPPER_ENABLE": "1", "PYPPER_TRACE_FILE": "/dev/full"}, stock)
    assert r.returncode == 0 and r.stdout == b"the program ran\nrunning\n", r
    assert r.stderr == (b"pypper: warning: cannot write the trace file '/dev/full': No space "
                        b"left on device; the trace stops here, the session goes on\n"), r.stderr


def test_trace_file_full_during_the_session(tmp_path):
    # The start event fits under the file size limit, the end event does not (EFBIG:
    # Python ignores SIGXFSZ): the trace keeps its first line (and the part of the
    # last that fitted, which reading leaves out), the session ends.
    path = tmp_path / "t.trace"
    code = textwrap.dedent(f'''
        import resource, pypper
        from pypper import _trace
        pypper.start(trace_file={str(path)!r}, heat_interval_ms=0)
        first = open({str(path)!r}).read()
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(first) + 10, resource.RLIM_INFINITY))
        pypper.end()
        events = [e["event"] for e in _trace.read({str(path)!r})]
        print(__import__("_pypper").state(), open({str(path)!r}).read().startswith(first), events)
    ''')
    r = run_bytes(["-c", code])
    assert r.returncode == 0 and r.stdout == b"stopped True ['start']\n", r
    assert r.stderr == (f"pypper: warning: cannot write the trace file '{path}': File too "
                        "large; the trace stops here, the session goes on\n").encode(), r.stderr


@pytest.mark.parametrize("stock", MODES)
def test_enable_with_missing_node(stock):
    n = missing_node()
    r = run_bytes(["-c", PROGRAM], {"PYPPER_ENABLE": "1", "PYPPER_FAST_NODES": str(n)}, stock)
    line = one_line_error(r)
    assert line.startswith(f"pypper: PYPPER_FAST_NODES names node {n}, but this machine's "
                           "NUMA nodes are: "), line


@pytest.mark.parametrize("stock", MODES)
@pytest.mark.parametrize("env,expected", [
    ({"PYPPER_SAMPLE_HZ": "abc"},
     "pypper: bad value 'abc' for PYPPER_SAMPLE_HZ: expected an integer from 1 to 100000"),
    ({"PYPPER_ENABLE": "banana"},
     "pypper: bad value 'banana' for PYPPER_ENABLE: expected 1/0, true/false, yes/no or on/off"),
    ({"PYPPER_SAMPEL_HZ": "10"},
     "pypper: unknown variable PYPPER_SAMPEL_HZ (did you mean PYPPER_SAMPLE_HZ?); "
     "'python3 -m pypper options' lists them all"),
    ({"PYPPER_HOT_THRESHOLD": "0.1", "PYPPER_COLD_THRESHOLD": "0.9"},
     "pypper: PYPPER_COLD_THRESHOLD=0.9 is not below PYPPER_HOT_THRESHOLD=0.1: the cold "
     "threshold must be lower than the hot one"),
    ({"PYPPER_COLD_THRESHOLD": "0.5"},
     "pypper: PYPPER_COLD_THRESHOLD=0.5 is not below PYPPER_HOT_THRESHOLD=0.5 (the default): "
     "the cold threshold must be lower than the hot one"),
])
def test_enable_with_bad_configuration(stock, env, expected):
    r = run_bytes(["-c", PROGRAM], {"PYPPER_ENABLE": "1", **env}, stock)
    assert one_line_error(r) == expected


def test_bad_configuration_stops_the_drop_in_without_enable():
    # The drop-in checks every PYPPER_* variable before the interpreter exists: the
    # heap obeys some of them whether tracing is enabled or not.
    r = run_bytes(["-c", "print('ran')"], {"PYPPER_HOT_THRESHOLD": "0.1"})
    assert one_line_error(r).startswith("pypper: PYPPER_COLD_THRESHOLD=0.2 (the default) is "
                                        "not below PYPPER_HOT_THRESHOLD=0.1")


def test_good_configuration_still_runs():
    for stock in (False, True):
        r = run_bytes(["-c", "import pypper; print(pypper.is_running())"],
                      {"PYPPER_ENABLE": "1", "PYPPER_HOT_THRESHOLD": "0.6",
                       "PYPPER_COLD_THRESHOLD": "0.59"}, stock)
        assert r.returncode == 0 and r.stdout == b"True\n", r.stderr


@pytest.mark.parametrize("stock", MODES)
def test_binary_bytes_in_variables_are_escaped(stock):
    r = run_bytes(["-c", PROGRAM], {"PYPPER_ENABLE": "1", "PYPPER_LOG": b"\x1b[31m\n\xff"}, stock)
    assert one_line_error(r) == ("pypper: bad value '\\x1b[31m\\x0a\\xff' for PYPPER_LOG: "
                                 "expected one of off, error, warn, info, debug")
    r = run_bytes(["-c", PROGRAM], {"PYPPER_ENABLE": "1", b"PYPPER_\xffX": "1"}, stock)
    assert one_line_error(r).startswith("pypper: unknown variable PYPPER_\\xffX")


def test_long_value_is_cut_on_one_line():
    r = run_bytes(["-c", PROGRAM], {"PYPPER_SAMPLE_HZ": "9" * 5000})
    line = one_line_error(r)
    assert len(line) < 300 and "...' for PYPPER_SAMPLE_HZ" in line


# -- every option with a bad value: environment and keywords ------------------------

def _bad_values(name, kind, accepts):
    """Empty, garbage and out-of-range texts for an option of this kind."""
    garbage = ["", "garbage", " 1"]
    if kind == "bool":
        return garbage + ["2", "-1"]
    if kind == "int":
        lo, hi = map(int, re.search(r"from (-?\d+) to (\d+)", accepts).groups())
        return garbage + [str(lo - 1), str(hi + 1), "1.5", "1e3", "9" * 30]
    if kind == "float":
        lo, hi = map(float, re.search(r"from ([\d.e+-]+) to ([\d.e+-]+)", accepts).groups())
        return garbage + [str(hi + 1), "-1", "nan", "inf", "1e-1"] + (
            [format(lo / 2, "f")] if lo > 0 else [])
    if kind == "size":
        return garbage + ["0%", "101%", "-1", "5Q", "1.5"]
    if kind == "choice":
        return garbage + ["bogus"]
    if kind == "nodes":
        return ["garbage", "-1", "3-1", "1024", "0,"]
    if kind == "path":
        return ["x" * 5000]
    raise AssertionError(kind)


def _table():
    import _pypper
    return _pypper.option_table()


@pytest.mark.parametrize("row", _table(), ids=lambda row: row[0])
def test_every_option_rejects_bad_values_from_the_environment(row):
    name, kind, _default, accepts, _help = row
    for value in _bad_values(name, kind, accepts)[:4]:
        r = run_bytes(["-c", PROGRAM], {"PYPPER_ENABLE": "1", f"PYPPER_{name}": value})
        line = one_line_error(r)
        assert f" for PYPPER_{name}: expected " in line, (value, line)
        assert f" for {name.lower()}:" not in line


def test_every_option_rejects_bad_values_as_keywords():
    """start(name=bad) for every option and bad value, in one subprocess: a
    ConfigError whose one line names the keyword, never the variable."""
    cases = []
    for name, kind, default, accepts, _help in _table():
        cases += [(name.lower(), v) for v in _bad_values(name, kind, accepts)]
        cases += [(name.lower(), bad) for bad in (None, object(), [1.5], b"\xff")
                  if kind not in ("path", "nodes") or bad is None]
    code = textwrap.dedent("""
        import json, sys, pypper
        cases = json.loads(sys.stdin.read())
        out = []
        for name, value in cases:
            value = {"<object>": object(), "<list>": [1.5], "<bytes>": b"\\xff"}.get(value, value)
            try:
                pypper.start(**{name: value})
                pypper.end()
                out.append([name, repr(value), "started", ""])
            except Exception as e:
                out.append([name, repr(value), type(e).__name__, str(e)])
        print(json.dumps(out))
    """)

    def encode(v):
        if isinstance(v, bytes):
            return "<bytes>"
        if isinstance(v, list):
            return "<list>"
        return v if v is None or isinstance(v, str) else "<object>"

    r = subprocess.run([DROPIN, "-c", code], env=clean_env(), capture_output=True, text=True,
                       input=json.dumps([[n, encode(v)] for n, v in cases]), timeout=300)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    results = json.loads(r.stdout)
    assert len(results) == len(cases)
    for name, shown, kind, message in results:
        assert kind == "ConfigError", (name, shown, kind, message)
        assert "\n" not in message and message.isprintable() and message.isascii(), message
        assert f" for {name}: expected " in message, (name, shown, message)
        assert "PYPPER_" not in message, message
        assert len(message) < 400, message


# -- thresholds and the names in messages ------------------------------------------

THRESHOLDS = textwrap.dedent("""
    import sys, pypper
    try:
        pypper.start(**eval(sys.argv[1]))
        print("started"); pypper.end()
    except pypper.ConfigError as e:
        print(e)
""")


@pytest.mark.parametrize("kwargs,env,expected", [
    ("dict(hot_threshold=0.1, cold_threshold=0.9)", {},
     "cold_threshold=0.9 is not below hot_threshold=0.1: the cold threshold must be lower "
     "than the hot one"),
    ("dict(cold_threshold=0.5, hot_threshold=0.5)", {},
     "cold_threshold=0.5 is not below hot_threshold=0.5: the cold threshold must be lower "
     "than the hot one"),
    ("dict(hot_threshold=0.1)", {},
     "cold_threshold=0.2 (the default) is not below hot_threshold=0.1: the cold threshold "
     "must be lower than the hot one"),
    ("dict(hot_threshold=0.25)", {"PYPPER_COLD_THRESHOLD": "0.3"},
     "PYPPER_COLD_THRESHOLD=0.3 is not below hot_threshold=0.25: the cold threshold must be "
     "lower than the hot one"),
    ("dict(hot_threshold=0.8)", {"PYPPER_COLD_THRESHOLD": "0.6"}, "started"),
    ("dict(hot_threshold=0.3, cold_threshold=0.29)", {}, "started"),
])
def test_contradictory_thresholds_are_rejected(kwargs, env, expected):
    if env:
        # The drop-in would refuse PYPPER_COLD_THRESHOLD=0.6 alone (default hot 0.5):
        # these run in the stock interpreter, where start()'s keywords come first.
        r = run_bytes(["-c", THRESHOLDS, kwargs], env, stock=True)
    else:
        r = run_bytes(["-c", THRESHOLDS, kwargs])
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert r.stdout.decode() == expected + "\n"


@pytest.mark.parametrize("kwargs,expected", [
    ("dict(hot_threshold=2)", "bad value 2 for hot_threshold: expected a number from 0 to 1"),
    ("dict(sample_duty=1e-30)", "bad value 1e-30 for sample_duty: expected a number from "
                                "0.01 to 1"),
    ("dict(backend='numa')", None),
    ("dict(fast_nodes=[N])", "fast_nodes names node N, but this machine's NUMA nodes are: "),
    ("dict(fast_nodes=[0], slow_nodes=[0])", "fast_nodes and slow_nodes share a node"),
    ("dict(trace_file='/no/such/dir/t')", "cannot write trace_file '/no/such/dir/t': No such "
                                          "file or directory"),
])
def test_keyword_errors_name_the_keyword(kwargs, expected):
    n = missing_node()
    kwargs = kwargs.replace("N", str(n))
    if expected is None:
        if two_tiers():
            pytest.skip("numa works on this machine")
        expected = ("backend='numa' needs two tiers of memory, and this machine has one "
                    "(1 NUMA node); use backend='pageout' (far memory: swap) or 'sim'")
    expected = expected.replace("N,", f"{n},")
    r = run_bytes(["-c", THRESHOLDS, kwargs])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith(expected), out
    assert "PYPPER_" not in out


def test_environment_errors_name_the_variable_in_start():
    # In a stock python3.12 a bad variable without PYPPER_ENABLE surfaces at start().
    r = run_bytes(["-c", THRESHOLDS, "dict(sample_hz=5)"], {"PYPPER_HOT_THRESHOLD": "2"},
                  stock=True)
    assert r.stdout.decode() == ("bad value '2' for PYPPER_HOT_THRESHOLD: expected a number "
                                 "from 0 to 1\n")


# -- snapshot files ------------------------------------------------------------------

SNAPSHOTS = textwrap.dedent("""
    import gzip, json, os, sys, zlib, pypper
    from pypper import _snapshot
    d = sys.argv[1]
    pypper.start()
    snap = pypper.snapshot()
    pypper.end()
    good = os.path.join(d, "good.snap")
    snap.save(good)
    raw = open(good, "rb").read()
    body = raw[len(_snapshot.MAGIC):]
    files = {
        "other-version": b"PYPPER-SNAPSHOT 2\\n" + body,
        "other-version-no-newline": b"PYPPER-SNAPSHOT 2" + body,
        "other-format-field": _snapshot.MAGIC + zlib.compress(
            b'{"format": "pypper-snapshot", "version": 7}'),
        "text": b"hello, world\\n",
        "empty": b"",
        "truncated": raw[: len(raw) // 2],
        "truncated-header": raw[:9],
        "gzip": gzip.compress(raw),
        "random": bytes((i * 7919 + 13) % 256 for i in range(4096)),
        "bad-zlib": _snapshot.MAGIC + b"\\x78\\x9c" + bytes(range(200, 256)) * 4,
        "not-json": _snapshot.MAGIC + zlib.compress(b"{not json"),
        "not-utf8": _snapshot.MAGIC + zlib.compress(b'{"a": "\\xff\\xfe"}'),
        "deep": _snapshot.MAGIC + zlib.compress(b"[" * 100000 + b"]" * 100000),
        "missing-field": _snapshot.MAGIC + zlib.compress(
            b'{"format": "pypper-snapshot", "version": 1}'),
        "bad-row": _snapshot.MAGIC + zlib.compress(
            b'{"format": "pypper-snapshot", "version": 1, "objects": [["\\xc3\\xa9"]]}'),
        "trailing": raw + b"\\x00\\x01junk",
        "capture": b'PYPPER-CAPTURE 1\\n{"k":"header","format_version":1}\\n',
    }
    out = {}
    for name, data in files.items():
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            pypper.load(path)
            out[name] = ["loaded", ""]
        except Exception as e:
            out[name] = [type(e).__name__, str(e)]
    out["good"] = [type(pypper.load(good)).__name__, ""]
    print(json.dumps(out))
""")


def test_loading_what_is_not_a_snapshot_raises_a_readable_error(tmp_path):
    r = run_bytes(["-c", SNAPSHOTS, str(tmp_path)])
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    results = json.loads(r.stdout)
    assert results.pop("good") == ["Snapshot", ""]
    expect = {
        "other-version": "snapshot format 2, written by another version of Pypper (this one "
                         "reads format 1)",
        "other-format-field": "snapshot format 7, written by another version of Pypper",
        "empty": "empty file",
        "truncated": "truncated snapshot",
        "truncated-header": "truncated snapshot",
        "gzip": "a gzip file, not a pypper snapshot",
        "text": "not a pypper snapshot",
        "random": "not a pypper snapshot",
        "bad-zlib": "corrupt snapshot",
        "deep": "nested too deeply",
        "missing-field": "no 'objects' field",
        "trailing": "data after the end",
        # What `pypper run` writes: the message says what it is and how to read it.
        "capture": "a capture of `pypper run`, not a snapshot: read it with "
                   f"python3 -m pypper report {tmp_path / 'capture'}",
    }
    for name, (kind, message) in results.items():
        assert kind == "SnapshotError", (name, kind, message)
        path = str(tmp_path / name)
        assert message.startswith(f"{path!r}: "), message
        # One short readable line: no bytes of the file, no b'...' literal.
        assert message.isascii() and message.isprintable() and len(message) < 300, message
        why = message[len(f"{path!r}: "):]
        assert "b'" not in why and 'b"' not in why and "\\x" not in why, message
        assert expect.get(name, "") in why, (name, message)


SAVE = textwrap.dedent("""
    import os, sys, pypper
    pypper.start()
    snap = pypper.snapshot()
    pypper.end()
    for path in sys.argv[1:]:
        try:
            snap.save(path)
            print("saved")
        except OSError as e:
            print(type(e).__name__, e.filename, e.strerror, sep="|")
""")


def test_save_errors_name_the_path_given(tmp_path):
    regular = tmp_path / "file"
    regular.write_text("x")
    paths = [tmp_path / "missing" / "s.snap", regular / "s.snap", tmp_path]
    r = run_bytes(["-c", SAVE, *map(str, paths)])
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines == [f"FileNotFoundError|{paths[0]}|No such file or directory",
                     f"NotADirectoryError|{paths[1]}|Not a directory",
                     f"IsADirectoryError|{paths[2]}|Is a directory"]
    assert ".tmp" not in r.stdout.decode()
    assert sorted(os.listdir(tmp_path)) == ["file"]        # no temporary file left


# -- API misuse --------------------------------------------------------------------

MISUSE = textwrap.dedent("""
    import json, pypper
    out = {}
    def case(name, f):
        try:
            out[name] = ["ok", repr(f())[:60]]
        except Exception as e:
            out[name] = [type(e).__name__, str(e)]
    case("end-without-session", pypper.end)
    pypper.start()
    case("end", pypper.end)
    case("end-twice", pypper.end)
    case("temperature-of-int", lambda: pypper.temperature(5))
    case("temperature-of-none", lambda: pypper.temperature(None))
    case("snapshot-without-session", pypper.snapshot)
    case("migrate-now-without-session", pypper.migrate_now)
    case("relocatable-report-without-session", pypper.relocatable_report)
    case("hot-objects-without-session", pypper.hot_objects)
    case("hot-objects-negative", lambda: pypper.hot_objects(-1))
    case("hot-objects-not-int", lambda: pypper.hot_objects("x"))
    case("start-odd-keyword", lambda: pypper.start(**{"a\\nb": 1}))
    case("relocate-int", lambda: pypper.relocate(5, "fast"))
    case("relocate-bad-tier", lambda: pypper.relocate([1, 2], "warm"))
    case("relocate-tier-not-str", lambda: pypper.relocate([1, 2], 1))
    ba = bytearray(100000)
    view = memoryview(ba)
    case("relocate-exported-bytearray", lambda: pypper.relocate(ba, "slow"))
    def placement(tier):
        with pypper.placement(tier):
            pass
    case("placement-bad-tier", lambda: placement("warm"))
    case("where-of-int", lambda: pypper.where(5)["kind"])
    case("load-fd-number", lambda: pypper.load(0))
    case("start-positional", lambda: pypper.start(1))
    pypper.start(sample_hz=50)
    case("start-other-options-while-running", lambda: pypper.start(sample_hz=60))
    case("start-same-options-while-running", lambda: pypper.start(sample_hz=50))
    case("heap-trim-during-session", lambda: isinstance(pypper.heap_trim(), int))
    case("snapshot-bad-min", lambda: pypper.snapshot("hot"))
    case("hot-objects-huge", lambda: isinstance(pypper.hot_objects(10**30), list))
    pypper.end()
    print(json.dumps(out))
""")


def test_api_misuse_gives_clear_exceptions_or_documented_results():
    r = run_bytes(["-c", MISUSE])
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    out = json.loads(r.stdout)
    expected = {
        "end-without-session": ["ok", "False"],
        "end": ["ok", "True"],
        "end-twice": ["ok", "False"],
        "temperature-of-int": ["ok", "None"],
        "temperature-of-none": ["ok", "None"],
        "snapshot-without-session": ["RuntimeError", "no tracing session is running: "
                                                     "call pypper.start() first"],
        "migrate-now-without-session": ["RuntimeError", "no pypper session is running: call "
                                                        "pypper.start() first"],
        "relocatable-report-without-session": ["RuntimeError", "no pypper session is running: "
                                                               "call pypper.start() first"],
        "hot-objects-without-session": ["ok", "[]"],
        "hot-objects-negative": ["ValueError", "hot_objects(n): n must be >= 0"],
        "hot-objects-not-int": ["TypeError", "'str' object cannot be interpreted as an "
                                             "integer"],
        "hot-objects-huge": ["ok", "True"],
        "start-odd-keyword": ["ConfigError", "unknown option 'a\\nb'"],
        "relocate-int": ["ok", "0"],
        "relocate-bad-tier": ["ValueError", "tier must be 'fast' or 'slow', not 'warm'"],
        "relocate-tier-not-str": ["TypeError", "relocate() argument 2 must be str, not int"],
        "relocate-exported-bytearray": ["ok", "0"],
        "placement-bad-tier": ["ValueError", "placement tier must be 'fast', 'slow' or None, "
                                             "not 'warm'"],
        "where-of-int": ["ok", "'foreign'"],
        "load-fd-number": ["TypeError", "expected str, bytes or os.PathLike object, not int"],
        "start-positional": ["TypeError", "start() takes 0 positional arguments but 1 was "
                                          "given"],
        "start-other-options-while-running": ["RuntimeError", "pypper is already running with "
                                              "other options (sample_hz); call pypper.end() "
                                              "first"],
        "start-same-options-while-running": ["ok", "False"],
        "heap-trim-during-session": ["ok", "True"],
        "snapshot-bad-min": ["ValueError", "could not convert string to float: 'hot'"],
    }
    assert out == expected


# The caller's mistakes, uncaught: what each script's last line raises, and the user's
# frames the traceback must show (its own function `f` where the call is in one).
USER_MISTAKES = {
    "start-thresholds": ("pypper.start(hot_threshold=0.1, cold_threshold=0.9)",
                         "pypper.ConfigError: cold_threshold=0.9 is not below"),
    "start-unknown": ("pypper.start(sampel_hz=3)", "pypper.ConfigError: unknown option"),
    "start-bool": ("pypper.start(hot_threshold=True)", "pypper.ConfigError: bad value True"),
    "tracing": ("with pypper.tracing(cold_threshold=3):\n    pass",
                "pypper.ConfigError: bad value 3 for cold_threshold"),
    "placement": ("with pypper.placement('warm'):\n    pass", "ValueError: placement tier"),
    "load-garbage": ("pypper.load('garbage.bin')",
                     "pypper.SnapshotError: 'garbage.bin': not a pypper snapshot"),
    "load-format-2": ("pypper.load('v2.snap')",
                      "pypper.SnapshotError: 'v2.snap': snapshot format 2"),
    "load-corrupt": ("pypper.load('corrupt.snap')",
                     "pypper.SnapshotError: 'corrupt.snap': corrupt snapshot"),
    "load-missing": ("pypper.load('missing.snap')", "FileNotFoundError: "),
    "save-missing-dir": ("pypper.start(); s = pypper.snapshot(); pypper.end()\n"
                         "s.save('missing/dir/s.snap')", "FileNotFoundError: "),
    "snapshot-no-session": ("pypper.snapshot()", "RuntimeError: no tracing session"),
    "in-a-function": ("def f():\n    pypper.load('garbage.bin')\nf()",
                      "pypper.SnapshotError: 'garbage.bin'"),
}


@pytest.mark.parametrize("stock", MODES)
@pytest.mark.parametrize("case", sorted(USER_MISTAKES))
def test_user_mistakes_show_the_users_frames_only(case, stock, tmp_path):
    """An uncaught error of the caller's making (issue 14, item 5): the traceback ends
    at the caller's line, with no frame under the pypper package, and the exception's
    class by its public name; its message is one line."""
    import zlib
    code, last = USER_MISTAKES[case]
    (tmp_path / "garbage.bin").write_bytes(b"\x00garbage\xff")
    (tmp_path / "v2.snap").write_bytes(b"PYPPER-SNAPSHOT 2\n" + zlib.compress(b"{}"))
    (tmp_path / "corrupt.snap").write_bytes(b"PYPPER-SNAPSHOT 1\n\x78\x9c" + bytes(range(200, 256)))
    script = tmp_path / "user.py"
    script.write_text(f"import pypper\n{code}\n")
    r = subprocess.run([STOCK if stock else DROPIN, str(script)], cwd=tmp_path,
                       env=clean_env(stock=stock), capture_output=True, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 1 and err.startswith("Traceback (most recent call last):"), err
    frames = re.findall(r'^  File "([^"]+)", line \d+, in (\S+)$', err, flags=re.M)
    assert frames and all(f == str(script) for f, _ in frames), err
    assert [fn for _, fn in frames] == (["<module>", "f"] if case == "in-a-function"
                                        else ["<module>"]), err
    import pypper
    package = os.path.dirname(pypper.__file__)
    assert package not in err and os.path.join("pypper", "") not in err, err
    assert "During handling" not in err and "direct cause" not in err, err
    lines = err.rstrip("\n").splitlines()
    assert lines[-1].startswith(last), lines[-1]


def test_the_callers_own_exception_context_is_kept(tmp_path):
    # Raised while the caller handles an exception of its own: Python shows that one
    # above (as for any exception), and none of Pypper's internal ones.
    script = tmp_path / "user.py"
    script.write_text("import pypper\ntry:\n    {}['k']\nexcept KeyError:\n"
                      "    pypper.load('nothing-here.snap')\n")
    r = subprocess.run([DROPIN, str(script)], cwd=tmp_path, env=clean_env(),
                       capture_output=True, text=True, timeout=120)
    assert "KeyError: 'k'\n\nDuring handling of the above exception" in r.stderr, r.stderr
    assert r.stderr.count("Traceback") == 2 and "pypper/" not in r.stderr, r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("FileNotFoundError: "), r.stderr


def test_pypper_log_debug_keeps_pypper_frames(tmp_path):
    # For a bug report: PYPPER_LOG=debug shows where in Pypper the error was raised.
    (tmp_path / "garbage.bin").write_bytes(b"garbage")
    r = subprocess.run([DROPIN, "-c", "import pypper; pypper.load('garbage.bin')"],
                       cwd=tmp_path, env=clean_env({"PYPPER_LOG": "debug"}),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and os.path.join("pypper", "_snapshot.py") in r.stderr, r.stderr


def test_a_bug_in_pypper_keeps_its_frames():
    # Only the caller's mistakes lose Pypper's frames: any other exception (a bug)
    # keeps them.
    import _pypper

    def inner():
        raise KeyError("a bug")
    wrapped = _pypper.public(inner, (ValueError,))
    try:
        wrapped()
    except KeyError as e:
        assert e.__traceback__ is not None
        names = []
        tb = e.__traceback__
        while tb:
            names.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        assert "inner" in names, names
    else:
        raise AssertionError("no KeyError")


def test_public_functions_keep_their_names_docs_and_signatures():
    import inspect
    import pypper
    assert pypper.start.__name__ == "start" and "tracing session" in pypper.start.__doc__
    assert pypper.start.__module__ == "pypper"
    assert str(inspect.signature(pypper.hot_objects)) == "(n=10, user=True)"
    assert str(inspect.signature(pypper.Snapshot.save)) == "(self, path)"
    assert pypper.SnapshotError.__module__ == "pypper" and issubclass(pypper.SnapshotError,
                                                                      ValueError)
    # help() shows each function with its docstring (pydoc reads __doc__ directly).
    import pydoc
    text = pydoc.render_doc(pypper.load, renderer=pydoc.plaintext)
    assert "function in module pypper" in text and "SnapshotError" in text, text


# -- usage errors of the command line ----------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["rnu", "app.py"], "python3 -m pypper: argument command: invalid choice: 'rnu'"),
    (["run", "--interval=abc", "app.py"],
     "python3 -m pypper run: argument --interval: invalid float value: 'abc'"),
    (["report"], "python3 -m pypper report: the following arguments are required: capture"),
])
def test_command_line_usage_errors_are_one_line(args, expected):
    # One line, where to read more, exit status 2; not argparse's usage text above it.
    r = run_bytes(["-m", "pypper", *args])
    assert r.returncode == 2 and r.stdout == b"", r
    lines = r.stderr.decode("ascii").splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert lines[0].endswith("--help)"), lines
