"""Attribution of page writes to objects (Pypper/attribution.h, issue 12 items 2 and 3),
driven synchronously: the sampler held (_pypper._test_hold_sampler), scans run with
_pypper._test_wt_scan(), samples with _test_sample(), hand-overs with _test_hand_over().
With write tracking, reference-count polls go only to objects on pages written in the
last interval scanned; every object in the heap has a temperature, its own evidence plus
its share of its page's writes (nothing from a page not written in the last 8
intervals); None only outside the heap. Each test runs in a fresh drop-in process."""
import textwrap

from conftest import run, run_script

PRELUDE = """
import gc, sys
import pypper, _pypper

class Rec:
    __slots__ = ("a", "b")
    def __init__(self):
        self.a = None
        self.b = None

def tracking_or_skip():
    s = _pypper.write_tracking_stats()
    if not s["active"]:
        print("SKIP", s["signal"])
        pypper.end()
        sys.exit(0)

def in_a_frame(o):
    _pypper._test_sample(50)         # o is a local of this frame: frame evidence

def scans(n):
    for _ in range(n):
        _pypper._test_wt_scan()

def two_groups(objs):
    '''Objects wholly inside pages that hold only objs (32-byte blocks), on pages not
    written in the last 8 intervals, split by page into two groups: (A, B).'''
    pages = {}
    for o in objs:
        pages.setdefault(id(o) >> 12, []).append(o)
    def only_objs(p, os_):
        # Every block on the page is one of objs (48-byte blocks, 16 bytes of GC
        # header before the object): no other object shares it, whose use would
        # write it.
        starts = sorted(id(o) - 16 for o in os_)
        return (all(y - x == 48 for x, y in zip(starts, starts[1:]))
                and starts[0] - (p << 12) < 48 and ((p + 1) << 12) - starts[-1] <= 48)
    quiet = [os_ for p, os_ in sorted(pages.items())[1:-1]
             if only_objs(p, os_) and _pypper.page_history(os_[0]) == 0]
    a = [o for os_ in quiet[0::2] for o in os_ if (id(o) + 31) >> 12 == id(o) >> 12]
    b = [o for os_ in quiet[1::2] for o in os_ if (id(o) + 31) >> 12 == id(o) >> 12]
    return a, b

def start_held(**options):
    objs = [Rec() for _ in range(20000)]
    gc.collect()
    gc.disable()
    _pypper._test_hold_sampler(True)    # parked from its start: no burst first
    pypper.start(write_tracking="auto", **options)
    tracking_or_skip()
    _pypper._test_hold_sampler(True)
    scans(9)                     # every history starts from nothing written
    a, b = two_groups(objs)
    scans(9)                     # the look at them above wrote their pages: forgotten
    assert len(a) > 1000 and len(b) > 1000, (len(a), len(b))
    # A poll window chosen by page writes. The one chosen as the session started
    # (before any scan: every page may have been used) is the table's first slots, in
    # hash order: objects of B among them would see the counts that building A and B
    # changed.
    _pypper._test_hand_over()
    return objs, a, b
"""


def check(code, timeout=120):
    return run_script(PRELUDE, code, timeout=timeout)


