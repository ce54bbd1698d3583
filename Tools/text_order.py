"""Writes Tools/text_order.txt: the functions of ./python3 that run in common runs,
those of runs with tracing off first, then those only a tracing session runs.

The link (Makefile.pre.in, `$(B)/text_order.ld`) puts these functions first in the
executable's code, in this order. The kernel maps a file's pages 64 KiB at a time
(aligned) around a fault, so code spread over the executable makes all of it resident
in every process; gathered, the code a run with tracing off needs fits in one such
window, and a tracing session's in two (Doc/heap.md, "Start-up RSS").

The functions are those with any cost under Valgrind's callgrind in `-c pass`, a
program that allocates blocks of every size (SIZES) and the eight programs of
Tools/bench/programs at a small scale, each with tracing off (PYPPER_ENABLE=0: the
options are parsed) and traced (PYPPER_ENABLE=1, from the start; once with a delayed
start), plus code those runs miss (OFF_OBJECTS, TRACED_OBJECTS, TRACED_ONLY). A name
the build no longer has is ignored by the linker; a function missing from the list
still links, after the listed ones: a stale list costs pages, never correctness. tests/test_startup_rss.py notices when the code of a
run no longer fits its windows.

    ./python3 Tools/text_order.py [--python ./python3] [--out Tools/text_order.txt] [--fresh]

What the runs find varies a little (the threads' timing under Valgrind), so the names
of the list before that the executable still defines are kept unless --fresh.

Needs valgrind (Tools/setup.sh installs it). Takes about three minutes.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ["binary_trees", "buffers", "churn", "containers", "json_roundtrip", "nbody",
            "oo_sim", "strings"]
SCALE = "0.03"          # tracing off: the heap's paths show at any scale
TRACED_SCALE = "0.15"   # a session's upkeep (dropping stale entries, ...) takes longer
# Code the runs under Valgrind miss, found by recording page faults at native speed
# on Tools/bench/programs and tests/programs traced from the start (`perf record -e
# page-faults -d`: the faults whose address is their instruction's are the code pages
# mapped first). Of the objects named, every function is taken (build/obj/...).
# With tracing off: the heap's rare paths (its reservation growing, huge blocks).
OFF_OBJECTS = ["Objects/heap.o", "Objects/region.o", "Objects/pools.o", "Objects/medium.o",
               "Objects/large.o", "Objects/trim.o", "Objects/retain.o",
               "Objects/size_classes.o", "Objects/placement.o", "Objects/pymem_glue.o"]
# Traced: Valgrind runs one thread at a time, so the sampler never sees the main
# thread wait for a CPU and never moves (sampler_placement); the short runs never make
# the object table and its states grow, move or drop stale entries to make room, nor
# the live trace queue a large container's items.
TRACED_OBJECTS = ["Pypper/sampler_placement.o", "Pypper/objtable.o",
                  "Pypper/objtable_states.o"]
TRACED_ONLY = {"pypper_own_mremap", "queue_pending"}
SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


# Blocks of every size the heap serves (small, medium, large, a huge one), growth by
# realloc, frees and a collection; traced, a hand-over driven by the test hook.
SIZES = """
import gc, sys
keep = [str(i) * (i % 40) for i in range(20000)]
blobs = [bytearray(n) for n in (600, 5000, 70000, 300000, 2 << 20)]
grow = []
for i in range(50000):
    grow.append(i)
del keep, blobs
gc.collect()
if "pypper" in sys.modules or __import__("os").environ.get("PYPPER_ENABLE") == "1":
    import _pypper
    _pypper._test_hand_over()
"""

# Runs long enough (in wall time, whatever Valgrind's slowdown) for a delayed start.
DELAYED = """
import time
t0 = time.monotonic()
keep = []
while time.monotonic() - t0 < 2.0:
    keep.append([i for i in range(100)])
    del keep[:-1000]
