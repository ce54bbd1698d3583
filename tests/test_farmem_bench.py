"""The far-memory benchmark's pure parts: argument parsing, limits and budgets, the
table and ratio arithmetic, the environment checks and the clean-up logic against a
fake sysfs/procfs tree under tmp_path (no zram, no cgroup, no swap touched), and the
workloads' determinism at a tiny size."""

import errno
import importlib.util
import json
import os
import shutil
import sys

import pytest

from conftest import SRCDIR, STOCK, clean_env

BENCH = os.path.join(SRCDIR, "Tools", "bench", "farmem_bench.py")
WORKDIR = os.path.join(SRCDIR, "Tools", "bench", "farmem")

spec = importlib.util.spec_from_file_location("farmem_bench", BENCH)
fb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fb)
MIB = fb.MIB


# -- arguments -------------------------------------------------------------------------

def test_parse_limits():
    assert fb.parse_limits("75,25,50") == [25, 50, 75]
    assert fb.parse_limits("50%, 50") == [50]
    for bad in ("0", "100", "", "x"):
        with pytest.raises(ValueError):
            fb.parse_limits(bad)


def test_resolve_args_defaults_and_quick():
    a = fb.resolve_args([])
    assert a.workloads == list(fb.DEFAULT_WORKLOADS) and a.limits == [25, 50, 75]
    assert a.repeats == 3 and a.stress == 0
    q = fb.resolve_args(["--quick", "--repeats", "5"])
    assert (q.workloads, q.limits, q.repeats) == (["kv-zipf"], [fb.TARGET_LIMIT], 1)
    st = fb.resolve_args(["--stress", "20"])
    assert (st.workloads, st.limits, st.stress) == ([fb.STRESS_WORKLOAD], [fb.TARGET_LIMIT], 20)
    assert fb.resolve_args(["--stress", "2", "--workloads", "graph", "--limits", "25"]).limits == [25]


def test_resolve_args_errors():
    for argv in (["--workloads", "nope"], ["--limits", "120"], ["--repeats", "0"],
                 ["--pypper-env", "novalue"], ["--stress", "-1"],
                 ["--stress", "3", "--workloads", "graph,reqlog"],
                 ["--stress", "3", "--limits", "25,50"]):
        with pytest.raises(SystemExit):
            fb.resolve_args(argv)


def test_pypper_env_follows_limit():
    a = fb.resolve_args(["--pypper-env", "sample_hz=50", "--pypper-env",
                         "PYPPER_MIGRATE_INTERVAL_MS=100"])
    env = fb.pypper_env(a, 200 * MIB, "/tmp/r.json")
    assert env["PYPPER_ENABLE"] == "1" and env["PYPPER_BACKEND"] == "pageout"
    assert env["PYPPER_FAST_BUDGET"] == str(176 * MIB)
    assert env["PYPPER_SAMPLE_HZ"] == "50"
    assert env["PYPPER_MIGRATE_INTERVAL_MS"] == "100"       # the user's value wins
    assert env["FARMEM_REPORT"] == "/tmp/r.json"
    assert fb.pypper_env(a, None, None)["PYPPER_FAST_BUDGET"] == "100%"


def test_limits_and_budget():
    assert fb.limit_bytes(300 * MIB, 50) == 150 * MIB
    assert fb.limit_bytes(301 * MIB + 5, 25) == 75 * MIB       # whole MiB, rounded down
    assert fb.limit_bytes(10 * MIB, 25) == 8 * MIB             # floor
    assert fb.fast_budget(100 * MIB, 24 * MIB) == 76 * MIB
    assert fb.fast_budget(30 * MIB, 24 * MIB) == 15 * MIB      # at least half the limit


def test_workload_args_scale():
    argv = fb.workload_args("kv-zipf", 0.5)
    assert argv[0] == os.path.join(WORKDIR, "kvstore.py")
    d = dict(zip(argv[1::2], argv[2::2]))
    assert d["--dist"] == "zipf" and int(d["--records"]) == fb.WORKLOADS["kv-zipf"][1]["--records"] // 2


# -- arithmetic and table --------------------------------------------------------------

