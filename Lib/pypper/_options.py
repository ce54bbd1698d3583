"""Option values between Python and the C options table.

Keyword arguments of ``pypper.start()`` are turned into the same text a ``PYPPER_*``
variable would hold, so one strict parser (in C) judges both.
"""

import os

import _pypper

_table = None


def table():
    """(NAME, type, default, accepts, help) rows of the C table, in table order; made
    when first needed (23 KiB of strings a session started without keyword options
    never reads)."""
    global _table
    if _table is None:
        _table = _pypper.option_table()
    return _table


def _option_type():
    """The Option named tuple, made when first asked for: collections (about 0.5 MiB
    resident) is imported only by a program that lists the options."""
    global Option
    if "Option" not in globals():
        from collections import namedtuple
        Option = namedtuple("Option", "name env value source default type accepts help")
    return Option


def __getattr__(name):
    if name == "Option":
        return _option_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _number_text(value):
    """Plain decimal text of a number, exactly (1e-30 -> '0.000...001'): the C parser
    takes no exponent, and must see the value given, not a rounded one."""
    if isinstance(value, int):
        return str(value)
    import decimal              # only here: start() with a float keyword
    return format(decimal.Decimal(repr(float(value))), "f")


def _shown(value):
    """repr(value) for a message, cut to one short line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:72] + "..."


def _bad(name, value, upper):
    return _pypper.ConfigError(f"bad value {_shown(value)} for {name}: expected {_accepts(upper)}")


def _row(upper):
    """The table's row of an option (its NAME), or None."""
    return next((row for row in table() if row[0] == upper), None)


def to_text(name, value):
    """The PYPPER_* text for a keyword value, or raise ConfigError."""
    upper = name.upper()
    row = _row(upper)
    kind = row[1] if row else None
    if kind is None:
        # Let the C side word the error (with its did-you-mean).
        return upper, str(value)
    if isinstance(value, bool):
        if kind != "bool":
            raise _bad(name, value, upper)
        return upper, "1" if value else "0"
    if kind == "nodes" and isinstance(value, (list, tuple, set, frozenset, range)):
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
            raise _bad(name, value, upper)
        return upper, ",".join(str(n) for n in sorted(value))
    if kind == "float" and isinstance(value, (int, float)):
        return upper, _number_text(value)
    if kind == "path" and isinstance(value, (os.PathLike, bytes)):
        try:
            value = os.fsdecode(os.fspath(value))
        except TypeError:           # a PathLike whose __fspath__ returns neither
            raise _bad(name, value, upper) from None
    if isinstance(value, int) and kind in ("int", "size", "nodes", "bool"):
        return upper, str(value)
    if isinstance(value, str):
        return upper, value
    raise _bad(name, value, upper)


def _accepts(upper):
    row = _row(upper)
    return row[3] if row else "a known option"


def to_args(options):
    """{'sample_hz': 100} -> {'SAMPLE_HZ': ('100', 100)}: the text and, for the C
    side's messages, the value as given; a str value maps to its text alone. Names
    must be lower case."""
    args = {}
    for name, value in options.items():
        if not name.isidentifier() or not name.isascii():
            raise _pypper.ConfigError(f"unknown option {_shown(name)}")
        if name != name.lower():
            raise _pypper.ConfigError(
                f"unknown option {name}: options are keyword arguments in lower case "
                f"({name.lower()}=...)")
        upper, text = to_text(name, value)
        # Messages about the value show it as given (2, not '2').
        args[upper] = text if isinstance(value, str) else (text, value)
    return args


def listing(values, sources):
    """Option rows for `pypper.options()` and `python3 -m pypper options`."""
    rows, option = [], _option_type()
    for name, kind, default, accepts, help_text in table():
        key = name.lower()
        rows.append(option(key, "PYPPER_" + name, values[key], sources[key], default, kind,
                           accepts, help_text))
    return rows
