"""Allocator benchmark: the stock python3.12 against the drop-in ./python3 (tiered heap
on, tracing off) on the programs in Tools/bench/programs.

Each program runs N times per interpreter in alternating order (stock, ours, ours,
stock, ...) in fresh processes with no PYPPER_* variables; its checksum line must be
the same under both. Reported per program: median wall time of each, the median and
spread of the per-pair time ratios, median peak RSS of each and their ratio; then the
geometric means and the targets. With --instructions, instructions executed are
counted once per program and interpreter under cachegrind (PYTHONHASHSEED=0, smaller
loop counts): the noise-free comparison, since CPU time here swings by up to 30%.

    ./python3 Tools/bench/alloc_bench.py [--runs 7] [--programs a,b] [--json out.json]
                                         [--instructions] [--instr-scale 0.05]
Exit status 1 on a checksum mismatch or a crash; targets only print PASS/FAIL.
"""

import argparse
import collections
import json
import math
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROGRAMS = os.path.join(HERE, "programs")
TARGET_TIME_GEOMEAN, TARGET_TIME_WORST, TARGET_RSS = 1.02, 1.05, 1.05


def default_stock():
    try:
        with open(os.path.join(ROOT, "build", "buildinfo.json")) as f:
            return json.load(f)["python_stock"]
    except (OSError, KeyError, ValueError):
        return "python3.12"


def clean_env(extra=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPPER_")}
    for item in extra:
        name, _, value = item.partition("=")
        env[name] = value
    return env


# A child's ru_maxrss includes the process it was forked from (this runner), so runs
# go through build/tools/peakrss, a small C launcher that reports the child's own peak.
PEAKRSS = os.path.join(ROOT, "build", "tools", "peakrss")


Run = collections.namedtuple("Run", "wall rss_kb minflt majflt stdout")


def parse_peakrss(stderr):
    """The launcher's last stderr line, `peakrss: WALL RSS_KIB STATUS MINFLT MAJFLT`:
    (wall, rss_kb, status, minflt, majflt), or None when the last line is not that."""
    lines = stderr.strip().splitlines()
    m = re.match(r"peakrss: (\d+\.\d+) (\d+) (\d+) (\d+) (\d+)$", lines[-1] if lines else "")
    if not m:
        return None
    return (float(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)),
            int(m.group(5)))


def run_measured(python, program, env, args=()):
    """One run through the launcher: a Run (wall seconds, peak RSS KiB, minor and major
    page faults of the child, its stdout)."""
    r = subprocess.run([PEAKRSS, python, program, *map(str, args)], env=env,
                       capture_output=True, text=True)
    got = parse_peakrss(r.stderr)
    if r.returncode != 0 or not got:
        raise RuntimeError(f"{python} {program} exited {r.returncode}:\n{r.stderr[-2000:]}")
    wall, rss_kb, _, minflt, majflt = got
    return Run(wall, rss_kb, minflt, majflt, r.stdout)


def checksum(output):
    lines = [l for l in output.splitlines() if l.startswith("checksum")]
    return lines[-1] if lines else None


def sums_agree(name, sums):
    """True when every run printed the same checksum line; else says so and False."""
    if len(sums) == 1 and None not in sums:
        return True
    print(f"{name:16} CHECKSUM MISMATCH: {sorted(map(str, sums))}")
    return False


