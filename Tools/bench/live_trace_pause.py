"""Live-trace figures (issue 4 targets: full pass <= 50 ns per object, GIL pause per
incremental pass p99 <= 2 ms with 1 million live objects). Builds about a million
live objects (dicts, lists, tuples, str, int, float, bytes), starts a session, runs an
allocation-heavy loop whose automatic collections each trigger a pass, and prints the
live trace's figures as JSON (one run; repeat it for a spread).

    ./python3 Tools/bench/live_trace_pause.py [--objects 1000000] [--seconds 3]
"""
import argparse
import json
import time

import pypper


def build(n):
    records = []
    for i in range(n // 5):
        records.append({"id": i, "name": "item%d" % i, "score": i * 0.5,
                        "tags": ("t%d" % (i % 97),), "blob": b"x" * (i % 40)})
    return records


def churn(seconds):
    end = time.perf_counter() + seconds
    keep = []
    rounds = 0
    while time.perf_counter() < end:
        batch = [[j, str(j)] for j in range(2000)]
        keep.append(batch[rounds % 2000])
        if len(keep) > 5000:
            del keep[:1000]
        rounds += 1
    return rounds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    data = build(args.objects)
    pypper.start()
    rounds = churn(args.seconds)
    stats = pypper.live_trace_stats()
    pypper.end()
    stats["churn_rounds"] = rounds
    stats["records"] = len(data)
    print(json.dumps(stats, indent=1))


main()
