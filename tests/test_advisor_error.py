"""The advisor's error measurement (Tools/bench/advisor_error.py) on tiny synthetic
cases with a known truth, and the error statement in the report, `stats` and the
`pypper run` summary (from a synthetic capture: no program is run)."""

import json
from html import escape as html_escape
import os
import sys

import pytest

from conftest import SRCDIR

from pypper import _advisor, _capture, _report

sys.path.insert(0, os.path.join(SRCDIR, "Tools", "bench"))
import advisor_error  # noqa: E402

PS = _advisor.PAGE_SIZE


def test_cells_of_a_known_case():
    # Four pages. Truth: all accesses on page 3 (the highest address). The estimate
    # believes they are all on page 0. With 25% slow (one page slow, three in DRAM):
    #   truth, hottest-first: page 3 in DRAM -> 1.0; first-touch: pages 0-2 in DRAM,
    #     page 3 slow -> every access costs L -> L.
    #   estimate, hottest-first: 1.0; first-touch: page 0 in DRAM -> 1.0.
    truth = _advisor.advise({0: 0, PS: 0, 2 * PS: 0, 3 * PS: 100}, shares=(0.25,),
                            latencies=(2.0, 3.0))
    est = _advisor.advise({0: 1.0, PS: 0, 2 * PS: 0, 3 * PS: 0}, shares=(0.25,),
                          latencies=(2.0, 3.0))
    cells = advisor_error.cell_errors(est, truth)
    got = {(c["latency"], c["placement"]): c for c in cells}
    assert len(cells) == 4
    for L in (2.0, 3.0):
        hf = got[(L, "pypper")]
        assert (hf["estimate"], hf["truth"], hf["error"]) == (1.0, 1.0, 0.0)
        assert hf["rel_excess_error"] is None            # truth 1: no excess to compare
        ft = got[(L, "first_touch")]
        assert ft["estimate"] == pytest.approx(1.0) and ft["truth"] == pytest.approx(L)
        assert ft["error"] == pytest.approx(1.0 - L)
        assert ft["abs_error"] == pytest.approx(L - 1.0)
        assert ft["rel_excess_error"] == pytest.approx(-1.0)
    s = advisor_error.summarize(cells)
    assert s["all"]["max_abs_error"] == pytest.approx(2.0)
    assert s["all"]["median_abs_error"] == pytest.approx(0.5)      # 0, 0, 1, 2
    assert s["all"]["optimistic"] == 2
    assert s["pypper"]["max_abs_error"] == 0.0
    assert s["first_touch"]["median_abs_error"] == pytest.approx(1.5)
    assert s["all"]["worst"]["placement"] == "first_touch"
    assert s["all"]["worst"]["latency"] == 3.0


def test_partial_error_and_relative_excess():
    # Truth: 30 accesses on page 0, 10 on page 1, 60 on page 2, page 3 cold; the
    # estimate ranks page 1 hottest. 50% slow: two pages in DRAM.
    truth = _advisor.advise({0: 30, PS: 10, 2 * PS: 60, 3 * PS: 0}, shares=(0.5,),
                            latencies=(2.0,))
    est = _advisor.advise({0: 0.2, PS: 0.7, 2 * PS: 0.1, 3 * PS: 0.0}, shares=(0.5,),
                          latencies=(2.0,))
    (hf, ft) = advisor_error.cell_errors(est, truth)
    # truth hottest-first keeps pages 2 and 0 (90%), 10% slow -> 1.1;
    # the estimate keeps 1 and 0: its 10% slow -> 1.1 too (it is judged against the
    # best page placement with exact counts, not its own ranking).
    assert hf["truth"] == pytest.approx(1.1) and hf["estimate"] == pytest.approx(1.1)
    # first-touch keeps pages 0 and 1: truth 60% slow -> 1.6; estimate 10% -> 1.1.
    assert ft["truth"] == pytest.approx(1.6) and ft["estimate"] == pytest.approx(1.1)
    assert ft["error"] == pytest.approx(-0.5)
    assert ft["rel_excess_error"] == pytest.approx(0.1 / 0.6 - 1.0)


def test_mismatched_rows_are_an_error():
    truth = _advisor.advise({0: 1, PS: 1}, shares=(0.5,))
    est = _advisor.advise({0: 1, PS: 1}, shares=(0.25,))
    with pytest.raises(ValueError):
        advisor_error.cell_errors(est, truth)


def test_mean_page_heat_counts_missing_pages_as_zero():
    got = _advisor.mean_page_heat([([0, PS], [1.0, 0.5]), ([PS, 2 * PS], [0.5, 1.0])])
    assert got == {0: 0.5, PS: 0.5, 2 * PS: 0.5}
    assert _advisor.mean_page_heat([]) == {}


def test_mean_page_heat_of_frames_with_the_same_pages_in_runs():
    # Runs of frames with the same pages are summed apart from the dict: the result is
    # the plain per-page mean whatever the runs (pages added, dropped, back again).
    # (Values with no exact binary form: the sums must be the plain loop's to the bit,
    # added in the same order.)
    a, b = [0, PS, 2 * PS], [PS, 3 * PS]
    frames = [(a, [0.1, 0.2, 0.0]), (a, [0.3, 0.0, 0.7]), (b, [0.4, 0.2]),
              (a, [0.1, 0.3, 0.6]), (a, [0.7, 0.1, 0.3])]
    want = {}
    for pages, heats in frames:
        for p, v in zip(pages, heats):
            want[p] = want.get(p, 0.0) + v
    got = _advisor.mean_page_heat(iter(frames))
    assert list(got) == list(want)
    assert got == {p: v / len(frames) for p, v in want.items()}
    assert got[3 * PS] == 0.2 / 5


def test_measured_constant_is_the_tools_output_and_consistent():
    m = _advisor.MEASURED_ERROR
    assert m is not None, "run ./python3 Tools/bench/advisor_error.py --update-advisor"
    assert m["command"].startswith("./python3 Tools/bench/advisor_error.py --update-advisor")
    assert set(m["workloads"]) == set(advisor_error.WORKLOADS)
    per = len(_advisor.SLOW_SHARES) * len(_advisor.SLOW_LATENCIES) * len(m["workloads"])
    assert m["pypper"]["cells"] == m["first_touch"]["cells"] == per
    assert m["all"]["cells"] == 2 * per
    assert m["all"]["max_abs_error"] == max(m["pypper"]["max_abs_error"],
                                            m["first_touch"]["max_abs_error"])
    for k in ("all", "pypper", "first_touch"):
        assert 0 <= m[k]["median_abs_error"] <= m[k]["max_abs_error"]


def test_statement_quotes_the_figures():
    m = {"workloads": ["a", "b"], "all": {"cells": 4, "median_abs_error": 0.1,
                                          "max_abs_error": 0.5, "optimistic": 1},
         "pypper": {"cells": 2, "median_abs_error": 0.01, "max_abs_error": 0.02,
                    "optimistic": 0},
         "first_touch": {"cells": 2, "median_abs_error": 0.3, "max_abs_error": 0.5,
                         "optimistic": 1},
         "stress_pypper": {"shares": [0.75], "cells": 2, "median_abs_error": 0.1,
                           "max_abs_error": 0.25, "optimistic": 1}}
    text = _advisor.error_statement(m)
    assert "Pypper's own temperatures" in text
    assert "on 2 accuracy workloads" in text
    assert "at most 0.020" in text and "up to 0.250 with 75% of the heap slow" in text
    assert "by up to 0.500 (median 0.300)" in text and "rough guess" in text
    m["first_touch"]["max_abs_error"] = 0.05
    assert "rough" not in _advisor.error_statement(m)
    assert "not been measured" in _advisor.error_statement({})
    short = _advisor.short_error_statement(m)
    assert "on 2 workloads" in short and "hottest-first within 0.020 (0.250 at 75% slow)" in short
    assert "first-touch within 0.050" in short and "rough" not in short
    assert "not measured" in _advisor.short_error_statement({})
    # An error below the 3 places shown is no claim of none (a newcomer read "within
    # 0.000" so).
    m["pypper"]["max_abs_error"] = 0.0002
    assert "hottest-first within < 0.001 (" in _advisor.short_error_statement(m)
    assert "off by at most < 0.001 at the shares" in _advisor.error_statement(m)


