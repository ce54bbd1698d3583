"""Tests of the accuracy benchmark's figures (Spearman, recall, capture, page scores), of its workloads'
determinism and skew (access counts taken by instrumenting the registry objects in
pure Python, no oracle), and of the runner's plumbing with test-only stand-ins for the
oracle and for pypper.temperature (written to tmp_path here; never part of the
benchmark).

    PYTHONPATH=<pytest> ./python3 -m pytest -p no:cacheprovider -q \\
        Tools/bench/accuracy/test_accuracy_math.py
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
PYTHON = os.path.join(SRCDIR, "python3")
RUNNER = os.path.join(SRCDIR, "Tools", "bench", "accuracy_bench.py")
RUN_WORKLOAD = os.path.join(HERE, "run_workload.py")
sys.path.insert(0, HERE)

import metrics  # noqa: E402
import workloads  # noqa: E402


# -- Spearman -------------------------------------------------------------------------

def test_average_ranks_ties():
    assert metrics.average_ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    assert metrics.average_ranks([3, 1, 2]) == [3.0, 1.0, 2.0]
    assert metrics.average_ranks([7, 7, 7]) == [2.0, 2.0, 2.0]
    assert metrics.average_ranks([]) == []


def test_spearman_known_values():
    assert metrics.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Monotone but not linear: still 1.
    assert metrics.spearman([1, 2, 3, 4, 5], [1, 4, 9, 16, 1000]) == pytest.approx(1.0)
    # No ties: 1 - 6 sum(d^2) / (n (n^2 - 1)) = 1 - 24/120.
    assert metrics.spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)


def test_spearman_ties_average_ranks():
    # ranks y = 1.5,1.5,3.5,3.5,5.5,5.5: 16 / sqrt(17.5 * 16) (scipy: 0.9561828874675149)
    assert metrics.spearman([1, 2, 3, 4, 5, 6], [1, 1, 2, 2, 3, 3]) == \
        pytest.approx(0.9561828874675149, abs=1e-12)
    # Symmetric in its arguments.
    assert metrics.spearman([1, 1, 2, 2, 3, 3], [1, 2, 3, 4, 5, 6]) == \
        pytest.approx(0.9561828874675149, abs=1e-12)
    # Ties on both sides: x ranks 1.5,1.5,3,4 ; y ranks 1,2.5,2.5,4.
    x, y = [0, 0, 1, 2], [0, 5, 5, 9]
    rx, ry = [1.5, 1.5, 3, 4], [1, 2.5, 2.5, 4]
    mx = my = 2.5
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    expect = cov / (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    assert metrics.spearman(x, y) == pytest.approx(expect, abs=1e-12)


def test_spearman_undefined():
    assert metrics.spearman([1, 1, 1], [1, 2, 3]) is None
    assert metrics.spearman([5], [5]) is None
    with pytest.raises(ValueError):
        metrics.spearman([1, 2], [1, 2, 3])


# -- recall ---------------------------------------------------------------------------

def test_recall_known_values():
    truth = list(range(100))                  # hottest 10%: keys 90..99
    assert metrics.recall(truth, truth) == 1.0
    assert metrics.recall(truth, [-t for t in truth]) == 0.0
    half = [t if t < 95 else -t for t in truth]   # keeps 90..94, loses 95..99
    assert metrics.recall(truth, half) == pytest.approx(0.5)
    assert metrics.top_count(100, 0.1) == 10
    assert metrics.top_count(5, 0.1) == 1
    assert metrics.top_count(16000, 0.1) == 1600


def test_recall_ties_broken_by_lower_key():
    # 20 objects, top 10% = 2. Truth: keys 5 and 6 hottest.
    truth = [0] * 20
    truth[5], truth[6] = 9, 8
    # All scores tied: the lowest keys (0, 1) are "hottest" -> recall 0.
    assert metrics.top_keys([0.0] * 20, 2) == {0, 1}
    assert metrics.recall(truth, [0.0] * 20) == 0.0
    # Scores tied among 4..7 at the top: the lower keys 4, 5 win -> recall 0.5.
    scores = [0.0] * 20
    for k in (4, 5, 6, 7):
        scores[k] = 1.0
    assert metrics.recall(truth, scores) == 0.5
    # Ties in the truth are broken the same way: truth keys {3, 5} of {3, 5, 8}.
    truth2 = [0] * 20
    truth2[3] = truth2[5] = truth2[8] = 4
    assert metrics.top_keys(truth2, 2) == {3, 5}
    assert metrics.recall(truth2, truth2) == 1.0


# -- capture --------------------------------------------------------------------------

def test_capture_known_values():
    truth = [float(i) for i in range(100)]     # top 10%: keys 90..99, mass 945
    assert metrics.capture(truth, truth) == 1.0
    # Reversed ranking picks keys 0..9: mass 45.
    assert metrics.capture(truth, [-t for t in truth]) == pytest.approx(45 / 945)
    # Keeps 90..94 (mass 460), swaps 95..99 for 0..4 (mass 10).
    half = [t if t < 95 else -t for t in truth]
    half = [1000.0 if i < 5 else h for i, h in enumerate(half)]
    assert metrics.capture(truth, half) == pytest.approx(470 / 945)
    # Capture counts mass, recall counts keys: one swap of a tiny key costs little.
    skew = [0.0] * 100
    for i in range(10):
        skew[i] = 100.0 if i else 1.0       # key 0 is the weakest of the top 10
    scores = [0.0] * 100
    for i in range(1, 11):
        scores[i] = 1.0                     # keys 1..10: misses key 0, picks key 10
    assert metrics.recall(skew, scores) == pytest.approx(0.9)
    assert metrics.capture(skew, scores) == pytest.approx(900 / 901)


def test_capture_ties_and_undefined():
    # Ties in the scores are broken by the lower key: all equal picks keys 0, 1.
    truth = [0.0] * 20
    truth[0], truth[19] = 3.0, 5.0
    assert metrics.capture(truth, [0.0] * 20) == pytest.approx(3 / 8)
    # Same again, deterministically.
    assert metrics.capture(truth, [0.0] * 20) == metrics.capture(truth, [0.0] * 20)
    assert metrics.capture([0.0] * 20, list(range(20))) is None
    assert metrics.capture([], []) is None
    with pytest.raises(ValueError):
        metrics.capture([1.0, 2.0], [1.0])


def test_page_scores():
    counts = {0x1000: 5, 0x2000: 7, 0x5000: 1}
    ranges = [(0x1010, 56),        # inside page 0x1000
              (0x1fe0, 64),        # straddles 0x1000 and 0x2000
              (0x3000, 16),        # a page with no accesses
              (0x5ff0, 16)]        # last granule of 0x5000
    assert metrics.page_scores(ranges, counts) == [5, 12, 0, 1]
    assert metrics.page_scores([(0x1010, 56)], {0: 9}, page_size=0x10000) == [9]


def test_median():
    assert metrics.median([3, 1, 2]) == 2
    assert metrics.median([4, 1, 2, 3]) == 2.5
    assert metrics.median([None, 1.0]) == 1.0
    assert metrics.median([None]) is None
    assert metrics.median_spearman([None, None, 0.9]) == 0.0
    assert metrics.median_spearman([0.5, None, 0.9]) == 0.5
    assert metrics.median_spearman([None, None]) is None


# -- address ranges -------------------------------------------------------------------

def test_preheader_matches_getsizeof():
    class Slots:
        __slots__ = ("a", "b")

    class Plain:
        pass

    gc_only = 16
    assert workloads.preheader_size(workloads.KVEntry) == gc_only
    assert workloads.preheader_size(list) == gc_only
    assert workloads.preheader_size(Slots) == gc_only
    assert workloads.preheader_size(Plain) == 32         # managed dict + weakref: 3.12
    assert workloads.preheader_size(int) == 0
    assert workloads.preheader_size(float) == 0
    # sys.getsizeof() = basicsize (+ items) + pre-header.
    s = Slots()
    assert sys.getsizeof(s) == type(s).__basicsize__ + 16
    assert sys.getsizeof(1.5) == float.__basicsize__
    start, length = workloads.address_range(s)
    assert start == id(s) - 16 and length == sys.getsizeof(s)
    # A list's own block excludes its items array, which sys.getsizeof() counts.
    lst = [1, 2]
    assert workloads.address_range(lst) == (id(lst) - 16, 16 + list.__basicsize__)
    assert sys.getsizeof(lst) > 16 + list.__basicsize__
    # Inline variable part: sys.getsizeof() is the block.
    t = (1, 2, 3)
    assert workloads.address_range(t) == (id(t) - 16, sys.getsizeof(t))
    assert sys.getsizeof(t) == 16 + tuple.__basicsize__ + 3 * tuple.__itemsize__


# -- workloads: determinism and skew, counted in pure Python ---------------------------

class CountingKV(workloads.KVEntry):
    __slots__ = ()
    counts = {}

    def __getattribute__(self, name):
        c = CountingKV.counts
        c[id(self)] = c.get(id(self), 0) + 1
        return object.__getattribute__(self, name)


class CountingNode(workloads.Node):
    __slots__ = ()
    counts = {}

    def __getattribute__(self, name):
        c = CountingNode.counts
        c[id(self)] = c.get(id(self), 0) + 1
        return object.__getattribute__(self, name)


class CountingCell(workloads.Cell):
    __slots__ = ()
    counts = {}

    def __getattribute__(self, name):
        c = CountingCell.counts
        c[id(self)] = c.get(id(self), 0) + 1
        return object.__getattribute__(self, name)


class CountingList(list):
    counts = {}

    def __getitem__(self, i):
        c = CountingList.counts
        c[id(self)] = c.get(id(self), 0) + 1
        return list.__getitem__(self, i)


class CountingRow(workloads.Row):
    __slots__ = ()
    counts = {}

    def __getattribute__(self, name):
        c = CountingRow.counts
        c[id(self)] = c.get(id(self), 0) + 1
        return object.__getattribute__(self, name)


class CountingRec(workloads.Rec):
    __slots__ = ()
    counts = {}

    def __getattribute__(self, name):
        c = CountingRec.counts
        c[id(self)] = c.get(id(self), 0) + 1
        return object.__getattribute__(self, name)


class CountingBytes(bytes):
    """Counts len() (young's access to a blob); shares the records' counter."""
    __slots__ = ()

    def __len__(self):
        c = CountingRec.counts
        c[id(self)] = c.get(id(self), 0) + 1
        return bytes.__len__(self)


class CZipf(workloads.ZipfKV):
    Item = CountingKV


class CGraph(workloads.GraphWalk):
    Item = CountingNode


class CPhase(workloads.PhaseShift):
    Item = CountingCell


class CLRU(workloads.LRUScan):
    def make_item(self, i):
        return CountingList([i, (i * 31) % 1009])


class CPassingC(workloads.CPassing):
    Item = CountingRow


class CYoung(workloads.Young):
    Item = CountingRec
    Blob = CountingBytes


COUNTING = {"zipf_kv": (CZipf, CountingKV), "graph_walk": (CGraph, CountingNode),
            "phase_shift": (CPhase, CountingCell), "lru_scan": (CLRU, CountingList),
            "c_passing": (CPassingC, CountingRow), "young": (CYoung, CountingRec)}
SMALL = {"zipf_kv": 0.02, "graph_walk": 0.02, "phase_shift": 0.05, "lru_scan": 0.05,
         "c_passing": 0.05, "young": 0.04}


class PhaseCounts(workloads.PlainProbe):
    """Snapshots the instrumentation's counts after each phase."""

    def __init__(self, counter_cls):
        self.counter_cls = counter_cls
        self.per_phase = []

    def before_phase(self, phase):
        self.counter_cls.counts.clear()

    def after_phase(self, phase):
        self.per_phase.append(dict(self.counter_cls.counts))


def counted_run(name, seed, scale=None):
    cls, counter = COUNTING[name]
    counter.counts.clear()
    wl = cls(seed)
    probe = PhaseCounts(counter)
    res = workloads.run(name, "plain", SMALL[name] if scale is None else scale, seed,
                        probe=probe, workload=wl)
    ids = [id(o) for o in wl.registry]
    per_phase = [[c.get(i, 0) for i in ids] for c in probe.per_phase]
    return wl, res, per_phase


@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_workload_deterministic(name):
    wl1, res1, counts1 = counted_run(name, seed=3)
    wl2, res2, counts2 = counted_run(name, seed=3)
    assert counts1 == counts2
    assert [p["checksum"] for p in res1["phase_results"]] == \
        [p["checksum"] for p in res2["phase_results"]]
    assert res1["objects"] == len(wl1.registry) == wl1.objects
    assert 5000 <= wl1.objects <= 20000
    _, _, counts3 = counted_run(name, seed=4)
    assert counts3 != counts1


@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_workload_skew_and_no_allocation_order(name):
    wl, res, per_phase = counted_run(name, seed=5)
    counts = per_phase[wl.judge_phase]
    n = len(counts)
    expected = wl.expected()
    # The generator's rates predict the counts ...
    rho = metrics.spearman(expected, counts)
    assert rho > 0.6, rho
    assert metrics.recall(counts, expected) > 0.8
    # ... allocation order does not, nor does chance.
    assert abs(metrics.spearman(list(range(n)), counts)) < 0.05
    assert metrics.recall(counts, list(range(n))) < 0.2
    # Skewed: the hottest 10% take most of the accesses.
    top = sorted(counts, reverse=True)[:n // 10]
    assert sum(top) > 0.5 * sum(counts)


def test_graph_walk_hot_subgraph_share():
    wl, res, per_phase = counted_run("graph_walk", seed=1, scale=0.05)
    counts = per_phase[0]
    share = sum(counts[i] for i in wl.hot) / sum(counts)
    assert 0.74 < share < 0.86, share
    assert abs(sum(wl.expected()) - 1.0) < 1e-9


def test_phase_shift_working_sets_move():
    wl = workloads.PhaseShift(1)
    k = wl.objects // 10
    tops = [set(order[:k]) for order in wl.orders]
    for a in range(len(tops)):
        for b in range(a + 1, len(tops)):
            # Independent random 10% sets overlap by ~10%.
            assert len(tops[a] & tops[b]) < 0.2 * k
    _, _, per_phase = counted_run("phase_shift", seed=1)
    last = per_phase[-1]
    first = per_phase[0]
    assert metrics.spearman(first, last) < 0.2
    assert metrics.spearman(wl.expected(), last) > 0.6


def test_lru_scan_hot_set_is_truth_top():
    wl, _, per_phase = counted_run("lru_scan", seed=2, scale=0.2)
    counts = per_phase[0]
    k = metrics.top_count(len(counts), 0.1)
    assert len(metrics.top_keys(counts, k) & set(wl.hot_by_rank)) > 0.9 * k


def test_c_passing_every_kind_reads_the_drawn_rows():
    """Each of the four C-driven kinds reads each drawn row; the per-row counts follow
    the Zipf weights (checked above); here: all four kinds run and read BATCH rows."""
    wl = CPassingC(1)
    wl.build()
    for ops in (1, 2, 3, 4):
        CountingRow.counts.clear()
        wl.run_phase(0, ops)
        reads = sum(CountingRow.counts.values())
        # kind 0: BATCH reads; 1: BATCH (key function); 2: BATCH + the winner;
        # 3: BATCH.
        assert reads == [8, 16, 25, 33][ops - 1], (ops, reads)


def test_young_builds_after_start_and_is_not_promoted():
    events = []

    class Probe(workloads.PlainProbe):
        def before_phase(self, phase):
            events.append(("start" if phase == 0 else "phase", len(wl.registry)))

    wl = workloads.Young(1)
    res = workloads.run("young", "plain", 0.01, 1, probe=Probe(), workload=wl)
    # The registry is empty when the first phase (the session's start) begins.
    assert events == [("start", 0), ("phase", wl.objects)]
    assert len(wl.registry) == wl.objects == res["objects"]
    recs = wl.registry[:wl.RECORDS]
    blobs = wl.registry[wl.RECORDS:]
    assert all(type(r) is workloads.Rec for r in recs)
    assert all(type(b) is bytes and len(b) == 23 for b in blobs)
    import gc
    assert not gc.is_tracked(wl.blobs)          # str -> bytes: never tracked
    chk = res["young_check"]
    assert chk["gc_tracked"] == wl.RECORDS
    assert chk["in_generation_2"] == 0
    assert res["gc_collections_by_generation"][2] == 0


def test_timeline_repeats_the_judged_phase():
    """A probe that wants more gets the judged phase again, same checksum."""
    class Probe(workloads.PlainProbe):
        left = 2

        def wants_more(self):
            self.left -= 1
            return self.left >= 0

    res = workloads.run("phase_shift", "plain", 0.002, 1, probe=Probe())
    assert res["repeats"] == 2 and res["repeats_same_checksum"] is True
    res = workloads.run("zipf_kv", "plain", 0.001, 1)
    assert res["repeats"] == 0


def test_scale_changes_only_operation_counts():
    a = workloads.ZipfKV(1)
    assert a.phase_ops(0.5) == [a.base_ops[0] // 2]
    assert workloads.PhaseShift(1).phase_ops(0.1) == [270_000] * 4
    # young's build phase builds every object at any scale.
    assert workloads.Young(1).phase_ops(0.1) == [20000, 450_000]


# -- processes: run_workload.py and the runner ------------------------------------------

needs_python = pytest.mark.skipif(not os.path.exists(PYTHON),
                                  reason="the interpreter is not built")


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYPPER_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra or {})
    return env


@needs_python
def test_run_workload_plain_deterministic_across_processes(tmp_path):
    outs = []
    for i, hash_seed in enumerate(("0", "0", "123")):
        out = tmp_path / ("r%d.json" % i)
        subprocess.run([PYTHON, RUN_WORKLOAD, "lru_scan", "--mode", "plain", "--scale",
                        "0.01", "--seed", "7", "--out", str(out)], check=True,
                       env=clean_env({"PYTHONHASHSEED": hash_seed}))
        outs.append(json.loads(out.read_text()))
    sums = [[p["checksum"] for p in o["phase_results"]] for o in outs]
    assert sums[0] == sums[1] == sums[2]
    assert outs[0]["objects"] == 20000 and outs[0]["mode"] == "plain"


@needs_python
@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_run_workload_oracle_mode_outside_valgrind(tmp_path, name):
    """With an inactive oracle client, oracle mode writes its JSON (with ranges that
    do not overlap) and exits 3."""
    fake = tmp_path / "inactive"
    fake.mkdir()
    (fake / "oracle_client.py").write_text(textwrap.dedent("""
        def active(): return False
        def reset(): pass
        def start(): pass
        def stop(): pass
        def dump(path): pass
        """))
    out = tmp_path / "o.json"
    cp = subprocess.run([PYTHON, RUN_WORKLOAD, name, "--mode", "oracle",
                         "--scale", "0.001", "--out", str(out)],
                        env=clean_env({"PYTHONPATH": str(fake)}),
                        stderr=subprocess.PIPE, text=True)
    assert cp.returncode == 3, cp.stderr
    res = json.loads(out.read_text())
    assert res["oracle_active"] is False
    n = workloads.WORKLOADS[name].objects
    assert [r[0] for r in res["ranges"]] == list(range(n))
    # Blocks of distinct objects do not overlap, and start on 16-byte boundaries
    # (the oracle's granule).
    spans = sorted((r[1], r[1] + r[2]) for r in res["ranges"])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert all(s % 16 == 0 for s, _ in spans)
    assert {r[2] for r in res["ranges"]} == {56}


# Test-only stand-ins. Both derive their figure from the registry index through the
# same function, so a correct pipeline must report Spearman 1 and recall 1 for
# Pypper, while allocation order stays near 0.
STANDIN_KEY = "def weight(key): return float((key * 7919) % 10007)\n"

STANDIN_PYPPER = STANDIN_KEY + textwrap.dedent("""
    _running = False
    def start(**options):
        global _running
        _running = True
        return True
    def end():
        global _running
        was, _running = _running, False
        return was
    def config():
        return {"stand_in": True}
    def key_of(obj):
        if isinstance(obj, list):
            return obj[0]
        if isinstance(obj, bytes):          # young's blobs: b"blob:<idx>:..."
            return int(obj[5:11])
        if hasattr(obj, "idx"):
            return obj.idx
        return int(obj.key.split(":")[1])
    def temperature(obj):
        return weight(key_of(obj)) if _running else None
    """)

STANDIN_ORACLE_CLIENT = textwrap.dedent("""
    import os
    def active(): return os.environ.get("STANDIN_ORACLE") == "1"
    def reset(): pass
    def start(): pass
    def stop(): pass
    def dump(path):
        with open(path, "w") as f:
            f.write("stand-in dump\\n")
    """)

STANDIN_ORACLE = STANDIN_KEY + textwrap.dedent("""
    import os, subprocess
    RUNS = []
    def run(argv, env=None, tool_args=()):
        env = dict(os.environ if env is None else env, STANDIN_ORACLE="1")
        return subprocess.run(list(argv), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    def read_dump(path):
        with open(path) as f:
            return f.read()
    def object_counts(dump, ranges):
        assert dump == "stand-in dump\\n"
        return {key: int(weight(key)) for key, start, length in ranges}
    def page_counts(dump, page_size=4096):
        return {}
    """)


@needs_python
def test_runner_plumbing_with_stand_ins(tmp_path):
    fake_pkg = tmp_path / "standin"
    fake_pkg.mkdir()
    (fake_pkg / "pypper.py").write_text(STANDIN_PYPPER)
    (fake_pkg / "oracle_client.py").write_text(STANDIN_ORACLE_CLIENT)
    fake_oracle = tmp_path / "oracle"
    fake_oracle.mkdir()
    (fake_oracle / "oracle.py").write_text(STANDIN_ORACLE)
    cache = tmp_path / "cache"
    out = tmp_path / "result.json"
    argv = [PYTHON, RUNNER, "--workloads", ",".join(workloads.WORKLOADS),
            "--scale", "0.002", "--runs", "2", "--timeline", "--oracle-dir",
            str(fake_oracle), "--cache-dir", str(cache), "--json", str(out),
            "--option", "sample_hz=10", "--both", "--timeline-at", "0.5"]
    env = clean_env({"PYTHONPATH": str(fake_pkg)})
    cp = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    doc = json.loads(out.read_text())
    assert doc["all_pass"] is True
    assert doc["config"]["options"] == ["sample_hz=10"]
    assert doc["config"]["conditions"] == ["quiet", "loaded"]
    assert set(doc["workloads"]) == set(workloads.WORKLOADS)
    for name, r in doc["workloads"].items():
        assert r["result"] == "PASS"
        assert abs(r["baselines"]["allocation_order"]["spearman"]) < 0.05
        # (the stand-in weights are spread evenly: a random pick captures about 0.53)
        assert r["baselines"]["allocation_order"]["capture"] < 0.6
        # The stand-in oracle gives no page counts: every page score is 0, a tie
        # broken by the lower key, like allocation order reversed.
        assert r["baselines"]["page_oracle"]["spearman"] is None
        assert r["oracle_cached"] is False
        for cond in ("quiet", "loaded"):
            c = r["conditions"][cond]
            assert c["spearman"] == pytest.approx(1.0), name
            assert c["recall"] == 1.0 and c["capture"] == 1.0
            assert c["result"] == "PASS"
            assert c["traced"] == 1.0
            assert c["same_accesses_as_oracle"] is True
            assert len(c["runs"]) == 2
            # A run of a few milliseconds: the judged phase is repeated until 0.5 s (the
            # phases before it took up to 40 ms here, loaded: 12x of margin).
            assert c["timeline_run"]["repeats"] >= 1
            assert c["timeline_run"]["repeats_same_checksum"] is True
            assert [s["at"] for s in c["timeline"]] == [0.5, "end"]
            assert c["timeline"][0]["phase"] == r["judge_phase"]
            assert c["timeline"][0]["spearman"] == pytest.approx(1.0)
            assert c["timeline"][-1]["spearman"] == pytest.approx(1.0)
    assert "PASS" in cp.stdout and "allocation order" in cp.stdout
    assert "| workload |" in cp.stdout and "loaded:" in cp.stdout
    assert len(list(cache.iterdir())) == len(workloads.WORKLOADS)
    # Second run, native at another scale: the oracle results (scale 0.002) come from
    # the cache, and the access streams are not comparable.
    argv2 = [PYTHON, RUNNER, "--workloads", "zipf_kv", "--scale", "0.003",
             "--oracle-scale", "0.002", "--runs", "1", "--oracle-dir", str(fake_oracle),
             "--cache-dir", str(cache), "--json", str(out)]
    cp = subprocess.run(argv2, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    doc = json.loads(out.read_text())
    r = doc["workloads"]["zipf_kv"]
    assert r["oracle_cached"] is True
    assert r["scale"] == 0.003 and r["oracle_scale"] == 0.002
    c = r["conditions"]["quiet"]
    assert c["same_accesses_as_oracle"] is None
    assert c["spearman"] == pytest.approx(1.0)
    assert "oracle scale 0.002 differs" in cp.stdout


def test_busy_core_is_killed_on_error():
    sys.path.insert(0, os.path.dirname(RUNNER))
    import accuracy_bench
    with pytest.raises(KeyboardInterrupt):
        with accuracy_bench.busy_core(True) as proc:
            pid = proc.pid
            assert proc.poll() is None
            raise KeyboardInterrupt
    assert proc.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with accuracy_bench.busy_core(False) as none:
        assert none is None


@needs_python
def test_runner_reports_a_failing_native_run(tmp_path):
    """A pypper without temperature() is an ERROR for the workload, not a crash."""
    fake_pkg = tmp_path / "standin"
    fake_pkg.mkdir()
    (fake_pkg / "pypper.py").write_text("def start(**kw): return True\n"
                                        "def end(): return True\n")
    (fake_pkg / "oracle_client.py").write_text(STANDIN_ORACLE_CLIENT)
    fake_oracle = tmp_path / "oracle"
    fake_oracle.mkdir()
    (fake_oracle / "oracle.py").write_text(STANDIN_ORACLE)
    out = tmp_path / "result.json"
    cp = subprocess.run([PYTHON, RUNNER, "--workloads", "graph_walk", "--scale", "0.001",
                         "--runs", "1", "--oracle-dir", str(fake_oracle), "--cache-dir",
                         str(tmp_path / "cache"), "--json", str(out)],
                        env=clean_env({"PYTHONPATH": str(fake_pkg)}),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert cp.returncode == 2
    assert "temperature" in cp.stdout
    doc = json.loads(out.read_text())
    assert doc["workloads"]["graph_walk"]["result"] == "ERROR"
