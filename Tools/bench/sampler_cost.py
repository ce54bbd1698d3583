"""What tracing costs one program, variant against variant, with the main thread pinned.

    ./python3 Tools/bench/sampler_cost.py [--rounds 8] [--cpu N]
        (--workload graph_walk [--scale 0.12] | --program PATH [--args "A B"])
        [--variant NAME=VAR=VALUE,VAR=VALUE]...

Rounds of the variants in rotating order, each run a fresh process whose main thread is
pinned to one CPU and Pypper's threads to the others (Tools/bench/pin_main.py --others:
where the sampler's placement moves it after its first still burst); per round
the ratio of each variant's seconds to the first variant's; printed: the median, the
quartiles and every ratio, sorted. The seconds are a workload's measured phase (one of
Tools/bench/accuracy/workloads.py, run without a probe) or a program's whole run.
Default variants: `off` (the drop-in, no tracing), `stock` (python3.12), `duty_0.25`
(PYPPER_ENABLE=1 PYPPER_SAMPLE_DUTY=0.25, the default until 2026-12-06) and
`default` (PYPPER_ENABLE=1); traced variants start the session before the program
(START_DELAY_MS=0) and use PYTHONHASHSEED=0 like every variant. `stock` runs the
stock interpreter, every other name the candidate. The figures of Doc/temperatures.md
"What the sampler costs the program" come from this (then a scratch script of the same
logic), e.g.:

    ./python3 Tools/bench/sampler_cost.py --rounds 16 --workload graph_walk --scale 0.12
    ./python3 Tools/bench/sampler_cost.py --rounds 8 --program Tools/bench/programs/nbody.py
"""
import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from alloc_bench import ROOT, clean_env, default_stock  # noqa: E402
from pin_main import cpu_error, default_cpu  # noqa: E402

PIN_MAIN = os.path.join(HERE, "pin_main.py")
WORKLOAD_RUNNER = """
import sys
sys.path.insert(0, {accuracy!r})
import workloads
r = workloads.run({name!r}, "plain", {scale!r}, 1)
sys.stderr.write("SECONDS %.6f\\n" % r["measured_seconds"])
"""
DEFAULT_VARIANTS = ["off=", "stock=", "duty_0.25=PYPPER_ENABLE=1,PYPPER_SAMPLE_DUTY=0.25",
                    "default=PYPPER_ENABLE=1"]


def parse_variant(text):
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VAR=VALUE,..., got {text!r}")
    env = {}
    for item in filter(None, rest.split(",")):
        var, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{text!r}: {item!r} is not VAR=VALUE")
        env[var] = value
    if env.get("PYPPER_ENABLE") == "1":
        env.setdefault("PYPPER_START_DELAY_MS", "0")
    env.setdefault("PYTHONHASHSEED", "0")
    return name, env


def one_run(python, cpu, target, env, tmpdir):
    """Seconds of one run: the workload's measured phase, or the program's wall time."""
    t0 = time.perf_counter()
    r = subprocess.run([python, PIN_MAIN, "--others", str(cpu), *target], env=env, capture_output=True,
                       text=True, cwd=tmpdir)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{python} {' '.join(target)} exited {r.returncode}:\n{r.stderr[-1500:]}")
    for line in r.stderr.splitlines():
        if line.startswith("SECONDS "):
            return float(line.split()[1])
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--cpu", type=int, help="the main thread's CPU (default: the last allowed)")
    target_group = ap.add_mutually_exclusive_group(required=True)
    target_group.add_argument("--workload", help="an accuracy workload (Tools/bench/accuracy/workloads.py)")
    target_group.add_argument("--program", metavar="PATH")
    ap.add_argument("--args", default="", help="the program's arguments (one string, split as a shell does)")
    ap.add_argument("--scale", type=float, default=0.12)
    ap.add_argument("--variant", action="append", type=parse_variant, metavar="NAME=VAR=VALUE,...")
    ap.add_argument("--stock", default=default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    cpu = args.cpu if args.cpu is not None else default_cpu()
    if cpu is None:
        cpu = min(os.sched_getaffinity(0))
        print("note: one CPU: Pypper's threads share it with the main thread", file=sys.stderr)
    if cpu_error(cpu):
        ap.error(f"--cpu {cpu}: {cpu_error(cpu)}")
    variants = args.variant or [parse_variant(v) for v in DEFAULT_VARIANTS]
    if args.workload:
        tmpdir = tempfile.mkdtemp(prefix="pypper-sampler-cost-")
        script = os.path.join(tmpdir, "run_workload.py")
        with open(script, "w") as f:
            f.write(WORKLOAD_RUNNER.format(accuracy=os.path.join(HERE, "accuracy"),
                                           name=args.workload, scale=args.scale))
        target = [script]
        what = f"workload {args.workload} at scale {args.scale}: its measured phase"
    else:
        tmpdir = os.getcwd()
        target = [os.path.abspath(args.program), *shlex.split(args.args)]
        what = f"program {' '.join(target)}: its whole run"
    print(f"{what}; main thread on CPU {cpu}; {args.rounds} rounds, rotating order; "
          f"ratios to {variants[0][0]!r}")
    ratios = {name: [] for name, _ in variants}
    try:
        for i in range(args.rounds):
            k = i % len(variants)
            got = {}
            for name, extra in variants[k:] + variants[:k]:
                python = args.stock if name == "stock" else args.candidate
                env = clean_env([f"{a}={b}" for a, b in extra.items()])
                got[name] = one_run(python, cpu, target, env, tmpdir)
            for name, _ in variants:
                ratios[name].append(got[name] / got[variants[0][0]])
    except RuntimeError as e:
        print(f"FAILED: {e}")
        return 1
    finally:
        if args.workload:
            shutil.rmtree(tmpdir, ignore_errors=True)
    for name, r in ratios.items():
        r.sort()
        q = statistics.quantiles(r, n=4) if len(r) >= 2 else [r[0]] * 3
        print(f"{name:12} median {statistics.median(r):.3f}  quartiles {q[0]:.3f}-{q[2]:.3f}  "
              + " ".join(f"{x:.2f}" for x in r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