def instructions(python, program, env, scale):
    env = dict(env, PYTHONHASHSEED="0")
    r = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                        "--cachegrind-out-file=/dev/null", python, program, str(scale)],
                       env=env, capture_output=True, text=True)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"cachegrind failed for {python} {program}:\n{r.stderr[-2000:]}")
    return int(m.group(1).replace(",", "")), checksum(r.stdout)


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--programs", help="comma-separated names (default: all)")
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--candidate-env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--instructions", action="store_true")
    ap.add_argument("--instr-scale", type=float, default=0.05)
    args = ap.parse_args()
    if not os.access(PEAKRSS, os.X_OK):
        ap.error(f"{PEAKRSS} is missing: run make first")

    names = sorted(f[:-3] for f in os.listdir(PROGRAMS) if f.endswith(".py"))
    if args.programs:
        wanted = args.programs.split(",")
        unknown = set(wanted) - set(names)
        if unknown:
            ap.error(f"unknown programs: {', '.join(sorted(unknown))}; have: {', '.join(names)}")
        names = wanted
    stock_env, cand_env = clean_env(), clean_env(args.candidate_env)
    print(f"stock:     {args.stock}\ncandidate: {args.candidate}  (tracing off)\n"
          f"runs:      {args.runs} per interpreter, alternating\n")
    print(f"{'program':16} {'stock s':>8} {'ours s':>8} {'ratio':>6} {'spread':>13}"
          f" {'stock MB':>9} {'ours MB':>8} {'rss':>6}" + ("  instr" if args.instructions else ""))
    results, failed = {}, False
    for name in names:
        program = os.path.join(PROGRAMS, name + ".py")
        walls = {"stock": [], "ours": []}
        rss = {"stock": [], "ours": []}
        sums = set()
        ratios = []
        try:
            for i in range(args.runs):
                order = [("stock", args.stock, stock_env), ("ours", args.candidate, cand_env)]
                if i % 2:
                    order.reverse()
                pair = {}
                for label, python, env in order:
                    run = run_measured(python, program, env)
                    walls[label].append(run.wall)
                    rss[label].append(run.rss_kb)
                    sums.add(checksum(run.stdout))
                    pair[label] = run.wall
                ratios.append(pair["ours"] / pair["stock"])
            instr = None
            if args.instructions:
                i_stock, c1 = instructions(args.stock, program, stock_env, args.instr_scale)
                i_ours, c2 = instructions(args.candidate, program, cand_env, args.instr_scale)
                if c1 != c2:
                    raise RuntimeError(f"checksums differ under cachegrind: {c1} vs {c2}")
                instr = {"stock": i_stock, "ours": i_ours, "ratio": i_ours / i_stock}
        except RuntimeError as e:
            print(f"{name:16} FAILED: {e}")
            failed = True
            continue
        if not sums_agree(name, sums):
            failed = True
            continue
        row = {
            "wall_stock": walls["stock"], "wall_ours": walls["ours"], "pair_ratios": ratios,
            "rss_kb_stock": rss["stock"], "rss_kb_ours": rss["ours"],
            "time_ratio": statistics.median(ratios),
            "rss_ratio": statistics.median(rss["ours"]) / statistics.median(rss["stock"]),
            "instructions": instr, "checksum": sums.pop(),
        }
        results[name] = row
        q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
        print(f"{name:16} {statistics.median(walls['stock']):8.3f} {statistics.median(walls['ours']):8.3f}"
              f" {row['time_ratio']:6.3f} {q[0]:6.3f}-{q[2]:6.3f}"
              f" {statistics.median(rss['stock']) / 1024:9.1f} {statistics.median(rss['ours']) / 1024:8.1f}"
              f" {row['rss_ratio']:6.3f}" + (f"  {instr['ratio']:.4f}" if instr else ""))
    if results:
        t = geomean([r["time_ratio"] for r in results.values()])
        m = geomean([r["rss_ratio"] for r in results.values()])
        worst = max(results, key=lambda n: results[n]["time_ratio"])
        worst_rss = max(results, key=lambda n: results[n]["rss_ratio"])
        print(f"\ngeometric mean time ratio {t:.3f} (target <= {TARGET_TIME_GEOMEAN}): "
              f"{'PASS' if t <= TARGET_TIME_GEOMEAN else 'FAIL'}")
        print(f"worst program {worst} {results[worst]['time_ratio']:.3f} (target <= "
              f"{TARGET_TIME_WORST}): {'PASS' if results[worst]['time_ratio'] <= TARGET_TIME_WORST else 'FAIL'}")
        print(f"geometric mean peak RSS ratio {m:.3f}, worst {worst_rss} "
              f"{results[worst_rss]['rss_ratio']:.3f} (target <= {TARGET_RSS}): "
              f"{'PASS' if m <= TARGET_RSS else 'FAIL'} (geomean), "
              f"{'PASS' if results[worst_rss]['rss_ratio'] <= TARGET_RSS else 'FAIL'} (worst)")
        if args.instructions:
            g = geomean([r["instructions"]["ratio"] for r in results.values()])
            print(f"geometric mean instruction ratio {g:.4f} (scale {args.instr_scale})")
        summary = {"time_geomean": t, "rss_geomean": m, "worst_time": [worst, results[worst]["time_ratio"]],
                   "worst_rss": [worst_rss, results[worst_rss]["rss_ratio"]]}
        if args.instructions:
            summary["instructions_geomean"] = g
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"stock": args.stock, "candidate": args.candidate, "runs": args.runs,
                           "programs": results, "summary": summary}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
