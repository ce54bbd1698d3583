"""Option values between Python and the C options table.

Keyword arguments of ``pypper.start()`` are turned into the same text a ``PYPPER_*``
variable would hold, so one strict parser (in C) judges both.
"""

import os
from collections import namedtuple

import _pypper

# (NAME, type, default, accepts, help) rows of the C table, in table order.
TABLE = _pypper.option_table()
TYPES = {row[0]: row[1] for row in TABLE}

Option = namedtuple("Option", "name env value source default type accepts help")


def _number_text(value):
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(value, ".20f").rstrip("0").rstrip(".")
    return text


def to_text(name, value):
    """The PYPPER_* text for a keyword value, or raise ConfigError."""
    upper = name.upper()
    kind = TYPES.get(upper)
    if kind is None:
        # Let the C side word the error (with its did-you-mean).
        return upper, str(value)
    if isinstance(value, bool):
        if kind != "bool":
            raise _pypper.ConfigError(f"bad value {value!r} for {name}: expected {_accepts(upper)}")
        return upper, "1" if value else "0"
    if kind == "nodes" and isinstance(value, (list, tuple, set, frozenset, range)):
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
            raise _pypper.ConfigError(f"bad value {value!r} for {name}: expected {_accepts(upper)}")
        return upper, ",".join(str(n) for n in sorted(value))
    if kind == "float" and isinstance(value, (int, float)):
        return upper, _number_text(value)
    if kind == "path" and isinstance(value, (os.PathLike, bytes)):
        value = os.fsdecode(os.fspath(value))
    if isinstance(value, int) and kind in ("int", "size", "nodes", "bool"):
        return upper, str(value)
    if isinstance(value, str):
        return upper, value
    raise _pypper.ConfigError(f"bad value {value!r} for {name}: expected {_accepts(upper)}")


def _accepts(upper):
    for row in TABLE:
        if row[0] == upper:
            return row[3]
    return "a known option"


def to_args(options):
    """{'sample_hz': 100} -> {'SAMPLE_HZ': '100'} (names must be lower case)."""
    args = {}
    for name, value in options.items():
        if name != name.lower():
            raise _pypper.ConfigError(
                f"unknown option {name}: options are keyword arguments in lower case "
                f"({name.lower()}=...)")
        upper, text = to_text(name, value)
        args[upper] = text
    return args


def listing(values, sources):
    """Option rows for `pypper.options()` and `python3 -m pypper options`."""
    rows = []
    for name, kind, default, accepts, help_text in TABLE:
        key = name.lower()
        rows.append(Option(key, "PYPPER_" + name, values[key], sources[key], default, kind,
                           accepts, help_text))
    return rows
