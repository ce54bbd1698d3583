"""The allocator suite (Tools/bench/alloc_bench.py) cannot rot: the launcher's fault
counts, the parsers and the row arithmetic, every program's checksum under both
interpreters at a tiny scale, and the runner end to end in --quick mode on two tiny
rows and the give-back check. Structure and consistency only: the timing, fault and
RSS targets are the benchmark's to report, never asserted here."""

import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys

import pytest

from conftest import BUILDDIR, DROPIN, SRCDIR, STOCK, clean_env

BENCH = os.path.join(SRCDIR, "Tools", "bench", "alloc_bench.py")
PEAKRSS = os.path.join(BUILDDIR, "build", "tools", "peakrss")

spec = importlib.util.spec_from_file_location("alloc_bench", BENCH)
ab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ab)

ISSUE_11_ROWS = {"tmp_bytes", "tmp_str", "tmp_list", "tmp_bytearray", "list_growth", "copy_join",
                 "dict_growth", "set_build", "json_large", "request_loop", "resident_heap"}
ORIGINAL_ROWS = {"binary_trees", "buffers", "churn", "containers", "json_roundtrip",
                 "nbody", "oo_sim", "strings"}
# Patterns found later that a session must not make costlier (see each program).
LATER_ROWS = {"fork_tasks"}


# -- the launcher ----------------------------------------------------------------------

