"""Allocator benchmark suite: the stock python3.12 against the drop-in ./python3 (tiered
heap on, tracing off) on the programs in Tools/bench/programs, one row each, plus a
give-back check (Tools/bench/giveback.py).

Rows: the eight original programs (object churn, containers, JSON round trips, an OO
simulation, strings, binary trees, buffers, n-body) and the allocation patterns of
issue 11: temporaries of 4 KiB to 8 MiB (tmp_bytes, tmp_str, tmp_list, tmp_bytearray,
a size per phase), list growth, dict growth, set construction, json dumps/loads of a
large document, a request loop with a rolling window, a large resident heap, copies
between blocks of 16 KiB to 1 MiB (copy_join).

Each program runs --runs times per interpreter in alternating order (stock, ours,
ours, stock, ...) in fresh processes with no PYPPER_* variables, through
build/tools/peakrss (wall time, peak RSS, minor and major faults of the child); its
checksum line must be the same in every run. Per row: median wall time of each, the
median and quartiles of the per-pair time ratios, median minor faults of each and
their ratio, median peak RSS of each and their ratio, PASS/FAIL against each target;
then the geometric mean of the time ratios. Programs that print `phase NAME SECONDS
MINFLT` lines get a per-phase breakdown in the JSON, and under the row when it fails.
A row stops early when its first pair is over 10x slower, or its first two both over
3x (--no-early-stop runs them all): no noise explains that, and a page-fault storm can
make one run take minutes.

Give-back: the program builds ~1 GB, frees it and sleeps (5 s); its VmRSS after the
sleep under ours must be within 10% of stock's. It runs by default, after the rows;
`--programs giveback` runs it alone, --no-giveback skips it.

With --instructions, instructions executed are counted once per program and
interpreter under cachegrind (PYTHONHASHSEED=0, --instr-scale): the noise-free
comparison, since CPU time here swings by up to 30%.

    ./python3 Tools/bench/alloc_bench.py [--runs 7] [--programs a,b] [--json out.json]
        [--scale 1] [--quick] [--no-early-stop] [--no-giveback] [--giveback-sleep 5]
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
GIVEBACK = os.path.join(HERE, "giveback.py")

# Targets (issue 11): every row, not only on average.
TARGET_TIME = 1.05          # median of the per-pair time ratios
TARGET_MINFLT = 1.2         # median minor faults, ours / stock
TARGET_RSS = 1.05           # median peak RSS, ours / stock
TARGET_TIME_GEOMEAN = 1.00  # geometric mean of the rows' time ratios
TARGET_GIVEBACK = 1.10      # RSS after free + sleep, ours / stock

# Early stop: a row stops after its first pair at over 10x stock, or after two pairs
# both over 3x (no noise explains either; a fault storm can make one run take minutes).
EARLY_STOP = ((1, 10.0), (2, 3.0))
QUICK = {"runs": 3, "scale": 0.1, "giveback_scale": 0.1, "giveback_sleep": 1.0,
         "giveback_runs": 1}
DEFAULTS = {"runs": 7, "scale": 1.0, "giveback_scale": 1.0, "giveback_sleep": 5.0,
            "giveback_runs": 2}


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


# The eight programs the suite started with (trace_overhead.py's default set).
ORIGINAL_PROGRAMS = ("binary_trees", "buffers", "churn", "containers", "json_roundtrip",
                     "nbody", "oo_sim", "strings")


def program_names():
    """The rows: Tools/bench/programs/*.py, less helpers (names starting with "_")."""
    return sorted(f[:-3] for f in os.listdir(PROGRAMS)
                  if f.endswith(".py") and not f.startswith("_"))


# A child's ru_maxrss includes the process it was forked from (this runner), so runs
# go through build/tools/peakrss, a small C launcher that reports the child's own peak.
PEAKRSS = os.path.join(ROOT, "build", "tools", "peakrss")

# user and sys: the child's CPU seconds (all its threads).
Run = collections.namedtuple("Run", "wall rss_kb minflt majflt stdout user sys", defaults=(0.0, 0.0))


def _peakrss_line(stderr):
    """The match of the launcher's last stderr line, `peakrss: WALL RSS_KIB STATUS
    MINFLT MAJFLT [USER_S SYS_S]`, or None."""
    lines = stderr.strip().splitlines()
    return re.match(r"peakrss: (\d+\.\d+) (\d+) (\d+) (\d+) (\d+)(?: (\d+\.\d+) (\d+\.\d+))?$",
                    lines[-1] if lines else "")


def parse_peakrss(stderr):
    """(wall, rss_kb, status, minflt, majflt) from the launcher's last stderr line, or
    None when the last line is not that (parse_peakrss_cpu: the CPU seconds)."""
    m = _peakrss_line(stderr)
    if not m:
        return None
    return (float(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)),
            int(m.group(5)))


def parse_peakrss_cpu(stderr):
    """The child's (user, sys) CPU seconds from the launcher's last line, or (0.0, 0.0)."""
    m = _peakrss_line(stderr)
    return (float(m.group(6)), float(m.group(7))) if m and m.group(6) else (0.0, 0.0)


def run_measured(python, program, env, args=()):
    """One run through the launcher: a Run (wall seconds, peak RSS KiB, minor and major
    page faults of the child, its stdout, its user and system CPU seconds)."""
    r = subprocess.run([PEAKRSS, python, program, *map(str, args)], env=env,
                       capture_output=True, text=True)
    got = parse_peakrss(r.stderr)
    if r.returncode != 0 or not got:
        raise RuntimeError(f"{python} {program} exited {r.returncode}:\n{r.stderr[-2000:]}")
    wall, rss_kb, _, minflt, majflt = got
    return Run(wall, rss_kb, minflt, majflt, r.stdout, *parse_peakrss_cpu(r.stderr))


def checksum(output):
    lines = [l for l in output.splitlines() if l.startswith("checksum")]
    return lines[-1] if lines else None


def sums_agree(name, sums):
    """True when every run printed the same checksum line; else says so and False."""
    if len(sums) == 1 and None not in sums:
        return True
    print(f"{name:15} CHECKSUM MISMATCH: {sorted(map(str, sums))}")
    return False


def parse_phases(output):
    """`phase NAME SECONDS MINFLT` lines: {name: [seconds, minflt]}, summed over the
    lines of the same name, in the order first seen."""
    phases = {}
    for line in output.splitlines():
        m = re.match(r"phase (\S+) (\d+(?:\.\d+)?) (\d+)$", line)
        if m:
            acc = phases.setdefault(m.group(1), [0.0, 0])
            acc[0] += float(m.group(2))
            acc[1] += int(m.group(3))
    return phases


def parse_giveback(output):
    """The give-back program's `giveback start_kb=N built_kb=N freed_kb=N after_kb=N`."""
    for line in output.splitlines():
        if line.startswith("giveback "):
            return {k: int(v) for k, v in (f.split("=") for f in line.split()[1:])}
    return None


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


def quartiles(values):
    return statistics.quantiles(values, n=4) if len(values) >= 2 else [values[0]] * 3


def ratio(ours, stock):
    """ours / stock for counts that may be 0 (a phase without faults)."""
    return ours / stock if stock else (1.0 if not ours else math.inf)


def alternating(runs):
    """The order of the runs: stock, ours, ours, stock, stock, ours, ..."""
    for i in range(runs):
        yield ("stock", "ours") if i % 2 == 0 else ("ours", "stock")


def should_stop_early(ratios):
    return any(len(ratios) == pairs and min(ratios) > limit for pairs, limit in EARLY_STOP)


def summarize(samples, ratios, phase_samples=None):
    """A row from its samples: samples[label][key] lists for label stock/ours and key
    wall, minflt, majflt, rss_kb; ratios the per-pair time ratios; phase_samples
    {phase: {label: [(seconds, minflt), ...]}}."""
    med = {label: {k: statistics.median(v) for k, v in s.items()} for label, s in samples.items()}
    q = quartiles(ratios)
    row = {
        "runs": len(ratios),
        "wall_stock": samples["stock"]["wall"], "wall_ours": samples["ours"]["wall"],
        "pair_ratios": ratios,
        "minflt_stock": samples["stock"]["minflt"], "minflt_ours": samples["ours"]["minflt"],
        "majflt_stock": samples["stock"]["majflt"], "majflt_ours": samples["ours"]["majflt"],
        "rss_kb_stock": samples["stock"]["rss_kb"], "rss_kb_ours": samples["ours"]["rss_kb"],
        "time_stock": med["stock"]["wall"], "time_ours": med["ours"]["wall"],
        "time_ratio": statistics.median(ratios), "time_ratio_q1": q[0], "time_ratio_q3": q[2],
        "minflt_ratio": ratio(med["ours"]["minflt"], med["stock"]["minflt"]),
        "rss_ratio": med["ours"]["rss_kb"] / med["stock"]["rss_kb"],
    }
    row["pass"] = {"time": row["time_ratio"] <= TARGET_TIME,
                   "minflt": row["minflt_ratio"] <= TARGET_MINFLT,
                   "rss": row["rss_ratio"] <= TARGET_RSS}
    phases = {}
    for name, by_label in (phase_samples or {}).items():
        if set(by_label) != {"stock", "ours"}:
            continue
        p = {}
        for label in ("stock", "ours"):
            p[f"time_{label}"] = statistics.median(s for s, _ in by_label[label])
            p[f"minflt_{label}"] = statistics.median(f for _, f in by_label[label])
        p["time_ratio"] = ratio(p["time_ours"], p["time_stock"])
        p["minflt_ratio"] = ratio(p["minflt_ours"], p["minflt_stock"])
        phases[name] = p
    row["phases"] = phases
    return row


def verdict(ok):
    return "PASS" if ok else "FAIL"


HEADER = (f"{'program':15} {'stock s':>8} {'ours s':>8} {'time':>7} {'pair IQR':>13} {'':4}"
          f" {'stock flt':>9} {'ours flt':>9} {'flt':>7} {'':4}"
          f" {'stock MB':>8} {'ours MB':>8} {'rss':>6}")


def fmt_ratio(value, width):
    """A ratio in `width` characters: 3 decimals, 1 from 10 on."""
    return f"{value:{width}.{3 if value < 10 else 1}f}"


def format_row(name, row):
    p = row["pass"]
    line = (f"{name:15} {row['time_stock']:8.3f} {row['time_ours']:8.3f} {fmt_ratio(row['time_ratio'], 7)}"
            f" {fmt_ratio(row['time_ratio_q1'], 6)}-{fmt_ratio(row['time_ratio_q3'], 6).strip():6}"
            f" {verdict(p['time'])}"
            f" {statistics.median(row['minflt_stock']):9.0f} {statistics.median(row['minflt_ours']):9.0f}"
            f" {row['minflt_ratio']:7.2f} {verdict(p['minflt'])}"
            f" {statistics.median(row['rss_kb_stock']) / 1024:8.1f}"
            f" {statistics.median(row['rss_kb_ours']) / 1024:8.1f} {row['rss_ratio']:6.3f}"
            f" {verdict(p['rss'])}")
    if row.get("instructions"):
        line += f"  instr {row['instructions']['ratio']:.4f}"
    if row.get("stopped_early"):
        line += f"  (stopped early: {row['runs']} pair{'s' if row['runs'] > 1 else ''})"
    return line


def format_phases(row):
    """One line per row: each phase's time ratio and its minor faults, stock -> ours."""
    parts = [f"{name} x{p['time_ratio']:.2f} ({p['minflt_stock']:.0f}->{p['minflt_ours']:.0f} flt)"
             for name, p in row["phases"].items()]
    return "    phases: " + ", ".join(parts)


def measure_row(name, program, pythons, envs, runs, scale, early_stop):
    samples = {label: {"wall": [], "minflt": [], "majflt": [], "rss_kb": []}
               for label in ("stock", "ours")}
    phase_samples = {}
    sums, ratios = set(), []
    for order in alternating(runs):
        pair = {}
        for label in order:
            run = run_measured(pythons[label], program, envs[label], [scale])
            for key in samples[label]:
                samples[label][key].append(getattr(run, key))
            sums.add(checksum(run.stdout))
            for phase, value in parse_phases(run.stdout).items():
                phase_samples.setdefault(phase, {}).setdefault(label, []).append(tuple(value))
            pair[label] = run.wall
        ratios.append(pair["ours"] / pair["stock"])
        if early_stop and len(ratios) < runs and should_stop_early(ratios):
            break
    if not sums_agree(name, sums):
        return None
    row = summarize(samples, ratios, phase_samples)
    row["stopped_early"] = len(ratios) < runs
    row["checksum"] = sums.pop()
    return row


def measure_giveback(pythons, envs, runs, scale, sleep):
    """The give-back program `runs` times per interpreter, alternating: per interpreter
    the median of each VmRSS figure; the ratio of the after-sleep medians."""
    got = {"stock": [], "ours": []}
    sums = set()
    for order in alternating(runs):
        for label in order:
            run = run_measured(pythons[label], GIVEBACK, envs[label], [scale, sleep])
            figures = parse_giveback(run.stdout)
            if not figures:
                raise RuntimeError(f"no giveback line from {pythons[label]}:\n{run.stdout[-500:]}")
            figures["wall"] = run.wall
            got[label].append(figures)
            sums.add(checksum(run.stdout))
    if not sums_agree("giveback", sums):
        return None
    result = {"runs": runs, "scale": scale, "sleep_s": sleep, "samples": got}
    for label in ("stock", "ours"):
        result[label] = {k: statistics.median(f[k] for f in got[label]) for k in got[label][0]}
    result["after_ratio"] = result["ours"]["after_kb"] / result["stock"]["after_kb"]
    result["pass"] = result["after_ratio"] <= TARGET_GIVEBACK
    return result


def format_giveback(g):
    lines = [f"give-back: ~{g['scale']:g} GB built, freed, {g['sleep_s']:g} s sleep; VmRSS, "
             f"median of {g['runs']} run(s) each",
             f"{'':15} {'start MB':>9} {'built MB':>9} {'freed MB':>9} {'after MB':>9} {'wall s':>7}"]
    for label in ("stock", "ours"):
        r = g[label]
        lines.append(f"{label:15} {r['start_kb'] / 1024:9.1f} {r['built_kb'] / 1024:9.1f}"
                     f" {r['freed_kb'] / 1024:9.1f} {r['after_kb'] / 1024:9.1f} {r['wall']:7.2f}")
    lines.append(f"RSS after the sleep, ours / stock {g['after_ratio']:.3f} "
                 f"(target <= {TARGET_GIVEBACK:.2f}): {verdict(g['pass'])}")
    return "\n".join(lines)


def summary_lines(results):
    """The closing lines and the JSON summary of the rows."""
    t = geomean([r["time_ratio"] for r in results.values()])
    m = geomean([r["rss_ratio"] for r in results.values()])
    f = geomean([r["minflt_ratio"] for r in results.values() if math.isfinite(r["minflt_ratio"])]
                or [1.0])
    lines = [f"geometric mean time ratio {t:.3f} (target <= {TARGET_TIME_GEOMEAN:.2f}): "
             f"{verdict(t <= TARGET_TIME_GEOMEAN)}; minor faults {f:.3f}; peak RSS {m:.3f}"]
    failing = {}
    for key, label, target in (("time", "time", TARGET_TIME), ("minflt", "minor faults", TARGET_MINFLT),
                               ("rss", "peak RSS", TARGET_RSS)):
        bad = [n for n, r in results.items() if not r["pass"][key]]
        failing[key] = bad
        lines.append(f"{label} <= {target}: {len(results) - len(bad)} of {len(results)} rows"
                     + (f"; FAIL: {', '.join(bad)}" if bad else ""))
    every = [n for n, r in results.items() if all(r["pass"].values())]
    lines.append(f"rows meeting every target: {len(every)} of {len(results)}")
    summary = {"time_geomean": t, "time_geomean_pass": t <= TARGET_TIME_GEOMEAN,
               "minflt_geomean": f, "rss_geomean": m, "failing": failing,
               "rows_passing": len(every), "rows": len(results)}
    if all(r.get("instructions") for r in results.values()):
        g = geomean([r["instructions"]["ratio"] for r in results.values()])
        summary["instructions_geomean"] = g
        lines.append(f"geometric mean instruction ratio {g:.4f}")
    return lines, summary


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, help=f"runs per interpreter (default {DEFAULTS['runs']},"
                    f" --quick {QUICK['runs']})")
    ap.add_argument("--scale", type=float, help="the programs' scale argument (default 1, --quick 0.1)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: fewer runs, smaller scale, a small short give-back")
    ap.add_argument("--programs", help="comma-separated names (default: all, and giveback)")
    ap.add_argument("--no-early-stop", dest="early_stop", action="store_false")
    ap.add_argument("--no-giveback", dest="giveback", action="store_false")
    ap.add_argument("--giveback-scale", type=float, help="GB to build (default 1, --quick 0.1)")
    ap.add_argument("--giveback-sleep", type=float, help="seconds (default 5, --quick 1)")
    ap.add_argument("--giveback-runs", type=int, help="runs per interpreter (default 2, --quick 1)")
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--candidate-env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--instructions", action="store_true")
    ap.add_argument("--instr-scale", type=float, default=0.05)
    args = ap.parse_args(argv)
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.runs < 1 or args.giveback_runs < 1:
        ap.error("--runs and --giveback-runs must be at least 1")
    names = program_names()
    if args.programs:
        wanted = args.programs.split(",")
        unknown = set(wanted) - set(names) - {"giveback"}
        if unknown:
            ap.error(f"unknown programs: {', '.join(sorted(unknown))}; "
                     f"have: {', '.join(names)}, giveback")
        args.giveback = args.giveback and "giveback" in wanted
        names = [n for n in wanted if n != "giveback"]
    args.names = names
    if not os.access(PEAKRSS, os.X_OK):
        ap.error(f"{PEAKRSS} is missing: run make first")
    return args


def main(argv=None):
    args = parse_args(argv)
    pythons = {"stock": args.stock, "ours": args.candidate}
    envs = {"stock": clean_env(), "ours": clean_env(args.candidate_env)}
    print(f"stock:     {args.stock}\ncandidate: {args.candidate}  (tracing off)\n"
          f"runs:      {args.runs} per interpreter, alternating; scale {args.scale:g}"
          f"{'; quick' if args.quick else ''}\n"
          f"targets:   every row time <= {TARGET_TIME}, minor faults <= {TARGET_MINFLT}, "
          f"peak RSS <= {TARGET_RSS}; time geomean <= {TARGET_TIME_GEOMEAN:.2f}\n", flush=True)
    if args.names:
        print(HEADER, flush=True)
    results, failed, giveback = {}, False, None

    def save():
        if not args.json:
            return
        data = {"stock": args.stock, "candidate": args.candidate, "runs": args.runs,
                "scale": args.scale, "quick": args.quick,
                "targets": {"time": TARGET_TIME, "minflt": TARGET_MINFLT, "rss": TARGET_RSS,
                            "time_geomean": TARGET_TIME_GEOMEAN, "giveback": TARGET_GIVEBACK},
                "programs": results, "giveback": giveback}
        if results:
            data["summary"] = summary_lines(results)[1]
        write_json(args.json, data)

    for name in args.names:
        program = os.path.join(PROGRAMS, name + ".py")
        try:
            row = measure_row(name, program, pythons, envs, args.runs, args.scale, args.early_stop)
            if row is None:
                failed = True
                continue
            row["instructions"] = None
            if args.instructions:
                i_stock, c1 = instructions(args.stock, program, envs["stock"], args.instr_scale)
                i_ours, c2 = instructions(args.candidate, program, envs["ours"], args.instr_scale)
                if c1 != c2:
                    raise RuntimeError(f"checksums differ under cachegrind: {c1} vs {c2}")
                row["instructions"] = {"stock": i_stock, "ours": i_ours, "ratio": i_ours / i_stock}
        except RuntimeError as e:
            print(f"{name:15} FAILED: {e}")
            failed = True
            continue
        results[name] = row
        print(format_row(name, row), flush=True)
        if row["phases"] and not (row["pass"]["time"] and row["pass"]["minflt"]):
            print(format_phases(row), flush=True)
        save()
    if results:
        lines, summary = summary_lines(results)
        print("\n" + "\n".join(lines), flush=True)
    if args.giveback:
        print(flush=True)
        try:
            giveback = measure_giveback(pythons, envs, args.giveback_runs, args.giveback_scale,
                                        args.giveback_sleep)
        except RuntimeError as e:
            print(f"giveback FAILED: {e}")
            failed = True
        if giveback is None:
            failed = True
        else:
            print(format_giveback(giveback))
    save()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
