"""The pypper API in-process (this suite runs under the drop-in): the session
lifecycle, keyword options and their errors, counters, the background thread."""

import os
import threading
import time

import pytest

import pypper
from conftest import pypper_threads, sampler_turns, wait_for_sampler


def session_threads():
    """Pypper's native threads in this process (a session has a sampler and a
    migration thread)."""
    return sum(1 for n in pypper_threads() if n in ("pypper-sampler", "pypper-migrate"))


def test_module_surface():
    assert pypper.__version__ == "0.1.0"
    assert pypper.MODE == "drop-in"
    assert issubclass(pypper.ConfigError, ValueError)
    assert pypper.stop is pypper.end


def test_start_end_lifecycle():
    before = pypper.stats()
    assert not pypper.is_running()
    assert session_threads() == 0
    assert pypper.start() is True
    assert pypper.is_running()
    assert session_threads() == 2
    assert pypper.start() is False            # second start: no-op
    assert session_threads() == 2
    assert pypper.end() is True
    assert not pypper.is_running()
    assert session_threads() == 0
    assert pypper.end() is False              # end without a session
    assert pypper.start(sample_hz=10) is True # start after end
    assert pypper.config()["sample_hz"] == 10
    assert pypper.end() is True
    after = pypper.stats()
    assert after["starts"] == before["starts"] + 2
    assert after["ends"] == before["ends"] + 2
    assert after["worker_threads_started"] == after["worker_threads_joined"]


def test_end_without_start_is_false():
    assert pypper.end() is False
    assert pypper.stop() is False


def test_start_twice_with_other_options_raises():
    assert pypper.start(sample_hz=100)
    try:
        assert pypper.start(sample_hz=100) is False     # same options: no-op
        with pytest.raises(RuntimeError, match="already running with other options.*sample_hz"):
            pypper.start(sample_hz=200)
        assert pypper.config()["sample_hz"] == 100
    finally:
        pypper.end()


def test_sampler_turns_while_running():
    pypper.start()
    try:
        wait_for_sampler(2)
    finally:
        pypper.end()
    t1 = sampler_turns()
    time.sleep(0.25)
    assert sampler_turns() == t1     # no thread, no turns


def test_tracing_context_manager():
    with pypper.tracing(sample_hz=50):
        assert pypper.is_running()
        assert pypper.config()["sample_hz"] == 50
    assert not pypper.is_running()


def test_tracing_inside_running_session_keeps_it():
    pypper.start()
    try:
        with pypper.tracing():
            assert pypper.is_running()
        assert pypper.is_running()
    finally:
        pypper.end()


def test_tracing_ends_on_exception():
    with pytest.raises(KeyError):
        with pypper.tracing():
            raise KeyError("x")
    assert not pypper.is_running()


@pytest.mark.parametrize("kwargs,match", [
    ({"sample_hz": "abc"}, "bad value 'abc' for sample_hz: expected an integer from 1 to 100000"),
    ({"sample_hz": 0}, "expected an integer from 1 to 100000"),
    ({"sample_hz": 1.5}, "bad value 1.5 for sample_hz"),
    ({"sample_hz": True}, "bad value True for sample_hz"),
    ({"sampl_hz": 10}, r"unknown option sampl_hz \(did you mean sample_hz\?\)"),
    ({"SAMPLE_HZ": 10}, "lower case"),
    ({"bogus_option_name_here": 1}, "unknown option bogus_option_name_here"),
    ({"backend": "cxl"}, "one of auto, numa, pageout, sim"),
    ({"fast_budget": 1.5}, "a size in bytes"),
    ({"fast_budget": "200%"}, "at most 100"),
    ({"fast_nodes": [0, "1"]}, "a NUMA node list"),
    ({"fast_nodes": [-1]}, "a NUMA node list"),
    ({"hot_threshold": 2}, "a number from 0 to 1"),
    ({"hot_threshold": float("nan")}, "a number from 0 to 1"),
    ({"log": None}, "bad value None for log"),
    ({"trace_file": "a\0b"}, "embedded NUL"),
])
def test_bad_keyword_options_raise_configerror(kwargs, match):
    before = pypper.stats()["starts"]
    with pytest.raises(pypper.ConfigError, match=match):
        pypper.start(**kwargs)
    assert not pypper.is_running()
    assert pypper.stats()["starts"] == before


def test_configerror_is_valueerror():
    with pytest.raises(ValueError):
        pypper.start(sample_hz=-1)


def test_keyword_value_types():
    with pypper.tracing(enable=True, stats=0, fast_budget=1 << 30, hot_threshold=1,
                        migrate_mbps="0", backend="SIM", trace_file="", log="error"):
        c = pypper.config()
        assert c["enable"] is True and c["stats"] is False
        assert c["fast_budget"] == 1 << 30
        assert c["hot_threshold"] == 1.0 and c["migrate_mbps"] == 0
        assert c["backend"] == "sim" and c["log"] == "error"
        sources = {o.name: o.source for o in pypper.options()}
        assert sources["fast_budget"] == "argument" and sources["sample_hz"] == "default"


