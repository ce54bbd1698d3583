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
    ap = cxl_workloads.child_parser(__doc__.split("\n\n")[0], ("native", "oracle"))
    args = ap.parse_args(argv)
    return cxl_workloads.run_child(args, OraclePagesProbe, NoProbe, "advisor_child")


if __name__ == "__main__":
    sys.exit(main())
