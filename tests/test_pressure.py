"""The memory-pressure guard (Pypper/pressure.h, Doc/pressure.md): while the process
is short of memory, Pypper touches nothing. Made-up readings drive it through a
pause and a resume with the sampler held; real major faults (a file's pages read
after the page cache dropped them) pause it; bad thresholds are one line."""

import os
import textwrap

from conftest import BUILDDIR, run


def check(code, env=None):
    r = run(["-c", textwrap.dedent(code)], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_a_pause_leaves_collections_and_hand_overs_alone_until_calm():
    out = check('''
        import gc, os, pypper, _pypper
        gc.disable()                            # collections: only the test's
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start(pressure_majflt=400)
        _pypper._test_hold_sampler(True)    # no readings but the test's
        _pypper._test_pressure_reset()
        feed = _pypper._test_pressure_feed
        t, f = 10_000, 0
        assert not feed(t, f)                   # the first reading: a baseline
        t += 250; f += 99                       # 396 faults/s: calm
        assert not feed(t, f)
        t += 250; f += 100                      # 400/s: paused
        assert feed(t, f)
        p = pypper.pressure()
        assert p["paused"] and p["reason"] == "major_faults" and p["pauses"] == 1, p
        assert p["majflt_per_s"] == 400.0 and p["majflt_threshold"] == 400, p
        # Pypper's own tables were advised cold (MADV_COLD, Linux 5.4): reclaim takes
        # them first.
        release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
        assert pypper.stats()["pressure_own_cold"] == (release >= (5, 4)), pypper.stats()

        # Paused: a collection's survivors are left alone, a hand-over does nothing.
        lt0 = pypper.live_trace_stats()
        young = [[str(i) + "p"] for i in range(3000)]
        gc.collect(1)                           # survivors join the traced generation
        lt1 = pypper.live_trace_stats()
        assert lt1["pressure_skips"] > lt0["pressure_skips"], (lt0, lt1)
        assert lt1["survivors_walked"] == lt0["survivors_walked"], (lt0, lt1)
        assert not _pypper.live_trace_knows(young[5])
        later = [[str(i) + "q"] for i in range(3000)]
        _pypper._test_hand_over()
        lt2 = pypper.live_trace_stats()
        assert lt2["young_walked"] == lt1["young_walked"], (lt1, lt2)
        assert not _pypper.live_trace_knows(later[5])

        # Calm is under half the threshold, for the hold (2 s = 8 windows).
        t += 250; f += 50                       # 200/s: not calm yet
        assert feed(t, f)
        # The pause in progress counts up to the last reading (a capture's end record
        # is written while the program may still be paused).
        assert pypper.stats()["pressure_paused_ms"] == 250, pypper.stats()
        n = 0
        while feed(t + 250, f + 49):
            t += 250; f += 49; n += 1
            assert n < 100
        assert n == 7, n
        p = pypper.pressure()
        assert not p["paused"] and p["reason"] == "none", p
        s = pypper.stats()
        assert s["pressure_pauses"] >= 1 and s["pressure_paused_ms"] >= 2250, s

        # Resumed: hand-overs walk the young lists again, collections take their
        # survivors.
        _pypper._test_hand_over()
        assert _pypper.live_trace_knows(later[5])
        lt3 = pypper.live_trace_stats()
        newer = [[str(i) + "r"] for i in range(3000)]
        gc.collect(1)
        lt4 = pypper.live_trace_stats()
        assert lt4["survivors_walked"] > lt3["survivors_walked"], (lt3, lt4)
        assert lt4["pressure_skips"] == lt3["pressure_skips"], (lt3, lt4)
        assert _pypper.live_trace_knows(newer[5])
        pypper.end()
        print("ok")
    ''')
    assert out == "ok\n"


def test_major_faults_of_the_process_pause_it(tmp_path):
    # A file on disk (not tmpfs: its pages must be droppable), read page by page
    # after the page cache dropped them: one major fault per page.
    where = os.path.join(BUILDDIR, "build")
    out = check(f'''
        import mmap, os, resource, tempfile, time, pypper, _pypper
        size = 64 << 20
        fd, path = tempfile.mkstemp(dir={where!r}, prefix="pressure-test-")
        try:
            os.write(fd, b"\\x01" * size)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            m = mmap.mmap(fd, size, prot=mmap.PROT_READ)
            m.madvise(mmap.MADV_RANDOM)             # no read-ahead: a fault per page
            _pypper._test_hold_sampler(True)    # parked from its start: no burst first
            pypper.start(pressure_majflt=50, pressure_psi=0)
            _pypper._test_hold_sampler(True)
            _pypper._test_pressure_reset()
            assert not _pypper._test_pressure_check()   # the baseline
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
            total = sum(m[i] for i in range(0, size, 4096))
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt - f0
            time.sleep(0.3)                         # at least one window since the baseline
            paused = _pypper._test_pressure_check()
            p = pypper.pressure()
            pypper.end()
            m.close()
        finally:
            os.close(fd)
            os.unlink(path)
        assert total == size // 4096
        if faults < 4096:
            print("cached", faults)
        else:
            assert paused and p["reason"] == "major_faults" and p["majflt_per_s"] >= 50, (faults, p)
            assert p["psi"] is None and p["psi_threshold"] == 0.0, p
            print("ok")
    ''')
    assert out in ("ok\n",) or out.startswith("cached"), out
    if out.startswith("cached"):
        import pytest
        pytest.skip("the kernel kept the file's pages cached: " + out.strip())


def test_bad_thresholds_are_one_line():
    for name, value in (("PYPPER_PRESSURE_MAJFLT", "-1"), ("PYPPER_PRESSURE_PSI", "101"),
                        ("PYPPER_PRESSURE_PSI", "x")):
        r = run(["-c", "pass"], env={name: value})
        assert r.returncode == 2, (name, value, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pypper: bad value"), r.stderr
    r = run(["-c", "import pypper; print(pypper.pressure()['majflt_threshold'])"],
            env={"PYPPER_ENABLE": "1", "PYPPER_PRESSURE_MAJFLT": "0"})
    assert r.returncode == 0 and r.stdout == "0\n", r.stderr


def test_pages_out_of_memory_are_not_read():
    # The map of the heap's pages out of memory (Objects/swap_map.h), forced on as if
    # the process swapped: a calloc'ed buffer's untouched pages are out of memory
    # until read; live objects are in; forced off, everything may be read.
    out = check('''
        import ctypes, pypper, _pypper
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        _pypper._test_hold_sampler(True)
        may = _pypper._test_swap_map_may_touch
        buf = bytes(8 << 20)                    # calloc: zero pages never touched
        addr = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value
        middle = addr + (4 << 20)
        live = [1, 2, 3]
        assert may(middle) and not pypper.pressure()["swap_map"]["active"]
        _pypper._test_swap_map_force(1)
        _pypper._test_hand_over()               # the step refreshes the map
        m = pypper.pressure()["swap_map"]
        assert m["active"] and m["refreshes"] == 1 and m["pages_out"] > 0, m
        assert not may(middle) and may(id(live))
        assert buf[4 << 20] == 0                # read: now in memory
        _pypper._test_swap_map_force(1)
        _pypper._test_hand_over()
        assert may(middle)
        assert not may(middle + (1 << 20))
        assert pypper.pressure()["swap_map"]["skipped_reads"] >= 2
        _pypper._test_swap_map_force(0)
        _pypper._test_hand_over()
        assert may(middle + (1 << 20)) and not pypper.pressure()["swap_map"]["active"]
        _pypper._test_swap_map_force(-1)
        pypper.end()
        print("ok")
    ''')
    assert out == "ok\n"


def test_a_snapshot_does_not_read_objects_in_swap():
    # A traced object whose page the map says is out of memory: its snapshot row has
    # its size from the heap's metadata, no type and no owned buffer (reading them would
    # fault the page back in).
    out = check('''
        import gc, pypper, _pypper
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        _pypper._test_hold_sampler(True)
        table = [list(range(100)) for _ in range(2000)]
        gc.collect()
        victim = table[1000]
        assert _pypper.live_trace_knows(victim)
        before = {r.address: r for r in pypper.snapshot().objects if r.address == id(victim)}
        _pypper._test_swap_map_mark(id(victim))
        rows = [r for r in pypper.snapshot().objects if r.address == id(victim)]
        assert len(rows) == 1 and before[id(victim)].type == "list", (rows, before)
        r = rows[0]
        assert r.type == "(in swap: not read)" and r.owned_bytes == 0, r
        assert r.size == before[id(victim)].size
        assert pypper.pressure()["swap_map"]["skipped_reads"] >= 1
        _pypper._test_swap_map_force(0)
        _pypper._test_hand_over()               # a refresh: the mark is gone
        rows = [r for r in pypper.snapshot().objects if r.address == id(victim)]
        assert rows[0].type == "list" and rows[0].owned_bytes > 0, rows
        _pypper._test_swap_map_force(-1)
        pypper.end()
        print("ok")
    ''')
    assert out == "ok\n"


def test_a_snapshot_does_not_read_what_a_buffer_refers_to_in_swap():
    # Each page of an owned buffer is classed by the objects it refers to
    # (Python/buffer_heat.c); an item whose page the map says is out of memory is not
    # read (its reference count would fault the page back in): the snapshot skips it.
    out = check('''
        import gc, pypper, _pypper
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        _pypper._test_hold_sampler(True)
        col = [float(i) + 0.5 for i in range(5000)]
        gc.collect()
        assert _pypper.live_trace_knows(col)
        def use(c):                             # c: new in this frame (a use of col)
            _pypper._test_sample()
        use(col)
        assert pypper.temperature(col) > 0
        _pypper._test_swap_map_mark(id(col[0]))
        before = pypper.pressure()["swap_map"]["skipped_reads"]
        snap = pypper.snapshot()
        assert pypper.pressure()["swap_map"]["skipped_reads"] > before
        assert any(o.address == id(col) for o in snap.objects)
        _pypper._test_swap_map_force(-1)
        pypper.end()
        print("ok")
    ''')
    assert out == "ok\n"


def test_short_of_cpu_the_sampler_backs_off_until_calm():
    # The CPU-shortage guard (Pypper/cpu_guard.h): made-up readings of the main
    # thread's run-queue wait, with the sampler held so that no real reading comes in.
    out = check('''
        import pypper, _pypper
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start(pressure_cpu=30)
        _pypper._test_hold_sampler(True)
        _pypper._test_cpu_reset()
        feed = _pypper._test_cpu_feed
        t, run, wait = 10_000, 0, 0
        assert not feed(t, run, wait)           # a baseline
        t += 250; run += 180; wait += 70        # 28%: calm
        assert not feed(t, run, wait)
        c = pypper.pressure()["cpu"]
        assert c["wait_pct"] == 28.0 and not c["short"] and c["sampler_duty_factor"] == 1.0, c
        for _ in range(2):                      # 40% twice: short
            t += 250; run += 150; wait += 100
            short = feed(t, run, wait)
        c = pypper.pressure()["cpu"]
        assert short and c["short"] and c["shortages"] == 1 and c["sampler_duty_factor"] == 0.25, c
        assert c["wait_threshold"] == 30.0, c
        n = 0
        while feed(t + 250, run + 250, wait):   # calm: the hold is 2 s = 8 windows
            t += 250; run += 250; n += 1
            assert n < 100
        assert n == 7, n
        c = pypper.pressure()["cpu"]
        assert not c["short"] and 1.9 < c["short_seconds"] < 2.6, c
        s = pypper.stats()
        assert s["cpu_shortages"] == 1 and s["cpu_short_ms"] >= 2000, s
        # A reading from the kernel: this thread's schedstat.
        _pypper._test_cpu_reset()
        assert _pypper._test_cpu_check() == 1.0
        assert pypper.pressure()["cpu"]["available"] is True
        pypper.end()
        print("ok")
    ''')
    assert out == "ok\n"


def test_pressure_cpu_zero_never_backs_off():
    out = check('''
        import pypper, _pypper
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start(pressure_cpu=0)
        _pypper._test_hold_sampler(True)
        _pypper._test_cpu_reset()
        t = 0
        assert not _pypper._test_cpu_feed(t, 0, 0)
        for i in range(1, 20):
            assert not _pypper._test_cpu_feed(t + 250 * i, 10 * i, 240 * i)
        c = pypper.pressure()["cpu"]
        assert c["shortages"] == 0 and c["wait_pct"] == 96.0, c
        pypper.end()
        print("ok")
    ''')
    assert out == "ok\n"
