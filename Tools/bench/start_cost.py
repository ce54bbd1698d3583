"""What a short program pays for Pypper: `python3 -c pass` and two short scripts (a
300 ms and a 1.5 s loop) under the stock python3.12, the drop-in untraced, the drop-in
with PYPPER_ENABLE=1 (the default START_DELAY_MS: the session starts a second into the
run) and with PYPPER_ENABLE=1 PYPPER_START_DELAY_MS=0 (the session before the program).

Each run is a fresh process; the variants alternate within each round. Reported per
program and variant: median wall and CPU time (user + system of the child) in ms with
the quartiles of the wall time, the ratios of the medians to stock's, and the median
minor page faults (counts that repeat nearly exactly, beside times that swing here by
up to 30%). A process start is about 30 ms here, so differences of 1-2 ms need
--runs 100 or more to show through the noise (--programs pass).

    ./python3 Tools/bench/start_cost.py [--runs 40] [--programs pass,loop300] [--json FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alloc_bench import ROOT, clean_env, default_stock  # noqa: E402

PROGRAMS = {
    "pass": ["-c", "pass"],
    # Busy loops of 300 ms and 1.5 s: shorter and longer than the default delay.
    "loop300": ["-c", "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 0.3: pass"],
    "loop1500": ["-c", "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 1.5: pass"],
}


def run_once(python, args, env):
    """(wall s, cpu s, minor faults) of one fresh process; its output is discarded."""
    t0 = time.perf_counter()
    pid = os.posix_spawnp(python, [python, *args], env,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"start_cost: {python} {' '.join(args)} exited with {status}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_minflt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    names = args.programs.split(",")
    unknown = [n for n in names if n not in PROGRAMS]
    if unknown:
        ap.error(f"unknown programs: {', '.join(unknown)} (known: {', '.join(PROGRAMS)})")
    base = clean_env()
    variants = {
        "stock": (args.stock, base),
        "off": (args.candidate, base),
        "on": (args.candidate, {**base, "PYPPER_ENABLE": "1"}),
        "on_delay0": (args.candidate, {**base, "PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "0"}),
    }
    print(f"stock: {args.stock}\ncandidate: {args.candidate}\n{args.runs} rounds, variants "
          f"alternating: stock, off (untraced), on (PYPPER_ENABLE=1), on_delay0 (and "
          f"START_DELAY_MS=0)\n")
    print(f"{'program':8} {'variant':10} {'wall ms':>8} {'q1':>6} {'q3':>6} {'cpu ms':>7} "
          f"{'wall/st':>7} {'cpu/st':>7} {'minflt':>7}")
    table = {}
    for name in names:
        got = {v: ([], [], []) for v in variants}
        for _ in range(args.runs):
            for v, (python, env) in variants.items():
                for series, value in zip(got[v], run_once(python, PROGRAMS[name], env)):
                    series.append(value)
        stock_wall = statistics.median(got["stock"][0])
        stock_cpu = statistics.median(got["stock"][1])
        rows = {}
        for v, (wall, cpu, flt) in got.items():
            q = statistics.quantiles(wall, n=4) if len(wall) > 1 else [wall[0]] * 3
            row = {"wall_ms": 1e3 * statistics.median(wall), "wall_q1_ms": 1e3 * q[0],
                   "wall_q3_ms": 1e3 * q[2], "cpu_ms": 1e3 * statistics.median(cpu),
                   "minflt": statistics.median(flt)}
            row["wall_per_stock"] = row["wall_ms"] / (1e3 * stock_wall)
            row["cpu_per_stock"] = row["cpu_ms"] / (1e3 * stock_cpu) if stock_cpu else float("nan")
            rows[v] = row
            print(f"{name:8} {v:10} {row['wall_ms']:8.1f} {row['wall_q1_ms']:6.1f} "
                  f"{row['wall_q3_ms']:6.1f} {row['cpu_ms']:7.1f} {row['wall_per_stock']:7.3f} "
                  f"{row['cpu_per_stock']:7.3f} {row['minflt']:7.0f}")
        table[name] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "table": table}, f, indent=1)


if __name__ == "__main__":
    main()
