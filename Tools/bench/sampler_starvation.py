"""Sampler starvation: how often a run's sampler thread sees (almost) nothing.

The sampler reads the main thread's frames while both run. Sharing a CPU with the main
thread, it runs only while that one waits, sees a frame that does not move, and ends
every burst early: the hot objects stay cold for the whole run (Doc/temperatures.md,
SAMPLE_AWAY). Each run (a fresh ./python3 with PYPPER_ENABLE=1) walks 20,000 hot
objects for --seconds beside 180,000 cold ones, then reports the share of the hot ones
(one in 50) whose temperature is below COLD_THRESHOLD (0.2), the sampler's bursts, the
bursts that ended still, the frame evidence, and in how many of the main thread's
checks (every 50 ms of the loop, /proc/self/task/*/stat field 39) the sampler had last
run on the main thread's CPU. A run is bad when over half its hot objects are cold.
--variants runs each set of options in turn, alternating, in the same conditions;
--busy runs them beside a busy loop on one core (a child process, killed by its PID).

    ./python3 Tools/bench/sampler_starvation.py [--runs 20] [--busy]
        [--variants "SAMPLE_AWAY=0;SAMPLE_AWAY=1"] [--seconds 3]
"""
import argparse
import os
import statistics
import subprocess
import sys

CHILD = r'''
import os, sys, time, pypper
class Rec:
    __slots__ = ("k", "v")
    def __init__(self, k): self.k = k; self.v = 0
hot = [Rec(i) for i in range(20000)]; cold = [Rec(i) for i in range(180000)]
def cpu(tid):
    s = open(f"/proc/self/task/{tid}/stat").read()
    return int(s[s.rindex(")") + 2:].split()[36])
def sampler_tid():
    for t in os.listdir("/proc/self/task"):
        try:
            if open(f"/proc/self/task/{t}/comm").read().startswith("pypper-sampler"):
                return t
        except OSError:
            pass
def run(hot, seconds):
    samp, same, n = sampler_tid(), 0, 0
    t0 = time.time(); nxt = t0
    while time.time() - t0 < seconds:
        for r in hot: r.v += 1
        if samp and time.time() >= nxt:
            nxt += 0.05
            try:
                same += cpu(os.getpid()) == cpu(samp); n += 1
            except OSError:
                pass
    return same, n
same, n = run(hot, float(sys.argv[1]))
th = [pypper.temperature(r) for r in hot[::50]]
s = pypper.active_trace_stats()
print(sum(1 for x in th if x is None or x < 0.2) / len(th), s["bursts"], s["still_bursts"],
      s["frame_evidence"], same, n, s["cpu_seconds"], s["placement_moves"])
'''


def one(python, options, seconds):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPPER_")}
    env["PYPPER_ENABLE"] = "1"
    for opt in options:
        name, _, value = opt.partition("=")
        env["PYPPER_" + name.strip().upper()] = value.strip()
    out = subprocess.run([python, "-c", CHILD, str(seconds)], env=env, check=True,
                         capture_output=True, text=True, timeout=120 + 10 * seconds).stdout
    cold, bursts, still, ev, same, n, cpu, moves = out.split()[-8:]
    return dict(cold=float(cold), bursts=int(bursts), still=int(still), evidence=int(ev),
                same=int(same), checks=int(n), cpu=float(cpu), moves=int(moves))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--busy", action="store_true", help="beside a busy loop on one core")
    ap.add_argument("--variants", default="",
                    help="';'-separated sets of ','-separated NAME=VALUE options")
    ap.add_argument("--python", default="./python3")
    args = ap.parse_args()
    variants = [[o for o in v.split(",") if o] for v in args.variants.split(";")]
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    results = {i: [] for i in range(len(variants))}
    try:
        for _ in range(args.runs):
            for i, v in enumerate(variants):
                results[i].append(one(args.python, v, args.seconds))
    finally:
        if hog:
            hog.kill()
            hog.wait()
    for i, v in enumerate(variants):
        rs = results[i]
        bad = [r for r in rs if r["cold"] > 0.5]
        per_burst = [r["evidence"] / max(r["bursts"], 1) for r in rs]
        print(f"{','.join(v) or 'defaults'}{' (busy)' if args.busy else ''}: bad runs "
              f"{len(bad)}/{len(rs)}; hot objects cold: median {statistics.median(r['cold'] for r in rs):.3f}"
              f" max {max(r['cold'] for r in rs):.3f}; frame evidence per burst: median "
              f"{statistics.median(per_burst):.0f} min {min(per_burst):.1f}; still bursts median "
              f"{statistics.median(r['still'] / max(r['bursts'], 1) for r in rs):.2f}; sampler on "
              f"the main thread's CPU: median {statistics.median(r['same'] / max(r['checks'], 1) for r in rs):.2f}"
              f" of checks; sampler CPU median {statistics.median(r['cpu'] for r in rs):.3f} s;"
              f" moves median {statistics.median(r['moves'] for r in rs):.0f}")


if __name__ == "__main__":
    main()