"""


def runs(scale):
    """(label, argv tail) of each run."""
    out = [("-c pass", ["-c", "pass"]), ("sizes", ["-c", SIZES])]
    for name in PROGRAMS:
        out.append((name, [os.path.join(ROOT, "Tools", "bench", "programs", name + ".py"),
                           scale]))
    return out


def executed(profile, binary):
    """Names of the functions of `binary` with a cost line in a callgrind profile.

    The format (callgrind's "Callgrind Format Specification"): `ob=` names the object
    of the `fn=` lines that follow, both either `(id) name` or a bare `(id)` naming an
    earlier one; cost lines start with a digit or `+`/`-` (relative positions). `cfn=`
    and `cob=` name callees, whose own costs come under their own `fn=`."""
    names, objects, seen = {}, {}, set()
    current_ob = current_fn = None
    in_call = False

    def resolve(table, value):
        value = value.strip()
        if value.startswith("("):
            key, _, rest = value.partition(")")
            key += ")"
            rest = rest.strip()
            if rest:
                table[key] = rest
            return table.get(key)
        return value

    with open(profile) as f:
        for line in f:
            if line.startswith("ob="):
                current_ob = resolve(objects, line[3:])
            elif line.startswith("fn="):
                current_fn = resolve(names, line[3:])
            elif line.startswith("cob="):
                resolve(objects, line[4:])
            elif line.startswith("cfn="):
                resolve(names, line[4:])
            elif line.startswith("calls="):
                in_call = True      # the next cost line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                if in_call:
                    in_call = False
                elif current_ob == binary and current_fn:
                    seen.add(current_fn)
    # callgrind names a recursion level "name'2": the function is the same. Only
    # symbols are kept ("(below main)" and bare addresses are the loader's and PLT's).
    return {n for n in (n.split("'")[0] for n in seen) if SYMBOL.fullmatch(n)}


def collect(python, env_extra, argv, workdir, label):
    out = os.path.join(workdir, "callgrind.out")
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("PYPPER_"):
            del env[key]
    env.update(env_extra)
    # --fair-sched: the threads take turns as on a machine with free cores, so the
    # sampler sees the main thread run (not only wait for Valgrind's one lock).
    cmd = ["valgrind", "--tool=callgrind", "--fair-sched=yes", "--callgrind-out-file=" + out,
           python] + argv
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"text_order: {label} failed under valgrind ({done.returncode}):\n"
                 + done.stderr[-2000:])
    try:
        return executed(out, os.path.realpath(python))
    finally:
        os.unlink(out)


def read_list(path):
    """The two groups of names of a list this tool wrote."""
    groups, current = ([], []), 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line == "# tracing on":
                current = 1
            elif line and not line.startswith("#"):
                groups[current].append(line)
    return set(groups[0]), set(groups[1])


def defined_functions(binary):
    """Names of the functions defined in `binary` (its symbol table, by nm)."""
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True,
                         check=True).stdout
    return {f[2] for f in (line.split() for line in out.splitlines())
            if len(f) == 3 and f[1] in "tTwW"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--out", default=os.path.join(ROOT, "Tools", "text_order.txt"))
    ap.add_argument("--fresh", action="store_true",
                    help="do not keep the names of the list before (by default those the "
                         "executable still defines stay)")
    args = ap.parse_args()
    off, on = set(), set()
    with tempfile.TemporaryDirectory() as workdir:
        for label, argv in runs(SCALE):
            # PYPPER_ENABLE=0: the options are read and checked, as when a user sets
            # any PYPPER_ variable without tracing.
            off |= collect(args.python, {"PYPPER_ENABLE": "0"}, argv, workdir,
                           label + " (off)")
        for label, argv in runs(TRACED_SCALE):
            # A session from the start, as with a trace file or pypper.start(); and
            # one started later (START_DELAY_MS, the drop-in's default path).
            on |= collect(args.python, {"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "0"},
                          argv, workdir, label + " (traced)")
        on |= collect(args.python, {"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "100"},
                      ["-c", DELAYED], workdir, "delayed start (traced)")
    if not off:
        sys.exit("text_order: no function of the executable ran: is it built with -g?")
    on |= TRACED_ONLY
    objdir = os.path.join(os.path.dirname(os.path.realpath(args.python)), "build", "obj")
    for objects, group in ((OFF_OBJECTS, off), (TRACED_OBJECTS, on)):
        for obj in objects:
            path = os.path.join(objdir, obj)
            if not os.path.exists(path):
                sys.exit(f"text_order: {path} is missing: run it on an in-tree build")
            group |= defined_functions(path)
    if not args.fresh and os.path.exists(args.out):
        # Runs under Valgrind differ in what rare paths the threads take: the names of
        # the list before, that the executable still has, stay in their group.
        old_off, old_on = read_list(args.out)
        have = defined_functions(args.python)
        off |= old_off & have
        on |= old_on & have
    with open(args.out, "w") as f:
        f.write("# Written by Tools/text_order.py: functions run with tracing off, then those\n"
                "# only a tracing session runs. The link puts them first, in this order.\n")
        for name in sorted(off):
            f.write(name + "\n")
        f.write("# tracing on\n")
        for name in sorted(on - off):
            f.write(name + "\n")
    print(f"{args.out}: {len(off)} functions with tracing off, {len(on - off)} more traced")


if __name__ == "__main__":
    main()
