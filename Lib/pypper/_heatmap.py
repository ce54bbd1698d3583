"""Address-vs-time heatmaps of page temperatures (``python3 -m pypper heatmap``).

Owns reading heat inputs into a ``Series`` and drawing series as panels side by side in
one PNG, like the address-vs-time heatmaps of the Pypper paper (Figure 4: temperatures
inferred from reference counts; Figure 5: the real heatmap from OS-based profiling), so
Pypper's estimate and the exact-access oracle can be compared.

Inputs, recognised by their content:

* a heat trace: JSON lines whose first line is an object with ``"format":
  "pypper-trace"`` (``"source": "oracle"`` there marks the oracle's traces); every line
  with ``"event": "heat"`` (``"time"``, ``"page_size"``, ``"pages": [[address, heat],
  ...]``) is one column, other lines are ignored;
* a snapshot file: the line ``PYPPER-SNAPSHOT 1`` then a zlib stream of a JSON object
  (``"format": "pypper-snapshot"``, ``"version": 1``, ``"time"``, ``"page_size"``,
  ``"pages": [[address, tier, heat, hot_bytes, cold_bytes], ...]``, ...): one column;
* a dump file of the exact-access oracle (Tools/oracle: magic ``PYORACL1``, an 80-byte
  little-endian header, then 16-byte records ``(granule address u64, loads u32, stores
  u32)``): one column whose page heat is the loads + stores of the granules in that
  4096-byte page (pages without a counted access are not in the column); its time is
  the header's ``time_ms`` / 1000, when the dump was written: the end of the interval
  it counts, in seconds since Valgrind started (stretched by the oracle's slowdown,
  16-38x a native run's per Tools/oracle/README.md);
* a directory (each regular file in it whose name neither starts with '.' nor ends
  in '.tmp', the name under which the oracle writes a dump before renaming it) or a
  glob pattern (same exclusions) of snapshot files or of oracle dumps, not both: one
  column per file, snapshots in the order of their ``"time"``, dumps in the order of
  their header's ``seq`` (then ``guest_instrs``); the dumps must all come from one
  process (one ``pid``: use ``%p`` in ``--dump-prefix`` to keep runs apart).

The kind of a file is recognised by its first bytes, whatever its name. Series from
the oracle (its dumps, or traces and snapshots marked ``"source": "oracle"``) are
labelled "(oracle)", the others "(pypper)". Anything else, truncated or corrupt,
raises ValueError naming the file (and line).

Drawing: y is the sorted set of distinct pages of a panel, lowest address at the
bottom, with the address space between them collapsed; a gap of more than 1 MiB is
marked by a white line one pixel high (unless there are more such gaps than a quarter
of the rows). Pages are spread over ``rows`` rows (default: one per pixel row); with more pages
than rows, or more columns than pixel columns, a pixel shows the MAXIMUM heat of what
falls into it, so a hot page is never averaged away among cold ones. x is the time
since the first column; each column lasts until the next one. Colours run from dark
blue (zero, cold) through purple and orange to pale yellow (hottest); grey is no data
(the page is not in that column). The colour scale is linear from 0 or logarithmic
(default) from the smallest positive heat (at most four decades below the largest),
per panel or shared by all panels.
"""

import array
import bisect
import glob
import json
import math
import operator
import os
import struct
import sys
import zlib
from dataclasses import dataclass

from ._png import ADVANCE, GLYPH_HEIGHT, Canvas, text_width
from ._snapshot import VERSIONS as SNAPSHOT_VERSIONS

SNAPSHOT_MAGIC = b"PYPPER-SNAPSHOT 1\n"
# The oracle's dump files (Tools/oracle/README.md, "Dump file format"): magic,
# header_size, granule, n_records, total_loads, total_stores, guest_instrs, time_ms,
# seq, pid, flags, record_size, dropped; records start at header_size.
ORACLE_MAGIC = b"PYORACL1"
ORACLE_HEADER = struct.Struct("<8sIIQQQQQIIIIQ")
ORACLE_RECORD_SIZE = 16
ORACLE_PAGE_SIZE = 4096
GAP_BYTES = 1 << 20
LOG_DECADES = 4

NO_DATA = (128, 128, 128)
SEPARATOR = (255, 255, 255)
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
FRAME = (64, 64, 64)

