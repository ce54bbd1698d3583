"""Command line of Pypper: ``python3 -m pypper COMMAND``.

    options [--json]                 every option, its value and where it came from
    run [-o CAPTURE] [-O NAME=VALUE]... SCRIPT|-m MODULE [ARGS...]
                                     run a program under a tracing session, recording
                                     a capture; prints a summary at exit
    report CAPTURE [-o REPORT.html]  one self-contained HTML report of a capture
    stats CAPTURE                    a text summary of a capture
    diff A B                         what changed between two captures
    heatmap INPUT... -o OUT.png [--width W] [--height H] [--rows N] [--linear]
            [--shared-scale] [--title T...]
                                     draw page heat against time, one panel an input
                                     (a heat trace, a snapshot, an oracle dump, or a
                                     directory or glob of snapshots or of one oracle
                                     run's dumps)
"""

import argparse
import gc
import json
import math
import os
import re
import runpy
import stat
import sys
import time

import pypper
from pypper import _capture, _session

# The report's and the heatmap's modules (and zipfile) are imported where they are
# used: `pypper run` keeps what it imports for the whole run, in the program's own
# process (they and what they import, dataclasses and inspect among it, took 7 MB of
# a newcomer's 46 MB session cache's peak RSS).


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


def _split_outputs(items):
    """`-o` is the capture file; the old `-o NAME=VALUE` (an option of the session)
    still works when NAME is an option's name. Returns (options, output, error)."""
    opts, outputs = [], []
    for item in items:
        name, sep, _ = item.partition("=")
        # NAME=VALUE with NAME a word (an option's name, or a misspelt one that the
        # option parser then names): an option; anything else: the capture file.
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            opts.append(item)
        else:
            outputs.append(item)
    if len(outputs) > 1:
        return opts, None, f"run: one capture file (-o), not {len(outputs)}: {outputs!r}"
    return opts, (outputs[0] if outputs else None), None


def _parse_options(items):
    opts = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            return None, f"-O takes NAME=VALUE, not {item!r}"
        opts[name.strip().lower()] = value
    return opts, None


def _trim_traceback(exc):
    """The user's traceback without the frames of runpy and of this module."""
    skip = {os.path.abspath(__file__), os.path.abspath(runpy.__file__), "<frozen runpy>"}
    tb = exc.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename in skip
                              or os.path.abspath(tb.tb_frame.f_code.co_filename) in skip):
        tb = tb.tb_next
    return exc.with_traceback(tb)


def _run_program(args, on_exception=None):
    """Runs the script or module as python would; returns its exit status, printing
    an uncaught exception's traceback (without Pypper's frames) as python does.
    on_exception() is called first when the program ends by an exception (SystemExit
    included), while its traceback still holds the frames it left and their data."""
    try:
        try:
            _exec_program(args)
        except BaseException:
            if on_exception is not None:
                on_exception()
            raise
        return 0, None
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0, None
        if isinstance(code, int):
            return code, None
        return 1, str(code)
    except KeyboardInterrupt as e:
        import traceback
        return 130, "".join(traceback.format_exception(_trim_traceback(e)))
    except BaseException as e:
        import traceback
        return 1, "".join(traceback.format_exception(_trim_traceback(e)))


