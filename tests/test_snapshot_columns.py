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
        pypper.start()
        for _ in range(50):
            for it in items[:100]:
                it.name
        gc.disable()                       # no collection between the two: the same objects
        snap = pypper.snapshot()
        rows = _pypper.snapshot_data(0.0)["objects"]
        gc.enable()
        assert isinstance(snap.objects, _snapshot.ObjectRows)
        n = len(snap.objects)
        # The same rows (temperatures decay in between: not compared; the table's order
        # may change as the sampler's hand-over sweeps it, and its rescans may add a
        # few objects).
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
        assert snap.hottest(20) == sorted(snap.objects, key=lambda o: o.temperature, reverse=True)[:20]
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
