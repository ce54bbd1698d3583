"""Shared by the programs of the allocation suite (names starting with "_" are not
programs). SCALE is sys.argv[1] (default 1); phase(NAME) times a block and prints
`phase NAME SECONDS MINFLT` (wall seconds and this process's minor page faults over
the block), which Tools/bench/alloc_bench.py reports per phase. Only the `checksum`
line has to be the same under both interpreters."""
import resource
import sys
import time
from contextlib import contextmanager

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def count(n):
    """n iterations at scale 1, scaled; at least 1."""
    return max(1, int(n * SCALE))


def minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@contextmanager
def phase(name):
    f0, t0 = minflt(), time.perf_counter()
    yield
    t1, f1 = time.perf_counter(), minflt()
    print(f"phase {name} {t1 - t0:.6f} {f1 - f0}", flush=True)