def test_polls_go_to_objects_on_written_pages_only():
    # A's pages are written in the interval before the last scan, B's are not. Then
    # both groups are held by a list between two rounds of polls: only A's changed
    # reference counts can be seen (B's objects were not chosen: their pages showed no
    # use in the last interval).
    r = check("""
        objs, a, b = start_held()
        def write(group):
            for o in group:
                o.a = o.b
        write(a)
        scans(1)
        assert {_pypper.page_history(o) for o in a[::50]} == {1}
        assert {_pypper.page_history(o) for o in b[::50]} == {0}
        for _ in range(3):
            _pypper._test_sample(20000)      # enough reads to poll a full window
            _pypper._test_hand_over()        # the next window, chosen by page writes
            _pypper._test_sample(20000)      # every chosen count read once at least
            keep = a + b
            _pypper._test_sample(20000)      # ... and again: A's counts changed
            del keep
            _pypper._test_hand_over()
        s = _pypper.active_trace_stats()
        assert s["poll_written"] > 0 and s["poll_unwritten"] >= len(b), s
        ta, tb = _pypper.temperatures(a), _pypper.temperatures(b)
        # Above what a written page alone gives (its share: at most PAGE_SHARE, 0.01).
        # (Not "above the coldest of A": each of A is polled once a window since the
        # polls walk the tracked bitmap once round, so all of A may be equally warm.)
        seen_a = sum(t > 0.01 for t in ta)
        seen_b = sum(t > 0 for t in tb)
        # (A frame slot may hold one of B for a moment: at most a few.)
        assert seen_a > len(a) // 4 and seen_b <= 2, (seen_a, len(a), seen_b)
        _pypper._test_hold_sampler(False)
        pypper.end()
        print("ok", seen_a, len(a), seen_b, s["poll_written"], s["poll_unwritten"])
    """)
    assert r.stdout.startswith("ok"), r.stdout


def test_every_object_has_its_page_share():
    # Objects without evidence of their own: those on pages written in the last 8
    # intervals have their page share (the same however many intervals: a 48-byte
    # block, 48/4096 of PYPPER_ATTR_PAGE_SHARE = 0.01), those on pages not written
    # 0.0; an object with evidence ranks above them all; a number without an entry
    # has a temperature too; None outside the heap.
    r = check("""
        objs, a, b = start_held()
        floats = [float(i) + 0.5 for i in range(20000)]
        in_a_frame(objs[0])          # one object with evidence of its own
        _pypper._test_hand_over()
        half = len(a) // 2
        def write(group):
            for o in group:
                o.a = o.b
        write(a)
        scans(1)
        write(a[:half])
        scans(1)
        ta, tb = _pypper.temperatures(a), _pypper.temperatures(b)
        hist = [_pypper.page_history(o) for o in a]
        assert {3, 2} <= set(hist) <= {3, 2}, set(hist)
        # (A Rec's block: its GC header and the object, 48 bytes.)
        assert set(ta) == {0.01 * 48 / 4096}, (min(ta), max(ta))
        assert set(tb) == {0.0}, set(tb)
        assert _pypper.temperature(objs[0]) > 0.01, _pypper.temperature(objs[0])
        # A float the live trace leaves out (no entry): its page's share too.
        t = _pypper.temperature(floats[100])
        assert t is not None and t > 0.0, t
        # Eight intervals without a write (the checks above wrote them once more):
        # nothing left of the share.
        scans(9)
        assert set(_pypper.temperatures(a)) == {0.0}
        assert _pypper.temperature(None) is None and _pypper.temperature(5) is None
        _pypper._test_hold_sampler(False)
        pypper.end()
        print("ok", len(ta), len(tb))
    """)
    assert r.stdout.startswith("ok"), r.stdout


def test_without_write_tracking_objects_without_evidence_stay_at_zero():
    r = run(["-c", PRELUDE + textwrap.dedent("""
        objs = [Rec() for _ in range(20000)]
        gc.collect()
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start(write_tracking="off")
        _pypper._test_hold_sampler(True)
        in_a_frame(objs[0])
        _pypper._test_hand_over()
        for o in objs[1000:2000]:
            o.a = o.b
        _pypper._test_sample(20000)
        _pypper._test_hand_over()
        s = _pypper.active_trace_stats()
        assert s["poll_written"] == 0 and s["poll_unwritten"] == 0, s
        t = _pypper.temperatures(objs[1000:2000])
        assert sum(x > 0 for x in t) <= 2, sum(x > 0 for x in t)
        assert _pypper.temperature(objs[0]) > 0
        _pypper._test_hold_sampler(False)
        pypper.end()
        print("ok")
    """)], timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr
