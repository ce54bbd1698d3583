"""The pauses a program sees from the live trace's walks: a child builds a heap of one
shape, then loops (3 s) and reports the three longest gaps between two iterations of
its loop. Shapes (--shapes, all by default):
  dicts      N dicts in a list, built from the start: with the delayed start
             (PYPPER_ENABLE=1), the session starts a second in, after the heap is built,
             and its first pass takes it;
  late_list  2N strings in one list, built 1.3 s in (the session runs by then): one
             container with 2N referents for the hand-overs' walks;
  late_dict  a dict of N strings to strings (untracked by the GC: it holds no
             container) in a list, built 1.3 s in.
Variants, alternating: the stock python3.12, the drop-in untraced, PYPPER_ENABLE=1
(the default START_DELAY_MS) and PYPPER_ENABLE=1 PYPPER_START_DELAY_MS=0 (the session
before the program). Per shape and variant: the median and range of the longest gap,
and the median of the third longest (a pause that comes back).

    ./python3 Tools/bench/start_pause.py [--runs 3] [--objects 600000] [--seconds 3]
                                         [--shapes dicts,late_list,late_dict]
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alloc_bench import ROOT, clean_env, default_stock  # noqa: E402

SHAPES = ("dicts", "late_list", "late_dict")

CHILD = r"""
import sys, time
shape, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic()
if shape != "dicts":
    while time.monotonic() - t0 < 1.3:     # the delayed start (1 s) has run
        pass
tb = time.monotonic()
if shape == "dicts":
    data = [{"k": i, "v": str(i)} for i in range(n)]
    def use(k): return data[k % n]
elif shape == "late_list":
    data = [str(i) + "x" for i in range(2 * n)]
    def use(k): return data[k % (2 * n)]
else:
    data = [{str(i): str(i) + "a" for i in range(n)}]
    def use(k): return data[0].get(str(k % n))
built = time.monotonic() - tb
top = [(0.0, 0.0)] * 3                     # the longest gaps (no list that grows)
last = start = time.monotonic()
while last - start < seconds:
    use(int(last * 1e6))
    now = time.monotonic()
    if now - last > top[2][0]:
        top[2] = (now - last, now - t0)
        top.sort(reverse=True)
    last = now
print(f"{built:.3f}", " ".join(f"{g * 1e3:.2f}@{t:.2f}" for g, t in top))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--objects", type=int, default=600_000,
                    help="N: dicts in the list, entries of the dict, half the strings of the list")
    ap.add_argument("--seconds", type=float, default=3.0, help="the loop after the build")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    args = ap.parse_args()
    shapes = args.shapes.split(",")
    if set(shapes) - set(SHAPES):
        ap.error(f"unknown shapes: {', '.join(sorted(set(shapes) - set(SHAPES)))}")
    variants = {
        "stock": (args.stock, clean_env()),
        "untraced": (args.candidate, clean_env()),
        "on": (args.candidate, clean_env(["PYPPER_ENABLE=1"])),
        "on_delay0": (args.candidate, clean_env(["PYPPER_ENABLE=1", "PYPPER_START_DELAY_MS=0"])),
    }
    print(f"stock: {args.stock}; candidate: {args.candidate}; N = {args.objects}; "
          f"{args.runs} runs, alternating")
    for shape in shapes:
        longest = {v: [] for v in variants}
        third = {v: [] for v in variants}
        print(f"\n{shape}\n{'variant':10} {'built s':>7}  longest gaps between two loop iterations (ms @ s)")
        for r in range(args.runs):
            order = list(variants.items())
            for v, (python, env) in order if r % 2 == 0 else order[::-1]:
                out = subprocess.run([python, "-c", CHILD, shape, str(args.objects), str(args.seconds)],
                                     env=env, capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    raise SystemExit(f"start_pause: the {shape} {v} run failed: {out.stderr.strip()}")
                built, *gaps = out.stdout.split()
                longest[v].append(float(gaps[0].split("@")[0]))
                third[v].append(float(gaps[2].split("@")[0]))
                print(f"{v:10} {float(built):7.2f}  {', '.join(gaps)}")
        print()
        for v, ms in longest.items():
            print(f"{shape} {v:10} longest gap: median {statistics.median(ms):.1f} ms, "
                  f"range {min(ms):.1f}-{max(ms):.1f} ms; third longest median "
                  f"{statistics.median(third[v]):.1f} ms")


if __name__ == "__main__":
    main()
