"""The heatmap feature: the PNG writer and canvas (pypper._png), reading heat traces,
snapshots and the access oracle's dumps and drawing them (pypper._heatmap), and
`python3 -m pypper heatmap`."""

import importlib.util
import json
import os
import random
import struct
import zlib

import pytest

from conftest import SRCDIR, run
from pypper import _heatmap, _png

BASE = 0x7F0000000000
PAGE = 4096
HOT = bytes(_heatmap.colormap(1.0))
COLD = bytes(_heatmap.colormap(0.0))
NO_DATA = bytes(_heatmap.NO_DATA)
WHITE = b"\xff\xff\xff"


# ---------------------------------------------------------------- helpers

def read_png(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB PNG, checking its structure."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 4:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(body), f"bad CRC on {kind}"
        chunks.append((kind, body[4:]))
        pos += 12 + length
    assert pos == len(data)
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1])
    assert (depth, colour, compression, filtering, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * 3 + 1
    assert len(raw) == stride * height
    rows = [raw[y * stride:(y + 1) * stride] for y in range(height)]
    assert all(row[0] == 0 for row in rows)      # the writer uses filter type 0
    return width, height, [row[1:] for row in rows]


def pixel(rows, x, y):
    return rows[y][x * 3:x * 3 + 3]


def column_of(rows, x):
    return [pixel(rows, x, y) for y in range(len(rows))]


def write_trace(path, columns, source=None):
    """A heat trace: columns is [(time, [[address, heat], ...]), ...]."""
    head = {"event": "start", "format": "pypper-trace", "format_version": 1, "time": 0.0}
    if source:
        head["source"] = source
    lines = [head, {"event": "tick", "time": 0.5}]
    lines += [{"event": "heat", "time": t, "page_size": PAGE, "pages": pages}
              for t, pages in columns]
    lines.append({"event": "end", "time": 99.0})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def band_trace(path, hot=range(10, 30), npages=100, ncolumns=20, source=None):
    """Pages BASE.. of which `hot` have heat 100 and the others 1, at every column."""
    pages = [[BASE + i * PAGE, 100 if i in hot else 1] for i in range(npages)]
    return write_trace(path, [(1000.0 + c * 0.5, pages) for c in range(ncolumns)], source)


def snapshot_bytes(time, heats, **extra):
    """A snapshot file's content; heats is [[address, heat], ...]."""
    doc = {"format": "pypper-snapshot", "version": 1, "time": time, "uptime": time - 100,
           "pid": 1234, "page_size": PAGE,
           "objects": [[BASE + 16, 64, "dict", "fast", 0.9, "app.py:3"]],
           "pages": [[a, "fast" if h > 0.5 else "slow", h, 2048, 2048] for a, h in heats],
           "model": {"name": "refcount"}}
    doc.update(extra)
    return _heatmap.SNAPSHOT_MAGIC + zlib.compress(json.dumps(doc).encode())


def dump_bytes(records, seq=0, pid=4242, time_ms=1000, instrs=0, header_size=80,
               granule=16, record_size=16, count=None, padding=b""):
    """An oracle dump file's content (Tools/oracle/README.md, "Dump file format"), built
    here independently of pypper._heatmap; records is [(granule address, loads, stores)]."""
    header = struct.pack("<8sIIQQQQQIIIIQ", b"PYORACL1", header_size, granule,
                         len(records) if count is None else count,
                         sum(r[1] for r in records), sum(r[2] for r in records), instrs,
                         time_ms, seq, pid, 1, record_size, 0)
    assert len(header) == 80
    body = b"".join(struct.pack("<QII", *r) for r in records)
    return header + padding + body


def band_dump(hot, npages=40, **header):
    """A dump touching pages BASE.. (two granules each): `hot` pages 100 accesses a
    granule, the others 1."""
    records = []
    for i in range(npages):
        n = 100 if i in hot else 1
        records += [(BASE + i * PAGE, n, 0), (BASE + i * PAGE + 2048, 0, n)]
    return dump_bytes(records, **header)


# ---------------------------------------------------------------- PNG and canvas

def test_write_png_round_trip(tmp_path):
    rows = [bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]), bytes([10, 20, 30] * 3)]
    _png.write_png(tmp_path / "t.png", 3, 2, rows)
    width, height, back = read_png(tmp_path / "t.png")
    assert (width, height) == (3, 2) and back == rows


