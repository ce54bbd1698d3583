"""Session side effects: the trace file, the STATS summary at exit, fork and the
`python3 -m pypper run` command."""

import json
import os
import re
import textwrap

from conftest import run


def test_trace_file_records_start_and_end(tmp_path):
    path = tmp_path / "trace.jsonl"
    code = textwrap.dedent("""
        import pypper, time
        pypper.start(trace_file=%r, sample_hz=42, heat_interval_ms=0)   # no heat events
        time.sleep(0.1)
        deadline = time.monotonic() + 30
        while pypper.active_trace_stats()["bursts"] == 0:
            assert time.monotonic() < deadline, "the sampler thread never ran"
            time.sleep(0.01)
        pypper.end()
    """)
    r = run(["-c", code % str(path)], timeout=60)
    assert r.returncode == 0, r.stderr
    events = [json.loads(l) for l in path.read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "end"]
    assert events[0]["format"] == "pypper-trace" and events[0]["config"]["sample_hz"] == 42
    assert events[0]["sources"]["sample_hz"] == "argument"
    assert events[1]["seconds"] >= 0.1
    assert events[1]["stats"]["ends"] == 1 and events[1]["stats"]["worker_threads_started"] >= 1


def test_trace_file_pid_pattern_and_reader(tmp_path):
    pattern = str(tmp_path / "t-%p.jsonl")
    code = textwrap.dedent("""
        import os, pypper
        from pypper import _trace
        pypper.start()
        print(os.getpid())
    """)
    r = run(["-c", code], env={"PYPPER_TRACE_FILE": pattern, "PYPPER_HEAT_INTERVAL_MS": "0"})
    assert r.returncode == 0, r.stderr
    pid = int(r.stdout)
    path = tmp_path / f"t-{pid}.jsonl"
    # Ended at exit by the atexit handler: both events are there.
    r2 = run(["-c", f"from pypper import _trace; print([e['event'] for e in _trace.read({str(path)!r})])"])
    assert r2.stdout == "['start', 'end']\n", r2.stderr
    (tmp_path / "junk").write_text("not json\n")
    r3 = run(["-c", f"from pypper import _trace; _trace.read({str(tmp_path / 'junk')!r})"])
    assert r3.returncode == 1 and "not a pypper trace line" in r3.stderr


def test_trace_file_session_imports_little(tmp_path):
    """PYPPER_ENABLE=1 with a trace file imports the package, but nothing a plain run
    does not import beyond it (collections, contextlib, _json and importlib were
    about 1 MiB resident: Doc/live-trace.md)."""
    code = "import sys; print(' '.join(sorted(sys.modules)))"
    plain = set(run(["-c", code]).stdout.split())
    r = run(["-c", code], env={"PYPPER_ENABLE": "1",
                               "PYPPER_TRACE_FILE": str(tmp_path / "t.jsonl")})
    assert r.returncode == 0, r.stderr
    added = set(r.stdout.split()) - plain
    assert added == {"atexit", "pypper", "pypper._options", "pypper._session",
                     "pypper._trace"}, sorted(added)


def test_trace_lines_are_json_dumps_sorted():
    code = textwrap.dedent(r"""
        import json
        from pypper import _trace
        values = ['plain', 'a"b\\c\n\t\x7f\x00\x1f\b\f\r', '\u00e9\u20ac\U0001f600\ud800', '',
                  {'k\u2028': [1.5, float('inf'), float('nan'), -0.0, True, None, 2**70, (1, 2)],
                   'a': {'z': 1, 'b': False}}, {1: 2, 3: 'x'}, {True: 1}, {None: 0}, {0.5: 1}]
        for v in values:
            assert _trace.dumps(v) == json.dumps(v, sort_keys=True), v
        print("ok")
    """)
    r = run(["-c", code])
    assert r.stdout == "ok\n", r.stderr