def _exec_program(args):
    if args.module:
        # sys.path[0] is already what `python3 -m MODULE` gives (the working
        # directory, or nothing under -P): `python3 -m pypper` set it so.
        sys.argv = [args.module] + args.args
        runpy.run_module(args.module, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [args.target] + args.args
        _set_path0(os.path.dirname(os.path.realpath(args.target)))
        if _is_zip(args.target) or _is_pyc(args.target):
            runpy.run_path(args.target, run_name="__main__")     # a zip app, a .pyc
        else:
            _run_script(args.target)


def _is_zip(path):
    """Whether path is a zip application. zipfile is imported only when the file ends
    with what a zip file's end record could be (its signature in the last 64 KiB)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - (65535 + 22)))
            if b"PK\x05\x06" not in f.read():
                return False
    except OSError:
        return False
    import zipfile
    return zipfile.is_zipfile(path)


def _set_path0(directory):
    """sys.path[0] as `python3 script.py` sets it: the script's directory (symlinks
    resolved), unless -P / PYTHONSAFEPATH; in place of the working directory that
    `python3 -m pypper` put there."""
    cwd_entry = not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd())
    if cwd_entry:
        del sys.path[0]
    if not sys.flags.safe_path:
        sys.path.insert(0, directory)


def _is_pyc(path):
    """Whether path is compiled bytecode (as python3 itself decides: the extension or
    the magic number)."""
    import importlib.util
    if path.endswith(".pyc"):
        return True
    with open(path, "rb") as f:
        return f.read(len(importlib.util.MAGIC_NUMBER)) == importlib.util.MAGIC_NUMBER


def _run_script(path):
    """Run the script at path as `python3 path` does: in a fresh __main__ module (put in
    sys.modules, so that pickle and multiprocessing find what it defines), its
    __file__ absolute (a program that changes directory still finds its files),
    __builtins__ the builtins module, a SourceFileLoader, no __spec__; sys.argv[0]
    stays as typed. (runpy.run_path would give a relative __file__, a dict for
    __builtins__ and an absolute sys.argv[0].)"""
    import builtins
    import importlib.machinery
    import types
    full = os.path.abspath(path)
    with open(full, "rb") as f:             # compile() reads an encoding declaration
        source = f.read()
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=full, __cached__=None, __builtins__=builtins,
                         __loader__=importlib.machinery.SourceFileLoader("__main__", full),
                         __package__=None, __spec__=None, __annotations__={})
    code = compile(source, full, "exec", dont_inherit=True)
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _module_found(name):
    """Whether -m NAME's top-level package or module can be found (nothing is imported
    before the session starts; a missing submodule, or a package that fails to
    import, is the program's error, reported as python3 reports it)."""
    import importlib.util
    top = name.split(".")[0]
    try:
        return bool(top) and importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


# --max-size below this: refused. A capture holds a header, groups records and the end
# record whatever its size (tens of KiB each: 30 KiB on lru.py and the demo), and its
# frames are thinned to fit the rest; at 64 KiB a run's file came to 118 KiB.
MIN_CAPTURE_BYTES = 1 << 20


def _recorder_args_error(args):
    """What is wrong with --interval, --max-size or --overhead, or None."""
    if args.interval is not None and not (math.isfinite(args.interval) and args.interval > 0):
        return f"--interval {args.interval}: seconds between frames must be a number above 0"
    if args.max_size < MIN_CAPTURE_BYTES:
        return (f"--max-size {args.max_size}: a capture needs at least {MIN_CAPTURE_BYTES} "
                f"bytes (1 MiB: room for its groups and end records and some frames; the "
                f"default is {_capture.DEFAULT_MAX_BYTES})")
    if not (math.isfinite(args.overhead) and 0 < args.overhead <= 1):
        return (f"--overhead {args.overhead}: the share of the run the recorder may spend "
                f"must be above 0 and at most 1 (the default is {_capture.COST_SHARE})")
    return None