def test_peakrss_reports_faults_and_status():
    code = "import sys; b = bytearray(40 << 20); b[::4096] = b'x' * (10 << 10); sys.exit(3)"
    r = subprocess.run([PEAKRSS, STOCK, "-c", code], capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert r.returncode == 3
    wall, rss_kb, status, minflt, majflt = ab.parse_peakrss(r.stderr)
    assert status == 3 and wall > 0 and majflt >= 0
    assert minflt >= 10 << 10                    # every page of 40 MiB written once
    assert rss_kb >= 40 << 10
    user, sys_s = ab.parse_peakrss_cpu(r.stderr)
    assert user + sys_s > 0                      # writing 40 MiB takes CPU time


def test_parse_peakrss():
    assert ab.parse_peakrss("noise\npeakrss: 1.250000 2048 0 1500 2\n") == (1.25, 2048, 0, 1500, 2)
    assert ab.parse_peakrss("peakrss: 1.250000 2048 0\n") is None     # the old format
    assert ab.parse_peakrss("peakrss: 1.25 2048 0 1 2\ntrailing\n") is None
    assert ab.parse_peakrss("") is None
    line = "peakrss: 1.250000 2048 0 1500 2 0.900000 0.050000\n"
    assert ab.parse_peakrss(line) == (1.25, 2048, 0, 1500, 2)
    assert ab.parse_peakrss_cpu(line) == (0.9, 0.05)
    assert ab.parse_peakrss_cpu("peakrss: 1.250000 2048 0 1500 2\n") == (0.0, 0.0)


# -- parsers and arithmetic ------------------------------------------------------------

def test_parse_phases_and_giveback():
    out = "phase 4K 0.5 10\nphase 8M 1.0 300\nphase 4K 0.25 5\nchecksum 1\nphase bad x 1\n"
    assert ab.parse_phases(out) == {"4K": [0.75, 15], "8M": [1.0, 300]}
    assert list(ab.parse_phases(out)) == ["4K", "8M"]
    g = ab.parse_giveback("giveback start_kb=1 built_kb=20 freed_kb=3 after_kb=2\nchecksum 9\n")
    assert g == {"start_kb": 1, "built_kb": 20, "freed_kb": 3, "after_kb": 2}
    assert ab.parse_giveback("checksum 9\n") is None


def test_alternating_order_and_early_stop():
    assert list(ab.alternating(4)) == [("stock", "ours"), ("ours", "stock")] * 2
    assert not ab.should_stop_early([2.9])
    assert ab.should_stop_early([10.5])
    assert not ab.should_stop_early([3.5, 2.9])
    assert ab.should_stop_early([3.5, 3.1])
    assert not ab.should_stop_early([1.0, 1.0, 50.0])


def test_summarize():
    samples = {"stock": {"wall": [1.0, 1.2, 1.1], "minflt": [1000, 1100, 1050],
                         "majflt": [0, 0, 1], "rss_kb": [10_000, 10_200, 10_100]},
               "ours": {"wall": [1.0, 1.4, 1.3], "minflt": [1300, 1200, 1250],
                        "majflt": [0, 0, 0], "rss_kb": [10_400, 10_500, 10_600]}}
    ratios = [1.0, 1.4 / 1.2, 1.3 / 1.1]
    phases = {"64K": {"stock": [(0.1, 0), (0.2, 0)], "ours": [(0.3, 5), (0.3, 7)]},
              "only-ours": {"ours": [(1.0, 1)]}}
    row = ab.summarize(samples, ratios, phases)
    assert row["runs"] == 3 and row["pair_ratios"] == ratios
    assert row["time_stock"] == 1.1 and row["time_ours"] == 1.3
    assert row["time_ratio"] == pytest.approx(1.4 / 1.2)     # the median pair, not 1.3 / 1.1
    assert row["time_ratio_q1"] <= row["time_ratio"] <= row["time_ratio_q3"]
    assert row["minflt_ratio"] == pytest.approx(1250 / 1050)
    assert row["rss_ratio"] == pytest.approx(10_500 / 10_100)
    assert row["pass"] == {"time": False, "minflt": True, "rss": True}
    assert list(row["phases"]) == ["64K"]
    p = row["phases"]["64K"]
    assert p["time_ratio"] == pytest.approx(0.3 / 0.15) and p["minflt_ratio"] == math.inf
    line = ab.format_row("example", row)
    assert line.split()[0] == "example" and line.count("PASS") == 2 and line.count("FAIL") == 1
    assert "64K x2.00 (0->6 flt)" in ab.format_phases(row)


def test_summary_lines():
    rows = {}
    for name, t in (("a", 0.9), ("b", 1.2)):
        rows[name] = {"time_ratio": t, "minflt_ratio": 1.0, "rss_ratio": 1.0,
                      "pass": {"time": t <= ab.TARGET_TIME, "minflt": True, "rss": True}}
    lines, summary = ab.summary_lines(rows)
    assert summary["time_geomean"] == pytest.approx(math.sqrt(0.9 * 1.2))
    assert summary["failing"] == {"time": ["b"], "minflt": [], "rss": []}
    assert summary["rows_passing"] == 1 and summary["rows"] == 2
    assert "FAIL: b" in lines[1] and lines[-1] == "rows meeting every target: 1 of 2"


def test_args_quick_and_programs():
    a = ab.parse_args(["--quick"])
    assert (a.runs, a.scale, a.giveback_runs) == (ab.QUICK["runs"], ab.QUICK["scale"], 1)
    assert a.giveback and a.names == ab.program_names()
    a = ab.parse_args(["--quick", "--runs", "5", "--programs", "nbody,giveback"])
    assert a.runs == 5 and a.names == ["nbody"] and a.giveback
    a = ab.parse_args(["--programs", "nbody"])
    assert a.runs == ab.DEFAULTS["runs"] and not a.giveback
    with pytest.raises(SystemExit):
        ab.parse_args(["--programs", "nope"])


# -- the programs ----------------------------------------------------------------------

def test_rows():
    names = set(ab.program_names())
    assert ISSUE_11_ROWS | ORIGINAL_ROWS | LATER_ROWS <= names
    assert set(ab.ORIGINAL_PROGRAMS) == ORIGINAL_ROWS
    assert not any(n.startswith("_") for n in names)


@pytest.mark.parametrize("name", sorted(ISSUE_11_ROWS | ORIGINAL_ROWS | LATER_ROWS))
def test_program_checksum_same_under_both(name):
    program = os.path.join(ab.PROGRAMS, name + ".py")
    outs = []
    for python in (STOCK, DROPIN):
        r = subprocess.run([python, program, "0.01"], capture_output=True, text=True,
                           env=clean_env(), timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        outs.append(r.stdout)
    assert ab.checksum(outs[0]) is not None and ab.checksum(outs[0]) == ab.checksum(outs[1])
    assert list(ab.parse_phases(outs[0])) == list(ab.parse_phases(outs[1]))
    if name.startswith("tmp_"):
        assert list(ab.parse_phases(outs[0])) == ["4K", "64K", "256K", "1M", "8M"]


# -- the runner end to end -------------------------------------------------------------

def test_runner_quick(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([DROPIN, BENCH, "--quick", "--programs", "nbody,tmp_list,giveback",
                        "--runs", "2", "--scale", "0.01", "--no-early-stop",
                        "--giveback-scale", "0.02", "--giveback-sleep", "0.1",
                        "--json", str(out)],
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["quick"] and data["runs"] == 2 and data["scale"] == 0.01
    assert set(data["programs"]) == {"nbody", "tmp_list"}
    for name, row in data["programs"].items():
        assert row["runs"] == 2 and not row["stopped_early"]
        for key in ("wall", "minflt", "majflt", "rss_kb"):
            assert len(row[f"{key}_stock"]) == len(row[f"{key}_ours"]) == 2
        assert len(row["pair_ratios"]) == 2
        assert row["time_ratio"] == pytest.approx(statistics.median(row["pair_ratios"]))
        assert row["minflt_ratio"] == pytest.approx(
            statistics.median(row["minflt_ours"]) / statistics.median(row["minflt_stock"]))
        assert row["rss_ratio"] == pytest.approx(
            statistics.median(row["rss_kb_ours"]) / statistics.median(row["rss_kb_stock"]))
        assert row["pass"]["time"] == (row["time_ratio"] <= data["targets"]["time"])
        assert row["pass"]["minflt"] == (row["minflt_ratio"] <= data["targets"]["minflt"])
        assert row["pass"]["rss"] == (row["rss_ratio"] <= data["targets"]["rss"])
        assert row["checksum"].startswith("checksum ")
        assert min(row["minflt_stock"]) > 0 and min(row["rss_kb_stock"]) > 0
        line = next(l for l in r.stdout.splitlines() if l.startswith(name + " "))
        assert line.count("PASS") + line.count("FAIL") == 3
    assert list(data["programs"]["tmp_list"]["phases"]) == ["4K", "64K", "256K", "1M", "8M"]
    assert data["programs"]["nbody"]["phases"] == {}
    s = data["summary"]
    assert s["rows"] == 2 and s["time_geomean"] == pytest.approx(
        math.sqrt(data["programs"]["nbody"]["time_ratio"] * data["programs"]["tmp_list"]["time_ratio"]))
    assert "geometric mean time ratio" in r.stdout
    g = data["giveback"]
    assert g["runs"] == 1 and g["sleep_s"] == 0.1
    for label in ("stock", "ours"):
        assert g[label]["built_kb"] > g[label]["start_kb"] and g[label]["after_kb"] > 0
    assert g["after_ratio"] == pytest.approx(g["ours"]["after_kb"] / g["stock"]["after_kb"])
    assert g["pass"] == (g["after_ratio"] <= data["targets"]["giveback"])
    assert "RSS after the sleep, ours / stock" in r.stdout


# -- trace_overhead's pinned runs ------------------------------------------------------

def test_pin_main_pins_only_the_main_thread_and_runs_the_program_as_main(tmp_path):
    """Tools/bench/pin_main.py: the program runs as __main__ with its own argv and
    directory on sys.path; the main thread is on the CPU asked, a thread started before
    (as Pypper's are) keeps its CPUs. With tracing on, the sampler exists before the
    wrapper runs and is not pinned with the main thread."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two CPUs")
    (tmp_path / "helper_mod.py").write_text("X = 7\n")
    prog = tmp_path / "prog.py"
    prog.write_text(
        "import os, sys, helper_mod\n"
        "tids = {}\n"
        "for t in os.listdir('/proc/self/task'):\n"
        "    comm = open(f'/proc/self/task/{t}/comm').read().strip()\n"
        "    tids[comm] = sorted(os.sched_getaffinity(int(t)))\n"
        "print(__name__, sys.argv[1:], helper_mod.X, sorted(os.sched_getaffinity(0)),\n"
        "      tids.get('pypper-sampler'))\n")
    wrapper = os.path.join(SRCDIR, "Tools", "bench", "pin_main.py")
    env = clean_env({"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "0", "PYPPER_SAMPLE_AWAY": "0"})
    r = subprocess.run([DROPIN, wrapper, str(allowed[-1]), str(prog), "a", "b"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0] == (f"__main__ ['a', 'b'] 7 [{allowed[-1]}] {allowed}"), r.stdout
    bad = subprocess.run([DROPIN, wrapper], capture_output=True, text=True, env=clean_env(),
                         timeout=60)
    assert bad.returncode == 1 and "usage: pin_main.py [--others] CPU PROGRAM" in bad.stderr
    # --others: the sampler goes to the other CPUs.
    others = subprocess.run([DROPIN, wrapper, "--others", str(allowed[-1]), str(prog)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert others.returncode == 0, others.stderr
    assert others.stdout.split("\n")[0] == (f"__main__ [] 7 [{allowed[-1]}] {allowed[:-1]}"), others.stdout


def test_sampler_cost_runs_variants_pinned_and_reports_ratios(tmp_path):
    """Tools/bench/sampler_cost.py end to end on a tiny program, one round: a row per
    variant, the first at ratio 1, the others positive; the program's arguments reach
    it; a malformed variant is an argument error (exit 2). Structure only: the ratios
    are the benchmark's to report."""
    prog = tmp_path / "loop.py"
    prog.write_text("import sys\nn = int(sys.argv[1])\nprint(sum(i * i for i in range(n)))\n")
    bench = os.path.join(SRCDIR, "Tools", "bench", "sampler_cost.py")
    r = subprocess.run([DROPIN, bench, "--rounds", "1", "--program", str(prog), "--args", "20000",
                        "--variant", "off=", "--variant", "on=PYPPER_ENABLE=1"],
                       capture_output=True, text=True, env=clean_env(), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"program {prog} 20000: its whole run") and "1 rounds" in lines[0]
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert set(rows) == {"off", "on"}
    assert rows["off"][2] == "1.000" and float(rows["on"][2]) > 0
    bad = subprocess.run([DROPIN, bench, "--program", str(prog), "--variant", "nameonly"],
                         capture_output=True, text=True, env=clean_env(), timeout=60)
    assert bad.returncode == 2 and "expected NAME=VAR=VALUE" in bad.stderr
