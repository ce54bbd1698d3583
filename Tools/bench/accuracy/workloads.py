"""Deterministic workloads for the temperature accuracy benchmark.

Each workload builds a REGISTRY: the list of objects whose temperature is judged. An
object's key is its index in the registry, the same in every run of the same seed, so
the oracle run (exact access counts, under Valgrind) and the native run (Pypper's
temperatures) can be matched object by object. Then a measured phase (or several)
accesses the registry with a known skew.

Hotness is never correlated with allocation order: every hot set and every popularity
order is a seeded random permutation of the registry.

| workload    | registry objects                                    | measured phase                |
|-------------|-----------------------------------------------------|-------------------------------|
| zipf_kv     | 20000 KVEntry (__slots__ key, value, stamp)         | dict lookups, Zipf(1.1) keys  |
| graph_walk  | 16000 Node (__slots__ idx, nbrs, label), nbrs: list | random walks, hot subgraph    |
| phase_shift | 20000 Cell (__slots__ idx, value, version)          | 4 phases, new hot set each    |
| lru_scan    | 20000 lists [idx, payload]                          | LRU: Zipf hot set + scans     |
| c_passing   | 20000 Row (__slots__ idx, v, w)                     | Zipf batches used by C code   |
| young       | 10000 Rec (__slots__ idx, v, ts) + 10000 bytes      | built after start(), Zipf     |

Everything random comes from random.Random seeded with strings derived from the seed
(random seeds a str through SHA-512, so this does not depend on PYTHONHASHSEED; the
runner sets PYTHONHASHSEED=0 anyway, which fixes the dict layouts of str keys). The
number of operations of each phase is fixed by the scale, never by time, so the same
(workload, scale, seed) performs exactly the same accesses in every process; the phase
checksum (a sum of the fields read) makes that checkable across runs.

Each workload class offers:
    plan (built in __init__, pure data), expected() (the relative access rate of each
    registry object in the judged phase, as the generator defines it: what an ideal
    estimator could know), build() (allocates the registry), phase_ops(scale),
    run_phase(i, ops) -> checksum, judge_phase (the phase whose exact counts are the
    truth: the last one).

`run(name, mode, scale, seed, probe=None)` runs one workload in this process: build()
(before any tracing), gc.collect(), then for each phase probe.before_phase(i), the
phase, probe.after_phase(i), then probe.finish(registry). The registry is the
workload's `registry` attribute as it is after the phases: `young` builds its registry
in phase 0, after start(), and build() leaves it empty. While a probe's wants_more()
says so (the pypper probe's timeline has points not yet taken), the judged phase is run
again with the same operations (same accesses, so the same truth up to a factor);
"repeats" in the result counts these runs. Probes for the modes:
    "plain"  nothing (calibration, tests),
    "oracle" Tools/oracle/oracle_client: reset()+start() before each phase, stop() and
             dump(<prefix>.phase<i>.dump) after it, then the registry's address ranges
             (address_range(): pre-header + the object's own block),
    "pypper" pypper.start(**options) right before the first phase, the temperatures of
             the registry right after the last one (before pypper.end()); optionally
             snapshots at fixed times after start() (the timeline).
The module-level functions zipf_kv(mode, scale, seed), graph_walk(...), ... are
shorthands for run().
"""

import bisect
import gc
import importlib
import json
import random
import sys
import threading
import time
from collections import OrderedDict

# CPython 3.12 type flags (Include/object.h) and the pre-header that sys.getsizeof()
# counts in front of the object (Include/internal/pycore_object.h,
# _PyType_PreHeaderSize: a PyGC_Head for GC types, two more pointers for types with a
# managed dict or managed weakref list).
Py_TPFLAGS_MANAGED_WEAKREF = 1 << 3
Py_TPFLAGS_MANAGED_DICT = 1 << 4
Py_TPFLAGS_PREHEADER = Py_TPFLAGS_MANAGED_WEAKREF | Py_TPFLAGS_MANAGED_DICT
Py_TPFLAGS_HAVE_GC = 1 << 14
PYGC_HEAD_SIZE = 16
POINTER_SIZE = 8


