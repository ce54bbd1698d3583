"""Records a loop scans: are they hot, and the records nobody reads cold? And what does
it cost against the stock interpreter?

A child program builds 200,000 namedtuple records, then scans the first N of them in a
`for` loop (`s += r.a`) for --seconds, the rest never read. Under Pypper it then asks
temperature() of 2,000 scanned and 2,000 unused records (after the loop: the loop's
list stays a local) and the snapshot's hot bytes of the record type. Truth: every
scanned record is read as often as every other (scans a second, printed), the unused
ones never after the build.

Each build (--candidate, --baseline when given) and the stock interpreter (--stock)
run each N --runs times, alternating; printed: the medians (and ranges) of the share
of scanned records at temperature >= 0.5, of unused ones at >= 0.2, of the record
type's hot bytes over the scanned records' bytes; the scans a second against stock's
(the loop's speed with tracing on); the scan groups' own memory.

    ./python3 Tools/bench/scanned_records.py [--runs 3] [--sizes 5000,30000,100000]
        [--seconds 3] [--baseline OTHER/python3] [--stock /path/to/python3.12]"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STOCK = "/root/.pyenv/versions/3.12.1/bin/python3.12"

CHILD = r"""
import collections, json, sys, time
N, SECONDS, TRACED = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
if TRACED:
    import pypper, _pypper
    pypper.start()
Rec = collections.namedtuple("Rec", "a b c")

def main():
    data = [Rec(i, str(i), float(i)) for i in range(200_000)]
    hot = data[:N]
    t = time.perf_counter(); s = 0; rounds = 0
    while time.perf_counter() - t < SECONDS:
        for r in hot:
            s += r.a
        rounds += 1
    out = {"scans_per_s": rounds / (time.perf_counter() - t)}
    if TRACED:
        step = max(1, N // 2000)
        scanned = _pypper.temperatures(hot[::step])
        unused = _pypper.temperatures(data[N::max(1, (200_000 - N) // 2000)])
        by_type = pypper.snapshot().by_type()["Rec"]
        st = pypper.active_trace_stats()
        out.update(hot_scanned=sum(x >= 0.5 for x in scanned) / len(scanned),
                   warm_unused=sum(x >= 0.2 for x in unused) / len(unused),
                   type_hot=by_type["hot_bytes"] / (N * sys.getsizeof(hot[0]) + N * 16),
                   groups=st.get("scan_groups", 0),
                   group_bytes=pypper.own_memory()["parts"].get("scan_groups", 0),
                   hand_over_s=st["hand_over_seconds"])
    print(json.dumps(out))

main()
"""


def one(python, n, seconds, traced):
    r = subprocess.run([python, "-c", CHILD, str(n), str(seconds), "1" if traced else "0"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"{python} N={n}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def fmt(values, pct=True):
    if not values:
        return "-"
    m = statistics.median(values)
    if pct:
        return f"{100 * m:.0f}% ({100 * min(values):.0f}-{100 * max(values):.0f})"
    return f"{m:.3f} ({min(values):.3f}-{max(values):.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="5000,30000,100000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--baseline", help="another build to compare (its python3)")
    ap.add_argument("--stock", default=STOCK, help="the stock interpreter (speed reference)")
    a = ap.parse_args()
    builds = [("candidate", a.candidate)] + ([("baseline", a.baseline)] if a.baseline else [])
    print(f"records scanned for {a.seconds} s among 200,000; {a.runs} runs each, alternating")
    for n in [int(x) for x in a.sizes.split(",")]:
        res = {name: [] for name, _ in builds}
        stock = []
        for _ in range(a.runs):
            stock.append(one(a.stock, n, a.seconds, False)["scans_per_s"])
            for name, py in builds:
                res[name].append(one(py, n, a.seconds, True))
        print(f"\nN = {n:,}: stock scans each record {statistics.median(stock):.0f} times a second")
        print("  build      scanned hot    unused warm   type hot bytes   speed vs stock     "
              "groups' memory   hand-overs s")
        for name, _ in builds:
            rs = res[name]
            speed = [r["scans_per_s"] / s for r, s in zip(rs, stock)]
            print(f"  {name:<10} {fmt([r['hot_scanned'] for r in rs]):<14} "
                  f"{fmt([r['warm_unused'] for r in rs]):<13} {fmt([r['type_hot'] for r in rs]):<16} "
                  f"{fmt(speed, pct=False):<18} {statistics.median(r['group_bytes'] for r in rs) / 1024:8.0f} KiB "
                  f"  {statistics.median(r['hand_over_s'] for r in rs):.3f}")


if __name__ == "__main__":
    main()
