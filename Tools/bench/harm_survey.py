"""Do-no-harm survey: programs of patterns beyond the allocator and tracing benchmarks
(Tools/bench/survey/: record-building loops, thread pools, asyncio, gc.freeze, large
zero-filled and freed buffers, zero-filled buffers kept, buffers and slices in loops,
finalizers, pickle and sort, build-and-drop phases, an idle program, an address-space
limit) under the stock python3.12, the drop-in with
tracing off and with PYPPER_ENABLE=1 PYPPER_START_DELAY_MS=0 (the session before the
program, so that its whole cost shows: by default it would start a second in, and the
shorter programs would run untraced; Tools/bench/start_cost.py measures that), in
rotating order, fresh processes, no other PYPPER_* variable.

Per program and configuration: median wall time, CPU time (user + system of the child,
os.wait4), peak RSS (ru_maxrss) and voluntary context switches; the ratios off/stock and
on/stock (median of the per-round ratios, [min-max]); any `METRIC name value` line a
program prints on stderr (median). Every run's stdout must equal stock's and its exit
status must be 0; any other stderr line is shown. Flags: time or CPU ratio above 1.05
(and 0.05 s more), peak RSS above 1.05x and 2 MiB more, a metric 1.5x stock's and 2
units more. A program may ask for an address-space limit with a `# survey:
rlimit_as=BYTES` line.

    ./python3 Tools/bench/harm_survey.py [--rounds 3] [--programs records,idle]
        [--candidate ./python3] [--stock PATH] [--timeout 300] [--json FILE]
Exit status 1 when an output differs or a run fails; flags only print."""
import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from alloc_bench import ROOT, clean_env, default_stock  # noqa: E402

SURVEY = os.path.join(HERE, "survey")
CONFIGS = ("stock", "off", "on")
MIN_SECONDS = 0.05          # a time flag needs this much more than stock, too


def programs(names):
    found = sorted(f[:-3] for f in os.listdir(SURVEY) if f.endswith(".py"))
    if not names:
        return found
    wanted = names.split(",")
    unknown = [n for n in wanted if n not in found]
    if unknown:
        sys.exit(f"harm_survey: unknown program(s) {', '.join(unknown)}; known: {', '.join(found)}")
    return wanted


def limit_of(path):
    with open(path) as f:
        m = re.search(r"^# survey: rlimit_as=(\d+)$", f.read(), re.M)
    return int(m.group(1)) if m else None


def run_one(python, path, env, timeout):
    """One run: wall time, and from os.wait4 the child's own CPU time, peak RSS (KiB)
    and voluntary context switches; stdout, exit status, and stderr split into METRIC
    lines and the rest."""
    limit = limit_of(path)

    def apply_limit():
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))

    t0 = time.monotonic()
    p = subprocess.Popen([python, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         cwd=SURVEY, preexec_fn=apply_limit, start_new_session=True)
    outs = {}
    readers = [threading.Thread(target=lambda k, f: outs.__setitem__(k, f.read()), args=(k, f))
               for k, f in (("out", p.stdout), ("err", p.stderr))]
    for t in readers:
        t.start()
    timed_out = False
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - t0 > timeout:
            timed_out = True
            os.killpg(p.pid, signal.SIGKILL)
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.002)
    wall = time.monotonic() - t0
    for t in readers:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    if timed_out:
        return {"failed": f"timed out after {timeout} s"}
    found, rest = metrics(outs["err"].decode(errors="replace"))
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss,
            "nvcsw": ru.ru_nvcsw, "rc": p.returncode, "out": outs["out"].decode(errors="replace"),
            "metrics": found, "stderr": rest}


def metrics(err):
    found, rest = {}, []
    for line in err.splitlines():
        m = re.match(r"METRIC (\S+) (\S+)$", line)
        if m:
            found[m.group(1)] = float(m.group(2))
        elif line.strip():
            rest.append(line)
    return found, rest


def summary(xs):
    """Medians of one configuration's runs of a program; its metrics and other stderr."""
    keys = {k for x in xs for k in x["metrics"]}
    return {"wall": statistics.median(x["wall"] for x in xs),
            "cpu": statistics.median(x["cpu"] for x in xs),
            "rss_kib": statistics.median(x["rss"] for x in xs),
            "nvcsw": statistics.median(x["nvcsw"] for x in xs),
            "metrics": {k: statistics.median(x["metrics"].get(k, 0.0) for x in xs) for k in keys},
            "stderr": sorted({line for x in xs for line in x["stderr"]})}