def preheader_size(tp):
    """Bytes in front of id(obj) that belong to an object of type tp and that
    sys.getsizeof() includes (not for static type objects, which we never judge)."""
    flags = tp.__flags__
    size = 0
    if flags & Py_TPFLAGS_HAVE_GC:
        size += PYGC_HEAD_SIZE
    if flags & Py_TPFLAGS_PREHEADER:
        size += 2 * POINTER_SIZE
    return size


def address_range(obj):
    """(start, length) of obj's own memory block: the pre-header, then the object.

    The length is sys.getsizeof(obj) for objects whose variable part is inline
    (tp_itemsize != 0: tuple, int, bytes, str), and pre-header + tp_basicsize for the
    others. sys.getsizeof() cannot be used for those in general: list.__sizeof__ (and
    dict's, set's, bytearray's) adds the out-of-line buffer, so for a list [a, b] it
    says 72 while the list's block is 56 bytes, and a 72-byte range would reach into
    the next block of the 64-byte size class (another object's pre-header).
    """
    tp = type(obj)
    pre = preheader_size(tp)
    if tp.__itemsize__:
        return id(obj) - pre, sys.getsizeof(obj)
    return id(obj) - pre, pre + tp.__basicsize__


def zipf_cdf(n, s):
    """Cumulative weights of ranks 1..n under Zipf(s), normalised so cdf[-1] == 1.0."""
    weights = [(r + 1) ** -s for r in range(n)]
    total = sum(weights)
    cdf = []
    acc = 0.0
    for w in weights:
        acc += w
        cdf.append(acc / total)
    cdf[-1] = 1.0
    return cdf, [w / total for w in weights]


def _rng(name, seed, part):
    return random.Random(f"pypper-accuracy:{name}:{seed}:{part}")


# ---------------------------------------------------------------------------------
# Registry object types (module level so tests can substitute counting subclasses
# through the workload classes' attributes).

class KVEntry:
    __slots__ = ("key", "value", "stamp")

    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.stamp = 0


class Node:
    __slots__ = ("idx", "nbrs", "label")

    def __init__(self, idx, label):
        self.idx = idx
        self.nbrs = None
        self.label = label


class Cell:
    __slots__ = ("idx", "value", "version")

    def __init__(self, idx, value):
        self.idx = idx
        self.value = value
        self.version = 0


# Base scale-1.0 operation counts were calibrated on the development machine (2 slow
# vCPUs) with ./python3 and no session: about 3 s of measured phase per workload.
class Workload:
    name = None
    objects = 0
    object_type = None
    description = None
    base_ops = ()          # operations of each phase at scale 1.0
    judge_note = "exact access counts of the measured phase"

    def __init__(self, seed):
        self.seed = seed
        self.registry = None

    @property
    def judge_phase(self):
        return len(self.base_ops) - 1

    def phase_ops(self, scale):
        return [max(1, int(round(n * scale))) for n in self.base_ops]

    def info(self):
        return {"workload": self.name, "objects": self.objects,
                "object_type": self.object_type, "description": self.description,
                "phases": len(self.base_ops), "judge_phase": self.judge_phase,
                "judge_note": self.judge_note}


class ZipfPermutation(Workload):
    """Zipf(S) popularity over a random permutation of the registry: rank r is object
    rank_to_idx[r]; expected() is each object's probability."""
    S = 1.1

    def __init__(self, seed):
        super().__init__(seed)
        rng = _rng(self.name, seed, "plan")
        self.rank_to_idx = list(range(self.objects))
        rng.shuffle(self.rank_to_idx)
        self.cdf, self.weights = zipf_cdf(self.objects, self.S)

    def expected(self):
        exp = [0.0] * self.objects
        for rank, idx in enumerate(self.rank_to_idx):
            exp[idx] = self.weights[rank]
        return exp


