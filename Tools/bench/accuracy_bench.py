"""Accuracy of Pypper's object temperatures against the exact access oracle.

Each workload of Tools/bench/accuracy/workloads.py is run twice, as separate processes
of the same interpreter with PYTHONHASHSEED=0 and the same (scale, seed):
  * under the access oracle (Tools/oracle/oracle.py run(), Valgrind): the exact number
    of loads and stores that touched each registry object in the judged phase;
  * natively under Pypper (--runs times): pypper.temperature() of each registry object
    right after the measured phase.
Objects are matched by their registry index. Per workload it reports, for Pypper (the
median over the native runs) and for two naive baselines (allocation order: newest =
hottest; random scores, seeded) and for an ideal estimator (the workload generator's own
access probabilities, the best any estimator can do against counts that have sampling
noise):
  * Spearman rank correlation with the oracle counts (average ranks for ties),
  * recall of the oracle's hottest 10% among the estimator's hottest 10% (ties broken
    by the lower registry index).
Targets: Spearman >= 0.8 and recall >= 0.9 (PASS/FAIL on Pypper's medians). An object
whose temperature is None (not traced) ranks below every traced object; a run whose
temperatures are all equal has no Spearman ("n/a", counted as 0 in the median).

    ./python3 Tools/bench/accuracy_bench.py [--workloads zipf_kv,lru_scan] [--scale 1]
        [--oracle-scale S] [--seed 1] [--runs 3] [--option NAME=VALUE]... [--timeline]
        [--keep DIR] [--no-oracle-cache] [--json FILE]

Oracle results are deterministic, so they are cached in build/accuracy-cache/, keyed by
workload, oracle scale, seed and a hash of the workload code and the oracle's sources.
The interpreter binary is not in the key (it is rebuilt often, and in oracle mode no
session runs, so its Pypper parts do not touch the registry); the entry records its hash
and the report says when the truth came from another build. --no-oracle-cache runs the
oracle anyway (and refreshes the cache).
--timeline adds one native run that snapshots the temperatures 0.25 s, 0.5 s and 1 s
after pypper.start() (a separate run, because reading every temperature touches every
object) and reports the figures at each point, judged against the counts of the phase
that was running at that moment.
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
TARGET_SPEARMAN = 0.8
TARGET_RECALL = 0.9
TOP_FRACTION = 0.10
TIMELINE = (0.25, 0.5, 1.0)
CACHE_FORMAT = 1

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
    return {"spearman": metrics.spearman(scores, truth),
            "recall": metrics.recall(truth, scores, TOP_FRACTION)}


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
        for path in res["dumps"]:
            by_key = self.oracle.object_counts(self.oracle.read_dump(path), ranges)
            counts.append([int(by_key.get(k, 0)) for k in range(n)])
            if not self.args.keep:
                os.unlink(path)
        return {"format": CACHE_FORMAT, "workload": name, "scale": scale, "seed": seed,
                "python_digest": python_digest,
                "objects": n, "counts": counts, "judge_phase": res["judge_phase"],
                "judge_note": res["judge_note"], "object_type": res["object_type"],
                "oracle_seconds": seconds,
                "oracle_measured_seconds": res["measured_seconds"],
                "phase_results": res["phase_results"],
                "range_bytes": sorted({r[2] for r in ranges})}

    # -- native runs ---------------------------------------------------------------

    def run_native(self, name, index, timeline=()):
        out = os.path.join(self.workdir, "%s.pypper%s.json" % (
            name, "-timeline" if timeline else index))
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
        same_scale = float(args.scale) == float(args.oracle_scale)
        oracle_sums = [p["checksum"] for p in truth_data["phase_results"]]

        runs = []
        for i in range(args.runs):
            res = self.run_native(name, i)
            temps = res["temperatures"]
            if len(temps) != n:
                raise BenchError("%s: %d temperatures for %d objects" % (
                    name, len(temps), n))
            fig = judge(truth, scores_of(temps))
            sums = [p["checksum"] for p in res["phase_results"]]
            runs.append({"spearman": fig["spearman"], "recall": fig["recall"],
                         "traced": sum(t is not None for t in temps) / n,
                         "nonzero": sum(1 for t in temps if t) / n,
                         "measured_seconds": res["measured_seconds"],
                         "read_seconds": res.get("read_seconds"),
                         "wall_seconds": res["wall_seconds"],
                         "same_accesses_as_oracle": (sums == oracle_sums) if same_scale
                         else None,
                         "pypper_config": res.get("pypper_config")})
            print("  native run %d: spearman %s recall %s traced %.1f%% nonzero %.1f%% "
                  "%.2f s" % (i + 1, fmt(fig["spearman"]), fmt(fig["recall"]),
                              100.0 * runs[-1]["traced"], 100.0 * runs[-1]["nonzero"],
                              res["measured_seconds"]), flush=True)

        timeline = []
        if args.timeline:
            res = self.run_native(name, "timeline", TIMELINE)
            for snap in res["timeline"]:
                phase = snap["phase"]
                # The truth of the phase running at that moment; a phase the oracle
                # did not dump separately cannot happen (one dump per phase).
                t_truth = [float(c) for c in counts_by_phase[phase]]
                fig = judge(t_truth, scores_of(snap["temperatures"]))
                temps = snap["temperatures"]
                timeline.append({"at": snap["at"], "t": snap["t"], "phase": phase,
                                 "read_seconds": snap["read_seconds"],
                                 "traced": sum(t is not None for t in temps) / n,
                                 "nonzero": sum(1 for t in temps if t) / n,
                                 "spearman": fig["spearman"], "recall": fig["recall"]})
            done = {s["at"] for s in res["timeline"]}
            for at in TIMELINE:
                if at not in done:
                    timeline.append({"at": at, "t": None, "phase": None,
                                     "spearman": None, "recall": None,
                                     "note": "measured phase ended before this point"})
            timeline.sort(key=lambda s: s["at"])
            fig = judge(truth, scores_of(res["temperatures"]))
            timeline.append({"at": "end", "t": res["session_seconds"],
                             "phase": judge_phase, "spearman": fig["spearman"],
                             "recall": fig["recall"]})

        sp = metrics.median_spearman([r["spearman"] for r in runs])
        rc = metrics.median([r["recall"] for r in runs])
        secs = [r["measured_seconds"] for r in runs]
        ok = (sp is not None and rc is not None and sp >= TARGET_SPEARMAN
              and rc >= TARGET_RECALL)
        zero = sum(1 for c in truth if c == 0)
        return {
            "workload": name, "objects": n, "object_type": truth_data["object_type"],
            "judge_phase": judge_phase, "judge_note": truth_data["judge_note"],
            "spearman": sp, "recall": rc, "result": "PASS" if ok else "FAIL",
            "runs": runs,
            "baselines": baselines,
            "traced": metrics.median([r["traced"] for r in runs]),
            "nonzero": metrics.median([r["nonzero"] for r in runs]),
            "native_seconds": metrics.median(secs),
            "native_seconds_range": [min(secs), max(secs)] if secs else None,
            "oracle_seconds": truth_data["oracle_seconds"],
            "oracle_measured_seconds": truth_data["oracle_measured_seconds"],
            "oracle_cached": truth_data["cached"],
            "oracle_scale": args.oracle_scale, "scale": args.scale,
            "same_accesses_as_oracle": (all(r["same_accesses_as_oracle"] for r in runs)
                                        if same_scale and runs else None),
            "truth_zero_objects": zero,
            "truth_max": max(truth) if truth else None,
            "truth_total": sum(truth),
            "range_bytes": truth_data.get("range_bytes"),
            "timeline": timeline,
        }

    # -- report ----------------------------------------------------------------------

    def report(self, r):
        b = r["baselines"]
        lines = []
        lines.append("")
        lines.append("== %s: %d objects (%s)" % (r["workload"], r["objects"], r["object_type"]))
        lines.append("   truth: %s (phase %d); scale %s, oracle scale %s, seed %d" % (
            r["judge_note"], r["judge_phase"], r["scale"], r["oracle_scale"],
            self.args.seed))
        lines.append("   %-26s %9s %11s" % ("", "spearman", "recall@10%"))
        lines.append("   %-26s %9s %11s   %s (targets: spearman >= %.1f, recall >= %.1f)" % (
            "pypper (median of %d)" % len(r["runs"]), fmt(r["spearman"]), fmt(r["recall"]),
            r["result"], TARGET_SPEARMAN, TARGET_RECALL))
        for i, run in enumerate(r["runs"]):
            lines.append("   %-26s %9s %11s" % ("  run %d" % (i + 1), fmt(run["spearman"]),
                                                 fmt(run["recall"])))
        for key, label in (("allocation_order", "baseline: allocation order"),
                           ("random", "baseline: random"),
                           ("ideal", "ideal (generator's rates)")):
            lines.append("   %-26s %9s %11s" % (label, fmt(b[key]["spearman"]),
                                                 fmt(b[key]["recall"])))
        rng = r["native_seconds_range"]
        lines.append("   traced %s (temperature > 0: %s)   native %s s (measured phase, "
                     "median; %s-%s)   oracle %s s (whole run%s; measured phase %s s)" % (
                         "n/a" if r["traced"] is None else "%.1f%%" % (100 * r["traced"]),
                         "n/a" if r["nonzero"] is None else "%.1f%%" % (100 * r["nonzero"]),
                         fmt(r["native_seconds"], 2), fmt(rng and rng[0], 2),
                         fmt(rng and rng[1], 2), fmt(r["oracle_seconds"], 1),
                         ", cached" if r["oracle_cached"] else "",
                         fmt(r["oracle_measured_seconds"], 1)))
        same = r["same_accesses_as_oracle"]
        lines.append("   truth: %d objects never touched, max count %d; same access "
                     "stream in both runs (phase checksums): %s" % (
                         r["truth_zero_objects"], r["truth_max"] or 0,
                         {True: "yes", False: "NO", None: "n/a (different scales)"}[same]))
        for s in r["timeline"]:
            if s["at"] == "end":
                lines.append("   timeline end (%.2f s): spearman %s recall %s" % (
                    s["t"], fmt(s["spearman"]), fmt(s["recall"])))
            elif s["t"] is None:
                lines.append("   timeline %.2f s: n/a (%s)" % (s["at"], s["note"]))
            else:
                lines.append("   timeline %.2f s: spearman %s recall %s (phase %d, "
                             "traced %.1f%%, temperature > 0: %.1f%%)" % (
                                 s["at"], fmt(s["spearman"]), fmt(s["recall"]), s["phase"],
                                 100 * s["traced"], 100 * s["nonzero"]))
        print("\n".join(lines), flush=True)

    def summary(self, results):
        print("\n%-12s %7s %8s %7s %9s %9s %9s %8s %9s  %s" % (
            "workload", "objects", "spearman", "recall", "alloc rho", "rand rho",
            "ideal rho", "native s", "oracle s", "result"))
        for name, r in results.items():
            if "error" in r:
                lines = [l.strip() for l in r["error"].splitlines() if l.strip()]
                print("%-12s ERROR: %s" % (name, lines[-1] if lines else "?"))
                continue
            b = r["baselines"]
            print("%-12s %7d %8s %7s %9s %9s %9s %8s %9s  %s" % (
                name, r["objects"], fmt(r["spearman"]), fmt(r["recall"]),
                fmt(b["allocation_order"]["spearman"]), fmt(b["random"]["spearman"]),
                fmt(b["ideal"]["spearman"]), fmt(r["native_seconds"], 2),
                fmt(r["oracle_seconds"], 1) + ("*" if r["oracle_cached"] else ""),
                r["result"]))
        print("(* oracle seconds of the cached run)")

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
        self.summary(results)
        doc = {"benchmark": "pypper-accuracy", "format": 1,
               "targets": {"spearman": TARGET_SPEARMAN, "recall": TARGET_RECALL,
                           "top_fraction": TOP_FRACTION},
               "config": {"python": self.python, "scale": args.scale,
                          "oracle_scale": args.oracle_scale, "seed": args.seed,
                          "runs": args.runs, "options": args.option,
                          "timeline": args.timeline},
               "workloads": results,
               "all_pass": bool(results) and all(r.get("result") == "PASS"
                                                 for r in results.values())}
        if args.json:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
        return 0 if all(r.get("result") != "ERROR" for r in results.values()) else 2


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
                    help="one more native run with snapshots at 0.25, 0.5, 1 s")
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
