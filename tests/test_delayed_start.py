"""PYPPER_ENABLE=1 in the drop-in starts the session START_DELAY_MS after the program
starts (Python/delayed_start.h): a program that ends sooner is not traced. The pending
start is driven deterministically here: a delay of an hour keeps it pending, a delay
of 1 ms with a bounded wait makes it run, and importing pypper runs it at once."""

import textwrap

from conftest import run

PENDING = {"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "3600000"}
SOON = {"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "1"}

# Runs bytecode until the session runs (the pending call needs an eval-breaker
# check), for at most 60 s.
WAIT_RUNNING = textwrap.dedent("""
    import time, _pypper
    deadline = time.monotonic() + 60
    while _pypper.state() != "running" and time.monotonic() < deadline:
        pass
""")


def test_short_program_is_not_traced():
    r = run(["-c", "import _pypper; print(_pypper._start_pending() is not None, _pypper.state())"],
            env={**PENDING, "PYPPER_LOG": "info"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True stopped\n"
    assert "pypper: info: tracing starts in 3600000 ms (START_DELAY_MS)" in r.stderr
    assert "pypper: info: tracing ended before its delayed start" in r.stderr
    assert "tracing session started" not in r.stderr


def test_default_delay_is_a_second():
    r = run(["-c", "import _pypper; print(_pypper.resolve(None)[0]['start_delay_ms'])"])
    assert r.stdout == "1000\n"


def test_delayed_start_runs_on_the_main_thread():
    code = WAIT_RUNNING + textwrap.dedent("""
        s = _pypper.stats()
        print(_pypper.state(), s["delayed_starts"], s["delayed_starts_run"], _pypper._start_pending())
    """)
    r = run(["-c", code], env={**SOON, "PYPPER_LOG": "info"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "running 1 1 None\n"
    assert "pypper: info: tracing starts after" in r.stderr
    assert "tracing session started" in r.stderr
    # The main thread started it: its frames are sampled.
    assert "started outside the main thread" not in r.stderr


def test_a_start_due_in_code_without_builtins_starts():
    # The pending start runs in whatever frame the program is in: the methods that
    # collections.namedtuple generates run with empty builtins, and the start's imports
    # looked `__import__` up there ("tracing could not start: KeyError: '__import__'"
    # when a program made a million records as the start came due). Driven: the start
    # run now from such a frame, as its pending call would be.
    code = textwrap.dedent("""
        import _pypper
        exec("start_now()", {"__builtins__": {}, "start_now": _pypper._start_now})
        print(_pypper.state())
    """)
    r = run(["-c", code], env=PENDING)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "running\n", r.stdout + r.stderr
    assert "could not start" not in r.stderr, r.stderr


def test_importing_pypper_starts_at_once():
    r = run(["-c", "import pypper; print(pypper.is_running(), pypper.config()['sample_hz'])"],
            env={**PENDING, "PYPPER_SAMPLE_HZ": "123"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True 123\n"


def test_explicit_start_replaces_the_pending_one():
    code = textwrap.dedent("""
        import _pypper
        _pypper.start({"SAMPLE_HZ": "7"})
        s = _pypper.stats()
        print(_pypper._start_pending(), _pypper.session_config()[0]["sample_hz"],
              s["delayed_starts"], s["delayed_starts_run"])
    """)
    r = run(["-c", code], env=PENDING)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "None 7 1 0\n"


def test_end_cancels_the_pending_start():
    # PENDING, not SOON: with a delay of 1 ms the start could fire before end() ran
    # (it did once on a loaded machine, 2026-12-06).
    code = "import _pypper; print(_pypper.end(), _pypper._start_pending(), _pypper.state())"
    r = run(["-c", code], env=PENDING)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "False None stopped\n"


def test_fork_while_pending_has_no_thread_and_child_forgets():
    # CPython 3.12 warns (DeprecationWarning) about a fork with other threads alive:
    # the starter thread is joined before and started again after, in the parent.
    code = textwrap.dedent("""
        import os, _pypper
        pid = os.fork()
        if pid == 0:
            os._exit(0 if _pypper._start_pending() is None else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), _pypper._start_pending() is not None)
    """)
    r = run(["-W", "error::DeprecationWarning", "-c", code], env=PENDING)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "0 True\n"
    assert r.stderr == ""


def test_fork_then_start_in_parent():
    code = textwrap.dedent("""
        import os
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    """) + WAIT_RUNNING + "print(_pypper.state())\n"
    r = run(["-W", "error::DeprecationWarning", "-c", code], env=SOON)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "running\n"


def test_main_thread_blocked_lets_another_thread_start_it():
    # The main thread waits in a C call (a lock) while a thread runs Python code. Once
    # the main thread's frame shows the acquire line it runs no eval-breaker check
    # until the lock is released; only then does the thread arm a start due in 1 ms.
    # A second after it is due, that thread starts the session itself.
    code = textwrap.dedent("""
        import os, sys, threading, time, _pypper
        lock = threading.Lock()
        lock.acquire()
        main = threading.get_ident()
        seen = []
        def work():
            deadline = time.monotonic() + 60
            while sys._current_frames()[main].f_lineno != LINE and time.monotonic() < deadline:
                time.sleep(0.001)
            os.environ["PYPPER_START_DELAY_MS"] = "1"
            _pypper._start_later()
            while _pypper.state() != "running" and time.monotonic() < deadline:
                pass
            seen.append(_pypper.state())
            lock.release()
        LINE = sys._getframe().f_lineno + 2
        threading.Thread(target=work).start()
        lock.acquire()
        print(seen[0], _pypper.stats()["delayed_starts_run"])
    """)
    r = run(["-c", code], env={**PENDING, "PYPPER_LOG": "info"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "running 1\n", r.stderr
    assert "started outside the main thread" in r.stderr


def test_bad_option_still_stops_the_program_before_it_runs():
    r = run(["-c", "print('ran')"], env={**PENDING, "PYPPER_SAMPLE_HZ": "0"})
    assert r.returncode == 2
    assert r.stdout == ""
    assert "PYPPER_SAMPLE_HZ" in r.stderr


def test_bad_delay_value_is_one_line():
    r = run(["-c", "print('ran')"], env={"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "-1"})
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == ("pypper: bad value '-1' for PYPPER_START_DELAY_MS: expected an integer "
                        "from 0 to 3600000\n")


def test_a_lost_signal_is_given_again():
    # CPython 3.12 stores a recomputed eval breaker: a program thread that recomputes it
    # just as the starter thread queues the call can store one without the call, and
    # nothing else may set it again (this loop schedules no collection and asks for no
    # GIL hand-off). The hook loses the signal in the same C call that arms the start;
    # the starter thread gives it again 0.1 s later.
    code = WAIT_RUNNING.replace("deadline =", textwrap.dedent("""\
        import os
        os.environ["PYPPER_START_DELAY_MS"] = "1"
        lost = _pypper._test_lose_start_signal(30000)
        deadline =""")) + textwrap.dedent("""
        s = _pypper.stats()
        print(lost, _pypper.state(), s["delayed_starts_run"], s["delayed_start_nudges"] >= 1)
    """)
    r = run(["-c", code], env=PENDING)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True running 1 True\n", r.stderr