class ZipfKV(ZipfPermutation):
    """A str key -> KVEntry dict; each operation looks up a key drawn from Zipf(1.1)
    over a random permutation of the registry and reads the entry's value field."""
    name = "zipf_kv"
    objects = 20000
    object_type = "KVEntry: class instance with __slots__ (key, value, stamp)"
    description = "dict cache, Zipf(1.1) key popularity over a random permutation"
    base_ops = (9_000_000,)
    S = 1.1
    Item = KVEntry


    def build(self):
        Item = self.Item
        self.registry = [Item("user:%06d" % i, i * 7 % 1000) for i in range(self.objects)]
        self.table = {e.key: e for e in self.registry}
        # Key objects by popularity rank (the dict's own key strings).
        self.keys_by_rank = [self.registry[idx].key for idx in self.rank_to_idx]
        return self.registry

    def run_phase(self, phase, ops):
        rand = _rng(self.name, self.seed, "phase%d" % phase).random
        cdf = self.cdf
        hi = len(cdf) - 1
        keys = self.keys_by_rank
        table = self.table
        br = bisect.bisect_right
        acc = 0
        for _ in range(ops):
            acc += table[keys[br(cdf, rand(), 0, hi)]].value
        return acc


class GraphWalk(Workload):
    """Nodes with neighbour lists; a random walk moves to a random neighbour at each
    step and restarts at a uniformly random node with probability 1/64. A random 10%
    of the nodes form a hot subgraph: 95% of a hot node's neighbours are hot, 25% of a
    cold node's are, so the walk spends ~80% of its steps on hot nodes (measured by
    the test suite). Each step reads the new node's label."""
    name = "graph_walk"
    objects = 16000
    object_type = "Node: class instance with __slots__ (idx, nbrs, label); nbrs is a list"
    description = "random walks with restarts, 10% hot subgraph gets ~80% of steps"
    base_ops = (13_000_000,)
    HOT_FRACTION = 0.10
    HOT_TO_HOT = 0.95
    COLD_TO_HOT = 0.25
    RESTART = 1.0 / 64
    MIN_DEGREE, MAX_DEGREE = 3, 9
    Item = Node

    def __init__(self, seed):
        super().__init__(seed)
        rng = _rng(self.name, seed, "plan")
        n = self.objects
        perm = list(range(n))
        rng.shuffle(perm)
        nhot = int(n * self.HOT_FRACTION)
        self.hot = sorted(perm[:nhot])
        cold = sorted(perm[nhot:])
        is_hot = bytearray(n)
        for i in self.hot:
            is_hot[i] = 1
        self.is_hot = is_hot
        adj = []
        for i in range(n):
            deg = rng.randint(self.MIN_DEGREE, self.MAX_DEGREE)
            p_hot = self.HOT_TO_HOT if is_hot[i] else self.COLD_TO_HOT
            adj.append([rng.choice(self.hot) if rng.random() < p_hot else rng.choice(cold)
                        for _ in range(deg)])
        self.adj = adj
        self.start = self.hot[0]

    def expected(self, iterations=400, tol=1e-12):
        """Stationary distribution of the walk (power iteration)."""
        n = self.objects
        adj = self.adj
        restart = self.RESTART
        p = [1.0 / n] * n
        for _ in range(iterations):
            q = [restart / n] * n
            for u in range(n):
                nb = adj[u]
                share = (1.0 - restart) * p[u] / len(nb)
                for v in nb:
                    q[v] += share
            diff = sum(abs(a - b) for a, b in zip(p, q))
            p = q
            if diff < tol:
                break
        return p

    def build(self):
        Item = self.Item
        nodes = [Item(i, i % 251) for i in range(self.objects)]
        for i, node in enumerate(nodes):
            node.nbrs = [nodes[j] for j in self.adj[i]]
        self.registry = nodes
        return nodes

    def run_phase(self, phase, ops):
        rand = _rng(self.name, self.seed, "phase%d" % phase).random
        nodes = self.registry
        n = len(nodes)
        restart = self.RESTART
        node = nodes[self.start]
        acc = 0
        for _ in range(ops):
            if rand() < restart:
                node = nodes[int(rand() * n)]
            nb = node.nbrs
            node = nb[int(rand() * len(nb))]
            acc += node.label
        return acc


