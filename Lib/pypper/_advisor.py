"""The CXL latency model: pure arithmetic, no I/O. Used by `python3 -m pypper report`
(its tiering advisor, advise() at the end) and by Tools/bench/cxl_estimate.py.

The heap of one oracle run is cut into CHUNKS, each (page, bytes, accesses, key):
  * a keyed chunk: the part of one registry object's block that lies on one page,
    with the oracle's exact access count of that part (key = the registry index);
  * a residual chunk: one per touched page, the rest of that page (page size minus
    the bytes of keyed chunks on it) with the page's accesses minus theirs (key =
    None): memory the benchmark cannot attribute to a registry object (interpreter
    frames, temporaries, dict tables, list item arrays, ...).
The footprint is the number of heap pages with at least one access; a DRAM budget is
a fraction of it, in whole pages (budget_pages), i.e. budget_pages * page_size bytes.

A placement is the set of chunks in DRAM; every access to a chunk costs 1 in DRAM and
L in CXL, so with A accesses in total and S of them in CXL the cost ratio against
all-DRAM is (A - S + L * S) / A = 1 + (L - 1) * S / A. That is the slowdown of the
memory accesses themselves, an upper bound on the end-to-end slowdown (it would be
reached only if the program did nothing but these accesses and overlapped none of
them); memory_bound() scales it by a stated memory-bound fraction instead.
"""

import itertools
import operator

PAGE_SIZE = 4096


class Chunk:
    __slots__ = ("page", "bytes", "accesses", "key")

    def __init__(self, page, nbytes, accesses, key=None):
        self.page = page
        self.bytes = nbytes
        self.accesses = accesses
        self.key = key

    def __repr__(self):
        return "Chunk(page=%#x, bytes=%d, accesses=%d, key=%r)" % (
            self.page, self.bytes, self.accesses, self.key)


def split_range(start, length, page_size=PAGE_SIZE):
    """[(page, sub_start, sub_length), ...]: [start, start+length) cut at page
    boundaries."""
    out = []
    end = start + length
    a = start
    while a < end:
        page = a - a % page_size
        b = min(end, page + page_size)
        out.append((page, a, b - a))
        a = b
    return out


def make_chunks(page_counts, keyed_parts, page_size=PAGE_SIZE):
    """Chunks of the touched pages.

    page_counts: {page: accesses} of the heap (pages with accesses > 0 are the
    footprint). keyed_parts: [(key, page, bytes, accesses), ...], the per-page parts
    of the registry objects (split_range). Parts on untouched pages are dropped (they
    had no accesses and need no DRAM). ValueError when keyed parts claim more bytes or
    accesses than their page has (the inputs do not describe one heap)."""
    touched = {p: c for p, c in page_counts.items() if c > 0}
    used_bytes = {}
    used_acc = {}
    chunks = []
    for key, page, nbytes, acc in keyed_parts:
        if page not in touched:
            if acc:
                raise ValueError("key %r has %d accesses on untouched page %#x"
                                 % (key, acc, page))
            continue
        used_bytes[page] = used_bytes.get(page, 0) + nbytes
        used_acc[page] = used_acc.get(page, 0) + acc
        chunks.append(Chunk(page, nbytes, acc, key))
    for page in sorted(touched):
        ub = used_bytes.get(page, 0)
        ua = used_acc.get(page, 0)
        if ub > page_size or ua > touched[page]:
            raise ValueError("page %#x: keyed parts have %d bytes / %d accesses, the "
                             "page %d / %d" % (page, ub, ua, page_size, touched[page]))
        chunks.append(Chunk(page, page_size - ub, touched[page] - ua, None))
    return chunks


def budget_pages(footprint_pages, fraction):
    """DRAM budget in whole pages: round(fraction * footprint), at least 1 when the
    footprint is not empty."""
    if footprint_pages <= 0:
        return 0
    return max(1, int(round(fraction * footprint_pages)))


def footprint(chunks):
    return len({c.page for c in chunks})


# ------------------------------------------------------------------ placements
# Each returns the list of booleans "in DRAM", parallel to chunks.

def place_pages(chunks, fast_pages):
    fast_pages = set(fast_pages)
    return [c.page in fast_pages for c in chunks]


def page_totals(chunks):
    tot = {}
    for c in chunks:
        tot[c.page] = tot.get(c.page, 0) + c.accesses
    return tot


