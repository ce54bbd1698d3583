"""Share of a snapshot's bytes whose allocation site is known, per program.

Each program runs in a child interpreter with a session started before it (as
`pypper run` does); snapshots are taken every 0.25 s while it runs and once when it returns (its
module's data still alive); the largest one counts. Bytes are object bodies plus the buffers they own (owned_bytes, when the
snapshot has it). Prints one row per program: objects, bytes, the share of bytes with
a site (of all, and of those allocated in the session, i.e. not "before session"),
and the bytes per site kind (sampled, buffer, inferred, before session, not sampled).

    ./python3 Tools/bench/site_share.py [--scale S] [--json out.json] [--accuracy] [--at-exit]
                                        [program.py ...]
--at-exit (and --accuracy) take only the snapshot at exit: no timing in it (5 runs:
sites_lru and sites_columns one figure each, sites_bfs 96.3-97.2%).
Default programs: tests/programs/sites_*.py and Tools/bench/programs/*.py."""
import argparse
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CHILD = r"""
import gc, json, os, runpy, sys, threading
import pypper
path, scale = sys.argv[1], sys.argv[2]


ACCURACY = sys.argv[3] == "1"
AT_EXIT = ACCURACY or sys.argv[4] == "1"
if ACCURACY:
    import ctypes, tracemalloc
    tracemalloc.start(32)
    LIBRARY = sys._stdlib_dir.rstrip("/") + "/"


def truth(address):
    # tracemalloc's record of the object's allocation, as "file:line", or None: the
    # innermost frame outside the standard library (as Pypper's sites), the innermost
    # one when all are in it.
    tb = tracemalloc.get_object_traceback(ctypes.cast(address, ctypes.py_object).value)
    if not tb:
        return None
    frames = list(tb)[::-1]             # innermost first
    mine = [f for f in frames if not (f.filename.startswith(LIBRARY)
                                      or f.filename.startswith("<frozen "))]
    f = mine[0] if mine else frames[0]
    return f"{f.filename}:{f.lineno}"


def measure():
    snap = pypper.snapshot()
    out = {"objects": len(snap.objects), "bytes": 0, "known": 0, "kinds": {}, "right": {},
           "checked": {}}
    for o in snap.objects:
        b = o.size + getattr(o, "owned_bytes", 0)
        out["bytes"] += b
        kind = getattr(o, "site_kind", None) or ("sampled" if o.site else "unknown")
        out["kinds"][kind] = out["kinds"].get(kind, 0) + b
        if o.site:
            out["known"] += b
        if ACCURACY and o.site and kind in ("sampled", "inferred"):
            t = truth(o.address)
            if t:
                out["checked"][kind] = out["checked"].get(kind, 0) + b
                if o.site.rsplit(" (", 1)[0] == t:
                    out["right"][kind] = out["right"].get(kind, 0) + b
    return out


best = {"bytes": -1}
done = threading.Event()


def watch():
    global best
    while not done.wait(0.25):
        m = measure()
        if m["bytes"] > best["bytes"]:
            best = m


pypper.start()
sys.argv = [path, scale]
sys.path.insert(0, os.path.dirname(path))
t = threading.Thread(target=watch, daemon=True)
if not AT_EXIT:
    t.start()
import io, contextlib
with contextlib.redirect_stdout(io.StringIO()):
    g = runpy.run_path(path, run_name="__main__")
done.set()
if not AT_EXIT:
    t.join()
gc.collect()
m = measure()
print(json.dumps(m if m["bytes"] > best["bytes"] else best))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("programs", nargs="*")
    ap.add_argument("--scale", default="1")
    ap.add_argument("--json")
    ap.add_argument("--accuracy", action="store_true",
                    help="also check sampled and inferred sites against tracemalloc's record "
                         "of each object's allocation (one snapshot, at exit)")
    ap.add_argument("--at-exit", action="store_true",
                    help="one snapshot, when the program returns (no snapshots while it "
                         "runs: their allocations and timing would change what is sampled)")
    args = ap.parse_args()
    programs = args.programs or (sorted(glob.glob(os.path.join(ROOT, "tests/programs/sites_*.py")))
                                 + sorted(p for p in glob.glob(os.path.join(HERE, "programs/*.py"))
                                          if not os.path.basename(p).startswith("_")))
    rows = {}
    for p in programs:
        r = subprocess.run([sys.executable, "-c", CHILD, p, args.scale,
                            "1" if args.accuracy else "0", "1" if args.at_exit else "0"],
                           capture_output=True,
                           text=True, timeout=600)
        name = os.path.basename(p)[:-3]
        if r.returncode:
            print(f"{name:16} failed: {r.stderr.strip().splitlines()[-1:]}")
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        rows[name] = d
        share = d["known"] / d["bytes"] if d["bytes"] else 0.0
        session = d["bytes"] - d["kinds"].get("before session", 0)
        in_session = d["known"] / session if session > 0 else 0.0
        kinds = ", ".join(f"{k} {v / d['bytes']:.1%}" for k, v in sorted(d["kinds"].items()))
        print(f"{name:16} {d['objects']:>8} objects {d['bytes'] / 1e6:>7.2f} MB  known {share:6.1%}"
              f"  of session bytes {in_session:6.1%}  ({kinds})")
        if args.accuracy:
            print(" " * 17 + "agrees with tracemalloc: " + ", ".join(
                f"{k} {d['right'].get(k, 0) / v:.1%} of {v / 1e6:.2f} MB"
                for k, v in sorted(d["checked"].items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
