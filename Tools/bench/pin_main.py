"""Run a program with the interpreter's main thread on one CPU (trace_overhead.py --pin).

    python3 pin_main.py CPU PROGRAM [ARGS...]

Only the calling thread is pinned (sched_setaffinity on thread id 0): Pypper's threads,
started before this runs, keep the CPUs they had, and the sampler moves off the main
thread's CPU as it does in any run (SAMPLE_AWAY). The program then runs as
`python3 PROGRAM ARGS` runs it (runpy, as __main__). Why: on this machine kind one
virtual CPU can run the same program much slower than the other for minutes at a time
(measured 2026-12-06: nbody.py 0.98 s on CPU 0 against 0.61 s on CPU 1, five runs each,
pinned; the same loop of small-int additions ran as fast on both, and an hour later
both CPUs ran nbody.py alike), so an unpinned run's time depended most on where the
kernel put the main thread, and the per-round ratios of the variants spread from 0.5
to 2."""
import os
import runpy
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: pin_main.py CPU PROGRAM [ARGS...]")
    os.sched_setaffinity(0, {int(sys.argv[1])})
    sys.argv = sys.argv[2:]
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
