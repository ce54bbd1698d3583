"""Allocation-site profiles (PYPPER_PROFILE=FILE, Doc/profile.md).

A profile is a JSON file of per-site statistics from earlier runs of a program: for
each allocation site (a code object's fingerprint and an instruction in it), how many
of its objects were alive when the run ended, their bytes and the bytes of the cold
ones. At start the sites that were cold (at least MIN_OBJECTS objects, COLD_SHARE of
their bytes cold) are handed to the placement hook, which sends their new objects to
slow-tier arenas from the first allocation; at the end this run's statistics are
merged in (the file's count half, this run's fully; a site unseen for MAX_AGE runs
is dropped) and the file is replaced atomically.

Order: check() before the session starts (a path that cannot be written is a
ConfigError, like TRACE_FILE), apply() once it runs, save() before it ends."""

import json
import os
import sys

import _pypper

FORMAT = "pypper-profile"
VERSION = 1
MIN_OBJECTS = 8          # as the online learning (Python/migrate_internal.h)
COLD_SHARE = 0.9
OLD_WEIGHT = 0.5         # the file's statistics against this run's
MAX_AGE = 5              # runs a site may be unseen before it is dropped
MAX_SITES = 50000        # sites kept, by bytes
WARN = 2

_state = None            # the running session's profile: dict, or None


def _name(sources):
    return "PYPPER_PROFILE" if (sources or {}).get("profile") == "env" else "profile"


def _warn(text):
    _pypper.log(WARN, "".join(c if c.isprintable() else "?" for c in text))


def read(path):
    """(document, problem): (None, None) when the file does not exist yet."""
    try:
        with open(path, "rb") as f:
            raw = f.read(64 << 20)
    except FileNotFoundError:
        return None, None
    except OSError as e:
        return None, e.strerror
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, "not a Pypper profile (not JSON)"
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None, "not a Pypper profile"
    if doc.get("version") != VERSION:
        return None, f"a profile of format version {doc.get('version')!r}, this Pypper reads {VERSION}"
    if doc.get("python") != _python():
        return None, f"written by Python {doc.get('python')!r}, this is {_python()}"
    sites = doc.get("sites")
    if not isinstance(sites, list) or not isinstance(doc.get("runs"), int):
        return None, "not a Pypper profile (no sites)"
    try:
        for s in sites:
            int(s["fingerprint"], 16)
            for key in ("offset", "runs", "last_run"):
                if not isinstance(s[key], int) or s[key] < 0:
                    raise ValueError(key)
            for key in ("objects", "bytes", "cold_bytes"):
                if not isinstance(s[key], (int, float)) or s[key] < 0:
                    raise ValueError(key)
    except (TypeError, KeyError, ValueError, AttributeError):
        return None, "a damaged Pypper profile (bad site record)"
    return doc, None


def _python():
    return "%d.%d" % sys.version_info[:2]


def cold_sites(doc):
    """The profile's cold sites as (fingerprint, instruction) pairs."""
    if not doc:
        return []
    return [(int(s["fingerprint"], 16), s["offset"]) for s in doc["sites"]
            if s["objects"] >= MIN_OBJECTS and s["bytes"] > 0
            and s["cold_bytes"] >= COLD_SHARE * s["bytes"]]


def merge(doc, rows):
    """The profile after this run: doc (or None) with this run's rows
    (fingerprint, instruction, file, qualname, first line, line, objects, bytes,
    cold bytes) merged in."""
    runs = (doc["runs"] if doc else 0) + 1
    old = {(s["fingerprint"], s["offset"]): s for s in doc["sites"]} if doc else {}
    now = {}
    for fp, offset, file, qualname, first, line, objects, nbytes, cold in rows:
        key = ("%016x" % fp, offset)
        s = now.get(key)
        if s is None:       # code of the same fingerprint twice (exec'd again): one site
            s = now[key] = {"fingerprint": key[0], "offset": offset, "file": file,
                            "function": qualname, "first_line": first, "line": line,
                            "objects": 0, "bytes": 0.0, "cold_bytes": 0.0}
        s["objects"] += objects
        s["bytes"] += nbytes
        s["cold_bytes"] += cold
    sites = []
    for key, s in now.items():
        o = old.pop(key, None)
        w = OLD_WEIGHT if o else 0.0
        s["objects"] = round(s["objects"] + w * (o["objects"] if o else 0), 1)
        s["bytes"] = round(s["bytes"] + w * (o["bytes"] if o else 0))
        s["cold_bytes"] = round(s["cold_bytes"] + w * (o["cold_bytes"] if o else 0))
        s["runs"] = (o["runs"] if o else 0) + 1
        s["last_run"] = runs
        sites.append(s)
    sites += [o for o in old.values() if runs - o["last_run"] < MAX_AGE]
    sites.sort(key=lambda s: (-s["bytes"], s["fingerprint"], s["offset"]))
    return {"format": FORMAT, "version": VERSION, "python": _python(), "runs": runs,
            "sites": sites[:MAX_SITES]}


def write(path, doc):
    """Replace path by doc atomically (a reader sees the old or the new file)."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=0, separators=(",", ":"))
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check(values, sources):
    """Before the session starts: the profile to load, or None. A path that cannot
    be written raises ConfigError; a file that is not a readable profile of this
    version is reported in one line and left alone (not loaded, not replaced)."""
    path = values.get("profile")
    if not path:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    name = _name(sources)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise _pypper.ConfigError(f"{name} {path!r} is a folder, not a file")
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK) \
            or (os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK)):
        why = "no such folder" if not os.path.isdir(folder) else "permission denied"
        raise _pypper.ConfigError(f"cannot write {name} {path!r}: {why}")
    doc, problem = read(path)
    if problem:
        _warn(f"{name} {path!r}: {problem}: not used and not replaced")
        return {"path": None}
    return {"path": path, "name": name, "doc": doc}


def _code_objects():
    """Code objects that exist now: of functions, their nested code, and of frames
    running (a module's own code while `start()` is called in it)."""
    import gc
    import types
    seen, out = set(), []

    def add(co):
        if id(co) in seen:
            return
        seen.add(id(co))
        out.append(co)
        for c in co.co_consts:
            if isinstance(c, types.CodeType):
                add(c)

    for o in gc.get_objects():
        if isinstance(o, types.FunctionType):
            add(o.__code__)
    for frame in sys._current_frames().values():
        while frame is not None:
            add(frame.f_code)
            frame = frame.f_back
    return out


def apply(state):
    """The session runs: hand the profile's cold sites to the placement hook. A
    failure (no code watcher left) is one line; the session runs without it."""
    global _state
    _state = state
    if not state or not state["path"]:
        return
    cold = cold_sites(state["doc"])
    if not cold:
        return
    try:
        _pypper.profile_load(cold, _code_objects())
    except (RuntimeError, ValueError, MemoryError) as e:
        _warn(f"{state['name']}: the profile's sites are not used: {e}")


def save():
    """Before the session ends: merge this run into the profile and write it."""
    global _state
    state, _state = _state, None
    if not state or not state["path"]:
        return
    settled, rows = _pypper.profile_sites()
    if not settled:
        _warn(f"{state['name']} {state['path']!r} not updated: the session was too short "
              "to tell cold objects from unused ones (under 2 s)")
        return
    try:
        write(state["path"], merge(state["doc"], rows))
    except OSError as e:
        _warn(f"cannot write {state['name']} {state['path']!r}: {e.strerror}")


def forget():
    """In a forked child: the parent saves the profile, not the child."""
    global _state
    _state = None
