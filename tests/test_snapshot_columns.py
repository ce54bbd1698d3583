"""Snapshots as columns: snapshot() gets the objects as columns (ObjectRows), the same
rows as snapshot_data's tuples; the aggregates from the columns equal those from the
rows; save() streams the same JSON one json.dumps would write, and load() reads it
back; bad arguments to snapshot_rows_json are one clear error."""

import textwrap

from conftest import run


def check(code, **kw):
    r = run(["-c", textwrap.dedent(code)], **kw)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_columns_match_rows_and_file(tmp_path):
    path = tmp_path / "s.pypper"
    out = check(f"""
        import gc, json, zlib, pypper, _pypper
        from pypper import _snapshot

        class Item:
            def __init__(self, i):
                self.i = i
                self.name = "n%d" % i

        items = [Item(i) for i in range(3000)]
        blobs = [bytearray(100 + i) for i in range(200)]
        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        _pypper._test_hold_sampler(True)   # no hand-over between the two reads below
        for _ in range(50):
            for it in items[:100]:
                it.name
        gc.disable()                       # no collection between the two: the same objects
        snap = pypper.snapshot()
        rows = _pypper.snapshot_data(0.0)["objects"]
        gc.enable()
        assert isinstance(snap.objects, _snapshot.ObjectRows)
        n = len(snap.objects)
        # The same rows (temperatures decay in between: not compared). A hand-over
        # between the two (the sampler not held) walked about 6,400 new objects in.
        old = {{r[0]: (r[1], r[2], r[3], r[6], r[7], r[8]) for r in rows}}
        new = {{o.address: (o.size, o.type, o.tier, o.site, o.owned_bytes, o.site_kind)
               for o in snap.objects}}
        assert len(new) == n and abs(len(old) - n) <= 10, (len(old), n)
        common = old.keys() & new.keys()
        assert len(common) >= n - 10 and all(old[a] == new[a] for a in common)
        # Sequence behaviour.
        assert snap.objects[-1] == list(snap.objects)[-1] and snap.objects[0] == next(iter(snap.objects))
        assert snap.objects[2:5] == list(snap.objects)[2:5]
        try:
            snap.objects[n]
        except IndexError:
            pass
        else:
            raise AssertionError("no IndexError")
        # Aggregates from the columns equal those from the rows.
        assert snap.by_type() == snap._aggregate(lambda o: o.type)
        assert snap.hottest(20, user=False) == sorted(snap.objects, key=lambda o: o.temperature, reverse=True)[:20]
        # By default the program's own data only, hottest first.
        user = snap.hottest(10)
        assert user and all(_snapshot.is_user_object(o.type, o.site, o.site_kind) for o in user), user
        assert [o.temperature for o in user] == sorted((o.temperature for o in user), reverse=True)
        assert snap.by_type()["Item"]["objects"] == 3000
        # The file: the same JSON as one dump of to_dict(), loads back equal.
        snap.save({str(path)!r})
        raw = open({str(path)!r}, "rb").read()
        assert raw.startswith(_snapshot.MAGIC)
        text = zlib.decompress(raw[len(_snapshot.MAGIC):])
        assert text == json.dumps(snap.to_dict(), separators=(",", ":")).encode()
        back = pypper.load({str(path)!r})
        assert back.objects == snap.objects and snap.objects == back.objects
        assert back.pages == snap.pages and back.by_type() == snap.by_type()
        assert snap.pages == sorted(snap.pages) and len(snap.pages) > 0
        pypper.end()
        print("ok", n)
    """)
    assert out.startswith("ok ")


def test_rows_json_bad_arguments():
    out = check("""
        import _pypper
        for args in [(b"", 1, 0, 0, 1, [], [], [], [], []),          # n > capacity
                     (b"x" * 44, 1, 1, 0, 2, [], [], [], [], []),     # stop > n
                     (b"x" * 10, 1, 1, 0, 1, [], [], [], [], []),     # buffer too short
                     (bytes(44), 1, 1, 0, 1, [], [], [], [], [])]:    # tables too short
            try:
                _pypper.snapshot_rows_json(*args)
            except ValueError as e:
                print(str(e).split(":")[0])
        try:
            _pypper.snapshot_rows_json(b"", 0, 0, 0, 0, None, [], [], [], [])
        except TypeError:
            print("TypeError")
        print(_pypper.snapshot_rows_json(b"", 0, 0, 0, 0, [], [], [], [], []))
    """)
    assert out.splitlines() == ["snapshot_rows_json"] * 4 + ["TypeError", "b''"]


