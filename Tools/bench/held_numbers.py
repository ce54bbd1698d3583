"""Numbers held by lists: are they as hot as the lists' use says? Two newcomer
programs, run under `pypper run`, their capture analysed as the report does:

- tests/programs/bfs_choice.py: `rest`, a list of 48,000 node ids that random.choice
  picks from while the graph is built and nothing reads after. Truth: its numbers are
  cold at the end; the bytes at its line (untraced numbers and the list's buffer)
  should not be hot. `community` (line 19): the 2,000 ids of the hot community, which
  every search reads from the adjacency lists (`for w in graph[v]`); the list itself
  is not read after the build. Truth: its 1,990 numbers above 256 are hot (62 KiB),
  the list's 16 KiB buffer is not.
- tests/programs/column_store.py: 3 of 40 float columns scanned by slices and sum()
  over and over. Truth: those 3 columns (about 2.9 MiB with their floats) are hot.

Each build (--candidate, and --baseline when given) runs each program --runs times,
alternating, for each length in --seconds; prints the median and range of the hot
bytes at each line.

    ./python3 Tools/bench/held_numbers.py [--runs 5] [--seconds 2,4] [--baseline OTHER/python3]"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# (program, its arguments for a run of s seconds, [(a line, what is true there)])
CASES = [
    ("tests/programs/bfs_choice.py", lambda s: ["50000", str(s)],
     [(20, "cold: picked from, then unused"), (19, "62 KiB hot: ids every search reads")]),
    ("tests/programs/column_store.py", lambda s: [str(s)], [(15, "2.9 MiB hot: 3 of 40 columns")]),
]

ANALYSE = r"""
import json, sys
from pypper import _capture, _report
a = _report.analyze(_capture.load(sys.argv[1]))
hot = {want: sum(s["hot_all"] for s in a["sites"] if s["name"].split(" ")[0].endswith(want))
       for want in sys.argv[2:]}
print(json.dumps(hot))
"""


def one(python, program, args, lines, tmp):
    cap = os.path.join(tmp, "run.cap")
    r = subprocess.run([python, "-m", "pypper", "run", "-o", cap, os.path.join(ROOT, program)] + args,
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"{python} {program}: exit {r.returncode}\n{r.stderr[-2000:]}")
    r = subprocess.run([python, "-c", ANALYSE, cap] + [f"{os.path.basename(program)}:{n}" for n in lines],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"analysing {program}'s capture: {r.stderr[-2000:]}")
    import json
    hot = json.loads(r.stdout)
    return [hot[f"{os.path.basename(program)}:{n}"] for n in lines]


def kib(n):
    return f"{n / 2**10:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", default="2,4", help="comma-separated run lengths")
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--baseline", help="another build's python3, run alternately")
    opts = ap.parse_args()
    builds = [("candidate", opts.candidate)] + ([("baseline", opts.baseline)] if opts.baseline else [])
    lengths = [float(s) for s in opts.seconds.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="held-numbers-") as tmp:
        for run in range(opts.runs):
            for program, args, lines in CASES:
                for s in lengths:
                    for name, python in (builds if run % 2 == 0 else builds[::-1]):
                        hots = one(python, program, args(s), [n for n, _ in lines], tmp)
                        for (n, _), hot in zip(lines, hots):
                            results.setdefault((program, n, s, name), []).append(hot)
    print(f"hot KiB at the line, median [min-max] of {opts.runs} runs")
    print(f"{'program:line':24} {'truth':36} {'s':>4} " + " ".join(f"{n:>20}" for n, _ in builds))
    for program, _, lines in CASES:
        for n, truth in lines:
            for s in lengths:
                cells = []
                for name, _ in builds:
                    v = results[(program, n, s, name)]
                    cells.append(f"{kib(statistics.median(v))} [{kib(min(v))}-{kib(max(v))}]")
                print(f"{os.path.basename(program) + ':' + str(n):24} {truth:36} {s:4g} "
                      + " ".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