def first_touch(chunks, budget, order=None):
    """Pages in first-touch order fill DRAM: `order` is the pages' first-touch order
    (default: ascending address, the order in which the heap hands out its arenas and
    pools)."""
    pages = sorted(page_totals(chunks)) if order is None else list(order)
    return place_pages(chunks, pages[:budget])


def page_oracle(chunks, budget):
    """The budget's worth of pages with the most accesses (ties: lower address): the
    best any policy that moves whole pages can do on this layout."""
    tot = page_totals(chunks)
    ranked = sorted(tot, key=lambda p: (-tot[p], p))
    return place_pages(chunks, ranked[:budget])


def _pack(indices, sizes, capacity):
    """Greedy packing in the given order: take an item when it still fits (later
    smaller items may fill what a bigger one could not). Returns the taken indices
    and the bytes used."""
    taken = []
    used = 0
    for i in indices:
        if used + sizes[i] <= capacity:
            taken.append(i)
            used += sizes[i]
    return taken, used


def _density_order(chunks, idx):
    # Accesses per byte, descending; empty chunks (0 bytes) first when they have
    # accesses (they cost nothing); ties by page then key for determinism.
    def k(i):
        c = chunks[i]
        d = float("inf") if c.bytes == 0 else c.accesses / c.bytes
        return (-d, c.page, -1 if c.key is None else c.key)
    return sorted(idx, key=k)


def object_ideal(chunks, budget, page_size=PAGE_SIZE):
    """Every chunk (a registry object's part, or a page's residual) ranked by accesses
    per byte and packed into budget * page_size bytes: what perfect segregation of the
    registry objects would give (the residual keeps its page granularity)."""
    sizes = [c.bytes for c in chunks]
    order = _density_order(chunks, range(len(chunks)))
    taken, _ = _pack(order, sizes, budget * page_size)
    fast = [False] * len(chunks)
    for i in taken:
        fast[i] = True
    return fast


def _objects(chunks):
    """{key: [chunk indices]} of the keyed chunks."""
    objs = {}
    for i, c in enumerate(chunks):
        if c.key is not None:
            objs.setdefault(c.key, []).append(i)
    return objs


def pack_keyed_by_score(chunks, scores, capacity):
    """Registry objects (all parts together) ranked by score (higher = hotter; None
    below every number; ties by the lower key) packed into capacity bytes. Returns the
    set of chunk indices taken and the bytes used."""
    objs = _objects(chunks)
    keys = sorted(objs, key=lambda k: (scores.get(k) is None,
                                       -(scores.get(k) or 0.0), k))
    sizes = {k: sum(chunks[i].bytes for i in objs[k]) for k in keys}
    taken = set()
    used = 0
    for k in keys:
        if used + sizes[k] <= capacity:
            used += sizes[k]
            taken.update(objs[k])
    return taken, used


def ranked_in_ideal(chunks, budget, scores, page_size=PAGE_SIZE):
    """The object-level ideal with another ranking of the registry objects: DRAM holds
    the same residual chunks as object_ideal() and as many bytes of registry objects,
    but WHICH registry objects is decided by `scores` ({key: score}, e.g. Pypper's
    temperatures). Isolates the ranking's quality from everything else."""
    ideal = object_ideal(chunks, budget, page_size)
    keyed_bytes = sum(c.bytes for c, f in zip(chunks, ideal) if f and c.key is not None)
    taken, _ = pack_keyed_by_score(chunks, scores, keyed_bytes)
    return [(i in taken) if c.key is not None else f
            for i, (c, f) in enumerate(zip(chunks, ideal))]


def keyed_fixed(chunks, budget, fast_keys, page_size=PAGE_SIZE):
    """Registry objects in DRAM exactly when their key is in fast_keys (a placement
    decided elsewhere, e.g. the tier of the page Pypper put the object on); the rest of
    the budget (if any) goes to residual chunks by accesses per byte. Returns
    (fast list, keyed bytes in DRAM, over_budget flag)."""
    fast_keys = set(fast_keys)
    fast = [c.key is not None and c.key in fast_keys for c in chunks]
    used = sum(c.bytes for c, f in zip(chunks, fast) if f)
    cap = budget * page_size
    over = used > cap
    res = [i for i, c in enumerate(chunks) if c.key is None]
    taken, _ = _pack(_density_order(chunks, res), [c.bytes for c in chunks],
                     max(0, cap - used))
    for i in taken:
        fast[i] = True
    return fast, used, over


