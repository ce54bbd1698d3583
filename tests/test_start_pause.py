"""Tools/bench/start_pause.py runs its heap-building child of each shape under stock,
untraced, with the delayed start and with the session from the start, and reports the
longest loop gaps (one quick run of a small heap)."""
import os
import re
import subprocess
import sys

from conftest import DROPIN, SRCDIR, STOCK, clean_env


def test_start_pause_reports_every_variant():
    r = subprocess.run([sys.executable, os.path.join(SRCDIR, "Tools", "bench", "start_pause.py"),
                        "--runs", "1", "--objects", "20000", "--seconds", "0.2",
                        "--candidate", DROPIN, "--stock", STOCK],
                       capture_output=True, text=True, env=clean_env(), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for shape in ("dicts", "late_list", "late_dict"):
        for variant in ("stock", "untraced", "on", "on_delay0"):
            assert re.search(rf"^{shape} {variant} +longest gap: median [0-9.]+ ms", r.stdout,
                             re.M), r.stdout
