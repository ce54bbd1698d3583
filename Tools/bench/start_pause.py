"""The pause a program sees when its session starts: a child builds a list of N dicts
(600,000 by default: 1.2 million objects, about 0.5 s here), then loops (3 s) and
reports the longest gaps between two iterations of its loop. Run under the drop-in
untraced, with PYPPER_ENABLE=1 (the default START_DELAY_MS: the session starts a second
in, after the heap is built) and with PYPPER_ENABLE=1 PYPPER_START_DELAY_MS=0 (the
session before the program: the heap is taken in steps as it grows), alternating.

    ./python3 Tools/bench/start_pause.py [--runs 3] [--objects 600000] [--seconds 3]
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alloc_bench import ROOT, clean_env  # noqa: E402

CHILD = r"""
import sys, time
n, seconds = int(sys.argv[1]), float(sys.argv[2])
t0 = time.monotonic()
data = [{"k": i, "v": str(i)} for i in range(n)]
built = time.monotonic() - t0
gaps = []
last = time.monotonic()
while last - t0 < built + seconds:
    x = data[int((last * 1e6) % n)]
    now = time.monotonic()
    gaps.append((now - last, now - t0))
    last = now
gaps.sort(reverse=True)
print(f"{built:.3f}", " ".join(f"{g * 1e3:.2f}@{t:.2f}" for g, t in gaps[:3]))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--objects", type=int, default=600_000, help="dicts in the list")
    ap.add_argument("--seconds", type=float, default=3.0, help="the loop after the build")
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    args = ap.parse_args()
    variants = {
        "untraced": clean_env(),
        "on": clean_env(["PYPPER_ENABLE=1"]),
        "on_delay0": clean_env(["PYPPER_ENABLE=1", "PYPPER_START_DELAY_MS=0"]),
    }
    longest = {v: [] for v in variants}
    print(f"candidate: {args.candidate}; {args.objects} dicts; {args.runs} runs, alternating")
    print(f"{'variant':10} {'built s':>7}  longest gaps between two loop iterations (ms @ s)")
    for _ in range(args.runs):
        for v, env in variants.items():
            out = subprocess.run([args.candidate, "-c", CHILD, str(args.objects), str(args.seconds)], env=env,
                                 capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise SystemExit(f"start_pause: the {v} run failed: {out.stderr.strip()}")
            built, *gaps = out.stdout.split()
            longest[v].append(float(gaps[0].split("@")[0]))
            print(f"{v:10} {float(built):7.2f}  {', '.join(gaps)}")
    print()
    for v, ms in longest.items():
        print(f"{v:10} longest gap: median {statistics.median(ms):.1f} ms, "
              f"range {min(ms):.1f}-{max(ms):.1f} ms")


if __name__ == "__main__":
    main()
