"""One process of the CXL estimate: run one workload (cxl_workloads.WORKLOADS) with the
accuracy benchmark's machinery (workloads.run with its OracleProbe / PypperProbe,
extended here) and write JSON. Started by Tools/bench/cxl_estimate.py with
PYTHONHASHSEED=0, natively for --mode pypper and under the access oracle for --mode
oracle.

    python3 run_cxl.py NAME --mode oracle|pypper --scale S --seed N --out FILE.json
        [--option NAME=VALUE]... [--dump-prefix PATH]

Both modes add to the accuracy probes' results:
  heap_base, heap_span   the heap reservation as seen from this process: the lowest
                         arena (1 MiB) holding a live object of Pypper's heap, and
                         2 x reservation_per_tier (both tiers)
  pages                  per registry key, pypper.where(obj)["page"]
--mode pypper also records, right after the last phase and before pypper.end():
  snapshot_pages         [[page, heat, tier], ...] from pypper.snapshot()
  placement_map          pypper.placement_map() when it exists, else null
  migration_stats        pypper.migration_stats() when it exists, else null
"""
import gc
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import cxl_workloads  # noqa: E402  (puts the accuracy folder on sys.path)
import workloads  # noqa: E402
import run_workload  # noqa: E402  (option parsing; adds Tools/oracle to sys.path)

ARENA = 1 << 20


def heap_geometry(pypper):
    """(lowest arena with a live heap object, span of both tiers' reservation)."""
    lo = None
    for obj in gc.get_objects():
        w = pypper.where(obj)
        if w.get("kind") in ("small", "large", "huge"):
            a = w["page"] & ~(ARENA - 1)
            if lo is None or a < lo:
                lo = a
    span = 2 * int(pypper.heap_stats()["reservation_per_tier"])
    return lo, span


def key_pages(pypper, registry):
    return [pypper.where(obj)["page"] for obj in registry]


class CxlOracleProbe(workloads.OracleProbe):
    def finish(self, registry):
        out = super().finish(registry)
        import pypper
        out["pages"] = key_pages(pypper, registry)
        out["heap_base"], out["heap_span"] = heap_geometry(pypper)
        return out


class CxlPypperProbe(workloads.PypperProbe):
    def finish(self, registry):
        p = self.pypper
        # A run of a few seconds ends after 2-3 background rounds, before the planner
        # has acted on all its candidates (it moves a share of them a round, within the
        # rate caps): let it settle on the final temperatures, at most 8 rounds, and
        # record how many it took. This is the placement it would keep.
        settle = 0
        if getattr(p, "migrate_now", None) is not None:
            for settle in range(1, 9):
                r = p.migrate_now()
                if not (r["promoted_pages"] or r["demoted_pages"] or r["relocated_buffers"]):
                    break
        extra = {"pages": key_pages(p, registry), "settle_rounds": settle}
        snap = p.snapshot()
        extra["snapshot_pages"] = [[pg.address, pg.heat, pg.tier] for pg in snap.pages]
        extra["snapshot_objects"] = len(snap.objects)
        for name in ("placement_map", "migration_stats"):
            fn = getattr(p, name, None)
            extra[name] = fn() if fn is not None else None
        if extra["placement_map"] is not None:
            extra["placement_map"] = [[int(a), str(t)] for a, t in extra["placement_map"]]
        extra["heap_base"], extra["heap_span"] = heap_geometry(p)
        out = super().finish(registry)   # temperatures, then pypper.end()
        out.update(extra)
        return out


def main(argv=None):
    ap = cxl_workloads.child_parser(__doc__.split("\n\n")[0], ("oracle", "pypper"))
    ap.add_argument("--option", action="append", type=run_workload.parse_option,
                    default=[], metavar="NAME=VALUE")
    args = ap.parse_args(argv)
    return cxl_workloads.run_child(args, CxlOracleProbe,
                                   lambda: CxlPypperProbe(dict(args.option)), "run_cxl",
                                   options=dict(args.option))


if __name__ == "__main__":
    sys.exit(main())
