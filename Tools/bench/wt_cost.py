"""What write tracking costs the program: the programs of Tools/bench/programs under the
stock python3.12, the drop-in traced with WRITE_TRACKING=off, and traced with
WRITE_TRACKING=on, in alternating order. Counts first (the machine may be shared, so
wall time is noise): minor page faults, system and user CPU seconds (getrusage of the
child, all its threads), then wall time; and from the session's trace file, the
write-tracking scans and the pages they found written.

    ./python3 Tools/bench/wt_cost.py [--runs 3] [--programs a,b] [--option NAME=VALUE]...
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROGRAMS = ("binary_trees", "buffers", "churn", "containers", "json_roundtrip", "nbody",
            "oo_sim", "strings")
STOCK = "/root/.pyenv/versions/3.12.1/bin/python3.12"


def env_for(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPPER_")}
    env.update(extra)
    return env


def run(python, program, extra):
    path = os.path.join(HERE, "programs", program + ".py")
    t0 = time.perf_counter()
    p = subprocess.Popen([python, path], env=env_for(extra), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{program} failed under {python}: {err}")
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime, "minflt": ru.ru_minflt}


def end_event(trace):
    with open(trace) as f:
        for line in f:
            e = json.loads(line)
            if e.get("event") == "end":
                return e
    return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--programs")
    ap.add_argument("--option", action="append", default=[])
    ap.add_argument("--json")
    args = ap.parse_args()
    names = args.programs.split(",") if args.programs else PROGRAMS
    dropin = os.path.join(ROOT, "python3")
    opts = {"PYPPER_" + o.split("=", 1)[0].upper(): o.split("=", 1)[1] for o in args.option}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows = {"stock": [], "off": [], "on": []}
            scans = []
            for r in range(args.runs):
                for kind in ("stock", "off", "on"):
                    if kind == "stock":
                        rows[kind].append(run(STOCK, name, {}))
                        continue
                    trace = os.path.join(tmp, f"{name}-{kind}-{r}.jsonl")
                    extra = {"PYPPER_ENABLE": "1", "PYPPER_HEAT_INTERVAL_MS": "0",
                             "PYPPER_TRACE_FILE": trace, "PYPPER_WRITE_TRACKING": kind, **opts}
                    rows[kind].append(run(dropin, name, extra))
                    if kind == "on":
                        st = end_event(trace).get("stats", {})
                        scans.append((st.get("write_tracking_scans", 0),
                                      st.get("write_tracking_written_pages", 0),
                                      st.get("signal", "?")))
            med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]}
                   for k, v in rows.items()}
            results[name] = {"median": med, "scans": scans}
            on, off, st = med["on"], med["off"], med["stock"]
            print(f"{name:15s} minflt stock {st['minflt']:8.0f} off {off['minflt']:8.0f} "
                  f"on {on['minflt']:8.0f} (+{on['minflt'] - off['minflt']:6.0f}) | sys s "
                  f"{st['sys']:.3f} {off['sys']:.3f} {on['sys']:.3f} | user s {st['user']:.2f} "
                  f"{off['user']:.2f} {on['user']:.2f} | wall {st['wall']:.2f} {off['wall']:.2f} "
                  f"{on['wall']:.2f} | scans, written pages: {scans}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
