"""What a program that forks often pays for tracing: a fork loop, against stock.

A child program builds a heap of 200,000 strings, then forks --forks times; each child
exits at once (`os._exit(0)`) and the parent waits for it (a server that forks per
request, without the request). Per build: the wall time a fork takes (fork, the child's
life, the wait), the parent's CPU time (all its threads: Pypper's too) and the
children's, per fork. The stock
interpreter (--stock), the candidate (the drop-in with PYPPER_ENABLE=1, the session
started before the program) and, when given, a --baseline build run --runs rounds,
alternating; printed: the medians and ranges, and the ratios to stock.

    ./python3 Tools/bench/fork_loop.py [--runs 3] [--forks 300] [--baseline OTHER/python3]
        [--stock /path/to/python3.12] [--lone]

--lone forks with 1.5 s between forks instead (each fork on its own: the session's
threads start again at once after each), --forks 5 by default then."""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from alloc_bench import ROOT, clean_env, default_stock  # noqa: E402

CHILD = r"""
import json, os, sys, time
FORKS, GAP = int(sys.argv[1]), float(sys.argv[2])
data = [str(i) * 3 for i in range(200_000)]
wall = 0.0
c0 = time.process_time(); r0 = os.times()
for i in range(FORKS):
    if GAP:
        time.sleep(GAP)
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    wall += time.perf_counter() - t
r1 = os.times()
print(json.dumps({"ms_per_fork": wall / FORKS * 1e3,
                  "parent_ms": (time.process_time() - c0) / FORKS * 1e3,
                  "child_ms": ((r1.children_user + r1.children_system)
                               - (r0.children_user + r0.children_system)) / FORKS * 1e3}))
"""


def run_one(python, traced, forks, gap):
    env = clean_env(["PYPPER_ENABLE=1", "PYPPER_START_DELAY_MS=0"] if traced else [])
    r = subprocess.run([python, "-c", CHILD, str(forks), str(gap)], env=env,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"{python}: {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--forks", type=int)
    ap.add_argument("--lone", action="store_true")
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--baseline")
    args = ap.parse_args()
    forks = args.forks or (5 if args.lone else 300)
    gap = 1.5 if args.lone else 0.0
    builds = [("stock", args.stock, False), ("candidate", args.candidate, True)]
    if args.baseline:
        builds.append(("baseline", args.baseline, True))
    got = {name: [] for name, _, _ in builds}
    for i in range(args.runs):
        for name, python, traced in builds[i % len(builds):] + builds[:i % len(builds)]:
            got[name].append(run_one(python, traced, forks, gap))
    print(f"{forks} forks{' 1.5 s apart' if gap else ' in a loop'}, {args.runs} rounds "
          f"(medians, ranges in brackets; ratio: to stock's median)")
    print(f"  {'build':10} {'ms a fork':>22} {'parent CPU ms':>22} {'child CPU ms':>22}")
    stock = {k: statistics.median(r[k] for r in got["stock"]) for k in got["stock"][0]}
    for name, _, _ in builds:
        cells = []
        for key in ("ms_per_fork", "parent_ms", "child_ms"):
            vals = [r[key] for r in got[name]]
            med = statistics.median(vals)
            cells.append(f"{med:6.2f} ({min(vals):.2f}-{max(vals):.2f}) {med / stock[key]:4.2f}x")
        print(f"  {name:10} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
