"""One process of the accuracy benchmark: run one workload in one mode and write
its result as JSON. The runner (Tools/bench/accuracy_bench.py) starts it with
PYTHONHASHSEED=0 and /work/main/python3, natively for --mode pypper and under the
access oracle (Tools/oracle/oracle.py run()) for --mode oracle.

    python3 run_workload.py NAME --mode oracle|pypper|plain --scale S --seed N \\
        --out FILE.json [--option NAME=VALUE]... [--timeline 0.25,0.5,1,5] \\
        [--dump-prefix PATH]

--mode pypper   pypper.start(**options) right before the measured phase, temperatures
                of the registry (pypper.temperature(obj), None = not traced) right after
                it, then pypper.end(). --timeline T1,T2,...: also snapshots of all
                temperatures T seconds after start() (taken by a second thread); the
                judged phase is run again until the last one is taken.
--mode oracle   oracle_client reset()/start() before and stop()/dump() after each
                phase; dumps go to PATH.phase<i>.dump (default: next to --out); the
                JSON lists them and the registry's address ranges [key, start, length].
                Exits 3 (after writing the JSON) when the oracle is not active.
--mode plain    no tracing (calibration).
Options given as NAME=VALUE are passed to pypper.start() as strings.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# At the end, so a PYTHONPATH entry can stand in for it.
sys.path.append(os.path.join(TOOLS, "oracle"))

import workloads  # noqa: E402


def parse_option(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NAME=VALUE, got %r" % (text,))
    return name.strip().lower(), value


def parse_times(text):
    try:
        times = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected seconds like 0.25,0.5,1") from None
    if any(t <= 0 for t in times):
        raise argparse.ArgumentTypeError("timeline points must be > 0")
    return times


def write_result(path, result):
    """Write a run's result as compact JSON, atomically (a reader never sees half)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, separators=(",", ":"))
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workload", choices=sorted(workloads.WORKLOADS))
    ap.add_argument("--mode", required=True, choices=("oracle", "pypper", "plain"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--option", action="append", type=parse_option, default=[],
                    metavar="NAME=VALUE")
    ap.add_argument("--timeline", type=parse_times, default=())
    ap.add_argument("--dump-prefix", default=None)
    args = ap.parse_args(argv)
    if args.scale <= 0:
        ap.error("--scale must be > 0")

    kw = {}
    if args.mode == "pypper":
        kw = {"options": dict(args.option), "timeline": args.timeline}
    elif args.mode == "oracle":
        prefix = args.dump_prefix or os.path.splitext(os.path.abspath(args.out))[0]
        kw = {"dump_prefix": prefix}
    result = workloads.run(args.workload, args.mode, args.scale, args.seed, **kw)
    result["python"] = sys.version
    result["hash_seed"] = os.environ.get("PYTHONHASHSEED")
    result["options"] = dict(args.option)
    write_result(args.out, result)
    if args.mode == "oracle" and not result.get("oracle_active"):
        print("run_workload: --mode oracle outside the oracle (oracle_client.active() "
              "is False): no counts were recorded", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
