"""Run a program with the interpreter's main thread on one CPU (trace_overhead.py --pin).

    python3 pin_main.py [--others] CPU PROGRAM [ARGS...]

Only the calling thread is pinned (sched_setaffinity on thread id 0): Pypper's threads,
started before this runs, keep the CPUs they had, and the sampler moves off the main
thread's CPU as it does in any run (SAMPLE_AWAY). The program then runs as
`python3 PROGRAM ARGS` runs it (runpy, as __main__). Why: on this machine kind one
virtual CPU can run the same program much slower than the other for minutes at a time
(measured 2026-12-06: nbody.py 0.98 s on CPU 0 against 0.61 s on CPU 1, five runs each,
pinned; the same loop of small-int additions ran as fast on both, and an hour later
both CPUs ran nbody.py alike), so an unpinned run's time depended most on where the
kernel put the main thread, and the per-round ratios of the variants spread from 0.5
to 2. With --others, Pypper's threads running at that point (named pypper-*: the
sampler) are put on the other CPUs, where the sampler's placement would move them
anyway after its first still burst (Tools/bench/sampler_cost.py uses this: until
then a sampler woken on the main thread's CPU takes few samples, and the cost
measured depended on how long that lasted)."""
import os
import runpy
import sys


def default_cpu():
    """The main thread's CPU for the harnesses: the last this process may use, or None
    with only one (nothing to keep apart)."""
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[-1] if len(allowed) > 1 else None


def cpu_error(cpu):
    """Why the harnesses cannot pin a main thread to cpu, or None."""
    allowed = sorted(os.sched_getaffinity(0))
    return None if cpu in allowed else f"not one of the CPUs allowed ({allowed})"


def main():
    others = len(sys.argv) > 1 and sys.argv[1] == "--others"
    if others:
        del sys.argv[1]
    if len(sys.argv) < 3:
        sys.exit("usage: pin_main.py [--others] CPU PROGRAM [ARGS...]")
    cpu = int(sys.argv[1])
    rest = os.sched_getaffinity(0) - {cpu}
    os.sched_setaffinity(0, {cpu})
    if others and rest:
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/comm") as f:
                    if f.read().startswith("pypper"):
                        os.sched_setaffinity(int(tid), rest)
            except OSError:
                pass                # the thread ended meanwhile
    sys.argv = sys.argv[2:]
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
