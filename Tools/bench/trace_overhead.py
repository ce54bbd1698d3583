"""Tracing overhead benchmark: the eight original programs of Tools/bench/programs
(--programs: any of them) under the stock python3.12, the drop-in with tracing off,
and the drop-in with tracing on at default settings (PYPPER_ENABLE=1: live trace +
sampler thread), in alternating order.

Reported per program: median wall times, the median (and quartiles) of the per-round
ratio traced/stock and untraced/stock, the sampler's CPU seconds and its share of the
traced run's wall time, the live trace's passes and its longest GIL pause, the peak
RSS traced/stock (median of the rounds; Tools/bench/peakrss.c) and Pypper's own
resident bytes over the heap's bytes in use as the session ended (pypper.own_memory()
at session end, from the trace file; "own/heap": the heap in use then, usually
little as the programs have dropped their data; "own/st rss": over the stock run's
peak RSS, a stand-in for the heap at its largest since Pypper's pages are not given
back during a session, so own bytes at the end are about their peak), and, less
sensitive than wall time to a machine shared with other jobs, the main thread's CPU
traced/stock ("main/st": the traced child's user + system seconds less the sampler
thread's, over the stock child's; medians of per-round ratios) and the traced run's
extra system seconds ("sys +s": page faults, write-tracking faults and scans). The targets (issue
12) are a geometric mean of traced/stock <= 1.03 for time with no program above 1.08,
and per program peak RSS traced/stock <= 1.05 and own/heap <= 3%. The sampler's figures come from the
session's trace file (its "end" event); HEAT_INTERVAL_MS=0 keeps that file from
adding work of its own.

By default each run's main thread is pinned to one CPU (--pin: the last CPU this
process may use; Tools/bench/pin_main.py runs the program), the same for the three
variants, and Pypper's threads keep the others: on this machine kind one virtual CPU
can run the same program 1.6x slower than the other for minutes at a time, and
unpinned the ratios measured mostly where the kernel put the main thread. `--pin none`
runs unpinned (one CPU only: always unpinned).

    ./python3 Tools/bench/trace_overhead.py [--runs 7] [--programs a,b] [--json out.json]
                                            [--option NAME=VALUE]... [--pin CPU|none]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alloc_bench import (ORIGINAL_PROGRAMS, PEAKRSS, PROGRAMS, ROOT, checksum,  # noqa: E402
                         clean_env, default_stock, geomean, program_names,
                         run_measured, sums_agree)
from pin_main import cpu_error, default_cpu  # noqa: E402

PIN_MAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pin_main.py")
TARGET = 1.03          # geometric mean of traced/stock time
TARGET_WORST = 1.08    # traced/stock time of any program
TARGET_RSS = 1.05      # peak RSS traced/stock of each program


def quartiles(values):
    return statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--programs", help="comma-separated names (default: all)")
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                    help="a PYPPER_ option for the traced runs, e.g. sample_duty=0.1")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--pin", default="auto", metavar="CPU|none",
                    help="the CPU of each run's main thread (default: the last allowed; "
                         "none: not pinned)")
    args = ap.parse_args()
    if args.pin == "auto":
        pin = default_cpu()
    elif args.pin == "none":
        pin = None
    else:
        try:
            pin = int(args.pin)
        except ValueError:
            ap.error(f"--pin: expected a CPU number or none, got {args.pin!r}")
        if cpu_error(pin):
            ap.error(f"--pin {pin}: {cpu_error(pin)}")
    if not os.access(PEAKRSS, os.X_OK):
        ap.error(f"{PEAKRSS} is missing: run make first")
    names = list(ORIGINAL_PROGRAMS)
    if args.programs:
        names = args.programs.split(",")
        unknown = set(names) - set(program_names())
        if unknown:
            ap.error(f"unknown programs: {', '.join(sorted(unknown))}")
    tmp = tempfile.mkdtemp(prefix="pypper-overhead-")
    trace = os.path.join(tmp, "trace.%p")
    opts = [f"PYPPER_{o.partition('=')[0].upper()}={o.partition('=')[2]}" for o in args.option]
    envs = {
        "stock": clean_env(),
        "off": clean_env(),
        "on": clean_env(["PYPPER_ENABLE=1", f"PYPPER_TRACE_FILE={trace}",
                         "PYPPER_HEAT_INTERVAL_MS=0", *opts]),
    }
    pythons = {"stock": args.stock, "off": args.candidate, "on": args.candidate}
    print(f"stock:     {args.stock}\ncandidate: {args.candidate} (off: no tracing; on: "
          f"PYPPER_ENABLE=1 {' '.join(opts)})\nruns:      {args.runs} per variant, rotating order"
          f"\nmain thread: {'on CPU %d (Pypper threads: any)' % pin if pin is not None else 'not pinned'}\n")
    print(f"{'program':16} {'stock s':>8} {'off s':>7} {'on s':>7} {'off/st':>7} {'on/st':>7}"
          f" {'on/st IQR':>13} {'sampler s':>9} {'cpu%':>5} {'main/st':>7} {'sys +s':>6}"
          f" {'passes':>6} {'pause ms':>8}"
          f" {'stock MiB':>9} {'rss off/st':>10} {'rss on/st':>9} {'own MiB':>7} {'own/heap':>8}"
          f" {'own/st rss':>10}")
    results, failed = {}, False
    for name in names:
        program = os.path.join(PROGRAMS, name + ".py")
        walls = {k: [] for k in envs}
        ratio_on, ratio_off, sampler, shares, passes, pauses = [], [], [], [], [], []
        main_ratio, sys_extra = [], []
        rss_ratio, rss_off, rss_stock, own_share, own_bytes = [], [], [], [], []
        sums = set()
        try:
            for i in range(args.runs):
                order = ["stock", "off", "on"]
                order = order[i % 3:] + order[:i % 3]
                got = {}
                for label in order:
                    for f in os.listdir(tmp):
                        os.unlink(os.path.join(tmp, f))
                    if pin is None:
                        run = run_measured(pythons[label], program, envs[label])
                    else:
                        run = run_measured(pythons[label], PIN_MAIN, envs[label], (pin, program))
                    wall, out = run.wall, run.stdout
                    walls[label].append(wall)
                    sums.add(checksum(out))
                    got[label] = run
                    if label == "on":
                        files = os.listdir(tmp)
                        if len(files) != 1:
                            raise RuntimeError(f"expected one trace file, found {files}")
                        with open(os.path.join(tmp, files[0])) as f:
                            end = [json.loads(line) for line in f][-1]
                        if end.get("event") != "end":
                            raise RuntimeError("the traced run wrote no end event")
                        cpu = end["active_trace"]["cpu_seconds"]
                        sampler.append(cpu)
                        shares.append(cpu / wall)
                        passes.append(end["live_trace"]["passes"])
                        pauses.append(end["live_trace"]["pause_max_ms"])
                        own = end.get("own_memory") or {}
                        own_share.append(own.get("own_per_heap", 0.0))
                        own_bytes.append(own.get("own_bytes", 0))
                ratio_on.append(got["on"].wall / got["stock"].wall)
                stock_cpu = got["stock"].user + got["stock"].sys
                if stock_cpu > 0:
                    main_ratio.append((got["on"].user + got["on"].sys - sampler[-1]) / stock_cpu)
                sys_extra.append(got["on"].sys - got["stock"].sys)
                ratio_off.append(got["off"].wall / got["stock"].wall)
                rss_ratio.append(got["on"].rss_kb / got["stock"].rss_kb)
                rss_off.append(got["off"].rss_kb / got["stock"].rss_kb)
                rss_stock.append(got["stock"].rss_kb * 1024)
        except RuntimeError as e:
            print(f"{name:16} FAILED: {e}")
            failed = True
            continue
        if not sums_agree(name, sums):
            failed = True
            continue
        q = quartiles(ratio_on)
        row = {"wall": walls, "ratio_on": ratio_on, "ratio_off": ratio_off,
               "on_stock": statistics.median(ratio_on), "off_stock": statistics.median(ratio_off),
               "sampler_cpu_s": statistics.median(sampler), "sampler_share": statistics.median(shares),
               "passes": statistics.median(passes), "pause_max_ms": max(pauses),
               "rss_on_stock": statistics.median(rss_ratio), "own_per_heap": statistics.median(own_share),
               "own_bytes": statistics.median(own_bytes), "rss_off_stock": statistics.median(rss_off),
               "stock_peak_rss": statistics.median(rss_stock),
               "main_cpu_on_stock": statistics.median(main_ratio) if main_ratio else 0.0,
               "sys_extra_s": statistics.median(sys_extra)}
        row["own_per_stock_rss"] = row["own_bytes"] / row["stock_peak_rss"]
        results[name] = row
        print(f"{name:16} {statistics.median(walls['stock']):8.3f} {statistics.median(walls['off']):7.3f}"
              f" {statistics.median(walls['on']):7.3f} {row['off_stock']:7.3f} {row['on_stock']:7.3f}"
              f" {q[0]:6.3f}-{q[2]:6.3f} {row['sampler_cpu_s']:9.3f} {100 * row['sampler_share']:5.1f}"
              f" {row['main_cpu_on_stock']:7.3f} {row['sys_extra_s']:+6.3f}"
              f" {row['passes']:6.0f} {row['pause_max_ms']:8.2f} {row['stock_peak_rss'] / 2**20:9.1f}"
              f" {row['rss_off_stock']:10.3f} {row['rss_on_stock']:9.3f} {row['own_bytes'] / 2**20:7.2f}"
              f" {100 * row['own_per_heap']:7.1f}% {100 * row['own_per_stock_rss']:9.2f}%")
    if results:
        g_on = geomean([r["on_stock"] for r in results.values()])
        g_off = geomean([r["off_stock"] for r in results.values()])
        share = statistics.median([r["sampler_share"] for r in results.values()])
        worst_on = max(r["on_stock"] for r in results.values())
        g_main = geomean([r["main_cpu_on_stock"] for r in results.values()
                          if r["main_cpu_on_stock"] > 0] or [1.0])
        print(f"\ngeometric mean traced/stock {g_on:.3f} (target <= {TARGET}): "
              f"{'PASS' if g_on <= TARGET else 'FAIL'}; worst {worst_on:.3f} (target <= "
              f"{TARGET_WORST}): {'PASS' if worst_on <= TARGET_WORST else 'FAIL'}; untraced/stock "
              f"{g_off:.3f}; sampler CPU median {100 * share:.1f}% of the traced wall time; "
              f"main-thread CPU traced/stock {g_main:.3f}")
        worst_rss = max(r["rss_on_stock"] for r in results.values())
        worst_own = max(r["own_per_stock_rss"] for r in results.values())
        print(f"peak RSS traced/stock: worst {worst_rss:.3f} (target <= {TARGET_RSS} each); "
              f"Pypper's own bytes / stock peak RSS: worst {100 * worst_own:.2f}% (target <= 3%)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"stock": args.stock, "candidate": args.candidate, "runs": args.runs, "pin": pin,
                           "options": opts, "programs": results,
                           "summary": {"traced_geomean": g_on, "untraced_geomean": g_off,
                                       "main_cpu_geomean": g_main,
                                       "sampler_share_median": share}}, f, indent=2)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
