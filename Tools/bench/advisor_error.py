"""Advisor error: how far the tiering advisor of `pypper report` is from the truth.

The advisor (Lib/pypper/_advisor.py, advise()) estimates, from one run's own page heat,
the slowdown of the memory accesses if 12.5 / 25 / 50% of the heap were on a slow tier
with 2x / 3x DRAM latency, for two placements (hottest pages in DRAM; first-touch =
address order). This benchmark measures its error against the exact access oracle
(Tools/oracle, Valgrind) on the accuracy workloads (Tools/bench/accuracy: zipf_kv,
graph_walk, phase_shift, lru_scan) and site_mix (Tools/bench/cxl/cxl_workloads.py).

For each workload, with PYTHONHASHSEED=0 and the same seed (Tools/bench/advisor_child.py
runs the workload in both cases):
  estimate  `python3 -m pypper run -o CAPTURE --interval I advisor_child.py NAME --mode
            native`: the workload as a user's program under pypper run (default
            options, the capture's recorder); then the capture is read and analysed
            by the report's own code (_capture.load, _report.analyze): its "advice" is
            exactly what `pypper report` shows.
  truth     the same workload under the oracle: the exact loads and stores of every
            page of Pypper's heap over all measured phases (the build is not counted;
            the native run's frames during the build are a small share of its run),
            plus every heap page in use at the end with 0 accesses (the advisor counts
            cold pages too). The truth is advise() fed with these exact counts instead
            of the estimate: the same page universe rule, budget rounding, placements
            and cost model, so the only differences are the accesses (estimated vs
            exact) and the heap layout (native vs under Valgrind: the same allocator
            and program, objects on other pages). Hottest-first with exact counts is
            the best page placement (the page oracle): the advisor's hottest-first
            figure claims that its ranking is right, and is judged against that.
Per cell (workload, slow share, latency, placement): estimate, truth, error =
estimate - truth (negative: the advisor is optimistic), and the relative error of the
excess cost ((estimate - 1) / (truth - 1) - 1; n/a when truth = 1). Summary: median
and maximum absolute error, per placement and overall, and how many cells were
optimistic (estimate below the truth by more than OPTIMISTIC_MARGIN). At the report's
shares the pages these workloads access fit in DRAM, so hottest-first is 1.0 in both;
--stress-shares (default 75% and 87.5% slow) adds cells where the ranking matters,
summarised apart and quoted by the report as such.

--estimator NAME selects how the estimate is made from the capture (see ESTIMATORS):
"report" is the report's (advise() on the mean page heat); the others are variants
tried against the same truth. --update-advisor writes the measured summary of the
report's estimator into Lib/pypper/_advisor.py (MEASURED_ERROR, between its BEGIN/END
markers): the figure the report and `pypper run` quote.

Oracle runs are cached in build/accuracy-cache/advisor-*.json (keyed by workload,
oracle scale, seed and a hash of the workload code, advisor_child.py and the oracle's
sources); --no-oracle-cache refreshes them.

    ./python3 Tools/bench/advisor_error.py [--workloads a,b] [--scale S]
        [--oracle-scale S] [--seed N] [--interval SECONDS] [--estimator NAME]
        [--json FILE] [--update-advisor] [--no-oracle-cache] [--keep DIR]
"""
import argparse
import json
import os
import pprint
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
CHILD = os.path.join(HERE, "advisor_child.py")
DEFAULT_CACHE = os.path.join(SRCDIR, "build", "accuracy-cache")
ADVISOR_PY = os.path.join(SRCDIR, "Lib", "pypper", "_advisor.py")
CACHE_FORMAT = 1
WORKLOADS = ("zipf_kv", "graph_walk", "phase_shift", "lru_scan", "site_mix")
DEFAULT_SCALE = 1.0
DEFAULT_ORACLE_SCALE = 0.05
DEFAULT_INTERVAL = 0.5
# Shares beyond the report's: at the report's shares the accessed pages of these
# workloads fit in DRAM, so hottest-first is trivially right; these show the ranking.
STRESS_SHARES = (0.75, 0.875)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "cxl"))
import accuracy_bench as ab  # noqa: E402
import cxl_workloads  # noqa: E402
from pypper import _advisor, _capture, _report  # noqa: E402

