"""Key-value store of small slotted records under Zipf requests, with a pause between
its build and its access phase: it prints "BUILT" and waits for a line on stdin, so
that a harness can put the memory limit on after the build (as a server's memory
limit meets a heap that is already built). Deterministic for a given seed; prints one
JSON line with a checksum and the access phase's major faults and seconds. Under
Tools/bench/farmem_bench.py (workload `kv-slots`) the pause is _common.ready() instead
and the line also has the harness's build/access phase figures.

    python3 kv_slots.py [--records 400000] [--ops 600000] [--seed 3] [--no-wait]
"""
import argparse
import bisect
import itertools
import json
import os
import random
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Phase, finish, ready  # noqa: E402


class Record:
    __slots__ = ("uid", "name", "score", "tags", "visits")

    def __init__(self, i, rng):
        self.uid = i
        self.name = f"user-{i}"
        self.score = rng.random()
        self.tags = (i % 7, i % 11, "t%d" % (i % 13))
        self.visits = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=400000)
    ap.add_argument("--ops", type=int, default=600000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--no-wait", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    build = Phase().start()
    store, keys = {}, []
    for i in range(a.records):
        k = f"k{i:08d}"
        keys.append(k)
        store[k] = Record(i, rng)
    order = keys[:]
    rng.shuffle(order)
    cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(a.records)))
    total = cum[-1]
    build = build.stop()
    harness = "FARMEM_READY_FD" in os.environ
    if harness:
        ready()
    else:
        print("BUILT", flush=True)
        if not a.no_wait:
            sys.stdin.readline()
    access = Phase().start()
    ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    acc, mask = 0, (1 << 61) - 1
    for _ in range(a.ops // 10000):
        ranks = [bisect.bisect_left(cum, rng.random() * total) for _ in range(10000)]
        for r in ranks:
            rec = store[order[r]]
            rec.visits += 1
            acc = (acc * 31 + rec.uid + len(rec.name) + rec.tags[0] + int(rec.score * 1000)) & mask
    ru1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    access = access.stop()
    if harness:
        finish("kv-slots", vars(a), acc, build, access)
    else:
        print(json.dumps({"checksum": acc, "access_s": t1 - t0,
                          "access_majflt": ru1.ru_majflt - ru0.ru_majflt}), flush=True)


if __name__ == "__main__":
    main()
