"""Object temperatures: the sampler thread, the model (decay, classes), the API
(temperature, hot_objects, snapshot, save/load) and their behaviour on misuse,
threads and fork."""

import json
import textwrap

from conftest import run

PRELUDE = """
import os, sys, time, statistics, pypper, _pypper

class Item:
    __slots__ = ("value",)
    def __init__(self, value):
        self.value = value

def use(items, seconds):
    # Touch every item of `items` over and over for `seconds`.
    total = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for it in items:
            total += it.value
    return total
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
        pypper.start()
        use(hot, 1.5)
        top = pypper.hot_objects(300)
        hot_t = _pypper.temperatures(hot)
        cold_t = _pypper.temperatures(cold)
        assert None not in hot_t and None not in cold_t
        seen = sum(t > 0 for t in hot_t) / len(hot_t)
        assert seen >= 0.9, (seen, pypper.active_trace_stats())
        cold_warm = sum(t > 0 for t in cold_t) / len(cold_t)
        assert cold_warm <= 0.01, cold_warm
        assert min(t for t in hot_t if t > 0) > 0 and statistics.median(hot_t) > 0.2, hot_t
        ids = {id(x) for x in hot}
        assert top == sorted(top, key=lambda p: -p[1])
        items = [o for o, t in top if type(o) is Item]
        assert len(items) >= 150 and all(id(o) in ids for o in items), len(items)
        print("ok", pypper.temperature(hot[0]) > 0)
    """)
    assert out == "ok True\n"


def test_temperatures_decay_and_follow_the_working_set():
    out = check("""
        registry = [Item(i) for i in range(4000)]
        first, second = registry[:300], registry[2000:2300]
        pypper.start(half_life_ms=150, sample_duty=0.5)
        use(first, 1.0)
        use(second, 1.0)
        a = statistics.median(_pypper.temperatures(first))
        b = statistics.median(_pypper.temperatures(second))
        assert b > a, (a, b)
        snap = pypper.snapshot()
        klass = {o.address: o.klass for o in snap.objects}
        hot_first = sum(klass[id(x)] == "hot" for x in first)
        hot_second = sum(klass[id(x)] == "hot" for x in second)
        assert hot_second >= hot_first, (hot_first, hot_second)
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
        assert pypper.temperature(object()) is None              # born after start, no collection yet
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
        pypper.start()
        use(registry[:100], 0.5)
        snap = pypper.snapshot()
        assert len(snap.objects) >= 3000 and snap.pages
        o = next(o for o in snap.objects if o.address == id(registry[0]))
        assert o.type == "Item" and o.size >= 32 and o.tier in (0, 1)
        assert o.site is None               # allocated before the session: no site
        assert o.klass in ("hot", "warm", "cold") and 0.0 <= o.temperature <= 1.0
        for p in snap.pages:
            assert p.address % snap.page_size == 0 and 0.0 <= p.heat <= 1.0 + 1e-9
            assert p.hot_bytes + p.cold_bytes <= snap.page_size * 2
        types = snap.by_type()
        assert types["Item"]["objects"] == sum(o.type == "Item" for o in snap.objects)
        assert snap.by_site()["unknown"]["objects"] <= len(snap.objects)
        snap.save({str(path)!r})
        back = pypper.load({str(path)!r})
        assert back.objects == snap.objects and back.pages == snap.pages
        assert back.pid == os.getpid() and back.model == snap.model
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
        use(registry[:200], 0.6)
        pypper.end()
    """)
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    heat = [e for e in events if e["event"] == "heat"]
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"
    assert len(heat) >= 3
    assert all(e["page_size"] > 0 for e in heat)
    assert any(h > 0 for e in heat for _, h in e["pages"])


def test_sampler_cpu_is_bounded_and_idle_sleeps():
    out = check("""
        registry = [Item(i) for i in range(2000)]
        pypper.start(sample_duty=0.1)
        t0 = time.monotonic()
        use(registry[:100], 1.0)
        busy = pypper.active_trace_stats()
        time.sleep(0.8)
        idle = pypper.active_trace_stats()
        wall = time.monotonic() - t0
        pypper.end()
        # At most 10% of one core (plus the time it takes the GIL to hand over evidence).
        assert busy["cpu_seconds"] <= 0.1 * 1.0 * 1.5 + 0.05, busy
        assert idle["idle_sleeps"] > busy["idle_sleeps"], (busy, idle)
        assert idle["cpu_seconds"] - busy["cpu_seconds"] < 0.04, (busy, idle)
        assert busy["frame_evidence"] > 0 and busy["applies"] > 0, busy
        print("ok")
    """)
    assert out == "ok\n"


def test_start_end_loop_with_threads_and_fork():
    out = check("""
        import threading
        registry = [Item(i) for i in range(3000)]
        stop = False
        def worker(k):
            rows = []
            while not stop:
                rows.append([Item(j) for j in range(50)])
                if len(rows) > 40:
                    rows = rows[20:]
                use(registry[k * 100:(k + 1) * 100], 0.001)
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for i in range(30):
            pypper.start(sample_hz=2000, sample_duty=0.5)
            use(registry[:50], 0.01)
            pypper.temperature(registry[0])
            if i % 10 == 0:
                pypper.snapshot()
            pypper.end()
        pypper.start()
        use(registry[:50], 0.1)
        import warnings
        warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads running
        pid = os.fork()
        if pid == 0:
            ok = not pypper.is_running() and pypper.temperature(registry[0]) is None
            pypper.start()
            use(registry[:50], 0.2)
            ok = ok and pypper.temperature(registry[0]) is not None
            pypper.end()
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        use(registry[:50], 0.2)
        assert pypper.temperature(registry[0]) > 0
        pypper.end()
        stop = True
        for t in threads:
            t.join()
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
        # About one sample a 16 KiB pool: 20000 items of 48 bytes fill about 60.
        items = sum(sites[s]["objects"] for s in mine)
        assert 20 <= items <= 400, items
        pypper.end()
        pypper.start(alloc_sample=0)
        more = make_items(5000)
        gc.collect()
        assert all(o.site is None for o in pypper.snapshot().objects)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"
