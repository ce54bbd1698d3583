"""The live trace's full pass at start() (issue 12 target: <= 50 ns per object): builds
about N objects of mixed types (instances, dicts, lists, tuples, str, bytes, sets),
then starts and ends a session --repeat times (each start walks everything) and prints
the full pass's objects, milliseconds and ns per object of each, the object table's
resident bytes (entries, index) after the first start, and the heap's bytes in use.
Timings are wall time: on a shared machine take the best of several repeats.

    ./python3 Tools/bench/live_trace_pass.py [--objects 1000000] [--repeat 3] [--json]
"""
import argparse
import json

import _pypper
import pypper


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def build(n):
    """About n objects reachable from one list, in groups of 10."""
    data = []
    for i in range(n // 10):
        data.append((Point(i, None),                       # instance + its dict: 2
                     {"k": "v%d" % i, "b": b"x" * (i % 24)},  # dict, str, bytes: 3
                     ["s%d" % (i % 1000), (i, "t")],        # list, str, tuple, str: 4
                     ))                                     # the tuple itself: 1
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args()
    data = build(args.objects)
    runs, own = [], None
    for r in range(args.repeat):
        pypper.start()
        s = pypper.live_trace_stats()
        if r == 0:
            _pypper.live_trace_knows(data)     # syncs: the pending entries are hashed
            own = pypper.own_memory()
        pypper.end()
        runs.append({k: s[k] for k in ("full_pass_objects", "full_pass_ms", "full_pass_ns_per_object")})
    best = min(r["full_pass_ns_per_object"] for r in runs)
    out = {"objects_built": len(data) * 10, "runs": runs, "best_ns_per_object": best,
           "objtable_bytes": own["parts"]["objtable_entries"] + own["parts"]["objtable_states"],
           "own_bytes": own["own_bytes"], "heap_bytes_in_use": own["heap_bytes_in_use"]}
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for r in runs:
        print(f"full pass: {r['full_pass_objects']} objects in {r['full_pass_ms']:.1f} ms, "
              f"{r['full_pass_ns_per_object']:.1f} ns/object")
    n = runs[0]["full_pass_objects"] or 1
    print(f"best {best:.1f} ns/object (target <= 50); object table {out['objtable_bytes'] / n:.1f} "
          f"bytes/object; own {out['own_bytes'] / 2**20:.1f} MiB = "
          f"{100 * out['own_bytes'] / out['heap_bytes_in_use']:.2f}% of the heap in use "
          f"({out['heap_bytes_in_use'] / 2**20:.1f} MiB)")


main()
