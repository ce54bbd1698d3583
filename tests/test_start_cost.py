"""Tools/bench/start_cost.py runs its short programs under stock, the drop-in untraced
and traced (delayed and immediate start), and reports them (one quick round)."""
import json
import os
import subprocess
import sys

from conftest import DROPIN, SRCDIR, STOCK, clean_env


def test_start_cost_reports_every_variant(tmp_path):
    out = tmp_path / "start.json"
    r = subprocess.run([sys.executable, os.path.join(SRCDIR, "Tools", "bench", "start_cost.py"),
                        "--runs", "2", "--programs", "pass", "--candidate", DROPIN,
                        "--stock", STOCK, "--json", str(out)],
                       capture_output=True, text=True, env=clean_env(), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads(out.read_text())["table"]["pass"]
    assert set(rows) == {"stock", "off", "on", "on_delay0"}
    assert all(row["wall_ms"] > 0 and row["minflt"] > 0 for row in rows.values())
    # A session started before the program touches pages that a pending start does not
    # (its tables, the first pass's bitmaps, two threads' stacks).
    assert rows["on_delay0"]["minflt"] > rows["on"]["minflt"] + 20, rows


def test_unknown_program_is_one_line():
    r = subprocess.run([sys.executable, os.path.join(SRCDIR, "Tools", "bench", "start_cost.py"),
                        "--programs", "nosuch"], capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert r.returncode == 2 and "unknown programs: nosuch" in r.stderr