# (fraction, colour) stops, perceived brightness increasing all along.
_STOPS = ((0.0, (12, 7, 100)), (0.2, (70, 3, 160)), (0.45, (180, 50, 130)),
          (0.7, (245, 135, 50)), (0.9, (250, 220, 40)), (1.0, (252, 252, 160)))


# ---------------------------------------------------------------- reading inputs

@dataclass
class Series:
    """One input: its columns in time order, each ``(time, {page address: heat})``."""
    name: str
    columns: list
    source: str = "pypper"
    page_size: int = 4096

    def pages(self):
        """The distinct pages of all columns, in address order."""
        return sorted(set().union(*(column for _, column in self.columns)))


def load_series(path):
    """Read one input (see the module docstring) as a Series; ValueError if it is none."""
    path = os.fspath(path)
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if _listed(n))
        files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
        if not files:
            raise ValueError(f"{path}: no snapshot or oracle dump files in this directory")
        return _file_series(files, os.path.basename(os.path.normpath(path)))
    if not os.path.exists(path) and any(c in path for c in "*?["):
        files = sorted(p for p in glob.glob(path)
                       if os.path.isfile(p) and _listed(os.path.basename(p)))
        if not files:
            raise ValueError(f"{path}: no file matches this pattern")
        return _file_series(files, os.path.basename(path))
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file or directory")
    kind = _kind(path)
    if kind == "trace":
        return _load_trace(path)
    if kind == "oracle":
        return _oracle_series([path], os.path.basename(path))
    return _snapshot_series([path], os.path.basename(path))


def _listed(name):
    """Whether a file of a directory or glob is an input (not hidden, not a dump the
    oracle is still writing)."""
    return not name.startswith(".") and not name.endswith(".tmp")


def _kind(path):
    """"trace", "snapshot" or "oracle", from the first bytes of a file; ValueError if
    it is none of them."""
    with open(path, "rb") as f:
        head = f.read(len(SNAPSHOT_MAGIC))
    if not head:
        raise ValueError(f"{path}: an empty file")
    if head.startswith(b"PYPPER-SNAPSHOT") or SNAPSHOT_MAGIC.startswith(head):
        return "snapshot"            # (a file shorter than its magic: truncated)
    if head.startswith(ORACLE_MAGIC) or ORACLE_MAGIC.startswith(head):
        return "oracle"
    if head.lstrip().startswith(b"{"):
        return "trace"
    raise ValueError(f"{path}: neither a Pypper heat trace, a snapshot nor an oracle dump")


def _file_series(paths, name):
    """One series of the files of a directory or glob: all snapshots or all dumps."""
    kinds = {}
    for path in paths:
        kind = _kind(path)
        if kind == "trace":
            raise ValueError(f"{path}: a heat trace; a directory or glob must hold snapshot "
                             f"files or oracle dumps (give a trace as an input of its own)")
        kinds.setdefault(kind, path)
    if len(kinds) > 1:
        raise ValueError(f"{name}: mixes snapshots ({kinds['snapshot']}) and oracle dumps "
                         f"({kinds['oracle']})")
    if "oracle" in kinds:
        return _oracle_series(paths, name)
    return _snapshot_series(paths, name)


def _load_trace(path):
    columns, page_size, source = [], None, "pypper"
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                where = f"{path}:{lineno}"
                if lineno == 1:
                    source = _trace_source(line, path)
                    continue
                if not line.strip():
                    continue
                record = _json_object(line, where)
                if record.get("event") == "heat":
                    time, size, column = _heat_event(record, where)
                    if page_size not in (None, size):
                        raise ValueError(f"{where}: page_size {size} differs from the "
                                         f"{page_size} of the trace's first heat event")
                    page_size = size
                    columns.append((time, column))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a Pypper heat trace (not UTF-8 text)") from None
    if not columns:
        raise ValueError(f"{path}: no heat events in this trace")
    columns.sort(key=lambda c: c[0])
    return Series(os.path.basename(path), columns, source, page_size)


def _trace_source(line, path):
    """"oracle" or "pypper", from the first line of a trace; ValueError if not a trace."""
    try:
        head = json.loads(line)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("format") != "pypper-trace":
        raise ValueError(f'{path}: not a Pypper trace (its first line is not a JSON object '
                         f'with "format": "pypper-trace")')
    return "oracle" if head.get("source") == "oracle" else "pypper"


def _json_object(line, where):
    try:
        record = json.loads(line)
    except ValueError:
        raise ValueError(f"{where}: truncated or corrupt line (not JSON)") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: a trace line must be a JSON object")
    return record