class PhaseShift(Workload):
    """Four phases; in each, the cells are accessed with Zipf(1.1) popularity over a new
    random permutation, so the working set (the top 10% of ranks, ~86% of the
    accesses) changes completely between phases. The truth is the LAST phase's exact
    counts: temperatures must have decayed the earlier working sets."""
    name = "phase_shift"
    objects = 20000
    object_type = "Cell: class instance with __slots__ (idx, value, version)"
    description = "4 phases, Zipf(1.1) over a new permutation each (hot 10% moves)"
    base_ops = (2_700_000, 2_700_000, 2_700_000, 2_700_000)
    judge_note = "exact access counts of the LAST phase (earlier hot sets must decay)"
    S = 1.1
    Item = Cell

    def __init__(self, seed):
        super().__init__(seed)
        rng = _rng(self.name, seed, "plan")
        self.orders = []
        for _ in self.base_ops:
            order = list(range(self.objects))
            rng.shuffle(order)
            self.orders.append(order)
        self.cdf, self.weights = zipf_cdf(self.objects, self.S)

    def expected(self, phase=None):
        order = self.orders[self.judge_phase if phase is None else phase]
        exp = [0.0] * self.objects
        for rank, idx in enumerate(order):
            exp[idx] = self.weights[rank]
        return exp

    def build(self):
        Item = self.Item
        cells = [Item(i, (i * 13) % 997) for i in range(self.objects)]
        # Rank-ordered lists for every phase, built now so that no phase switch
        # touches every cell.
        self.ranked = [[cells[i] for i in order] for order in self.orders]
        self.registry = cells
        return cells

    def run_phase(self, phase, ops):
        rand = _rng(self.name, self.seed, "phase%d" % phase).random
        ranked = self.ranked[phase]
        cdf = self.cdf
        hi = len(cdf) - 1
        br = bisect.bisect_right
        acc = 0
        for _ in range(ops):
            acc += ranked[br(cdf, rand(), 0, hi)].value
        return acc


class LRUScan(Workload):
    """An LRU cache (OrderedDict: get, move_to_end on a hit, insert and
    popitem(last=False) past CAPACITY on a miss, loading from the registry) under a
    mixed stream: 70% of the operations access a hot set (a random 10% of the
    registry, Zipf(1.0) popularity), 30% advance a sequential scan over the other 90%
    (in a fixed random order); each scan runs from the start of that order for a
    uniformly random length, so one scan touches each item once and items early in the
    scan order are touched by more scans. The cache holds CAPACITY = 2500 entries, so
    scans keep evicting the colder part of the hot set. Each access reads payload."""
    name = "lru_scan"
    objects = 20000
    object_type = "list [idx, payload] (a list object; its items array is not judged)"
    description = "OrderedDict LRU, Zipf hot set (10%) + sequential one-time scans"
    base_ops = (5_600_000,)
    HOT_FRACTION = 0.10
    P_SCAN = 0.30
    S = 1.0
    CAPACITY = 2500

    def __init__(self, seed):
        super().__init__(seed)
        rng = _rng(self.name, seed, "plan")
        perm = list(range(self.objects))
        rng.shuffle(perm)
        nhot = int(self.objects * self.HOT_FRACTION)
        self.hot_by_rank = perm[:nhot]        # popularity order of the hot set
        self.scan_order = perm[nhot:]         # scan order of the rest
        self.cdf, self.weights = zipf_cdf(nhot, self.S)

    def expected(self):
        exp = [0.0] * self.objects
        p_hot = 1.0 - self.P_SCAN
        for rank, idx in enumerate(self.hot_by_rank):
            exp[idx] = p_hot * self.weights[rank]
        ns = len(self.scan_order)
        mean_len = (ns + 1) / 2.0
        for pos, idx in enumerate(self.scan_order):
            # P(scan length > pos) / mean length: share of scan steps landing here.
            exp[idx] = self.P_SCAN * ((ns - pos) / ns) / mean_len
        return exp

    def make_item(self, i):
        return [i, (i * 31) % 1009]

    def build(self):
        self.registry = [self.make_item(i) for i in range(self.objects)]
        # Key objects: the int objects used by the stream (one per registry index).
        keys = list(range(self.objects))
        self.hot_keys = [keys[i] for i in self.hot_by_rank]
        self.scan_keys = [keys[i] for i in self.scan_order]
        return self.registry

    def run_phase(self, phase, ops):
        rand = _rng(self.name, self.seed, "phase%d" % phase).random
        backing = self.registry
        hot_keys = self.hot_keys
        scan_keys = self.scan_keys
        ns = len(scan_keys)
        cdf = self.cdf
        hi = len(cdf) - 1
        br = bisect.bisect_right
        p_scan = self.P_SCAN
        cap = self.CAPACITY
        cache = OrderedDict()
        get = cache.get
        move_to_end = cache.move_to_end
        popitem = cache.popitem
        pos = 0
        scan_len = 1 + int(rand() * ns)
        acc = 0
        for _ in range(ops):
            if rand() < p_scan:
                k = scan_keys[pos]
                pos += 1
                if pos >= scan_len:
                    pos = 0
                    scan_len = 1 + int(rand() * ns)
            else:
                k = hot_keys[br(cdf, rand(), 0, hi)]
            v = get(k)
            if v is None:
                v = backing[k]
                cache[k] = v
                if len(cache) > cap:
                    popitem(False)
            else:
                move_to_end(k)
            acc += v[1]
        self.cache = cache
        return acc


