"""Write tracking (Pypper/write_tracking*.c) in a session: written pages get heat and
untouched ones none, scans driven synchronously (_pypper._test_wt_scan, the sampler
held); the signal named in stats(); the fallback to the frame sampler when the kernel
refuses (simulated with TEST_WT_ERRNO), off, fork, and the end (no write protection
left: writes no longer fault). Each test runs in a fresh drop-in process."""

import pytest

from conftest import run_script

PRELUDE = """
import gc, os, resource, sys
import pypper, _pypper

class Rec:
    __slots__ = ("a", "b")
    def __init__(self):
        self.a = None
        self.b = None

def by_page(objs):
    pages = {}
    for o in objs:
        pages.setdefault(id(o) >> 12, []).append(o)
    return pages

def minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def tracking_or_skip():
    s = _pypper.write_tracking_stats()
    if not s["active"]:
        print("SKIP", s["signal"])
        pypper.end()
        sys.exit(0)
"""


def check(code, env=None, timeout=120):
    env = env or {"PYPPER_WRITE_TRACKING": "auto"}   # off by default
    return run_script(PRELUDE, code, env=env, timeout=timeout)


def test_written_pages_have_heat_untouched_ones_none():
    r = check("""
        objs = [Rec() for _ in range(40000)]
        pages = sorted(by_page(objs).items())
        # Pages wholly of these objects, every other one touched.
        pages = [(p, os_) for p, os_ in pages[1:-1]]
        touched = [os_ for i, (p, os_) in enumerate(pages) if i % 2 == 0]
        untouched = [os_ for i, (p, os_) in enumerate(pages) if i % 2 == 1]
        gc.collect()
        gc.disable()
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        tracking_or_skip()
        _pypper._test_hold_sampler(True)
        for _ in range(9):          # every history starts from nothing written
            _pypper._test_wt_scan()
        # Pages the interpreter itself writes (a free slot it allocates from) are left
        # out: the test judges the others.
        # Every look at an object from Python writes its reference count: the filter
        # below and the checks write the pages they look at, once, before a scan.
        quiet = lambda group: [os_ for os_ in group if _pypper.page_history(os_[0]) == 0]
        touched, untouched = quiet(touched), quiet(untouched)
        assert len(touched) > 100 and len(untouched) > 100, (len(touched), len(untouched))
        _pypper._test_wt_scan()                      # the filter's writes: bit 0 of all
        # Objects straddling a page end would write the next (untouched) page.
        inside = [[o for o in os_ if (id(o) + 32 - 1) >> 12 == id(o) >> 12] for os_ in touched]
        _pypper._test_wt_scan()
        for os_ in inside:
            for o in os_:
                o.a = o.b
        n = _pypper._test_wt_scan()                  # the test's writes: bit 0 of touched
        hot = [_pypper.page_history(os_[0]) for os_ in touched]
        cold = [_pypper.page_history(os_[0]) for os_ in untouched]
        assert n >= len(touched), (n, len(touched))
        assert all(h == 0b111 for h in hot), hot
        assert sum(1 for h in cold if h != 0b100) <= 2, cold
        heat_hot = {_pypper.page_heat(os_[0]) for os_ in touched}
        assert heat_hot == {3 / 8}, heat_hot
        # (The checks wrote them again.) Pages written in 4 scans in a row are parked
        # (left unarmed, assumed written) until their turn in the rotation of 8 shows
        # them unwritten; 8 scans later no heat is left.
        for _ in range(8 + 1 + 9):
            _pypper._test_wt_scan()
        assert _pypper.write_tracking_stats()["parks"] >= len(touched)
        left = [_pypper.page_history(os_[0]) for os_ in touched]
        assert all(h == 0 for h in left), left
        assert _pypper.page_heat(None) is None         # static: not in Pypper's heap
        _pypper._test_hold_sampler(False)
        s = pypper.stats()
        assert s["signal"] == "write-tracking", s["signal"]
        assert s["write_tracking_scans"] >= 11
        pypper.end()
        print("ok", len(touched), len(untouched))
    """)
    assert r.stdout.startswith("ok"), r.stdout


def test_end_leaves_no_write_protection():
    r = check("""
        objs = [Rec() for _ in range(20000)]
        gc.collect()
        gc.disable()
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        tracking_or_skip()
        pages = len(by_page(objs))
        _pypper._test_hold_sampler(True)
        _pypper._test_wt_scan()
        f0 = minflt()
        for o in objs:
            o.a = 1
        armed_faults = minflt() - f0
        _pypper._test_hold_sampler(False)
        pypper.end()
        assert _pypper.page_heat(objs[0]) is None
        f0 = minflt()
        for o in objs:
            o.a = 2
        after_end = minflt() - f0
        # While armed, the first write to each page faulted; after the end, none does.
        assert armed_faults >= pages * 0.9, (armed_faults, pages)
        assert after_end <= 5, after_end
        print("ok", pages, armed_faults, after_end)
    """)
    assert r.stdout.startswith("ok"), r.stdout