PLACEMENTS = ("pypper", "first_touch")
# An estimate counts as optimistic when it is below the truth by more than this (the
# report shows three decimals).
OPTIMISTIC_MARGIN = 0.0005


# ------------------------------------------------------------------ the error arithmetic

def cell_errors(estimate, truth):
    """Cells of one workload: estimate and truth are advise() results (same shares and
    latencies). Returns [{"slow_share", "latency", "placement", "estimate", "truth",
    "error", "abs_error", "rel_excess_error"}, ...]."""
    cells = []
    t_rows = {(r["slow_share"], r["latency"]): r for r in truth["rows"]}
    for er in estimate["rows"]:
        tr = t_rows.get((er["slow_share"], er["latency"]))
        if tr is None:
            raise ValueError("no truth for slow share %g, latency %g"
                             % (er["slow_share"], er["latency"]))
        for pl in PLACEMENTS:
            e, t = er[pl], tr[pl]
            err = e - t
            rel = None if t - 1.0 <= 1e-12 else (e - 1.0) / (t - 1.0) - 1.0
            cells.append({"slow_share": er["slow_share"], "latency": er["latency"],
                          "placement": pl, "estimate": e, "truth": t, "error": err,
                          "abs_error": abs(err), "rel_excess_error": rel})
    return cells


def summarize(cells):
    """Median and maximum absolute error (overall and per placement), cells and how
    many were optimistic (estimate below the truth)."""
    def part(cs):
        if not cs:
            return None
        a = [c["abs_error"] for c in cs]
        worst = max(cs, key=lambda c: c["abs_error"])
        return {"cells": len(cs), "median_abs_error": statistics.median(a),
                "max_abs_error": max(a),
                "optimistic": sum(1 for c in cs if c["error"] < -OPTIMISTIC_MARGIN),
                "worst": {k: worst[k] for k in ("workload", "slow_share", "latency",
                                                "placement", "estimate", "truth")
                          if k in worst}}
    out = {"all": part(cells)}
    for pl in PLACEMENTS:
        out[pl] = part([c for c in cells if c["placement"] == pl])
    return out


# ------------------------------------------------------------------ estimators
# Each maps a loaded capture to {page: estimated accesses}; "report" is what the
# report does (the mean page heat of the run's frames, _report.analyze()).

def est_report(cap):
    return _report.analyze(cap)["mean_heat"]


def _rate(t):
    # The model's temperature mapped back to heat relative to the reference heat
    # (Pypper/temperature.c: t = 1 - 10^-u, u = log(1 + 8 heat/ref) / log 9).
    t = min(max(t, 0.0), 0.999999)
    return ((1.0 - t) ** -0.9542425094393249 - 1.0) / 8.0


def est_rate_mean(cap):
    # Each frame's page heat as a rate, averaged over the run.
    total, n = {}, 0
    for f in cap.frames:
        n += 1
        for p, v in zip(f.pages, f.heat):
            total[p] = total.get(p, 0.0) + _rate(v)
    return {p: v / n for p, v in total.items()} if n else {}


def est_mean_rate(cap):
    # The report's mean page heat, then as a rate.
    return {p: _rate(v) for p, v in est_report(cap).items()}


ESTIMATORS = {"report": est_report, "rate_mean": est_rate_mean, "mean_rate": est_mean_rate}


# ------------------------------------------------------------------ runs

