"""Tools/bench/harm_survey.py runs its programs under stock, the drop-in and a traced
drop-in, and fails when an output differs (one quick round of two programs)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import BUILDINFO, DROPIN, SRCDIR, STOCK, clean_env


@pytest.mark.skipif(BUILDINFO["sanitizers"], reason="AddressSanitizer cannot start under "
                    "address_limit.py's RLIMIT_AS")
def test_survey_runs_and_compares_with_stock(tmp_path):
    out = tmp_path / "survey.json"
    r = subprocess.run([sys.executable, os.path.join(SRCDIR, "Tools", "bench", "harm_survey.py"),
                        "--rounds", "1", "--programs", "big_calloc,address_limit",
                        "--candidate", DROPIN, "--stock", STOCK, "--json", str(out)],
                       capture_output=True, text=True, env=clean_env(), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(out.read_text())
    assert data["failures"] == [] and set(data["table"]) == {"big_calloc", "address_limit"}
    # A zero-filled 1 GiB buffer made three times: not resident (it was 1 GiB).
    assert data["table"]["big_calloc"]["off"]["rss_kib"] < 100 * 1024, data["table"]["big_calloc"]


def test_unknown_program_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(SRCDIR, "Tools", "bench", "harm_survey.py"),
                        "--programs", "nosuch"], capture_output=True, text=True, env=clean_env(),
                       timeout=60)
    assert r.returncode != 0 and r.stderr.startswith("harm_survey: unknown program(s) nosuch")