@pytest.mark.parametrize("width, height, rows", [
    (0, 1, []), (2, 1, [b"\0" * 6, b"\0" * 6]), (2, 1, [b"\0" * 5])])
def test_write_png_rejects_bad_shapes(tmp_path, width, height, rows):
    with pytest.raises(ValueError):
        _png.write_png(tmp_path / "t.png", width, height, rows)


def test_canvas_draws_and_clips(tmp_path):
    canvas = _png.Canvas(20, 10, (0, 0, 0))
    canvas.fill_rect(-5, -5, 8, 7, (1, 2, 3))          # clipped to (0, 0)-(3, 2)
    canvas.set_pixel(19, 9, (9, 9, 9))
    canvas.set_pixel(20, 10, (9, 9, 9))                # outside: ignored
    canvas.put_row(17, 5, bytes([7, 7, 7]) * 5)        # only 3 pixels fit
    width = canvas.draw_text(6, 2, "0", (255, 255, 255))
    assert width == _png.text_width("0") == 5
    assert canvas.get_pixel(2, 1) == (1, 2, 3) and canvas.get_pixel(3, 2) == (0, 0, 0)
    assert canvas.get_pixel(19, 9) == (9, 9, 9)
    assert [canvas.get_pixel(x, 5) for x in (16, 17, 19)] == [(0, 0, 0), (7, 7, 7), (7, 7, 7)]
    # '0' starts with the row 0x0E: three lit pixels in the middle of five.
    black, white = (0, 0, 0), (255, 255, 255)
    assert [canvas.get_pixel(6 + i, 2) for i in range(5)] == [black, white, white, white, black]
    assert _png.text_width("hot %x", scale=2) == 2 * (6 * 6 - 1)
    canvas.save(tmp_path / "c.png")
    assert read_png(tmp_path / "c.png")[2] == canvas.rows()


def test_font_covers_labels():
    needed = "0123456789abcdefxABCDEFXYZ.-:/%() "
    assert all(ch in _png.FONT for ch in needed)
    assert all(len(glyph) == 7 and max(glyph) < 32 for glyph in _png.FONT.values())


# ---------------------------------------------------------------- reading inputs

def test_load_heat_trace(tmp_path):
    path = write_trace(tmp_path / "h.jsonl", [
        (2.0, [[BASE + PAGE, 3], [BASE, 0.5]]),
        (1.0, [[BASE, 1], [BASE, 4]]),                   # listed twice: the larger heat
    ], source="oracle")
    series = _heatmap.load_series(path)
    assert (series.name, series.source, series.page_size) == ("h.jsonl", "oracle", PAGE)
    assert series.columns == [(1.0, {BASE: 4}), (2.0, {BASE + PAGE: 3, BASE: 0.5})]
    assert series.pages() == [BASE, BASE + PAGE]
    assert _heatmap.load_series(band_trace(tmp_path / "b.jsonl")).source == "pypper"


def test_load_snapshot_file_directory_and_glob(tmp_path):
    one = tmp_path / "one.snap"
    one.write_bytes(snapshot_bytes(50.0, [[BASE, 0.25], [BASE + 3 * PAGE, 1.0]]))
    series = _heatmap.load_series(one)
    assert (series.name, series.page_size, series.source) == ("one.snap", PAGE, "pypper")
    assert series.columns == [(50.0, {BASE: 0.25, BASE + 3 * PAGE: 1.0})]

    folder = tmp_path / "snaps"
    folder.mkdir()
    for name, time in (("a", 30.0), ("b", 10.0), ("c", 20.0)):   # names not in time order
        (folder / f"{name}.snap").write_bytes(snapshot_bytes(time, [[BASE, time]]))
    (folder / ".hidden").write_text("ignored")
    series = _heatmap.load_series(folder)
    assert series.name == "snaps"
    assert [t for t, _ in series.columns] == [10.0, 20.0, 30.0]
    assert [c[BASE] for _, c in series.columns] == [10.0, 20.0, 30.0]
    globbed = _heatmap.load_series(str(folder / "[ab].snap"))
    assert [t for t, _ in globbed.columns] == [10.0, 30.0]


