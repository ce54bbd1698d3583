"""What a capture says, for people: the analysis behind ``pypper report`` (one
self-contained HTML file), ``pypper stats`` (text) and ``pypper diff`` (two captures),
and the summary ``pypper run`` prints at exit. Standard library only."""

import html
import json
import linecache
import os
import re

from . import _advisor
from ._snapshot import INTERNAL_TYPES

SITE_RE = re.compile(r"^(?P<file>.*):(?P<line>\d+)(?: \((?P<func>.*)\))?$")
HEATMAP_ROWS = 240
HEATMAP_COLUMNS = 400
TOP_SITES_OVER_TIME = 6


# ------------------------------------------------------------------ analysis

def fmt_bytes(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fmt_delta(n):
    return ("+" if n > 0 else "-" if n < 0 else "±") + fmt_bytes(abs(n))


def split_site(site):
    """(file, line, function) of "file:line (function)", or (site, None, None)."""
    m = SITE_RE.match(site or "")
    if not m:
        return site, None, None
    return m.group("file"), int(m.group("line")), m.group("func")


# The row of the program's types' objects that have no site (analyze()).
NO_SITE = "(no site: the program's types)"
# The advisor's estimate needs this much of the run watched (the last frame's time):
# temperatures take about a second to tell hot from cold (Doc/temperatures.md), and a
# program that ended at once (a script raising at its first line: 0.0 s) got figures
# ("x1.775 first-touch") from the heat of its start-up alone (trial, 2026-12-06).
ADVISOR_MIN_SECONDS = 1.0

NO_SITE_SOURCE = "line unknown (e.g. lines in turn of unrelated functions)"


def _clip(text, width):
    """text cut to width characters, with "..." where it was cut."""
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."


def is_internal(site, internal_paths, cwd=None):
    """Interpreter and library internals: no site, <frozen ...>, or a file under the
    standard library / site-packages / the pypper package (but not under the program's
    own directory)."""
    if not site:
        return True
    path, line, _ = split_site(site)
    if line is None or path.startswith("<"):
        return True
    ap = os.path.normpath(os.path.join(cwd or "", path))
    if any(ap.startswith(p.rstrip("/") + "/") for p in internal_paths
           if os.path.basename(p.rstrip("/")) == "pypper"):
        return True             # Pypper's own code (the capture's recorder)
    if is_import_line(source_line(site, cwd)):
        return True
    if cwd and ap.startswith(cwd.rstrip("/") + "/") and "site-packages" not in ap:
        return False
    return any(ap == p or ap.startswith(p.rstrip("/") + "/") for p in internal_paths)


def is_import_line(text):
    """Whether a line of source is an import statement. What an import makes is the
    imported module's: a standard-library module's objects (made by its own code,
    which is library code, they take the importing line, the innermost frame outside
    the library) and the code objects unmarshalled for a module of the program's
    (its own code's objects take its own lines). The demo's `from statistics import
    median` held 88 KiB of classes, frozensets and patterns shown as the program's."""
    return bool(re.match(r"(import\s+\w|from\s+[\w.]+\s+import\b)", text))


def shown_site(site, cwd):
    """A site as the report shows it: its file relative to the run's working directory
    when it is under it (a script's code objects carry its absolute path, as under
    python3 itself), else as recorded, with `.` and `..` taken out (a program run as
    `../progs/etl.py` from another folder showed `/work/out/../progs/etl.py:49`)."""
    path, line, func = split_site(site)
    if line is None or path.startswith("<"):
        return site
    shown = os.path.normpath(path)
    if cwd and os.path.isabs(shown):
        rel = os.path.relpath(shown, cwd)
        if not rel.startswith(".."):
            shown = rel
    return f"{shown}:{line}" + (f" ({func})" if func else "")


def source_line(site, cwd=None):
    path, line, _ = split_site(site)
    if line is None:
        return ""
    if cwd and not os.path.isabs(path):
        path = os.path.join(cwd, path)
    return linecache.getline(path, line).strip()


def _group_table(groups, key):
    out = {}
    for g in groups:
        k = key(g)
        a = out.get(k)
        if a is None:
            a = out[k] = {"name": k, "objects": 0, "bytes": 0, "owned": 0, "hot": 0,
                          "warm": 0, "cold": 0, "tsum": 0.0, "slow": 0,
                          "hist": [0] * len(g["hist"]), "types": {},
                          "types_hot": {}, "types_cold": {}}
        for f in ("objects", "bytes", "owned", "hot", "warm", "cold", "tsum", "slow"):
            a[f] += g.get(f, 0)
        a["hist"] = [x + y for x, y in zip(a["hist"], g["hist"])]
        a["types"][g["type"]] = a["types"].get(g["type"], 0) + g["bytes"] + g["owned"]
        for c in ("hot", "cold"):
            by = a["types_" + c]
            by[g["type"]] = by.get(g["type"], 0) + g.get(c, 0)
    for a in out.values():
        a["total"] = a["bytes"] + a["owned"]
        a["mean_t"] = a["tsum"] / a["total"] if a["total"] else 0.0
    return sorted(out.values(), key=lambda a: -a["total"])


def _add_untraced(sites, untraced):
    """Each site's untraced bytes (heap bytes no traced object or owned buffer holds,
    attributed by the heap walk), sites with only untraced bytes included; then the
    sites in order of all their bytes (traced + untraced)."""
    by_name = {s["name"]: s for s in sites}
    for u in untraced:
        name = u.get("site") or ""
        s = by_name.get(name)
        if s is None:
            s = by_name[name] = {"name": name, "objects": 0, "bytes": 0, "owned": 0, "hot": 0,
                                 "warm": 0, "cold": 0, "tsum": 0.0, "slow": 0,
                                 "hist": [0] * (len(sites[0]["hist"]) if sites else 10),
                                 "types": {}, "total": 0, "mean_t": 0.0}
            sites.append(s)
        s["untraced"] = s.get("untraced", 0) + int(u.get("bytes", 0))
        for k in ("cold", "warm", "hot"):
            s["untraced_" + k] = s.get("untraced_" + k, 0) + int(u.get(k, 0))
    for s in sites:
        s.setdefault("untraced", 0)
        s["all"] = s["total"] + s["untraced"]
        # Traced bytes by their objects' temperatures, untraced bytes by their pages'
        # heat (captures older than page heat have no split: those count as neither).
        for k in ("cold", "warm", "hot"):
            s.setdefault("untraced_" + k, 0)
            s[k + "_all"] = s[k] + s["untraced_" + k]
    sites.sort(key=lambda s: -s["all"])


def _untraced_classes(untraced):
    """Cold / warm / hot untraced bytes by their pages' heat, or None for a capture made
    before untraced bytes had one."""
    if not untraced or "cold" not in untraced[0]:
        return None
    return {k: sum(int(u.get(k, 0)) for u in untraced) for k in ("cold", "warm", "hot")}


def _untraced_text(a):
    uc = a.get("untraced_classes")
    if not uc:
        return f"untraced {fmt_bytes(a['untraced'])}"
    return (f"untraced {fmt_bytes(a['untraced'])} (by page heat: hot {fmt_bytes(uc['hot'])}, "
            f"warm {fmt_bytes(uc['warm'])}, cold {fmt_bytes(uc['cold'])})")


def analyze(cap, over_time=True):
    """Everything the report, stats and diff show, as plain data. over_time=False
    leaves out what only the HTML report draws (the heatmap's matrix and the sites'
    series: None), for `pypper run`'s summary at exit."""
    h = cap.header
    internal_paths = h.get("internal_paths", [])
    cwd = h.get("cwd")
    groups = cap.groups
    totals = {k: sum(g.get(k, 0) for g in groups) for k in ("bytes", "owned", "hot", "warm",
                                                             "cold", "objects", "slow")}
    traced = totals["bytes"] + totals["owned"]
    heap = cap.heap
    types = _group_table(groups, lambda g: g["type"])
    # A type's bytes by who made them: the program's own sites, library / interpreter /
    # Pypper sites, or no recorded site (objects from before the program ran, and
    # allocations not sampled).
    made = {}
    for g in groups:
        kind = ("unsited" if not g["site"] else
                "library" if is_internal(g["site"], internal_paths, cwd) else "user")
        m = made.setdefault(g["type"], {"user": 0, "library": 0, "unsited": 0})
        m[kind] += g["bytes"] + g["owned"]
    for t in types:
        t.update(made.get(t["name"], {"user": 0, "library": 0, "unsited": 0}))
        t["internal"] = type_is_internal(t)
    # The program's types first, then by their user bytes.
    types.sort(key=lambda t: (t["internal"], -t["user"], -t["total"]))
    # Objects of the program's types with no site are the program's: a row of their own
    # among its sites, not folded with the interpreter's (a newcomer's audit log of
    # tuples made on two lines in turn, whose sites inference leaves out, showed 1.8
    # MiB of tuples nowhere but in the fold).
    program_types = {t["name"] for t in types if not t["internal"]}
    sites = _group_table(groups, lambda g: g["site"] or (NO_SITE if g["type"] in program_types
                                                         else ""))
    _add_untraced(sites, cap.untraced)
    for s in sites:
        if s["name"] == NO_SITE:
            s["internal"] = False
            s["source"] = NO_SITE_SOURCE
            continue
        s["internal"] = is_internal(s["name"], internal_paths, cwd)
        s["source"] = "" if s["internal"] else source_line(s["name"], cwd)
        s["name"] = shown_site(s["name"], cwd)

    # Heat over time: the union of every frame's pages, each frame's heat per page.
    frames = cap.frames
    mean_heat = _advisor.mean_page_heat((f.pages, f.heat) for f in frames)
    all_pages = sorted(mean_heat)   # (it has every page of every frame)
    ps = _page_size(cap)
    uptime = frames[-1].t if frames else None
    short = bool(mean_heat) and (uptime or 0.0) < ADVISOR_MIN_SECONDS
    advice = _advisor.advise(mean_heat, ps) if mean_heat and not short else None
    heat_cols = _heatmap_matrix(frames, all_pages) if over_time else None

    last = frames[-1] if frames else None
    end = cap.end or {}
    mig = end.get("migration") or {}
    site_series = _site_series(frames, internal_paths, cwd) if over_time else None
    return {"path": cap.path, "header": h, "finished": cap.finished, "status": end.get("status"),
            "truncated": cap.truncated, "seconds": end.get("seconds"), "cpu": end.get("cpu"),
            "uptime": uptime,
            "heap": heap, "traced": traced, "untraced": max(0, heap - traced),
            "untraced_classes": _untraced_classes(cap.untraced),
            "totals": totals, "sites": sites, "types": types, "advice": advice,
            "advice_short": short,
            "mean_heat": mean_heat,
            "pages": len(all_pages), "page_size": ps, "frames": len(frames),
            "cold_pages": sum(1 for v in mean_heat.values() if v == 0),
            "slow_pages_last": len(last.slow) if last else 0,
            "heatmap": heat_cols, "site_series": site_series,
            "migration": mig, "end": end,
            "model": (cap.groups_record or {}).get("model", {}),
            # When the figures by site and type were taken (s since the session began),
            # and when the capture's other records were (`--at` shows one of them).
            "as_of": (cap.groups_record or {}).get("t"),
            "record_times": cap.record_times}


def type_is_internal(t):
    """Whether a by-type row folds away with the interpreter's and libraries' (the rule
    Doc/report.md states): a type is the program's when its bytes from the program's
    own sites are at least those from library, interpreter and Pypper sites. Bytes
    without a recorded site do not vote (they mix the program's unsampled objects with
    everything from before it ran), so a type the program's code made none of folds:
    import-time classes (EnumType, ABCMeta), the standard library's objects
    (IPv6Network, re.Pattern), Pypper's own (Recorder). Interpreter machinery (code,
    function, type...) folds too unless the program made a real share of it: one
    sampled lambda does not make "function" the program's."""
    if t["user"] <= 0 or t["user"] < t["library"]:
        return True
    return t["name"] in INTERNAL_TYPES and t["user"] < 0.1 * t["total"]


def _page_size(cap):
    return 4096 if not cap.frames else _frame_ps(cap)


def _frame_ps(cap):
    ps = [b - a for f in cap.frames[:1] for a, b in zip(f.pages, f.pages[1:])]
    return min(ps) if ps and min(ps) > 0 else 4096


def _heatmap_matrix(frames, all_pages):
    """Rows of page ranges (every page, in address order, gaps closed) x frames:
    mean heat x 1000 of the range's pages in the heap at that frame, -1 where none."""
    n = len(all_pages)
    if not n or not frames:
        return {"rows": 0, "cols": 0, "cells": [], "times": [], "pages_per_row": 0}
    rows = min(HEATMAP_ROWS, n)
    step = max(1, (len(frames) + HEATMAP_COLUMNS - 1) // HEATMAP_COLUMNS)
    picked = frames[::step]
    index = {p: i * rows // n for i, p in enumerate(all_pages)}
    cells = []
    for f in picked:
        sums = [0.0] * rows
        counts = [0] * rows
        for p, v in zip(f.pages, f.heat):
            r = index[p]
            sums[r] += v
            counts[r] += 1
        cells.append([round(1000 * s / c) if c else -1 for s, c in zip(sums, counts)])
    labels = [hex(all_pages[r * n // rows]) for r in range(rows)]
    times = [f.t for f in picked]
    return {"rows": rows, "cols": len(picked), "cells": cells, "times": times,
            "ticks": time_ticks(times), "pages_per_row": n / rows, "labels": labels}


def time_ticks(times, n=6):
    """[[column, label]] of the heatmap's time axis: up to n evenly spaced columns
    (frames, which can be unevenly spaced in time), labelled in seconds with the fewest
    decimals (1 to 3) that tell neighbouring labels apart: two frames 0.1 s apart (a
    record at main()'s return just after the recorder's) read "8.2 8.2" with one. A
    label still equal to its left neighbour's is left out."""
    if not times:
        return []
    k = min(n, len(times))
    cols = sorted({round(j * (len(times) - 1) / max(1, k - 1)) for j in range(k)})
    for decimals in (1, 2, 3):
        labels = [f"{times[c]:.{decimals}f}" for c in cols]
        # (Frames of one time cannot be told apart by any number of decimals.)
        if all(la != lb for la, lb, a, b in zip(labels, labels[1:], cols, cols[1:])
               if times[a] != times[b]):
            break
    ticks = []
    for c, label in zip(cols, labels):
        if not ticks or ticks[-1][1] != label:
            ticks.append([c, label])
    return ticks


def _site_series(frames, internal_paths, cwd):
    """The hot and warm bytes over time of the top sites, counted as the by-site table
    counts them: traced objects by their temperature plus untraced bytes by their
    pages' heat (a list of floats is mostly untraced bytes: without them cols.py's hot
    columns were a flat 359 KiB in the chart against 1.7 MiB in the table). "sites" the
    program's own, "internal_sites" the interpreter's, libraries' and Pypper's (and
    bytes without a site), which the report folds away (they never fill the program's
    chart). "untraced": how many frames carry untraced bytes by site (frames of older
    captures have traced bytes only; the report's caption says so)."""
    def point(f, s):
        hot, warm = f.sites.get(s, (0, 0))
        uhot, uwarm = (f.untraced_sites or {}).get(s, (0, 0))
        return hot + uhot, warm + uwarm

    totals = {}
    for f in frames:
        for s in set(f.sites) | set(f.untraced_sites or ()):
            totals[s] = totals.get(s, 0) + sum(point(f, s))
    ranked = sorted((s for s in totals if totals[s] > 0), key=lambda s: -totals[s])
    internal = {s: is_internal(s, internal_paths, cwd) for s in ranked}

    def series(sites):
        out = []
        for s in sites:
            points = [point(f, s) for f in frames]
            out.append({"site": shown_site(s, cwd) if s else "(no site)",
                        "hot": [p[0] for p in points], "warm": [p[1] for p in points]})
        return out
    return {"times": [f.t for f in frames],
            "untraced": sum(f.untraced_sites is not None for f in frames),
            "sites": series([s for s in ranked if not internal[s]][:TOP_SITES_OVER_TIME]),
            "internal_sites": series([s for s in ranked if internal[s]][:TOP_SITES_OVER_TIME])}


# ------------------------------------------------------------------ text

def moved_text(mig):
    if not mig:
        return "nothing (no migration counters: the program did not reach its end)"
    r, d, p = mig.get("relocate", {}), mig.get("demote", {}), mig.get("promote", {})
    sim = " (sim backend: recorded, nothing moved for real)" if mig.get("backend") == "sim" else ""
    return (f"{r.get('done', 0)} buffers relocated ({fmt_bytes(r.get('bytes', 0))}), "
            f"{d.get('done', 0)} pages demoted, {p.get('done', 0)} promoted, "
            f"{mig.get('segregated', 0)} allocations sent to the slow tier by cold sites, "
            f"{mig.get('passes', 0)} rounds{sim}"
            + (f" ({mig['idle_rounds']} more with nothing to place: the fast tier's budget held "
               "the heap and no slow-tier arena was used)" if mig.get("idle_rounds") else "")
            + (f", {mig['mistakes']} demoted pages came back (mistakes)" if mig.get("mistakes") else ""))


def _pct(a, b):
    return f"{100.0 * a / b:.0f}%" if b else "-"


def _class_parts(site, key):
    """What a site's hot (or cold) bytes are, when more than one kind: " (dict 1.3 MiB,
    list 48.0 KiB)", the untraced bytes by their pages' heat as "untraced"; a line of
    code can make the program's hot table and its cold lists (the site of a table is
    the line that last grew it). Untraced bytes alone say so."""
    parts = [(n, b) for n, b in (site.get("types_" + key) or {}).items() if b > 0]
    if site.get("untraced_" + key):
        parts.append(("untraced", site["untraced_" + key]))
    if len(parts) == 1 and parts[0][0] == "untraced":
        # All of it classed by page heat, not by its objects' own evidence: what
        # shares its pages (numbers a hot loop makes and frees there, a hot dict's
        # keys) heats it too.
        return " (untraced: by the heat of its pages)"
    if len(parts) < 2:
        return ""
    parts.sort(key=lambda p: -p[1])
    shown = ", ".join(f"{n} {fmt_bytes(b)}" for n, b in parts[:3])
    return f" ({shown}{', ...' if len(parts) > 3 else ''})"


def summary_lines(a, *, top=3):
    t = a["totals"]
    heap = a["heap"]
    if no_record(a):
        return [no_record_text(a)] + cautions(a)
    when = f" at {a['as_of']:.1f} s" if a.get("as_of") is not None else ""
    # The report's cards first (traced and untraced bytes together), then the parts.
    cards = ", ".join(f"{k} {size}" for size, _, k in _class_cards(a))
    lines = [f"heap {fmt_bytes(heap)}{when}: {cards}; traced {fmt_bytes(a['traced'])} "
             f"(object bodies {fmt_bytes(t['bytes'])} + owned buffers {fmt_bytes(t['owned'])}): "
             f"hot {fmt_bytes(t['hot'])}, warm {fmt_bytes(t['warm'])}, "
             f"cold {fmt_bytes(t['cold'])} ({_pct(t['cold'], a['traced'])} of traced); "
             + _untraced_text(a)]
    user = [s for s in a["sites"] if not s["internal"]]
    for label, key in (("hottest", "hot"), ("coldest", "cold")):
        # Traced and untraced bytes of the class together (untraced by page heat).
        ranked = sorted((s for s in user if s[key + "_all"] > 0), key=lambda s: -s[key + "_all"])[:top]
        for s in ranked:
            src = f"  {_clip(s['source'], 60)}" if s["source"] else ""
            lines.append(f"  {label}: {fmt_bytes(s[key + '_all'])} {key} at {s['name']}"
                         f"{_class_parts(s, key)}{src}")
    if not user:
        lines.append("  (no allocation site in the program's own code was recorded)")
    mig = a["migration"]
    if mig:
        lines.append(f"backend {mig.get('backend')}; moved: {moved_text(mig)}")
    adv = a["advice"]
    if adv:
        row = next((r for r in adv["rows"] if r["slow_share"] == 0.25 and r["latency"] == 2.0),
                   adv["rows"][0])
        lines.append(f"advisor: {100 * row['slow_share']:g}% of the heap on a "
                     f"{row['latency']:g}x-latency tier: est. slowdown x{row['pypper']:.3f} with "
                     f"hottest-first placement, x{row['first_touch']:.3f} first-touch "
                     f"(memory accesses only, from Pypper's temperatures: see its error)")
        lines.append(f"advisor: {_advisor.short_error_statement()}")
    elif a.get("advice_short"):
        lines.append(advice_short_text(a))
    lines += cautions(a)
    if not a["finished"]:
        lines.append("the program did not reach its end (killed or crashed): figures are "
                     "from its last records")
    return lines


def advice_short_text(a):
    """Why the advisor gives no estimate for a run watched too briefly."""
    return (f"advisor: no estimate: the run was watched for {a['uptime'] or 0.0:.1f} s; "
            f"temperatures need at least {ADVISOR_MIN_SECONDS:g} s")


def no_record(a):
    """Whether the capture holds no record of the heap at all (no figures, no frame)."""
    return a.get("as_of") is None and not a["frames"]


def no_record_text(a):
    """What a capture without any record of the heap says instead of figures of 0 B:
    the program ended (os._exit, a kill) before the recorder's first record."""
    interval = (a.get("header") or {}).get("interval")
    every = f" (one every {interval:g} s)" if isinstance(interval, (int, float)) else ""
    ended = ("it ended" if a["finished"] else
             "it ended without Pypper's record at exit (os._exit, a signal or a crash)")
    return (f"no figures: the capture holds no record of the heap; {ended} before the "
            f"recorder's first record{every}")


def cautions(a):
    """The cautions of the summary, stats and the report, in that order: Pypper
    paused for memory, most of the CPU time in other threads, one CPU only."""
    return [c for c in (pause_text(a), threads_text(a), one_cpu_text(a)) if c]


def pause_text(a):
    """A caution when Pypper paused for lack of memory (Doc/pressure.md): while paused it
    takes no evidence and traces no new object, so hot data can look cold and traced
    bytes fall short. None when it did not pause."""
    st = ((a.get("end") or {}).get("stats")) or {}
    n = st.get("pressure_pauses") or 0
    if not n:
        return None
    secs = (st.get("pressure_paused_ms") or 0) / 1000.0
    run = a.get("seconds")
    share = f", {100.0 * secs / run:.0f}% of the run" if run else ""
    return (f"caution: Pypper paused {n} time{'s' if n != 1 else ''} ({secs:.1f} s{share}) "
            f"because the machine was short of memory; while paused it takes no evidence "
            f"and traces no new object, so hot data may show as cold and traced bytes "
            f"fall short")


#: Other threads' CPU seconds below which threads_text says nothing.
OTHER_THREADS_MIN_S = 0.2


def threads_text(a):
    """A caution when most of the program's CPU time was spent in threads other than
    the main one: the sampler reads the main thread's frames only, so objects that
    only other threads use get no evidence of their own (their pages' heat and the
    reference counts it polls only), and hot data there may show as cold. None
    otherwise, and for captures without CPU figures."""
    cpu = a.get("cpu") or {}
    try:
        main, other = cpu["main"], cpu["process"] - cpu["main"] - cpu["pypper"]
    except (KeyError, TypeError):
        return None
    if other < OTHER_THREADS_MIN_S or other <= main:
        return None
    share = 100.0 * other / (other + main)
    return (f"caution: {share:.0f}% of the program's CPU time ({other:.1f} s) ran in threads "
            f"other than the main one; Pypper reads the main thread's frames only, so "
            f"data used only by other threads gets no evidence of its own and may show "
            f"as cold (the advisor's estimates too)")


def one_cpu_text(a):
    """A caution when the program could run on one CPU only (its affinity, e.g. taskset
    -c 1, or the machine): the sampler thread then shares that CPU and reads the main
    thread's frames only while the program is not running, so it sees few distinct
    moments and hot data shows as cold. None otherwise, and for captures made before
    the header said."""
    h = a.get("header") or {}
    if h.get("cpus") != 1:
        return None
    hz = (h.get("config") or {}).get("signal_hz") or 0
    if hz:
        return (f"caution: the program could run on one CPU only; Pypper's sampler thread "
                f"shared it, and the evidence is mostly the main thread's own samples "
                f"(SIGNAL_HZ={hz}): fewer than on a machine with a free core")
    return ("caution: the program could run on one CPU only (its affinity, e.g. taskset, or "
            "the machine); Pypper's sampler thread shared it and saw the program only "
            "between its time slices, so hot data may show as cold: allow a second CPU, or "
            "let the main thread sample itself (-O signal_hz=500, PYPPER_SIGNAL_HZ=500)")


def stats_text(a):
    h = a["header"]
    out = [f"capture {a['path']}",
           f"program: {' '.join(h.get('argv', []))} (pid {h.get('pid')}, pypper "
           f"{h.get('version')}, {h.get('mode')}); "
           + (f"exit status {a['status']}, {a['seconds']} s" if a["finished"]
              else "DID NOT FINISH")
           + f"; {a['frames']} heat frames, {a['pages']} pages"]
    times = a.get("record_times") or []
    if len(times) > 1:
        shown = f"{round(a['as_of'], 2):g} s" if a.get("as_of") is not None else "none"
        out.append("figures by site and type recorded at " + ", ".join(f"{t:g}" for t in times)
                   + f" s (shown: {shown}; --at T shows another)")
    out += summary_lines(a, top=5)
    out.append("")
    out.append("by allocation site (program's code first; bytes: traced objects with their "
               "owned buffers; untraced: heap the live trace has not taken; hot and cold: "
               "traced bytes by their objects' temperature + untraced bytes by their pages' heat):")
    out.append(f"  {'bytes':>10} {'untraced':>10} {'hot':>10} {'cold':>10} {'temp':>5}  site")
    shown = [s for s in a["sites"] if not s["internal"]][:15]
    internal = [s for s in a["sites"] if s["internal"]]
    for s in shown:
        out.append(f"  {fmt_bytes(s['total']):>10} {fmt_bytes(s['untraced']):>10} "
                   f"{fmt_bytes(s['hot_all']):>10} {fmt_bytes(s['cold_all']):>10} {s['mean_t']:5.2f}  "
                   f"{s['name']}")
        if s["source"]:
            out.append(f"  {'':>10} {'':>10} {'':>10} {'':>10} {'':>5}    {_clip(s['source'], 80)}")
    if internal:
        ib = sum(s["total"] for s in internal)
        iu = sum(s["untraced"] for s in internal)
        out.append(f"  {fmt_bytes(ib):>10} {fmt_bytes(iu):>10} in {len(internal)} "
                   f"interpreter/library sites or without a site (pypper report shows them)")
    out.append("")
    out.append("by type (traced objects; types the program's code made less of than library "
               "code did folded):")
    user_types = [t for t in a["types"] if not t["internal"]]
    internal_types = [t for t in a["types"] if t["internal"]]
    for t in user_types[:10]:
        out.append(f"  {fmt_bytes(t['total']):>10} {t['objects']:>9} objects  "
                   f"hot {fmt_bytes(t['hot']):>10} cold {fmt_bytes(t['cold']):>10}  {t['name']}")
    if internal_types:
        out.append(f"  {fmt_bytes(sum(t['total'] for t in internal_types)):>10} "
                   f"{sum(t['objects'] for t in internal_types):>9} objects of "
                   f"{len(internal_types)} interpreter, library and Pypper types (code, "
                   f"function, type, import-time classes, ...)")
    adv = a["advice"]
    if adv:
        out.append("")
        out.append("tiering advisor (estimated slowdown of memory accesses vs all-DRAM):")
        out.append(f"  {'slow share':>10} {'latency':>7} {'pypper':>8} {'first-touch':>11}")
        for r in adv["rows"]:
            out.append(f"  {100 * r['slow_share']:>9.1f}% {r['latency']:>6g}x "
                       f"{r['pypper']:>8.3f} {r['first_touch']:>11.3f}")
    elif a.get("advice_short"):
        out.append("")
        out.append(advice_short_text(a))
    return "\n".join(out)


def diff_notes(a, b):
    """Lines that say when A and B are hardly comparable: captures of two programs,
    or runs of very different lengths (temperatures build up over a run's first
    seconds, Doc/report.md: "Hot bytes still grow")."""
    notes = []
    prog = [os.path.basename((x["header"].get("argv") or [""])[0]) for x in (a, b)]
    if prog[0] != prog[1]:
        notes.append(f"note: two different programs ({prog[0] or '?'} and {prog[1] or '?'})")
    secs = [x.get("seconds") for x in (a, b)]
    if all(secs) and max(secs) > 1.5 * min(secs) and min(secs) < 10:
        notes.append(f"note: runs of {secs[0]:g} s and {secs[1]:g} s: hot bytes grow over a "
                     f"run's first seconds, so part of a change in them may be the length")
    return notes


def diff_text(a, b):
    """What changed between two analyses: totals, then the sites and types whose bytes
    changed most, the program's own first (a site's bytes: traced with their owned
    buffers plus untraced, as `stats` counts them); interpreter and library sites and
    types are one line each (their changes are mostly import-time noise)."""
    def line(label, x, y):
        return f"  {label:<22} {fmt_bytes(x):>10} -> {fmt_bytes(y):>10}  ({fmt_delta(y - x)})"
    out = [f"A: {a['path']} ({' '.join(a['header'].get('argv', []))})",
           f"B: {b['path']} ({' '.join(b['header'].get('argv', []))})",
           *diff_notes(a, b),
           line("heap", a["heap"], b["heap"]),
           line("traced", a["traced"], b["traced"]),
           line("untraced", a["untraced"], b["untraced"])]
    # The summary's and the report's cards first (traced and untraced bytes together:
    # a newcomer's diff showed only "hot (traced) 1.3 MiB -> 730.4 KiB" between two
    # runs whose summaries said hot 1.3 MiB -> 3.8 MiB), then their traced part.
    ua, ub = a.get("untraced_classes"), b.get("untraced_classes")
    for k in ("hot", "warm", "cold"):
        if ua is not None and ub is not None:
            out.append(line(k, a["totals"][k] + ua[k], b["totals"][k] + ub[k]))
    for k in ("hot", "warm", "cold"):
        out.append(line(f"{k} (traced)", a["totals"][k], b["totals"][k]))
    out.append(line("owned buffers", a["totals"]["owned"], b["totals"]["owned"]))

    def figures(entry):
        # Sites: traced + untraced (captures before untraced bytes: traced only).
        return (entry.get("all", entry["total"]), entry.get("hot_all", entry["hot"]),
                entry.get("warm_all", entry.get("warm", 0)), entry.get("cold_all", entry["cold"]))
    for title, key, folded in (("by allocation site", "sites", "interpreter/library sites"),
                               ("by type", "types", "interpreter/library types")):
        da = {s["name"]: s for s in a[key]}
        db = {s["name"]: s for s in b[key]}
        empty = (0, 0, 0, 0)
        changes, internal = [], [0, 0]
        for n in set(da) | set(db):
            x = figures(da[n]) if n in da else empty
            y = figures(db[n]) if n in db else empty
            if x == y:
                continue
            # Folded when internal in each capture that has it (the program's in
            # either one: shown).
            if all(x.get("internal") for x in (da.get(n), db.get(n)) if x):
                internal[0] += y[0] - x[0]
                internal[1] += 1
                continue
            changes.append((n, x, y))
        changes.sort(key=lambda c: -abs(c[2][0] - c[1][0]))
        out.append(f"{title} (largest changes, the program's first):")
        for n, x, y in changes[:12]:
            tag = "new " if n not in da else "gone" if n not in db else "    "
            out.append(f"  {tag} {fmt_delta(y[0] - x[0]):>11} (hot {fmt_delta(y[1] - x[1])}, "
                       f"warm {fmt_delta(y[2] - x[2])}, cold {fmt_delta(y[3] - x[3])})  "
                       f"{n or '(no site)'}")
        if len(changes) > 12:
            out.append(f"       {len(changes) - 12} more changed")
        if internal[1]:
            out.append(f"       {fmt_delta(internal[0]):>11} in {internal[1]} {folded} "
                       "(pypper report shows them)")
        if not changes and not internal[1]:
            out.append("  no change")
    out.append(f"moved A: {moved_text(a['migration'])}")
    out.append(f"moved B: {moved_text(b['migration'])}")
    return "\n".join(out)


# ------------------------------------------------------------------ HTML

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;
 color:#1d2430;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:18px 24px 60px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0;
 padding-bottom:4px}
.sub{color:#5b6473}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #d5d9e0;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:20px}.card span{color:#5b6473;font-size:12px}
.hot{color:#c0392b}.warm{color:#d68910}.cold{color:#2e86c1}
table{border-collapse:collapse;background:#fff;width:100%;margin:6px 0}
th,td{border-bottom:1px solid #e3e6eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;
 white-space:nowrap}
code{font:12px/1.3 ui-monospace,Menlo,Consolas,monospace}.src{color:#444;display:block;margin-top:2px}
.bar{display:flex;height:12px;width:160px;border-radius:3px;overflow:hidden;background:#e9ecf0}
.bar i{display:block;height:100%}details{margin:10px 0;background:#fff;border:1px solid #d5d9e0;
 border-radius:6px;padding:6px 10px}summary{cursor:pointer;font-weight:600}
.note{color:#5b6473;font-size:13px;max-width:900px}.warn{background:#fff4e5;border:1px solid #f0c36d;
 padding:8px 12px;border-radius:6px}
canvas{background:#fff;border:1px solid #d5d9e0}#legend span{display:inline-block;width:18px;height:10px}
"""

JS = r"""
(function(){
var D=JSON.parse(document.getElementById('pypper-data').textContent);
function colour(v){ // v: heat x1000, -1: page not in the heap then
  if(v<0) return [232,234,238];
  if(v===0) return [22,38,92];
  var x=Math.min(1,Math.log10(1+v)/3); // log scale: 1 (0.001) .. 1000 (1.0)
  var stops=[[40,60,160],[40,160,170],[240,200,40],[220,40,30]];
  var s=x*(stops.length-1),i=Math.min(stops.length-2,Math.floor(s)),f=s-i;
  return [0,1,2].map(function(k){return Math.round(stops[i][k]+(stops[i+1][k]-stops[i][k])*f);});
}
function heatmap(){
  var H=D.heatmap,c=document.getElementById('heatmap');
  if(!H.cols){c.replaceWith(document.createTextNode('No heat frames were recorded (the run was shorter than one frame interval).'));return;}
  // The cells, with light axes: page index (address order) on the left, run time below.
  var cw=Math.max(2,Math.floor(900/H.cols)),rh=Math.max(1,Math.floor(480/H.rows));
  var L=64,B=34,T=6,R=8,w=H.cols*cw,h=H.rows*rh;
  c.width=L+w+R;c.height=T+h+B;var g=c.getContext('2d');
  g.fillStyle='#fff';g.fillRect(0,0,c.width,c.height);
  var img=g.createImageData(w,h);
  for(var x=0;x<H.cols;x++)for(var y=0;y<H.rows;y++){
    var col=colour(H.cells[x][y]);
    for(var dy=0;dy<rh;dy++)for(var dx=0;dx<cw;dx++){
      var o=((y*rh+dy)*w+(x*cw+dx))*4;img.data[o]=col[0];img.data[o+1]=col[1];img.data[o+2]=col[2];img.data[o+3]=255;}}
  g.putImageData(img,L,T);
  g.strokeStyle='#999';g.fillStyle='#5b6473';g.font='10px system-ui,sans-serif';g.lineWidth=1;
  var pages=Math.round(H.rows*H.pages_per_row),nt=Math.min(5,H.rows);
  g.textAlign='right';g.textBaseline='middle';
  for(var i=0;i<=nt;i++){ // y: page index at evenly spaced rows
    var r=Math.round(i*H.rows/nt),yy=T+r*rh;
    g.beginPath();g.moveTo(L-4,yy+0.5);g.lineTo(L,yy+0.5);g.stroke();
    g.fillText(String(Math.round(r*H.pages_per_row)),L-6,Math.min(yy,T+h-4));}
  g.textAlign='center';g.textBaseline='top';
  H.ticks.forEach(function(tk){ // x: the time of evenly spaced columns (frames may be uneven)
    var k=tk[0],xx=L+k*cw+cw/2;
    g.beginPath();g.moveTo(xx+0.5,T+h);g.lineTo(xx+0.5,T+h+4);g.stroke();
    g.fillText(tk[1],Math.max(L+8,Math.min(xx,L+w-8)),T+h+6);});
  g.fillText('run time (s)',L+w/2,T+h+20);
  g.save();g.translate(10,T+h/2);g.rotate(-Math.PI/2);g.fillText('page (index, address order)',0,-6);g.restore();
  c.title='x: run time, '+H.cols+' frames; y: '+pages+' pages in address order, '+H.pages_per_row.toFixed(1)+' a row'+(H.labels&&H.labels.length?', from '+H.labels[0]:'');
  var leg=document.getElementById('legend');
  [[-1,'not in the heap'],[0,'0 (cold)'],[1,'0.001'],[10,'0.01'],[100,'0.1'],[1000,'1.0 (hottest)']].forEach(function(p){
    var s=document.createElement('span');var k=colour(p[0]);s.style.background='rgb('+k+')';
    leg.appendChild(s);leg.appendChild(document.createTextNode(' '+p[1]+'  '));});
  c.setAttribute('data-drawn',String(H.cols*H.rows));
}
function series(S,sites,id,empty){
  var el=document.getElementById(id);
  if(!sites||!sites.length||S.times.length<1){el.textContent=empty;el.setAttribute('data-drawn','0');return;}
  var W=900,Hh=260,L=70,B=30,max=1;
  sites.forEach(function(s){s.hot.forEach(function(v,i){max=Math.max(max,v+s.warm[i]);});});
  var t0=S.times[0],t1=S.times[S.times.length-1]||1;if(t1<=t0)t1=t0+1;
  var ns='http://www.w3.org/2000/svg',svg=document.createElementNS(ns,'svg');
  svg.setAttribute('width',W);svg.setAttribute('height',Hh);svg.setAttribute('id',id+'-svg');
  var colours=['#c0392b','#2471a3','#229954','#d68910','#7d3c98','#5d6d7e'];
  function X(t){return L+(W-L-10)*(t-t0)/(t1-t0);}function Y(v){return Hh-B-(Hh-B-10)*v/max;}
  var ax=document.createElementNS(ns,'path');ax.setAttribute('d','M'+L+' 10V'+(Hh-B)+'H'+(W-10));ax.setAttribute('stroke','#888');ax.setAttribute('fill','none');svg.appendChild(ax);
  [[0,'0'],[max,fmt(max)]].forEach(function(p){var t=document.createElementNS(ns,'text');t.setAttribute('x',4);t.setAttribute('y',Y(p[0])+4);t.setAttribute('font-size','11');t.textContent=p[1];svg.appendChild(t);});
  if(S.as_of!=null&&S.as_of>=t0&&S.as_of<=t1){ // when the tables' figures were taken
    var m=document.createElementNS(ns,'path');m.setAttribute('d','M'+X(S.as_of).toFixed(1)+' 10V'+(Hh-B));m.setAttribute('stroke','#888');m.setAttribute('stroke-dasharray','4 3');m.setAttribute('id',id+'-as-of');svg.appendChild(m);
    var left=X(S.as_of)>L+50,mt=document.createElementNS(ns,'text');mt.setAttribute('x',X(S.as_of)+(left?-3:3));mt.setAttribute('y',20);mt.setAttribute('text-anchor',left?'end':'start');mt.setAttribute('font-size','11');mt.textContent='tables';svg.appendChild(mt);}
  var tt=document.createElementNS(ns,'text');tt.setAttribute('x',W-140);tt.setAttribute('y',Hh-8);tt.setAttribute('font-size','11');tt.textContent='run time (s) '+t0.toFixed(1)+'..'+t1.toFixed(1);svg.appendChild(tt);
  var list=document.getElementById(id+'-legend');
  sites.forEach(function(s,k){
    var d='';s.hot.forEach(function(v,i){d+=(i?'L':'M')+X(S.times[i]).toFixed(1)+' '+Y(v+s.warm[i]).toFixed(1);});
    if(s.hot.length===1)d+='h3';
    var p=document.createElementNS(ns,'path');p.setAttribute('d',d);p.setAttribute('stroke',colours[k%6]);p.setAttribute('stroke-width','2');p.setAttribute('fill','none');svg.appendChild(p);
    var li=document.createElement('li');li.innerHTML='<span style="color:'+colours[k%6]+'">&#9632;</span> <code></code>';li.querySelector('code').textContent=s.site;list.appendChild(li);});
  el.appendChild(svg);el.setAttribute('data-drawn',String(sites.length));
}
function fmt(n){var u=['B','KiB','MiB','GiB'],i=0;while(n>=1024&&i<3){n/=1024;i++;}return n.toFixed(i?1:0)+' '+u[i];}
heatmap();
series(D.site_series,D.site_series.sites,'site-series','No warm or hot bytes from an allocation site in the program\'s own code were seen in the heat frames.');
series(D.site_series,D.site_series.internal_sites,'internal-site-series','None seen in the heat frames.');
document.body.setAttribute('data-pypper-report','rendered');
})();
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _bar(g):
    total = g["hot"] + g["warm"] + g["cold"]
    if not total:
        return '<div class="bar"></div>'
    parts = "".join(f'<i style="width:{100 * g[k] / total:.1f}%;background:{c}" title="{k} '
                    f'{_e(fmt_bytes(g[k]))}"></i>'
                    for k, c in (("hot", "#c0392b"), ("warm", "#f0b429"), ("cold", "#2e86c1")) if g[k])
    return f'<div class="bar">{parts}</div>'


def _hist(g):
    tot = sum(g["hist"]) or 1
    return " ".join(f"{100 * v / tot:.0f}" for v in g["hist"])


def _site_rows(sites):
    rows = []
    for s in sites:
        name = s["name"] or "(no site recorded)"
        src = f'<code class="src">{_e(s["source"])}</code>' if s.get("source") else ""
        types = ", ".join(f"{_e(t)}" for t, _ in sorted(s["types"].items(), key=lambda kv: -kv[1])[:3])
        rows.append(f'<tr><td><code>{_e(name)}</code>{src}<div class="sub">{types}</div></td>'
                    f'<td class="n">{_e(fmt_bytes(s["total"]))}</td>'
                    f'<td class="n">{_e(fmt_bytes(s["owned"]))}</td>'
                    f'<td class="n untraced">{_e(fmt_bytes(s.get("untraced", 0)))}</td>'
                    f'<td class="n hot">{_e(fmt_bytes(s.get("hot_all", s["hot"])))}</td>'
                    f'<td class="n warm">{_e(fmt_bytes(s.get("warm_all", s["warm"])))}</td>'
                    f'<td class="n cold">{_e(fmt_bytes(s.get("cold_all", s["cold"])))}</td>'
                    f'<td class="n">{s["mean_t"]:.3f}</td><td>{_bar(s)}</td>'
                    f'<td class="n" title="share of bytes per tenth of temperature 0..1">'
                    f'<code>{_hist(s)}</code></td></tr>')
    return "\n".join(rows)


TABLE_HEAD = ('<tr><th>{0}</th><th>bytes (traced)</th><th>of which owned buffers</th>'
              '<th title="heap bytes the live trace has not taken, attributed by the heap walk; '
              'classed hot, warm or cold by the heat of their pages">untraced</th>'
              '<th title="traced bytes by temperature + untraced bytes by page heat">hot</th>'
              '<th>warm</th><th>cold</th><th>mean temp. (traced)</th><th>hot / warm / cold</th>'
              '<th>bytes by temperature tenth (%)</th></tr>')


TYPE_HEAD = ('<tr><th>type</th><th>objects</th><th>bytes</th><th>of which owned buffers</th>'
             '<th>hot</th><th>warm</th><th>cold</th><th>mean temp.</th><th>hot / warm / cold</th></tr>')


def _class_cards(a):
    """The hot / warm / cold cards: traced bytes by their objects' temperature plus
    untraced bytes by their pages' heat (a column store's floats are untraced: its hot
    data is mostly there), with the two parts in the label."""
    t, u = a["totals"], a.get("untraced_classes")
    cards = []
    # The three add up to 100% (the walk's untraced bytes by class, not heap - traced).
    whole_sum = sum(t[k] + (u[k] if u else 0) for k in ("hot", "warm", "cold"))
    for k in ("hot", "warm", "cold"):
        if u is None:
            cards.append((fmt_bytes(t[k]), f"{k} ({_pct(t[k], a['traced'])} of traced; untraced "
                                           "bytes have no temperature in this capture)", k))
            continue
        whole = t[k] + u[k]
        cards.append((fmt_bytes(whole), f"{k} ({_pct(whole, whole_sum)}): "
                                        f"traced {fmt_bytes(t[k])} + untraced {fmt_bytes(u[k])}",
                      k))
    return cards


def series_note(a):
    """The chart's caption: what a point counts, and when the capture's frames lack
    the untraced bytes by site (made by an older Pypper) that the tables count."""
    ss = a["site_series"]
    n, have = len(ss["times"]), ss.get("untraced", 0)
    when = ""
    if a.get("as_of") is not None and a["as_of"] in ss["times"]:
        when = (f" The tables' figures are those of the record at {a['as_of']:.1f} s (dashed "
                f"line), taken with the frame of that time.")
    elif a.get("as_of") is not None:
        # The end record: a groups record without a frame.
        when = (f" The tables' figures are those of the record at {a['as_of']:.1f} s, which "
                f"has no frame of its own (the program's end): the chart's points are from "
                f"other times.")
    if have == n:
        return ("A point is a site's hot and warm bytes in that frame, counted as the by-site "
                "table counts them: traced objects by their temperature plus untraced bytes "
                "(floats, objects the live trace has not taken) by their pages' heat." + when)
    missing = "its frames have" if not have else f"{n - have} of its {n} frames have"
    return (f"This capture was made by an older Pypper: {missing} traced objects' bytes only. "
            "Untraced bytes (floats, objects the live trace has not taken), which the by-site "
            "table counts by their pages' heat, are left out there, so a site's curve can be "
            "well below its row in the table." + when)


def render_html(a):
    h = a["header"]
    t = a["totals"]
    heap = a["heap"]
    prog = " ".join(h.get("argv", [])) or h.get("target", "?")
    cards = "".join(
        f'<div class="card"><b class="{cls}">{_e(v)}</b><span>{_e(lbl)}</span></div>'
        for v, lbl, cls in (
            (fmt_bytes(heap), "heap in use (Pypper's allocator)"
             + (f" at {a['as_of']:.1f} s" if a.get("as_of") is not None else ""), ""),
            (fmt_bytes(a["traced"]), "traced: object bodies + owned buffers", ""),
            *_class_cards(a),
            (fmt_bytes(a["untraced"]),
             ("untraced: by page heat " + ", ".join(f"{k} {fmt_bytes(a['untraced_classes'][k])}"
                                                    for k in ("hot", "warm", "cold"))
              if a.get("untraced_classes") else "untraced (no temperature in this capture)"), ""),
            (fmt_bytes(t["owned"]), "owned buffers (list items, tables, bytearray data)", "")))
    warn = ""
    if not a["finished"]:
        warn = ('<p class="warn">The program did not reach its end (it crashed or was killed): '
                'the figures are from its last records'
                + (' (the last line was incomplete and was skipped)' if a["truncated"] else "")
                + '.</p>')
    if no_record(a):
        text = no_record_text(a)
        warn += f'<p class="warn">{_e(text[0].upper() + text[1:])}.</p>'
    for caution in cautions(a):
        warn += f'<p class="warn">{_e(caution[0].upper() + caution[1:])}.</p>'
    user = [s for s in a["sites"] if not s["internal"]]
    internal = [s for s in a["sites"] if s["internal"]]
    ib = sum(s["total"] for s in internal)
    user_html = (f'<table>{TABLE_HEAD.format("allocation site (file:line) and source line")}'
                 f'{_site_rows(user[:60])}</table>' if user else
                 '<p>No allocation in the program\'s own files was recorded with a site '
                 '(sites are sampled: one allocation in ALLOC_SAMPLE).</p>')
    internal_html = (f'<details id="internal-sites"><summary>Interpreter and library internals, '
                     f'and objects without a recorded site: {len(internal)} sites, '
                     f'{_e(fmt_bytes(ib))}</summary><table>'
                     f'{TABLE_HEAD.format("site")}{_site_rows(internal[:80])}</table></details>')
    type_rows = []
    internal_types = [ty for ty in a["types"] if ty["internal"]]
    for ty in [ty for ty in a["types"] if not ty["internal"]][:40] + [None] + internal_types[:40]:
        if ty is None:
            type_rows.append('</table><details id="internal-types"><summary>Interpreter, '
                             'library and Pypper types (code, functions, classes, the standard '
                             'library\'s objects, objects from before the program ran): '
                             f'{len(internal_types)} types, '
                             f'{_e(fmt_bytes(sum(t["total"] for t in internal_types)))}'
                             f'</summary><table>{TYPE_HEAD}')
            continue
        type_rows.append(f'<tr><td><code>{_e(ty["name"])}</code>'
                         f'{" <span class=sub>(program)</span>" if not ty["internal"] else ""}</td>'
                         f'<td class="n">{ty["objects"]}</td><td class="n">{_e(fmt_bytes(ty["total"]))}</td>'
                         f'<td class="n">{_e(fmt_bytes(ty["owned"]))}</td>'
                         f'<td class="n hot">{_e(fmt_bytes(ty["hot"]))}</td>'
                         f'<td class="n warm">{_e(fmt_bytes(ty["warm"]))}</td>'
                         f'<td class="n cold">{_e(fmt_bytes(ty["cold"]))}</td>'
                         f'<td class="n">{ty["mean_t"]:.3f}</td><td>{_bar(ty)}</td></tr>')
    adv = a["advice"]
    if adv:
        adv_rows = "".join(
            f'<tr><td class="n">{100 * r["slow_share"]:g}%</td><td class="n">{r["latency"]:g}x</td>'
            f'<td class="n">{r["dram_pages"]}</td><td class="n"><b>x{r["pypper"]:.3f}</b></td>'
            f'<td class="n">x{r["first_touch"]:.3f}</td></tr>' for r in adv["rows"])
        adv_html = (f'<table id="advisor"><tr><th>heap on the slow tier</th><th>slow-tier latency '
                    f'(x DRAM)</th><th>pages kept in DRAM</th><th>Pypper placement (hottest pages '
                    f'in DRAM)</th><th>first-touch placement (address order)</th></tr>{adv_rows}'
                    f'</table>')
    elif a.get("advice_short"):
        adv_html = f'<p id="advisor">{_e(advice_short_text(a))}.</p>'
    else:
        adv_html = '<p id="advisor">No page had any heat: nothing to estimate from.</p>'
    mig = a["migration"]
    end = a["end"]
    topo = end.get("topology") or h.get("topology") or {}
    ret = ((end.get("heap_stats") or {}).get("retention") or {})
    mistakes = []
    if mig:
        errs = mig.get("errors") or {}
        mistakes.append(f"backend errors: {sum(errs.values())} ({_e(errs)})")
        mistakes.append(f"fallbacks (demotions left in fast memory, slow tier full): {mig.get('fallbacks', 0)}")
        for k in ("promote", "demote", "relocate"):
            v = mig.get(k) or {}
            mistakes.append(f"{k}: tried {v.get('tried', 0)}, done {v.get('done', 0)}, failed {v.get('failed', 0)}")
        if "mistakes" in mig:
            mistakes.append(f"demoted pages that came back within 8 rounds: {mig['mistakes']} "
                            f"(smoothed rate {100.0 * mig.get('mistake_rate', 0.0):.0f}%; share of "
                            f"demotions acted on now {100.0 * mig.get('demote_scale', 1.0):.0f}%)")
    st = end.get("stats") or {}
    if st.get("pressure_pauses"):
        mistakes.append(f"paused while the process was short of memory: {st['pressure_pauses']} "
                        f"times, {st.get('pressure_paused_ms', 0) / 1000.0:.1f} s")
    if ret:
        mistakes.append(f"retention mistakes (freed memory trimmed then needed again): {ret.get('mistakes', 0)}")
    cold_sites = "".join(f"<li><code>{_e(s)}</code></li>" for s in (mig.get("cold_sites") or [])[:10])
    moved_html = (f'<p><b>Backend:</b> {_e(mig.get("backend", "?"))}: {_e(mig.get("reason", ""))}</p>'
                  f'<p><b>Tiers:</b> fast nodes {_e(topo.get("fast_nodes"))}, slow nodes '
                  f'{_e(topo.get("slow_nodes"))} ({_e(topo.get("source"))}'
                  f'{"; one tier of memory: the tiers are logical" if topo.get("simulated") else ""})</p>'
                  f'<p><b>Moved:</b> {_e(moved_text(mig))}</p>'
                  + (f'<p>Fast tier at the end: {mig.get("fast_pages", "?")} pages, slow tier '
                     f'{mig.get("slow_pages", "?")} pages, budget {mig.get("budget_pages", "?")} pages.</p>'
                     if mig.get("passes") or not mig.get("idle_rounds") else
                     '<p>No round had anything to place: the fast tier\'s budget held the whole '
                     'heap and no slow-tier arena was used (where the kernel itself put pages, '
                     'in swap or on a slower node, was not looked at).</p>')
                  + (f'<p>Cold allocation sites (new objects from them go straight to the slow tier):</p>'
                     f'<ul>{cold_sites}</ul>' if cold_sites else "")
                  + f'<p><b>Mistakes and failures:</b></p><ul>'
                  + "".join(f"<li>{m}</li>" for m in mistakes) + '</ul>'
                  if mig else '<p>No migration counters: the program did not reach its end.</p>')
    model = a["model"]
    hm = a["heatmap"]
    data = {"heatmap": hm, "site_series": dict(a["site_series"], as_of=a.get("as_of"))}
    data_json = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    status = (f"exit status {a['status']}, {a['seconds']} s" if a["finished"] else "did not finish")
    ps = a["page_size"]
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Pypper report: {_e(prog)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>
<body><main>
<h1>Pypper report: <code>{_e(prog)}</code></h1>
<div class="sub">pid {_e(h.get("pid"))}, pypper {_e(h.get("version"))} ({_e(h.get("mode"))}), Python
{_e(h.get("python"))}; {status}; {a["frames"]} heat frames of {a["pages"]} pages
({_e(fmt_bytes(a["pages"] * ps))}); capture <code>{_e(os.path.basename(a["path"]))}</code></div>
{warn}
<section id="headline"><h2>Headline</h2><div class="cards">{cards}</div>
<p class="note">Bytes include the buffers objects own (a list's item array, a dict's or set's
table, a bytearray's data). Hot, warm and cold are Pypper's classes: temperature (0..1, relative to
the hottest object of the run, decaying with a half-life of {_e(model.get("half_life_ms", "?"))} ms)
at least {_e(model.get("hot_threshold", "?"))} is hot, below {_e(model.get("cold_threshold", "?"))}
is cold. Untraced memory is heap the live trace has not taken (objects the collector does not track,
such as floats and strings, and objects allocated after its last pass): it has no temperature.</p>
</section>
<section id="advisor-section"><h2>Tiering advisor: what a slow tier would cost</h2>
{adv_html}
<p class="note">Estimated slowdown of the program's memory accesses against all-DRAM if that share of the
heap's {adv["pages"] if adv else 0} pages were on a slow tier (CXL, far memory) with that latency: each
access costs 1 in DRAM and L on the slow tier, so the figure is 1 + (L-1) x (share of accesses that land on
the slow tier). What it rests on: a page's accesses are estimated by its heat averaged over the run's
{a["frames"]} frames (heat = the temperature of the traced objects on it, weighted by their bytes; the
temperature comes from sampled evidence of use: frames, callers, reference counts; untraced bytes, such
as floats and strings, count at their page's heat). The estimates can be off either way (below). As a
slowdown of the whole program it is a ceiling for these estimates: a program that computes between
accesses, or overlaps them, slows less. Pypper's column
puts the hottest pages in DRAM; first-touch fills DRAM in allocation (address) order, as an OS placing pages
where they are first touched would.</p>
<p class="note" id="advisor-error"><b>Its error:</b> {_e(_advisor.error_statement()[0].upper() + _advisor.error_statement()[1:])}.
Measured by <code>Tools/bench/advisor_error.py</code> (estimate from a <code>pypper run</code> capture, truth from the
same workload's exact counts under Valgrind); Doc/report.md has the figures and when to distrust them.</p></section>
<section id="sites"><h2>By allocation site: the program's code</h2>
{user_html}
{internal_html}
<p class="note">A site is the line of Python code that allocated the object; sites are sampled
(one allocation in ALLOC_SAMPLE), so a site's bytes are those of the sampled objects and objects without a
recorded site are in the folded section. <b>Untraced</b> is heap the live trace has not taken (floats, strings,
objects the live trace has not reached), attributed by a walk over the heap: a 16 KiB pool's untraced bytes go
to the site of the recorded allocation in it (kept while it lives), a block above 512 bytes to its own site. Untraced bytes
have no temperature of their own: they are classed hot, warm or cold by the heat of their pages (the sampler's
evidence about objects without an entry, shared by the bytes of their page, leaving out what it saw of loop
temporaries that came and went there; with write tracking, the page's write history), and counted so in the hot,
warm and cold columns. Sites are ordered by bytes + untraced.</p></section>
<section id="types"><h2>By type</h2><table>{TYPE_HEAD}
{"".join(type_rows)}</table></details>
<p class="note">Traced objects only (untraced memory has no type: the by-site table attributes it).
A type is the program's (shown above the fold) when the program's own sites made at least as many of its
bytes as library, interpreter and Pypper sites did; bytes without a recorded site (objects from before the
program ran, allocations not sampled) do not count either way.</p></section>
<section id="moved"><h2>What Pypper moved, and why</h2>{moved_html}</section>
<section id="heat"><h2>Heat over time</h2>
<canvas id="heatmap" width="10" height="10"></canvas><div id="legend"></div>
<p class="note">Every page of the heap ({a["pages"]} pages of {ps} bytes, {a["cold_pages"]} of them with no heat
over the whole run), in address order with the gaps between the heap's arenas closed, top to bottom
({_e(f"{hm.get('pages_per_row', 0):.1f}")} pages a row); time left to right ({hm.get("cols", 0)} frames).
A page's heat is the bytes-weighted temperature of what is on it: traced objects, the buffers they own
(each buffer page at its owner's temperature or, when lower, that of what it holds) and untraced bytes
(floats, strings, objects not taken yet) at the temperature their page's own evidence gives, loop temporaries
that came and went there included (so a page can be warm while the numbers that stay on it are classed cold:
the page is used, they are not): sum of temperature x bytes over the page size, from 0 (nothing on it used
recently) to 1 (full of objects as hot as the hottest). Colour scale: logarithmic.</p>
<h3>Hot and warm bytes of the program's top allocation sites over time</h3>
<div id="site-series"></div><ul id="site-series-legend"></ul>
<p class="note" id="site-series-note">{_e(series_note(a))}</p>
<details id="internal-series"><summary>Interpreter, library and Pypper sites, and bytes without a
recorded site: {len(a["site_series"].get("internal_sites", []))} sites</summary>
<div id="internal-site-series"></div><ul id="internal-site-series-legend"></ul></details>
</section>
</main>
<script type="application/json" id="pypper-data">{data_json}</script>
<script>{JS}</script>
</body></html>
"""
    return body