class Row:
    __slots__ = ("idx", "v", "w")

    def __init__(self, idx, v, w):
        self.idx = idx
        self.v = v
        self.w = w


class CPassing(ZipfPermutation):
    """Hot objects used only in passing by C code. Each operation draws a batch of
    BATCH row ranks from Zipf(1.1) over a random permutation (plain ints, drawn in
    Python; the rows are fetched by C: map(list.__getitem__, ...)), then, in turn:
      0  sum(r.v for r in batch)                      (a generator's frame holds r)
      1  sorted(keys, key=lambda k: table[k].w)[0]    (a lambda's frame, for a moment)
      2  getv(max(batch, key=getv))                   (attrgetter; only the winner
                                                      passes through the frame)
      3  sum(map(getv, map(table.get, keys)))         (dict.get in map: C only)
    where table maps int keys (KEY_BASE + idx) to the rows and getv is
    operator.attrgetter("v"). Every drawn row is read about once per operation, so the
    access rate of a row is its Zipf weight."""
    name = "c_passing"
    objects = 20000
    object_type = "Row: class instance with __slots__ (idx, v, w)"
    description = "Zipf(1.1) batches read by sum(genexpr), sorted/max keys, map(dict.get)"
    base_ops = (440_000,)
    S = 1.1
    BATCH = 8
    KEY_BASE = 1_000_000
    Item = Row


    def build(self):
        Item = self.Item
        base = self.KEY_BASE
        rows = [Item(i, i * 7 % 1000, (i * 31) % 977) for i in range(self.objects)]
        self.table = {base + r.idx: r for r in rows}
        self.rows_by_rank = [rows[idx] for idx in self.rank_to_idx]
        self.keys_by_rank = [base + idx for idx in self.rank_to_idx]
        self.registry = rows
        return rows

    def run_phase(self, phase, ops):
        from operator import attrgetter
        rand = _rng(self.name, self.seed, "phase%d" % phase).random
        cdf = self.cdf
        hi = len(cdf) - 1
        br = bisect.bisect_right
        row_at = self.rows_by_rank.__getitem__
        key_at = self.keys_by_rank.__getitem__
        table = self.table
        tget = table.get
        getv = attrgetter("v")
        wkey = lambda k: table[k].w  # noqa: E731
        draws = range(self.BATCH)
        acc = 0
        for t in range(ops):
            ranks = [br(cdf, rand(), 0, hi) for _ in draws]
            kind = t & 3
            if kind == 0:
                batch = list(map(row_at, ranks))
                acc += sum(r.v for r in batch)
            elif kind == 1:
                acc += sorted(map(key_at, ranks), key=wkey)[0]
            elif kind == 2:
                acc += getv(max(map(row_at, ranks), key=getv))
            else:
                acc += sum(map(getv, map(tget, map(key_at, ranks))))
        return acc


class Rec:
    __slots__ = ("idx", "v", "ts")

    def __init__(self, idx, v):
        self.idx = idx
        self.v = v
        self.ts = 0