def _seconds(text):
    """A time into the run for --at: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0.0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected seconds into the run (a number, 0 or "
                                         f"more), got {text!r}")
    return value


def interpreter_shown(exe=None, path_python=None, cwd=None):
    """How to name this interpreter in a command to type: `python3` when that is what
    the PATH finds, else its path (relative to the current directory when under it).
    A newcomer's `python3 -m pypper report ...` typed as printed ran another Python
    (pyenv's 3.11) and failed with "No module named pypper"."""
    import shlex, shutil
    exe = exe or sys.executable or "python3"
    on_path = path_python if path_python is not None else shutil.which("python3")
    if on_path and os.path.realpath(on_path) == os.path.realpath(exe):
        return "python3"
    rel = os.path.relpath(exe, cwd or os.getcwd())
    if not rel.startswith(os.pardir):
        return shlex.quote(os.path.join(os.curdir, rel))
    return shlex.quote(exe)


# What each command may overwrite: a file that one like it wrote before (its first
# bytes), or an empty one. Anything else (the script being run, a source file, a
# capture given to report -o) is left alone.
def _is_capture(head):
    return head.startswith(_capture.MAGIC.encode())


def _is_report(head):
    return head.startswith(b"<!DOCTYPE html>") and b"<title>Pypper report" in head


def _is_png(head):
    return head.startswith(b"\x89PNG\r\n\x1a\n")


def _overwrite_error(path, what, written_by_us):
    """Why the command must not write its output to path, or None: path exists as a
    regular file that is not empty and not `what` (written_by_us(first bytes) is
    false). Devices, missing files and files it cannot read are left to the write's
    own error."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if not head or written_by_us(head):
        return None
    return (f"{path!r} exists and is not {what}: not overwritten (remove it or choose "
            f"another -o)")


def cmd_run(args):
    legacy, output, err = _split_outputs(args.output)
    if err:
        print(f"pypper: {err}", file=sys.stderr)
        return 2
    err = output and _overwrite_error(output, "a Pypper capture", _is_capture)
    if err:
        print(f"pypper: run: {err}", file=sys.stderr)
        return 2
    opts, err = _parse_options(legacy + args.option)
    if err:
        print(f"pypper: run: {err}", file=sys.stderr)
        return 2
    if not args.module and not args.target:
        print("pypper: run needs a script or -m MODULE", file=sys.stderr)
        return 2
    if args.module and not _module_found(args.module):
        print(f"pypper: run: cannot run -m {args.module}: no module named {args.module!r}",
              file=sys.stderr)
        return 2
    err = _recorder_args_error(args)
    if err:
        print(f"pypper: run: {err}", file=sys.stderr)
        return 2
    if args.target and not os.path.isfile(args.target):
        why = "no such file" if not os.path.exists(args.target) else "not a file"
        print(f"pypper: run: cannot run {args.target!r}: {why}", file=sys.stderr)
        return 2
    gc.collect()                # the command line's parser (_parse), not the program's
    try:
        pypper.start(**opts)
    except (pypper.ConfigError, RuntimeError) as e:
        print(f"pypper: {e}", file=sys.stderr)
        return 2
    pid = os.getpid()
    writer = recorder = main_return = None
    # Pypper's own allocations, on the program's thread: no allocation site.
    with _capture.pypper_work():
        if not args.no_capture:
            stem = os.path.splitext(os.path.basename(args.target or args.module))[0] or "program"
            path = output or f"pypper-{stem}-{pid}.capture"
            cfg = pypper.config()
            interval = max(0.05, (args.interval if args.interval else
                                  (cfg["heat_interval_ms"] or 1000) / 1000.0))
            try:
                writer = _capture.CaptureWriter(
                    path, _capture.header_record(
                        [args.target or f"-m {args.module}"] + args.args,
                        args.target or args.module, cfg, interval),
                    max_bytes=args.max_size)
            except OSError as e:
                pypper.end()
                print(f"pypper: run: cannot write the capture {path!r}: {e.strerror}",
                      file=sys.stderr)
                return 2
            recorder = _capture.Recorder(writer, interval, _session.lock, args.overhead)
            main_return = _capture.MainReturn(recorder)
    t0 = time.monotonic()
    status, trace_text = _run_program(
        args, main_return.on_exception if main_return is not None else None)
    if main_return is not None:
        main_return.stop()
    if os.getpid() != pid:
        # A forked child of the program returned here: it owns nothing of this.
        if writer is not None:
            writer.abandon()
        if trace_text:
            sys.stderr.write(trace_text)
        return status
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass                    # the program closed or broke its stdout
    if trace_text:
        sys.stderr.write(trace_text)
    if writer is not None:
        recorder.stop()
        try:
            with _session.lock:
                if pypper.is_running():
                    # (Before the end record's walk. The records taken on the main
                    # thread are the main thread's time already.)
                    cpu = _capture.cpu_split(recorder.cost - recorder.main_cost)
                    end = _capture.end_record(status, time.monotonic() - t0)
                    end["cpu"] = cpu
                    end["recorder"] = {"seconds": round(recorder.cost, 3),
                                       "errors": recorder.errors,
                                       "last_error": recorder.last_error,
                                       "thinned": writer.thinned,
                                       "dropped": writer.dropped,
                                       "skipped": recorder.skipped,
                                       "forks": recorder.forks,
                                       "interval": recorder.interval}
                    writer.write(end)
        except OSError as e:
            print(f"pypper: the capture {writer.path!r} is incomplete: {e.strerror}",
                  file=sys.stderr)
        writer.close()
    pypper.end()
    if writer is not None:
        _print_run_summary(writer.path, status)
    return status


def _print_run_summary(path, status=0):
    try:
        cap = _capture.load(path)
    except _capture.CaptureError as e:
        print(f"pypper: {e}", file=sys.stderr)
        return
    from pypper import _report
    a = _report.analyze(cap, over_time=False)
    out = [""] + ["pypper: " + line for line in _report.summary_lines(a)]
    rel = os.path.relpath(path)
    shown = rel if not rel.startswith("..") else path
    cost = ""
    if cap.end and cap.end.get("recorder") and cap.end.get("seconds"):
        took, run = cap.end["recorder"]["seconds"], cap.end["seconds"]
        # (No share of a run too short to say: a script with a syntax error "took 52%
        # of the run's 0.0 s".)
        share = f", {100 * took / run:.0f}% of the run's {run:.1f} s" if run >= 1.0 else ""
        cost = f" (recording took {took:.2f} s of CPU{share})"
        skipped = cap.end["recorder"].get("skipped") or 0
        # Skipped records matter when they leave the figures stale: records are paced
        # to the budget, so most runs skip a check or two and still end with figures
        # taken near their end (main()'s return).
        stale = a.get("as_of") is None or a["as_of"] < 0.9 * run
        if skipped and stale:
            since = (f"the figures are from {a['as_of']:.1f} s; "
                     if a.get("as_of") is not None else "")
            cost += (f"; {skipped} record{'s' if skipped != 1 else ''} skipped to stay within "
                     f"the --overhead budget (the heap grew: {since}a larger --overhead, "
                     f"e.g. 1, allows more)")
        dropped = cap.end["recorder"].get("dropped") or 0
        if dropped:
            cost += (f"; {dropped} record{'s' if dropped != 1 else ''} dropped to keep the "
                     f"file under --max-size")
    if status:
        out.append(f"pypper: the program exited with status {status} (the figures are "
                   f"up to then)")
    import shlex, shutil
    out.append(f"pypper: capture written to {shown}{cost}")
    out.append(f"pypper: open the report with: {interpreter_shown()} -m pypper report "
               f"{shlex.quote(shown)}")
    if sys.stderr.isatty():
        out = wrap_summary(out, shutil.get_terminal_size((100, 24)).columns)
    print("\n".join(out), file=sys.stderr, flush=True)


def wrap_summary(lines, columns):
    """The summary's lines ("pypper: ...") folded to the terminal's width (at most
    120 columns, at least 60), each continuation under the text of its line and
    marked "pypper:" too; words are not broken (a path or a source line longer than
    the width stays whole). Only for a terminal: a log or a pipe gets one line per
    item."""
    import textwrap
    width = max(60, min(120, columns - 1))
    out = []
    for line in lines:
        if len(line) <= width or not line.startswith("pypper: "):
            out.append(line)
            continue
        body = line[len("pypper: "):]
        lead = len(body) - len(body.lstrip(" "))
        out.extend(textwrap.wrap(line, width, subsequent_indent="pypper: " + " " * (lead + 2),
                                 break_long_words=False, break_on_hyphens=False))
    return out


def _load_capture(path, cmd, at=None):
    try:
        return _capture.load(path, at), None
    except _capture.CaptureError as e:
        print(f"pypper: {cmd}: {e}", file=sys.stderr)
        return None, 2


def cmd_report(args):
    cap, err = _load_capture(args.capture, "report", args.at)
    if cap is None:
        return err
    out = args.output or (os.path.splitext(args.capture)[0] + ".html")
    err = out != "-" and _overwrite_error(out, "a Pypper report", _is_report)
    if err:
        print(f"pypper: report: {err}", file=sys.stderr)
        return 2
    from pypper import _report
    text = _report.render_html(_report.analyze(cap))
    if out == "-":                          # -o -: the page on stdout
        sys.stdout.write(text)
        return 0
    try:
        tmp = f"{out}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except OSError as e:
        print(f"pypper: report: cannot write {out!r}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(text.encode()) // 1024} KiB): open it in a browser")
    return 0


def cmd_stats(args):
    cap, err = _load_capture(args.capture, "stats", args.at)
    if cap is None:
        return err
    from pypper import _report
    print(_report.stats_text(_report.analyze(cap)))
    return 0


def cmd_diff(args):
    a, err = _load_capture(args.a, "diff", args.at)
    if a is None:
        return err
    b, err = _load_capture(args.b, "diff", args.at)
    if b is None:
        return err
    from pypper import _report
    print(_report.diff_text(_report.analyze(a), _report.analyze(b)))
    return 0


def cmd_heatmap(args):
    err = _overwrite_error(args.output, "a PNG image", _is_png)
    if err:
        print(f"pypper: heatmap: {err}", file=sys.stderr)
        return 2
    try:
        from pypper import _heatmap
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


class _Parser(argparse.ArgumentParser):
    """A usage error is one line (and where to read more), exit status 2: not the
    usage text above it."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def _get_formatter(self):
        # The terminal's width as argparse takes it, without the import of shutil its
        # own formatter makes for it (shutil brings bz2 and lzma: 0.4 MiB more in
        # every `pypper run`, before the program starts).
        try:
            columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            columns = 0
        if columns <= 0:
            try:
                columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
            except (AttributeError, ValueError, OSError):
                columns = 80
        return self.formatter_class(prog=self.prog, width=max(columns - 2, 11))


def main(argv=None):
    args = _parse(argv)
    return args.func(args)


def _parse(argv):
    """The command line's namespace. The parser is dropped when this returns (it is a
    graph of objects with cycles: `run` collects it before the program starts, so its
    objects are not among the program's)."""
    parser = _Parser(
        prog="python3 -m pypper",
        description="Pypper's command line. Start with: python3 -m pypper run app.py "
                    "[args] (runs it, records a capture, prints a summary), then "
                    "python3 -m pypper report CAPTURE (writes an HTML report); "
                    "python3 -m pypper COMMAND --help says more.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("options", help="list every option with its value and source")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_options)
    p = sub.add_parser("run", help="run a script or module under a tracing session, "
                                   "recording a capture")
    p.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                   help="the capture file (default pypper-SCRIPT-PID.capture here); "
                        "-o NAME=VALUE (NAME a word) is still read as -O NAME=VALUE")
    p.add_argument("-O", "--option", action="append", default=[], metavar="NAME=VALUE",
                   help="an option for this session, e.g. -O sample_hz=100")
    p.add_argument("--no-capture", action="store_true", help="record no capture (and so print no summary at exit): the program runs traced, nothing is kept")
    p.add_argument("--interval", type=float, metavar="SECONDS",
                   help="seconds between heat frames (default HEAT_INTERVAL_MS, or 1)")
    p.add_argument("--max-size", type=int, default=_capture.DEFAULT_MAX_BYTES, metavar="BYTES",
                   help="the capture file's bound: its frames are thinned to stay under it "
                        "(default 32 MiB, at least 1 MiB)")
    p.add_argument("--overhead", type=float, default=_capture.COST_SHARE, metavar="FRACTION",
                   help="the recorder waits long enough between frames to spend at most "
                        "this share of the run reading the heap (default 0.05), and skips a "
                        "record whose cost, estimated from the last one, would pass it (the "
                        "record when main() returns: 0.25 or this share, the larger, plus 1 s)")
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
    at_help = ("show the record taken nearest to T seconds into the run (default: the "
               "last one near the heap's peak; stats lists the records' times)")
    p = sub.add_parser("report", help="write the HTML report of a capture")
    p.add_argument("capture", help="a capture written by pypper run")
    p.add_argument("-o", "--output", metavar="REPORT.html",
                   help="the HTML file (default: the capture's name with .html; - for stdout)")
    p.add_argument("--at", type=_seconds, metavar="T", help=at_help)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("stats", help="a text summary of a capture")
    p.add_argument("capture")
    p.add_argument("--at", type=_seconds, metavar="T", help=at_help)
    p.set_defaults(func=cmd_stats)
    p = sub.add_parser("diff", help="what changed between two captures")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--at", type=_seconds, metavar="T", help=at_help + " (in both)")
    p.set_defaults(func=cmd_diff)
    args = parser.parse_args(argv)
    if args.command == "run" and args.module and args.target is not None:
        args.args.insert(0, args.target)
        args.target = None
    return args


def _main():
    try:
        status = main()
        if not sys.stdout.closed:
            sys.stdout.flush()
    except BrokenPipeError:
        # `pypper options | head`: the reader left; exit quietly as a filter does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(_main())