def fmt_ratio(values):
    if not values:
        return "n/a"
    return f"{statistics.median(values):.3f} [{min(values):.2f}-{max(values):.2f}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--programs", default="")
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json")
    opts = ap.parse_args()
    base_env = clean_env()
    envs = {"stock": base_env, "off": base_env, "on": {**base_env, "PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "0"}}
    pythons = {"stock": opts.stock, "off": opts.candidate, "on": opts.candidate}
    names = programs(opts.programs)
    runs = {}                   # (program, config) -> list of results
    bad = []
    for r in range(opts.rounds):
        for name in names:
            path = os.path.join(SURVEY, name + ".py")
            order = CONFIGS[r % 3:] + CONFIGS[:r % 3]
            for cfg in order:
                res = run_one(pythons[cfg], path, envs[cfg], opts.timeout)
                runs.setdefault((name, cfg), []).append(res)
                print(f"round {r + 1}/{opts.rounds} {name} {cfg}: "
                      + (res["failed"] if "failed" in res else
                         f"{res['wall']:.2f} s, cpu {res['cpu']:.2f} s, rss {res['rss']} KiB"),
                      file=sys.stderr, flush=True)
    print(f"candidate: {opts.candidate}; stock: {opts.stock}; {opts.rounds} rounds, rotating order")
    print(f"{'program':18} {'stock s':>8} {'cpu s':>6} {'MiB':>6}  {'off/stock time':>20} "
          f"{'on/stock time':>20} {'on/stock cpu':>20} {'on/stock rss':>20}  flags")
    table = {}
    for name in names:
        st = runs[(name, "stock")]
        if any("failed" in x for cfg in CONFIGS for x in runs[(name, cfg)]):
            bad.append(f"{name}: a run failed")
            print(f"{name:18} a run failed: "
                  + "; ".join(x["failed"] for cfg in CONFIGS for x in runs[(name, cfg)] if "failed" in x))
            continue
        row, flags = {}, []
        for cfg in CONFIGS:
            for x, s in zip(runs[(name, cfg)], st):
                if x["rc"] != 0 or x["out"] != s["out"]:
                    bad.append(f"{name} {cfg}: exit {x['rc']}, output "
                               + ("differs from stock's" if x["out"] != s["out"] else "as stock's"))
        row["stock"] = summary(st)
        for cfg in ("off", "on"):
            xs = runs[(name, cfg)]
            row[cfg] = {**summary(xs),
                        "time": [x["wall"] / s["wall"] for x, s in zip(xs, st)],
                        "cpu": [x["cpu"] / s["cpu"] if s["cpu"] > 0 else 1.0 for x, s in zip(xs, st)],
                        "rss": [x["rss"] / s["rss"] for x, s in zip(xs, st) if x["rss"] and s["rss"]]}
            t = statistics.median(row[cfg]["time"])
            c = statistics.median(row[cfg]["cpu"])
            rss_extra = row[cfg]["rss_kib"] - row["stock"]["rss_kib"]
            if t > 1.05 and (t - 1.0) * row["stock"]["wall"] > MIN_SECONDS:
                flags.append(f"{cfg} time {t:.2f}x")
            if c > 1.05 and (c - 1.0) * row["stock"]["cpu"] > MIN_SECONDS:
                flags.append(f"{cfg} cpu {c:.2f}x")
            if row[cfg]["rss"] and statistics.median(row[cfg]["rss"]) > 1.05 and rss_extra > 2048:
                flags.append(f"{cfg} rss +{rss_extra / 1024:.1f} MiB")
            for key, v in row[cfg]["metrics"].items():
                sv = row["stock"]["metrics"].get(key, 0.0)
                if v > 1.5 * sv and v - sv > 2:
                    flags.append(f"{cfg} {key} {v:g} (stock {sv:g})")
            if row[cfg]["stderr"]:
                flags.append(f"{cfg} stderr: {row[cfg]['stderr'][0][:80]}")
        table[name] = row
        print(f"{name:18} {row['stock']['wall']:8.2f} {row['stock']['cpu']:6.2f} "
              f"{row['stock']['rss_kib'] / 1024:6.1f}  {fmt_ratio(row['off']['time']):>20} "
              f"{fmt_ratio(row['on']['time']):>20} {fmt_ratio(row['on']['cpu']):>20} "
              f"{fmt_ratio(row['on']['rss']):>20}  {', '.join(flags) or '-'}")
        for key, v in row["stock"]["metrics"].items():
            print(f"{'':18} {key}: stock {v:g}, off {row['off']['metrics'].get(key, 0):g}, "
                  f"on {row['on']['metrics'].get(key, 0):g}")
        print(f"{'':18} voluntary context switches: stock {row['stock']['nvcsw']:g}, "
              f"off {row['off']['nvcsw']:g}, on {row['on']['nvcsw']:g}")
    for line in bad:
        print("FAIL:", line)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"candidate": opts.candidate, "rounds": opts.rounds, "table": table,
                       "failures": bad}, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
