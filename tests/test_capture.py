"""`python3 -m pypper run`: the capture it records (streamed, bounded, readable after a
crash or SIGKILL), the summary it prints, the program's exit status and traceback, the
old `-o NAME=VALUE` spelling, and the one-line errors of run/report/stats/diff."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import DROPIN, SRCDIR, clean_env

from pypper import _capture

PROGRAMS = os.path.join(SRCDIR, "tests", "programs")


def pypper(*args, cwd=None, timeout=180, env=None):
    return subprocess.run([DROPIN, "-m", "pypper", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=clean_env(env))


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_run_writes_a_capture_by_default_and_says_where(tmp_path):
    prog = write(tmp_path, "app.py", "data = [bytearray(100) for _ in range(2000)]\nprint('ok')\n")
    cp = pypper("run", "--interval", "0.1", prog, cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "ok\n"
    names = [n for n in os.listdir(tmp_path) if n.endswith(".capture")]
    assert len(names) == 1 and names[0].startswith("pypper-app-"), names
    assert f"capture written to {names[0]}" in cp.stderr
    assert f"python3 -m pypper report {names[0]}" in cp.stderr
    assert "heap " in cp.stderr and "hot " in cp.stderr and "cold " in cp.stderr
    cap = _capture.load(str(tmp_path / names[0]))
    assert cap.finished and cap.end["status"] == 0
    assert cap.header["argv"][0] == prog
    # The summary's first figures are the report's cards: traced and untraced together
    # (a newcomer read the traced part as the heap's hot bytes, a third of the card's).
    from pypper import _report
    a = _report.analyze(cap)
    cards = ", ".join(f"{label.split(' ')[0]} {size}" for size, label, _ in _report._class_cards(a))
    assert cards.startswith("hot ") and f": {cards}; traced " in cp.stderr, (cards, cp.stderr)


MAIN_BUILDS_AND_RETURNS = """
import sys
def main():
    columns = [[float(i) for i in range(50_000)] for _ in range(12)]   # ~24 MB
    print(sum(len(c) for c in columns))
def helper(x):
    return x + 1
if __name__ == "__main__":
    total = 0
    for i in range(5000):          # a module-level loop: its returns are spaced out
        total = helper(total)
    main()
