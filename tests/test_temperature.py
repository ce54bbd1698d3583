"""Object temperatures: the sampler thread, the model (decay, classes), the API
(temperature, hot_objects, snapshot, save/load) and their behaviour on misuse,
threads and fork."""

import json
import textwrap

import pytest

from conftest import run

PRELUDE = """
import os, sys, time, statistics, pypper, _pypper

class Item:
    __slots__ = ("value",)
    def __init__(self, value):
        self.value = value

def use(items, rounds=3):
    # Touch every item of `items` `rounds` times, and do the sampler's work right
    # here: a sample at each item, on this thread (the main one, whose frames the
    # sampler reads). Whatever the load of the machine, each item is seen `rounds`
    # times.
    total = 0
    for _ in range(rounds):
        for it in items:
            total += it.value
            _pypper._test_sample()
    return total

def spin(items, seconds):
    # Touch every item of `items` over and over for `seconds` (for the sampler thread).
    total = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for it in items:
            total += it.value
    return total

def wait_for(what, cond, timeout=60.0, step=None):
    # Until cond() holds: step() (or a short sleep) in between; AssertionError after
    # `timeout` seconds.
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        step() if step else time.sleep(0.01)

def driven(**options):
    # A session whose sampler thread is parked: the test samples (use) and moves the
    # model's clock (advance) itself.
    _pypper._test_hold_sampler(True)    # parked from its start: no burst first
    pypper.start(**options)
    _pypper._test_hold_sampler(True)
    _pypper._test_set_clock(_pypper._test_set_clock(None))

def advance(ms):
    # Model time goes on by `ms` (it stands still otherwise in a driven session).
    _pypper._test_set_clock(_pypper._test_set_clock(None) + ms)

def scan_in_c(col, first=None, every=1000):
    # max() reads col's items in C: the frames show col (on the value stack while the
    # call runs), never an item. A sample every `every` items, taken while max() works.
    # `first`, a Python function, is called from this frame just before.
    calls = [0]
    def key(x):
        calls[0] += 1
        if calls[0] % every == 0:
            _pypper._test_sample()
        return x
    if first:
        first()
    return max(col, key=key)

def columns(k):
    # k lists of 20,000 floats (seeded).
    import random
    rng = random.Random(5)
    return [[rng.random() for _ in range(20000)] for _ in range(k)]

def below(n, samples=1):            # random.Random._randbelow's place
    _pypper._test_sample(samples)
    return n // 3

def choice(seq, samples=1):         # random.Random.choice's code: one item per call
    return seq[below(len(seq), samples)]

def numbers_follow(col):
    # col is hot, and its numbers about as warm: their median above half its temperature.
    t = pypper.temperature(col)
    assert t > 0.5, t
    items = _pypper.temperatures(col)
    assert statistics.median(items) > 0.5 * t, (statistics.median(items), t)
    return items

def numbers_stay_cold(col):
    # At most 2% of col's numbers warm or hot.
    items = _pypper.temperatures(col)
    assert sum(t >= 0.2 for t in items) <= 0.02 * len(items), statistics.median(items)
"""


def check(code, timeout=120, **kw):
    r = run(["-c", PRELUDE + textwrap.dedent(code)], timeout=timeout, **kw)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_used_objects_are_hot_and_untouched_ones_cold():
    out = check("""
        registry = [Item(i) for i in range(6000)]
        hot = registry[1000:1200]
        cold = registry[3000:6000]        # (slicing before start: it touches every item)
        driven()
        use(hot, 3)
        top = pypper.hot_objects(300)
        hot_t = _pypper.temperatures(hot)
        cold_t = _pypper.temperatures(cold)
        assert None not in hot_t and None not in cold_t
        assert all(t > 0 for t in hot_t), (hot_t, pypper.active_trace_stats())
        assert not any(cold_t), [t for t in cold_t if t]
        assert statistics.median(hot_t) > 0.2, hot_t
        ids = {id(x) for x in hot}
        assert top == sorted(top, key=lambda p: -p[1])
        items = [o for o, t in top if type(o) is Item]
        assert len(items) == len(hot) and all(id(o) in ids for o in items), len(items)
        s = pypper.active_trace_stats()
        assert s["held"] and s["test_samples"] == 3 * len(hot), s
        pypper.end()
        print("ok", pypper.temperature(hot[0]))
    """)
    assert out == "ok None\n"


