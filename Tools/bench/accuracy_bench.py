"""Accuracy of Pypper's object temperatures against the exact access oracle.

Each workload of Tools/bench/accuracy/workloads.py (zipf_kv, graph_walk, phase_shift,
lru_scan; c_passing: rows read only in passing by C code, through sum() over a
generator, sorted()/max() key functions and map(dict.get); young: two caches built
after pypper.start() that the GC never promotes) is run as separate processes of the
same interpreter with PYTHONHASHSEED=0 and the same (scale, seed):
  * under the access oracle (Tools/oracle/oracle.py run(), Valgrind): the exact number
    of loads and stores that touched each registry object's block in the judged
    phase, and the exact count of every page in that phase;
  * natively under Pypper (--runs times per condition): pypper.temperature() of each
    registry object right after the measured phase.
Objects are matched by their registry index. Per workload and condition it reports
for Pypper (the median of each figure over the native runs) and, computed once, for
four baselines: the page oracle (each object scored by the exact count of the page(s)
its block lies on, from the same oracle run: the best a page-granular estimator can
do), allocation order (newest = hottest), random scores (seeded) and the ideal
estimator (the workload generator's own access probabilities, the best any estimator
can do against counts that have sampling noise):
  * capture@10%: the oracle counts of the estimator's hottest 10% over those of the
    oracle's hottest 10% (how much of the accesses a fast tier of 10% would serve),
  * recall@10%: the share of the oracle's hottest 10% among the estimator's,
  * Spearman rank correlation with the oracle counts (average ranks for ties).
Hottest-10% sets break ties by the lower registry index. Targets (issue 12):
capture >= 0.97, recall >= 0.9, Spearman >= 0.8; PASS needs all three, under every
condition run. An object whose temperature is None (not traced) ranks below every
traced object; a run whose temperatures are all equal has no Spearman ("n/a", counted
as 0 in the median).

    ./python3 Tools/bench/accuracy_bench.py [--workloads zipf_kv,young] [--scale 1]
        [--oracle-scale S] [--seed 1] [--runs 3] [--option NAME=VALUE]...
        [--loaded | --both] [--timeline [--timeline-at 0.25,0.5,1,5]]
        [--keep DIR] [--no-oracle-cache] [--json FILE]

Conditions: quiet (default) runs the native runs as they are; --loaded runs them while
a child process spins in a pure-Python busy loop (one core's worth of competition; it
is killed by its PID at the end of each workload's runs, on errors and
KeyboardInterrupt too); --both does quiet then loaded with one oracle run. The report
gives the load average (1 min) before each condition's runs; on a shared machine the
quiet figures are only as quiet as the machine was.

Oracle results are deterministic, so they are cached in build/accuracy-cache/, keyed by
workload, oracle scale, seed and a hash of the workload code and the oracle's sources.
The interpreter binary is not in the key (it is rebuilt often, and in oracle mode no
session runs, so its Pypper parts do not touch the registry); the entry records its hash
and the report says when the truth came from another build. --no-oracle-cache runs the
oracle anyway (and refreshes the cache).
--timeline adds one native run per condition that snapshots the temperatures 0.25 s,
0.5 s, 1 s and 5 s after pypper.start() (--timeline-at changes the points; a separate
run, because reading every temperature touches every object) and reports the figures
at each point, judged against the counts of the phase that was running at that moment.
The workloads' measured phases last about 3 s natively at scale 1, so in this run,
while a point is still to come when the last phase ends, the judged phase is run again
with the same operations (the same accesses: the truth is the same up to a factor):
the 5 s point is judged against the judged phase in its second or third pass. The
timeline's "end" line is the temperatures after these repeats.
"""
import argparse
import contextlib
import hashlib
import importlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ACC_DIR = os.path.join(HERE, "accuracy")
SRCDIR = os.path.dirname(os.path.dirname(HERE))
RUN_WORKLOAD = os.path.join(ACC_DIR, "run_workload.py")
DEFAULT_PYTHON = os.path.join(SRCDIR, "python3")
DEFAULT_ORACLE_DIR = os.path.join(SRCDIR, "Tools", "oracle")
DEFAULT_CACHE = os.path.join(SRCDIR, "build", "accuracy-cache")
TARGET_CAPTURE = 0.97
TARGET_SPEARMAN = 0.8
TARGET_RECALL = 0.9
TOP_FRACTION = 0.10
TIMELINE = (0.25, 0.5, 1.0, 5.0)
CACHE_FORMAT = 2
FIGURES = ("capture", "recall", "spearman")
# The baselines, in the order reported: key in the results, label.
BASELINES = (("page_oracle", "page oracle"), ("allocation_order", "allocation order"),
             ("random", "random"), ("ideal", "ideal (generator's rates)"))

