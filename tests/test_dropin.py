"""The drop-in ./python3 behaves as the stock python3.12 it is built on: the same
command line (-c, -m, scripts, stdin, -X, -V, -E/-I), exit codes, sys.executable, C
extensions, venvs; and PYPPER_ENABLE=1 starts tracing before the program runs."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import DROPIN, STOCK, clean_env, run

PROBE = ("import sys, json; print(json.dumps([sys.version, sys.prefix, sys.base_prefix, "
         "sys.flags.optimize, sys.argv, sys._xoptions]))")


def both(args, **kw):
    return run(args, python=DROPIN, **kw), run(args, python=STOCK, **kw)


def test_same_version_prefix_flags_argv():
    mine, theirs = both(["-O", "-X", "dev", "-X", "foo=bar", "-c", PROBE, "a1", "--x"])
    assert mine.returncode == theirs.returncode == 0, mine.stderr
    assert mine.stdout == theirs.stdout


def test_sys_executable_is_the_dropin():
    r = run(["-c", "import sys; print(sys.executable)"])
    assert r.stdout.strip() == DROPIN


def test_sys_path_is_stock_and_pypper_found_by_meta_path():
    code = "import sys; print('\\n'.join(sys.path))"
    mine, theirs = both(["-c", code])
    assert mine.stdout == theirs.stdout
    r = run(["-I", "-S", "-c", "import sys, pypper; f = sys.meta_path[-1]; "
             "print(f.__module__, f.__name__, pypper.__file__)"])
    assert r.returncode == 0, r.stderr
    module, name, location = r.stdout.split()
    assert (module, name) == ("_pypper", "PackageFinder")
    assert location.endswith(os.path.join("build", "lib", "pypper", "__init__.py"))


@pytest.mark.parametrize("code,status", [
    ("pass", 0), ("raise SystemExit(3)", 3), ("import sys; sys.exit('msg')", 1),
    ("1/0", 1), ("import os; os._exit(7)", 7), ("raise KeyboardInterrupt", 130 - 128 + 128),
])
def test_exit_codes_match(code, status):
    mine, theirs = both(["-c", code])
    assert mine.returncode == theirs.returncode
    if code != "raise KeyboardInterrupt":
        assert mine.returncode == status
    assert mine.stderr.splitlines()[-1:] == theirs.stderr.splitlines()[-1:]


def test_version_and_help_and_bad_flag():
    for args in (["-V"], ["--version"], ["-h"], ["--no-such-flag"], ["-X"]):
        mine, theirs = both(args)
        assert mine.returncode == theirs.returncode, args
        # Usage lines name the program as invoked; the rest must be identical.
        assert mine.stdout.replace(DROPIN, "PY") == theirs.stdout.replace(STOCK, "PY"), args
        assert mine.stderr.replace(DROPIN, "PY") == theirs.stderr.replace(STOCK, "PY"), args


def test_script_with_args_and_dunder_file(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("import sys; print(__name__, sys.argv[1:], __file__.endswith('prog.py'))\n")
    mine, theirs = both([str(script), "x", "-y"])
    assert mine.stdout == theirs.stdout == "__main__ ['x', '-y'] True\n"


def test_module_and_package_main(tmp_path):
    mine, theirs = both(["-m", "json.tool"], input='{"b": 1, "a": [1, 2]}')
    assert mine.returncode == 0 and mine.stdout == theirs.stdout


def test_stdin_program():
    mine, theirs = both([], input="import sys\nprint('from stdin', sys.argv)\n")
    assert mine.stdout == theirs.stdout == "from stdin ['']\n"
    mine, theirs = both(["-", "arg"], input="import sys\nprint(sys.argv)\n")
    assert mine.stdout == theirs.stdout == "['-', 'arg']\n"


def test_isolated_and_env_flags():
    code = "import sys; print(sys.flags.isolated, sys.flags.ignore_environment)"
    mine, theirs = both(["-I", "-c", code])
    assert mine.stdout == theirs.stdout == "1 1\n"


def test_pythonpath_and_warnings_env(tmp_path):
    (tmp_path / "mymod.py").write_text("VALUE = 42\n")
    env = {"PYTHONPATH": str(tmp_path), "PYTHONWARNINGS": "error"}
    r = subprocess.run([DROPIN, "-c", "import mymod, sys; print(mymod.VALUE, sys.warnoptions)"],
                       env={**clean_env(), **env}, capture_output=True, text=True)
    assert r.stdout == "42 ['error']\n", r.stderr


def test_c_extensions_load():
    # Built-for-3.12 extension modules of the base install (lib-dynload).
    code = ("import _decimal, _ctypes, _sqlite3, _json, zlib, array, math, select; "
            "import ctypes; print(ctypes.c_int(5).value, _decimal.Decimal('1.1') + 1)")
    r = run(["-c", code])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "5 2.1\n"


def test_ctypes_finds_exported_python_symbols():
    r = run(["-c", "import ctypes; print(ctypes.pythonapi.Py_IsInitialized())"])
    assert r.stdout == "1\n", r.stderr


def test_interactive_mode_prompt():
    r = run(["-i", "-c", "x = 21"], input="print(x * 2)\n")
    assert r.returncode == 0 and "42" in r.stdout


def test_venv_from_dropin(tmp_path):
    env_dir = tmp_path / "venv"
    r = run(["-m", "venv", "--without-pip", str(env_dir)])
    assert r.returncode == 0, r.stderr
    py = env_dir / "bin" / "python"
    r = subprocess.run([str(py), "-c", "import sys, pypper; print(sys.prefix, pypper.MODE)"],
                       env=clean_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(env_dir), "drop-in"]


def test_enable_starts_before_program():
    code = "import pypper; print(pypper.is_running(), pypper.config()['sample_hz'])"
    r = run(["-c", code], env={"PYPPER_ENABLE": "1", "PYPPER_SAMPLE_HZ": "123"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True 123\n"


def test_enable_session_ends_cleanly_at_exit():
    code = "import pypper, sys; sys.exit(0 if pypper.is_running() else 5)"
    r = run(["-c", code], env={"PYPPER_ENABLE": "1", "PYPPER_STATS": "1"})
    assert r.returncode == 0, r.stderr
    assert "pypper: summary for pid" in r.stderr
    # Both of the session's threads (sampler, migration) were started and joined.
    assert re.search(r"worker_threads_started +2\n", r.stderr), r.stderr
    assert re.search(r"worker_threads_joined +2\n", r.stderr), r.stderr


def test_enable_off_starts_nothing():
    r = run(["-c", "import pypper; print(pypper.is_running())"], env={"PYPPER_ENABLE": "0"})
    assert r.stdout == "False\n"


def test_enable_with_unwritable_trace_file_exits_2(tmp_path):
    bad = tmp_path / "no" / "such" / "dir" / "t.jsonl"
    r = run(["-c", "print('ran')"], env={"PYPPER_ENABLE": "1", "PYPPER_TRACE_FILE": str(bad)})
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == f"pypper: cannot write PYPPER_TRACE_FILE '{bad}': No such file or directory\n"


def test_log_info_reports_session():
    r = run(["-c", "pass"], env={"PYPPER_ENABLE": "1", "PYPPER_LOG": "info",
                                 "PYPPER_START_DELAY_MS": "0"})
    assert "pypper: info: tracing session started" in r.stderr
    assert "pypper: info: tracing session ended" in r.stderr
    r = run(["-c", "pass"], env={"PYPPER_ENABLE": "1", "PYPPER_LOG": "off"})
    assert r.stderr == ""


def test_threads_running_at_exit_with_session():
    code = textwrap.dedent("""
        import threading, time, pypper
        stop = False
        def spin():
            while not stop:
                [i for i in range(100)]
        ts = [threading.Thread(target=spin, daemon=True) for _ in range(3)]
        for t in ts: t.start()
        for _ in range(20):
            pypper.start(); pypper.end()
        pypper.start()
        time.sleep(0.1)
        print("done")
    """)
    r = run(["-c", code])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "done\n"


def test_venv_with_copies_finds_pypper(tmp_path):
    env_dir = tmp_path / "venv"
    r = run(["-m", "venv", "--copies", "--without-pip", str(env_dir)])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import pypper; print(pypper.MODE)"],
                       env=clean_env(), capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "drop-in\n" and r.stderr == "", r.stderr
