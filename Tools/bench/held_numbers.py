"""Numbers held by lists: are they as hot as the lists' use says? Two newcomer
programs, run under `pypper run`, their capture analysed as the report does:

- tests/programs/bfs_choice.py: `rest`, a list of 48,000 node ids that random.choice
  picks from while the graph is built and nothing reads after. Truth: its numbers are
  cold at the end; the bytes at its line (untraced numbers and the list's buffer)
  should not be hot.
- tests/programs/column_store.py: 3 of 40 float columns scanned by slices and sum()
  over and over. Truth: those 3 columns (about 2.9 MiB with their floats) are hot.

Each build (--candidate, and --baseline when given) runs each program --runs times,
alternating, for each length in --seconds; prints the median and range of the hot
bytes at the line.

    ./python3 Tools/bench/held_numbers.py [--runs 5] [--seconds 2,4] [--baseline OTHER/python3]"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# (program, its arguments for a run of s seconds, the line, what is true there)
CASES = [
    ("tests/programs/bfs_choice.py", lambda s: ["50000", str(s)], 20, "cold: picked from, then unused"),
    ("tests/programs/column_store.py", lambda s: [str(s)], 15, "hot: 3 columns of 40 scanned"),
]

ANALYSE = r"""
import json, sys
from pypper import _capture, _report
a = _report.analyze(_capture.load(sys.argv[1]))
want = sys.argv[2]
hot = sum(s["hot_all"] for s in a["sites"] if s["name"].split(" ")[0].endswith(want))
print(json.dumps({"hot": hot}))
"""


def one(python, program, args, line, tmp):
    cap = os.path.join(tmp, "run.cap")
    r = subprocess.run([python, "-m", "pypper", "run", "-o", cap, os.path.join(ROOT, program)] + args,
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"{python} {program}: exit {r.returncode}\n{r.stderr[-2000:]}")
    r = subprocess.run([python, "-c", ANALYSE, cap, f"{os.path.basename(program)}:{line}"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"analysing {program}'s capture: {r.stderr[-2000:]}")
    import json
    return json.loads(r.stdout)["hot"]


def mib(n):
    return f"{n / 2**20:.2f}"


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
            for program, args, line, _ in CASES:
                for s in lengths:
                    for name, python in (builds if run % 2 == 0 else builds[::-1]):
                        hot = one(python, program, args(s), line, tmp)
                        results.setdefault((program, s, name), []).append(hot)
    print(f"hot MiB at the line, median [min-max] of {opts.runs} runs")
    print(f"{'program:line':36} {'truth':32} {'s':>4} " + " ".join(f"{n:>22}" for n, _ in builds))
    for program, _, line, truth in CASES:
        for s in lengths:
            cells = []
            for name, _ in builds:
                v = results[(program, s, name)]
                cells.append(f"{mib(statistics.median(v))} [{mib(min(v))}-{mib(max(v))}]")
            print(f"{os.path.basename(program) + ':' + str(line):36} {truth:32} {s:4g} "
                  + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