sys.path.insert(0, ACC_DIR)
import metrics  # noqa: E402
import workloads  # noqa: E402


class BenchError(Exception):
    pass


def parse_option(text):
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected NAME=VALUE, got %r" % (text,))
    return "%s=%s" % (name.strip(), value)


def child_env():
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    # A session started at interpreter start would not be the one under test.
    env.pop("PYPPER_ENABLE", None)
    return env


def tail(text, lines=15):
    if not text:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


def file_digest(paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(os.path.basename(p).encode() + b"\0")
        try:
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        except OSError:
            h.update(b"missing")
    return h.hexdigest()[:16]


def load_oracle(oracle_dir):
    path = os.path.join(oracle_dir, "oracle.py")
    if not os.path.exists(path):
        raise BenchError("the access oracle is missing: %s does not exist (build it "
                         "first, see Tools/oracle/)" % path)
    if oracle_dir not in sys.path:
        sys.path.insert(0, oracle_dir)
    mod = importlib.import_module("oracle")
    for fn in ("run", "read_dump", "object_counts"):
        if not hasattr(mod, fn):
            raise BenchError("%s has no %s()" % (path, fn))
    return mod


def fmt(x, digits=3):
    return "n/a" if x is None else "%.*f" % (digits, x)


def scores_of(temperatures):
    """Temperatures as sortable scores: None (not traced) below every temperature."""
    return [-1.0 if t is None else float(t) for t in temperatures]


def judge(truth, scores):
    return {"capture": metrics.capture(truth, scores, TOP_FRACTION),
            "spearman": metrics.spearman(scores, truth),
            "recall": metrics.recall(truth, scores, TOP_FRACTION)}


def passes(fig):
    """Whether figures meet all three targets (an undefined figure does not)."""
    c, r, s = fig.get("capture"), fig.get("recall"), fig.get("spearman")
    return (c is not None and r is not None and s is not None and c >= TARGET_CAPTURE
            and r >= TARGET_RECALL and s >= TARGET_SPEARMAN)


def pad(temps, n):
    """A snapshot taken while the registry was still being built (young's phase 0)
    lists fewer objects: the rest were not there yet, i.e. not traced."""
    return list(temps) + [None] * (n - len(temps))


@contextlib.contextmanager
def busy_core(loaded):
    """With loaded, a child process that spins (a pure-Python busy loop) for the
    duration: one core's worth of competition for the runs inside. It is killed by
    its PID on the way out, error or KeyboardInterrupt included."""
    if not loaded:
        yield None
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], env=child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


# What tracing cost in a native run (from the session's counters at the end): the
# sampler thread's CPU seconds, the hand-overs' CPU seconds in the program's threads,
# write tracking's scan CPU seconds and its estimate of the program's write-fault
# seconds, its scans, and the polls chosen on written pages / passed over.
COST_KEYS = ("sampler_cpu_s", "hand_over_s", "wt_scan_s", "wt_fault_s", "wt_scans",
             "poll_written", "poll_unwritten", "refcount_evidence")


def cost_of(res):
    st = res.get("sampler_stats") or {}
    wt = res.get("write_tracking_stats") or {}
    active = bool(wt.get("active"))
    return {"sampler_cpu_s": st.get("cpu_seconds"),
            "hand_over_s": st.get("hand_over_seconds"),
            "wt_scan_s": wt.get("scan_seconds") if active else None,
            "wt_fault_s": wt.get("est_fault_seconds") if active else None,
            "wt_scans": wt.get("scans") if active else None,
            "poll_written": st.get("poll_written"),
            "poll_unwritten": st.get("poll_unwritten"),
            "refcount_evidence": st.get("refcount_evidence")}


def cost_text(c):
    def f(k, d=3):
        return "n/a" if c.get(k) is None else ("%.*f" % (d, c[k]) if isinstance(c[k], float)
                                               else str(c[k]))
    return ("sampler CPU %s s, hand-overs %s s, write tracking %s (scans %s s, faults ~%s s), "
            "polls on written pages %s / passed over %s, refcount evidence %s" % (
                f("sampler_cpu_s"), f("hand_over_s"), f("wt_scans"), f("wt_scan_s"),
                f("wt_fault_s"), f("poll_written"), f("poll_unwritten"),
                f("refcount_evidence")))


def loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def add_bench_arguments(ap, cache_dir, timeout, timeout_help=None):
    """The options of a benchmark built on Bench: its runs (--python, --oracle-dir,
    --timeout), the oracle's cache (--cache-dir, --no-oracle-cache) and its outputs
    (--keep, --json)."""
    ap.add_argument("--keep", metavar="DIR", help="keep dumps and run outputs in DIR")
    ap.add_argument("--no-oracle-cache", action="store_true")
    ap.add_argument("--cache-dir", default=cache_dir)
    ap.add_argument("--json", metavar="FILE", help="write machine-readable results")
    ap.add_argument("--python", default=DEFAULT_PYTHON,
                    help="interpreter of both runs (default: the built ./python3)")
    ap.add_argument("--oracle-dir", default=DEFAULT_ORACLE_DIR,
                    help="folder of oracle.py and oracle_client.py")
    ap.add_argument("--timeout", type=float, default=timeout, help=timeout_help)


class Bench:
    # The oracle's cache: the script run under the oracle, the files (besides the
    # oracle's own sources) a cached result depends on, the cache file's name prefix
    # and the format of the data stored. A benchmark built on this class sets its own
    # and overrides run_oracle().
    oracle_script = RUN_WORKLOAD
    cache_sources = (os.path.join(ACC_DIR, "workloads.py"), RUN_WORKLOAD)
    cache_prefix = ""
    cache_format = CACHE_FORMAT

    def __init__(self, args):
        self.args = args
        self.python = os.path.abspath(args.python)
        self.oracle_dir = os.path.abspath(args.oracle_dir)
        self.oracle = None
        self.workdir = None

    # -- the oracle --------------------------------------------------------------

    def cache_key(self, name, scale, seed):
        oracle_files = []
        if os.path.isdir(self.oracle_dir):
            for fn in sorted(os.listdir(self.oracle_dir)):
                if fn.endswith((".py", ".c", ".h")) and not fn.startswith("test_"):
                    oracle_files.append(os.path.join(self.oracle_dir, fn))
        code = file_digest(list(self.cache_sources) + oracle_files)
        return "%s%s-scale%s-seed%d-%s.json" % (self.cache_prefix, name,
                                                repr(float(scale)), seed, code)

    def truth(self, name, scale, seed):
        """run_oracle()'s result, from the cache when it holds one (and
        --no-oracle-cache is not given), else run and cached; "cached" says which."""
        cache_path = os.path.join(self.args.cache_dir, self.cache_key(name, scale, seed))
        if not self.args.no_oracle_cache and os.path.exists(cache_path):
            with open(cache_path) as f:
                data = json.load(f)
            if data.get("format") == self.cache_format:
                data["cached"] = True
                if data.get("python_digest") != file_digest([self.python]):
                    print("  note: cached oracle counts come from another build of %s "
                          "(--no-oracle-cache refreshes them)" % self.python)
                return data
        data = self.run_oracle(name, scale, seed)
        os.makedirs(self.args.cache_dir, exist_ok=True)
        tmp = cache_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, cache_path)
        data["cached"] = False
        return data

    def oracle_child(self, name, scale, seed, tool_args=(), timeout=None):
        """Runs oracle_script NAME --mode oracle under the oracle, counting from the
        first phase (oracle_client.start()): the start-up and the registry's
        construction run uninstrumented, which is faster. Returns (the script's JSON
        result, seconds); the dumps it names are the caller's to read and remove."""
        if self.oracle is None:
            self.oracle = load_oracle(self.oracle_dir)
        out = os.path.join(self.workdir, "%s.oracle.json" % name)
        prefix = os.path.join(self.workdir, "%s.oracle" % name)
        argv = [self.python, self.oracle_script, name, "--mode", "oracle", "--scale",
                repr(float(scale)), "--seed", str(seed), "--out", out,
                "--dump-prefix", prefix]
        print("  oracle: running %s at scale %s under Valgrind ..." % (name, scale),
              flush=True)
        # (timeout only when given: stand-in oracles in the tests take none)
        kw = {} if timeout is None else {"timeout": timeout}
        t = time.perf_counter()
        cp = self.oracle.run(argv, env=child_env(),
                             tool_args=["--start-counting=no"] + list(tool_args), **kw)
        seconds = time.perf_counter() - t
        if cp.returncode != 0:
            raise BenchError("oracle run of %s failed (exit %s):\n%s" % (
                name, cp.returncode, tail(getattr(cp, "stderr", None))))
        with open(out) as f:
            res = json.load(f)
        if not res.get("oracle_active"):
            raise BenchError("oracle run of %s: the oracle was not active "
                             "(oracle_client.active() was False)" % name)
        return res, seconds

    def run_oracle(self, name, scale, seed):
        python_digest = file_digest([self.python])
        res, seconds = self.oracle_child(name, scale, seed, self.args.oracle_tool_arg)
        ranges = [tuple(r) for r in res["ranges"]]
        n = len(ranges)
        counts = []
        page_scores = None
        page_counts = getattr(self.oracle, "page_counts", None)
        for phase, path in enumerate(res["dumps"]):
            dump = self.oracle.read_dump(path)
            by_key = self.oracle.object_counts(dump, ranges)
            counts.append([int(by_key.get(k, 0)) for k in range(n)])
            if phase == res["judge_phase"] and page_counts is not None:
                # The page oracle: each object scored by the exact count of the
                # page(s) its block lies on, in the same run and phase.
                page_scores = metrics.page_scores([(r[1], r[2]) for r in ranges],
                                                  page_counts(dump))
            if not self.args.keep:
                os.unlink(path)
        return {"format": CACHE_FORMAT, "workload": name, "scale": scale, "seed": seed,
                "python_digest": python_digest, "page_scores": page_scores,
                "objects": n, "counts": counts, "judge_phase": res["judge_phase"],
                "judge_note": res["judge_note"], "object_type": res["object_type"],
                "oracle_seconds": seconds,
                "oracle_measured_seconds": res["measured_seconds"],
                "phase_results": res["phase_results"],
                "gc_collections_by_generation": res.get("gc_collections_by_generation"),
                "young_check": res.get("young_check"),
                "range_bytes": sorted({r[2] for r in ranges})}

    # -- native runs ---------------------------------------------------------------

    def run_native(self, name, index, timeline=()):
        out = os.path.join(self.workdir, "%s.pypper-%s.json" % (name, index))
        argv = [self.python, RUN_WORKLOAD, name, "--mode", "pypper", "--scale",
                repr(float(self.args.scale)), "--seed", str(self.args.seed), "--out", out]
        for opt in self.args.option:
            argv += ["--option", opt]
        if timeline:
            argv += ["--timeline", ",".join(str(t) for t in timeline)]
        t = time.perf_counter()
        cp = subprocess.run(argv, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=self.args.timeout)
        wall = time.perf_counter() - t
        if cp.returncode != 0:
            raise BenchError("native run of %s failed (exit %s):\n%s" % (
                name, cp.returncode, tail(cp.stderr)))
        with open(out) as f:
            res = json.load(f)
        res["wall_seconds"] = wall
        if not self.args.keep:
            os.unlink(out)
        return res

    # -- one workload ------------------------------------------------------------------

    def workload(self, name):
        """The truth and the baselines once, then the native runs under each
        condition (quiet, loaded)."""
        args = self.args
        print("%s:" % name, flush=True)
        truth_data = self.truth(name, args.oracle_scale, args.seed)
        counts_by_phase = truth_data["counts"]
        judge_phase = truth_data["judge_phase"]
        truth = [float(c) for c in counts_by_phase[judge_phase]]
        n = len(truth)
        wl = workloads.WORKLOADS[name](args.seed)
        expected = wl.expected()
        if len(expected) != n:
            raise BenchError("%s: oracle has %d objects, the workload %d" % (
                name, n, len(expected)))
        rnd = random.Random("accuracy-baseline:%s:%d" % (name, args.seed))
        baselines = {
            "allocation_order": judge(truth, [float(i) for i in range(n)]),
            "random": judge(truth, [rnd.random() for _ in range(n)]),
            "ideal": judge(truth, expected),
        }
        page = truth_data.get("page_scores")
        baselines["page_oracle"] = (judge(truth, [float(x) for x in page])
                                    if page is not None and len(page) == n else
                                    {k: None for k in FIGURES})
        same_scale = float(args.scale) == float(args.oracle_scale)
        oracle_sums = [p["checksum"] for p in truth_data["phase_results"]]
        zero = sum(1 for c in truth if c == 0)
        out = {
            "workload": name, "objects": n, "object_type": truth_data["object_type"],
            "judge_phase": judge_phase, "judge_note": truth_data["judge_note"],
            "baselines": baselines,
            "oracle_seconds": truth_data["oracle_seconds"],
            "oracle_measured_seconds": truth_data["oracle_measured_seconds"],
            "oracle_cached": truth_data["cached"],
            "oracle_young_check": truth_data.get("young_check"),
            "gc_collections_by_generation": truth_data.get("gc_collections_by_generation"),
            "oracle_scale": args.oracle_scale, "scale": args.scale,
            "truth_zero_objects": zero,
            "truth_max": max(truth) if truth else None,
            "truth_total": sum(truth),
            "range_bytes": truth_data.get("range_bytes"),
            "conditions": {},
        }
        for cond in args.conditions:
            with busy_core(cond == "loaded"):
                out["conditions"][cond] = self.native(
                    name, cond, n, truth, counts_by_phase, judge_phase,
                    oracle_sums if same_scale else None)
        out["result"] = ("PASS" if all(c["result"] == "PASS"
                                       for c in out["conditions"].values()) else "FAIL")
        return out

    def native(self, name, cond, n, truth, counts_by_phase, judge_phase, oracle_sums):
        """--runs native runs and the timeline run of one condition, judged."""
        args = self.args
        load_before = loadavg()
        runs = []
        for i in range(args.runs):
            res = self.run_native(name, "%s%d" % (cond, i))
            temps = res["temperatures"]
            if len(temps) != n:
                raise BenchError("%s: %d temperatures for %d objects" % (
                    name, len(temps), n))
            fig = judge(truth, scores_of(temps))
            sums = [p["checksum"] for p in res["phase_results"]]
            run = dict(fig)
            run.update({"traced": sum(t is not None for t in temps) / n,
                        "nonzero": sum(1 for t in temps if t) / n,
                        "measured_seconds": res["measured_seconds"],
                        "read_seconds": res.get("read_seconds"),
                        "wall_seconds": res["wall_seconds"],
                        "same_accesses_as_oracle": (sums == oracle_sums)
                        if oracle_sums is not None else None,
                        "young_check": res.get("young_check"),
                        "pypper_config": res.get("pypper_config")})
            run.update(cost_of(res))
            if res.get("own_temperatures") is not None:
                run["own"] = judge(truth, scores_of(res["own_temperatures"]))
            runs.append(run)
            print("  %s run %d: capture %s recall %s spearman %s traced %.1f%% "
                  "nonzero %.1f%% %.2f s; %s" % (cond, i + 1, fmt(fig["capture"]),
                                                 fmt(fig["recall"]), fmt(fig["spearman"]),
                                                 100.0 * run["traced"], 100.0 * run["nonzero"],
                                                 res["measured_seconds"], cost_text(run)),
                  flush=True)
            if "own" in run:
                print("    own evidence only (no page share), same run: capture %s recall %s "
                      "spearman %s" % (fmt(run["own"]["capture"]), fmt(run["own"]["recall"]),
                                       fmt(run["own"]["spearman"])), flush=True)

        timeline = []
        timeline_run = None
        if args.timeline:
            res = self.run_native(name, "%s-timeline" % cond, args.timeline_at)
            for snap in res["timeline"]:
                phase = snap["phase"]
                temps = pad(snap["temperatures"], n)
                # Judged against the counts of the phase running at that moment (the
                # judged phase while it was repeated: the same accesses again).
                t_truth = [float(c) for c in counts_by_phase[phase]]
                entry = judge(t_truth, scores_of(temps))
                entry.update({"at": snap["at"], "t": snap["t"], "phase": phase,
                              "read_seconds": snap["read_seconds"],
                              "traced": sum(t is not None for t in temps) / n,
                              "nonzero": sum(1 for t in temps if t) / n})
                timeline.append(entry)
            done = {s["at"] for s in res["timeline"]}
            for at in args.timeline_at:
                if at not in done:
                    timeline.append({"at": at, "t": None, "phase": None,
                                     "capture": None, "spearman": None, "recall": None,
                                     "note": "the run ended before this point"})
            timeline.sort(key=lambda s: s["at"])
            entry = judge(truth, scores_of(res["temperatures"]))
            entry.update({"at": "end", "t": res["session_seconds"], "phase": judge_phase})
            timeline.append(entry)
            timeline_run = {"measured_seconds": res["measured_seconds"],
                            "repeats": res.get("repeats", 0),
                            "repeat_seconds": res.get("repeat_seconds", 0.0),
                            "repeats_same_checksum": res.get("repeats_same_checksum")}

        fig = {"capture": metrics.median([r["capture"] for r in runs]),
               "recall": metrics.median([r["recall"] for r in runs]),
               "spearman": metrics.median_spearman([r["spearman"] for r in runs])}
        secs = [r["measured_seconds"] for r in runs]
        out = dict(fig)
        out.update({
            "condition": cond, "result": "PASS" if passes(fig) else "FAIL",
            "runs": runs,
            "traced": metrics.median([r["traced"] for r in runs]),
            "nonzero": metrics.median([r["nonzero"] for r in runs]),
            "native_seconds": metrics.median(secs),
            "own": ({"capture": metrics.median([r["own"]["capture"] for r in runs]),
                     "recall": metrics.median([r["own"]["recall"] for r in runs]),
                     "spearman": metrics.median_spearman([r["own"]["spearman"] for r in runs])}
                    if runs and all("own" in r for r in runs) else None),
            "cost": {k: metrics.median([r[k] for r in runs if r.get(k) is not None])
                     if any(r.get(k) is not None for r in runs) else None
                     for k in COST_KEYS},
            "native_seconds_range": [min(secs), max(secs)] if secs else None,
            "same_accesses_as_oracle": (all(r["same_accesses_as_oracle"] for r in runs)
                                        if oracle_sums is not None and runs else None),
            "timeline": timeline, "timeline_run": timeline_run,
            "loadavg_before": load_before, "loadavg_after": loadavg(),
        })
        return out

    # -- report ----------------------------------------------------------------------

    @staticmethod
    def fig_row(label, fig, extra=""):
        return "   %-28s %8s %8s %9s%s" % (label, fmt(fig.get("capture")),
                                          fmt(fig.get("recall")),
                                          fmt(fig.get("spearman")), extra)

    def report(self, r):
        b = r["baselines"]
        lines = [""]
        lines.append("== %s: %d objects (%s)" % (r["workload"], r["objects"], r["object_type"]))
        lines.append("   truth: %s (phase %d); scale %s, oracle scale %s, seed %d" % (
            r["judge_note"], r["judge_phase"], r["scale"], r["oracle_scale"],
            self.args.seed))
        lines.append("   %-28s %8s %8s %9s" % ("", "capture", "recall", "spearman"))
        for cond, c in r["conditions"].items():
            lines.append(self.fig_row(
                "pypper, %s (median of %d)" % (cond, len(c["runs"])), c,
                "   %s" % c["result"]))
            for i, run in enumerate(c["runs"]):
                lines.append(self.fig_row("  run %d" % (i + 1), run))
        for key, label in BASELINES:
            lines.append(self.fig_row(label, b[key]))
        lines.append("   targets: capture@10%% >= %.2f, recall@10%% >= %.1f, spearman >= "
                     "%.1f (all three)" % (TARGET_CAPTURE, TARGET_RECALL, TARGET_SPEARMAN))
        lines.append("   oracle %s s (whole run%s; measured phase %s s); truth: %d objects "
                     "never touched, max count %d" % (
                         fmt(r["oracle_seconds"], 1), ", cached" if r["oracle_cached"] else "",
                         fmt(r["oracle_measured_seconds"], 1), r["truth_zero_objects"],
                         r["truth_max"] or 0))
        if r.get("oracle_young_check"):
            # Checked after the probe's finish(): in the oracle run that writes 20000
            # range lists first (collections that promote), in the native runs not.
            yc = r["oracle_young_check"]
            native = [run["young_check"]["in_generation_2"]
                      for c in r["conditions"].values() for run in c["runs"]
                      if run.get("young_check")]
            lines.append("   GC: %d registry objects tracked; in generation 2 at the end "
                         "of the native runs: %s (of the oracle run, after it wrote its "
                         "ranges: %d); collections by generation during the phases: %s" % (
                             yc["gc_tracked"], ", ".join(map(str, native)) or "n/a",
                             yc["in_generation_2"],
                             r.get("gc_collections_by_generation")))
        for cond, c in r["conditions"].items():
            rng = c["native_seconds_range"]
            same = c["same_accesses_as_oracle"]
            la = c["loadavg_before"]
            if c.get("own"):
                lines.append(self.fig_row("%s, own evidence only" % cond, c["own"],
                                          "   (same runs, without the page share)"))
            lines.append("   %s cost (medians): %s" % (cond, cost_text(c["cost"])))
            lines.append("   %s: traced %s (temperature > 0: %s); native %s s (measured "
                         "phase, median; %s-%s); same access stream as the oracle run: %s; "
                         "load average before %s" % (
                             cond,
                             "n/a" if c["traced"] is None else "%.1f%%" % (100 * c["traced"]),
                             "n/a" if c["nonzero"] is None else "%.1f%%" % (100 * c["nonzero"]),
                             fmt(c["native_seconds"], 2), fmt(rng and rng[0], 2),
                             fmt(rng and rng[1], 2),
                             {True: "yes", False: "NO", None: "n/a (different scales)"}[same],
                             "n/a" if la is None else "%.2f" % la[0]))
            if c["timeline_run"]:
                tr = c["timeline_run"]
                lines.append("   %s timeline (one more run; judged phase repeated %d times "
                             "after %.2f s to reach the last point):" % (
                                 cond, tr["repeats"], tr["measured_seconds"]))
            for s in c["timeline"]:
                if s["at"] == "end":
                    lines.append(self.fig_row("  end (%.2f s)" % s["t"], s))
                elif s["t"] is None:
                    lines.append("     at %.2f s: n/a (%s)" % (s["at"], s["note"]))
                else:
                    lines.append(self.fig_row(
                        "  at %.2f s (phase %d)" % (s["at"], s["phase"]), s,
                        "   traced %.1f%%, > 0: %.1f%%" % (100 * s["traced"],
                                                          100 * s["nonzero"])))
        print("\n".join(lines), flush=True)

    @staticmethod
    def cells(fig):
        return "%s / %s / %s" % (fmt(fig.get("capture")), fmt(fig.get("recall")),
                                 fmt(fig.get("spearman")))

    def summary(self, results, load_start, load_end):
        """One markdown table per condition: every estimator's capture / recall /
        spearman, the timeline at 1 s and 5 s, the result."""
        print("\nEach cell: capture@10%% / recall@10%% / Spearman; targets %.2f / %.1f / "
              "%.1f. Load average (1 min) at the start %s, at the end %s." % (
                  TARGET_CAPTURE, TARGET_RECALL, TARGET_SPEARMAN,
                  "n/a" if not load_start else "%.2f" % load_start[0],
                  "n/a" if not load_end else "%.2f" % load_end[0]))
        for cond in self.args.conditions:
            print("\n%s:\n" % cond)
            head = ["workload", "objects", "Pypper (median)"] + \
                [label.split(" (")[0] for _, label in BASELINES] + \
                ["Pypper at 1 s", "Pypper at 5 s", "native s", "result"]
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
            for name, r in results.items():
                if "error" in r:
                    lines = [l.strip() for l in r["error"].splitlines() if l.strip()]
                    print("| %s | ERROR: %s |" % (name, lines[-1] if lines else "?"))
                    continue
                c = r["conditions"][cond]
                at = {s["at"]: s for s in c["timeline"]}
                row = [name, str(r["objects"]), self.cells(c)]
                row += [self.cells(r["baselines"][k]) for k, _ in BASELINES]
                row += [self.cells(at[t]) if t in at else "-" for t in (1.0, 5.0)]
                row += [fmt(c["native_seconds"], 2), c["result"]]
                print("| " + " | ".join(row) + " |")
        print("(oracle: %s)" % ", ".join(
            "%s %s s%s" % (n, fmt(r.get("oracle_seconds"), 1),
                           " cached" if r.get("oracle_cached") else "")
            for n, r in results.items() if "error" not in r))

    @contextlib.contextmanager
    def workdir_scope(self, prefix):
        """self.workdir for the runs' files: --keep's folder, else a temporary one
        removed at the end."""
        if self.args.keep:
            os.makedirs(self.args.keep, exist_ok=True)
            self.workdir = os.path.abspath(self.args.keep)
            yield
            return
        with tempfile.TemporaryDirectory(prefix=prefix) as d:
            self.workdir = d
            yield

    def main(self):
        args = self.args
        results = {}
        load_start = loadavg()
        print("conditions: %s; load average %s" % (
            ", ".join(args.conditions),
            "n/a" if not load_start else " ".join("%.2f" % x for x in load_start)),
            flush=True)
        with self.workdir_scope("accuracy-"):
            for name in args.workloads:
                try:
                    r = self.workload(name)
                except (BenchError, subprocess.TimeoutExpired, OSError) as e:
                    print("  ERROR: %s" % e, flush=True)
                    results[name] = {"workload": name, "error": str(e),
                                     "result": "ERROR"}
                    continue
                results[name] = r
                self.report(r)
        load_end = loadavg()
        self.summary(results, load_start, load_end)
        doc = {"benchmark": "pypper-accuracy", "format": 2,
               "targets": {"capture": TARGET_CAPTURE, "spearman": TARGET_SPEARMAN,
                           "recall": TARGET_RECALL, "top_fraction": TOP_FRACTION},
               "config": {"python": self.python, "scale": args.scale,
                          "oracle_scale": args.oracle_scale, "seed": args.seed,
                          "runs": args.runs, "options": args.option,
                          "timeline": args.timeline,
                          "timeline_at": list(args.timeline_at),
                          "conditions": args.conditions},
               "loadavg_start": load_start, "loadavg_end": load_end,
               "workloads": results,
               "all_pass": bool(results) and all(r.get("result") == "PASS"
                                                 for r in results.values())}
        if args.json:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
        return 0 if all(r.get("result") != "ERROR" for r in results.values()) else 2