def run_record(wall, majflt, ok=True, load=1.0):
    return {"ok": ok, "load1": load, "ru_majflt": majflt + 10, "cg_pgmajfault": majflt + 20,
            "oom_kill": 0 if ok else 1,
            "access": {"wall_s": wall, "majflt": majflt, "pswpin": majflt}}


def test_summary_and_ratios():
    stock = fb.cell_summary([run_record(10, 3000), run_record(12, 2000), run_record(11, 4000)])
    assert stock["wall_s"] == {"median": 11, "min": 10, "max": 12, "n": 3}
    assert stock["majflt"]["median"] == 3000
    pyp = fb.cell_summary([run_record(5, 1000), run_record(9, 900, ok=False)])
    assert pyp["ok"] == 1 and pyp["runs"] == 2 and pyp["oom_kills"] == 1
    assert pyp["wall_s"]["median"] == 5 and pyp["load1"]["n"] == 2
    cmp = fb.compare({"stock": stock, "pypper": pyp}, "pypper")
    assert cmp == {"fault_ratio": 3.0, "speedup": 2.2,
                   "limit_excess": {"stock": 0.0, "pypper": 0.0}}
    assert fb.verdict(cmp, 2.0, 1.5).startswith("MET")
    assert fb.verdict({"fault_ratio": 1.6, "speedup": 1.2}, 0.97, 1.5).startswith("NOT MET")
    assert fb.verdict({"fault_ratio": 0.96, "speedup": 1.2}, 0.97, 0.97).startswith("NOT MET")
    assert fb.verdict({"fault_ratio": None, "speedup": None}, 1, 1) == "NOT MET (no result)"
    paired = {"wall_s": {"median": 0.96, "min": 0.8, "max": 1.1, "n": 3},
              "majflt": {"median": 1.02, "min": 0.99, "max": 1.2, "n": 3}}
    assert fb.verdict({"fault_ratio": 1.0, "speedup": 0.9, "paired": paired}, 0.97, 0.97) == (
        "NOT MET: faults 1.00x fewer (>= 0.97), 0.90x faster (>= 0.97); round by round "
        "0.96x faster (0.80-1.10), 1.02x fewer faults (0.99-1.20), 3 rounds")
    assert "no migration plane" in fb.verdict(cmp, 1, 1, migration_available=False)
    failed = fb.cell_summary([run_record(5, 1, ok=False)])
    assert fb.compare({"stock": stock, "pypper": failed}, "pypper")["speedup"] is None


def test_unequal_limits_are_inconclusive():
    # Runs whose OOM watchdog held the limit higher on average compare different limits:
    # past LIMIT_GAP_MAX apart (medians of the good runs) the verdict says so instead of
    # MET or NOT MET; within it, the verdict stands.
    def runs(wall, majflt, excesses):
        return fb.cell_summary([dict(run_record(wall, majflt), limit_excess=x) for x in excesses])
    stock = runs(10, 3000, [0.20, 0.25, 0.0])
    pyp = runs(12, 4000, [0.0, 0.0, 0.005])
    assert stock["limit_excess"]["median"] == 0.20
    cmp = fb.compare({"stock": stock, "pypper": pyp}, "pypper")
    assert cmp["limit_excess"] == {"stock": 0.20, "pypper": 0.0}
    v = fb.verdict(cmp, 0.97, 0.97)
    assert v.startswith("INCONCLUSIVE (limits unequal: stock +20.0%, pypper +0.0% on average)"), v
    assert "faults 0.75x fewer" in v
    near = runs(10, 3000, [0.0, 0.008, 0.009])
    cmp = fb.compare({"stock": near, "pypper": pyp}, "pypper")
    assert fb.verdict(cmp, 0.97, 0.97).startswith("NOT MET: faults 0.75x")
    table = fb.format_table({"kv": {"limits": {"50": {
        "limit_bytes": 64 * MIB, "interpreters": {"stock": stock, "pypper": pyp},
        "ratios": {"pypper": cmp}}}}}, [50])
    assert "[limit +20.0%]" in table.splitlines()[1] and "[limit" not in table.splitlines()[2]