def synthetic_capture(path):
    pages = [0x10000000 + i * PS for i in range(8)]
    heat = [0, 0, 5000, 10000, 0, 0, 100, 0]
    frame = {"k": "frame", "t": 1.0, "ps": PS, "base": pages[0],
             "pages": _capture._encode([[0] + [1] * 7, heat, []]), "sites": {}}
    groups = {"k": "groups", "t": 1.0, "heap": 8 * PS, "model": {}, "groups": [
        {"site": "app.py:3 (main)", "type": "list", "objects": 1, "bytes": 56,
         "owned": 800, "hot": 856, "warm": 0, "cold": 0, "tsum": 856.0, "slow": 0,
         "hist": [0] * 9 + [856]}]}
    with open(path, "w") as f:
        f.write(_capture.MAGIC + "\n")
        for rec in ({"k": "header", "format_version": 1, "argv": ["app.py"],
                     "cwd": str(os.path.dirname(path)), "internal_paths": []},
                    frame, dict(frame, t=2.0), groups):
            f.write(json.dumps(rec) + "\n")


def test_report_stats_and_run_summary_state_the_error(tmp_path):
    path = str(tmp_path / "syn.capture")
    synthetic_capture(path)
    a = _report.analyze(_capture.load(path))
    assert a["advice"] is not None
    statement = _advisor.error_statement()
    html = _report.render_html(a)
    assert 'id="advisor-error"' in html
    # The sentence, as the page shows it (first letter capitalised, HTML-escaped).
    shown = statement[0].upper() + statement[1:]
    assert html_escape(shown) in html
    if _advisor.MEASURED_ERROR:
        assert "%.3f" % _advisor.MEASURED_ERROR["first_touch"]["max_abs_error"] in html
    short = _advisor.short_error_statement()
    summary = _report.summary_lines(a)
    assert any(line == "advisor: " + short for line in summary)
    assert ("advisor: " + short) in _report.stats_text(a)
    if _advisor.MEASURED_ERROR:
        m = _advisor.MEASURED_ERROR
        assert "hottest-first within " + _advisor._error(m["pypper"]["max_abs_error"]) in short
        assert "first-touch within " + _advisor._error(m["first_touch"]["max_abs_error"]) in short


def test_advise_is_the_page_placements_costs():
    # advise() computes its cells from sorted sums; they are the costs of the
    # page-level placements it names (page_oracle: hottest pages in DRAM;
    # first_touch: address order), on a random heap with ties and cold pages.
    import random
    rng = random.Random(5)
    heat = {i * PS: (rng.choice((0.0, 0.0, 1.0, 2.5)) if i % 3 else rng.random())
            for i in range(997)}
    got = _advisor.advise(heat)
    chunks = [_advisor.Chunk(p, PS, float(a)) for p, a in sorted(heat.items())]
    assert got["pages"] == 997 and got["accesses"] == pytest.approx(sum(heat.values()))
    assert len(got["rows"]) == len(_advisor.SLOW_SHARES) * len(_advisor.SLOW_LATENCIES)
    for row in got["rows"]:
        dram = row["dram_pages"]
        assert dram == 997 - _advisor.budget_pages(997, row["slow_share"])
        L = row["latency"]
        assert row["pypper"] == pytest.approx(
            _advisor.slowdown(chunks, _advisor.page_oracle(chunks, dram), L), rel=1e-12)
        assert row["first_touch"] == pytest.approx(
            _advisor.slowdown(chunks, _advisor.first_touch(chunks, dram), L), rel=1e-12)
        assert 1.0 <= row["pypper"] <= row["first_touch"] + 1e-12
    assert _advisor.advise({0: 0.0, PS: 0.0}) is None and _advisor.advise({}) is None
