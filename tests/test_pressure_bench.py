"""The memory-pressure benchmark's pure parts (Tools/bench/pressure_bench.py): the
environments of its three interpreters, the medians, its usage errors, and its
workload's determinism at a tiny size under both interpreters (no zram, no cgroup)."""

import importlib.util
import json
import os
import subprocess
import sys

from conftest import DROPIN, SRCDIR, STOCK, clean_env

BENCH = os.path.join(SRCDIR, "Tools", "bench", "pressure_bench.py")
sys.path.insert(0, os.path.dirname(BENCH))
spec = importlib.util.spec_from_file_location("pressure_bench", BENCH)
pb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pb)


def test_environments():
    stock = pb.env_for("stock", "50%")
    assert not any(k.startswith("PYPPER_") for k in stock)
    guarded = pb.env_for("pypper", "40%")
    assert guarded["PYPPER_BACKEND"] == "pageout" and guarded["PYPPER_FAST_BUDGET"] == "40%"
    assert "PYPPER_PRESSURE_MAJFLT" not in guarded            # the defaults
    off = pb.env_for("unguarded", "50%")
    assert off["PYPPER_PRESSURE_MAJFLT"] == "0" and off["PYPPER_PRESSURE_PSI"] == "0"


def test_summary_takes_medians_of_runs_that_ended_well():
    runs = [{"ok": True, "access_s": 3.0, "majflt": 10, "usage_after_build": 100 << 20},
            {"ok": True, "access_s": 1.0, "majflt": 30, "usage_after_build": 300 << 20},
            {"ok": True, "access_s": 2.0, "majflt": 20, "usage_after_build": 200 << 20},
            {"ok": False, "error": "signal 9"}]
    s = pb.summary(runs)
    assert s["access_s"] == 2.0 and s["access_s_range"] == [1.0, 3.0]
    assert s["majflt"] == 20 and s["usage_mb"] == 200 and (s["ok"], s["failed"]) == (3, 1)
    assert pb.summary([{"ok": False}]) is None


def test_usage_errors():
    for bad in (["--only", "stock,nope"], ["--limit", "0"], ["--rounds", "0"]):
        r = subprocess.run([sys.executable, BENCH, *bad], capture_output=True, text=True,
                           env=clean_env(), timeout=60)
        assert r.returncode == 2, (bad, r.stderr)


def test_workload_is_deterministic_under_both_interpreters():
    sums = set()
    for python in (STOCK, DROPIN):
        r = subprocess.run([python, pb.WORKLOAD, "--records", "3000", "--ops", "20000",
                            "--no-wait"], capture_output=True, text=True, env=clean_env(),
                           timeout=120)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "BUILT"
        sums.add(json.loads(lines[-1])["checksum"])
    assert len(sums) == 1