def test_target_verdicts():
    def fp(mib):
        return {"ok": True, "cg_max_usage": mib * MIB}

    def cell(fr, sp):
        return {"ratios": {"pypper": {"fault_ratio": fr, "speedup": sp}}}

    results = {
        "kv-zipf": {"footprint": {"stock": fp(100), "pypper": fp(104)},
                    "limits": {"75": cell(1.0, 0.99), "25": cell(0.95, 1.2)}},
        "graph": {"footprint": {"stock": fp(100), "pypper": fp(107)},
                  "limits": {"50": cell(2.5, 1.4)}},
    }
    v = fb.target_verdicts(results)
    assert list(v) == ["kv-zipf footprint", "kv-zipf @25% no harm", "kv-zipf @75% no harm",
                       "graph footprint", "graph @50% no harm", "graph @50% buffers"]
    assert v["kv-zipf footprint"].startswith("MET") and "1.040x" in v["kv-zipf footprint"]
    assert v["graph footprint"].startswith("NOT MET")
    assert v["kv-zipf @25% no harm"].startswith("NOT MET")      # 0.95x the faults
    assert v["kv-zipf @75% no harm"].startswith("MET")
    assert v["graph @50% no harm"].startswith("MET")
    assert v["graph @50% buffers"].startswith("NOT MET")        # 1.4x < 1.5x faster
    assert "paused" not in v["kv-zipf footprint"]
    # A footprint taken while the pressure guard paused Pypper is flagged.
    results["kv-zipf"]["footprint"]["pypper"]["pypper"] = {"stats": {"pressure_pauses": 1}}
    assert "paused by its pressure guard" in fb.target_verdicts(results)["kv-zipf footprint"]
    results["graph"]["footprint"]["pypper"]["ok"] = False
    assert fb.target_verdicts(results)["graph footprint"] == "NOT MET (no result)"


def test_ratio_edge_cases():
    assert fb.ratio(10, 0) == float("inf")
    assert fb.ratio(0, 0) == 1.0
    assert fb.ratio(None, 3) is None
    assert fb.summarize([None, None])["median"] is None