"""


def test_run_imports_little_before_the_program(tmp_path):
    """What `pypper run` imports before the program starts is in every run's memory
    (and the heap's figures): argparse's formatter imported shutil (with bz2 and
    lzma), the capture's header sysconfig, the run's error path traceback; 1.3 MiB
    less resident at the program's start without them. Each still works where it is
    needed: the end's summary, a program that raises."""
    script = write(tmp_path, "probe.py", textwrap.dedent("""
        import sys
        print(sorted(m for m in ("shutil", "sysconfig", "traceback", "textwrap", "shlex",
                                 "bz2", "lzma") if m in sys.modules))
        raise ValueError("late")
    """))
    cp = pypper("run", "-o", str(tmp_path / "p.capture"), script, cwd=tmp_path)
    assert cp.returncode == 1, cp.stderr
    assert cp.stdout == "[]\n", cp.stdout
    assert "ValueError: late" in cp.stderr and "open the report with:" in cp.stderr


def test_a_groups_record_is_taken_when_main_returns(tmp_path):
    """The recorder spaces its records by their cost (here: none within 100 s); the
    return of main() to the module level takes one (and a frame) while main's data
    are still there, so the report shows them, not the heap left at exit."""
    prog = write(tmp_path, "m.py", MAIN_BUILDS_AND_RETURNS)
    out = str(tmp_path / "m.capture")
    cp = pypper("run", "--interval", "100", "-o", out, prog)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "600000\n"
    recs = [json.loads(line) for line in open(out).read().splitlines()[1:]]
    groups = [r for r in recs if r["k"] == "groups"]
    # One at helper's first return (the loop's later ones within MIN_SPACING), one at
    # main's.
    assert 1 <= len(groups) <= 3, [(g["t"], g["heap"]) for g in groups]
    cap = _capture.load(out)
    assert cap.groups_record["heap"] >= 20_000_000 > cap.end["heap"], \
        (cap.groups_record["heap"], cap.end["heap"])
    # Each of those records comes with a frame of the heat of every page, from the
    # same snapshot (the heatmap has a column while main's data are there).
    frames = [r for r in recs if r["k"] == "frame"]
    assert [f["t"] for f in frames] == [g["t"] for g in groups], (frames, groups)
    shown = next(f for f in cap.frames if f.t == cap.groups_record["t"])
    assert len(shown.pages) * 4096 >= 20_000_000, len(shown.pages)
    assert "recording took" in cp.stderr


def test_main_return_wants_a_heap_grown_by_a_tenth_and_a_mib(monkeypatch):
    """A return to module level soon after a record takes another only when the heap
    grew by a tenth and by 1 MiB at least: a set-up helper called at module level 0.03 s
    in gave a newcomer's BFS a second heat frame of the start-up heap."""
    import time as _time

    class Recorder:
        last_groups = float("inf")      # just now, however long the test takes
        last_groups_heap = 3 << 20
    m = object.__new__(_capture.MainReturn)
    m.recorder = Recorder()
    for heap, worth in ((3 << 20, False), ((3 << 20) + (700 << 10), False),
                        ((4 << 20) + 1, True), (40 << 20, True)):
        monkeypatch.setattr(_capture, "heap_bytes", lambda: heap)
        assert m._worth() == worth, heap
    Recorder.last_groups = _time.monotonic() - m.MIN_SPACING    # long enough ago: any heap
    monkeypatch.setattr(_capture, "heap_bytes", lambda: 3 << 20)
    assert m._worth()


def test_main_return_takes_a_free_tool_id_or_none():
    """MainReturn uses sys.monitoring tool 5 (else 4, else 3) and gives it back; with
    none free it does nothing (no record, no error)."""
    cp = subprocess.run([DROPIN, "-c", """
import sys
from pypper import _capture
class Recorder:
    last_groups = 0.0
    last_groups_heap = 0
    calls = 0
    def groups_now(self):
        self.calls += 1
mon = sys.monitoring
r = Recorder()
m = _capture.MainReturn(r)
assert m.tool == 5 and mon.get_tool(5) == "pypper run", m.tool
m.stop()
assert mon.get_tool(5) is None
for t in (5, 4, 3):
    mon.use_tool_id(t, "the program's")
m = _capture.MainReturn(r)
assert m.tool is None
m.stop()
print("ok")
"""], capture_output=True, text=True, timeout=60, env=clean_env())
    assert cp.returncode == 0 and cp.stdout == "ok\n", cp.stderr


def test_run_output_file_and_legacy_option_spelling(tmp_path):
    prog = write(tmp_path, "cfg.py", "import pypper\nprint(pypper.config()['sample_hz'], "
                                     "pypper.config()['half_life_ms'])\n")
    out = str(tmp_path / "x.capture")
    cp = pypper("run", "-o", out, "-o", "sample_hz=50", "-O", "half_life_ms=700", prog)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == ["50", "700"]
    assert os.path.exists(out)
    cp = pypper("run", "-o", "a.capture", "-o", "b.capture", prog, cwd=tmp_path)
    assert cp.returncode == 2 and "one capture file" in cp.stderr


def test_script_exception_traceback_has_no_pypper_frames(tmp_path):
    prog = write(tmp_path, "boom.py", "def f():\n    raise ValueError('boom')\nf()\n")
    cp = pypper("run", "--no-capture", prog)
    assert cp.returncode == 1
    tb = cp.stderr
    assert tb.startswith("Traceback (most recent call last):\n"), tb
    frames = [ln for ln in tb.splitlines() if ln.startswith('  File "')]
    assert [f.split('"')[1] for f in frames] == [prog, prog], tb
    assert "runpy" not in tb and "pypper" not in tb.split("ValueError")[0]
    assert tb.rstrip().endswith("ValueError: boom")


def test_exit_status_as_python_gives_it(tmp_path):
    prog = write(tmp_path, "ex.py", "import sys\nsys.exit(3)\n")
    assert pypper("run", "--no-capture", prog).returncode == 3
    prog = write(tmp_path, "ex2.py", "import sys\nsys.exit('bad input')\n")
    cp = pypper("run", "--no-capture", prog)
    assert cp.returncode == 1 and cp.stderr.strip() == "bad input"
    # With a capture, the summary says how the program ended.
    cp = pypper("run", "-o", str(tmp_path / "ex.capture"), write(tmp_path, "ex3.py", "exit(3)\n"))
    assert cp.returncode == 3 and "pypper: the program exited with status 3" in cp.stderr, cp.stderr
    cp = pypper("run", "-o", str(tmp_path / "ok.capture"), write(tmp_path, "ok.py", "pass\n"))
    assert cp.returncode == 0 and "exited with status" not in cp.stderr, cp.stderr


def test_run_module(tmp_path):
    write(tmp_path, "mymod.py", "import sys\nprint('mod', sys.argv[1:])\n")
    cp = pypper("run", "-o", "m.capture", "-m", "mymod", "a", "b", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "mod ['a', 'b']\n"
    assert _capture.load(str(tmp_path / "m.capture")).finished


def test_killed_program_leaves_a_readable_capture(tmp_path):
    prog = write(tmp_path, "forever.py", "import time\nx = [{'k': i} for i in range(20000)]\n"
                                        "end = time.monotonic() + 120\n"
                                        "while time.monotonic() < end:\n    sum(range(1000))\n")
    out = tmp_path / "k.capture"
    p = subprocess.Popen([DROPIN, "-m", "pypper", "run", "-o", str(out), "--interval", "0.1",
                          "--overhead", "0.5", prog], env=clean_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            # A whole groups record: its line ended (the writer may be half-way
            # through the next one, or through this one).
            done = out.read_text().split("\n")[:-1] if out.exists() else []
            if any(line.startswith('{"k":"groups"') for line in done):
                break
            time.sleep(0.05)
        else:
            pytest.fail("no groups record within 90 s")
    finally:
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
    assert p.returncode == -signal.SIGKILL
    cap = _capture.load(str(out))
    assert not cap.finished
    assert cap.frames and cap.groups
    cp = pypper("stats", str(out))
    assert cp.returncode == 0 and "DID NOT FINISH" in cp.stdout, cp.stdout + cp.stderr
    # A record cut in the middle (the program died while writing it) is skipped.
    text = out.read_bytes()
    cut = tmp_path / "cut.capture"
    cut.write_bytes(text + b'{"k":"frame","t":1.0,"ps":40')
    assert _capture.load(str(cut)).truncated
    assert pypper("report", str(cut), "-o", str(tmp_path / "cut.html")).returncode == 0


def _synthetic_frame(i):
    pages = list(range(2000))
    return {"k": "frame", "t": float(i), "ps": 4096, "base": 1 << 30,
            "pages": _capture._encode([[0] + [1] * 1999, [(i * p) % 9999 for p in pages], []]),
            "sites": {}}


def test_capture_is_bounded_and_readable_while_thinned(tmp_path):
    path = str(tmp_path / "b.capture")
    w = _capture.CaptureWriter(path, {"argv": ["x"]}, max_bytes=200_000, max_frames=1000)
    w.write({"k": "groups", "t": 0.0, "heap": 10, "groups": []})
    w.write({"k": "groups", "t": 0.5, "heap": 99, "groups": []})      # the peak
    sizes = []
    for i in range(300):
        w.write(_synthetic_frame(i))
        if i % 7 == 0:
            w.write({"k": "groups", "t": float(i), "heap": 50, "groups": []})
        sizes.append(os.path.getsize(path))
        if i % 50 == 0:
            _capture.load(path)            # readable at every instant
    w.close()
    assert w.thinned >= 2
    assert max(sizes) <= 200_000             # the cap (room kept for the end record)
    cap = _capture.load(path)
    assert cap.groups_record["heap"] == 99   # the peak survives thinning
    assert cap.groups_record["t"] == 0.5     # (the later ones are far below it)
    ts = [f.t for f in cap.frames]
    assert ts == sorted(ts) and ts[-1] >= 250 and len(ts) < 300
    assert cap.frames[0].pages[:3] == [1 << 30, (1 << 30) + 4096, (1 << 30) + 8192]


def test_options_into_a_closed_pipe_is_quiet():
    cp = subprocess.run(f"{DROPIN} -m pypper options | head -1", shell=True,
                        capture_output=True, text=True, timeout=60, env=clean_env())
    assert cp.returncode == 0
    assert cp.stdout.startswith("PYPPER_")
    assert "Error" not in cp.stderr and "Traceback" not in cp.stderr, cp.stderr


@pytest.mark.parametrize("cmd", ["report", "stats", "diff"])
def test_bad_captures_one_line_exit_2(tmp_path, cmd):
    binary = tmp_path / "bin.capture"
    binary.write_bytes(bytes(range(256)) * 4)
    snap = tmp_path / "snap.capture"
    snap.write_bytes(b"PYPPER-SNAPSHOT 1\n" + bytes(range(200)))
    future = tmp_path / "v9.capture"
    future.write_bytes(b"PYPPER-CAPTURE 9\n\x00\xff")
    corrupt = tmp_path / "corrupt.capture"
    corrupt.write_text('PYPPER-CAPTURE 1\n{"k":"header"}\n\x01garbage\n{"k":"end"}\n')
    unreadable = tmp_path / "dir.capture"
    unreadable.mkdir()
    future_header = tmp_path / "h99.capture"
    future_header.write_text('PYPPER-CAPTURE 1\n{"k":"header","format_version":99}\n')
    cases = {str(tmp_path / "missing.capture"): "no such file", str(binary): "not a pypper capture",
             str(snap): "a snapshot", str(future): "unsupported capture version",
             str(future_header): "unsupported capture version '99' in its header",
             str(corrupt): "line 3: corrupt record", str(unreadable): "is a directory"}
    for path, words in cases.items():
        args = [cmd, path] + ([path] if cmd == "diff" else [])
        cp = pypper(*args)
        assert cp.returncode == 2, (path, cp.stderr)
        lines = cp.stderr.splitlines()
        assert len(lines) == 1 and words in lines[0], (path, cp.stderr)
        assert lines[0].isprintable() and "Traceback" not in cp.stderr


def test_run_errors_one_line_exit_2(tmp_path):
    for args, words in ((["run", str(tmp_path / "nope.py")], "no such file"),
                        (["run", "-O", "sample_hz", "x.py"], "NAME=VALUE"),
                        (["run", "-O", "no_such_option=1", str(tmp_path)], "not a file"),
                        (["run", "-o", str(tmp_path / "no" / "dir.capture"),
                          write(tmp_path, "ok.py", "")], "cannot write the capture")):
        cp = pypper(*args)
        assert cp.returncode == 2, (args, cp.stderr)
        assert len(cp.stderr.splitlines()) == 1 and words in cp.stderr, (args, cp.stderr)


def test_outputs_never_overwrite_what_pypper_did_not_write(tmp_path):
    # A newcomer's `run -o small.py small.py` replaced the script with the capture and
    # then ran the capture as Python. Each command now writes over a file only if it
    # is empty or one like it wrote before: run a capture, report a report, heatmap a
    # PNG; anything else is left alone with one line and exit 2.
    script = write(tmp_path, "small.py", "print('hi')\n")
    other = write(tmp_path, "other.txt", "notes\n")
    cap = str(tmp_path / "a.capture")
    for args in (["run", "-o", script, script], ["run", "-o", other, script]):
        cp = pypper(*args)
        assert cp.returncode == 2 and len(cp.stderr.splitlines()) == 1, (args, cp.stderr)
        assert "exists and is not a Pypper capture" in cp.stderr, cp.stderr
    assert open(script).read() == "print('hi')\n" and open(other).read() == "notes\n"
    for _ in range(2):                              # a capture over a capture
        cp = pypper("run", "-o", cap, script)
        assert cp.returncode == 0 and "hi" in cp.stdout, cp.stderr
    html = str(tmp_path / "r.html")
    for args, words in ((["report", cap, "-o", script], "is not a Pypper report"),
                        (["report", cap, "-o", cap], "is not a Pypper report"),
                        (["heatmap", cap, "-o", script], "is not a PNG image")):
        cp = pypper(*args)
        assert cp.returncode == 2 and len(cp.stderr.splitlines()) == 1, (args, cp.stderr)
        assert words in cp.stderr, (args, cp.stderr)
    assert open(script).read() == "print('hi')\n" and _capture.load(cap).end is not None
    for _ in range(2):                              # a report over a report
        assert pypper("report", cap, "-o", html).returncode == 0
    empty = tmp_path / "empty.html"
    empty.write_text("")
    assert pypper("report", cap, "-o", str(empty)).returncode == 0
    assert "<title>Pypper report" in empty.read_text()


def test_a_run_that_ends_before_any_record_says_so(tmp_path):
    # os._exit 0.2 s in: no record of the heap was taken. stats printed "heap 0 B" and
    # figures of 0 with no word why; now one line says there are none and why.
    from pypper import _report
    prog = write(tmp_path, "quick.py", "import os\ndata = [[i] * 3 for i in range(300000)]\nos._exit(4)\n")
    cap = str(tmp_path / "q.capture")
    cp = pypper("run", "--interval", "5", "-o", cap, prog)
    assert cp.returncode == 4, cp.stderr
    cp = pypper("stats", cap)
    assert cp.returncode == 0, cp.stderr
    assert "no figures: the capture holds no record of the heap; it ended without Pypper's " \
           "record at exit (os._exit, a signal or a crash) before the recorder's first record " \
           "(one every 5 s)" in cp.stdout, cp.stdout
    assert "heap 0 B" not in cp.stdout
    html = _report.render_html(_report.analyze(_capture.load(cap)))
    assert "No figures: the capture holds no record of the heap" in html


def test_diff_of_two_runs(tmp_path):
    """The program's own sites first, untraced bytes counted (a dict of bytearrays is
    not tracked by the collector: the live trace does not take it), library sites
    folded into one line."""
    write(tmp_path, "app.py", "import sys, time\nn = int(sys.argv[1])\n"
                              "x = [bytearray(1000) for _ in range(n)]\n"
                              "d = {i: bytearray(100) for i in range(n)}\n"
                              "time.sleep(0.6)\n")
    for name, n in (("a", "3000"), ("b", "9000")):
        cp = pypper("run", "-o", f"{name}.capture", "--interval", "0.1", "--overhead", "0.9",
                    "app.py", n, cwd=tmp_path)
        assert cp.returncode == 0, cp.stderr
    cp = pypper("diff", "a.capture", "b.capture", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    heap = next(ln for ln in lines if ln.strip().startswith("heap"))
    assert "(+" in heap, cp.stdout
    # The summaries' cards (traced and untraced together) lead, then their traced part.
    labels = [ln.split()[0] + (" " + ln.split()[1] if ln.split()[1] == "(traced)" else "")
              for ln in lines[2:12] if ln.startswith("  ")]
    assert labels[:9] == ["heap", "traced", "untraced", "hot", "warm", "cold",
                          "hot (traced)", "warm (traced)", "cold (traced)"], cp.stdout
    from pypper import _capture, _report
    an = [_report.analyze(_capture.load(str(tmp_path / f"{x}.capture"))) for x in "ab"]
    cards = [dict((k, size) for size, _, k in _report._class_cards(x)) for x in an]
    hot = next(ln for ln in lines if ln.split()[0] == "hot")
    assert f"{cards[0]['hot']} ->" in hot and f"-> {cards[1]['hot']:>10}" in hot, (hot, cards)
    start = lines.index("by allocation site (largest changes, the program's first):")
    end = lines.index("by type (largest changes, the program's first):")
    sites = lines[start + 1:end]
    assert sites[0].split()[0].startswith("+") and sites[0].endswith("app.py:3 (<module>)"), cp.stdout
    dict_site = next(ln for ln in sites if ln.endswith("app.py:4 (<module>)"))
    # 6,000 more bytearrays of 100 bytes and the dict's entries: at least 600 KB.
    grown = re.search(r"\+([\d.]+) (B|KiB|MiB|GiB) \(hot \S+ \S+, warm \S+ \S+, cold ", dict_site)
    assert grown and _report_bytes(*grown.groups()) >= 600_000, dict_site
    assert not any("python3.12/" in ln or "<frozen" in ln for ln in sites), cp.stdout
    # By type: the program's types only; Pypper's own objects (its recorder) and the
    # interpreter's and libraries' types are in the folded line.
    types_end = next(i for i, ln in enumerate(lines) if ln.startswith("moved A:"))
    shown = [ln.split()[-1] for ln in lines[end + 1:types_end] if ")  " in ln]
    # (The bytearrays are untraced mostly: the collector does not track them.)
    assert set(shown) <= {"bytearray", "list", "dict", "int", "tuple", "str"}, cp.stdout
    assert "Recorder" not in cp.stdout and "MainReturn" not in cp.stdout, cp.stdout


def test_diff_says_when_runs_are_hardly_comparable():
    """Captures of two programs, or runs of very different lengths, get a note."""
    from pypper import _report
    def a(argv, seconds):
        return {"header": {"argv": argv}, "seconds": seconds}
    assert _report.diff_notes(a(["/x/app.py", "1"], 4.0), a(["app.py", "2"], 5.0)) == []
    notes = _report.diff_notes(a(["/x/app.py"], 4.0), a(["other.py"], 4.2))
    assert notes == ["note: two different programs (app.py and other.py)"], notes
    notes = _report.diff_notes(a(["app.py"], 2.0), a(["app.py"], 8.0))
    assert len(notes) == 1 and notes[0].startswith("note: runs of 2 s and 8 s"), notes
    assert _report.diff_notes(a(["app.py"], 20.0), a(["app.py"], 60.0)) == []   # both long
    assert _report.diff_notes(a(["app.py"], None), a([], 60.0))[0].startswith("note: two")


def _report_bytes(number, unit):
    return float(number) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def test_chosen_groups_is_the_last_near_the_peak():
    assert _capture.chosen_groups([]) is None
    assert _capture.chosen_groups([5]) == 0
    assert _capture.chosen_groups([10, 100, 95, 20]) == 2     # 95 >= 0.9 x 100
    assert _capture.chosen_groups([10, 100, 89, 20]) == 1
    assert _capture.chosen_groups([100, 100, 100]) == 2


def _groups(t, heap):
    return {"k": "groups", "t": t, "heap": heap, "groups": [], "untraced": []}


@pytest.mark.parametrize("end_heap, shown_t", [(70, 2.0), (960, 3.0), (None, 2.0)])
def test_report_shows_the_latest_state_near_the_peak(tmp_path, end_heap, shown_t):
    """A program that loads its data, then works on it, then returns (freeing it):
    the figures shown are the last ones taken while the data was all there, not
    those of the end of its loading (the largest heap by a little) nor those at exit
    (most of it freed); the end record when it still had the data."""
    path = str(tmp_path / "c.capture")
    w = _capture.CaptureWriter(path, {"argv": ["x"]})
    w.write(_synthetic_frame(0))
    w.write(_groups(1.0, 1000))         # loading just ended
    w.write(_groups(2.0, 980))          # working on it
    if end_heap is not None:
        w.write(dict(_groups(3.0, end_heap), k="end", status=0, seconds=3.0))
    w.close()
    cap = _capture.load(path)
    assert cap.groups_record["t"] == shown_t
    assert cap.finished == (end_heap is not None)


def test_thinning_keeps_the_record_shown(tmp_path):
    path = str(tmp_path / "t.capture")
    w = _capture.CaptureWriter(path, {"argv": ["x"]}, max_bytes=10 ** 9, max_frames=8)
    w.write(_groups(0.5, 1000))         # the peak
    w.write(_groups(1.5, 950))          # the record shown
    for i in range(20):                 # then the data is dropped: far below the peak
        w.write(_synthetic_frame(i))
        w.write(_groups(2.0 + i, 100))
    w.close()
    assert w.thinned >= 1
    cap = _capture.load(path)
    assert cap.groups_record["t"] == 1.5


def test_a_record_whose_estimated_cost_passes_the_budget_is_skipped():
    """The recorder estimates a record's CPU cost (10 ms, 0.12 us a traced object and a cost
    per heap byte learned from the last record) and skips it when it would take the
    recording past its share of the run (Tools/demo: a pair that cost 0.46 s early
    took 11 s later); before the first, from the cost per object alone (a 1 s program
    with 1.3 million objects spent 0.84 s recording: its first record was always
    taken)."""
    import time as _time
    r = object.__new__(_capture.Recorder)
    r.byte_cost = 0.0
    r.cost, r.started = 0.5, _time.monotonic() - 10.0       # 10 s into the run
    # Nothing learned yet: 0.12 us a traced object.
    assert r._affordable((1, 1), 0.05)
    assert r._affordable((10 << 20, 300_000), 0.05)              # +0.046 s
    assert not r._affordable((10 << 20, 1_300_000), 0.05)        # +0.166 s
    r.cost, r.started = 0.0, _time.monotonic() - 1.0        # a newcomer's 1 s program
    assert not r._affordable((170 << 20, 1_300_000), 0.05)
    assert r._affordable((170 << 20, 1_300_000), 0.25, _capture.MAIN_RETURN_ALLOWANCE)
    # What the objects do not explain is the heap's: 0.1 s for 10 MiB and 100,000
    # objects leaves 0.078 s for the 10 MiB (10 ms a record whatever its size).
    r._learn(0.1, (10 << 20, 100_000))
    assert r.byte_cost == pytest.approx(0.078 / (10 << 20))
    assert r.estimate((20 << 20, 100_000)) == pytest.approx(0.178)
    r.cost, r.started = 0.5, _time.monotonic() - 10.0
    # 0.05 x 10 s + 0.1 = 0.6 s of budget, 0.5 s spent.
    assert r._affordable((10 << 20, 100_000), 0.05)                    # +0.1 s
    assert not r._affordable((10 << 20, 500_000), 0.05)                # objects: +0.148 s
    assert not r._affordable((30 << 20, 100_000), 0.05)                # bytes: +0.256 s
    # main()'s return: 0.25 of the run plus 1 s.
    assert r._affordable((100 << 20, 1_000_000), 0.25, _capture.MAIN_RETURN_ALLOWANCE)
    assert not r._affordable((400 << 20, 3_000_000), 0.25, _capture.MAIN_RETURN_ALLOWANCE)


def test_an_early_small_record_does_not_price_later_ones_out():
    """Measured costs: the demo's first record (0.5 s in: 65 MB, 66,000 objects) cost
    0.155 s; at main()'s return (352 MB, 2.8 million objects) one costs about 1.1 s.
    Priced per object from the first (2.3 us), it came to 6.5 s, past main()'s
    allowance, and the report showed the heap at 0.5 s. lru.py: 0.023 s at 7.7 MB and
    25,000 objects, then about 0.1 s at 34 MB and 180,000: priced at 0.17 s, every
    record was skipped until main() returned."""
    import time as _time
    r = object.__new__(_capture.Recorder)
    r.byte_cost, r.cost = 0.0, 0.0
    r._learn(0.155, (65_000_000, 66_000))
    r.cost, r.started = 0.155, _time.monotonic() - 6.7
    assert 1.0 <= r.estimate((352_000_000, 2_800_000)) <= 2.0
    assert r._affordable((352_000_000, 2_800_000), 0.25, _capture.MAIN_RETURN_ALLOWANCE)
    r.byte_cost, r.cost = 0.0, 0.0
    r._learn(0.023, (7_700_000, 25_000))
    r.cost, r.started = 0.023, _time.monotonic() - 1.0
    assert 0.06 <= r.estimate((34_000_000, 180_000)) <= 0.13
    assert r._affordable((34_000_000, 180_000), 0.05)
    # The record at a program's start (0.009 s: 3 MiB, 12,000 objects) is mostly the
    # record's own work: priced per byte, it put a newcomer's LRU cache (105 MiB, 1.76
    # million objects; records there cost 0.09 s) at 0.49 s, and no record was taken
    # between 0.02 s and 6 s.
    r.byte_cost, r.cost = 0.0, 0.0
    r._learn(0.009, (3_074_208, 11_828))
    r.cost, r.started = 0.009, _time.monotonic() - 3.0
    assert r.estimate((110_000_000, 1_760_000)) <= 0.25
    assert r._affordable((110_000_000, 1_760_000), 0.05)


# Builds its data after the recorder's first record (as lru.py fills its cache and
# log), then works on it until killed.
LONG_RUN = """
import time
def main():
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        sum(range(1000))
    data = [[i, i] for i in range(250_000)]             # 250,000 lists: ~28 MB
    end = time.monotonic() + 120
    while time.monotonic() < end:
        sum(range(1000))
    return data
main()
"""


def test_a_killed_long_run_has_groups_records_of_its_data(tmp_path):
    """A run that lives long enough gets groups records while it runs, within the
    default --overhead: killed, its capture shows its data (lru.py killed at 6 s had
    one groups record, from 0.013 s: 7 MiB of a 34 MiB heap, only an import's site)."""
    prog = write(tmp_path, "long.py", LONG_RUN)
    out = tmp_path / "l.capture"
    p = subprocess.Popen([DROPIN, "-m", "pypper", "run", "-o", str(out), "--interval", "0.2",
                          prog], env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60       # (the program stops by itself at 120 s)
        while time.monotonic() < deadline:
            done = out.read_text().split("\n")[:-1] if out.exists() else []
            recs = [json.loads(line) for line in done if line.startswith('{"k":"groups"')]
            with_data = [r["t"] for r in recs if r["heap"] >= 25_000_000]
            if with_data:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"no groups record with the data within 60 s: "
                        f"{[(r['t'], r['heap']) for r in recs]}")
    finally:
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
    # The data are there from about 0.6 s; a record costs about 0.1 s, so the
    # recorder's 5% pays for one every 2 s (the old recorder's first came after 30 s).
    assert with_data[0] <= 10.0, with_data
    cap = _capture.load(str(out))
    assert not cap.finished and cap.heap >= 25_000_000
    # The lists' line: traced lists, and those not traced yet.
    at_line = (sum(g["bytes"] + g["owned"] for g in cap.groups
                   if g["site"].startswith(f"{prog}:7 "))
               + sum(u["bytes"] for u in cap.untraced if u["site"].startswith(f"{prog}:7 ")))
    assert at_line >= 20_000_000, at_line


@pytest.mark.parametrize("ending, status", [("raise RuntimeError('crash after work')", 1),
                                            ("sys.exit(3)", 3)])
def test_main_ending_by_an_exception_takes_the_record(tmp_path, ending, status):
    """main() leaving by an exception gets the record main()'s return gets, with its
    data (lru_raise.py's report showed the 7 MiB left at exit), and the traceback
    stays the program's own."""
    prog = write(tmp_path, "r.py", textwrap.dedent(f"""
        import sys
        def main():
            columns = [[float(i) for i in range(50_000)] for _ in range(12)]   # ~24 MB
            {ending}
        main()
    """))
    out = str(tmp_path / "r.capture")
    cp = pypper("run", "--interval", "100", "-o", out, prog)
    assert cp.returncode == status, cp.stderr
    cap = _capture.load(out)
    assert cap.groups_record["heap"] >= 20_000_000 > cap.end["heap"], \
        (cap.groups_record["heap"], cap.end["heap"])
    assert cap.groups_record["k"] == "groups"
    if status == 1:
        files = re.findall(r'File "([^"]+)"', cp.stderr)
        assert files == [prog, prog], cp.stderr
        assert "RuntimeError: crash after work" in cp.stderr


def _sized(kind, t, size, heap=0):
    """A record of about `size` bytes (its padding incompressible text)."""
    rec = {"k": kind, "t": t, "heap": heap, "groups": [], "untraced": []}
    if kind == "frame":
        rec = _synthetic_frame(int(t))
    rec["pad"] = "x" * max(0, size - len(json.dumps(rec, separators=(",", ":"))))
    return rec


class _SizeProbe(_capture.CaptureWriter):
    """The file's size after every line written (a program killed then leaves that)."""
    sizes = None

    def _write_line(self, text):
        super()._write_line(text)
        if self.sizes is not None:
            self.sizes.append(os.path.getsize(self.path))


def test_max_size_holds_with_its_fixed_records(tmp_path):
    """--max-size is a bound on the file, end record included: frames are thinned, a
    record that cannot fit is dropped (bfs.py with --max-size 65536 gave 118,407
    bytes, its groups and end records alone past the bound); the file stays readable
    at every instant and keeps frames over the whole run."""
    path = str(tmp_path / "m.capture")
    bound = 400_000
    w = _SizeProbe(path, {"argv": ["x"]}, max_bytes=bound)
    w.sizes = sizes = []
    for i in range(100):
        w.write(_sized("frame", i, 12_000))
        w.write(_sized("groups", i, 30_000, heap=1000 + i))
        if i % 10 == 0:
            _capture.load(path)
    w.write(_sized("end", 100, 36_000, heap=10))
    w.close()
    assert max(sizes) <= bound, max(sizes)
    assert w.thinned >= 2
    cap = _capture.load(path)
    assert cap.finished and cap.groups_record["t"] == 99
    ts = [f.t for f in cap.frames]
    assert len(ts) >= 4 and ts[0] == 0 and ts[-1] >= 50, ts


def test_help_is_plain_text_and_says_how_to_start():
    """No reStructuredText markup in any --help (it showed ``python3 -m pypper``)."""
    top = pypper("--help")
    assert top.returncode == 0 and "python3 -m pypper run app.py" in top.stdout
    for cmd in ((), ("options",), ("run",), ("heatmap",), ("report",), ("stats",), ("diff",)):
        cp = pypper(*cmd, "--help")
        assert cp.returncode == 0, (cmd, cp.stderr)
        assert "`" not in cp.stdout, (cmd, cp.stdout)


def test_summary_folds_to_the_terminal_only_between_words():
    from pypper.__main__ import wrap_summary
    unbreakable = "/a/very/long/path/" + "x" * 130      # one word longer than the width
    long = "pypper: backend sim; moved: " + "word " * 40 + unbreakable
    short = "pypper: open the report with: python3 -m pypper report c.capture"
    out = wrap_summary(["", short, long, "pypper:   hottest: " + "y " * 60], 80)
    assert out[:2] == ["", short]
    assert all(ln.startswith("pypper: ") for ln in out[1:])
    assert all(len(ln) <= 79 for ln in out if unbreakable not in ln)
    assert any(ln.endswith(unbreakable) for ln in out)          # kept whole, not broken
    folded = wrap_summary([long], 80)
    assert len(folded) > 2
    assert " ".join(ln[len("pypper: "):].strip() for ln in folded) == long[len("pypper: "):].strip()
    assert out[-1].startswith("pypper:     y")                # under the text of its line
    assert wrap_summary([long], 300) == wrap_summary([long], 121)  # at most 120 columns


@pytest.mark.parametrize("flag, value", [("--overhead", "0"), ("--overhead", "-1"),
                                         ("--overhead", "nan"), ("--overhead", "1.5"),
                                         ("--interval", "0"), ("--interval", "-1"),
                                         ("--interval", "inf"), ("--max-size", "0"),
                                         ("--max-size", "-5"), ("--max-size", "65536")])
def test_bad_recorder_arguments_are_one_line(tmp_path, flag, value):
    prog = write(tmp_path, "app.py", "print('ran')\n")
    cp = pypper("run", flag, value, prog, cwd=tmp_path)
    assert cp.returncode == 2 and cp.stdout == "", (cp.stdout, cp.stderr)
    assert cp.stderr.count("\n") == 1 and cp.stderr.startswith(f"pypper: run: {flag} "), cp.stderr
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".capture")]


def test_a_missing_module_is_one_line_and_no_capture(tmp_path):
    cp = pypper("run", "-m", "no_such_module_xyz", cwd=tmp_path)
    assert cp.returncode == 2 and cp.stdout == "", cp.stdout
    assert cp.stderr == ("pypper: run: cannot run -m no_such_module_xyz: no module named "
                         "'no_such_module_xyz'\n"), cp.stderr
    assert not os.listdir(tmp_path)


def test_a_script_runs_as_python_runs_it(tmp_path):
    """__file__ absolute (a program that changes directory finds its files), argv[0] as
    typed, __builtins__ the module, and __main__ in sys.modules (pickle finds the
    script's classes), as under python3 itself."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "data.txt").write_text("data\n")
    write(tmp_path / "src", "prog.py", textwrap.dedent("""
        import builtins, os, pickle, sys
        class Point:
            pass
        here = os.path.dirname(os.path.realpath(__file__))
        # sys.path[0]: the script's directory, symlinks resolved; the working directory
        # (where `python3 -m pypper` was started) not on the path.
        print(sys.path[0] == os.path.dirname(os.path.realpath(__file__)),
              os.getcwd() in sys.path)
        os.chdir("/")
        print(os.path.isabs(__file__), sys.argv[0], __builtins__ is builtins,
              sys.modules["__main__"].Point is Point, type(__spec__).__name__)
        print(open(os.path.join(here, "data.txt")).read().strip(),
              type(pickle.loads(pickle.dumps(Point()))).__name__)
    """))
    os.symlink(tmp_path / "src" / "prog.py", tmp_path / "link.py")
    for script in ("src/prog.py", "link.py"):
        want = subprocess.run([sys.executable, script], cwd=tmp_path, capture_output=True,
                              text=True, env=clean_env(stock=True))
        assert want.stdout == (f"True False\nTrue {script} True True NoneType\n"
                               "data Point\n"), want
        cp = pypper("run", "--no-capture", script, cwd=tmp_path)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout == want.stdout


def test_compiled_scripts_run_and_report_goes_to_stdout(tmp_path):
    write(tmp_path, "app.py", "print('compiled ran')\n")
    subprocess.run([sys.executable, "-c", "import py_compile; "
                    "py_compile.compile('app.py', cfile='app.pyc')"], cwd=tmp_path, check=True)
    cp = pypper("run", "-o", "c.capture", "app.pyc", cwd=tmp_path)
    assert cp.returncode == 0 and cp.stdout == "compiled ran\n", cp.stderr
    cp = pypper("report", "c.capture", "-o", "-", cwd=tmp_path)
    assert cp.returncode == 0 and cp.stdout.startswith("<!DOCTYPE html>"), cp.stdout[:80]
    assert not (tmp_path / "-").exists()


def test_sites_show_paths_relative_to_where_the_run_started(tmp_path):
    """A script's code carries its absolute path (as under python3); the summary and
    stats show the program's lines relative to the run's working directory."""
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg", "app.py", "import time\nkeep = [[i] for i in range(20000)]\n"
                                      "time.sleep(0.3)\n")
    cp = pypper("run", "-o", "r.capture", "--interval", "0.1", "pkg/app.py", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert " at pkg/app.py:2 (<module>)" in cp.stderr, cp.stderr
    assert str(tmp_path) not in cp.stderr.replace(f"{tmp_path}/r.capture", "")
    st = pypper("stats", "r.capture", cwd=tmp_path)
    assert "pkg/app.py:2 (<module>)" in st.stdout and str(tmp_path / "pkg") not in st.stdout


def test_fork_under_pypper_run_does_not_warn(tmp_path):
    """The capture recorder is a Python thread the program did not start: it ends
    before a fork() and starts again in the parent, so CPython 3.12's warning about
    fork() in a multi-threaded process (counted after the fork, before the parent's
    hooks) is not caused by it, and it goes on recording after."""
    prog = tmp_path / "forker.py"
    prog.write_text(textwrap.dedent("""
        import os, time, warnings
        warnings.simplefilter("always")
        data = [[i] for i in range(50000)]
        for k in range(3):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            time.sleep(0.3)
        print("forked", k + 1)
    """))
    cap = tmp_path / "f.capture"
    r = subprocess.run([DROPIN, "-m", "pypper", "run", "-o", str(cap), "--interval", "0.1",
                        "--overhead", "1", str(prog)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "forked 3\n" and "multi-threaded" not in r.stderr, r.stderr
    from pypper import _capture
    c = _capture.load(str(cap))
    assert c.end["recorder"]["forks"] == 3, c.end["recorder"]
    assert [f for f in c.frames if f.t > 0.4], [f.t for f in c.frames]   # after the forks too


def test_recorder_fork_hooks_keep_its_schedule_and_its_stop(tmp_path):
    """Around a fork the recorder's thread ends and starts again with its next
    record's time unchanged (a program that forks more often than the interval
    still gets records); a recorder stopped for good is not started again by a
    fork, whatever the order of stop() and the hooks."""
    code = textwrap.dedent(f"""
        import os, threading, pypper
        from pypper import _capture, _session
        pypper.start()
        w = _capture.CaptureWriter({str(tmp_path / "r.capture")!r}, {{"argv": ["x"]}})
        r = _capture.Recorder(w, 60.0, _session.lock)
        due = r._due
        def threads():
            return len(os.listdir("/proc/self/task"))
        before = threads()
        r._before_fork()
        assert r._halted_for_fork and threads() == before - 1, (threads(), before)
        r._after_fork_parent()
        assert r.forks == 1 and r._due == due and threads() == before
        # stop() between the hooks (a fork while `pypper run` ends): no restart.
        r._before_fork()
        r.stop()
        r._after_fork_parent()
        assert r.forks == 1 and r._finished and threads() == before - 1
        # After stop(), a fork's hooks do nothing.
        r._before_fork()
        r._after_fork_parent()
        assert r.forks == 1 and threads() == before - 1
        w.close()
        pypper.end()
        print("ok")
    """)
    r = subprocess.run([DROPIN, "-c", code], capture_output=True, text=True, timeout=120,
                       env=clean_env())
    assert r.returncode == 0 and r.stdout == "ok\n", r.stdout + r.stderr


def test_the_report_command_names_this_interpreter(tmp_path):
    """The summary's last line is a command to type: `python3` only when the PATH's
    python3 is this interpreter, else its path (./python3 under the current
    directory)."""
    from pypper.__main__ import interpreter_shown
    exe = tmp_path / "bin" / "python3"
    exe.parent.mkdir()
    exe.write_text("")
    other = tmp_path / "other-python3"
    other.write_text("")
    assert interpreter_shown(str(exe), str(exe), str(tmp_path)) == "python3"
    assert interpreter_shown(str(exe), str(other), str(tmp_path)) == "./bin/python3"
    assert interpreter_shown(str(exe), None, str(tmp_path / "bin")) == "./python3"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert interpreter_shown(str(exe), "", str(elsewhere)) == str(exe)


def test_at_shows_the_record_nearest_to_a_time(tmp_path):
    """`stats`/`report`/`diff --at T` show the groups record taken nearest to T seconds
    into the run (a program analysing its data after main() returns makes its largest
    heap then, and the default choice showed that analysis); `stats` lists the times;
    a bad T is one line and exit 2."""
    prog = write(tmp_path, "m.py", MAIN_BUILDS_AND_RETURNS)
    cp = pypper("run", "--interval", "100", "-o", "c.capture", prog, cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    cap = _capture.load(str(tmp_path / "c.capture"))
    times = cap.record_times
    assert len(times) >= 2 and times == sorted(times), times      # main()'s return among them
    first = _capture.load(str(tmp_path / "c.capture"), at=0.0)
    last = _capture.load(str(tmp_path / "c.capture"), at=1e9)
    assert round(first.groups_record["t"], 2) == times[0]
    assert round(last.groups_record["t"], 2) == times[-1]
    st = pypper("stats", "--at", "0", "c.capture", cwd=tmp_path)
    assert st.returncode == 0, st.stderr
    assert "figures by site and type recorded at " in st.stdout and "--at T shows another" in st.stdout
    assert f"(shown: {times[0]:g} s;" in st.stdout, st.stdout[:600]
    for bad in ("-1", "nan", "inf", "soon"):
        cp = pypper("report", "--at", bad, "c.capture", cwd=tmp_path)
        assert cp.returncode == 2 and "Traceback" not in cp.stderr, cp.stderr
        assert "argument --at: expected seconds into the run" in cp.stderr
        assert len(cp.stderr.strip().splitlines()) <= 2, cp.stderr
    d = pypper("diff", "--at", "0", "c.capture", "c.capture", cwd=tmp_path)
    assert d.returncode == 0, d.stderr
