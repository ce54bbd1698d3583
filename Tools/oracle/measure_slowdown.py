#!/usr/bin/env python3
"""Tools/oracle/measure_slowdown.py -- owns the oracle's slowdown measurement.

Runs Python workloads (default: Tools/bench/programs) natively, under
``valgrind --tool=none`` and under the oracle (counting, and with counting stopped),
alternating the configurations round by round, and reports the median CPU time
(user+sys of the child) of each and the ratios to native. CPU time, not wall time:
this machine's wall time varies by up to 30% between identical runs.

    python3 Tools/oracle/measure_slowdown.py [--python ./python3] [--scale 0.5]
            [--rounds 3] [--programs binary_trees,json_roundtrip,...]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

PROGRAMS = os.path.join(oracle.ROOT, "Tools", "bench", "programs")


def cpu_time(cmd, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=os.path.join(oracle.ROOT, "python3"))
    ap.add_argument("--scale", default="0.5")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--programs", default="binary_trees,churn,json_roundtrip,nbody,strings")
    args = ap.parse_args(argv)

    oracle.build()
    vg = oracle.valgrind()
    env = oracle.environment({k: v for k, v in os.environ.items()
                              if not k.startswith("PYPPER_")})
    env["PYTHONHASHSEED"] = "0"
    configs = {
        "native": [],
        "none": [vg, "-q", "--tool=none"],
        "oracle": [vg, "-q", "--tool=" + oracle.TOOL],
        "stopped": [vg, "-q", "--tool=" + oracle.TOOL, "--start-counting=no"],
    }
    ratios = {c: [] for c in configs if c != "native"}
    print(f"{'program':16} " + " ".join(f"{c:>9}" for c in configs)
          + "   (median CPU seconds; ratio to native)")
    for prog in args.programs.split(","):
        script = os.path.join(PROGRAMS, prog + ".py")
        times = {c: [] for c in configs}
        for _ in range(args.rounds):
            for c, prefix in configs.items():
                times[c].append(cpu_time(prefix + [args.python, script, args.scale], env))
        med = {c: statistics.median(v) for c, v in times.items()}
        for c in ratios:
            ratios[c].append(med[c] / med["native"])
        print(f"{prog:16} " + " ".join(f"{med[c]:9.2f}" for c in configs)
              + "   " + " ".join(f"{c} {med[c] / med['native']:.1f}x" for c in ratios),
              flush=True)
    print("geometric mean of ratios: " + ", ".join(
        f"{c} {statistics.geometric_mean(v):.1f}x" for c, v in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