def test_unwritable_trace_file_raises_configerror(tmp_path):
    code = f"import pypper\ntry:\n pypper.start(trace_file={str(tmp_path)!r})\nexcept pypper.ConfigError as e:\n print('E', e, pypper.is_running())"
    r = run(["-c", code])
    assert r.stdout.startswith("E cannot write trace_file") and r.stdout.endswith("False\n")


def test_stats_summary_printed_at_exit_once():
    r = run(["-c", "import pypper; pypper.start(stats=True); pypper.end(); pypper.start(); pypper.end()"])
    assert r.returncode == 0
    assert r.stderr.count("pypper: summary for pid") == 1
    assert "2 session(s)" in r.stderr
    assert re.search(r"pypper: +starts +2\n", r.stderr)
    # Counters at 0 are left out (a short run printed 48 lines, 40 of them 0).
    assert "start_errors" not in r.stderr and "errors_enomem" not in r.stderr, r.stderr
    assert re.search(r"\(\d+ counters at 0 not shown: pypper.stats\(\) has them all\)", r.stderr)


def test_no_summary_without_stats():
    r = run(["-c", "import pypper; pypper.start(); pypper.end()"])
    assert r.stderr == ""


def test_forked_child_does_not_write_parent_trace_or_summary(tmp_path):
    path = tmp_path / "trace.jsonl"
    code = textwrap.dedent(f"""
        import os, warnings, pypper
        warnings.simplefilter("ignore", DeprecationWarning)
        pypper.start(trace_file={str(path)!r}, stats=True)
        import time
        deadline = time.monotonic() + 30
        while pypper.active_trace_stats()["bursts"] == 0:   # fork once the sampler sleeps (ASan)
            assert time.monotonic() < deadline, "the sampler thread never ran"
            time.sleep(0.01)
        pid = os.fork()
        if pid == 0:
            import sys
            print("child", pypper.is_running(), flush=True)
            sys.exit(0)
        os.waitpid(pid, 0)
        print("parent", pypper.is_running(), flush=True)
    """)
    r = run(["-c", code])
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split("\n")[:2]) == ["child False", "parent True"]
    assert r.stderr.count("summary for pid") == 1
    records = [json.loads(l) for l in path.read_text().splitlines()]
    events = [e["event"] for e in records]
    # Only the parent wrote: its start, heat events if the run took longer than
    # HEAT_INTERVAL_MS (slow under a sanitizer), its end.
    assert events[0] == "start" and events[-1] == "end", events
    assert set(events[1:-1]) <= {"heat"}, events
    assert len({e["pid"] for e in records}) == 1, records


def test_run_command_traces_a_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("import pypper, sys\nprint(pypper.is_running(), pypper.config()['sample_hz'], sys.argv)\n")
    r = run(["-m", "pypper", "run", "-o", "sample_hz=33", str(script), "a", "-b"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"True 33 [{str(script)!r}, 'a', '-b']\n"


def test_run_command_module_and_errors(tmp_path):
    # pypper run records a capture in the current directory by default.
    r = run(["-m", "pypper", "run", "-m", "json.tool"], input="[1]", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.split() == ["[", "1", "]"], r.stderr
    r = run(["-m", "pypper", "run", "-o", "sampl_hz=3", "-m", "json.tool"], cwd=tmp_path)
    assert r.returncode == 2 and "did you mean sample_hz" in r.stderr
    r = run(["-m", "pypper", "run", "-O", "novalue", "x.py"], cwd=tmp_path)
    assert r.returncode == 2 and "NAME=VALUE" in r.stderr
    r = run(["-m", "pypper", "run"], cwd=tmp_path)
    assert r.returncode == 2


def test_trace_file_accepts_path_and_bytes(tmp_path):
    import pathlib
    code = ("import pathlib, pypper; "
            f"pypper.start(trace_file=pathlib.Path({str(tmp_path / 'p.jsonl')!r})); pypper.end(); "
            f"pypper.start(trace_file={str(tmp_path / 'b.jsonl').encode()!r}); pypper.end()")
    r = run(["-c", code])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p.jsonl").exists() and (tmp_path / "b.jsonl").exists()