def test_format_table():
    cells = {i: fb.cell_summary([run_record(10 - 2 * n, 1000 // (n + 1))])
             for n, i in enumerate(fb.INTERPRETERS)}
    cell = {"limit_bytes": 150 * MIB, "interpreters": cells,
            "ratios": {i: fb.compare(cells, i) for i in ("off", "pypper")}}
    text = fb.format_table({"kv-zipf": {"limits": {"50": cell}}}, [25, 50])
    lines = text.splitlines()
    assert len(lines) == 4 and "50% 150M" in lines[1]
    assert lines[3].split()[-2:] == ["3.00", "1.67"]       # 1000/333, 10/6


def test_parsers():
    st = fb.parse_memory_stat("cache 0\npgmajfault 42\ntotal_pgmajfault 43\nbogus x\n")
    assert st == {"cache": 0, "pgmajfault": 42, "total_pgmajfault": 43}
    swaps = "Filename Type Size Used Priority\n/dev/zram1 partition 4194300 0 32767\n"
    assert fb.parse_proc_swaps(swaps) == ["/dev/zram1"]
    assert fb.last_json_line('noise\n{"a": 1}\n\n') == {"a": 1}
    assert fb.last_json_line("no json") is None


# -- environment checks and clean-up against a fake tree --------------------------------

class FakeMachine:
    """sys/, proc/, dev/ and a state file under tmp_path; commands are recorded."""

    def __init__(self, tmp_path):
        self.root = tmp_path
        self.sys = tmp_path / "sys"
        self.proc = tmp_path / "proc"
        self.dev = tmp_path / "dev"
        for d in (self.sys / "block", self.sys / "class/zram-control",
                  self.sys / "fs/cgroup/memory", self.proc, self.dev):
            d.mkdir(parents=True)
        (self.sys / "fs/cgroup/memory/memory.limit_in_bytes").write_text("9223372036854771712\n")
        (self.sys / "class/zram-control/hot_remove").write_text("")
        self.set_swaps([])
        self.commands = []
        self.killed = []
        self.host = fb.Host(sys_root=str(self.sys), proc_root=str(self.proc),
                            dev_root=str(self.dev), state_file=str(tmp_path / "state.json"),
                            run=self.run, rmdir=shutil.rmtree, kill=self.kill)

    def set_swaps(self, names):
        text = "Filename\tType\tSize\tUsed\tPriority\n"
        text += "".join(f"{n}\tpartition\t4194300\t0\t32767\n" for n in names)
        (self.proc / "swaps").write_text(text)

    def zram(self, n, init):
        d = self.sys / "block" / f"zram{n}"
        d.mkdir()
        (d / "initstate").write_text(f"{init}\n")
        (d / "reset").write_text("")
        return d

    def cgroup(self, name, pids=()):
        d = self.sys / "fs/cgroup/memory" / name
        d.mkdir()
        (d / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
        return d

    def run(self, argv):
        self.commands.append(argv)
        if argv[0] == "swapoff":
            self.set_swaps([])
        return ""

    def kill(self, pid, sig):
        self.killed.append((pid, sig))


def test_environment_problem(tmp_path):
    m = FakeMachine(tmp_path)
    assert "not root" in fb.environment_problem(m.host, is_root=False)
    m.zram(0, 0)
    assert fb.environment_problem(m.host, is_root=True) in (None, "mkswap is missing (util-linux)")
    os.unlink(m.sys / "fs/cgroup/memory/memory.limit_in_bytes")
    assert "cgroup v1" in fb.environment_problem(m.host, is_root=True)


def test_foreign_use(tmp_path):
    m = FakeMachine(tmp_path)
    m.zram(0, 0)
    assert fb.foreign_use(m.host) == []
    m.zram(1, 1)
    m.set_swaps(["/swapfile"])
    found = fb.foreign_use(m.host)
    assert any("zram1" in f for f in found) and any("/swapfile" in f for f in found)
    m.set_swaps(["/dev/zram1"])
    assert fb.foreign_use(m.host, {"zram": "zram1"}) == []


def test_setup_refuses_foreign_and_leftovers(tmp_path):
    m = FakeMachine(tmp_path)
    m.zram(0, 1)                                  # the machine's own zram, in use
    with pytest.raises(fb.Skip, match="zram0"):
        fb.Setup(m.host, 64 * MIB, log=lambda s: None).start()
    assert not os.path.exists(m.host.state_file) and m.commands == []
    (m.sys / "block/zram0/initstate").write_text("0\n")
    m.cgroup(fb.PREFIX + "1-1")
    with pytest.raises(fb.Skip, match="--cleanup"):
        fb.Setup(m.host, 64 * MIB, log=lambda s: None).start()
    m.host.save_state({"pid": 1, "zram": None})
    with pytest.raises(fb.Skip, match="state file"):
        fb.Setup(m.host, 64 * MIB, log=lambda s: None).start()


def test_cleanup_undoes_a_crashed_run(tmp_path):
    m = FakeMachine(tmp_path)
    m.zram(0, 0)                                  # not ours: must stay untouched
    ours = m.zram(3, 1)
    m.set_swaps(["/dev/zram3"])
    m.cgroup(fb.PREFIX + "77-1", pids=[4242])
    m.cgroup(fb.PREFIX + "77-2")
    other = m.cgroup("machine.slice")
    m.host.save_state({"pid": 77, "zram": "zram3", "hot_added": True, "mknod": False})
    log = []
    assert fb.cleanup(m.host, log.append)
    assert m.commands == [["swapoff", str(m.dev / "zram3")]]
    assert (ours / "reset").read_text() == "1"
    assert (m.sys / "class/zram-control/hot_remove").read_text() == "3"
    assert (m.sys / "block/zram0/reset").read_text() == ""
    assert m.killed == [(4242, fb.signal.SIGKILL)]
    assert fb.our_cgroups(m.host) == [] and other.is_dir()
    assert not os.path.exists(m.host.state_file)
    # idempotent: nothing left to do, nothing done
    m.commands.clear()
    assert fb.cleanup(m.host, log.append) and m.commands == []


def test_cleanup_keeps_state_when_swapoff_fails(tmp_path):
    m = FakeMachine(tmp_path)
    m.zram(2, 1)
    m.set_swaps(["/dev/zram2"])
    m.host.save_state({"pid": 5, "zram": "zram2", "hot_added": False})

    def failing(argv):
        raise RuntimeError("swapoff: Cannot allocate memory")

    m.host.run = failing
    assert not fb.cleanup(m.host, lambda s: None)
    assert os.path.exists(m.host.state_file)           # --cleanup can try again
    assert (m.sys / "block/zram2/reset").read_text() == ""


# -- the limit after the build, the OOM watchdog -----------------------------------------

def fake_group(tmp_path, usage=12345):
    cg = tmp_path / "cg"
    cg.mkdir()
    for name, text in {"cgroup.procs": "", "memory.usage_in_bytes": f"{usage}\n",
                       "memory.limit_in_bytes": "9223372036854771712\n",
                       "memory.oom_control": "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n"
                       }.items():
        (cg / name).write_text(text)
    return cg


def test_apply_limit_retries_ebusy(tmp_path):
    cg = fake_group(tmp_path)
    host, calls, fail = fb.Host(), [], {"n": 2, "errno": errno.EBUSY}

    def write(path, value):
        calls.append(value)
        if len(calls) <= fail["n"]:
            raise OSError(fail["errno"], os.strerror(fail["errno"]))
        (cg / "memory.limit_in_bytes").write_text(str(value))

    host.write = write
    secs, tries = fb.apply_limit(host, str(cg), 64 * MIB, tries=5, pause=0)
    assert tries == 3 and secs >= 0
    assert (cg / "memory.limit_in_bytes").read_text() == str(64 * MIB)
    calls.clear()
    with pytest.raises(OSError):                      # reclaim kept falling short
        fb.apply_limit(host, str(cg), 64 * MIB, tries=2, pause=0)
    assert len(calls) == 2
    calls.clear()
    fail["errno"] = errno.EINVAL                      # not EBUSY: no second try
    with pytest.raises(OSError):
        fb.apply_limit(host, str(cg), 64 * MIB, tries=5, pause=0)
    assert len(calls) == 1


def test_limit_watchdog_lifts_while_under_oom(tmp_path):
    cg = fake_group(tmp_path)
    limit_file, oom_file = cg / "memory.limit_in_bytes", cg / "memory.oom_control"
    w = fb.LimitWatchdog(fb.Host(), str(cg), 100 * MIB)
    w.check()
    assert w.lifts == 0 and limit_file.read_text().startswith("9223")
    oom_file.write_text("oom_kill_disable 1\nunder_oom 1\noom_kill 0\n")
    w.check()
    w.check()
    assert w.lifts == 2 and int(limit_file.read_text()) == 102 * MIB
    while not w.gave_up:                               # never past 1.5x the limit
        w.check()
    assert w.lifts == 50 and w.current == 150 * MIB
    assert oom_file.read_text() == "0"                 # the OOM killer is back
    w.check()
    assert w.lifts == 50


def test_limit_watchdog_lowers_back_once_calm(tmp_path):
    # A lift is for the moment reclaim lags: after OOM_CALM_CHECKS calm checks the limit
    # goes back a step towards the set one, never below it; EBUSY (reclaim fell short)
    # leaves it where it is; OOM again restarts the count.
    cg = fake_group(tmp_path)
    limit_file, oom_file = cg / "memory.limit_in_bytes", cg / "memory.oom_control"
    host = fb.Host()
    w = fb.LimitWatchdog(host, str(cg), 100 * MIB, calm_checks=3)
    oom_file.write_text("oom_kill_disable 1\nunder_oom 1\noom_kill 0\n")
    for _ in range(3):
        w.check()
    assert w.current == 103 * MIB and w.highest == 103 * MIB
    oom_file.write_text("oom_kill_disable 1\nunder_oom 0\noom_kill 0\n")
    w.check()
    w.check()
    assert w.lowers == 0 and int(limit_file.read_text()) == 103 * MIB
    w.check()                                          # the third calm check
    assert w.lowers == 1 and int(limit_file.read_text()) == 102 * MIB
    real_write = host.write

    def busy(path, value):
        if path.endswith("memory.limit_in_bytes"):
            raise OSError(errno.EBUSY, "busy")
        real_write(path, value)
    host.write = busy
    for _ in range(3):
        w.check()
    assert w.lowers == 1 and w.current == 102 * MIB    # reclaim fell short: kept
    host.write = real_write
    for _ in range(3 * 5):
        w.check()
    assert w.current == 100 * MIB and w.lowers == 3    # never below the set limit
    assert int(limit_file.read_text()) == 100 * MIB and w.highest == 103 * MIB
    assert w.lifts == 3 and not w.gave_up


def test_limit_watchdog_averages_its_excess(tmp_path):
    # excess(): the limit over the set one, weighted by the time it was in force.
    cg = fake_group(tmp_path)
    oom_file = cg / "memory.oom_control"
    now = [-5.0]                                       # made while the limit is applied
    w = fb.LimitWatchdog(fb.Host(), str(cg), 100 * MIB, calm_checks=1, clock=lambda: now[0])
    now[0] = 0.0
    w.start()                                          # the limit in force: watched from here
    assert w.excess() == 0.0
    oom_file.write_text("oom_kill_disable 1\nunder_oom 1\noom_kill 0\n")
    now[0] = 1.0
    w.check()                                          # 1 s at the limit, then +1%
    now[0] = 2.0
    w.check()                                          # 1 s at +1%, then +2%
    oom_file.write_text("oom_kill_disable 1\nunder_oom 0\noom_kill 0\n")
    now[0] = 3.0
    w.check()                                          # 1 s at +2%, then back to +1%
    now[0] = 4.0
    w.tick()                                           # 1 s at +1%
    assert w.current == 101 * MIB
    assert w.excess() == pytest.approx((0 + 1 + 2 + 1) / 4 / 100)


def test_stress_counts_crashes_apart_from_oom_kills(monkeypatch):
    # run_stress over scripted runs: an OOM kill at the watchdog's cap is reported and
    # counted, not a crash (stock has them too); a SIGSEGV is a crash (exit status 1).
    def scripted(results):
        it = iter(results)

        def one_run(setup, argv, env, limit, timeout, report_path=None):
            if limit is None:                   # the footprint run, without a limit
                return {"ok": True, "cg_max_usage": 200 * MIB}
            assert env.get("PYTHONFAULTHANDLER") == "1"
            return dict(next(it))
        return one_run

    ok = {"ok": True, "access": {"wall_s": 1.0, "majflt": 10}, "oom_lifts": 0}
    oom = {"ok": False, "oom_kill": 1, "error": "killed by signal 9 (OOM killer)"}
    segv = {"ok": False, "oom_kill": 0, "error": "killed by signal 11", "stderr": "Fatal"}
    a = fb.resolve_args(["--stress", "2"])
    lines = []
    monkeypatch.setattr(fb, "one_run", scripted([ok, oom, ok, ok]))
    out, crashed = fb.run_stress(a, None, lines.append)
    assert not crashed and out["failed"] == {"stock": 0, "pypper": 1}
    assert out["oom_killed"] == {"stock": 0, "pypper": 1}
    assert "OOM-killed: stock 0, Pypper 1" in lines[-1]
    monkeypatch.setattr(fb, "one_run", scripted([ok, ok, segv, ok]))
    out, crashed = fb.run_stress(a, None, lines.append)
    assert crashed and out["failed"] == {"stock": 0, "pypper": 1}
    assert out["oom_killed"] == {"stock": 0, "pypper": 0}
    assert any("killed by signal 11" in ln and "Fatal" in ln for ln in lines)


def test_stress_reports_round_by_round_ratios(monkeypatch):
    # Each round's stock and Pypper runs pair up (base / candidate); a round where
    # either failed is left out of the pairs, not paired with another round's run.
    runs = iter([run_record(10, 300), run_record(8, 200),      # round 1: stock, Pypper
                 run_record(6, 100), run_record(12, 200),      # round 2: Pypper, stock
                 run_record(9, 100), run_record(5, 1, ok=False)])

    def one_run(setup, argv, env, limit, timeout, report_path=None):
        if limit is None:
            return {"ok": True, "cg_max_usage": 200 * MIB}
        return dict(next(runs), oom_lifts=0)
    monkeypatch.setattr(fb, "one_run", one_run)
    lines = []
    out, crashed = fb.run_stress(fb.resolve_args(["--stress", "3"]), None, lines.append)
    assert out["paired"]["wall_s"] == {"median": 1.625, "min": 1.25, "max": 2.0, "n": 2}
    assert out["paired"]["majflt"] == {"median": 1.75, "min": 1.5, "max": 2.0, "n": 2}
    assert any("time, round by round: median 1.62 (range 1.25-2.00, 2 rounds)" in ln
               and "stock 10, Pypper 7" in ln for ln in lines)
    assert fb.paired_ratios([run_record(4, 1)], [run_record(0, 0)], "majflt") == [float("inf")]
    assert fb.paired_ratios([], [run_record(4, 1)], "wall_s") == []


def test_run_bench_takes_every_footprint_before_any_limit(monkeypatch, tmp_path):
    # A limited run can leave the machine short of memory, which pauses Pypper (its
    # pressure guard) in a footprint run after it: all footprints come first.
    calls = []

    def one_run(setup, argv, env, limit, timeout, report_path=None):
        calls.append((argv[1], limit))
        return {"ok": True, "cg_max_usage": 200 * MIB, "checksum": 7, "vm_hwm_kb": 1,
                "access": {"wall_s": 1.0, "majflt": 10, "pswpin": 0},
                "build": {"wall_s": 1.0}, "load1": 0.5, "seconds": 2.0, "ru_majflt": 10,
                "limit_apply_s": 0.1, "oom_lifts": 0}
    monkeypatch.setattr(fb, "one_run", one_run)
    a = fb.resolve_args(["--workloads", "kv-zipf,graph", "--limits", "50", "--repeats", "1",
                         "--json", str(tmp_path / "out.json")])
    results, failed = fb.run_bench(a, None, lambda line: None)
    assert not failed and set(results) == {"kv-zipf", "graph"}
    limits = [limit for _, limit in calls]
    assert limits[:6] == [None] * 6 and None not in limits[6:] and len(limits) == 12


def test_run_bench_runs_a_lifted_run_again(monkeypatch, tmp_path):
    # A limited run the OOM watchdog held more than 1% above its limit (on average) is
    # run again, up to --lift-retries times; the earlier one stays in the JSON, out of
    # the medians; the last attempt is kept whatever its excess.
    excess = {"stock": iter([0.30, 0.0]), "pypper": iter([0.30, 0.20, 0.25])}
    lines = []

    def one_run(setup, argv, env, limit, timeout, report_path=None):
        interp = "stock" if argv[0] == "stock" else "pypper"
        run = {"ok": True, "cg_max_usage": 200 * MIB, "checksum": 7, "vm_hwm_kb": 1,
               "access": {"wall_s": 1.0, "majflt": 10, "pswpin": 0},
               "build": {"wall_s": 1.0}, "load1": 0.5, "seconds": 2.0, "ru_majflt": 10,
               "limit_apply_s": 0.1, "oom_lifts": 0, "oom_lowers": 0,
               "highest_limit": limit, "final_limit": limit, "limit_excess": 0.0}
        if limit is not None and env.get("PYPPER_ENABLE") != "0":
            run["limit_excess"] = next(excess[interp])
            run["oom_lifts"] = 5 if run["limit_excess"] else 0
            run["access"]["wall_s"] = 2.0 if run["limit_excess"] == 0.25 else 1.0
        return run
    monkeypatch.setattr(fb, "one_run", one_run)
    a = fb.resolve_args(["--workloads", "kv-zipf", "--limits", "50", "--repeats", "1",
                         "--stock", "stock", "--lift-retries", "2"])
    results, failed = fb.run_bench(a, None, lines.append)
    cell = results["kv-zipf"]["limits"]["50"]
    assert [r["limit_excess"] for r in cell["runs"]["stock"]] == [0.30, 0.0]
    assert [r.get("superseded", False) for r in cell["runs"]["pypper"]] == [True, True, False]
    s = cell["interpreters"]
    assert s["stock"]["superseded"] == 1 and s["stock"]["runs"] == 1
    assert s["stock"]["limit_excess"]["median"] == 0.0
    assert s["pypper"]["superseded"] == 2 and s["pypper"]["wall_s"]["median"] == 2.0
    assert fb.verdict(cell["ratios"]["pypper"], 0.97, 0.97).startswith("INCONCLUSIVE")
    # Round by round, only the kept runs pair up: stock's second (1.0 s), Pypper's third
    # (2.0 s), not the superseded ones (1.0 s each).
    assert cell["ratios"]["pypper"]["paired"]["wall_s"] == {"median": 0.5, "min": 0.5,
                                                            "max": 0.5, "n": 1}
    assert sum("run again, this one left out of the medians" in line for line in lines) == 3
    a = fb.resolve_args(["--workloads", "kv-zipf", "--limits", "50", "--lift-retries", "0"])
    assert a.lift_retries == 0


def test_run_in_cgroup_limits_between_build_and_access(tmp_path):
    """The workload's access phase starts only after the limit is written."""
    cg = fake_group(tmp_path)
    script = tmp_path / "w.py"
    script.write_text(f"import sys\nsys.path.insert(0, {WORKDIR!r})\n"
                      "from _common import ready\nready()\n"
                      "print(open(sys.argv[1]).read().strip())\n")
    argv = [sys.executable, str(script), str(cg / "memory.limit_in_bytes")]
    status, ru, out, err, secs, info = fb.run_in_cgroup(fb.Host(), str(cg), argv, clean_env(),
                                                        timeout=120, limit=64 * MIB)
    assert status == 0, err
    assert out.strip() == str(64 * MIB)
    assert info["limit_tries"] == 1 and info["usage_at_ready"] == 12345
    assert info["oom_lifts"] == 0 and info["final_limit"] == 64 * MIB
    assert (cg / "cgroup.procs").read_text().strip().isdigit()
    # a program that never says ready runs to its end; nothing is applied
    script.write_text("print('no handshake')\n")
    status, ru, out, err, secs, info = fb.run_in_cgroup(fb.Host(), str(cg), argv, clean_env(),
                                                        timeout=120, limit=32 * MIB)
    assert status == 0 and out.strip() == "no handshake"
    assert info["limit_apply_s"] is None and info["ready_s"] is None
    assert fb.describe_status(-3, 120, 0).startswith("the workload never said ready")


# -- workloads: deterministic, same checksum on both interpreters ------------------------

@pytest.mark.parametrize("script,args", [
    ("kvstore.py", ["--records", "300", "--ops", "2000"]),
    ("kvstore.py", ["--records", "300", "--ops", "2000", "--dist", "uniform"]),
    ("reqlog.py", ["--users", "200", "--history", "1000", "--ops", "1000", "--audit-every", "100"]),
    ("graph.py", ["--vertices", "500", "--walks", "300"]),
    ("kv_slots.py", ["--records", "300", "--ops", "20000"]),
])
def test_workloads_deterministic(script, args, tmp_path):
    """Run as the harness runs them (a fake cgroup): each says ready between build and
    access, and both interpreters agree on the checksum."""
    sums = set()
    cg = fake_group(tmp_path)
    for python in (sys.executable, STOCK):
        env = clean_env({"FARMEM_REPORT": str(tmp_path / "report.json")})
        status, ru, out, err, secs, info = fb.run_in_cgroup(
            fb.Host(), str(cg), [python, os.path.join(WORKDIR, script), *args], env, 120)
        assert status == 0, err
        assert info["ready_s"] is not None and info["limit_apply_s"] is None
        res = json.loads(out.strip().splitlines()[-1])
        assert res["access"]["wall_s"] > 0 and res["access"]["majflt"] >= 0
        assert res["build"]["wall_s"] > 0
        sums.add(res["checksum"])
    assert len(sums) == 1
    # no session ran, so no Pypper report was written
    assert not (tmp_path / "report.json").exists()