class Young(Workload):
    """Objects built after pypper.start() that the cyclic GC never promotes to its
    oldest generation. Phase 0 (after start(), not judged) loads two caches the way a
    long-lived service refills them: RECORDS Rec records in a str-keyed dict, built with
    the GC disabled (the bulk-load idiom: gc.disable() ... gc.enable()), and BLOBS
    23-byte bytes values in another str-keyed dict, which CPython never tracks at all
    (it holds only strs and bytes). Both caches and the registry list are new objects,
    referenced from the workload instance (old: it was collected before start()).
    Phase 1 (judged) does two lookups an operation, each Zipf(1.1) over a random
    permutation of its cache: recs[k].v and len(blobs[k]). No container is allocated
    during phase 1, so after the one young collection that gc.enable() triggers at
    the first allocation, the records sit in generation 1 ("young_check" in the result,
    taken after the probe's finish(), counts how many are in generation 2 then: none
    in the pypper and plain modes; the oracle probe's finish() allocates a list per
    object first, which promotes them)."""
    name = "young"
    objects = 20000
    RECORDS = 10000
    object_type = ("10000 Rec (__slots__ idx, v, ts; GC-tracked) then 10000 bytes "
                   "(23 bytes; untracked), all built after start()")
    description = "caches built after start() (GC off / untracked), Zipf(1.1) lookups"
    base_ops = (20000, 4_500_000)
    judge_note = ("exact access counts of phase 1; phase 0 built the registry after "
                  "start()")
    S = 1.1
    Item = Rec
    Blob = bytes

    def __init__(self, seed):
        super().__init__(seed)
        rng = _rng(self.name, seed, "plan")
        nb = self.objects - self.RECORDS
        self.rec_rank = list(range(self.RECORDS))
        rng.shuffle(self.rec_rank)
        self.blob_rank = list(range(self.RECORDS, self.objects))
        rng.shuffle(self.blob_rank)
        self.cdf_r, self.w_r = zipf_cdf(self.RECORDS, self.S)
        self.cdf_b, self.w_b = zipf_cdf(nb, self.S)

    def phase_ops(self, scale):
        # The build phase builds the whole registry at every scale.
        return [self.objects] + [max(1, int(round(n * scale))) for n in self.base_ops[1:]]

    def expected(self):
        exp = [0.0] * self.objects
        for rank, idx in enumerate(self.rec_rank):
            exp[idx] = self.w_r[rank]
        for rank, idx in enumerate(self.blob_rank):
            exp[idx] = self.w_b[rank]
        return exp

    def build(self):
        self.registry = []
        return self.registry

    def _load(self):
        Item, Blob = self.Item, self.Blob
        nr = self.RECORDS
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            recs = [Item(i, i * 7 % 1000) for i in range(nr)]
            self.recs = {"r%06d" % r.idx: r for r in recs}
        finally:
            if was_enabled:
                gc.enable()
        blobs = [Blob(b"blob:%06d:" % i + b"x" * 11) for i in range(nr, self.objects)]
        self.blobs = {"b%06d" % i: b for i, b in zip(range(nr, self.objects), blobs)}
        self.rec_keys = ["r%06d" % i for i in self.rec_rank]
        self.blob_keys = ["b%06d" % i for i in self.blob_rank]
        self.registry = recs + blobs
        return 0

    def run_phase(self, phase, ops):
        if phase == 0:
            return self._load()
        rand = _rng(self.name, self.seed, "phase%d" % phase).random
        cdf_r, cdf_b = self.cdf_r, self.cdf_b
        hr, hb = len(cdf_r) - 1, len(cdf_b) - 1
        br = bisect.bisect_right
        recs, blobs = self.recs, self.blobs
        rk, bk = self.rec_keys, self.blob_keys
        acc = 0
        for _ in range(ops):
            acc += recs[rk[br(cdf_r, rand(), 0, hr)]].v
            acc += len(blobs[bk[br(cdf_b, rand(), 0, hb)]])
        return acc

    def young_check(self):
        """How many registry objects the GC tracks, and how many of those are in its
        oldest generation (2) or frozen (permanent generation)."""
        tracked = [o for o in self.registry if gc.is_tracked(o)]
        ids = {id(o) for o in tracked}
        in_old = sum(1 for o in gc.get_objects(2) if id(o) in ids)
        return {"gc_tracked": len(tracked), "in_generation_2": in_old,
                "frozen_total": gc.get_freeze_count()}


