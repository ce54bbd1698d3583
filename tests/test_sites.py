"""Allocation sites, owned-buffer sizes, tier names and hot_objects' user filter in
snapshots (Doc/snapshots.md): sizes against sys.getsizeof, sites of large blocks,
grown buffers and inferred neighbours, "before session" apart from "not sampled",
version 1 snapshot files, and the newcomer programs' share of bytes with a site."""

import json
import os
import shutil
import tempfile
import textwrap
import zlib

from conftest import SRCDIR, run

PRELUDE = """
import gc, os, sys, pypper, _pypper

def rows(snap, objs):
    by_addr = {o.address: o for o in snap.objects}
    return [by_addr.get(id(x)) for x in objs]

_snapshot = pypper.snapshot

def _settled_snapshot(*args, **kw):
    # The live trace takes what a collection left in steps, which hand-overs run; a
    # slow (ASan) or loaded run may not have run them when a test takes its snapshot,
    # and a snapshot without some of the objects infers other sites (a sampled
    # neighbour missing): run them first, at most 2,000.
    if pypper.is_running():
        for _ in range(2000):
            p = _pypper._test_live_trace_progress(None)
            if not (p["first_pass_open"] or p["pending"] or p["chunked"]):
                break
            _pypper._test_hand_over()
    return _snapshot(*args, **kw)

pypper.snapshot = _settled_snapshot

def taken(objs):
    # Until the live trace has taken objs (every 97th of them is asked): it takes
    # what a collection left in steps, which a slow build (ASan) may not have run by
    # the time the test asks; each hand-over runs one. At most 2,000.
    probe = objs[::97] + objs[-1:]
    for _ in range(2000):
        if all(_pypper.live_trace_knows(x) for x in probe):
            return
        _pypper._test_hand_over()
    raise AssertionError("the live trace did not take the objects")

def driven():
    # A session whose sampler thread is parked and whose clock stands still: the test
    # samples (_pypper._test_sample) itself.
    _pypper._test_hold_sampler(True)    # parked from its start: no burst first
    pypper.start()
    _pypper._test_hold_sampler(True)
    _pypper._test_set_clock(_pypper._test_set_clock(None))
"""


