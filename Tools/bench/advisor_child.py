"""One process of the advisor error measurement (Tools/bench/advisor_error.py): run one
workload of the CXL estimate (the accuracy workloads plus site_mix) and write JSON.
Started with PYTHONHASHSEED=0, in one of two ways:

  native   as the program of `python3 -m pypper run -o CAPTURE ...`: the workload runs
           with no probe at all, exactly as a user's program would under `pypper run`
           (the session and the capture are pypper run's); writes the phase checksums.
  oracle   under the access oracle (Valgrind, Tools/oracle): the oracle counts the
           loads and stores of every measured phase (one dump a phase, counters reset
           before each); after the last dump, a Pypper session (BACKEND=sim) is started
           for one migration round only to list the heap pages in use
           (pypper.placement_map()): the report's advisor counts every heap page, cold
           ones included, so the truth must too. Counting is off by then.

    python3 advisor_child.py NAME --mode native|oracle --scale S --seed N --out FILE
        [--dump-prefix PATH]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "cxl"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "Tools", "oracle"))

import cxl_workloads  # noqa: E402  (puts Tools/bench/accuracy on sys.path)
import workloads  # noqa: E402


class NoProbe(workloads.PlainProbe):
    mode = "native"


class OraclePagesProbe(workloads.OracleProbe):
    def finish(self, registry):
        out = super().finish(registry)
        del out["ranges"]           # per-object ranges are not needed here
        import pypper
        import _pypper
        hs = _pypper.heap_stats()
        out["heap_base"] = int(hs["base"])
        out["heap_span"] = 2 * int(hs["reservation_per_tier"])
        pypper.start(backend="sim")
        try:
            _pypper.migrate_now()
            out["in_use_pages"] = sorted(int(a) for a, _t in _pypper.placement_map())
        finally:
            pypper.end()
        return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workload", choices=sorted(cxl_workloads.WORKLOADS))
    ap.add_argument("--mode", required=True, choices=("native", "oracle"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dump-prefix", default=None)
    args = ap.parse_args(argv)
    wl = cxl_workloads.WORKLOADS[args.workload](args.seed)
    if args.mode == "oracle":
        prefix = args.dump_prefix or os.path.splitext(os.path.abspath(args.out))[0]
        probe = OraclePagesProbe(prefix)
    else:
        probe = NoProbe()
    result = workloads.run(args.workload, args.mode, args.scale, args.seed,
                           probe=probe, workload=wl)
    with open(args.out, "w") as f:
        json.dump(result, f)
    if args.mode == "oracle" and not result.get("oracle_active"):
        print("advisor_child: --mode oracle outside the oracle: no counts", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