class AdvisorBench(ab.Bench):

    oracle_script = CHILD
    cache_sources = (CHILD, os.path.join(HERE, "cxl", "cxl_workloads.py"),
                     os.path.join(ab.ACC_DIR, "workloads.py"))
    cache_prefix = "advisor-"
    cache_format = CACHE_FORMAT

    def run_oracle(self, name, scale, seed):
        """{page: exact accesses over the measured phases} of every heap page in use
        or touched (truth() caches it)."""
        res, seconds = self.oracle_child(name, scale, seed, timeout=self.args.timeout)
        orc = self.oracle
        lo = res["heap_base"]
        hi = lo + res["heap_span"]
        pages = {}
        all_acc = 0
        for dump_path in res["dumps"]:
            dump = orc.read_dump(dump_path)
            for p, c in orc.page_counts(dump, page_size=_advisor.PAGE_SIZE).items():
                all_acc += c
                if lo <= p < hi and c > 0:
                    pages[p] = pages.get(p, 0) + int(c)
            if not self.args.keep:
                os.unlink(dump_path)
        touched = len(pages)
        for p in res["in_use_pages"]:
            pages.setdefault(p, 0)
        return {"format": CACHE_FORMAT, "workload": name, "scale": scale, "seed": seed,
                "python_digest": ab.file_digest([self.python]),
                "pages": sorted([p, c] for p, c in pages.items()),
                "touched_pages": touched, "in_use_pages": len(res["in_use_pages"]),
                "all_accesses": int(all_acc), "oracle_seconds": seconds,
                "phase_results": res["phase_results"]}

    def run_native(self, name):
        """The workload under `pypper run`: the loaded capture and the child's result."""
        cap_path = os.path.join(self.workdir, "%s.capture" % name)
        out = os.path.join(self.workdir, "%s.native.json" % name)
        argv = [self.python, "-m", "pypper", "run", "-o", cap_path,
                "--interval", repr(float(self.args.interval))]
        for opt in self.args.option:
            argv += ["-O", opt]
        argv += [CHILD, name, "--mode", "native", "--scale", repr(float(self.args.scale)),
                 "--seed", str(self.args.seed), "--out", out]
        cp = subprocess.run(argv, env=ab.child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=self.args.timeout, text=True)
        if cp.returncode != 0:
            raise ab.BenchError("native run of %s failed (exit %s):\n%s" % (
                name, cp.returncode, ab.tail(cp.stderr)))
        with open(out) as f:
            res = json.load(f)
        try:
            cap = _capture.load(cap_path)
        except _capture.CaptureError as e:
            raise ab.BenchError("native run of %s: %s" % (name, e)) from None
        return cap, res

    def workload(self, name):
        args = self.args
        print("%s:" % name, flush=True)
        tr = self.truth(name, args.oracle_scale, args.seed)
        counts = {p: c for p, c in tr["pages"]}
        shares = tuple(_advisor.SLOW_SHARES) + tuple(args.stress_shares)
        truth = _advisor.advise(counts, shares=shares)
        if truth is None:
            raise ab.BenchError("oracle run of %s: no heap accesses" % name)
        print("  oracle%s: %d heap pages (%d touched in the measured phases), %d accesses "
              "on the heap (%.1f%% of all counted)" % (
                  " (cached)" if tr["cached"] else "", len(counts), tr["touched_pages"],
                  truth["accesses"], 100.0 * truth["accesses"] / max(1, tr["all_accesses"])),
              flush=True)
        cap, res = self.run_native(name)
        a = _report.analyze(cap)
        out = {"workload": name, "oracle_pages": len(counts),
               "oracle_touched_pages": tr["touched_pages"],
               "oracle_cached": tr["cached"], "oracle_seconds": tr["oracle_seconds"],
               "native_pages": a["pages"], "native_frames": a["frames"],
               "native_heap": a["heap"], "native_traced": a["traced"],
               "native_cold_pages": a["cold_pages"],
               "native_seconds": res["measured_seconds"], "estimators": {}}
        print("  native: %d frames of %d pages (%d with no heat over the run); heap %s, "
              "traced %s" % (a["frames"], a["pages"], a["cold_pages"],
                             _report.fmt_bytes(a["heap"]), _report.fmt_bytes(a["traced"])),
              flush=True)
        for en in args.estimators:
            heat = ESTIMATORS[en](cap)
            est = _advisor.advise(heat, shares=shares)
            if est is None:
                print("  %s: no page had any heat: no estimate" % en, flush=True)
                out["estimators"][en] = {"error": "no heat"}
                continue
            cells = cell_errors(est, truth)
            for c in cells:
                c["workload"] = name
                c["in_report"] = c["slow_share"] in _advisor.SLOW_SHARES
            s = summarize([c for c in cells if c["in_report"]])["all"]
            print("  estimator %-10s median |error| %.4f, max %.4f, optimistic in %d of "
                  "%d cells (the report's shares)" % (
                      en, s["median_abs_error"], s["max_abs_error"], s["optimistic"],
                      s["cells"]), flush=True)
            out["estimators"][en] = {"cells": cells}
        return out

    def print_table(self, results, en):
        print("\nAdvisor estimate vs exact oracle (estimator %r): slowdown of memory "
              "accesses vs all-DRAM" % en)
        head = "%-12s %6s %3s %-11s %8s %8s %8s %9s" % (
            "workload", "slow", "L", "placement", "estimate", "oracle", "error",
            "rel.exc.") + "  (* not a share the report shows)"
        print(head)
        print("-" * len(head))
        cells = []
        for name, r in results.items():
            if "error" in r:
                print("%-12s ERROR: %s" % (name, r["error"].strip().splitlines()[-1]))
                continue
            e = r["estimators"].get(en, {})
            for c in e.get("cells", ()):
                cells.append(c)
                rel = "n/a" if c["rel_excess_error"] is None else "%+.0f%%" % (
                    100 * c["rel_excess_error"])
                print("%-12s %5.1f%% %3g %-11s %8.4f %8.4f %+8.4f %9s%s" % (
                    name, 100 * c["slow_share"], c["latency"], c["placement"],
                    c["estimate"], c["truth"], c["error"], rel,
                    "" if c["in_report"] else "  *"))
        return cells

    def main(self):
        args = self.args
        results = {}
        t0 = time.perf_counter()
        with self.workdir_scope("advisor-"):
            for name in args.workloads:
                try:
                    results[name] = self.workload(name)
                except (ab.BenchError, subprocess.TimeoutExpired, OSError,
                        ValueError) as e:
                    print("  ERROR: %s" % e, flush=True)
                    results[name] = {"workload": name, "error": str(e)}
        summaries = {}
        for en in args.estimators:
            cells = self.print_table(results, en)
            if not cells:
                continue
            s = summarize([c for c in cells if c["in_report"]])
            stress = [c for c in cells if not c["in_report"]]
            s["stress"] = summarize(stress) if stress else None
            summaries[en] = s
            for label, part in (("the report's shares", s),
                                ("stress shares %s" % ", ".join(
                                    "%g%%" % (100 * x) for x in args.stress_shares),
                                 s["stress"])):
                if not part:
                    continue
                print("\nSummary (%s, %s): |error| median %.4f, max %.4f (worst: %s); "
                      "optimistic in %d of %d cells" % (
                          en, label, part["all"]["median_abs_error"],
                          part["all"]["max_abs_error"], part["all"]["worst"],
                          part["all"]["optimistic"], part["all"]["cells"]))
                for pl in PLACEMENTS:
                    p = part[pl]
                    print("  %-11s |error| median %.4f, max %.4f; optimistic in %d of "
                          "%d" % (pl, p["median_abs_error"], p["max_abs_error"],
                                  p["optimistic"], p["cells"]))
        print("(%.0f s)" % (time.perf_counter() - t0))
        failed = any("error" in r for r in results.values())
        config = {"scale": args.scale, "oracle_scale": args.oracle_scale,
                  "seed": args.seed, "interval": args.interval, "options": args.option,
                  "stress_shares": args.stress_shares,
                  "workloads": args.workloads}
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"benchmark": "pypper-advisor-error", "format": 1,
                           "config": config, "workloads": results,
                           "summaries": summaries}, f, indent=1)
        if args.update_advisor:
            if failed or "report" not in summaries:
                print("--update-advisor: not written (a workload failed, or the report's "
                      "estimator was not run)", file=sys.stderr)
                return 2
            write_measured(ADVISOR_PY, measured_record(summaries["report"], config))
            print("wrote MEASURED_ERROR into %s" % os.path.relpath(ADVISOR_PY, SRCDIR))
        return 2 if failed else 0


