"""Memory pressure: does Pypper stay out of the way when the process swaps? And the
stress test of the far-memory crash scenario (issue: SIGSEGV under a memory limit with
the pageout backend).

A key-value store of small slotted records (Tools/bench/farmem/kv_slots.py) is built
without a limit; then the harness puts a memory cgroup limit of --limit (a share of
the cgroup's usage after the build) on it, with zram as swap, and lets the Zipf access
phase run. Interpreters, in rotating order each round: the stock python3.12, ./python3
with Pypper on (pageout backend, FAST_BUDGET --budget, the memory-pressure guard on:
the defaults) and ./python3 with the guard off (PRESSURE_MAJFLT=0, PRESSURE_PSI=0); `--only` may add "off" (the
drop-in's heap with tracing off).
Per interpreter: median access seconds and major faults, their ratios to stock, and
every run that did not end well (signal, OOM kill, checksum). Set-up and teardown are
farmem_bench.py's (root, cgroup v1 memory controller, zram; exit 77 without them).

    ./python3 Tools/bench/pressure_bench.py [--rounds 3] [--limit 0.6] [--records 400000]
        [--budget 50%] [--only stock,pypper,unguarded,off] [--json FILE] [--cleanup]
Exit status: 0 done, 1 a run crashed or checksums differ, 77 skipped, 2 usage.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import farmem_bench as fb  # noqa: E402

WORKLOAD = os.path.join(HERE, "farmem", "kv_slots.py")
KINDS = ("stock", "pypper", "unguarded", "off")
DEFAULT_KINDS = ("stock", "pypper", "unguarded")


def env_for(kind, budget):
    if kind == "stock":
        return fb.clean_env()
    if kind == "off":                   # the drop-in's heap alone, no tracing
        return fb.clean_env({"PYPPER_ENABLE": "0"})
    env = {"PYPPER_ENABLE": "1", "PYPPER_BACKEND": "pageout", "PYPPER_FAST_BUDGET": budget,
           "PYPPER_STATS": "1", "PYTHONFAULTHANDLER": "1"}
    if kind == "unguarded":
        env.update(PYPPER_PRESSURE_MAJFLT="0", PYPPER_PRESSURE_PSI="0")
    return fb.clean_env(env)


def one_run(setup, argv, env, share, timeout):
    """Build without a limit, then limit to share x usage; returns a result dict."""
    name, path = setup.cgroup(None)

    def enter():
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=enter, text=True)
    fb.RUNNING["pid"] = p.pid
    try:
        first = p.stdout.readline().strip()
        usage = int(setup.host.read(os.path.join(path, "memory.usage_in_bytes")))
        limit = int(usage * share)
        if first == "BUILT":
            try:
                setup.host.write(os.path.join(path, "memory.limit_in_bytes"), limit)
            except OSError:
                pass            # the kernel could not shrink to it at once: it keeps trying
            p.stdin.write("go\n")
            p.stdin.flush()
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        oom = fb.parse_memory_stat(setup.host.read(os.path.join(path, "memory.oom_control")))
    finally:
        fb.RUNNING["pid"] = None
        fb.remove_cgroup(setup.host, name, lambda m: None)
    res = fb.last_json_line(out)
    run = {"rc": p.returncode, "usage_after_build": usage, "limit": limit,
           "seconds": time.monotonic() - t0, "oom_kill": oom.get("oom_kill", 0)}
    if res and p.returncode == 0:
        run.update(ok=True, checksum=res["checksum"], access_s=res["access_s"],
                   majflt=res["access_majflt"])
    else:
        run.update(ok=False, stderr=err[-1500:],
                   error=(f"signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}")
                   + (" (OOM killer)" if run["oom_kill"] else ""))
    for line in err.splitlines():
        if "pressure_pauses" in line or "pressure_paused_ms" in line:
            run[line.split()[1]] = int(line.split()[2])
    return run


def summary(runs):
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return None
    return {"access_s": statistics.median(r["access_s"] for r in ok),
            "access_s_range": [min(r["access_s"] for r in ok), max(r["access_s"] for r in ok)],
            "majflt": statistics.median(r["majflt"] for r in ok),
            "usage_mb": statistics.median(r["usage_after_build"] for r in ok) / fb.MIB,
            "ok": len(ok), "failed": len(runs) - len(ok)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=float, default=0.6)
    ap.add_argument("--records", type=int, default=400000)
    ap.add_argument("--ops", type=int, default=600000)
    ap.add_argument("--budget", default="50%")
    ap.add_argument("--only", default=",".join(DEFAULT_KINDS))
    ap.add_argument("--stock", default=fb.default_stock())
    ap.add_argument("--candidate", default=os.path.join(ROOT, "python3"))
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--zram-mb", type=int, default=8192)
    ap.add_argument("--json")
    ap.add_argument("--cleanup", action="store_true")
    a = ap.parse_args(argv)
    kinds = [k for k in a.only.split(",") if k]
    if any(k not in KINDS for k in kinds) or not 0 < a.limit <= 1 or a.rounds < 1:
        ap.error(f"--only takes {','.join(KINDS)}; --limit in (0, 1]; --rounds >= 1")
    host = fb.Host()
    if a.cleanup:
        return 0 if fb.cleanup(host, print) else 1
    problem = fb.environment_problem(host)
    if problem:
        print(f"SKIP pressure_bench: {problem}")
        return fb.SKIP
    setup = fb.Setup(host, a.zram_mb * fb.MIB, print)
    runs = {k: [] for k in kinds}

    def on_signal(signum, frame):
        raise fb.Interrupted(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        try:
            setup.start()
        except fb.Skip as e:
            print(f"SKIP pressure_bench: {e}")
            return fb.SKIP
        args = [WORKLOAD, "--records", str(a.records), "--ops", str(a.ops)]
        for rnd in range(a.rounds):
            order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]
            for kind in order:
                python = a.stock if kind == "stock" else a.candidate
                r = one_run(setup, [python, *args], env_for(kind, a.budget), a.limit, a.timeout)
                runs[kind].append(r)
                if r["ok"]:
                    print(f"[{rnd + 1}/{a.rounds}] {kind:9} access {r['access_s']:7.2f} s "
                          f"majflt {r['majflt']:8d} usage {r['usage_after_build'] / fb.MIB:6.1f} MiB "
                          f"pauses {r.get('pressure_pauses', '-')}", flush=True)
                else:
                    print(f"[{rnd + 1}/{a.rounds}] {kind:9} FAILED: {r['error']}\n{r['stderr']}",
                          flush=True)
    except (KeyboardInterrupt, fb.Interrupted) as e:
        print(f"interrupted ({e}): tearing down")
    finally:
        if fb.RUNNING["pid"]:
            try:
                os.kill(fb.RUNNING["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
        if setup.state is not None and not fb.cleanup(host, lambda m: None):
            print("TEARDOWN INCOMPLETE: run pressure_bench.py --cleanup")
    table = {k: summary(v) for k, v in runs.items()}
    base = table.get("stock")
    print(f"\nlimit {a.limit:.0%} of the usage after the build; medians over the runs that ended well")
    print(f"{'interpreter':10} {'access s':>9} {'range':>15} {'major faults':>13} {'x stock':>8} "
          f"{'faults x':>9} {'usage MiB':>10} {'failed':>7}")
    for k, s in table.items():
        if not s:
            print(f"{k:10} every run failed")
            continue
        rt = s["access_s"] / base["access_s"] if base else float("nan")
        rf = s["majflt"] / base["majflt"] if base and base["majflt"] else float("nan")
        print(f"{k:10} {s['access_s']:9.2f} {s['access_s_range'][0]:7.2f}-{s['access_s_range'][1]:<7.2f} "
              f"{s['majflt']:13.0f} {rt:8.2f} {rf:9.2f} {s['usage_mb']:10.1f} {s['failed']:7d}")
    sums = {r["checksum"] for v in runs.values() for r in v if r["ok"]}
    crashed = [r for v in runs.values() for r in v if not r["ok"] and not r["oom_kill"]]
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "runs": runs, "summary": table}, f, indent=1)
    if len(sums) > 1:
        print("CHECKSUM MISMATCH", sorted(sums))
    return 1 if len(sums) > 1 or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