WORKLOADS = {cls.name: cls for cls in (ZipfKV, GraphWalk, PhaseShift, LRUScan,
                                       CPassing, Young)}


# ---------------------------------------------------------------------------------
# Probes: what a mode does around the measured phases.

class PlainProbe:
    """No tracing at all (calibration, determinism tests)."""
    mode = "plain"

    def begin(self, state):
        pass

    def before_phase(self, phase):
        pass

    def after_phase(self, phase):
        pass

    def finish(self, registry):
        return {}


class OracleProbe:
    """Exact counts: one oracle dump per phase (counters reset before each phase)."""
    mode = "oracle"

    def __init__(self, dump_prefix, client=None):
        if client is None:
            import oracle_client as client
        self.client = client
        self.dump_prefix = dump_prefix
        self.dumps = []

    def begin(self, state):
        pass

    def before_phase(self, phase):
        self.client.reset()
        self.client.start()

    def after_phase(self, phase):
        self.client.stop()
        path = "%s.phase%d.dump" % (self.dump_prefix, phase)
        self.client.dump(path)
        self.dumps.append(path)

    def finish(self, registry):
        ranges = []
        for key, obj in enumerate(registry):
            start, length = address_range(obj)
            ranges.append([key, start, length])
        return {"oracle_active": bool(self.client.active()), "dumps": self.dumps,
                "ranges": ranges}


class PypperProbe:
    """Temperatures from a Pypper session started right before the first phase and
    read right after the last one; optionally snapshots at fixed times after start()."""
    mode = "pypper"

    def __init__(self, options=None, timeline=(), pypper_module=None):
        if pypper_module is None:
            import pypper as pypper_module
        self.pypper = pypper_module
        self.options = dict(options or {})
        self.timeline = sorted(timeline)
        self.snapshots = []
        self._stop = threading.Event()
        self._thread = None
        self.state = None
        self.t0 = None

    def begin(self, state):
        self.state = state

    def before_phase(self, phase):
        if phase != 0:
            return
        if self.timeline:
            self._thread = threading.Thread(target=self._snapshots, daemon=True,
                                            name="accuracy-timeline")
        started = self.pypper.start(**self.options)
        self.t0 = time.perf_counter()
        if started is False:
            raise RuntimeError("pypper.start() found a session already running "
                               "(PYPPER_ENABLE set?): the run would not be measured")
        if self._thread is not None:
            self._thread.start()

    def _read(self, registry):
        return list(map(self.pypper.temperature, registry))

    def wants_more(self):
        """True while timeline points are still to be taken: run() then repeats the
        judged phase, so that every point falls in a phase whose truth is known."""
        return self._thread is not None and self._thread.is_alive()

    def _snapshots(self):
        for at in self.timeline:
            delay = self.t0 + at - time.perf_counter()
            if delay > 0 and self._stop.wait(delay):
                return
            if self._stop.is_set():
                return
            t = time.perf_counter() - self.t0
            phase = self.state.phase
            temps = self._read(self.state.registry)
            self.snapshots.append({"at": at, "t": t,
                                   "read_seconds": time.perf_counter() - self.t0 - t,
                                   "phase": phase, "temperatures": temps})

    def after_phase(self, phase):
        pass

    def finish(self, registry):
        t_end = time.perf_counter() - self.t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        t_read = time.perf_counter()
        temps = self._read(registry)
        read_seconds = time.perf_counter() - t_read
        own = self._own_temperatures(registry, temps)
        config = self._optional("config")
        sampler = self._optional("active_trace_stats")
        wt = self._optional("write_tracking_stats", "_pypper")
        self.pypper.end()
        return {"temperatures": temps, "read_seconds": read_seconds,
                "session_seconds": t_end, "pypper_config": config,
                "own_temperatures": own,
                "sampler_stats": sampler, "write_tracking_stats": wt,
                "timeline": self.snapshots}

    @staticmethod
    def _own_temperatures(registry, temps):
        """The same moment's temperatures from the sampler's evidence only (frames,
        reference-count polls, and the scan groups' heat of the containers a loop
        walks), without the share of its page's writes that temperature() adds with
        write tracking: _pypper.hot_objects() lists every object with such evidence;
        the others have 0.0 (None where temperature() said None). None when that
        cannot be read."""
        try:
            import _pypper
            pairs = _pypper.hot_objects(_pypper.live_trace_stats()["objects"] + 1)
        except Exception:
            return None
        by_id = {id(o): t for o, t in pairs}
        return [None if t is None else by_id.get(id(o), 0.0) for o, t in zip(registry, temps)]

    def _optional(self, fn, module=None):
        """pypper.fn() (or module.fn()) when it exists and works (informative only),
        else None."""
        try:
            value = getattr(importlib.import_module(module) if module else self.pypper, fn)()
            json.dumps(value)
            return value
        except Exception:
            return None