def parse_times(text):
    try:
        times = tuple(sorted(float(t) for t in text.split(",") if t.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError("expected seconds like 0.25,1,5") from None
    if not times or any(t <= 0 for t in times):
        raise argparse.ArgumentTypeError("timeline points must be > 0")
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Accuracy of Pypper's temperatures against the access oracle.",
        epilog="See the module docstring (Tools/bench/accuracy_bench.py) for details.")
    ap.add_argument("--workloads", default=",".join(workloads.WORKLOADS),
                    help="comma-separated, of: %s" % ", ".join(workloads.WORKLOADS))
    ap.add_argument("--scale", type=float, default=1.0,
                    help="operations of the measured phase (1.0: ~3 s natively)")
    ap.add_argument("--oracle-scale", type=float, default=None,
                    help="scale of the oracle run (default: --scale)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="native runs (median reported)")
    ap.add_argument("--option", action="append", type=parse_option, default=[],
                    metavar="NAME=VALUE", help="passed to pypper.start() (repeatable)")
    ap.add_argument("--timeline", action="store_true",
                    help="one more native run per condition with snapshots at 0.25, 0.5, "
                         "1 and 5 s after start()")
    ap.add_argument("--timeline-at", type=parse_times, default=TIMELINE,
                    metavar="T1,T2,...", help="the timeline's points in seconds")
    cond = ap.add_mutually_exclusive_group()
    cond.add_argument("--loaded", action="store_true",
                      help="native runs while a busy loop occupies a core")
    cond.add_argument("--both", action="store_true",
                      help="native runs quiet, then loaded (one oracle run)")
    add_bench_arguments(ap, DEFAULT_CACHE, 1800.0, "seconds allowed for one native run")
    ap.add_argument("--oracle-tool-arg", action="append", default=[], metavar="ARG",
                    help="another option for the Valgrind tool (repeatable)")
    args = ap.parse_args(argv)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in names if w not in workloads.WORKLOADS]
    if unknown or not names:
        ap.error("unknown workload(s) %s; choose from %s" % (
            ", ".join(unknown) or "(none)", ", ".join(workloads.WORKLOADS)))
    args.workloads = names
    args.conditions = (["quiet", "loaded"] if args.both else
                       ["loaded"] if args.loaded else ["quiet"])
    if args.oracle_scale is None:
        args.oracle_scale = args.scale
    if args.scale <= 0 or args.oracle_scale <= 0:
        ap.error("scales must be > 0")
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    if not os.path.exists(args.python):
        ap.error("no interpreter at %s (build it: make)" % args.python)
    if args.oracle_scale != args.scale:
        print("note: oracle scale %s differs from native scale %s: the truth comes from "
              "a run of another length of the same kind of stream" % (
                  args.oracle_scale, args.scale))
    return Bench(args).main()


if __name__ == "__main__":
    sys.exit(main())