LOADED = """
import gc, json, random, sys, zlib, pypper, _pypper
from pypper import _snapshot

class Item:
    def __init__(self, i):
        self.i = i
        self.name = "n%d" % i

items = [Item(i) for i in range(2000)]
log = [[i] for i in range(500)]
pypper.start()
for _ in range(30):
    for it in items[:100]:
        it.name
snap = pypper.snapshot()
pypper.end()
path = sys.argv[1]
snap.save(path)
raw = open(path, "rb").read()
text = zlib.decompress(raw[len(_snapshot.MAGIC):])

def slow(text):
    return _snapshot._snapshot_from_text(path, [text])

def same(a, b):
    assert a.objects == b.objects and b.objects == a.objects
    assert a.pages == b.pages and a.owned_classes == b.owned_classes
    assert a.by_type() == b.by_type() and a.by_site() == b.by_site()
    assert a.hottest(10, user=False) == b.hottest(10, user=False) and a.hottest(10) == b.hottest(10)
    assert a.site_coverage() == b.site_coverage()
    assert (a.time, a.uptime, a.pid, a.page_size, a.model) == (b.time, b.uptime, b.pid, b.page_size, b.model)
"""


def check_loaded(code, path, timeout=120):
    r = run(["-c", LOADED + textwrap.dedent(code), str(path)], timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_load_reads_rows_into_columns(tmp_path):
    """pypper.load reads a file as save() wrote it into columns (no object per row),
    equal to what json makes of it, whatever the pieces the text is decompressed in;
    a file laid out otherwise (json.dumps' own spacing) is read through json."""
    out = check_loaded("""
        back = pypper.load(path)
        assert isinstance(back.objects, _snapshot.ObjectRows), type(back.objects)
        same(back, slow(text))
        same(back, snap)
        # Rows cut at every place by the pieces of text.
        for chunk in (5, 64, 1000):
            _snapshot.LOAD_CHUNK = chunk
            same(_snapshot._load_columns(raw), back)
        _snapshot.LOAD_CHUNK = 1 << 22
        # What json reads differently, the columns path leaves to it: a field again
        # after the objects (the last counts), no pages, a name written two ways, a
        # megabyte without a row's end, a page's tier out of range.
        def via(t):
            open(path, "wb").write(_snapshot.MAGIC + zlib.compress(t))
            try:
                return pypper.load(path)
            except _snapshot.SnapshotError as e:
                return str(e).split(": ", 1)[1]
        assert via(text[:-1] + b',"pid":2}').pid == 2
        d = json.loads(text)
        del d["pages"]
        assert "no 'pages' field" in via(json.dumps(d, separators=(",", ":")).encode())
        at = text.index(b'"cold"', text.index(b'"objects":['))
        again = via(text[:at] + b'"\\\\u0063old"' + text[at + 6:])
        assert not isinstance(again, str), again
        same(again, back)
        at = text.index(b'"objects":[') + len(b'"objects":[')
        _snapshot.LOAD_CHUNK = 1 << 16
        same(via(text[:at] + b" " * (2 << 20) + text[at:]), back)
        _snapshot.LOAD_CHUNK = 1 << 22
        d = json.loads(text)
        d["pages"][0][1] = 2
        assert "unknown tier 2" in via(json.dumps(d, separators=(",", ":")).encode())
        # Spaced JSON: not the layout the columns path reads; json reads it.
        spaced = json.dumps(snap.to_dict()).encode()
        other = _snapshot.MAGIC + zlib.compress(spaced)
        assert _snapshot._load_columns(other) is None
        open(path, "wb").write(other)
        loose = pypper.load(path)
        assert isinstance(loose.objects, list)
        same(loose, back)
        print("ok", len(back.objects))
    """, tmp_path / "s.snap")
    assert out.startswith("ok ")


def test_load_of_damaged_rows_never_crashes(tmp_path):
    """Bytes of the JSON text changed, cut or duplicated at random: load() gives a
    snapshot (the text still reads) or SnapshotError, and the columns path and json
    agree on which."""
    out = check_loaded("""
        # A file of fixed content (a live snapshot's addresses and temperatures vary
        # from run to run, and so would which damages the seeded mutations make).
        S = _snapshot
        rows = [S.ObjectInfo(0x10000 + 64 * i, 32 + i % 5 * 16, ("Item", "dict", "list")[i % 3],
                             S.TIERS[i % 2], (i % 10) / 10, None if i % 4 == 0 else f"app.py:{i % 7} (f)",
                             ("cold", "warm", "hot")[i % 3], (i % 3) * 100,
                             ("sampled", "inferred", "not sampled")[i % 3]) for i in range(300)]
        snap = S.Snapshot(rows, [S.PageInfo(0x10000 + 4096 * k, "fast", 0.5, 100, 200) for k in range(5)],
                          page_size=4096, time=1.0, uptime=2.0, pid=3, model={"half_life_ms": 1000.0},
                          owned_classes={0x10000: (1, 2, 3)}, owned_heat={0x10000: 1.5})
        snap.save(path)
        raw = open(path, "rb").read()
        text = zlib.decompress(raw[len(_snapshot.MAGIC):])
        rng = random.Random(3)
        start = text.index(b'"objects":[')
        outcomes = {"loaded": 0, "error": 0}
        for k in range(400):
            t = bytearray(text)
            at = rng.randrange(start, len(t))
            what = k % 4
            if what == 0:
                t[at] = rng.choice(b'[]{},:"0123456789.-enul \\\\x')
            elif what == 1:
                del t[at:]
            elif what == 2:
                del t[at:at + rng.randrange(1, 40)]
            else:
                t[at:at] = t[at:at + rng.randrange(1, 40)]
            open(path, "wb").write(_snapshot.MAGIC + zlib.compress(bytes(t)))
            try:
                got = pypper.load(path)
            except _snapshot.SnapshotError:
                try:
                    slow(bytes(t))
                except _snapshot.SnapshotError:
                    outcomes["error"] += 1
                    continue
                raise AssertionError(("json read it, load did not", k))
            fast = _snapshot._load_columns(open(path, "rb").read())
            if fast is not None:
                same(fast, slow(bytes(t)))
            outcomes["loaded"] += 1
        assert outcomes["error"] > 100 and outcomes["loaded"] > 10, outcomes
        # Bytes after the compressed stream, whatever the pieces the text comes in
        # (the loop that read the pieces once spun for ever there).
        for chunk in (64, len(text), 1 << 22):
            _snapshot.LOAD_CHUNK = chunk
            for junk in (b"junk", bytes(5000)):
                open(path, "wb").write(raw + junk)
                try:
                    pypper.load(path)
                except _snapshot.SnapshotError as e:
                    assert "data after the end" in str(e), e
                else:
                    raise AssertionError("loaded with bytes after its end")
        print("ok", outcomes)
    """, tmp_path / "s.snap", timeout=120)
    assert out.startswith("ok ")


def test_rows_parse_bad_arguments():
    out = check("""
        import _pypper
        cols = [bytearray() for _ in range(9)]
        tables = [{} for _ in range(5)]
        for args in [(b"]", 2, False, cols, tables),                     # pos past the end
                     (b"]", 0, False, cols[:8], tables),                 # 8 columns
                     (b"]", 0, False, cols, tables[:4]),                 # 4 tables
                     (b"]", 0, False, [bytes()] * 9, tables),            # not bytearrays
                     (b"[1,2]", 0, False, cols, tables),                 # not a row
                     (b'[0,0,"t","fast",0.0,null,"cold",0,null]x', 0, False, cols, tables)]:
            try:
                print(_pypper.snapshot_rows_parse(*args))
            except ValueError as e:
                print(str(e).split(":")[0])
        print(_pypper.snapshot_rows_parse(b' [0,0,"t","fast",0.5,null,"cold",0,null] ,', 0, False, cols, tables))
        print(_pypper.snapshot_rows_parse(b'[0,0,"t","fast",0.5,null,"cold",0,null] ]', 0, False, cols, tables))
        print([len(c) for c in cols])
        print([sorted(t) for t in tables])
    """)
    assert out.splitlines() == [
        "snapshot_rows_parse", "snapshot_rows_parse", "snapshot_rows_parse", "snapshot_rows_parse",
        "snapshot rows", "snapshot rows",
        "(40, True, False)", "(41, True, True)",
        "[16, 16, 16, 16, 8, 8, 2, 2, 2]",
        "[[b'\"t\"'], [b'null'], [b'\"fast\"'], [b'\"cold\"'], [b'null']]"], out