def test_oracle_snapshot_source(tmp_path):
    path = tmp_path / "o.snap"
    path.write_bytes(snapshot_bytes(1.0, [[BASE, 1]], source="oracle"))
    assert _heatmap.load_series(path).source == "oracle"


def _corrupt_inputs():
    """{file name: (content, what the error says)}"""
    good = snapshot_bytes(5.0, [[BASE, 0.5]])
    trace_head = json.dumps({"event": "start", "format": "pypper-trace"}) + "\n"
    heat = {"event": "heat", "time": 1.0, "page_size": PAGE, "pages": [[BASE, 1]]}
    records = [(BASE, 1, 2), (BASE + 16, 3, 4), (BASE + PAGE, 5, 0)]
    dump = dump_bytes(records)
    return {
        "empty": (b"", "empty file"),
        "binary": (bytes(range(256)), "neither"),
        "not_trace.json": (b'{"format": "other"}\n', "first line"),
        "pretty.json": (b'{\n "format": "pypper-trace"\n}\n', "first line"),
        "cut.jsonl": ((trace_head + json.dumps(heat)[:-9]).encode(), "truncated or corrupt"),
        "no_heat.jsonl": ((trace_head + '{"event": "end"}\n').encode(), "no heat events"),
        "bad_address.jsonl": ((trace_head + json.dumps(dict(heat, pages=[["0x1", 1]]))).encode(),
                              "page address"),
        "nan_heat.jsonl": ((trace_head + json.dumps(dict(heat, pages=[[BASE, float("nan")]])))
                           .encode(), "finite number"),
        "negative.jsonl": ((trace_head + json.dumps(dict(heat, pages=[[BASE, -1]]))).encode(),
                           "finite number"),
        "short_entry.jsonl": ((trace_head + json.dumps(dict(heat, pages=[[BASE]]))).encode(),
                              r"\[address, heat\]"),
        "no_time.jsonl": ((trace_head + json.dumps(dict(heat, time=None))).encode(), "time"),
        "page_size.jsonl": ((trace_head + json.dumps(heat) + "\n"
                             + json.dumps(dict(heat, page_size=65536))).encode(), "page_size"),
        "latin1.jsonl": ((trace_head + '{"event": "x\xe9"}\n').encode("latin-1"), "UTF-8"),
        "cut.snap": (good[:len(good) - 10], "truncated snapshot"),
        "header_only.snap": (_heatmap.SNAPSHOT_MAGIC, "truncated snapshot"),
        "cut_header.snap": (_heatmap.SNAPSHOT_MAGIC[:9], "truncated snapshot"),
        "flipped.snap": (good[:30] + bytes(b ^ 0x55 for b in good[30:60]) + good[60:],
                         "corrupt snapshot"),
        "trailing.snap": (good + b"xx", "bytes after"),
        "v2.snap": (b"PYPPER-SNAPSHOT 2\n" + good[len(_heatmap.SNAPSHOT_MAGIC):],
                    "unsupported snapshot header"),
        "not_json.snap": (_heatmap.SNAPSHOT_MAGIC + zlib.compress(b"{oops"), "not JSON"),
        "wrong_format.snap": (_heatmap.SNAPSHOT_MAGIC + zlib.compress(b'{"format": "x"}'),
                              "pypper-snapshot"),
        "version.snap": (snapshot_bytes(1.0, [], version=7), "version 7"),
        "bad_pages.snap": (snapshot_bytes(1.0, [], pages=[[BASE, "fast", 1]]), "hot_bytes"),
        "magic_only.dump": (b"PYORA", "truncated oracle dump .*inside its magic"),
        "cut_header.dump": (dump[:50], "truncated oracle dump .*80-byte header"),
        "cut_records.dump": (dump[:-5], "truncated oracle dump .*3 records"),
        "count.dump": (dump_bytes(records, count=1000), "truncated oracle dump .*1000 records"),
        "trailing.dump": (dump + b"\0", "corrupt oracle dump .*1 bytes after"),
        "header_size.dump": (dump_bytes(records, header_size=40), "header_size 40"),
        "record_size.dump": (dump_bytes(records, record_size=24), "record_size 24"),
        "granule.dump": (dump_bytes(records, granule=24), "granule 24"),
        "unsorted.dump": (dump_bytes(records[::-1]), "record 1: .*must ascend"),
        "duplicate.dump": (dump_bytes(records[:2] + records[1:2]), "record 2: .*must ascend"),
        "unaligned.dump": (dump_bytes([(BASE + 8, 1, 1)]), "not a multiple of the granule"),
    }