def test_keywords_override_environment(monkeypatch):
    monkeypatch.setenv("PYPPER_SAMPLE_HZ", "77")
    monkeypatch.setenv("PYPPER_MIGRATE_MBPS", "5")
    assert pypper.config()["sample_hz"] == 77
    with pypper.tracing(sample_hz=99):
        c = pypper.config()
        assert c["sample_hz"] == 99 and c["migrate_mbps"] == 5
        sources = {o.name: o.source for o in pypper.options()}
        assert sources["sample_hz"] == "argument" and sources["migrate_mbps"] == "env"


def test_bad_environment_seen_by_start_raises(monkeypatch):
    monkeypatch.setenv("PYPPER_SAMPLE_HZ", "fast")
    with pytest.raises(pypper.ConfigError, match="PYPPER_SAMPLE_HZ"):
        pypper.start()
    with pytest.raises(pypper.ConfigError):
        pypper.config()
    monkeypatch.setenv("PYPPER_SAMPLE_HZ", "10")
    monkeypatch.setenv("PYPPER_SAMPL_HZ", "10")
    with pytest.raises(pypper.ConfigError, match="did you mean PYPPER_SAMPLE_HZ"):
        pypper.start()
    assert not pypper.is_running()


def test_config_when_stopped_is_what_start_would_use(monkeypatch):
    monkeypatch.setenv("PYPPER_LOG", "info")
    assert pypper.config()["log"] == "info"
    assert pypper.config()["sample_hz"] == 100


def test_options_rows():
    rows = pypper.options()
    assert [r.name for r in rows][:3] == ["enable", "start_delay_ms", "backend"]
    row = next(r for r in rows if r.name == "fast_budget")
    assert row.env == "PYPPER_FAST_BUDGET" and row.value == "100%" and row.type == "size"


def test_start_end_from_many_threads():
    """start()/end() raced from threads: never two workers, never a crash."""
    errors = []

    def churn():
        try:
            for _ in range(50):
                pypper.start()
                pypper.end()
        except Exception as e:     # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=churn, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "start()/end() threads did not finish"
    assert not errors
    assert not pypper.is_running()
    assert session_threads() == 0
    s = pypper.stats()
    assert s["worker_threads_started"] == s["worker_threads_joined"]


# Python 3.12 warns about fork() in a process with threads (a test's own, if any).
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_child_has_stopped_session():
    pypper.start()
    try:
        wait_for_sampler()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            ok = (not pypper.is_running() and session_threads() == 0
                  and pypper.stats()["fork_child_stops"] >= 1
                  and pypper.start() and pypper.is_running() and session_threads() == 2
                  and pypper.end())
            os.write(w, b"1" if ok else b"0")
            os._exit(0)
        os.close(w)
        answer = os.read(r, 1)
        os.close(r)
        os.waitpid(pid, 0)
        assert answer == b"1"
        assert pypper.is_running()
        # The parent's threads start again when the program settles (50 ms without a
        # fork, at a collection) or, as here, at a question to the engine.
        pypper.hot_objects(1)
        assert session_threads() == 2
    finally:
        pypper.end()


def test_node_keyword_values_and_missing_nodes():
    import _pypper
    from pypper import _options
    values, _ = _pypper.resolve(_options.to_args({"fast_nodes": range(2), "slow_nodes": {3}}))
    assert values["fast_nodes"] == [0, 1] and values["slow_nodes"] == [3]
    missing = max(n["node"] for n in pypper.topology()["nodes"]) + 1
    with pytest.raises(pypper.ConfigError, match=f"^fast_nodes names node {missing}"):
        pypper.start(fast_nodes=[missing])
    assert not pypper.is_running()


def test_the_readmes_example_runs(tmp_path):
    """README.md's Python example, its `...` a loop over some data, runs as written
    (`snap.by_type()[:5]` was there: by_type() is a dict)."""
    import re
    import subprocess
    from conftest import DROPIN, SRCDIR, clean_env
    text = open(os.path.join(SRCDIR, "README.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    example = [b for b in blocks if "pypper.start()" in b and "pypper.snapshot()" in b]
    assert len(example) == 1, blocks
    code = re.sub(r"^\.\.\.(.*)$", r"data = [[i] * 3 for i in range(20000)]\1", example[0],
                  flags=re.M)
    r = subprocess.run([DROPIN, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=clean_env())
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert len(r.stdout.splitlines()) == 6, r.stdout
    assert (tmp_path / "app.snapshot").exists()