def measured_record(summary, config):
    """The MEASURED_ERROR constant: what the report quotes."""
    def r(x):
        return round(x, 4)
    out = {"command": "./python3 Tools/bench/advisor_error.py --update-advisor"
                      + "".join(" --%s %s" % (k.replace("_", "-"), config[k])
                                for k in ("scale", "oracle_scale", "seed", "interval")),
           "workloads": list(config["workloads"])}
    for k in ("all",) + PLACEMENTS:
        s = summary[k]
        out[k] = {"cells": s["cells"], "median_abs_error": r(s["median_abs_error"]),
                  "max_abs_error": r(s["max_abs_error"]), "optimistic": s["optimistic"]}
    if summary.get("stress"):
        st = summary["stress"]["pypper"]
        out["stress_pypper"] = {"shares": list(config["stress_shares"]),
                                "cells": st["cells"],
                                "median_abs_error": r(st["median_abs_error"]),
                                "max_abs_error": r(st["max_abs_error"]),
                                "optimistic": st["optimistic"]}
    w = summary["all"]["worst"]
    out["worst"] = {"workload": w["workload"], "slow_share": w["slow_share"],
                    "latency": w["latency"], "placement": w["placement"],
                    "estimate": r(w["estimate"]), "truth": r(w["truth"])}
    return out