def _heat_event(record, where):
    time = _number(record.get("time"), f'{where}: "time"')
    page_size = _page_size(record.get("page_size"), where)
    return time, page_size, _column(record.get("pages"), "[address, heat]", 1, where)


def _snapshot_series(paths, name):
    """One series of the snapshot files `paths`, a column each in time order."""
    snapshots = [_read_snapshot(p) for p in paths]
    sources = {s[0] for s in snapshots}
    sizes = {s[1] for s in snapshots}
    if len(sources) > 1:
        raise ValueError(f"{name}: mixes oracle and pypper snapshots")
    if len(sizes) > 1:
        raise ValueError(f"{name}: snapshots with different page sizes {sorted(sizes)}")
    columns = sorted(((s[2], s[3]) for s in snapshots), key=lambda c: c[0])
    return Series(name, columns, sources.pop(), sizes.pop())


def _read_snapshot(path):
    """(source, page_size, time, {page: heat}) of one snapshot file."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(SNAPSHOT_MAGIC):
        if SNAPSHOT_MAGIC.startswith(data):
            raise ValueError(f"{path}: truncated snapshot (it ends inside its header)")
        if data.startswith(b"PYPPER-SNAPSHOT "):
            header = data.split(b"\n", 1)[0].decode("ascii", "replace")
            raise ValueError(f"{path}: unsupported snapshot header {header!r}")
        raise ValueError(f"{path}: not a Pypper snapshot file")
    stream = zlib.decompressobj()
    try:
        text = stream.decompress(data[len(SNAPSHOT_MAGIC):])
    except zlib.error as e:
        raise ValueError(f"{path}: corrupt snapshot ({e})") from None
    if not stream.eof:
        raise ValueError(f"{path}: truncated snapshot (the compressed data ends early)")
    if stream.unused_data:
        raise ValueError(f"{path}: corrupt snapshot (bytes after the compressed data)")
    try:
        doc = json.loads(text.decode("utf-8"))
    except ValueError:
        raise ValueError(f"{path}: corrupt snapshot (its content is not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != "pypper-snapshot":
        raise ValueError(f'{path}: corrupt snapshot (no "format": "pypper-snapshot")')
    # The versions Snapshot.load reads: their page rows are alike (2 changed the objects').
    if doc.get("version") not in SNAPSHOT_VERSIONS:
        raise ValueError(f"{path}: unsupported snapshot version {doc.get('version')!r}")
    time = _number(doc.get("time"), f'{path}: "time"')
    page_size = _page_size(doc.get("page_size"), path)
    column = _column(doc.get("pages"), "[address, tier, heat, hot_bytes, cold_bytes]", 2, path)
    source = "oracle" if doc.get("source") == "oracle" else "pypper"
    return source, page_size, time, column


@dataclass
class _Dump:
    """What the heatmap needs of one oracle dump file."""
    path: str
    seq: int
    instrs: int
    time_ms: int
    pid: int
    column: dict


def _oracle_series(paths, name):
    """One series of the oracle dump files `paths`, ordered by seq (then instrs)."""
    dumps = [_read_dump(p) for p in paths]
    pids = sorted({d.pid for d in dumps})
    if len(pids) > 1:
        shown = ", ".join(map(str, pids[:5])) + (", ..." if len(pids) > 5 else "")
        raise ValueError(f"{name}: oracle dumps of {len(pids)} processes (pids {shown}); a "
                         f"series must be the dumps of one process (put %p in --dump-prefix "
                         f"to keep runs apart)")
    dumps.sort(key=lambda d: (d.seq, d.instrs, d.path))
    columns = [(d.time_ms / 1000.0, d.column) for d in dumps]
    return Series(name, columns, "oracle", ORACLE_PAGE_SIZE)


def _read_dump(path):
    """One oracle dump file as a _Dump whose column is {page: loads + stores}."""
    with open(path, "rb") as f:
        data = f.read()
    size = ORACLE_HEADER.size
    if not data.startswith(ORACLE_MAGIC):
        if ORACLE_MAGIC.startswith(data):
            raise ValueError(f"{path}: truncated oracle dump ({len(data)} bytes: it ends "
                             f"inside its magic)")
        raise ValueError(f"{path}: not an oracle dump (no {ORACLE_MAGIC.decode()} magic)")
    if len(data) < size:
        raise ValueError(f"{path}: truncated oracle dump ({len(data)} bytes: it ends inside "
                         f"its {size}-byte header)")
    (_, header_size, granule, count, _loads, _stores, instrs, time_ms, seq, pid, _flags,
     record_size, _dropped) = ORACLE_HEADER.unpack_from(data)
    if header_size < size:
        raise ValueError(f"{path}: corrupt oracle dump (header_size {header_size}, below "
                         f"{size})")
    if record_size != ORACLE_RECORD_SIZE:
        raise ValueError(f"{path}: unsupported oracle dump (record_size {record_size}, not "
                         f"{ORACLE_RECORD_SIZE})")
    if granule == 0 or granule & (granule - 1) or ORACLE_PAGE_SIZE % granule:
        raise ValueError(f"{path}: unsupported oracle dump (granule {granule}: not a power "
                         f"of two dividing {ORACLE_PAGE_SIZE})")
    end = header_size + count * record_size
    if len(data) < end:
        raise ValueError(f"{path}: truncated oracle dump ({len(data)} bytes; its header "
                         f"says {count} records, ending at byte {end})")
    if len(data) > end:
        raise ValueError(f"{path}: corrupt oracle dump ({len(data) - end} bytes after the "
                         f"last of its {count} records)")
    column = _dump_pages(path, memoryview(data)[header_size:end], granule)
    return _Dump(path, seq, instrs, time_ms, pid, column)


def _dump_pages(path, records, granule):
    """{page: loads + stores} of a dump's records (granule addresses strictly ascending,
    each a multiple of the granule)."""
    quads, words = array.array("Q"), array.array("I")
    quads.frombytes(records)
    words.frombytes(records)
    if sys.byteorder != "little":
        quads.byteswap()
        words.byteswap()
    addresses, loads, stores = quads[0::2], words[2::4], words[3::4]
    if not all(map(operator.lt, addresses, addresses[1:])):
        i = next(i for i in range(1, len(addresses)) if addresses[i] <= addresses[i - 1])
        raise ValueError(f"{path}: corrupt oracle dump (record {i}: address "
                         f"{addresses[i]:#x} after {addresses[i - 1]:#x}; addresses must "
                         f"ascend)")
    mask = granule - 1
    if any(a & mask for a in addresses):
        i = next(i for i, a in enumerate(addresses) if a & mask)
        raise ValueError(f"{path}: corrupt oracle dump (record {i}: address "
                         f"{addresses[i]:#x} is not a multiple of the granule {granule})")
    column, i, n = {}, 0, len(addresses)
    while i < n:
        page = addresses[i] - addresses[i] % ORACLE_PAGE_SIZE
        j = bisect.bisect_left(addresses, page + ORACLE_PAGE_SIZE, i)
        column[page] = sum(loads[i:j]) + sum(stores[i:j])
        i = j
    return column


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r:.40}")
    return float(value)


def _page_size(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f'{where}: "page_size" must be a positive integer, not {value!r:.40}')
    return value


def _column(entries, shape, heat_index, where):
    """{page address: heat} of a "pages" list whose entries look like `shape` (address
    first, heat at heat_index). A page listed twice keeps its larger heat."""
    length = shape.count(",") + 1
    _require(entries, lambda e: type(e) is list and len(e) == length, where,
             f"a page entry must be {shape}")
    addresses = [e[0] for e in entries]
    heats = [e[heat_index] for e in entries]
    _require(addresses, lambda a: type(a) is int and a >= 0, where,
             "a page address must be an integer >= 0")
    _require(heats, lambda h: type(h) in (int, float) and 0 <= h < math.inf, where,
             "a heat must be a finite number >= 0")
    column = dict(zip(addresses, heats))
    if len(column) < len(addresses):
        for address, heat in zip(addresses, heats):
            column[address] = max(column[address], heat)
    return column


def _require(values, ok, where, what):
    """ValueError unless `values` is a list whose every item is ok."""
    if not isinstance(values, list):
        raise ValueError(f"{where}: {what}, not {values!r:.60}")
    for value in values:
        if not ok(value):
            raise ValueError(f"{where}: {what}, not {value!r:.60}")


# ---------------------------------------------------------------- colours

def colormap(fraction):
    """The (r, g, b) colour of a fraction of the scale, 0 (cold) to 1 (hot)."""
    fraction = min(max(fraction, 0.0), 1.0)
    for (f0, c0), (f1, c1) in zip(_STOPS, _STOPS[1:]):
        if fraction <= f1:
            w = (fraction - f0) / (f1 - f0)
            return tuple(round(a + (b - a) * w) for a, b in zip(c0, c1))
    return _STOPS[-1][1]


_LUT = [bytes(colormap(i / 255)) for i in range(256)]


@dataclass(frozen=True)
class Scale:
    """Maps heat to a fraction of the colour range: linear from 0 to hi, or logarithmic
    from lo to hi (heat at or below lo, and zero, is the bottom)."""
    lo: float
    hi: float
    log: bool

    def fraction(self, heat):
        if heat <= 0 or self.hi <= 0:
            return 0.0
        if not self.log:
            return min(heat / self.hi, 1.0)
        if self.hi <= self.lo:
            return 1.0
        if heat <= self.lo:
            return 0.0
        return min(math.log(heat / self.lo) / math.log(self.hi / self.lo), 1.0)

    def labels(self):
        """(bottom, top) labels of the colour bar."""
        return (_fmt(self.lo) if self.log else "0"), _fmt(self.hi)


def scale_for(series_list, log):
    """The colour scale covering every heat of the given series."""
    hi, lo = 0.0, math.inf
    for series in series_list:
        for _, column in series.columns:
            heats = column.values()
            hi = max(hi, max(heats, default=0.0))
            lo = min(lo, min((h for h in heats if h > 0), default=math.inf))
    if not log:
        return Scale(0.0, hi, False)
    return Scale(max(min(lo, hi), hi / 10 ** LOG_DECADES), hi, True)


def _fmt(value):
    return f"{value:.4g}"


# ---------------------------------------------------------------- layout

def _spread(count, units):
    """[start, end) of each of `count` items laid over `units` slots, in order: items
    are stretched when there are fewer than slots and share slots when more."""
    spans = []
    for i in range(count):
        start = i * units // count
        spans.append((start, max(start + 1, (i + 1) * units // count)))
    return spans


def _apportion(weights, total):
    """Split `total` (at least len(weights)) in proportion to weights, each at least 1."""
    spare = total - len(weights)
    exact = [spare * w / sum(weights) for w in weights]
    shares = [1 + int(e) for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: int(exact[i]) - exact[i])
    for i in by_remainder[:total - sum(shares)]:
        shares[i] += 1
    return shares


def _runs(pages, page_size, max_runs):
    """The pages cut at gaps of more than GAP_BYTES; a single run if that makes more
    than max_runs."""
    runs = [[pages[0]]]
    for prev, page in zip(pages, pages[1:]):
        if page - prev - page_size > GAP_BYTES:
            runs.append([])
        runs[-1].append(page)
    return runs if len(runs) <= max_runs else [pages]


def row_layout(pages, page_size, nrows, height):
    """Where pages go in a plot `height` pixels high: ({page: (y0, y1)}, [y of each gap
    separator]), pixel rows counted from the top, the lowest address at the bottom.
    Separators are one pixel each; the pages share `nrows` rows (at most one a pixel)
    laid over the other pixels."""
    runs = _runs(pages, page_size, max(1, min(nrows, height) // 4))
    free = height - (len(runs) - 1)
    shares = _apportion([len(run) for run in runs], min(nrows, free))
    spans = _spread(sum(shares), free)
    placed, separators, row = {}, [], 0
    for k, (run, share) in enumerate(zip(runs, shares)):
        if k:
            separators.append(height - spans[row][0] - k)
        for page, (r0, r1) in zip(run, _spread(len(run), share)):
            placed[page] = (height - spans[row + r1 - 1][1] - k, height - spans[row + r0][0] - k)
        row += share
    return placed, separators


def column_spans(times, width):
    """([x0, x1) of each column, seconds shown across the width). A column lasts until
    the next one, the last one for the median step (a lone column fills the width)."""
    steps = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    last = steps[len(steps) // 2] if steps else 1.0
    duration = times[-1] + last - times[0]
    spans = []
    for start, end in zip(times, times[1:] + [times[-1] + last]):
        x0 = min(int((start - times[0]) / duration * width), width - 1)
        spans.append((x0, max(x0 + 1, min(int((end - times[0]) / duration * width), width))))
    return spans, duration


def _hotter(a, b):
    return a if b is None or (a is not None and a >= b) else b


def heat_grid(series, width, height, nrows):
    """The heat of each plot pixel as rows top to bottom (None: no data), the separator
    rows and the seconds shown (see row_layout and column_spans)."""
    placed, separators = row_layout(series.pages(), series.page_size, nrows, height)
    spans, duration = column_spans([t for t, _ in series.columns], width)
    grid = [None] * width
    for (x0, x1), (_, column) in zip(spans, series.columns):
        line = [None] * height
        for page, heat in column.items():
            y0, y1 = placed[page]
            for y in range(y0, y1):
                line[y] = _hotter(heat, line[y])
        for x in range(x0, x1):
            grid[x] = line if grid[x] is None else list(map(_hotter, line, grid[x]))
    empty = [None] * height
    return [list(r) for r in zip(*(c or empty for c in grid))], separators, duration


# ---------------------------------------------------------------- drawing

PAD = 8
TITLE_SCALE = 2
PLOT_TOP = PAD + GLYPH_HEIGHT * TITLE_SCALE + PAD
AXIS_HEIGHT = 4 + 3 + GLYPH_HEIGHT + 4 + GLYPH_HEIGHT + PAD
BAR_WIDTH = 12
PANEL_WIDTH = 560
MAX_SIDE = 16384
NO_DATA_LABEL = "no data"


def _axis_labels(pages):
    """(top, middle, bottom) labels left of a plot: highest page, page count, lowest page."""
    return f"0x{pages[-1]:x}", f"{len(pages)} page{'s' * (len(pages) != 1)}", f"0x{pages[0]:x}"


def _bar_zone_width(scale):
    labels = [*scale.labels(), "linear", NO_DATA_LABEL]
    return BAR_WIDTH + 4 + max(text_width(t) for t in labels) + PAD


def _check_request(series_list, width, height, rows, titles):
    count = len(series_list)
    if not count:
        raise ValueError("no series to draw")
    if titles is not None and len(titles) != count:
        raise ValueError(f"{len(titles)} titles for {count} inputs")
    if rows is not None and rows < 1:
        raise ValueError(f"rows must be at least 1, not {rows}")
    if max(width, height) > MAX_SIDE:
        raise ValueError(f"an image of {width}x{height} is too large (at most {MAX_SIDE} "
                         f"pixels a side)")
    for series in series_list:
        if not any(column for _, column in series.columns):
            raise ValueError(f"{series.name}: no pages to draw")


def render(series_list, out_path, width=None, height=600, log_scale=True,
           shared_scale=False, rows=None, titles=None):
    """Draw each series as a panel, left to right, into the PNG file `out_path`.

    width, height: of the whole image (width defaults to 560 pixels a panel);
    log_scale: logarithmic colour scale, else linear from 0; shared_scale: one scale
    (and colour bar) for all panels, else one each; rows: page rows of a panel (bins),
    default one per pixel row; titles: one per series instead of its name ("(oracle)"
    or "(pypper)" is added). Returns (width, height). ValueError for nothing to draw
    or an image too small or too large."""
    count = len(series_list)
    width = PANEL_WIDTH * count if width is None else width
    _check_request(series_list, width, height, rows, titles)
    pages = [series.pages() for series in series_list]
    scales = ([scale_for(series_list, log_scale)] * count if shared_scale
              else [scale_for([s], log_scale) for s in series_list])
    shared_zone = _bar_zone_width(scales[0]) if shared_scale else 0
    left = max(text_width(label) for p in pages for label in _axis_labels(p)) + PAD + 4
    panel_width = (width - shared_zone) // count
    plot_height = height - PLOT_TOP - AXIS_HEIGHT
    plot_widths = [panel_width - left - PAD - (0 if shared_scale else _bar_zone_width(sc))
                   for sc in scales]
    if min(plot_widths) < 16 or plot_height < 16:
        raise ValueError(f"an image of {width}x{height} is too small for {count} panel(s)")
    canvas = Canvas(width, height, BACKGROUND)
    for i, series in enumerate(series_list):
        x = i * panel_width + left
        name = series.name if titles is None else titles[i]
        _draw_panel(canvas, series, (x, PLOT_TOP, plot_widths[i], plot_height),
                    scales[i], f"{name} ({series.source})", rows or plot_height)
        _draw_address_labels(canvas, x, PLOT_TOP, plot_height, pages[i])
        if not shared_scale:
            _draw_colour_bar(canvas, x + plot_widths[i] + PAD, plot_height, scales[i])
    if shared_scale:
        _draw_colour_bar(canvas, width - shared_zone + 4, plot_height, scales[0])
    canvas.save(out_path)
    return width, height


def _draw_panel(canvas, series, box, scale, title, nrows):
    x, y, w, h = box
    grid, separators, duration = heat_grid(series, w, h, nrows)
    colours = {None: bytes(NO_DATA)}
    for dy, line in enumerate(grid):
        for heat in line:
            if heat not in colours:
                colours[heat] = _LUT[round(scale.fraction(heat) * 255)]
        canvas.put_row(x, y + dy, b"".join(colours[heat] for heat in line))
    for sy in separators:
        canvas.fill_rect(x, y + sy, w, 1, SEPARATOR)
    _draw_frame(canvas, x, y, w, h)
    _draw_title(canvas, x, w, title)
    _draw_time_axis(canvas, x, y + h, w, duration, len(series.columns))


def _draw_frame(canvas, x, y, w, h):
    canvas.fill_rect(x - 1, y - 1, w + 2, 1, FRAME)
    canvas.fill_rect(x - 1, y + h, w + 2, 1, FRAME)
    canvas.fill_rect(x - 1, y - 1, 1, h + 2, FRAME)
    canvas.fill_rect(x + w, y - 1, 1, h + 2, FRAME)


def _fit(text, width, scale):
    """`text` cut (ending in '..') to fit `width` pixels at `scale`."""
    room = (width // scale + 1) // ADVANCE
    return text if len(text) <= room else text[:max(room - 2, 0)] + ".."


def _draw_title(canvas, x, w, title):
    scale = TITLE_SCALE if text_width(title, TITLE_SCALE) <= w else 1
    top = PAD + (GLYPH_HEIGHT * (TITLE_SCALE - scale))
    canvas.draw_text(x, top, _fit(title, w, scale), INK, scale)


def _draw_address_labels(canvas, x, y, h, pages):
    """The address range (hex) and the page count, right-aligned left of the plot."""
    top, middle, bottom = _axis_labels(pages)
    for label, ly in ((top, y), (middle, y + (h - GLYPH_HEIGHT) // 2),
                      (bottom, y + h - GLYPH_HEIGHT)):
        canvas.draw_text(x - 4 - text_width(label), ly, label, INK)


def _tick_step(span, max_ticks):
    raw = span / max(max_ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _draw_time_axis(canvas, x, y, w, duration, columns):
    """Ticks in seconds since the first column under a plot whose bottom edge is y."""
    label_y = y + 4 + 3
    if columns > 1:
        step = _tick_step(duration, max(w // 60, 1))
        decimals = max(0, -math.floor(math.log10(step)))
        right_edge = x - PAD
        for n in range(int(duration / step + 1e-9) + 1):
            tx = x + min(int(n * step / duration * w), w - 1)
            canvas.fill_rect(tx, y + 1, 1, 4, FRAME)
            label = f"{n * step:.{decimals}f}"
            lx = min(max(tx - text_width(label) // 2, x), x + w - text_width(label))
            if lx > right_edge + 4:
                canvas.draw_text(lx, label_y, label, INK)
                right_edge = lx + text_width(label)
        caption = "time (s)"
    else:
        caption = "1 column"
    canvas.draw_text(x + (w - text_width(caption)) // 2, label_y + GLYPH_HEIGHT + 4, caption, INK)


def _draw_colour_bar(canvas, x, h, scale):
    """A colour bar beside a plot (same top and height), its labels and the no-data key."""
    y = PLOT_TOP
    for dy in range(h):
        canvas.put_row(x, y + dy, _LUT[round((h - 1 - dy) / max(h - 1, 1) * 255)] * BAR_WIDTH)
    _draw_frame(canvas, x, y, BAR_WIDTH, h)
    bottom, top = scale.labels()
    tx = x + BAR_WIDTH + 4
    canvas.draw_text(tx, y, top, INK)
    canvas.draw_text(tx, y + (h - GLYPH_HEIGHT) // 2, "log" if scale.log else "linear", INK)
    canvas.draw_text(tx, y + h - GLYPH_HEIGHT, bottom, INK)
    canvas.fill_rect(x, y + h + 7, BAR_WIDTH, GLYPH_HEIGHT, NO_DATA)
    canvas.draw_text(tx, y + h + 7, NO_DATA_LABEL, INK)
