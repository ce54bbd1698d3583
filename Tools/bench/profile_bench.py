"""Allocation-site profile benchmark (PYPPER_PROFILE, Doc/profile.md): does the second
run of a program place its objects better from its first allocation?

The workload builds records from two allocation sites interleaved, one record in ten
from the hot site (used in a loop afterwards), the rest from the cold site (never used
again), as a key-value store or a cache fills up; then it uses the hot records for
--seconds. Three variants, in alternating order, --repeats times:

  stock     the stock python3.12
  learn     ./python3, PYPPER_ENABLE=1, a fresh profile file: the run that writes it
  profile   ./python3, the same, with the profile the learn run of the round wrote

Measured in the program right after the build: the pages holding a hot record (the
memory the hot set keeps in use: what must be in the fast tier, and what a far-memory
tier faults in), the hot records' share of those pages' bytes, and with Pypper the
share of hot and of cold records in slow-tier arenas; then the hot loop's passes per
second and the process's wall time (medians, with min-max). Backend `sim`, FAST_BUDGET
50%: tiers are logical on a one-node machine, so placement is measured, not its cost.

    ./python3 Tools/bench/profile_bench.py [--repeats 3] [--records 300000] [--seconds 4] [--json out.json]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from alloc_bench import default_stock  # noqa: E402

STORE = '''
class Rec:
    __slots__ = ("key", "value", "hits")
    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.hits = 0

def new_hot(i):
    return Rec(i, (i, i + 1))

def new_cold(i):
    return Rec(i, (i, i + 1))

def build(n):
    hot, cold = [], []
    for i in range(n):
        if i % 10 == 0:
            hot.append(new_hot(i))
        else:
            cold.append(new_cold(i))
    return hot, cold

def use(hot, seconds, clock):
    passes, end = 0, clock() + seconds
    while clock() < end:
        for r in hot:
            r.hits += 1
        passes += 1
    return passes
'''

MAIN = '''
import json, sys, time
import store
n, seconds = int(sys.argv[1]), float(sys.argv[2])
t0 = time.perf_counter()
hot, cold = store.build(n)
build_s = time.perf_counter() - t0

def pages(objs):
    out = set()
    for o in objs:
        a = id(o)
        out.update(range(a >> 12, (a + sys.getsizeof(o) - 1 >> 12) + 1))
    return out

hot_pages = pages(hot)
hot_bytes = sum(sys.getsizeof(o) for o in hot)
out = {"build_s": build_s, "hot_pages": len(hot_pages),
       "hot_density": hot_bytes / (4096 * len(hot_pages)),
       "all_pages": len(hot_pages | pages(cold))}
try:
    import pypper
    if pypper.is_running():
        def slow(objs):
            s = objs[::max(1, len(objs) // 2000)]
            return sum(pypper.where(o)["tier"] == "slow" for o in s) / len(s)
        out["hot_slow"], out["cold_slow"] = slow(hot), slow(cold)
        m = pypper.migration_stats()
        out["matched_sites"] = m["profile"]["matched_sites"]
        out["segregated"] = m["segregated"]
except ImportError:
    pass
out["passes_per_s"] = store.use(hot, seconds, time.perf_counter) / seconds
print(json.dumps(out))
'''


def med(values):
    return statistics.median(values) if values else float("nan")


def spread(values, fmt):
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}" if values else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--records", type=int, default=300000)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args()
    if a.seconds < 3:
        ap.error("--seconds must be at least 3: a session under 2 s writes no profile")
    work = tempfile.mkdtemp(prefix="pypper-profile-bench-")
    try:
        with open(os.path.join(work, "store.py"), "w") as f:
            f.write(STORE)
        with open(os.path.join(work, "main.py"), "w") as f:
            f.write(MAIN)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("PYPPER_") and k not in ("PYTHONPATH", "PYTHONHOME")}
        pypper_env = dict(base, PYPPER_ENABLE="1", PYPPER_BACKEND="sim", PYPPER_FAST_BUDGET="50%")
        rows = {"stock": [], "learn": [], "profile": []}
        for rep in range(a.repeats):
            profile = os.path.join(work, f"round{rep}.profile")
            for variant in ("stock", "learn", "profile") if rep % 2 == 0 else ("learn", "profile", "stock"):
                python = a.stock if variant == "stock" else a.candidate
                env = base if variant == "stock" else dict(pypper_env, PYPPER_PROFILE=profile)
                t0 = time.perf_counter()
                r = subprocess.run([python, "main.py", str(a.records), str(a.seconds)], cwd=work, env=env,
                                   capture_output=True, text=True, timeout=600)
                wall = time.perf_counter() - t0
                if r.returncode != 0:
                    sys.exit(f"{variant} failed ({r.returncode}):\n{r.stderr}")
                row = json.loads(r.stdout)
                row["wall_s"] = wall
                rows[variant].append(row)
                if variant == "learn" and not os.path.exists(profile):
                    sys.exit(f"the learn run wrote no profile:\n{r.stderr}")
        print(f"profile_bench: {a.records} records (10% hot), hot loop {a.seconds:g} s, "
              f"{a.repeats} repeats; medians (min-max)")
        cols = [("hot_pages", "hot pages", "{:.0f}"), ("hot_density", "hot density", "{:.3f}"),
                ("all_pages", "record pages", "{:.0f}"), ("hot_slow", "hot in slow", "{:.3f}"),
                ("cold_slow", "cold in slow", "{:.3f}"), ("build_s", "build s", "{:.3f}"),
                ("passes_per_s", "passes/s", "{:.1f}")]
        print(f"{'variant':<9}" + "".join(f"{title:>24}" for _, title, _ in cols))
        summary = {}
        for variant, rs in rows.items():
            line = f"{variant:<9}"
            summary[variant] = {}
            for key, _, fmt in cols:
                vals = [r[key] for r in rs if key in r]
                summary[variant][key] = {"median": med(vals), "values": vals}
                line += f"{(fmt.format(med(vals)) + ' (' + spread(vals, fmt) + ')') if vals else '-':>24}"
            print(line)
        s = summary
        ratio = lambda v, k: s[v][k]["median"] / s["stock"][k]["median"]
        print(f"hot pages vs stock: learn {ratio('learn', 'hot_pages'):.3f}, "
              f"profile {ratio('profile', 'hot_pages'):.3f}; "
              f"hot loop speed vs stock: learn {ratio('learn', 'passes_per_s'):.3f}, "
              f"profile {ratio('profile', 'passes_per_s'):.3f}; "
              f"build time vs stock: learn {ratio('learn', 'build_s'):.3f}, "
              f"profile {ratio('profile', 'build_s'):.3f}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": vars(a), "rows": rows, "summary": summary}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