# ------------------------------------------------------------------ costs

def cost(chunks, fast, latency):
    """Total access cost: 1 per access in DRAM, `latency` per access in CXL."""
    total = 0.0
    for c, f in zip(chunks, fast):
        total += c.accesses if f else latency * c.accesses
    return total


def slowdown(chunks, fast, latency):
    """Cost against all-DRAM (1.0 when there are no accesses)."""
    base = sum(c.accesses for c in chunks)
    if base == 0:
        return 1.0
    return cost(chunks, fast, latency) / base


def memory_bound(ratio, fraction):
    """End-to-end slowdown when `fraction` of the all-DRAM run time is memory access
    time that scales with the access cost ratio and the rest does not."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("memory-bound fraction must be in [0, 1]")
    return (1.0 - fraction) + fraction * ratio


def dram_bytes(chunks, fast):
    return sum(c.bytes for c, f in zip(chunks, fast) if f)


# ------------------------------------------------------------------ the report's advisor

#: Shares of the heap on the slow tier, and slow-tier latencies (x DRAM), that
#: `pypper report` estimates.
SLOW_SHARES = (0.125, 0.25, 0.5)
SLOW_LATENCIES = (2.0, 3.0)


def mean_page_heat(frames):
    """{page: heat averaged over the frames} of every page any frame has (a page
    missing from a frame counts 0 there). frames: iterable of (pages, heats)."""
    total = {}
    n = 0
    # Per page in C (map), in the order the plain loop added them: a run of frames
    # with the same pages (a heap that kept its size) starts from the totals and
    # goes back into the dict once, when the pages change or at the end (the
    # per-frame dict updates in Python were a third of `pypper run`'s summary on a
    # 450 MiB heap). A frame's heats are as many as its pages (load() checks).
    run_pages, run_sum = None, None
    for pages, heats in frames:
        n += 1
        if run_pages is not None and pages == run_pages:
            run_sum = list(map(operator.add, run_sum, heats))
            continue
        if run_pages is not None:
            total.update(zip(run_pages, run_sum))
        run_pages = pages
        run_sum = list(map(operator.add, map(total.get, pages, itertools.repeat(0.0)), heats))
    if run_pages is not None:
        total.update(zip(run_pages, run_sum))
    return {p: v / n for p, v in total.items()} if n else {}


def advise(page_heat, page_size=PAGE_SIZE, shares=SLOW_SHARES, latencies=SLOW_LATENCIES):
    """The tiering advisor of `pypper report`, from one run's own access estimates.

    page_heat: {page address: estimated accesses} of EVERY heap page (0 for cold
    ones); a page's estimate is its heat (bytes-weighted temperature) averaged over the
    run. For each share s of the heap on the slow tier (DRAM keeps round((1-s) x pages)
    pages) and each latency L, the access-cost ratio against all-DRAM (cost()) with:
      pypper       the hottest pages by the estimate in DRAM (Pypper's placement:
                   hottest bytes in fast memory)
      first_touch  pages in address order (allocation order as a proxy for first
                   touch) fill DRAM
    Returns {"pages", "accesses", "rows": [{"slow_share", "latency", "dram_pages",
    "pypper", "first_touch"}]}, or None when no page has any heat (nothing to rank)."""
    # One chunk a page, so each placement keeps whole pages: the costs come from the
    # accesses in address order (first-touch: a prefix) and in descending order
    # (hottest first: the largest ones), one sort for all the shares. The same sums
    # as cost() over page_oracle() / first_touch() placements (test_advisor_error
    # checks it), without their per-share dicts, sets and sorts: 0.5 s of `pypper
    # run`'s exit on a heap of 23,000 pages, now a few hundredths.
    acc = [float(page_heat[p]) for p in sorted(page_heat)]
    total = sum(acc)
    if not acc or total <= 0:
        return None
    desc = sorted(acc, reverse=True)
    n = len(acc)
    rows = []
    for s in shares:
        dram = n - budget_pages(n, s)
        hot_fast, hot_slow = sum(desc[:dram]), sum(desc[dram:])
        addr_fast, addr_slow = sum(acc[:dram]), sum(acc[dram:])
        for L in latencies:
            rows.append({"slow_share": s, "latency": L, "dram_pages": dram,
                         "pypper": (hot_fast + L * hot_slow) / total,
                         "first_touch": (addr_fast + L * addr_slow) / total})
    return {"pages": n, "accesses": total, "rows": rows}


# ------------------------------------------------------------------ its measured error
# The advisor's error against the exact access oracle on the accuracy workloads
# (Tools/bench/advisor_error.py: estimate = advise() on a `pypper run` capture of the
# workload, truth = advise() on the oracle's exact per-page counts; error = estimate -
# truth, in units of slowdown). Written by that command (the "command" entry), never by
# hand; Doc/report.md explains it.
# BEGIN MEASURED_ERROR (generated: ./python3 Tools/bench/advisor_error.py --update-advisor)
MEASURED_ERROR = {'command': './python3 Tools/bench/advisor_error.py --update-advisor --scale 1.0 '
            '--oracle-scale 0.05 --seed 1 --interval 0.5',
 'workloads': ['zipf_kv', 'graph_walk', 'phase_shift', 'lru_scan', 'site_mix'],
 'all': {'cells': 60,
         'median_abs_error': 0.007,
         'max_abs_error': 1.6985,
         'optimistic': 10},
 'pypper': {'cells': 30,
            'median_abs_error': 0.0,
            'max_abs_error': 0.0,
            'optimistic': 0},
 'first_touch': {'cells': 30,
                 'median_abs_error': 0.2793,
                 'max_abs_error': 1.6985,
                 'optimistic': 10},
 'stress_pypper': {'shares': [0.75, 0.875],
                   'cells': 20,
                   'median_abs_error': 0.0794,
                   'max_abs_error': 0.7896,
                   'optimistic': 4},
 'worst': {'workload': 'graph_walk',
           'slow_share': 0.5,
           'latency': 3.0,
           'placement': 'first_touch',
           'estimate': 2.9426,
           'truth': 1.2441}}
# END MEASURED_ERROR


def _error(x):
    """An error in slowdown, to 3 places; one below that precision is "< 0.001" (a
    newcomer read "within 0.000" as a claim of no error)."""
    return "%.3f" % x if x >= 0.0005 else "< 0.001"


def short_error_statement(measured=None):
    """error_statement() in one short line (the `pypper run` summary)."""
    m = MEASURED_ERROR if measured is None else measured
    if not m:
        return "estimated from Pypper's temperatures; error vs the exact oracle not measured"
    hf, ft, st = m["pypper"], m["first_touch"], m.get("stress_pypper")
    return ("estimated from Pypper's temperatures; vs the exact oracle on %d workloads: "
            "hottest-first within %s%s, first-touch within %s%s" % (
                len(m.get("workloads", ())), _error(hf["max_abs_error"]),
                " (%s at %s slow)" % (_error(st["max_abs_error"]), "-".join(
                    "%g%%" % (100 * x) for x in st["shares"])) if st else "",
                _error(ft["max_abs_error"]),
                " (rough)" if ft["max_abs_error"] > ROUGH_ERROR else ""))


def error_statement(measured=None):
    """One sentence on what the estimate rests on and how far it was from the exact
    oracle, from MEASURED_ERROR (or `measured`); says so when it was not measured."""
    m = MEASURED_ERROR if measured is None else measured
    base = "estimated from Pypper's own temperatures (page heat)"
    if not m:
        return base + "; its error against the exact access oracle has not been measured"
    hf, ft = m["pypper"], m["first_touch"]
    st = m.get("stress_pypper")
    stress = ""
    if st:
        stress = " at the shares shown (up to %s with %s of the heap slow)" % (
            _error(st["max_abs_error"]), "-".join("%g%%" % (100 * x) for x in st["shares"]))
    rough = ft["max_abs_error"] > ROUGH_ERROR
    return ("%s; against the exact access oracle on %d accuracy workloads, the "
            "hottest-first slowdowns were off by at most %s%s, the first-touch ones "
            "by up to %s (median %s)%s" % (
                base, len(m.get("workloads", ())), _error(hf["max_abs_error"]), stress,
                _error(ft["max_abs_error"]), _error(ft["median_abs_error"]),
                ": take first-touch as a rough guess" if rough else ""))


#: A column whose measured error exceeds this (in slowdown) is called rough.
ROUGH_ERROR = 0.1