def check(code, timeout=180, env=None):
    r = run(["-c", PRELUDE + textwrap.dedent(code)], timeout=timeout, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_sizes_are_getsizeof_plus_owned_buffers():
    out = check("""
        from collections import OrderedDict
        pypper.start()
        objs = []
        for n in (0, 3, 10, 70, 1000, 5000, 100000):
            objs.append(list(range(n)))
            objs.append({i: i for i in range(n)})
            objs.append(set(range(n)))
            objs.append(bytearray(n * 10))
            objs.append(OrderedDict((i, i) for i in range(n)))
        gc.collect()
        snap = pypper.snapshot()
        bad = []
        for obj, o in zip(objs, rows(snap, objs)):
            assert o is not None, type(obj)
            want = sys.getsizeof(obj)
            have = o.size + o.owned_bytes
            # Blocks are rounded up: 16 bytes (pools), 64 (medium), a page (large),
            # for the body and for each buffer.
            slack = 16 + (16 if o.owned_bytes <= 512 else 64 if o.owned_bytes <= 32768 else 4096)
            if isinstance(obj, OrderedDict):
                slack += 16 * len(obj) + 4096      # its nodes, each rounded to a block
            if not (want <= have <= want + slack):
                bad.append((type(obj).__name__, len(obj), want, o.size, o.owned_bytes))
        assert not bad, bad
        # Small containers keep their items inline or in nothing of their own.
        small = rows(snap, [objs[2]])[0]                   # set(): the small table
        assert small.owned_bytes == 0
        big = rows(snap, [objs[-5]])[0]                    # list of 100000
        assert big.owned_bytes >= 100000 * 8
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_column_lists_count_their_item_arrays():
    # The case: 40 columns of 14 MB showed as 13.7 KB.
    out = check("""
        driven()        # no evidence: every object hot or cold, none warm, whatever the timing
        columns = [[float(i) for i in range(44000)] for _ in range(40)]
        gc.collect()
        snap = pypper.snapshot()
        cols = rows(snap, columns)
        assert all(o.owned_bytes >= 44000 * 8 for o in cols), [o.owned_bytes for o in cols][:3]
        lists = snap.by_type()["list"]
        assert lists["bytes"] == lists["body_bytes"] + lists["owned_bytes"]
        assert lists["owned_bytes"] >= 40 * 44000 * 8, lists
        # Pages count each buffer on its own pages: the pages' hot and cold bytes
        # are exactly those of the objects, bodies and buffers.
        page_bytes = sum(p.hot_bytes + p.cold_bytes for p in snap.pages)
        # (A buffer's bytes in the classes of its pages: snap.owned_classes.)
        def hot_cold(o):
            parts = snap.owned_classes.get(o.address)
            body = o.size if o.klass != "warm" else 0
            return body + (parts[0] + parts[2] if parts else o.owned_bytes if o.klass != "warm" else 0)
        obj_bytes = sum(hot_cold(o) for o in snap.objects)
        assert page_bytes == obj_bytes and page_bytes >= 40 * 44000 * 8, (page_bytes, obj_bytes)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_owned_buffers_are_as_cold_as_what_they_hold(tmp_path):
    """A hot list that is only appended to (an access log) and a hot dict of which a
    few keys are looked up are used through a small part of their buffers: each page
    of a buffer takes its owner's temperature or, when lower, that of the hottest
    objects it refers to (snapshot.owned_classes, counted so by the pages and
    by_type). A page of a buffer is read whenever one of the objects it refers to is
    reached through it: as often as all of them together, which, spread over its
    cache lines, is its temperature. A dict whose looked-up keys are spread over its
    table (one in 25) is read on every page of it, at 7 keys' rate per page; one whose
    tail holds a sprinkle of keys looked up once (an LRU cache's rare users) is cold
    there, not as hot as its hottest key (that made every page of a Zipf-read cache
    hot); an OrderedDict's node index and nodes are as used as their keys."""
    out = check("""
        class Item:
            def __init__(self, v):
                self.v = v
        driven()
        log = [Item(i) for i in range(60000)]
        table = {i: Item(i) for i in range(20000)}
        spread = {i: Item(i) for i in range(20000)}
        whole = [Item(i) for i in range(3000)]
        sprinkled = {i: Item(i) for i in range(20000)}
        from collections import OrderedDict
        lru = OrderedDict((i, Item(i)) for i in range(20000))
        gc.collect()
        assert _pypper.live_trace_knows(log)    # the live trace takes them for the question
        def append(lst):                        # lst: new in this frame at each call
            lst.append(None)
            _pypper._test_sample()
        def look(d, keys):
            for k in keys:
                v = d[k]                        # the value: new in a slot
                _pypper._test_sample()
        def walk(items):
            for it in items:
                _pypper._test_sample()
        def touch(d, keys):
            for k in keys:
                v = d[k]
                d.move_to_end(k)
                _pypper._test_sample()
        look(sprinkled, range(500, 20000, 12))
        for _ in range(3):
            for _ in range(200):
                append(log)
            look(table, range(500))
            look(spread, range(0, 20000, 25))
            walk(whole)
            look(sprinkled, range(500))
            touch(lru, range(500))
        _pypper._test_hand_over()
        snap = pypper.snapshot()
        row = {o.address: o for o in snap.objects}
        for obj in (log, table, spread, whole, sprinkled, lru):
            assert row[id(obj)].klass == "hot", (type(obj), row[id(obj)])
        cold, warm, hot = snap.owned_classes[id(log)]
        assert cold >= 0.95 * row[id(log)].owned_bytes, (cold, warm, hot, row[id(log)].owned_bytes)
        # The mean temperatures count the buffer's bytes at theirs, not the owner's (a
        # hot dict with a cold table had a mean of 0.65 and 64 hot bytes of 906,704).
        heat, owned = snap.owned_heat[id(log)], row[id(log)].owned_bytes
        assert heat < 0.3 * row[id(log)].temperature * owned, (heat, owned, row[id(log)])
        mine = pypper.Snapshot([row[id(log)]], [], page_size=4096, time=0, uptime=0, pid=0,
                               model={}, owned_classes={id(log): (cold, warm, hot)},
                               owned_heat={id(log): heat})
        mean = mine.by_type()["list"]["mean_temperature"]
        assert abs(mean - (row[id(log)].temperature * row[id(log)].size + heat) / (row[id(log)].size + owned)) < 1e-9
        # 500 of 20,000 entries (24 bytes each) and their index slots: a few pages.
        cold, warm, hot = snap.owned_classes[id(table)]
        owned = row[id(table)].owned_bytes
        assert 0 < hot <= 0.1 * owned and cold >= 0.8 * owned, (cold, warm, hot, owned)
        # Every page of its entries and index slots holds looked-up keys (its room for
        # 1,845 more entries, 11 pages, is read by nothing).
        cold, warm, hot = snap.owned_classes[id(spread)]
        owned = row[id(spread)].owned_bytes
        assert hot + warm >= 0.8 * owned and cold <= 0.15 * owned, (cold, warm, hot, owned)
        # Its head and its index slots (2,048 keys a page, 170 of them looked up) are
        # hot, its entries' pages (170 entries, 14 looked up once) not.
        cold, warm, hot = snap.owned_classes[id(sprinkled)]
        owned = row[id(sprinkled)].owned_bytes
        assert 0 < hot <= 0.2 * owned, (cold, warm, hot, owned)
        # Its table, its node index and its 20,000 nodes: hot where the 500 keys are.
        cold, warm, hot = snap.owned_classes[id(lru)]
        owned = row[id(lru)].owned_bytes
        assert 0 < hot <= 0.2 * owned and cold >= 0.6 * owned, (cold, warm, hot, owned)
        # A list whose every item is used: its buffer is as hot as it is.
        assert id(whole) not in snap.owned_classes or snap.owned_classes[id(whole)][2] >= 0.9 * row[id(whole)].owned_bytes
        # The aggregates and the pages count the buffers' bytes in those classes.
        page_hot = sum(p.hot_bytes for p in snap.pages)
        type_hot = sum(t["hot_bytes"] for t in snap.by_type().values())
        assert page_hot == type_hot, (page_hot, type_hot)
        path = os.environ["SNAPSHOT_FILE"]
        snap.save(path)
        again = pypper.load(path)
        assert again.owned_classes == snap.owned_classes and again.by_type() == snap.by_type()
        assert again.owned_heat == snap.owned_heat and again.by_site() == snap.by_site()
        pypper.end()
        print("ok")
    """, env={"SNAPSHOT_FILE": str(tmp_path / "s.snap")})
    assert out == "ok\n"


def test_a_short_lists_item_array_is_as_hot_as_the_list():
    """A buffer of one cache line or less (a list of up to 8 items) takes its owner's
    temperature: whatever reads the list's items reads that line. Its items are not
    looked at (that was 60% of a record's walk over a BFS graph's 200,000 adjacency
    lists, and a record's cost spaces a capture's heat frames); a longer list's array
    still takes, where lower, the temperature of what it refers to."""
    out = check("""
        class Item:
            pass
        driven()
        short = [Item() for _ in range(4)]
        longer = [Item() for _ in range(400)]
        gc.collect()                            # the live trace takes them
        def use(lst):                           # lst: new in this frame at each call
            _pypper._test_sample()
        for _ in range(300):
            use(short)
            use(longer)
        _pypper._test_hand_over()
        snap = pypper.snapshot()
        row = {o.address: o for o in snap.objects}
        for lst in (short, longer):
            assert row[id(lst)].klass == "hot", row[id(lst)]
        # (No entry in owned_classes: all of the buffer in its owner's class.)
        assert id(short) not in snap.owned_classes, snap.owned_classes.get(id(short))
        cold, warm, hot = snap.owned_classes[id(longer)]
        assert cold == row[id(longer)].owned_bytes, (cold, warm, hot)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_sites_of_large_blocks_grown_buffers_and_neighbours():
    out = check("""
        class Item:
            def __init__(self, i):
                self.i = i

        def big_blobs():
            return [bytes(100000 + i) for i in range(5)]

        def big_buffers():
            return [bytearray(100000) for _ in range(5)]

        def grow(lst, n):
            for i in range(n):
                lst.append(i)

        def make_items(n):
            return [Item(i) for i in range(n)]

        early = []                              # before the session, grown in it
        kept_before = [object() for _ in range(10)]
        pypper.start()
        blobs = big_blobs()
        buffers = big_buffers()
        grow(early, 50000)
        items = make_items(30000)
        gc.collect()
        snap = pypper.snapshot()

        # Blocks above 512 bytes always get the site that made them.
        for o in rows(snap, blobs):
            assert o.site_kind == "sampled" and "big_blobs" in o.site, o
        # A small object owning a large buffer: the buffer's site, when its own
        # block (opening no pool) was not recorded.
        for o in rows(snap, buffers):
            assert o.site_kind in ("sampled", "buffer", "inferred") and "big_buffers" in o.site, o
        # A list's item array carries the line that last grew it, even for a list
        # that existed before the session.
        o = rows(snap, [early])[0]
        assert o.site_kind == "buffer" and "(grow)" in o.site, o
        # Items: the pool openers are sampled, the rest inferred from them.
        kinds = [o.site_kind for o in rows(snap, items)]
        assert 20 <= kinds.count("sampled") <= 1000, kinds.count("sampled")
        assert kinds.count("sampled") + kinds.count("inferred") >= 29700, set(kinds)
        assert all("make_items" in o.site for o in rows(snap, items) if o.site)
        # Objects from before the session cannot have a site, and say so.
        assert {o.site_kind for o in rows(snap, kept_before)} == {"before session"}
        assert all(o.site is None for o in rows(snap, kept_before))
        sites = snap.by_site()
        assert "before session" in sites and "unknown" not in sites
        cov = snap.site_coverage()
        mine = sum(o.size + o.owned_bytes for o in snap.objects if o.site_kind != "before session")
        known = sum(o.size + o.owned_bytes for o in snap.objects if o.site)
        assert known >= 0.95 * mine, cov
        assert abs(cov["known_share"] * sum(v for k, v in cov.items() if k != "known_share")
                   - known) < 1
        stats = _pypper.alloc_sites_stats()
        assert stats["running"] and stats["recorded_large"] >= 5 and stats["recorded_small"] > 0
        pypper.end()
        assert not _pypper.alloc_sites_stats()["running"]
        print("ok")
    """)
    assert out == "ok\n"


def test_what_the_library_makes_has_the_programs_line():
    # random.choices() and json.loads() build what the program asked for: the site is
    # the program's line that called them, not the library's (a newcomer's 200,000
    # Zipf keys showed under random.py:488, folded away with the library's own data).
    # With no frame of the program on the stack, the library's line stays.
    out = check("""
        import json, random
        rng = random.Random(1)
        def make_keys():
            return rng.choices(range(1000), k=200000)
        def load_doc(text):
            return json.loads(text)
        text = json.dumps([[i, str(i)] for i in range(20000)])
        pypper.start()
        keys = make_keys()
        doc = load_doc(text)
        gc.collect()
        snap = pypper.snapshot()
        k, d = rows(snap, [keys, doc])
        assert "(make_keys)" in k.site, k
        assert "(load_doc)" in d.site, d
        assert "random.py" not in k.site and "json" not in d.site
        assert _pypper.alloc_sites_stats()["via_library"] > 0
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_namedtuple_records_have_the_programs_line(tmp_path):
    # A namedtuple's __new__ is compiled from a string: its frame ("<string>:1") has no
    # source, and the records it makes took that site (a newcomer's 150,000 records,
    # 16 MiB, folded with the library's objects, 2026-12-06). The program's line with
    # a file stands for it; a program run with -c keeps its "<string>" lines.
    prog = tmp_path / "records.py"
    prog.write_text(textwrap.dedent("""
        import collections, gc, pypper
        Sale = collections.namedtuple("Sale", "order store price")
        def build(n):
            return [Sale(i, str(i) + "s", float(i)) for i in range(n)]
        pypper.start()
        sales = build(50000)
        gc.collect()
        snap = pypper.snapshot()
        row = {o.address: o for o in snap.objects}[id(sales[25000])]
        print(row.type, row.site.split("/")[-1])
        pypper.end()
    """))
    r = run([str(prog)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Sale records.py:"), r.stdout
    assert r.stdout.rstrip().endswith("(build)"), r.stdout
    out = check("""
        import collections
        Rec = collections.namedtuple("Rec", "a b")
        pypper.start()
        recs = [Rec(i, str(i)) for i in range(50000)]
        gc.collect()
        row = rows(pypper.snapshot(), [recs[25000]])[0]
        print(row.site.startswith("<string>"))
        pypper.end()
    """)
    assert out == "True\n"


def test_a_pools_untraced_bytes_take_the_site_of_what_survives():
    # A cache keeps 16 floats per entry; between two entries a loop makes and drops
    # ints of the same 32-byte size class, which take most of the allocation samples.
    # A pool's record stays with its block while that lives, so the floats' pools
    # name the line that made them (the latest record named the loop's line: a
    # newcomer's 2.4 MiB of cached floats showed 0.12 MiB at their line).
    out = check("""
        from pypper import _capture
        def make_values(k):
            return [float(k) + j for j in range(16)]
        def churn(n):
            i = 0
            for _ in range(n):
                i += 1000003
            return i
        pypper.start()
        keep = []
        for r in range(5000):
            keep.append(make_values(r))         # 80,000 floats, 2.4 MiB
            churn(50)
        rec = _capture.groups_record()
        mine = sum(u["bytes"] for u in rec["untraced"] if "(make_values)" in u["site"])
        loop = sum(u["bytes"] for u in rec["untraced"] if "(churn)" in u["site"])
        floats = 80000 * 32
        assert mine >= 0.8 * floats and loop <= 0.1 * floats, (mine, loop, floats)
        assert _pypper.alloc_sites_stats()["kept_small"] > 0
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_sites_do_not_keep_their_code_alive():
    # A site used to hold a reference to its code object: a program that compiles
    # and drops code (exec'ed source, module bodies) kept all of it while traced.
    out = check("""
        import weakref
        pypper.start()
        blobs, refs, prints = [], [], {}
        for i in range(40):
            code = compile(f"def make{i}():\\n    return bytes(4000 + {i})\\nblob = make{i}()\\n",
                           f"<gen{i}>", "exec")
            ns = {}
            exec(code, ns)
            blobs.append(ns["blob"])
            inner = ns[f"make{i}"].__code__
            prints[f"<gen{i}>"] = _pypper.profile_fingerprint(inner)
            refs += [weakref.ref(code), weakref.ref(inner)]
            del code, ns, inner
        gc.collect()
        assert all(r() is None for r in refs), sum(r() is not None for r in refs)
        stats = _pypper.alloc_sites_stats()
        assert stats["sites_gone"] >= 40 and stats["codes_gone"] >= 40, stats
        assert not stats["hold_code"], stats
        # Their sites still name them, in snapshots and in what a profile saves.
        snap = pypper.snapshot()
        for i, o in enumerate(rows(snap, blobs)):
            assert o.site_kind == "sampled" and o.site == f"<gen{i}>:2 (make{i})", o
        settled, site_rows = _pypper.profile_sites()
        saved = {r[2]: r for r in site_rows if r[2].startswith("<gen")}
        assert len(saved) == 40, sorted(saved)
        for name, row in saved.items():
            assert row[0] == prints[name] and row[3].startswith("make") and row[5] == 2, row
        # A live code object's site is unchanged.
        def keep():
            return bytes(5000)
        kept = [keep()]
        gc.collect()
        o = rows(pypper.snapshot(), kept)[0]
        assert o.site_kind == "sampled" and "(keep)" in o.site, o
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_sites_hold_their_code_only_when_no_code_watcher_is_free():
    # The interpreter has 8 code watchers. Sessions give theirs back (ten sessions in
    # a row each get one); with all 8 taken by the program, sites hold references to
    # their code (said once) and drop them at the end.
    out = """
        import ctypes, weakref
        for _ in range(10):
            pypper.start()
            assert not _pypper.alloc_sites_stats()["hold_code"]
            pypper.end()
        CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
        noop = CB(lambda event, co: 0)
        add = ctypes.pythonapi.PyCode_AddWatcher
        add.argtypes, add.restype = [CB], ctypes.c_int
        ids = []
        try:
            while len(ids) < 64:
                ids.append(add(noop))
        except RuntimeError as e:               # "no more code watcher IDs available"
            assert "watcher" in str(e), e
        assert len(ids) == 8, ids
        pypper.start()
        assert _pypper.alloc_sites_stats()["hold_code"]
        code = compile("blob = bytes(6000)\\n", "<held>", "exec")
        ns = {}
        exec(code, ns)
        ref = weakref.ref(code)
        keep = [ns["blob"]]
        del code, ns
        gc.collect()
        assert ref() is not None                # held by its site
        o = rows(pypper.snapshot(), keep)[0]
        assert o.site == "<held>:1 (<module>)", o
        pypper.end()
        gc.collect()
        assert ref() is None                    # given back at the end
        clear = ctypes.pythonapi.PyCode_ClearWatcher
        clear.argtypes, clear.restype = [ctypes.c_int], ctypes.c_int
        for i in ids:
            assert clear(i) == 0
        pypper.start()
        assert not _pypper.alloc_sites_stats()["hold_code"]
        pypper.end()
        print("ok")
    """
    r = run(["-c", PRELUDE + textwrap.dedent(out)], env={"PYPPER_LOG": "warn"}, timeout=180)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stdout + r.stderr
    warned = [l for l in r.stderr.splitlines() if "keep their code objects alive" in l]
    assert len(warned) == 1, r.stderr


def test_alloc_sample_n_and_zero():
    out = check("""
        class Item:
            pass
        def make_items(n):
            return [Item() for i in range(n)]
        pypper.start(alloc_sample=3)
        items = make_items(30000)
        gc.collect()
        snap = pypper.snapshot()
        kinds = [o.site_kind for o in rows(snap, items)]
        stats = _pypper.alloc_sites_stats()
        assert stats["recorded_by_bytes"] > 0, stats
        # One allocation per 12 KiB is recorded (and every large one); the rest is inferred
        # from recorded items in the same pool or arena.
        assert kinds.count("sampled") >= 5 and kinds.count("inferred") >= 20000, (
            kinds.count("sampled"), kinds.count("inferred"), kinds.count("not sampled"))
        pypper.end()
        pypper.start(alloc_sample=0)
        more = make_items(3000) + [bytearray(1 << 20)]
        gc.collect()
        snap = pypper.snapshot()
        assert all(o.site is None for o in snap.objects)
        assert {o.site_kind for o in rows(snap, more)} == {"not sampled"}
        assert not _pypper.alloc_sites_stats()["running"]
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_relocated_buffer_keeps_its_site():
    out = check("""
        def fill(n):
            return [i for i in range(n)]
        pypper.start()
        lst = fill(20000)
        gc.collect()
        before = rows(pypper.snapshot(), [lst])[0]
        assert "(fill)" in before.site, before
        assert pypper.relocate(lst, "slow") > 0
        after = rows(pypper.snapshot(), [lst])[0]
        # The same buffer size; a page run's block offset in its first page may differ
        # (runs are colored, Objects/large.c), so its usable size may, by under a page.
        assert after.site == before.site, after
        assert abs(after.owned_bytes - before.owned_bytes) < 4096, (before, after)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_tier_is_where_name():
    out = check("""
        pypper.start()
        a = [object() for _ in range(100)]
        with pypper.placement("slow"):
            b = [object() for _ in range(100)]
        gc.collect()
        snap = pypper.snapshot()
        for o, obj in zip(rows(snap, a + b), a + b):
            assert o.tier == pypper.where(obj)["tier"], (o, pypper.where(obj))
        assert {o.tier for o in rows(snap, b)} == {"slow"}
        assert {p.tier for p in snap.pages} <= {"fast", "slow"}
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_hot_objects_user_first():
    out = check("""
        import random
        from pypper import _snapshot
        class Row:
            def __init__(self, i):
                self.i = i
        driven()
        rng = random.Random(1)
        env = os.environ
        table = [Row(i) for i in range(2000)]
        gc.collect()                            # the live trace takes them
        def touch(rows):
            total = 0
            for _ in range(3):
                for r in rows:
                    total += r.i
                    rng.random()
                    env.get("HOME")
                    _pypper._test_sample()
            return total
        touch(table[:200])
        every = pypper.hot_objects(300, user=False)
        mine = pypper.hot_objects(300)
        names = {type(o).__name__ for o, t in every}
        # Without the filter interpreter internals are among the hottest.
        internal = names & (_snapshot.INTERNAL_TYPES | {"Random", "_Environ"})
        assert internal, names
        kept = {type(o).__name__ for o, t in mine}
        assert not kept & (_snapshot.INTERNAL_TYPES | {"Random", "_Environ", "module"}), kept
        assert sum(isinstance(o, Row) for o, t in mine) == 200, kept
        assert all(t > 0 for o, t in mine)
        assert [t for o, t in mine] == sorted((t for o, t in mine), reverse=True)
        assert pypper.hot_objects(0) == [] and pypper.hot_objects(0, user=False) == []
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_user_object_rules():
    from pypper import _snapshot as S
    import random
    import collections
    stdlib_site = os.path.join(os.path.dirname(random.__file__), "random.py") + ":10 (f)"
    assert not S.is_user_object("function", stdlib_site, "sampled")
    assert not S.is_user_object("Random", stdlib_site, "sampled", random.Random())
    # Plain data that library code built (json.loads) is the program's data.
    assert S.is_user_object("list", stdlib_site, "sampled", [1])
    assert not S.is_user_object("ObjectInfo", stdlib_site, "sampled",
                                S.ObjectInfo(0, 0, "x", "fast", 0.0, None, "cold"))
    assert S.is_user_object("list", "/home/me/app.py:3 (main)", "sampled")
    assert not S.is_user_object("function", None, "not sampled")
    assert not S.is_user_object("dict", None, "before session")
    assert S.is_user_object("Row", None, "before session")
    assert not S.is_user_object("Random", None, "not sampled", random.Random())
    assert S.is_user_object("OrderedDict", None, "not sampled", collections.OrderedDict())
    assert S.is_library_site("<frozen importlib._bootstrap>:488 (_call_with_frames_removed)")


def test_snapshot_files_version_2_and_1(tmp_path):
    import pypper
    from pypper import _snapshot as S
    path = tmp_path / "v2.pyps"
    out = check(f"""
        pypper.start()
        data = [list(range(1000)) for _ in range(10)]
        gc.collect()
        snap = pypper.snapshot()
        snap.save({str(path)!r})
        back = pypper.load({str(path)!r})
        assert back.objects == snap.objects and back.pages == snap.pages
        o = rows(back, data)[0]
        assert o.owned_bytes >= 8000 and o.site_kind and o.tier in ("fast", "slow")
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"
    # A version 1 file (as the previous release wrote it) still loads.
    v1 = {"format": "pypper-snapshot", "version": 1, "time": 1.0, "uptime": 2.0, "pid": 7,
          "page_size": 4096, "model": {"half_life_ms": 1000.0},
          "objects": [[4096, 64, "list", 1, 0.5, "app.py:3 (main)", "warm"],
                      [8192, 32, "str", 0, 0.0, None, "cold"]],
          "pages": [[4096, 1, 0.25, 0, 64]]}
    p1 = tmp_path / "v1.pyps"
    p1.write_bytes(S.MAGIC + zlib.compress(json.dumps(v1).encode()))
    snap = pypper.load(p1)
    a, b = snap.objects
    assert a.tier == "slow" and a.owned_bytes == 0 and a.site_kind is None and a.site
    assert b.tier == "fast" and b.site is None
    assert snap.pages[0].tier == "slow"
    assert snap.by_site()["unknown"]["objects"] == 1
    assert snap.by_type()["list"]["bytes"] == 64


def test_newcomer_programs_have_sites_for_most_bytes():
    # The three programs of issue 14, at half scale: of the bytes allocated in the
    # session (objects and the buffers they own), most have a site; the rest of the
    # snapshot is the interpreter's own objects from before it. One snapshot at exit
    # (--at-exit: timed snapshots made the figure depend on when they fell).
    # The figure depends on the heap's layout, which the length of the program's path
    # changes (a pool keeps one recorded block: Doc/snapshots.md, "A known weakness");
    # sites_bfs measures about 96% or about 77% (its label strings without a site),
    # by layout. So each program runs from six paths whose lengths do not depend on
    # the run (pytest's tmp_path grows with its run number; the figures are the same
    # from run to run, but a change in what the interpreter or Pypper allocates moves
    # them, and so does the checkout's path): on average 85% or more, 70% or more from
    # each, 88% or more from half of them (the scheme before sampling by bytes gave
    # 0.3-2%).
    tool = os.path.join(SRCDIR, "Tools", "bench", "site_share.py")
    names = ("sites_lru", "sites_columns", "sites_bfs")
    shares = {n: [] for n in names}
    # "pss" and 8 random characters in the temporary directory: the same length in
    # every run, so the six paths give the same layouts each time.
    top = tempfile.mkdtemp(prefix="pss")
    try:
        for layout in range(6):
            where = os.path.join(top, "p" * (1 + 7 * layout))
            os.mkdir(where)
            progs = []
            for n in names:
                shutil.copy(os.path.join(SRCDIR, "tests", "programs", f"{n}.py"), where)
                progs.append(os.path.join(where, f"{n}.py"))
            out = os.path.join(top, f"site_share_{layout}.json")
            r = run([tool, "--at-exit", "--scale", "0.5", "--json", out, *progs], timeout=600)
            assert r.returncode == 0, r.stdout + r.stderr
            with open(out) as f:
                rows = json.load(f)
            assert set(rows) == set(names), r.stdout
            for name, d in rows.items():
                session = d["bytes"] - d["kinds"].get("before session", 0)
                assert session > 0, (name, d)
                shares[name].append(round(d["known"] / session, 3))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    for name, got in shares.items():
        # (sites_bfs, 2026-12-05: 0.964 0.765 0.965 0.961 0.782 0.778; sites_lru 0.887-0.965.
        # 2026-12-06, the pool marks in the heap's pool records: sites_lru 0.96 0.967
        # 0.896 0.889 0.966 0.877 from /work/main, 0.966 0.975 0.968 0.895 0.974 0.894
        # for the build before; with the emptied pools' marks kept, 0.96 0.977 0.896
        # 0.896 0.883 0.877: the layouts move, the share does not.)
        assert (sum(got) / len(got) >= 0.85 and min(got) >= 0.70
                and sum(g >= 0.88 for g in got) >= len(got) // 2), (name, got)


def test_freed_recorded_block_passes_no_site_on():
    # A temporary that opened a pool and died must not give its site to the object
    # allocated next at its address (the wrapper forgets recorded blocks when freed).
    out = check("""
        class Node:
            def __init__(self, i):
                self.label = f"node{i}"        # str(i): a 48-byte temporary, like a Node

        def make(n):
            return [Node(i) for i in range(10000, 10000 + n)]

        pypper.start()
        nodes = make(30000)
        gc.collect()
        snap = pypper.snapshot()
        sites = [o.site for o in rows(snap, nodes)]
        assert all("(make)" in s for s in sites if s), {s for s in sites if s and "(make)" not in s}
        assert sum(s is not None for s in sites) >= 0.99 * len(sites)
        labels = [o.site for o in rows(snap, [n.label for n in nodes]) if o]
        assert labels and sum("__init__" in (s or "") for s in labels) >= 0.9 * len(labels)
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_block_recycled_by_a_free_list_takes_the_new_line():
    # A temporary list (line A) dies into the list free list and the next list made,
    # on line B, takes its block with no allocator call either way. A recorded block
    # must not pass line A on to it: the drop-in's _Py_NewReference sees the object
    # made (python3's own, Python/new_reference.c). The same for tuples and dicts; and
    # tracemalloc, which libpython's own _Py_NewReference tells, still names line B.
    out = check("""
        import tracemalloc
        line_a = sys._getframe().f_lineno + 3
        def make(k):
            # a one-item temporary list, a dict and a tuple (line A)
            t = bytes([k & 0xFF]) * 512 + bytes(len({"k": k})) + bytes(len((k, k + 1)))
            s = [k * 0.5 + i for i in range(16)]; d = {"k": k}; u = (k, s)   # line B
            return (t, s, d, u)
        pypper.start()
        assert _pypper.alloc_sites_stats()["free_lists_seen"]
        keep = [make(k) for k in range(20000)]
        gc.collect()
        snap = pypper.snapshot()
        recycled = _pypper.alloc_sites_stats()["recycled"]
        lines = {}
        for kind, objs, most in (("list", [r[1] for r in keep], 0.9),
                                 ("dict", [r[2] for r in keep], 0.9),
                                 ("tuple", [r[3] for r in keep], 0.001)):
            # Their own sites (a dict's keys table may come from a free list of
            # tables, which is no object: "buffer" sites are left out.) The tuples'
            # unsampled rest gets none: lines allocating tuples in turn.
            # The function's own site ("lines in turn") is no line of either.
            got = [o.site for o in rows(snap, objs)
                   if o and o.site and o.site_kind in ("sampled", "inferred")]
            assert all(x.endswith("(make, lines in turn)") for x in got if "lines in turn" in x)
            got = [x for x in got if "lines in turn" not in x]
            assert len(got) >= most * len(objs), (kind, len(got))
            lines[kind] = sorted({int(x.split(":")[1].split()[0]) - line_a for x in got})
        pypper.end()
        tracemalloc.start()
        again = [make(k) for k in range(100)]
        tb = tracemalloc.get_object_traceback(again[-1][1])
        tracemalloc.stop()
        print(recycled > 0, lines, tb[0].lineno - line_a)
    """)
    assert out == "True {'list': [1], 'dict': [1], 'tuple': [1]} 1\n", out


def test_lines_that_alternate_are_not_guessed():
    """A loop that makes a list on one line every 25th turn and on another otherwise
    (a BFS graph's hot community and its cold rest): each pool holds both, and a
    neighbour's site would name the wrong line for most of them (the hot lists were
    all given the cold line). Such objects get no line: the function's own site at
    most (here the module's, "lines in turn"); none gets the other line's."""
    out = check("""
        import random
        pypper.start()
        rnd = random.Random(3)
        line_a = sys._getframe().f_lineno + 4
        g = {}
        for v in range(50000):
            if v % 25 == 0:
                g[v] = [rnd.random() for _ in range(8)]     # line A
            else:
                g[v] = [rnd.random() for _ in range(8)]     # line B
        gc.collect()
        snap = pypper.snapshot()
        by_addr = {o.address: o for o in snap.objects if o.type == "list"}
        wrong = sizes = 0
        for v, lst in g.items():
            o = by_addr.get(id(lst))
            if o is None or not o.site:
                continue
            if o.site.endswith("(<module>, lines in turn)"):
                continue
            sizes += 1
            line = int(o.site.split(":")[1].split()[0])
            want = line_a if v % 25 == 0 else line_a + 2
            wrong += line != want
        # The island rule counts each line's share in samples by size class.
        assert _pypper.alloc_sites_stats()["sample_classes"] >= 2
        pypper.end()
        print(wrong, sizes > 0)
    """)
    assert out == "0 True\n", out


def test_blocks_made_in_turn_at_many_lines_each_get_their_own():
    """The recording's memo of sites (Python/alloc_sites.c: 64 slots by code,
    instruction and calling code) must never hand one line's site to another: a loop
    that makes blocks above 512 bytes (each recorded) at 80 lines in turn, more lines
    than slots, from a function called by two others, gives every block the line that
    made it."""
    body = "".join(f"    out.append(bytes({600 + k}))\n" for k in range(80))
    src = "def make(out):\n" + body + "def one(out):\n    make(out)\ndef two(out):\n    make(out)\n"
    out = check(f"""
        ns = {{}}
        exec(compile({src!r}, "made_here.py", "exec"), ns)
        pypper.start()
        blocks = []
        for i in range(30):
            (ns["one"] if i % 2 else ns["two"])(blocks)
        gc.collect()
        snap = pypper.snapshot()
        wrong = [(len(b), o and o.site) for b, o in zip(blocks, rows(snap, blocks))
                 if not o or not o.site
                 or not o.site.startswith(f"made_here.py:{{len(b) - 600 + 2}} ")]
        print(len(blocks), wrong[:3], len(wrong))
        pypper.end()
    """)
    assert out == "2400 [] 0\n", out


def test_lines_in_turn_of_one_function_give_the_function():
    """A function that builds a record from dicts made on two of its lines, in turn
    (a request handler's session and its preferences): which line made an unsampled
    dict is not known, the function is. Those dicts get the function's own site, at
    its first line ("lines in turn"); most bytes have a site."""
    out = check("""
        first = sys._getframe().f_lineno + 1
        def new_session(uid):
            prefs = {"theme": "dark", "tz": "UTC", "uid": uid}
            return {"user": uid, "prefs": prefs, "n": uid + 1}
        pypper.start()
        sessions = [new_session(i) for i in range(60000)]
        gc.collect()
        objs = [d for s in sessions for d in (s, s["prefs"])]
        taken(objs)
        snap = pypper.snapshot()
        sites = [o.site for o in rows(snap, objs) if o]
        fn = f"new_session, lines in turn)"
        by_fn = [x for x in sites if x and x.endswith(fn)]
        lines = {int(x.split(":")[1].split()[0]) - first for x in by_fn}
        print(len(by_fn) > 0.5 * len(objs), lines, sum(x is None for x in sites) < 0.1 * len(objs))
        pypper.end()
    """)
    assert out == "True {0} True\n", out


def test_lines_in_turn_of_a_function_and_one_it_calls_give_the_caller():
    """A loop that makes a session id on one of its lines and calls a function that
    makes the session's strings on its own (a newcomer's request handler: 26 of its
    66 MiB, in the same size class, had no site): the lines are of two functions, and
    the one that both lie within is the loop's, whose site the strings get ("lines in
    turn"), for those of the called function's lines too. Each sampled line keeps the
    function that called its own (one level; two callers: none)."""
    out = check("""
        first = sys._getframe().f_lineno + 1
        def main():
            out = {}
            for uid in range(60000):
                sid = f"s{uid:011d}x"
                out[sid] = new_session(uid)
            return out
        def new_session(uid):
            return {"user": f"user{uid:07d}", "email": f"u{uid:07d}@ex.io"}
        pypper.start()
        sessions = main()
        gc.collect()
        objs = [x for sid, s in sessions.items() for x in (sid, s["user"], s["email"])]
        taken(objs)
        snap = pypper.snapshot()
        sites = [o.site for o in rows(snap, objs) if o]
        by_main = [x for x in sites if x and x.endswith("(main, lines in turn)")]
        lines = {int(x.split(":")[1].split()[0]) - first for x in by_main}
        print(len(by_main) > 0.5 * len(objs), lines, sum(x is None for x in sites) < 0.1 * len(objs))
        pypper.end()
    """)
    assert out == "True {0} True\n", out


def test_pypper_runs_own_allocations_are_no_sites_of_the_program(tmp_path):
    """Under `pypper run`, Pypper's own Python code allocates on the program's thread
    (the capture's set-up, the line that runs the program) and on the recorder's: none
    of it is a site, and none lends its line to the program's objects by inference
    (an LRU cache's audit tuples, allocated among a record's tuples, had 64 of 17,314
    at their line and the rest at none or at _capture.py:109)."""
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent("""
        import gc, pypper

        def big(a, b, c):
            x = [a, b, c, a + b, b + c, a * b, b * c, a - c]
            return x, {"a": a, "b": b, "x": x}, [(a, b), (b, c), (c, a)]

        gc.collect()
        snap = pypper.snapshot()
        row = {o.address: o for o in snap.objects}.get(id(big.__code__))
        own = sorted({str(o.site) for o in snap.objects
                      if o.site and os.sep + "pypper" + os.sep in str(o.site)})
        print(own[:3], row is not None and row.site is not None and "prog.py" not in row.site)
    """).replace("import gc,", "import os, gc,"))
    r = run(["-m", "pypper", "run", "-o", str(tmp_path / "c.capture"), str(prog)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0] == "[] False", r.stdout


def test_a_quiet_thread_records_no_site():
    """_pypper._quiet_thread(True): the thread's allocations are Pypper's (a recorder's
    records): no site, counted; the sample that comes due on it goes to the program's
    next allocation."""
    out = check("""
        pypper.start(alloc_sample=1)
        def made_quietly():
            return [(i, -i) for i in range(20000)]
        def made():
            return [(i, -i) for i in range(20000)]
        _pypper._quiet_thread(True)
        quiet = made_quietly()
        _pypper._quiet_thread(False)
        loud = made()
        gc.collect()
        snap = pypper.snapshot()
        rows = {o.address: o for o in snap.objects}
        def sites(objs):
            return {str(rows[id(t)].site).split()[-1] for t in objs if id(t) in rows and rows[id(t)].site}
        stats = _pypper.alloc_sites_stats()
        print(sites(quiet) & {"(made_quietly)"}, "(made)" in sites(loud), stats["quiet_thread_blocks"] > 0)
        pypper.end()
    """)
    assert out == "set() True True\n", out


def test_a_later_session_takes_no_site_of_an_earlier_one():
    # Sites are numbered per session, and the pools' marks live in the heap's pool
    # records: a session's start must clear the marks left by the one before, or the
    # objects of the first session would take the second one's sites of those numbers.
    out = check("""
        class Item:
            def __init__(self, i):
                self.i = i

        def make_items(n):
            return [Item(i) for i in range(n)]

        def other_lines():
            out = []
            for i in range(40):
                out.append([bytearray(600 + i)])
                out.append(str(i) * 3)
                out.append((i, str(i)))
            return out

        pypper.start()
        items = make_items(30000)
        big = [bytes(1000 + i) for i in range(200)]
        pypper.end()
        pypper.start()
        fresh = other_lines()
        assert _pypper.alloc_sites_stats()["sites"] >= 2
        gc.collect()
        snap = pypper.snapshot()
        stale = [o.site for o in rows(snap, items + big) if o and o.site]
        assert not stale, stale[:5]
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"
