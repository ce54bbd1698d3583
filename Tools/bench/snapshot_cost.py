"""What a snapshot costs (issue 12 target: 1 million traced objects -> pypper.snapshot()
and Snapshot.save() each in <= 1 s and <= 100 MB of peak RSS above the RSS before
the call). Builds about --objects objects of mixed types (instances, dicts, lists,
tuples, str, bytes), starts a session (its full pass traces them), then for
snapshot(), by_type() + hottest(), save() and load() prints the wall time and the
peak RSS above the RSS just before (the kernel's high-water mark, reset through
/proc/self/clear_refs before each step). Then what a capture's records cost
(`pypper run`, Lib/pypper/_capture.py): "record sums" is the walk a frame and a
groups record share (_pypper.snapshot_sums: the objects summed in C, no row each),
"frame+groups" the pair as the recorder makes it; "columns" is snapshot_data's walk
with a row per object, for comparison. Wall times on a shared machine are noisy:
repeat and take the best.

    ./python3 Tools/bench/snapshot_cost.py [--objects 1000000] [--json]
"""
import argparse
import gc
import json
import os
import tempfile
import time

import _pypper
import pypper
from pypper import _capture


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def build(n):
    data = []
    for i in range(n // 8):              # about 8 traced objects a group
        data.append((Point(i, None), {"k": "v%d" % i, "b": b"x" * (i % 24)},
                     ["s%d" % (i % 1000), (i, "t")]))
    return data


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def measure(label, fn, out):
    gc.collect()
    reset_peak()
    before = status_kb("VmRSS")
    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    peak = status_kb("VmHWM")
    out[label] = {"seconds": round(seconds, 3), "peak_extra_mb": round((peak - before) / 1024, 1)}
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = build(args.objects)
    pypper.start()
    out = {"traced_objects": pypper.live_trace_stats()["objects"]}
    # The records first: what the steps below free stays idle and would hide their peak.
    cold = _pypper.session_config()[0]["cold_threshold"]
    measure("record sums", lambda: _capture.sums_now(cold), out)
    measure("frame+groups", _capture.frame_and_groups, out)
    measure("columns", lambda: _pypper.snapshot_data(0.0, True, True), out)
    snap = measure("snapshot", pypper.snapshot, out)
    out["snapshot_objects"] = len(snap.objects)
    measure("by_type+hottest", lambda: (snap.by_type(), snap.hottest(10)), out)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "snap.pypper")
        measure("save", lambda: snap.save(path), out)
        out["file_mb"] = round(os.path.getsize(path) / 2**20, 1)
        del snap
        back = measure("load", lambda: pypper.load(path), out)
        out["loaded_objects"] = len(back.objects)
        del back
    pypper.end()
    del data
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"traced objects: {out['traced_objects']}, in the snapshot: {out['snapshot_objects']}, "
          f"file {out['file_mb']} MiB")
    for k in ("record sums", "frame+groups", "columns", "snapshot", "by_type+hottest", "save", "load"):
        print(f"{k:16} {out[k]['seconds']:7.3f} s  peak +{out[k]['peak_extra_mb']:7.1f} MB")


main()
