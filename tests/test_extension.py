"""The same subsystem as an extension module for an unmodified python3.12, with
the build's lib dir on PYTHONPATH."""

import json
import textwrap


def test_import_in_stock_python(stock):
    r = stock("-c", "import pypper, sys; print(pypper.MODE, pypper.__version__, sys.executable)")
    assert r.returncode == 0, r.stderr
    mode, version, exe = r.stdout.split()
    assert mode == "extension" and version == "0.1.0"
    assert "python3.12" in exe


def test_lifecycle_in_stock_python(stock):
    code = textwrap.dedent("""
        import json, time, pypper
        out = [pypper.start(sample_hz=5), pypper.is_running(), pypper.start()]
        deadline = time.monotonic() + 30
        while pypper.active_trace_stats()["bursts"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        out.append(pypper.active_trace_stats()["bursts"] >= 1)
        out += [pypper.end(), pypper.end(), pypper.is_running()]
        with pypper.tracing():
            out.append(pypper.is_running())
        s = pypper.stats()
        out += [s["starts"], s["ends"], s["worker_threads_started"] == s["worker_threads_joined"]]
        print(json.dumps(out))
    """)
    r = stock("-c", code)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [True, True, False, True, True, False, False, True, 2, 2, True]


def test_enable_starts_at_import_in_stock_python(stock):
    r = stock("-c", "import pypper; print(pypper.is_running())", env={"PYPPER_ENABLE": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True\n"


def test_bad_env_in_stock_python(stock):
    r = stock("-c", "import pypper; pypper.start()", env={"PYPPER_SAMPLE_HZ": "abc"})
    assert r.returncode == 1
    assert "pypper.ConfigError: bad value 'abc' for PYPPER_SAMPLE_HZ" in r.stderr
    # Importing alone does not fail (unless PYPPER_ENABLE asks to start at import).
    r = stock("-c", "import pypper; print('ok')", env={"PYPPER_SAMPLE_HZ": "abc"})
    assert r.stdout == "ok\n"


def test_options_command_in_stock_python(stock):
    r = stock("-m", "pypper", "options", env={"PYPPER_SAMPLE_HZ": "7"})
    assert r.returncode == 0, r.stderr
    assert "PYPPER_SAMPLE_HZ" in r.stdout and "(env)" in r.stdout
    r = stock("-m", "pypper", "options", env={"PYPPER_SAMPLE_HZ": "x"})
    assert r.returncode == 2
    assert r.stderr.startswith("pypper: bad value 'x' for PYPPER_SAMPLE_HZ")