BLOCK_RE = re.compile(r"(# BEGIN MEASURED_ERROR[^\n]*\n).*?(# END MEASURED_ERROR)", re.S)


def write_measured(path, record):
    with open(path) as f:
        text = f.read()
    body = "MEASURED_ERROR = " + pprint.pformat(record, width=88, sort_dicts=False) + "\n"
    new, n = BLOCK_RE.subn(lambda m: m.group(1) + body + m.group(2), text)
    if n != 1:
        raise SystemExit("%s: no '# BEGIN MEASURED_ERROR' ... '# END MEASURED_ERROR' "
                         "block" % path)
    with open(path + ".tmp", "w") as f:
        f.write(new)
    os.replace(path + ".tmp", path)


def floats(text):
    return tuple(float(x) for x in text.split(",") if x.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Error of pypper report's tiering advisor against the exact oracle.",
        epilog="See the module docstring (Tools/bench/advisor_error.py).")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated, of: %s" % ", ".join(cxl_workloads.WORKLOADS))
    ap.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                    help="scale of the native runs (default %g)" % DEFAULT_SCALE)
    ap.add_argument("--oracle-scale", type=float, default=DEFAULT_ORACLE_SCALE,
                    help="scale of the oracle runs (default %g)" % DEFAULT_ORACLE_SCALE)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--interval", type=float, default=DEFAULT_INTERVAL,
                    help="pypper run --interval of the native runs (default %g s)"
                    % DEFAULT_INTERVAL)
    ap.add_argument("--stress-shares", type=floats, default=STRESS_SHARES,
                    help="slow shares measured beyond the report's (default %s; '' for "
                         "none)" % ",".join("%g" % x for x in STRESS_SHARES))
    ap.add_argument("--estimator", action="append", dest="estimators",
                    choices=sorted(ESTIMATORS), default=None,
                    help="estimate(s) to judge (default: all)")
    ap.add_argument("--option", action="append", type=ab.parse_option, default=[],
                    metavar="NAME=VALUE", help="session options of the native runs (-O)")
    ap.add_argument("--update-advisor", action="store_true",
                    help="write the report estimator's summary into Lib/pypper/_advisor.py")
    ab.add_bench_arguments(ap, DEFAULT_CACHE, 900.0, "seconds allowed for one run (native or oracle)")
    args = ap.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in args.workloads:
        if w not in cxl_workloads.WORKLOADS:
            ap.error("unknown workload %r (known: %s)" % (
                w, ", ".join(cxl_workloads.WORKLOADS)))
    if args.estimators is None:
        args.estimators = sorted(ESTIMATORS, key=lambda e: e != "report")
    if args.interval <= 0 or args.scale <= 0 or args.oracle_scale <= 0:
        ap.error("--interval, --scale and --oracle-scale must be positive")
    if not all(0 < x < 1 for x in args.stress_shares):
        ap.error("--stress-shares must be fractions in (0, 1)")
    if not os.path.exists(args.python):
        ap.error("no interpreter at %s (build it: make)" % args.python)
    return AdvisorBench(args).main()


if __name__ == "__main__":
    sys.exit(main())