class _State:
    def __init__(self, registry):
        self.registry = registry
        self.phase = -1


def make_probe(mode, **kw):
    if mode == "plain":
        return PlainProbe()
    if mode == "oracle":
        return OracleProbe(kw.get("dump_prefix") or "oracle")
    if mode == "pypper":
        return PypperProbe(kw.get("options"), kw.get("timeline", ()))
    raise ValueError("unknown mode %r (plain, oracle, pypper)" % (mode,))


def run(name, mode, scale, seed, probe=None, workload=None, max_repeats=1000, **probe_kw):
    """Run one workload in this process; returns the result dict (without the
    registry objects). `workload` may be a ready Workload instance (tests)."""
    wl = workload if workload is not None else WORKLOADS[name](seed)
    if probe is None:
        probe = make_probe(mode, **probe_kw)
    t = time.perf_counter()
    wl.build()
    build_seconds = time.perf_counter() - t
    gc.collect()
    state = _State(wl.registry)
    probe.begin(state)
    phases = []
    gc_before = [s["collections"] for s in gc.get_stats()]
    ops_list = wl.phase_ops(scale)
    for i, ops in enumerate(ops_list):
        state.phase = i
        probe.before_phase(i)
        t = time.perf_counter()
        checksum = wl.run_phase(i, ops)
        seconds = time.perf_counter() - t
        state.registry = wl.registry
        probe.after_phase(i)
        phases.append({"ops": ops, "seconds": seconds, "checksum": checksum})
    # The judged phase again while the probe asks for it (timeline points not reached).
    repeats = []
    wants_more = getattr(probe, "wants_more", None)
    jp = wl.judge_phase
    while wants_more is not None and wants_more() and len(repeats) < max_repeats:
        t = time.perf_counter()
        checksum = wl.run_phase(jp, ops_list[jp])
        repeats.append({"seconds": time.perf_counter() - t, "checksum": checksum})
    gc_after = [s["collections"] for s in gc.get_stats()]
    out = wl.info()
    out.update({"mode": probe.mode, "scale": scale, "seed": seed,
                "build_seconds": build_seconds, "phase_results": phases,
                "measured_seconds": sum(p["seconds"] for p in phases),
                "repeats": len(repeats),
                "repeat_seconds": sum(r["seconds"] for r in repeats),
                "repeats_same_checksum": all(r["checksum"] == phases[jp]["checksum"]
                                             for r in repeats),
                "gc_collections_during_phases": sum(gc_after) - sum(gc_before),
                "gc_collections_by_generation": [a - b for a, b in
                                                 zip(gc_after, gc_before)]})
    out.update(probe.finish(wl.registry))
    check = getattr(wl, "young_check", None)
    if check is not None:
        out["young_check"] = check()
    return out


def _shorthand(name):
    def f(mode, scale, seed, probe=None, **kw):
        return run(name, mode, scale, seed, probe=probe, **kw)
    f.__name__ = name
    f.__doc__ = "Run the %s workload: see %s." % (name, WORKLOADS[name].__name__)
    return f


zipf_kv = _shorthand("zipf_kv")
graph_walk = _shorthand("graph_walk")
phase_shift = _shorthand("phase_shift")
lru_scan = _shorthand("lru_scan")
c_passing = _shorthand("c_passing")
young = _shorthand("young")
