"""Lists a program only iterates (issue 14): how many of the adjacency lists that
tests/programs/bfs_graph.py really uses does Pypper call hot, and how many unused ones.

Truth: an instrumented run (the interpreter given, no session) of the same searches
(same seeds) that counts every walk of each adjacency list; a list is truly hot when
it was walked at all (the 2,000 lists of the community; walked 5-192 times in 2,000
searches), cold when never (the 30,000 others).

Pypper, in a fresh process per run, one of:
  real    the program's searches for --seconds under a session with the sampler
          thread, as `pypper run` would (depends on the machine's load: the sampler
          needs a core beside the program; the load average is printed);
  driven  the sampler thread parked and driven in virtual time, so that the result
          does not depend on the load: at each item of an inner loop, with
          probability --rate (seeded), one read of the main thread's frames
          (_test_sample(1), the thread's own reader: iterators followed in one read of
          8; seeded by the run's number); model time 0.2 ms a search (about the native rate); a hand-over every
          100 ms of model time; --searches searches.
Then each list's class (pypper.snapshot()). Per run: the share of truly hot lists
classed hot (and by quartile of their exact counts, least walked first), the share
weighted by walks, and the share of cold lists classed hot.

    ./python3 Tools/bench/iterated_lists.py [--mode driven|real] [--runs 3]
        [--rate 0.01] [--searches 15000] [--seconds 3] [--python PY] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROGRAMS = os.path.join(ROOT, "tests", "programs")

# Run in the child: the program's build() and its search loop, with a counting graph
# (truth), or under a session (real, driven). Prints one JSON line.
CHILD = r'''
import json, random, sys, time
from collections import deque
args, sys.argv[1:] = sys.argv[1:], []     # (the program reads sys.argv[1] on import)
sys.path.insert(0, args[0])
import bfs_graph as b
mode, searches, rate, seconds, seed = (args[1], int(args[2]), float(args[3]), float(args[4]),
                                      int(args[5]))
HOT = b.HOT_NODES
rng = random.Random(5)
graph = b.build(rng)
if mode == "truth":
    counts = {}
    class Counting(dict):
        def __getitem__(self, k):
            counts[k] = counts.get(k, 0) + 1
            return dict.__getitem__(self, k)
    g = Counting(graph)
    for _ in range(searches):
        b.bfs(g, rng.randrange(HOT), 500)
    print(json.dumps([counts.get(n, 0) for n in range(len(graph))]))
    sys.exit()
import pypper, _pypper
pypper.start()
done = 0
if mode == "real":
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        b.bfs(graph, rng.randrange(HOT), 500)
        done += 1
else:
    srng = random.Random(seed)
    def bfs(graph, start, limit):       # b.bfs, with the driven sampler's reads
        seen = {start}
        queue = deque([start])
        while queue and len(seen) < limit:
            node = queue.popleft()
            for nxt in graph[node]:
                if srng.random() < rate:
                    _pypper._test_sample(1)
                if nxt < HOT and nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return len(seen)
    _pypper._test_hold_sampler(True)
    now = _pypper._test_set_clock(_pypper._test_set_clock(None))
    for done in range(1, searches + 1):
        bfs(graph, rng.randrange(HOT), 500)
        if done % 5 == 0:
            now += 1
            _pypper._test_set_clock(now)
        if done % 500 == 0:
            _pypper._test_hand_over()
klass = {o.address: o.klass for o in pypper.snapshot().objects}
print(json.dumps({"searches": done, "klass": [klass.get(id(graph[n])) for n in range(len(graph))]}))
'''


def child(python, mode, searches=0, rate=0.0, seconds=0.0, seed=0):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPPER_")}
    env["PYTHONHASHSEED"] = "0"
    cp = subprocess.run([python, "-c", CHILD, PROGRAMS, mode, str(searches), str(rate),
                         str(seconds), str(seed)], capture_output=True, text=True, env=env, timeout=600)
    if cp.returncode != 0:
        sys.exit(f"iterated_lists: the {mode} run failed:\n{cp.stderr[-2000:]}")
    return json.loads(cp.stdout.strip().splitlines()[-1])


def score(counts, klass):
    hot = sorted((n for n, c in enumerate(counts) if c > 0), key=lambda n: counts[n])
    cold = [n for n, c in enumerate(counts) if c == 0]
    is_hot = [k == "hot" for k in klass]
    q = len(hot) // 4
    return {
        "hot_lists": len(hot), "cold_lists": len(cold),
        "hot_as_hot": sum(is_hot[n] for n in hot) / len(hot),
        "by_quartile": [sum(is_hot[n] for n in hot[i * q:(i + 1) * q]) / q for i in range(4)],
        "walk_weighted": sum(counts[n] for n in hot if is_hot[n]) / sum(counts[n] for n in hot),
        "cold_as_hot": sum(is_hot[n] for n in cold) / len(cold),
        "untraced": sum(k is None for k in klass),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("driven", "real"), default="driven")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.01,
                    help="driven: probability of a frame read at each inner-loop item")
    ap.add_argument("--searches", type=int, default=15000, help="driven: searches")
    ap.add_argument("--seconds", type=float, default=3.0, help="real: seconds of searches")
    ap.add_argument("--python", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--json")
    a = ap.parse_args()
    results, truths = [], {}
    for run in range(a.runs):
        load = os.getloadavg()[0]
        got = child(a.python, a.mode, a.searches, a.rate, a.seconds, seed=run)
        n = got["searches"]
        if n not in truths:
            truths[n] = child(a.python, "truth", n)
        s = dict(score(truths[n], got["klass"]), searches=n, load=load)
        results.append(s)
        print(f"run {run + 1}: {n} searches (load {load:.2f}): truly hot lists classed hot "
              f"{s['hot_as_hot']:.3f} (by quartile of walks, least first: "
              f"{' '.join(f'{x:.2f}' for x in s['by_quartile'])}; walk-weighted "
              f"{s['walk_weighted']:.3f}), cold lists classed hot {s['cold_as_hot']:.4f}, "
              f"untraced {s['untraced']}")
    med = {k: statistics.median(r[k] for r in results)
           for k in ("hot_as_hot", "walk_weighted", "cold_as_hot")}
    print(f"median of {a.runs} ({a.mode}" + (f", rate {a.rate}" if a.mode == "driven" else "")
          + f"): truly hot classed hot {med['hot_as_hot']:.3f}, walk-weighted "
          f"{med['walk_weighted']:.3f}, cold classed hot {med['cold_as_hot']:.4f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"mode": a.mode, "rate": a.rate, "runs": results, "median": med}, f,
                      indent=1)


if __name__ == "__main__":
    main()
