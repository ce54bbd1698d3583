"""Command line of Pypper: ``python3 -m pypper COMMAND``.

    options [--json]                 every option, its value and where it came from
    run [-o NAME=VALUE]... SCRIPT|-m MODULE [ARGS...]
                                     run a program under a tracing session
    heatmap INPUT... -o OUT.png [--width W] [--height H] [--rows N] [--linear]
            [--shared-scale] [--title T...]
                                     draw page heat against time, one panel an input
                                     (a heat trace, a snapshot, an oracle dump, or a
                                     directory or glob of snapshots or of one oracle
                                     run's dumps)
"""

import argparse
import json
import runpy
import sys

import pypper
from pypper import _heatmap


def cmd_options(args):
    try:
        rows = pypper.options()
    except pypper.ConfigError as e:
        print(f"pypper: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([row._asdict() for row in rows], indent=2))
        return 0
    width = max(len(row.env) for row in rows)
    for row in rows:
        value = row.value
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, list):
            value = ",".join(str(n) for n in value)
        shown = repr(value) if value == "" else str(value)
        print(f"{row.env:<{width}}  {shown:<12} ({row.source})")
        print(f"    {row.help}")
        print(f"    accepts {row.accepts}; default {row.default!r}")
    return 0


def cmd_run(args):
    opts = {}
    for item in args.option:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"pypper: -o takes NAME=VALUE, not {item!r}", file=sys.stderr)
            return 2
        opts[name.strip().lower()] = value
    if not args.module and not args.target:
        print("pypper: run needs a script or -m MODULE", file=sys.stderr)
        return 2
    try:
        pypper.start(**opts)
    except (pypper.ConfigError, RuntimeError) as e:
        print(f"pypper: {e}", file=sys.stderr)
        return 2
    try:
        if args.module:
            sys.argv = [args.module] + args.args
            runpy.run_module(args.module, run_name="__main__", alter_sys=True)
        else:
            sys.argv = [args.target] + args.args
            runpy.run_path(args.target, run_name="__main__")
    finally:
        pypper.end()
    return 0


def cmd_heatmap(args):
    try:
        series_list = [_heatmap.load_series(path) for path in args.inputs]
        size = _heatmap.render(series_list, args.output, width=args.width, height=args.height,
                               log_scale=not args.linear, shared_scale=args.shared_scale,
                               rows=args.rows, titles=args.title)
    except ValueError as e:
        print(f"pypper: heatmap: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"pypper: heatmap: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    panels = "; ".join(f"{s.name}: {len(s.columns)} columns x {len(s.pages())} pages"
                       for s in series_list)
    count = len(series_list)
    print(f"wrote {args.output}: {count} panel{'s' * (count != 1)}, {size[0]}x{size[1]} "
          f"({panels})")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m pypper", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("options", help="list every option with its value and source")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_options)
    p = sub.add_parser("run", help="run a script or module under a tracing session")
    p.add_argument("-o", "--option", action="append", default=[], metavar="NAME=VALUE",
                   help="an option for this session, e.g. -o sample_hz=100")
    p.add_argument("-m", dest="module", metavar="MODULE", help="run a library module")
    p.add_argument("target", nargs="?", help="the script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("heatmap", help="draw page heat against time as a PNG heatmap")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a heat trace, a snapshot file, an oracle dump file (Tools/oracle), "
                        "or a directory or glob of snapshot files or of one oracle run's "
                        "dumps (e.g. 'prefix.*' of --dump-every); each is one panel")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the PNG to write")
    p.add_argument("--width", type=int, help="image width (default 560 a panel)")
    p.add_argument("--height", type=int, default=600, help="image height (default 600)")
    p.add_argument("--rows", type=int, help="page rows a panel (default one a pixel row)")
    p.add_argument("--linear", action="store_true", help="linear colour scale (default log)")
    p.add_argument("--shared-scale", action="store_true",
                   help="one colour scale for all panels (default one each)")
    p.add_argument("--title", nargs="+", action="extend", metavar="T",
                   help="panel titles, one an input (default: the input's name)")
    p.set_defaults(func=cmd_heatmap)
    args = parser.parse_args(argv)
    if args.command == "run" and args.module and args.target is not None:
        args.args.insert(0, args.target)
        args.target = None
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