def test_sampler_thread_finds_the_objects_a_loop_uses():
    # The sampler thread itself (nothing driven): it gets there, however busy the
    # machine; how much it sees in a given time is the accuracy benchmark's business.
    # The registry is built in a function: a comprehension at module level leaves its
    # last item in a slot of the module's frame above its stack, and a first sample
    # that finds that frame running (its stack's top unknown) sees it there: the last
    # cold item then had a temperature of about 0.05 in 3 runs of 250.
    out = check("""
        def build():
            return [Item(i) for i in range(6000)]
        registry = build()
        hot = registry[1000:1100]
        cold = registry[3000:6000]
        pypper.start(sample_duty=0.5)
        seen = lambda: sum(t > 0 for t in _pypper.temperatures(hot))
        wait_for("the sampler thread sees 10 of the hot items", lambda: seen() >= 10,
                 step=lambda: spin(hot, 0.05))
        s = pypper.active_trace_stats()
        assert s["bursts"] > 0 and s["frame_evidence"] > 0 and s["test_samples"] == 0, s
        assert not any(_pypper.temperatures(cold))
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_held_sampler_does_nothing_until_let_go():
    out = check("""
        registry = [Item(i) for i in range(3000)]
        hot = registry[:100]
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start(sample_duty=0.5)
        _pypper._test_hold_sampler(True)
        held = pypper.active_trace_stats()
        spin(hot, 0.3)
        still = pypper.active_trace_stats()
        for k in ("bursts", "frame_evidence", "idle_sleeps"):
            assert still[k] == held[k], (k, held, still)
        assert still["held"] and not any(_pypper.temperatures(hot))
        _pypper._test_hold_sampler(False)
        assert not pypper.active_trace_stats()["held"]
        wait_for("bursts again", lambda: pypper.active_trace_stats()["bursts"] > held["bursts"],
                 step=lambda: spin(hot, 0.05))
        pypper.end()
        # Held without a session: the next session's thread parks before its first
        # burst (held after start(), it could take one first); that session only.
        _pypper._test_hold_sampler(True)
        pypper.start(sample_duty=0.5)
        s = pypper.active_trace_stats()
        assert s["held"] and s["bursts"] == 0, s
        _pypper._test_hold_sampler(True)            # waits for it to park
        assert pypper.active_trace_stats()["bursts"] == 0
        pypper.end()
        _pypper._test_hold_sampler(True)
        _pypper._test_hold_sampler(False)           # asked, then withdrawn
        pypper.start(sample_duty=0.5)
        assert not pypper.active_trace_stats()["held"]
        pypper.end()
        pypper.start(sample_duty=0.5)
        assert not pypper.active_trace_stats()["held"]
        pypper.end()
        for call in (_pypper._test_sample,
                     _pypper._test_hand_over, lambda: _pypper._test_set_clock(5)):
            try:
                call()
            except RuntimeError as e:
                assert "pypper.start()" in str(e), e
            else:
                raise AssertionError("a test hook without a session")
        print("ok")
    """)
    assert out == "ok\n"


def test_temperatures_decay_and_follow_the_working_set():
    out = check("""
        registry = [Item(i) for i in range(4000)]
        first, second = registry[:300], registry[2000:2300]
        driven(half_life_ms=150)
        use(first, 3)
        a0 = _pypper.temperatures(first)
        assert _pypper.temperatures(first) == a0        # the model's time stands still
        advance(1000)                                   # 6.7 half-lives
        a1 = _pypper.temperatures(first)
        assert all(x < y for x, y in zip(a1, a0)), (a0[:3], a1[:3])
        use(second, 3)
        a = statistics.median(_pypper.temperatures(first))
        b = statistics.median(_pypper.temperatures(second))
        assert b > 0.5 > 0.1 > a, (a, b)
        snap = pypper.snapshot()
        klass = {o.address: o.klass for o in snap.objects}
        hot_first = sum(klass[id(x)] == "hot" for x in first)
        hot_second = sum(klass[id(x)] == "hot" for x in second)
        assert hot_second == len(second) and hot_first == 0, (hot_first, hot_second)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_an_object_used_in_a_burst_cools_within_a_few_half_lives():
    # A burst of use (a list that every call of random.choice() reads while a graph is
    # built) gives an object a heat far above the reference. After PYPPER_IDLE_AFTER
    # half-lives without use its heat falls PYPPER_IDLE_RATE times as fast: 6
    # half-lives after the burst it is cold while the objects still in use are hot.
    # (With plain halving, 3,000 samples against a reference of about 2.4 stayed hot,
    # at 0.995: cold needs log2(34 x 1,250), 15 half-lives.)
    out = check("""
        registry = [Item(i) for i in range(2000)]
        steady, burst = registry[:200], registry[1000]
        driven(half_life_ms=100)
        def burst_use(n):
            for i in range(n):
                x = registry[1000 + (i & 1) * 500]  # burst, then another: new each sample
                _pypper._test_sample()
        burst_use(6000)
        _pypper._test_hand_over()
        assert pypper.temperature(burst) > 0.5
        for _ in range(12):                     # 6 half-lives, the steady ones in use
            use(steady, 1)
            _pypper._test_hand_over()
            advance(50)
        _pypper._test_hand_over()
        t_burst = pypper.temperature(burst)
        t_steady = statistics.median(_pypper.temperatures(steady))
        assert t_steady > 0.5 and t_burst < 0.2, (t_steady, t_burst)
        klass = {o.address: o.klass for o in pypper.snapshot().objects}
        assert klass[id(burst)] == "cold", klass[id(burst)]
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_no_session_and_untraced_objects():
    out = check("""
        assert pypper.temperature([1, 2]) is None                # no session
        assert pypper.hot_objects(5) == []
        try:
            pypper.snapshot()
        except RuntimeError as e:
            assert "pypper.start()" in str(e)
        else:
            raise AssertionError("snapshot without a session")
        pypper.start()
        assert pypper.temperature(None) is None                  # immortal
        assert pypper.temperature(5) is None                     # static small int
        assert pypper.temperature(int) is None                   # static type
        fresh = object()                                         # born after start, no collection yet:
        t = pypper.temperature(fresh)                            # in the heap: its page's heat (others
        assert t is not None and 0.0 <= t < 1.0, t              # on the page may have been seen)
        for bad in (-1, "3"):
            try:
                pypper.hot_objects(bad)
            except (ValueError, TypeError):
                pass
            else:
                raise AssertionError(bad)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_objects_without_an_entry_take_their_pages_heat():
    # Floats that containers hold have no object-table entry (LIVE_NUMBERS=0): the
    # sampler's evidence about them goes to their pages. Those used have a temperature
    # above 0, those never used 0, and both have one (not None). Evidence counts from
    # the second hand-over that finds it on a page: the first learns that no block
    # of the page's pool was handed out since (the loop's ints took blocks freed
    # there while the lists were built).
    out = check("""
        import random
        hot = [random.random() for _ in range(3000)]
        cold = [random.random() for _ in range(3000)]
        driven()
        def add(numbers):
            acc = 0.0
            for x in numbers:               # x: a slot of this frame
                acc += x
                _pypper._test_sample()
            return acc
        add(hot)
        _pypper._test_hand_over()
        assert pypper.active_trace_stats()["unsettled"] > 0
        add(hot)
        _pypper._test_hand_over()
        hot_t = _pypper.temperatures(hot)
        cold_t = _pypper.temperatures(cold)
        assert None not in hot_t and None not in cold_t
        assert sum(t > 0 for t in hot_t) >= 0.9 * len(hot), sorted(hot_t)[:10]
        # (a few cold ones share pages with hot ones)
        assert sum(t > 0 for t in cold_t) <= 0.1 * len(cold), sum(t > 0 for t in cold_t)
        s = pypper.active_trace_stats()
        assert s["to_pages"] > 0 and s["page_heat_pages"] > 0, s
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_long_lived_numbers_do_not_take_the_heat_of_temporaries_beside_them():
    # A cache replaces its oldest value at each step while the loop makes and drops
    # temporary floats: they come and go in the blocks freed in the pools that hold
    # the long-lived values (as in an LRU cache), and the sampler sees them there.
    # That evidence is about objects that are gone, not about the values beside them:
    # pages whose pool handed out a block since it was last looked at take none, so
    # the values stay cold. Values the loop itself reads, in pools that do not churn,
    # still warm up.
    out = check("""
        keep = {i: float(i) + 0.5 for i in range(6000)}
        read = [float(i) + 0.25 for i in range(600)]
        driven()
        def step(k):
            del keep[k]                             # frees a value in an old pool
            t = float(k) * 1.5                      # temporaries take that block
            u = t + 1.0
            _pypper._test_sample()
            keep[k + 6000] = float(k) + 0.75        # a new long-lived value
            return u
        def read_some(j):
            x = read[j % 600]
            _pypper._test_sample()
            return x
        for k in range(0, 6000):
            step(k)
            read_some(k)
            if k % 200 == 199:
                _pypper._test_hand_over()
                advance(20)
        s = pypper.active_trace_stats()
        assert s["unsettled"] > 1000, s
        kept = _pypper.temperatures(list(keep.values()))
        warm = sum(t >= 0.2 for t in kept)
        assert warm <= 0.02 * len(kept), (warm, len(kept), s)
        read_t = _pypper.temperatures(read)
        assert statistics.median(read_t) >= 0.2, (statistics.median(read_t), s)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_a_local_left_alone_cools_while_its_function_calls_deeper_code():
    # The reader reads SAMPLE_DEPTH frames; a frame that was below them and comes back
    # (its function called deeper code, as `pypper run`'s recorder or any deep library
    # call does) still holds what it held: nothing new. Before 2026-12-06 each comeback
    # gave every local of the frame a piece of evidence, and an 8 MiB text that a
    # newcomer's ETL job parsed once stayed its hottest object (so did any read that
    # ended early, on a frame being set up: its chain does not end at an entry shim).
    out = check("""
        driven(sample_depth=2)
        def deep3(): _pypper._test_sample(5)      # main() below the 2 frames read
        def deep2(): deep3()
        def deep1(): deep2()
        def uses(o): _pypper._test_sample(5)      # o is new in this frame: evidence
        def main():
            big = "k" * 100000 + "x"              # a local of main(), never used again
            hot = [0] * 10
            _pypper._test_sample(5)
            _pypper._test_hand_over()
            first = pypper.temperature(big)
            for _ in range(6):
                advance(1000)                     # a half-life a round
                deep1()
                _pypper._test_sample(5)           # main() back among the frames read
                uses(hot)
                _pypper._test_hand_over()
            print(first >= 0.5, pypper.temperature(big) < 0.05, pypper.temperature(hot) >= 0.5)
        main()
        pypper.end()
    """)
    assert out == "True True True\n"


def test_numbers_take_the_heat_of_the_list_that_holds_them():
    # max() reads a list's floats in C: the frames show the list (on the value stack
    # while the call runs), never a float. The list's evidence reaches its numbers'
    # pages (sampled items, each standing for its share), so the floats of a used
    # list are about as warm as the list, those of an unused one stay cold.
    out = check("""
        cols = columns(4)
        driven()
        for _ in range(40):              # hand-overs: the sampled items rotate
            scan_in_c(cols[1])
            _pypper._test_hand_over()
        hot = numbers_follow(cols[1])
        cold = _pypper.temperatures(cols[3])
        assert sum(t >= 0.2 for t in hot) >= 0.9 * len(hot)
        assert sum(t > 0 for t in cold) <= 0.02 * len(cold)
        assert pypper.active_trace_stats()["number_heat"] > 0
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_numbers_of_a_list_picked_from_are_cold_once_it_no_longer_is():
    # random.choice(seq) reads one item of seq per call: each sighting of seq stands
    # for a use of one of its items, 1/n of it on each, as a read that finds a list
    # handed to max() does. A newcomer's BFS built its graph with rnd.choice(rest) and
    # never read rest again: once the build is over its numbers are cold, while those
    # of the lists max() goes on scanning stay hot. (Until 2026-12-04 each sighting of
    # rest stood for its whole heat on each of its numbers, which stayed hot for
    # seconds after the build.)
    out = check("""
        cols = columns(3)
        def sampled():
            _pypper._test_sample()
        def scans():
            scan_in_c(cols[2])
            # The read before max() starts finds scan_in_c's frame calling sampled(),
            # its stack's top below col's slot: what it pushes after the return is told
            # from what was there before.
            scan_in_c(cols[0], first=sampled)
        driven()
        for _ in range(40):                 # the build: picks, and scans beside them
            for _ in range(200):
                choice(cols[1])
            scans()
            _pypper._test_hand_over()
        picked = cols[1]
        t_picked = pypper.temperature(picked)
        assert t_picked > 0.5, t_picked
        for _ in range(12):                 # after it: 3 half-lives of scans alone
            advance(250)
            scans()
            _pypper._test_hand_over()
        for scanned in (cols[2], cols[0]):
            numbers_follow(scanned)
        numbers_stay_cold(picked)
        stats = pypper.active_trace_stats()
        assert stats["scan_evidence"] > 0 and stats["number_heat"] > 0, stats
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


# A column store's query: it reads 3 of k columns item by item (`p[i]`), each float
# once a pass, then runs `scan` (Python, in query's frame). The index, and a sample
# every 100 rows taken while the caller's value stack holds the column being read
# (and the float read before it), as the sampler thread finds it in the middle of
# the expression.
INDEXED_QUERY = """
    cols = columns(%(k)d)
    def at(i):
        if i %% 100 == 0:
            _pypper._test_sample()
        return i
    def query(p, q, r):
        total = 0.0
        for i in range(len(p)):
            total += p[at(i)] * q[at(i)] * (1 - r[at(i)] / 100)
        %(scan)s
        return total
    driven()
    for _ in range(12):                 # (the pages' census runs at the 2nd and 12th)
        query(cols[0], cols[1], cols[2])
        _pypper._test_hand_over()
    assert %(scanned)s
    for col in cols[:3]:
        numbers_follow(col)
    for col in cols[3:]:
        numbers_stay_cold(col)
    pypper.end()
    print("ok")
"""


def test_numbers_read_by_index_are_as_hot_as_those_c_code_scans_beside_them():
    # A newcomer's column store: a query reads 3 columns by index and hands one of
    # them to max() as well. Each read of the frames that finds the column handed to
    # max() stands for one use of one of its items, as one that finds a column being
    # indexed does (the reads come in proportion to time, and max() reads an item in
    # about the time a loop holds the column for its index). Until 2026-12-06 such a
    # read stood for a use of every item: the scanned column's pages were 1,000 times
    # hotter than the others' and set the pages' scale, and the two columns read only
    # by index were cold (3.8 of 11.4 MiB hot in the newcomer's report).
    # max(p): a sample every 200 items, about as dense in time as the loop's (an item
    # in 10 ns against a row in 100 ns), the first read before it starts (a frame seen
    # before, as a long query's is).
    scan = "scan_in_c(p, first=lambda: _pypper._test_sample(), every=200)"
    out = check(INDEXED_QUERY % {"k": 6, "scan": scan,
                                 "scanned": 'pypper.active_trace_stats()["scan_evidence"] > 0'})
    assert out == "ok\n"


def test_numbers_a_loop_reads_by_index_are_as_hot_as_their_pages_are_used():
    # The frames show the lists and the floats of the moment, never a scan. Each
    # float is worth 1/20,000 of its list, but its page is read as often as any page
    # of the heap that is read: against the pages, not against the lists, those floats
    # are hot and the 5 columns never read stay cold. (Held against the objects'
    # reference, they were all cold, and so were their lists' item arrays: a
    # newcomer's report showed 3 hot columns as 192 bytes hot.)
    out = check(INDEXED_QUERY % {"k": 8, "scan": "pass", "scanned": "True"})
    assert out == "ok\n"


def test_numbers_of_a_list_a_loop_walks_take_its_heat():
    # `for x in col` reads every item of col, one per iteration, as C code scanning it
    # does: col's numbers take its heat on each item. The frames show the loop's
    # iterator (followed to col) and the number of the moment; a list picked from by
    # Python code gives its numbers one item's worth per use.
    out = check("""
        cols = columns(2)
        def walk(col):
            total, i = 0.0, 0
            for x in col:
                total += x
                i += 1
                if i % 1000 == 0:
                    _pypper._test_sample(8)     # (iterators are followed in one read of 8)
            return total
        driven()
        for _ in range(40):
            walk(cols[0])
            for _ in range(20):
                choice(cols[1], 8)          # (iterators are followed in one read of 8)
            _pypper._test_hand_over()
        walked, picked = cols
        numbers_follow(walked)
        assert pypper.temperature(picked) > 0.5
        numbers_stay_cold(picked)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_traced_numbers_do_not_set_the_scale_of_temperatures():
    # With LIVE_NUMBERS a loop's numbers have entries of their own, and are hotter than
    # the lists that hold them (each number is in several lists, and the frames show it
    # for every use). They are left out of the census whose 95th percentile is the
    # reference heat: the lists a loop walks stay hot, as without the option.
    out = check("""
        nums = [10_000 + i for i in range(400)]
        lists = [[nums[(7 * i + j) % 400] for j in range(8)] for i in range(2000)]
        driven(live_numbers=True)
        import gc; gc.collect()                 # (the live trace takes the numbers)
        _pypper._test_hand_over()
        assert pypper.temperature(nums[0]) is not None
        used = lists[::2]
        def walk():
            for lst in used:
                for x in lst:
                    _pypper._test_sample()
        for _ in range(8):
            walk()
            _pypper._test_hand_over()
        temps = _pypper.temperatures(used)
        assert sum(t >= 0.5 for t in temps) >= 0.9 * len(temps), statistics.median(temps)
        assert statistics.median(_pypper.temperatures(nums)) >= 0.5
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_no_scan_while_a_collection_runs():
    # A cyclic collection stops the program's frames where it started: no C code of the
    # program reads what their value stacks hold meanwhile (no SCAN evidence). The
    # same samples taken while max() reads the list find it scanned.
    out = check("""
        import gc
        data = list(range(1000))
        counts = {}
        def three_samples(name):
            before = pypper.active_trace_stats()
            _pypper._test_sample(3)
            after = pypper.active_trace_stats()
            counts[name] = {k: after[k] - before[k] for k in ("scan_evidence", "frame_samples")}
        def key(name):
            def k(x):
                if x == 500:
                    three_samples(name)
                return x
            return k
        def in_collection(phase, info):
            if phase == "start":
                max(data, key=key("collection"))        # in the callback's frame: scanned
        driven()
        max(data, key=key("call"))
        gc.callbacks.append(in_collection)
        gc.collect()
        gc.callbacks.remove(in_collection)
        assert counts["call"]["frame_samples"] == 3 and counts["collection"]["frame_samples"] == 3, counts
        assert counts["call"]["scan_evidence"] > 0, counts
        assert counts["collection"]["scan_evidence"] == 0, counts
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_a_lists_numbers_are_heated_evenly_and_never_above_it():
    # One hand-over of evidence about a list of floats built in one go: the floats
    # between two sampled items lie on the pages between theirs, so every page of the
    # list takes its share at once (not only the sampled items' pages, each then
    # standing for six pages' worth of items and hotter than the list itself, which
    # kept unscanned columns "hot" for seconds after they were loaded).
    out = check("""
        cols = columns(3)
        driven()
        scan_in_c(cols[1])
        _pypper._test_hand_over()
        hot = _pypper.temperatures(cols[1])
        t_list = pypper.temperature(cols[1])
        assert t_list > 0.5, t_list
        assert sum(t > 0 for t in hot) >= 0.95 * len(hot), sum(t > 0 for t in hot)
        # (The floats key() had in its frame at a sample were used themselves.)
        top = sorted(hot)[int(0.95 * len(hot))]
        assert top <= t_list + 0.02, (top, t_list)
        assert statistics.median(hot) > 0.5 * t_list, (statistics.median(hot), t_list)
        for other in (cols[0], cols[2]):            # (a page shared at each end)
            assert sum(t > 0 for t in _pypper.temperatures(other)) <= 0.02 * len(other)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_temperatures_do_not_depend_on_how_often_the_sampler_samples():
    # The same program seen with ten times the samples (an idle core, a hot object
    # always on the frame) or a tenth of them (a loaded machine) gets the same
    # temperatures: they are heats relative to the reference heat, whatever its size.
    out = check("""
        registry = [Item(i) for i in range(3000)]
        hot, warm, rare = registry[:200], registry[1000:1200], registry[2000:2200]
        def run(scale):
            driven()
            use(hot, 8 * scale)
            use(warm, scale)
            _pypper._test_hand_over()
            advance(1500)
            use(rare, scale)
            ts = [statistics.median(_pypper.temperatures(g)) for g in (hot, warm, rare)]
            pypper.end()
            return ts
        a, b = run(2), run(20)
        assert all(abs(x - y) < 0.02 for x, y in zip(a, b)), (a, b)
        assert a[0] > 0.5 and a[1] < a[2], a
        print("ok")
    """)
    assert out == "ok\n"


def test_a_crowd_of_objects_used_once_does_not_make_the_rest_hot():
    # The reference heat is the 95th percentile of the heats a census finds. A burst of
    # new objects with one sample each (a report built on the main thread, a batch of
    # temporaries) drops that percentile at once; the reference falls no faster than
    # heats decay, so what was warm stays warm.
    out = check("""
        registry = [Item(i) for i in range(12000)]
        hot, warm, crowd = registry[:300], registry[1000:1300], registry[4000:12000]
        driven()
        use(hot, 20)
        use(warm, 1)
        _pypper._test_hand_over()
        before = statistics.median(_pypper.temperatures(warm))
        ref = pypper.active_trace_stats()["reference_heat"]
        use(crowd, 1)
        _pypper._test_hand_over()
        _pypper._test_hand_over()
        after = statistics.median(_pypper.temperatures(warm))
        assert pypper.active_trace_stats()["reference_heat"] >= ref, ref
        assert before < 0.5 and abs(after - before) < 0.02, (before, after)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_temperatures_do_not_drift_with_the_length_of_a_run():
    # A steady program (the same objects used at the same rates, and a stream of new
    # objects each used once: an access log's records) has the same temperatures after
    # 10 s as after 30 s. Every object once seen keeps a heat above 0 as it decays; a
    # census that counted them all had its 95th percentile pulled down by the growing
    # crowd, and so every temperature up (an LRU cache's hot bytes grew 1.3 -> 4.5 MiB
    # from a 2 s to a 16 s run): it counts objects used in the last 4 half-lives.
    out = check("""
        registry = [Item(i) for i in range(40000)]
        hot, warm = registry[:100], registry[100:400]
        stream = iter(registry[400:])
        driven()
        def step():
            use(hot, 4)
            use(warm[:30], 1)                     # each of warm once in 10 steps
            warm[:] = warm[30:] + warm[:30]
            use([next(stream) for _ in range(600)], 1)
            advance(500)
            _pypper._test_hand_over()
        seen = []
        for k in range(1, 61):
            step()
            if k in (20, 60):
                seen.append([statistics.median(_pypper.temperatures(g)) for g in (hot, warm)]
                            + [pypper.active_trace_stats()["reference_heat"]])
        (h1, w1, r1), (h2, w2, r2) = seen
        # (The warm median: 0.6096 and 0.6099 in every run here, but 0.6517 at 30 s in
        # one run of a loaded `make -j2 test`, cause not found; the census's drift
        # moved it by more, and halved the reference.)
        assert abs(h1 - h2) < 0.03 and abs(w1 - w2) < 0.06, seen
        assert 0.8 < r2 / r1 < 1.25, seen
        pypper.end()
        print("ok")
    """, timeout=180)
    assert out == "ok\n"


def idle_and_work(program):
    # Run `program` (a driven session that leaves objects `idle` and `work`), hand its
    # evidence over, and return idle's temperature and the median of work's.
    tail = """
        _pypper._test_hand_over()
        print(json.dumps([pypper.temperature(idle),
                          statistics.median(_pypper.temperatures(work))]))
        pypper.end()
    """
    return json.loads(check("import json\n" + textwrap.dedent(program) + textwrap.dedent(tail)))


def test_a_table_kept_in_a_callers_frame_and_not_used_stays_cold():
    # main() keeps a table in a local and works on other objects, calling functions
    # two frames deep. Its frame is at depth 0 or 2 from one read to the next: it is
    # the same frame, so its kept table is neither new (evidence of use) at each call
    # and return, nor held (a local that stays says nothing).
    t_idle, t_work = idle_and_work("""
        idle = [Item(i) for i in range(300)]
        work = [Item(i) for i in range(300)]
        driven()
        def inner(it):
            _pypper._test_sample()
            return it.value
        def middle(it):
            return inner(it)
        def main(kept, work):
            table = kept
            total = 0
            for _ in range(30):
                for it in work:
                    total += middle(it)
                    _pypper._test_sample()
            return total + len(table)
        main(idle, work)
    """)
    # (Seen new once, when main() first shows in a read: warm at most. The reader that
    # compared a frame with the one at its depth before gave 0.99 here, work 0.90.)
    assert t_work >= 0.5, (t_idle, t_work)
    assert t_idle < min(0.5, t_work / 2), (t_idle, t_work)


def test_what_a_stack_slot_kept_from_an_earlier_call_is_not_held():
    # The running frame's whole value stack is read (its top is in a register): a deep
    # slot keeps the last value pushed there, here a table passed as the seventh
    # argument of a call made once, while the loop after it only uses shallower slots.
    # Pushes below it show the top is under it: it is not an operation in progress.
    t_idle, t_work = idle_and_work("""
        idle = [Item(i) for i in range(300)]
        work = [Item(i) for i in range(300)]
        driven()
        def setup(a, b, c, d, e, f, table):
            return len(table)
        def main(work):
            n = setup(1, 2, 3, 4, 5, 6, idle)
            total = 0
            for _ in range(30):
                for it in work:
                    # Two samples an item, at two points of the loop: what the real
                    # sampler sees at random points, the shallow slots changing.
                    total += it.value + (_pypper._test_sample(), 0)[1]
                    _pypper._test_sample()
            return total + n
        main(work)
    """)
    # (Seen new once, at the first read after the call: warm at most. Held evidence
    # at each of the 18,000 samples made it 0.98 here, work 0.90.)
    assert t_work >= 0.5, (t_idle, t_work)
    assert t_idle < min(0.5, t_work / 2), (t_idle, t_work)


def test_a_loops_container_gets_the_evidence_of_its_iterator():
    # `for x in table[k]` keeps an iterator in the frame, never the list: the frame
    # reader passes the iterator's evidence on to the list, tuple, dict or set it walks
    # (a BFS over a dict of sets, `for v in adj[u]`, showed half its community cold
    # while sets were not followed), reversed or not.
    out = check("""
        table = {k: [k, k + 1, k + 2] for k in range(3000)}
        tuples = {k: (k, str(k)) for k in range(3000)}
        dicts = {k: {"a": k, "b": k} for k in range(3000)}
        sets = {k: {k, k + 1, k + 2} for k in range(3000)}
        backwards = {k: [k, k + 1, k + 2] for k in range(3000)}
        driven()
        def walk(keys):
            # (8 samples an item: the reader follows iterators in one read of 8)
            for k in keys:
                for x in table[k]:
                    _pypper._test_sample(8)
                for x in tuples[k]:
                    _pypper._test_sample(8)
                for x in dicts[k].values():
                    _pypper._test_sample(8)
                for x in sets[k]:
                    _pypper._test_sample(8)
                for x in reversed(backwards[k]):
                    _pypper._test_sample(8)
        used = list(range(0, 3000, 10))
        walk(used)
        _pypper._test_hand_over()
        for name, d in (("list", table), ("tuple", tuples), ("dict", dicts), ("set", sets),
                        ("reversed list", backwards)):
            hot = _pypper.temperatures([d[k] for k in used])
            cold = _pypper.temperatures([d[k] for k in range(5, 3000, 10)])
            assert sum(t > 0 for t in hot) >= 0.9 * len(hot), (name, sorted(hot)[:5])
            assert sum(t > 0 for t in cold) <= 0.05 * len(cold), (name, sum(t > 0 for t in cold))
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_each_loop_over_a_container_is_new_evidence_for_it():
    # Loops one after the other over different lists: each loop's iterator is mostly
    # allocated in the block the last one freed, so the frame slot holds the same
    # pointer. Each list is still new evidence (the container the iterator walks
    # changed), worth what an object newly in a slot is worth: a list walked once
    # is about as warm as an object used once, not a fiftieth of it (HOLD_WEIGHT).
    out = check("""
        table = {k: [k, k + 1, k + 2] for k in range(3000)}
        registry = [Item(i) for i in range(3000)]
        driven()
        def walk(keys):
            # (8 samples an item: the reader follows iterators in one read of 8)
            for k in keys:
                for x in table[k]:
                    _pypper._test_sample(8)
        used = list(range(0, 3000, 10))
        walk(used)
        use(registry[::10], 1)
        _pypper._test_hand_over()
        lists = _pypper.temperatures([table[k] for k in used])
        items = _pypper.temperatures(registry[::10])
        assert statistics.median(items) > 0, items[:10]
        assert statistics.median(lists) >= 0.8 * statistics.median(items), \
            (statistics.median(lists), statistics.median(items))
        assert sum(t >= 0.5 for t in lists) >= 0.9 * len(lists), sorted(lists)[:10]
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_a_long_containers_group_is_built_in_steps():
    # A list of 300,000 records that C code scans: a hand-over reads at most 131,072
    # of its items for the group's build (two passes over them: 6 steps over 5
    # hand-overs), the group having no members until the build ends; a question (here
    # temperatures()) builds what it needs at once. Before, one hand-over or round read
    # all the items twice: 85-90 ms on 2,000,000 tuples.
    out = check("""
        import json
        records = [[i] for i in range(300000)]     # (lists: traced, compared in C)
        others = [[i] for i in range(200000)]
        driven()
        def stats():
            s = pypper.active_trace_stats()
            return [s["scan_group_builds"], s["scan_group_build_steps"], s["scan_group_members"]]
        scan_in_c(records)
        seen = []
        for _ in range(7):
            _pypper._test_hand_over()
            seen.append(stats())
        scan_in_c(others)
        _pypper._test_hand_over()
        before = stats()
        t = _pypper.temperatures(others)
        after = stats()
        warm = sum(x > 0 for x in t)
        pypper.end()
        print(json.dumps({"seen": seen, "before": before, "after": after, "warm": warm}))
    """)
    r = json.loads(out)
    seen = r["seen"]
    steps = [s[1] for s in seen]
    assert all(b - a <= 2 for a, b in zip([0] + steps, steps)), seen      # bounded a hand-over
    assert seen[0][0] == 0 and seen[0][2] == 0, seen                      # not built at once
    assert seen[-1][0] == 1 and seen[-1][2] == 300000 and steps[-1] == 6, seen
    # The second list's build began at the hand-over and ended within the question.
    assert r["before"][0] == 1 and r["after"][0] == 2, r
    assert r["after"][2] == 500000 and r["warm"] == 200000, r


def test_a_container_that_changes_under_its_build_leaves_others_their_turn():
    # A long list appended to between hand-overs starts its build again each time; the
    # other groups are built meanwhile (the one tried longest ago goes first). Before,
    # its restarts took every step and no other group was ever built.
    out = check("""
        import json
        growing = [[i] for i in range(300000)]
        other = [[i] for i in range(1000)]
        driven()
        scan_in_c(growing)
        _pypper._test_hand_over()
        scan_in_c(other)
        for _ in range(3):
            growing.append([0])
            _pypper._test_hand_over()
        s = pypper.active_trace_stats()
        pypper.end()
        print(json.dumps([s["scan_groups"], s["scan_group_builds"], s["scan_group_members"]]))
    """)
    groups, builds, members = json.loads(out)
    assert groups == 2 and builds >= 1 and members == 1000, (groups, builds, members)


def test_the_records_a_loop_scans_take_their_lists_heat():
    # A loop over 20,000 records: the frames show each record rarely (here one in 16 is
    # in the frame at a sample), but the list's iterator at every read that follows
    # iterators: each sighting of it is a use of one of its records, 1/n of it on each
    # (Python/scan_groups.h). The records nobody scans stay cold, members scattered
    # (every 64th record of a larger registry: a sorted address list, not a bitmap)
    # as much as packed ones, and a group ends with its list.
    out = check("""
        registry = [Item(i) for i in range(100000)]
        packed, scattered = registry[:20000], registry[20000::64]
        unused = registry[20001::64]
        driven()
        def scan(records, every):
            total = 0
            for rnd in range(2):
                k = 0
                for it in records:
                    total += it.value
                    k += 1
                    if k % every == 0:
                        _pypper._test_sample(8)
                _pypper._test_hand_over()
            return total
        scan(packed, 16)
        scan(scattered, 2)
        for records in (packed, scattered):
            t = _pypper.temperatures(records)
            # (without groups: the records never in a frame at a sample had 0)
            assert sum(x >= 0.5 for x in t) >= 0.99 * len(t), sorted(t)[:10]
        s = pypper.active_trace_stats()      # (members: as the last question built them)
        assert s["scan_groups"] == 2, s
        assert s["scan_group_members"] == len(packed) + len(scattered), s
        t = _pypper.temperatures(unused)
        assert max(t) < 0.2, max(t)
        assert pypper.own_memory()["parts"]["scan_groups"] > 0
        # hot_objects() ranks by the same heat (before: by the objects' own evidence
        # alone, and most records were missing): the scanned records are among the
        # hottest, at the temperature that temperature() gives them, unused ones not.
        n = len(packed) + len(scattered)
        for user in (True, False):
            hot = pypper.hot_objects(n + 1000, user=user)
            ids = {id(o) for o, _ in hot}
            assert sum(id(r) in ids for r in packed) + sum(id(r) in ids for r in scattered) >= 0.99 * n
            assert not ids & {id(r) for r in unused}
            assert len(ids) == len(hot)         # (each object once)
        for o, t in hot[:20] + hot[-20:]:
            assert abs(t - pypper.temperature(o)) < 1e-9, (o, t, pypper.temperature(o))
        del hot, o            # (they hold the lists too)
        # Its list gone, a record takes nothing from it. (CPython keeps a dead list's
        # object on a free list for the next list made, often with an item array at
        # the same address, here the list temperatures() returns: the group, like the
        # table's entry, takes it for the same list, and sees that its items differ.)
        del packed
        _pypper._test_hand_over()
        t = _pypper.temperatures(tuple(registry[:20000]))
        assert statistics.median(t) == 0, statistics.median(t)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_loops_over_enumerate_and_zip_walk_their_lists():
    # `for k, x in enumerate(a)` and `for x, y in zip(b, c)` keep an enumerate or a zip
    # object in the frame: the reader follows it to the list iterators inside, so the
    # lists are walked (evidence of their own, their records a scan group's heat) as
    # in a plain `for x in a`. Before: no evidence for the lists at all.
    out = check("""
        registry = [Item(i) for i in range(4000)]
        a, b, c, idle = registry[:1000], registry[1000:2000], registry[2000:3000], registry[3000:]
        driven()
        def walk():
            for rnd in range(2):
                for k, it in enumerate(a):
                    if k % 8 == 0:
                        _pypper._test_sample(8)
                k = 0
                for x, y in zip(b, c):
                    k += 1
                    if k % 8 == 0:
                        _pypper._test_sample(8)
                _pypper._test_hand_over()
        walk()
        lists = _pypper.temperatures([a, b, c])
        assert min(lists) > 0, lists
        for records in (a, b, c):
            t = _pypper.temperatures(records)
            assert sum(x >= 0.5 for x in t) >= 0.95 * len(t), sorted(t)[:10]
        assert max(_pypper.temperatures(idle)) < 0.2
        assert pypper.active_trace_stats()["scan_groups"] == 3
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_the_scale_of_temperatures_does_not_depend_on_the_window():
    # The reference heat (the 95th percentile of heats) is taken over the whole object
    # table, not over the window of it polled at this hand-over: a window is one part
    # of the program's data (the table holds objects in the order they were traced).
    # 3000 objects used once at the start of the table, 60 used 50 times at its end
    # (2% of the objects with heat): in every window, the 3000 stay hot.
    out = check("""
        registry = [Item(i) for i in range(60000)]
        warm, busy = registry[:3000], registry[-60:]
        driven()
        use(warm, 1)
        use(busy, 50)
        medians = []
        for _ in range(8):        # the windows go round the whole table
            _pypper._test_hand_over()
            medians.append(statistics.median(_pypper.temperatures(warm)))
        assert min(medians) >= 0.6, medians
        assert max(medians) - min(medians) <= 0.1, medians
        assert min(_pypper.temperatures(busy)) > max(medians), medians
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_signal_sampler_samples_the_main_threads_own_frames():
    # SIGNAL_HZ: a timer on the main thread's CPU time; its handler reads the thread's
    # own frames. It fires per CPU second the thread uses, whatever the machine's load.
    out = check("""
        import signal
        registry = [Item(i) for i in range(6000)]
        hot = registry[:200]
        pypper.start(signal_hz=250, sample_hz=1, sample_duty=0.01)
        def cpu_spin(items, cpu_s):
            t = 0
            end = time.process_time() + cpu_s
            while time.process_time() < end:
                for it in items:
                    t += it.value
            _pypper.temperatures([])          # hands the evidence over
        wait_for("signal evidence", lambda: pypper.active_trace_stats()["signal_evidence"] >= 50,
                 step=lambda: cpu_spin(hot, 0.2))
        s = pypper.active_trace_stats()
        assert s["signal"] > 0 and s["signal_samples"] > 0 and s["signal_dropped"] == 0, s
        assert sum(t > 0 for t in _pypper.temperatures(hot)) > 0
        # Held for a test: no signal sample either.
        _pypper._test_hold_sampler(True)
        before = pypper.active_trace_stats()["signal_samples"]
        cpu_spin(hot, 0.3)
        assert pypper.active_trace_stats()["signal_samples"] == before
        _pypper._test_hold_sampler(False)
        # The program takes the signal: the next hand-over lets go of it.
        signal.signal(s["signal"], lambda *a: None)
        _pypper._test_hand_over()
        assert pypper.active_trace_stats()["signal"] == 0
        pypper.end()
        # A new session does not take a signal the program handles.
        pypper.start(signal_hz=250)
        assert pypper.active_trace_stats()["signal"] == 0
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_young_objects_are_traced_without_a_collection():
    # With the collector off nothing reaches an older generation: the young walk of
    # each hand-over takes a bounded slice of the young lists, so objects built after
    # start() get an entry (and their own evidence) within a few hand-overs.
    out = check("""
        import gc
        gc.disable()
        driven()
        rows = [[i, str(i)] for i in range(10000)]
        # (a list's block reused from CPython's free list keeps an old entry)
        assert sum(_pypper.live_trace_knows(r) for r in rows) < 10
        for _ in range(5):
            _pypper._test_hand_over()
        known = sum(_pypper.live_trace_knows(r) for r in rows)
        assert known == len(rows), known
        s = pypper.live_trace_stats()
        assert s["young_found"] >= len(rows) - 10 and s["young_walked"] <= 5 * 4096, s
        def bump(rows):
            for r in rows:
                r[0] += 1
                _pypper._test_sample()
        hot = rows[:200]
        bump(hot)
        _pypper._test_hand_over()
        assert all(t > 0 for t in _pypper.temperatures(hot))
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_bad_sampler_options_are_refused():
    for args, word in (("sample_duty=0", "sample_duty"), ("sample_duty=1.5", "sample_duty"),
                       ("half_life_ms=5", "half_life_ms"), ("sample_depth=0", "sample_depth"),
                       ("hysteresis=0.9", "hysteresis")):
        out = check(f"""
            try:
                pypper.start({args})
            except pypper.ConfigError as e:
                print("refused", "{word}" in str(e))
        """)
        assert out == "refused True\n", args


def test_snapshot_save_load_and_bad_files(tmp_path):
    path = tmp_path / "s.pyps"
    out = check(f"""
        registry = [Item(i) for i in range(3000)]
        driven()
        use(registry[:100])
        snap = pypper.snapshot()
        assert len(snap.objects) >= 3000 and snap.pages
        o = next(o for o in snap.objects if o.address == id(registry[0]))
        assert o.type == "Item" and o.size >= 32 and o.tier in ("fast", "slow")
        assert o.tier == pypper.where(registry[0])["tier"]
        assert o.site is None and o.site_kind == "before session"   # no site possible
        assert o.klass in ("hot", "warm", "cold") and 0.0 <= o.temperature <= 1.0
        for p in snap.pages:
            assert p.address % snap.page_size == 0 and 0.0 <= p.heat <= 1.0 + 1e-9
            assert p.hot_bytes + p.cold_bytes <= snap.page_size * 2
        types = snap.by_type()
        assert types["Item"]["objects"] == sum(o.type == "Item" for o in snap.objects)
        assert snap.by_site()["before session"]["objects"] <= len(snap.objects)
        snap.save({str(path)!r})
        back = pypper.load({str(path)!r})
        assert back.objects == snap.objects and back.pages == snap.pages
        assert back.pid == os.getpid() and back.model == snap.model
        assert sum(o.temperature > 0 for o in snap.objects if o.type == "Item") == 100
        raw = open({str(path)!r}, "rb").read()
        for name, data, word in (("trunc", raw[:len(raw) // 2], "truncated"),
                                 ("flip", raw[:40] + bytes([raw[40] ^ 0xFF]) + raw[41:], "corrupt"),
                                 ("other", b"hello\\n", "not a pypper snapshot"),
                                 ("empty", b"", "not a pypper snapshot")):
            bad = {str(tmp_path)!r} + "/" + name
            open(bad, "wb").write(data)
            try:
                pypper.load(bad)
            except pypper.SnapshotError as e:
                assert word in str(e), (name, str(e))
            else:
                raise AssertionError(name)
        print("ok")
    """)
    assert out == "ok\n"


def test_heat_events_in_the_trace_file(tmp_path):
    trace = tmp_path / "t.jsonl"
    check(f"""
        registry = [Item(i) for i in range(2000)]
        pypper.start(trace_file={str(trace)!r}, heat_interval_ms=100)
        _pypper._test_hold_sampler(True)
        use(registry[:200])
        # The recorder thread writes an event every 100 ms (line-buffered).
        heat = lambda: open({str(trace)!r}).read().count('"event": "heat"')
        wait_for("three heat events", lambda: heat() >= 3)
        pypper.end()
    """)
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    heat = [e for e in events if e["event"] == "heat"]
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"
    assert len(heat) >= 3
    assert all(e["page_size"] > 0 for e in heat)
    assert all(any(h > 0 for _, h in e["pages"]) for e in heat)


def test_sampler_cpu_is_bounded_and_idle_sleeps():
    out = check("""
        registry = [Item(i) for i in range(2000)]
        pypper.start(sample_duty=0.1)
        stats = pypper.active_trace_stats
        t0, c0 = time.monotonic(), stats()["cpu_seconds"]
        wait_for("samples and a hand-over",
                 lambda: stats()["frame_evidence"] > 0 and stats()["applies"] > 0,
                 step=lambda: spin(registry[:100], 0.2))
        busy = stats()
        wall = time.monotonic() - t0
        # At most 10% of one core (plus the time it takes the GIL to hand over evidence).
        assert busy["cpu_seconds"] - c0 <= 0.1 * wall * 1.5 + 0.05, (wall, busy)
        # The program sleeps: the thread sees it and sleeps too.
        wait_for("an idle sleep", lambda: stats()["idle_sleeps"] > busy["idle_sleeps"],
                 step=lambda: time.sleep(0.05))
        t1, c1, sleeping = time.monotonic(), stats()["cpu_seconds"], stats()
        time.sleep(0.5)
        idle = stats()
        pypper.end()
        assert idle["cpu_seconds"] - c1 < 0.08 * (time.monotonic() - t1), (busy, idle)
        # No burst either while it sleeps (every other 20 ms window looked busy when the
        # rest of the process's CPU time, two clocks read one after the other, went
        # down by a microsecond and the difference wrapped: about 12 bursts here).
        assert idle["bursts"] - sleeping["bursts"] <= 3, (sleeping, idle)
        print("ok")
    """)
    assert out == "ok\n"


def test_start_end_loop_with_threads_and_fork():
    # A failing check must not leave the worker threads running (the interpreter would
    # wait for them at exit): they stop in the finally block, joined with a timeout.
    out = check("""
        import threading, warnings
        registry = [Item(i) for i in range(3000)]
        stop = threading.Event()
        def worker(k):
            rows = []
            while not stop.is_set():
                rows.append([Item(j) for j in range(50)])
                if len(rows) > 40:
                    rows = rows[20:]
                for it in registry[k * 100:(k + 1) * 100]:
                    it.value
        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(2)]
        for t in threads:
            t.start()
        try:
            for i in range(30):
                pypper.start(sample_hz=2000, sample_duty=0.5)
                spin(registry[:50], 0.01)
                pypper.temperature(registry[0])
                if i % 10 == 0:
                    pypper.snapshot()
                pypper.end()
            pypper.start()
            use(registry[:50])
            warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads running
            pid = os.fork()
            if pid == 0:
                code = 3
                try:
                    ok = not pypper.is_running() and pypper.temperature(registry[0]) is None
                    pypper.start()
                    use(registry[:50])
                    ok = ok and pypper.temperature(registry[0]) > 0
                    pypper.end()
                    code = 0 if ok else 4
                finally:
                    os._exit(code)
            deadline = time.monotonic() + 60
            while (got := os.waitpid(pid, os.WNOHANG))[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    raise AssertionError("the forked child did not finish within 60 s")
                time.sleep(0.01)
            status = got[1]
            use(registry[:50])
            assert pypper.temperature(registry[0]) > 0
            pypper.end()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "worker threads did not stop"
        assert sum(i.value for i in registry) == sum(range(3000))
        print("ok", os.waitstatus_to_exitcode(status))
    """, timeout=240)
    assert out == "ok 0\n"


def test_allocation_sites_are_sampled():
    out = check("""
        import gc
        def make_items(n):
            return [Item(i) for i in range(n)]
        pypper.start(alloc_sample=1)
        made = make_items(20000)
        gc.collect()
        snap = pypper.snapshot()
        sites = snap.by_site()
        mine = [s for s in sites if "make_items" in s]
        assert mine and all(s.startswith("<string>:") for s in mine), list(sites)[:5]
        # One allocation per 4 KiB allocated is recorded (20000 items of 48 bytes and
        # their list: about 270); the items near a recorded one get its site by
        # inference.
        ids = {id(x) for x in made}
        kinds = [o.site_kind for o in snap.objects if o.address in ids]
        assert len(kinds) == 20000, len(kinds)
        assert 50 <= kinds.count("sampled") <= 1000, kinds.count("sampled")
        assert kinds.count("sampled") + kinds.count("inferred") >= 19800, set(kinds)
        assert sum(sites[s]["objects"] for s in mine) >= 19800
        pypper.end()
        pypper.start(alloc_sample=0)
        more = make_items(5000)
        gc.collect()
        snap = pypper.snapshot()
        assert all(o.site is None for o in snap.objects)
        ids = {id(x) for x in more}
        assert {o.site_kind for o in snap.objects if o.address in ids} == {"not sampled"}
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_frames_behind_c_calls_deeper_than_the_known_stack_are_read():
    # Entry frames of calls from C live on the C stack. The known extent of that stack
    # is read again (/proc/self/maps) at the hand-over after the reader was asked about
    # memory just below it: then an object held by a frame behind such an entry is seen.
    out = check("""
        registry = [Item(i) for i in range(3000)]
        target = registry[500]
        driven()
        seen = []
        def inner():
            for _ in range(2):
                _pypper._test_sample()
                _pypper._test_hand_over()
                seen.append(_pypper.temperatures([target])[0])
        def holder(o):                  # o only here, behind the entry frame of map's call
            return list(map(lambda _: inner(), [0]))
        def grow(n):                    # the C stack grows below its extent at start()
            if n:
                return list(map(lambda _: grow(n - 1), [0]))
            return holder(target)
        grow(400)
        assert seen[-1] > 0, (seen, pypper.active_trace_stats())
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


@pytest.mark.parametrize("monitored", [False, True], ids=["plain", "sys-monitoring"])
def test_values_read_by_attribute_from_a_new_local_take_its_evidence(monitored):
    # An LRU cache's entry `e` stays in its frame for a whole request, while
    # `len(e.val)` has the value on the value stack for one instruction: reads see e,
    # and, through the frame code's attribute loads of that local (a __slots__ member,
    # an instance's inline values), e.val. Values of entries never requested, and an
    # attribute that main() never reads (`spare`), stay cold. Before 2026-12-07 the
    # requested values were as cold as the others. With sys.monitoring's PY_RETURN on
    # (as `pypper run`'s capture has it), main()'s returns are instrumented in place.
    out = check(f"""
        import sys
        if {monitored}:
            mon = sys.monitoring
            mon.use_tool_id(3, "test")
            mon.register_callback(3, mon.events.PY_RETURN, lambda code, at, value: None)
            mon.set_events(3, mon.events.PY_RETURN)
        class Entry:
            __slots__ = ("key", "val", "spare")
        class Plain:
            def __init__(self, v):
                self.val = v
                self.spare = [v]
        def share(objs, at_least):
            return sum((pypper.temperature(o) or 0) >= at_least for o in objs) / len(objs)
        def judge(entries, plains):
            # (Here, not in main(): its inlined comprehensions would read e.spare.)
            print(share([e.val for e in entries[:100]], 0.5), share([p.val for p in plains[:100]], 0.5),
                  share([e.val for e in entries[100:]], 0.2), share([p.val for p in plains[100:]], 0.2),
                  share([e.spare for e in entries[:100]], 0.2), share([p.spare for p in plains[:100]], 0.2),
                  pypper.active_trace_stats()["attr_evidence"] >= 1000)
        def main():
            entries = [Entry() for _ in range(200)]
            for i, e in enumerate(entries):
                e.key = i
                e.val = "v%d" % i * 20
                e.spare = "s%d" % i * 20
            plains = [Plain(["p", i]) for i in range(200)]
            # (What is popped stays above the stack's top, where the first read of
            # this frame, the innermost, would see it new: overwritten here and in
            # the loop.)
            z = 0
            pad = (z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z)
            driven()
            total = 0
            for _ in range(6):
                for i in range(100):            # the first half is requested
                    e = entries[i]
                    p = plains[i]
                    _pypper._test_sample()      # e and p are new in this frame
                    total += len(e.val) + len(p.val)
                    pad = (z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z)
                _pypper._test_hand_over()
            judge(entries, plains)
        main()
        pypper.end()
    """)
    assert out == "1.0 1.0 0.0 0.0 0.0 0.0 True\n", out


def test_a_chain_of_attributes_read_from_a_new_local_takes_its_evidence():
    # `len(r.box.data)`: r is new in the frame at each request; r.box and r.box.data
    # are read in passing, one attribute load after the other. The boxes and data of
    # the rows never requested stay cold.
    out = check("""
        class Box:
            __slots__ = ("data",)
        class Row:
            def __init__(self, i):
                self.box = Box()
                self.box.data = "d%d" % i * 30
        def share(objs, at_least):
            return sum((pypper.temperature(o) or 0) >= at_least for o in objs) / len(objs)
        def judge(rows):
            print(share([r.box for r in rows[:100]], 0.5), share([r.box.data for r in rows[:100]], 0.5),
                  share([r.box for r in rows[100:]], 0.2), share([r.box.data for r in rows[100:]], 0.2))
        def main():
            rows = [Row(i) for i in range(200)]
            z = 0
            pad = (z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z)
            driven()
            total = 0
            for _ in range(6):
                for i in range(100):
                    r = rows[i]
                    _pypper._test_sample()
                    total += len(r.box.data)
                    pad = (z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z)
                _pypper._test_hand_over()
            judge(rows)
        main()
        pypper.end()
    """)
    assert out == "1.0 1.0 0.0 0.0\n", out


def test_attribute_reads_follow_code_objects_that_come_and_go():
    # Code objects made and freed in a loop (their addresses reused), their returns
    # instrumented by sys.monitoring and their lines by sys.settrace in turn, objects
    # replaced under a local: the reader's cache of code objects is checked again at
    # each use. Every read is driven here (_test_sample), the program's results stay
    # right, and values read by attribute keep getting evidence.
    out = check("""
        import gc
        mon = sys.monitoring
        mon.use_tool_id(4, "test")
        mon.register_callback(4, mon.events.PY_RETURN, lambda code, at, value: None)
        class S:
            __slots__ = ("a", "b", "c")
        class D:
            def __init__(self, i):
                self.a = [i]
                self.b = str(i) * 5
                self.c = S()
                self.c.a = (i,)
                self.c.b = None
                self.c.c = self
        SRC = '''
        def f{n}(objs):
            t = 0
            for o in objs:
                t += len(o.a) + len(o.b)
                x = o.c
                t += len(x.a) + (1 if o.c.c is o else 0)
                _pypper._test_sample()
            return t
        '''
        objs = [D(i) for i in range(40)]
        expected = sum(1 + 5 * len(str(i)) + 1 + 1 for i in range(40))
        driven()
        wrong = 0
        for n in range(600):
            ns = {"_pypper": _pypper}
            exec(textwrap.dedent(SRC.format(n=n % 50)), ns)
            if n % 7 == 0:
                mon.set_events(4, mon.events.PY_RETURN)
            elif n % 7 == 3:
                mon.set_events(4, 0)
            if n % 11 == 0:
                sys.settrace(lambda *a: None)
            elif n % 11 == 5:
                sys.settrace(None)
            wrong += ns["f%d" % (n % 50)](objs) != expected
            if n % 13 == 0:
                objs[n % 40] = D(n % 40)
                del ns
                gc.collect()
        sys.settrace(None)
        mon.set_events(4, 0)
        stats = pypper.active_trace_stats()
        print(wrong, stats["attr_evidence"] > 1000, stats["attr_code_scans"] >= 50)
        pypper.end()
    """.replace("import gc", "import gc, textwrap"))
    assert out == "0 True True\n", out