CORRUPT = _corrupt_inputs()


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_inputs_raise_clear_errors(tmp_path, name):
    content, message = CORRUPT[name]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        _heatmap.load_series(tmp_path / name)
    assert name in str(info.value)


def test_missing_inputs(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        _heatmap.load_series(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="no file matches"):
        _heatmap.load_series(str(tmp_path / "*.snap"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match="no snapshot or oracle dump files"):
        _heatmap.load_series(tmp_path / "empty_dir")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.snap").write_bytes(snapshot_bytes(1.0, [[BASE, 1]]))
    (mixed / "notes.txt").write_text("hello\n")
    with pytest.raises(ValueError, match="notes.txt"):
        _heatmap.load_series(mixed)


def test_load_oracle_dump(tmp_path):
    records = [(BASE, 1, 2), (BASE + 16, 3, 0), (BASE + PAGE - 16, 0, 4),     # page 0: 10
               (BASE + PAGE, 7, 0),                                           # page 1: 7
               (BASE + 5 * PAGE + 4080, 2 ** 32 - 1, 2 ** 32 - 1)]            # saturated
    path = tmp_path / "heat.jsonl"                 # recognised by content, not by name
    path.write_bytes(dump_bytes(records, time_ms=2500, seq=3))
    series = _heatmap.load_series(path)
    assert (series.name, series.source, series.page_size) == ("heat.jsonl", "oracle", PAGE)
    assert series.columns == [(2.5, {BASE: 10, BASE + PAGE: 7,
                                     BASE + 5 * PAGE: 2 * (2 ** 32 - 1)})]
    # Records start at header_size, whatever lies between the 80 bytes and there.
    padded = tmp_path / "padded.dump"
    padded.write_bytes(dump_bytes(records, header_size=96, padding=b"\xff" * 16, time_ms=2500))
    assert _heatmap.load_series(padded).columns == series.columns
    empty = tmp_path / "empty.dump"
    empty.write_bytes(dump_bytes([]))
    assert _heatmap.load_series(empty).columns == [(1.0, {})]


def test_oracle_dump_series_order_and_exclusions(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    # Name order (10, 2, 9) is neither seq order (2, 9, 10) nor time order.
    for seq in (10, 2, 9):
        (folder / f"oracle.{seq}").write_bytes(
            dump_bytes([(BASE, seq, 0)], seq=seq, time_ms=1000 + 100 * seq))
    (folder / "oracle.11.tmp").write_bytes(b"PYORACL1 being written")   # skipped
    (folder / ".hidden").write_text("ignored")
    series = _heatmap.load_series(folder)
    assert (series.name, series.source) == ("run", "oracle")
    assert series.columns == [(1.2, {BASE: 2}), (1.9, {BASE: 9}), (2.0, {BASE: 10})]
    globbed = _heatmap.load_series(str(folder / "oracle.*"))
    assert (globbed.name, globbed.columns) == ("oracle.*", series.columns)
    assert _heatmap.load_series(str(folder / "oracle.1[0-9]")).columns == [(2.0, {BASE: 10})]
    # Equal seq: guest_instrs decides.
    ties = tmp_path / "ties"
    ties.mkdir()
    for name, instrs in (("a", 900), ("b", 300)):
        (ties / name).write_bytes(dump_bytes([(BASE, instrs, 0)], instrs=instrs, time_ms=instrs))
    assert [c[BASE] for _, c in _heatmap.load_series(ties).columns] == [300, 900]


def test_oracle_dump_series_errors(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    for seq, pid in ((0, 11), (1, 11), (2, 12)):
        (pids / f"d.{seq}").write_bytes(dump_bytes([(BASE, 1, 1)], seq=seq, pid=pid))
    with pytest.raises(ValueError, match=r"pids: oracle dumps of 2 processes \(pids 11, 12\)"):
        _heatmap.load_series(pids)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.snap").write_bytes(snapshot_bytes(1.0, [[BASE, 1]]))
    (mixed / "b.dump").write_bytes(dump_bytes([(BASE, 1, 1)]))
    with pytest.raises(ValueError, match="mixes snapshots .*a.snap.* and oracle dumps .*b.dump"):
        _heatmap.load_series(mixed)
    (mixed / "a.snap").unlink()
    band_trace(mixed / "c.jsonl")
    with pytest.raises(ValueError, match="c.jsonl: a heat trace"):
        _heatmap.load_series(mixed)
    (mixed / "c.jsonl").unlink()
    (mixed / "d.dump").write_bytes(dump_bytes([(BASE, 1, 1)])[:-1])
    with pytest.raises(ValueError, match="d.dump: truncated oracle dump"):
        _heatmap.load_series(str(mixed / "*.dump"))


def _oracle_harness():
    """Tools/oracle/oracle.py (the oracle's own reader), imported from its file."""
    path = os.path.join(SRCDIR, "Tools", "oracle", "oracle.py")
    if not os.path.exists(path):
        pytest.skip("no Tools/oracle/oracle.py in this source tree")
    spec = importlib.util.spec_from_file_location("pypper_test_oracle_harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_oracle_dumps_read_like_the_oracle_harness(tmp_path):
    """Reading dumps directly gives the series that the harness's heat-trace conversion
    (time in seconds) gives, and its page_counts."""
    oracle = _oracle_harness()
    rng = random.Random("pypper-heatmap-oracle")
    prefix = tmp_path / "dumps" / "pyoracle.77"
    prefix.parent.mkdir()
    for seq in range(12):
        granules = sorted(rng.sample(range(0, 64 * PAGE, 16), 3000)
                          + rng.sample(range(1 << 40, (1 << 40) + 8 * PAGE, 16), 200))
        records = [(BASE + g, rng.randrange(0, 50), rng.randrange(0, 5)) for g in granules]
        records = [r for r in records if r[1] or r[2]]
        (tmp_path / "dumps" / f"pyoracle.77.{seq}").write_bytes(
            dump_bytes(records, seq=seq, pid=77, time_ms=400 + 37 * seq, instrs=5 * 10 ** 6))
    paths = oracle.series(str(prefix))
    assert len(paths) == 12
    trace = tmp_path / "converted.jsonl"
    oracle.to_heat_trace(paths, str(trace), time="seconds")
    converted = _heatmap.load_series(trace)
    direct = _heatmap.load_series(str(prefix) + ".*")
    assert direct.source == converted.source == "oracle"
    assert direct.columns == converted.columns
    assert direct.columns[4][1] == oracle.page_counts(paths[4])


def test_render_oracle_dumps_hot_band(tmp_path):
    folder = tmp_path / "o"
    folder.mkdir()
    for seq in range(6):
        (folder / f"o.{seq}").write_bytes(band_dump(range(8, 16), seq=seq, time_ms=100 * seq))
    _heatmap.render([_heatmap.load_series(folder)], tmp_path / "o.png", width=400, height=300)
    width, height, rows = read_png(tmp_path / "o.png")
    column = column_of(rows, width // 3)
    plot = [y for y, c in enumerate(column) if c in (HOT, COLD)]
    hot = [y for y in plot if column[y] == HOT]
    span = plot[-1] - plot[0] + 1
    # Pages 8-15 of 40, low addresses at the bottom: 20% to 40% from the bottom.
    assert hot == list(range(hot[0], hot[-1] + 1))
    assert (plot[-1] - hot[-1]) / span == pytest.approx(0.20, abs=0.02)
    assert (plot[-1] - hot[0]) / span == pytest.approx(0.40, abs=0.02)


# ---------------------------------------------------------------- layout and scale

def test_row_layout_collapses_and_marks_gaps():
    pages = [BASE + i * PAGE for i in range(10)] + [BASE + (1 << 30) + i * PAGE for i in range(10)]
    placed, separators = _heatmap.row_layout(pages, PAGE, 100, 100)
    assert len(separators) == 1
    spans = [placed[p] for p in pages]
    # Lowest address at the bottom, no overlaps, every pixel row used exactly once.
    assert all(a[0] >= b[1] for a, b in zip(spans, spans[1:]))
    used = sorted(y for y0, y1 in spans for y in range(y0, y1)) + separators
    assert sorted(used) == list(range(100))
    assert spans[9][0] == separators[0] + 1 and spans[10][1] == separators[0]
    # A gap of exactly 1 MiB is no gap to mark.
    near = [BASE, BASE + PAGE + (1 << 20)]
    assert _heatmap.row_layout(near, PAGE, 10, 10)[1] == []


def test_binning_keeps_the_hottest_page(tmp_path):
    pages = [[BASE + i * PAGE, 1.0] for i in range(5000)]
    pages[1234][1] = 500.0
    trace = write_trace(tmp_path / "many.jsonl", [(0.0, pages), (1.0, pages)])
    series = _heatmap.load_series(trace)
    grid, separators, duration = _heatmap.heat_grid(series, 40, 50, 50)
    assert len(grid) == 50 and all(len(row) == 40 for row in grid)
    assert separators == [] and duration == 2.0
    hot_rows = [y for y, row in enumerate(grid) if row[0] == 500.0]
    assert len(hot_rows) == 1 and all(v == 1.0 for y, row in enumerate(grid)
                                      if y not in hot_rows for v in row)


def test_column_spans_follow_time():
    spans, duration = _heatmap.column_spans([0.0, 1.0, 3.0], 80)
    # Steps 1 and 2: the last column lasts the median step (2 s), 5 s in all.
    assert duration == 5.0 and spans == [(0, 16), (16, 48), (48, 80)]
    assert _heatmap.column_spans([7.0], 30) == ([(0, 30)], 1.0)


def test_scales():
    series = _heatmap.Series("s", [(0.0, {BASE: 0.0, BASE + PAGE: 0.01, BASE + 2 * PAGE: 10.0})])
    log = _heatmap.scale_for([series], log=True)
    assert (log.lo, log.hi) == (0.01, 10.0)
    assert [log.fraction(h) for h in (0.0, 0.01, 10.0)] == [0.0, 0.0, 1.0]
    assert log.fraction(0.1) == pytest.approx(1 / 3)
    assert log.labels() == ("0.01", "10")
    linear = _heatmap.scale_for([series], log=False)
    assert linear.fraction(5.0) == 0.5 and linear.labels() == ("0", "10")
    wide = _heatmap.Series("w", [(0.0, {BASE: 1e-9, BASE + PAGE: 1.0})])
    assert _heatmap.scale_for([wide], log=True).lo == pytest.approx(1e-4)   # 4 decades


def test_colormap_runs_dark_blue_to_pale_yellow():
    def luminance(c):
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    colours = [_heatmap.colormap(i / 50) for i in range(51)]
    assert all(luminance(a) < luminance(b) for a, b in zip(colours, colours[1:]))
    low, high = colours[0], colours[-1]
    assert low[2] > 2 * max(low[:2]) and luminance(low) < 30              # dark blue
    assert min(high[:2]) > 240 and high[2] < high[0]                       # pale yellow
    assert bytes(_heatmap.NO_DATA) not in {bytes(c) for c in colours}


# ---------------------------------------------------------------- rendering

def test_render_hot_band_is_hotter(tmp_path):
    series = _heatmap.load_series(band_trace(tmp_path / "band.jsonl", hot=range(10, 30)))
    assert _heatmap.render([series], tmp_path / "band.png", width=400, height=300) == (400, 300)
    width, height, rows = read_png(tmp_path / "band.png")
    assert (width, height) == (400, 300)
    assert pixel(rows, 0, 0) == WHITE
    column = column_of(rows, width // 3)                 # a vertical line through the plot
    plot = [y for y, c in enumerate(column) if c in (HOT, COLD)]
    hot = [y for y in plot if column[y] == HOT]
    assert len(plot) > 150 and hot == list(range(hot[0], hot[-1] + 1))
    # Pages 10-29 of 100, low addresses at the bottom: 10% to 30% from the bottom.
    span = plot[-1] - plot[0] + 1
    assert (plot[-1] - hot[-1]) / span == pytest.approx(0.10, abs=0.02)
    assert (plot[-1] - hot[0]) / span == pytest.approx(0.30, abs=0.02)
    assert len(hot) == pytest.approx(0.2 * span, abs=3)


def test_render_no_data_zero_and_gap(tmp_path):
    low = [[BASE + i * PAGE, 0] for i in range(10)]
    high = [[BASE + (1 << 32) + i * PAGE, 5] for i in range(10)]
    # The high pages exist in the second half only.
    trace = write_trace(tmp_path / "g.jsonl", [(float(t), low + (high if t >= 5 else []))
                                                for t in range(10)])
    _heatmap.render([_heatmap.load_series(trace)], tmp_path / "g.png", width=400, height=300)
    width, height, rows = read_png(tmp_path / "g.png")
    early, late = column_of(rows, 120), column_of(rows, 300)
    assert NO_DATA in early and NO_DATA not in late and HOT in late
    assert COLD in early and COLD in late                # zero heat: cold, not no data
    separator = [y for y in range(height) if early[y] == WHITE and early[y - 1] == NO_DATA
                 and early[y + 1] == COLD]
    assert len(separator) == 1


def test_shared_scale(tmp_path):
    one = _heatmap.Series("mild", [(0.0, {BASE: 1.0, BASE + PAGE: 10.0})])
    two = _heatmap.Series("hot", [(0.0, {BASE: 1.0, BASE + PAGE: 100.0})], source="oracle")
    for shared in (False, True):
        out = tmp_path / f"s{shared}.png"
        _heatmap.render([one, two], out, width=800, height=200, shared_scale=shared,
                        titles=["a", "b"])
        width, _, rows = read_png(out)
        left_hot = sum(row[:width * 3 * 4 // 10].count(HOT) for row in rows)
        assert (left_hot > 0) is not shared


def test_render_rejects_bad_requests(tmp_path):
    series = _heatmap.load_series(band_trace(tmp_path / "b.jsonl"))
    empty = _heatmap.Series("empty", [(0.0, {})])
    for kwargs, message in (({"width": 60}, "too small"), ({"height": 20}, "too small"),
                            ({"width": 10 ** 6}, "too large"), ({"rows": 0}, "rows"),
                            ({"titles": ["a", "b"]}, "2 titles")):
        with pytest.raises(ValueError, match=message):
            _heatmap.render([series], tmp_path / "x.png", **kwargs)
    with pytest.raises(ValueError, match="no pages"):
        _heatmap.render([empty], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no series"):
        _heatmap.render([], tmp_path / "x.png")


# ---------------------------------------------------------------- command line

def test_cli_heatmap(tmp_path):
    estimate = band_trace(tmp_path / "estimate.jsonl")
    oracle = band_trace(tmp_path / "oracle.jsonl", hot=range(12, 30), source="oracle")
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    for t in range(3):
        (snaps / f"{t}.snap").write_bytes(snapshot_bytes(float(t), [[BASE, t], [BASE + PAGE, 1]]))
    out = tmp_path / "heat.png"
    r = run(["-m", "pypper", "heatmap", str(estimate), str(oracle), str(snaps), "-o", str(out),
             "--width", "900", "--height", "320", "--shared-scale", "--linear",
             "--title", "est", "exact", "snapshots"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1 and r.stdout.startswith(f"wrote {out}: 3 panels, 900x320")
    assert "20 columns x 100 pages" in r.stdout and "3 columns x 2 pages" in r.stdout
    assert read_png(out)[:2] == (900, 320)


def test_cli_heatmap_oracle_dumps(tmp_path):
    estimate = band_trace(tmp_path / "estimate.jsonl")
    for seq in range(5):
        (tmp_path / f"oracle.{seq}").write_bytes(band_dump(range(3, 9), seq=seq,
                                                           time_ms=1000 * seq))
    out = tmp_path / "side.png"
    r = run(["-m", "pypper", "heatmap", str(estimate), str(tmp_path / "oracle.*"),
             "-o", str(out), "--width", "800", "--height", "300"])
    assert r.returncode == 0, r.stderr
    assert "estimate.jsonl: 20 columns x 100 pages; oracle.*: 5 columns x 40 pages" in r.stdout
    assert read_png(out)[:2] == (800, 300)
    (tmp_path / "oracle.5").write_bytes(band_dump(range(3, 9), seq=5)[:100])
    r = run(["-m", "pypper", "heatmap", str(tmp_path / "oracle.*"), "-o", str(out)])
    assert r.returncode == 2
    assert r.stderr.startswith("pypper: heatmap: ") and "oracle.5: truncated oracle dump" in r.stderr


def test_cli_heatmap_bad_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "pypper-trace"}\n{"event": "heat", "ti')
    good = band_trace(tmp_path / "good.jsonl")
    for args in ([str(bad)], [str(tmp_path / "missing")], [str(good), "--width", "10"],
                 [str(good), "--title", "a", "b"]):
        r = run(["-m", "pypper", "heatmap", *args, "-o", str(tmp_path / "x.png")])
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("pypper: heatmap: ") and r.stderr.count("\n") == 1, r.stderr
    r = run(["-m", "pypper", "heatmap", str(good), "-o", str(tmp_path / "no" / "x.png")])
    assert r.returncode == 2 and "No such file or directory" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_cli_other_commands_still_work():
    r = run(["-m", "pypper", "options", "--json"])
    assert r.returncode == 0 and json.loads(r.stdout)
    r = run(["-m", "pypper", "--help"])
    assert r.returncode == 0 and "heatmap" in r.stdout
    r = run(["-m", "pypper", "heatmap", "--help"])
    assert r.returncode == 0 and "oracle dump" in r.stdout


def test_cli_heatmap_of_a_snapshot_just_saved(tmp_path):
    # Snapshot.save writes version 2 (object rows changed, page rows did not): the
    # heatmap reads it (it refused anything but version 1).
    snap = tmp_path / "s.snap"
    r = run(["-c", "import pypper; pypper.start(); x = [[i] for i in range(20000)]; "
             f"pypper.snapshot().save({str(snap)!r}); pypper.end()"])
    assert r.returncode == 0, r.stderr
    out = tmp_path / "s.png"
    r = run(["-m", "pypper", "heatmap", str(snap), "-o", str(out)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out}: 1 panel") and read_png(out)[0] > 0