def test_refused_falls_back_to_frames():
    r = check("""
        pypper.start(test_wt_errno=1)          # the kernel says EPERM (simulated)
        s = pypper.stats()
        assert s["signal"].startswith("frames (reason: userfaultfd refused (EPERM, simulated)"), s["signal"]
        assert s["write_tracking_fallbacks"] == 1 and s["write_tracking_sessions"] == 0
        assert _pypper.page_heat([]) is None
        try:
            _pypper._test_wt_scan()
        except RuntimeError as e:
            assert "frames (reason:" in str(e)
        else:
            raise AssertionError("a scan without tracking")
        assert pypper.is_running()
        pypper.end()
        pypper.start(write_tracking="off")
        assert pypper.stats()["signal"] == "frames (reason: WRITE_TRACKING=off)"
        pypper.end()
        os.environ.pop("PYPPER_WRITE_TRACKING")
        pypper.start()                          # the default
        assert pypper.stats()["signal"] == "frames (reason: WRITE_TRACKING=off)"
        pypper.end()
        print("ok")
    """)
    assert r.stdout == "ok\n", r.stdout + r.stderr
    assert "warn" not in r.stderr                 # auto: an info line only (LOG=warn)


def test_on_refused_warns_one_line():
    r = check("""
        pypper.start()
        assert pypper.stats()["signal"].startswith("frames (reason: no userfaultfd in this kernel (ENOSYS)")
        pypper.end()
        print("ok")
    """, env={"PYPPER_WRITE_TRACKING": "on", "PYPPER_TEST_WT_ERRNO": "38"})
    lines = [l for l in r.stderr.splitlines() if "signal:" in l]
    assert len(lines) == 1 and "frames (reason: no userfaultfd in this kernel" in lines[0], r.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_child_runs_no_tracking():
    r = check("""
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        objs = [Rec() for _ in range(5000)]
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        tracking_or_skip()
        _pypper._test_hold_sampler(True)
        _pypper._test_wt_scan()
        pid = os.fork()
        if pid == 0:
            ok = (_pypper.page_heat(objs[0]) is None
                  and "forked child" in pypper.stats()["signal"])
            for o in objs:
                o.a = 3
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        for o in objs[:10]:
            o.b = 4
        assert _pypper._test_wt_scan() >= 1     # the parent is still tracked
        assert _pypper.page_history(objs[0]) & 1
        _pypper._test_hold_sampler(False)
        pypper.end()
        print("ok")
    """)
    assert r.stdout == "ok\n", r.stdout + r.stderr


def test_exec_inherits_no_tracking_files():
    r = check("""
        import subprocess
        pypper.start()
        tracking_or_skip()
        links = lambda: [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                         if os.path.exists(f"/proc/self/fd/{fd}")]
        mine = links()
        assert any("userfaultfd" in l for l in mine), mine
        code = ("import os; print([os.readlink('/proc/self/fd/' + f) "
                "for f in os.listdir('/proc/self/fd') if os.path.exists('/proc/self/fd/' + f)])")
        out = subprocess.run([sys.executable, "-S", "-c", code], close_fds=False,
                             capture_output=True, text=True).stdout
        assert "userfaultfd" not in out and "pagemap" not in out, out
        pypper.end()
        print("ok")
    """)
    assert r.stdout == "ok\n", r.stdout + r.stderr


def test_huge_blocks_move_only_while_untracked():
    # A growing list's items (a huge block) move their pages with mremap in a session
    # without write tracking, and are copied while the heap is registered (a moved
    # range would lose its registration); after the end they move again. Items that
    # can grow in place do not relocate at all (a free arena after them, which the
    # heap's layout decides: since 2026-12-07 emptied pool arenas go back at once and
    # leave such gaps), so blocks are put after them first, and every relocation is
    # counted: each one a move, or none.
    grow = """
        ARENA = 1 << 20
        def buffer(o):
            b = pypper.where(o)["buffer"]
            return b["address"], b["size"]
        def grow():
            moves = pypper.heap_stats()["retention"]["span_moves"]
            blockers, a, relocations = [], list(range(300_000)), 0
            # (Made to its size, 2.4 MB of items are a page run; grown once, a span,
            # whose pages realloc can move.)
            a.append(-1)
            a.pop()
            for _ in range(6):
                at, size = buffer(a)
                end = at + (size + ARENA - 1) // ARENA * ARENA
                for _ in range(64):     # a block in the arena after the items, if free
                    blocker = bytearray(600_000)
                    blocker += b"+"     # grown: a span of its own (Objects/large.c)
                    blockers.append(blocker)
                    if buffer(blocker)[0] == end:
                        break
                a.extend(range(len(a), len(a) + len(a) // 2))
                relocations += buffer(a)[0] != at
            assert a == list(range(len(a)))
            return relocations, pypper.heap_stats()["retention"]["span_moves"] - moves
    """
    r = check(grow + """
        pypper.start()
        tracked = _pypper.write_tracking_stats()["active"]
        during = grow()
        pypper.end()
        after = grow()
        print("ok", tracked, *during, *after)
    """)
    assert r.stdout.startswith("ok"), r.stdout + r.stderr
    tracked, relocated, moved, relocated_after, moved_after = r.stdout.split()[1:]
    assert int(relocated_after) > 0 and int(moved_after) == int(relocated_after), r.stdout
    if tracked == "True":
        assert int(relocated) > 0 and int(moved) == 0, r.stdout
    r = check(grow + """
        pypper.start()
        print("ok", *grow())
        pypper.end()
    """, env={"PYPPER_WRITE_TRACKING": "off"})
    assert r.stdout.startswith("ok"), r.stdout + r.stderr
    relocated, moved = r.stdout.split()[1:]
    assert int(relocated) > 0 and int(moved) == int(relocated), r.stdout
