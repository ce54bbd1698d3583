"""CXL estimate: the slowdown against all-DRAM that a placement of the heap would cost
with CXL memory 2x and 3x as slow as DRAM, at DRAM = 12.5%, 25% and 50% of the
footprint, from the exact access counts of the access oracle (Doc/design.md §8).

For each workload (the accuracy benchmark's workloads, Tools/bench/accuracy/, plus
site_mix from Tools/bench/cxl/cxl_workloads.py: hot and cold records from two
allocation sites, interleaved) it runs, with PYTHONHASHSEED=0 and the same seed:
  (a) the workload under the oracle (Valgrind, Tools/oracle): per 4 KiB page of
      Pypper's heap, the loads and stores of the judged phase (the last), and per
      registry object (its stable key: the registry index) the same counts of its
      block, split where the block crosses a page;
  (b) the workload natively under Pypper (BACKEND=sim; FAST_BUDGET = the DRAM
      share, when the interpreter has a placement to record): per key the
      temperature and the page of the object (pypper.where), pypper.snapshot(), and
      pypper.placement_map() when the interpreter has it.
The native run's heap layout is NOT the oracle run's (measured: under Valgrind the
objects land on other pages), so Pypper's placement reaches the oracle's counts only
through the registry keys. The model (Lib/pypper/_advisor.py, shared with the report's advisor) cuts the oracle's
heap into chunks: each registry object's part on a page, and per page the residual
(all accesses and bytes not attributable to a registry object). Placements at the
same DRAM budget (whole pages of the footprint = heap pages the judged phase
touched):
  first-touch   pages in ascending address order fill DRAM (the order the heap hands
                out arenas and pools: allocation order as a proxy for first touch)
  page-oracle   the pages with the most accesses fill DRAM: the best any page-granular
                policy (TPP, DAMON, ...) can do on the stock layout
  Pypper(temp)  the object-level ideal's DRAM, with the registry objects in it chosen
                by Pypper's temperature ranking instead of the oracle's; residual placed
                as the ideal places it (what segregation plus the planner aim at: it
                judges the temperature ranking alone)
  Pypper(place) [needs pypper.placement_map()] a registry object is in DRAM iff the
                planner put its page in the fast tier at the end of the native run
                (one run per budget, FAST_BUDGET = that many pages); the budget it
                leaves goes to residual chunks by accesses per byte (as the ideal
                would). The targets judge this column when it exists.
  object-ideal  all chunks by accesses per byte, packed into the budget: perfect
                segregation of the registry objects (the residual stays in its pages)
Both Pypper columns charge the residual as the oracle would place it: the benchmark
cannot attribute it, so Pypper is neither blamed nor credited for it beyond that.
Cost: 1 per access in DRAM, L per access in CXL; the figure is total cost / all-DRAM
cost over the heap's accesses ((access, 16-byte granule) pairs as the oracle counts
them). That is the slowdown of the memory accesses themselves: an upper bound on the
end-to-end slowdown. --memory-bound F reports (1-F) + F x ratio instead.

Targets (per workload and L): Pypper within 5% of all-DRAM at DRAM = 25%; Pypper
below the page oracle wherever segregation has something to work with (the
object-level ideal removes at least 10% of the page oracle's excess cost, and at
least 0.002 of slowdown, at that budget and L).

    ./python3 Tools/bench/cxl_estimate.py [--quick] [--workloads a,b] [--json FILE]
        [--oracle-scale S] [--scale S] [--seed N] [--option NAME=VALUE]...
        [--memory-bound F] [--no-oracle-cache] [--keep DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CXL_DIR = os.path.join(HERE, "cxl")
SRCDIR = os.path.dirname(os.path.dirname(HERE))
RUN_CXL = os.path.join(CXL_DIR, "run_cxl.py")
DEFAULT_CACHE = os.path.join(SRCDIR, "build", "cxl-cache")
BUDGETS = (0.125, 0.25, 0.5)
LATENCIES = (2.0, 3.0)
TARGET_BUDGET = 0.25
TARGET_SLOWDOWN = 1.05
# Segregation "has something to work with" at a (budget, L) when the object-level ideal
# removes at least this share of the page oracle's excess cost (slowdown - 1) and at
# least SEGREGATION_MIN_GAIN of slowdown in absolute terms.
SEGREGATION_SHARE = 0.10
SEGREGATION_MIN_GAIN = 0.002
CACHE_FORMAT = 1

sys.path.insert(0, HERE)
sys.path.insert(0, CXL_DIR)
import accuracy_bench as ab  # noqa: E402  (puts Tools/bench/accuracy on sys.path)
import cxl_workloads  # noqa: E402
import metrics  # noqa: E402  (Tools/bench/accuracy/metrics.py)
from pypper import _advisor as model  # noqa: E402  (the model, Lib/pypper/_advisor.py)

COLUMNS = ("first_touch", "page_oracle", "pypper_temp", "pypper_place", "object_ideal")
LABELS = {"first_touch": "first-touch", "page_oracle": "page-oracle",
          "pypper_temp": "Pypper(temp)", "pypper_place": "Pypper(place)",
          "object_ideal": "obj-ideal"}


class CxlBench(ab.Bench):
    """Reuses the accuracy benchmark's oracle run and cache, environment and error
    handling; the oracle and native processes are run_cxl.py's."""

    oracle_script = RUN_CXL
    cache_sources = (os.path.join(CXL_DIR, "cxl_workloads.py"), RUN_CXL,
                     os.path.join(ab.ACC_DIR, "workloads.py"))
    cache_format = CACHE_FORMAT

    def run_oracle(self, name, scale, seed):
        res, seconds = self.oracle_child(name, scale, seed)
        orc = self.oracle
        dump = orc.read_dump(res["dumps"][res["judge_phase"]])
        lo = res["heap_base"]
        hi = lo + res["heap_span"]
        all_pages = orc.page_counts(dump, page_size=model.PAGE_SIZE)
        heap = {p: c for p, c in all_pages.items() if lo <= p < hi and c > 0}
        parts = []
        for key, start, length in res["ranges"]:
            for j, (page, a, n) in enumerate(model.split_range(start, length)):
                parts.append(((key, j, page, n), a, n))
        counts = orc.object_counts(dump, parts)
        keyed = [[k[0], k[2], k[3], int(counts.get(k, 0))] for k, _, _ in parts]
        if not self.args.keep:
            for p in res["dumps"]:
                os.unlink(p)
        return {"format": CACHE_FORMAT, "workload": name, "scale": scale, "seed": seed,
                "python_digest": ab.file_digest([self.python]),
                "objects": len(res["ranges"]), "object_type": res["object_type"],
                "judge_phase": res["judge_phase"], "judge_note": res["judge_note"],
                "heap_pages": sorted([p, c] for p, c in heap.items()),
                "keyed": keyed, "all_accesses": int(sum(all_pages.values())),
                "heap_base": lo, "key_pages": res["pages"],
                "oracle_seconds": seconds,
                "phase_results": res["phase_results"]}

    def run_native(self, name, budget_bytes=None):
        out = os.path.join(self.workdir, "%s.pypper.json" % name)
        argv = [self.python, RUN_CXL, name, "--mode", "pypper", "--scale",
                repr(float(self.args.scale)), "--seed", str(self.args.seed),
                "--out", out, "--option", "backend=sim"]
        if budget_bytes is not None:
            argv += ["--option", "fast_budget=%d" % budget_bytes]
        for opt in self.args.option:
            argv += ["--option", opt]
        cp = subprocess.run(argv, env=ab.child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=self.args.timeout)
        if cp.returncode != 0:
            raise ab.BenchError("native run of %s failed (exit %s):\n%s" % (
                name, cp.returncode, ab.tail(cp.stderr)))
        with open(out) as f:
            res = json.load(f)
        os.unlink(out)
        return res

    # ------------------------------------------------------------------------

    def workload(self, name):
        args = self.args
        print("%s:" % name, flush=True)
        truth = self.truth(name, args.oracle_scale, args.seed)
        page_counts = {p: c for p, c in truth["heap_pages"]}
        chunks = model.make_chunks(page_counts, [tuple(k) for k in truth["keyed"]])
        fp = model.footprint(chunks)
        heap_acc = sum(c.accesses for c in chunks)
        keyed_acc = sum(c.accesses for c in chunks if c.key is not None)
        budgets = {b: model.budget_pages(fp, b) for b in args.budgets}
        print("  oracle%s: %d heap pages touched, %d accesses on the heap (%.1f%% of "
              "all counted), %.1f%% of them on registry objects" % (
                  " (cached)" if truth["cached"] else "", fp, heap_acc,
                  100.0 * heap_acc / max(1, truth["all_accesses"]),
                  100.0 * keyed_acc / max(1, heap_acc)), flush=True)

        # Native runs: one without a budget-dependent placement first; one per
        # budget only when the interpreter records a placement.
        first = self.run_native(name, budgets[args.budgets[0]] * model.PAGE_SIZE)
        has_place = first.get("placement_map") is not None
        natives = {args.budgets[0]: first}
        if has_place:
            for b in args.budgets[1:]:
                natives[b] = self.run_native(name, budgets[b] * model.PAGE_SIZE)
        same = float(args.scale) == float(args.oracle_scale)
        o_sums = [p["checksum"] for p in truth["phase_results"]]
        n_sums = [p["checksum"] for p in first["phase_results"]]
        temps = first["temperatures"]
        scores = {k: t for k, t in enumerate(temps)}
        traced = sum(t is not None for t in temps) / max(1, len(temps))
        # The layout is not the oracle's: how many keys sit at the same heap offset.
        off_o = [p - truth["heap_base"] for p in truth["key_pages"]]
        off_n = [p - first["heap_base"] for p in first["pages"]]
        same_offset = sum(a == b for a, b in zip(off_o, off_n)) / max(1, len(off_o))
        print("  native: %d objects, traced %.1f%%, placement_map %s, keys at the "
              "oracle run's heap offset %.1f%%%s" % (
                  len(temps), 100 * traced, "yes" if has_place else "NOT AVAILABLE",
                  100 * same_offset,
                  "" if not same else ", same accesses as the oracle run: %s" % (
                      o_sums == n_sums)), flush=True)

        key_acc = {}
        for c in chunks:
            if c.key is not None:
                key_acc[c.key] = key_acc.get(c.key, 0) + c.accesses
        truth_k = [float(key_acc.get(k, 0)) for k in range(len(temps))]
        score_k = ab.scores_of(temps)
        ranking = {"spearman": metrics.spearman(score_k, truth_k),
                   "recall_top10": metrics.recall(truth_k, score_k, 0.10),
                   "zero_temperature": sum(1 for t in temps if not t) / max(1, len(temps))}
        print("  Pypper's ranking of the registry against the oracle counts: spearman %s, "
              "top-10%% recall %s, temperature 0 or untraced: %.1f%%" % (
                  ab.fmt(ranking["spearman"]), ab.fmt(ranking["recall_top10"]),
                  100 * ranking["zero_temperature"]), flush=True)

        cells = []
        for b in args.budgets:
            bp = budgets[b]
            fast = {"first_touch": model.first_touch(chunks, bp),
                    "page_oracle": model.page_oracle(chunks, bp),
                    "pypper_temp": model.ranked_in_ideal(chunks, bp, scores),
                    "object_ideal": model.object_ideal(chunks, bp)}
            place_info = None
            if has_place:
                nat = natives[b]
                fast_pages = {a for a, t in nat["placement_map"] if t == "fast"}
                fast_keys = [k for k, p in enumerate(nat["pages"]) if p in fast_pages]
                f, kb, over = model.keyed_fixed(chunks, bp, fast_keys)
                fast["pypper_place"] = f
                place_info = {"fast_keys": len(fast_keys), "keyed_dram_bytes": kb,
                              "over_budget": over,
                              "fast_pages": len(fast_pages),
                              "migration_stats": nat.get("migration_stats")}
                ms = nat.get("migration_stats") or {}
                print("  Pypper placement at DRAM %.1f%% (FAST_BUDGET %d pages): %d of %d "
                      "registry objects on fast pages%s; fast pages %d of %d mapped; "
                      "passes %s (%s settling at the end), demoted %s, promoted %s, relocated %s, "
                      "segregated %s" % (
                          100 * b, bp, len(fast_keys), len(nat["pages"]),
                          " (OVER the budget)" if over else "", len(fast_pages),
                          len(nat["placement_map"]), ms.get("passes"), nat.get("settle_rounds"),
                          (ms.get("demote") or {}).get("done"),
                          (ms.get("promote") or {}).get("done"),
                          (ms.get("relocate") or {}).get("done"), ms.get("segregated")),
                      flush=True)
            for L in args.latencies:
                row = {"budget": b, "budget_pages": bp, "latency": L}
                for col in COLUMNS:
                    if col in fast:
                        r = model.slowdown(chunks, fast[col], L)
                        if args.memory_bound is not None:
                            r = model.memory_bound(r, args.memory_bound)
                        row[col] = r
                    else:
                        row[col] = None
                row["pypper_place_info"] = place_info
                cells.append(row)
        return {"workload": name, "objects": truth["objects"],
                "object_type": truth["object_type"], "footprint_pages": fp,
                "heap_accesses": heap_acc, "keyed_accesses": keyed_acc,
                "all_accesses": truth["all_accesses"],
                "oracle_cached": truth["cached"],
                "oracle_seconds": truth["oracle_seconds"],
                "native_traced": traced, "keys_same_heap_offset": same_offset,
                "pypper_ranking": ranking,
                "placement_map": has_place,
                "same_accesses_as_oracle": (o_sums == n_sums) if same else None,
                "cells": cells}

    # ------------------------------------------------------------------------

    def judge(self, r):
        """Target lines of one workload."""
        out = []
        pcol = "pypper_place" if r["placement_map"] else "pypper_temp"
        for c in r["cells"]:
            p = c[pcol]
            if c["budget"] == TARGET_BUDGET:
                out.append({"target": "within5", "latency": c["latency"],
                            "budget": c["budget"], "column": pcol, "value": p,
                            "met": p is not None and p <= TARGET_SLOWDOWN})
            ideal, po = c["object_ideal"], c["page_oracle"]
            has_room = segregation_helps(ideal, po)
            out.append({"target": "below_page_oracle", "latency": c["latency"],
                        "budget": c["budget"], "column": pcol, "value": p,
                        "page_oracle": po, "object_ideal": ideal,
                        "applies": has_room,
                        "met": (p is not None and p < po) if has_room else None})
        return out

    def print_table(self, results):
        print("\nEstimated slowdown against all-DRAM (access-cost ratio over heap "
              "accesses: an upper bound on end-to-end slowdown%s)" % (
                  "" if self.args.memory_bound is None else
                  "; scaled by memory-bound fraction %.2f" % self.args.memory_bound))
        head = "%-12s %6s %3s " % ("workload", "DRAM", "L") + " ".join(
            "%13s" % LABELS[c] for c in COLUMNS)
        print(head)
        print("-" * len(head))
        for name, r in results.items():
            if "error" in r:
                print("%-12s ERROR: %s" % (name, r["error"].strip().splitlines()[-1]))
                continue
            for c in r["cells"]:
                print("%-12s %5.1f%% %3g " % (name, 100 * c["budget"], c["latency"])
                      + " ".join("%13s" % ("n/a" if c[col] is None else "%.4f" % c[col])
                                 for col in COLUMNS))
        print("\nTargets (Pypper = Pypper(place) when placement_map() exists, else the "
              "interim Pypper(temp)):")
        for name, r in results.items():
            if "error" in r:
                continue
            for t in r["targets"]:
                lab = "%s L=%g DRAM=%.1f%%" % (name, t["latency"], 100 * t["budget"])
                if t["target"] == "within5":
                    print("  %-32s %s within 5%% of all-DRAM: %.4f  %s" % (
                        lab, LABELS[t["column"]], t["value"],
                        "MET" if t["met"] else "NOT MET"))
                elif not t["applies"]:
                    print("  %-32s below page-oracle: n/a (object-ideal %.4f vs "
                          "page-oracle %.4f: nothing for segregation)" % (
                              lab, t["object_ideal"], t["page_oracle"]))
                else:
                    print("  %-32s %s %.4f below page-oracle %.4f (ideal %.4f): %s" % (
                        lab, LABELS[t["column"]], t["value"], t["page_oracle"],
                        t["object_ideal"], "MET" if t["met"] else "NOT MET"))

    def main(self):
        args = self.args
        results = {}
        t0 = time.perf_counter()
        with self.workdir_scope("cxl-"):
            for name in args.workloads:
                try:
                    r = self.workload(name)
                    r["targets"] = self.judge(r)
                except (ab.BenchError, subprocess.TimeoutExpired, OSError,
                        ValueError) as e:
                    print("  ERROR: %s" % e, flush=True)
                    results[name] = {"workload": name, "error": str(e)}
                    continue
                results[name] = r
        self.print_table(results)
        targets = [t for r in results.values() for t in r.get("targets", ())
                   if t["met"] is not None]
        print("\n%d of %d target lines MET (%.0f s)" % (
            sum(t["met"] for t in targets), len(targets), time.perf_counter() - t0))
        if args.json:
            doc = {"benchmark": "pypper-cxl-estimate", "format": 1,
                   "model": {"page_size": model.PAGE_SIZE, "budgets": args.budgets,
                             "latencies": args.latencies,
                             "memory_bound": args.memory_bound,
                             "figure": "access-cost ratio over heap accesses"
                             if args.memory_bound is None else
                             "(1-F) + F x access-cost ratio"},
                   "targets": {"budget": TARGET_BUDGET, "slowdown": TARGET_SLOWDOWN,
                               "segregation_share": SEGREGATION_SHARE,
                               "segregation_min_gain": SEGREGATION_MIN_GAIN},
                   "config": {"python": self.python, "scale": args.scale,
                              "oracle_scale": args.oracle_scale, "seed": args.seed,
                              "options": args.option, "quick": args.quick},
                   "workloads": results,
                   "all_met": bool(targets) and all(t["met"] for t in targets)}
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
        return 0 if all("error" not in r for r in results.values()) else 2


def segregation_helps(ideal, page_oracle):
    """Whether the object-level ideal beats the page oracle by enough to judge a
    placement against the page oracle (see SEGREGATION_SHARE)."""
    gain = page_oracle - ideal
    return (gain >= SEGREGATION_MIN_GAIN
            and gain >= SEGREGATION_SHARE * (page_oracle - 1.0))


def floats(text):
    return tuple(float(x) for x in text.split(",") if x.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Estimated CXL slowdown of placements, from oracle access counts.",
        epilog="See the module docstring (Tools/bench/cxl_estimate.py).")
    names = list(cxl_workloads.WORKLOADS)
    ap.add_argument("--workloads", default=None,
                    help="comma-separated, of: %s" % ", ".join(names))
    ap.add_argument("--quick", action="store_true",
                    help="smaller runs (oracle scale 0.02, native 0.3) of zipf_kv "
                         "and site_mix unless --workloads is given")
    ap.add_argument("--oracle-scale", type=float, default=None,
                    help="scale of the oracle runs (default 0.06, quick 0.02)")
    ap.add_argument("--scale", type=float, default=None,
                    help="scale of the native runs (default 1.0, quick 0.3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budgets", type=floats, default=BUDGETS)
    ap.add_argument("--latencies", type=floats, default=LATENCIES)
    ap.add_argument("--memory-bound", type=float, default=None, metavar="F",
                    help="report (1-F) + F x the access-cost ratio")
    ap.add_argument("--option", action="append", type=ab.parse_option, default=[],
                    metavar="NAME=VALUE", help="more pypper.start() options")
    ab.add_bench_arguments(ap, DEFAULT_CACHE, 900.0, "seconds allowed for one native run")
    args = ap.parse_args(argv)
    if args.workloads is None:
        args.workloads = "zipf_kv,site_mix" if args.quick else ",".join(names)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in args.workloads:
        if w not in cxl_workloads.WORKLOADS:
            ap.error("unknown workload %r (known: %s)" % (w, ", ".join(names)))
    if args.oracle_scale is None:
        args.oracle_scale = 0.02 if args.quick else 0.06
    if args.scale is None:
        args.scale = 0.3 if args.quick else 1.0
    if args.memory_bound is not None and not 0 <= args.memory_bound <= 1:
        ap.error("--memory-bound must be in [0, 1]")
    if not args.budgets or not all(0 < b <= 1 for b in args.budgets):
        ap.error("--budgets must be fractions in (0, 1]")
    if not os.path.exists(args.python):
        ap.error("no interpreter at %s (build it: make)" % args.python)
    return CxlBench(args).main()


if __name__ == "__main__":
    sys.exit(main())
