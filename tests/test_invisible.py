"""PYPPER_ENABLE=1 is invisible to the program: what CPython's regression suite found
(Doc/compatibility.md). fork() counts no other thread, faulthandler and
sys._current_frames() see no Pypper thread, start-up imports nothing, and -S, -I or a
._pth file do not stop the interpreter."""

import os
import textwrap

import pytest

from conftest import DROPIN, PYPPER_THREADS, run

# The session starts before the program (no START_DELAY_MS): what is checked is a
# running session; tests/test_delayed_start.py checks a pending one.
ENABLE = {"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "0"}
MODULES = "import sys; print(sorted(sys.modules))"


def test_fork_sees_no_pypper_thread():
    # CPython prints its DeprecationWarning (-W always: every time) when it counts
    # other threads at fork(). The last fork, with a thread of the program's own
    # alive, shows that the warning would be seen.
    code = textwrap.dedent("""
        import os, time, _thread, _pypper
        assert _pypper.state() == "running"
        def fork():
            pid = os.fork()
            if pid == 0:
                os._exit(0 if _pypper.state() == "stopped" else 1)
            _, status = os.waitpid(pid, 0)
            assert status == 0, status
        before = names()
        for i in range(20):
            fork()
        import pypper
        pypper.hot_objects(1)       # (a question to the engine starts them again)
        print(before == names(), before, _pypper.state(), flush=True)
        lock = _thread.allocate_lock()
        lock.acquire()
        _thread.start_new_thread(lock.acquire, ())
        fork()
        lock.release()
    """)
    r = run(["-W", "always::DeprecationWarning", "-c", PYPPER_THREADS + code], env=ENABLE)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("True ['pypper-migrate', 'pypper-sampler'] running\n"), r.stdout
    assert r.stderr.count("is multi-threaded, use of fork()") == 1, r.stderr


def test_hand_over_runs_without_a_thread_state_of_its_own():
    # After hand-overs the sampler asked for (it used to take the GIL with a thread
    # state of its own for them), faulthandler and _current_frames see only the
    # program's thread. Bounded wait: the sampler asks every 100 ms while busy.
    code = textwrap.dedent("""
        import faulthandler, sys, time, _pypper
        deadline = time.monotonic() + 60
        while _pypper.active_trace_stats()["hand_overs"] < 2:
            assert time.monotonic() < deadline, "no hand-over within 60 s"
            x = [object() for _ in range(1000)]
        faulthandler.dump_traceback(all_threads=True)
        print(len(sys._current_frames()))
    """)
    r = run(["-c", code], env=ENABLE)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "1\n"
    assert r.stderr.count("Thread 0x") + r.stderr.count("Current thread 0x") == 1, r.stderr


def test_hand_over_runs_in_the_program_threads():
    # The main thread waits in join(); the hand-overs the sampler queues run in the
    # thread that runs Python code. Bounded wait: the sampler asks every 100 ms while
    # the process is busy.
    code = textwrap.dedent("""
        import threading, time, _pypper
        def spin():
            deadline = time.monotonic() + 60
            while _pypper.active_trace_stats()["hand_overs"] < 3:
                assert time.monotonic() < deadline, "no hand-over within 60 s"
                sum(range(1000))
        t = threading.Thread(target=spin)
        t.start()
        t.join()
        s = _pypper.active_trace_stats()
        print(s["hand_overs"] >= 3, s["hand_over_seconds"] > 0)
    """)
    r = run(["-c", code], env=ENABLE)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True True\n"


@pytest.mark.parametrize("flags", [[], ["-S"], ["-I"], ["-s", "-E"]])
def test_startup_imports_nothing(flags):
    plain = run([*flags, "-c", MODULES])
    traced = run([*flags, "-c", MODULES + "; import _pypper; print(_pypper.state())"],
                 env=ENABLE)
    assert plain.returncode == 0 and traced.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout + "running\n"
    assert traced.stderr == ""


def test_importtime_shows_no_import():
    plain = run(["-X", "importtime", "-c", "pass"])
    traced = run(["-X", "importtime", "-c", "pass"], env=ENABLE)
    names = lambda r: [line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()]
    assert names(traced) == names(plain)


def test_pth_file_restricting_sys_path(tmp_path):
    # A ._pth file beside the executable: sys.path is only what it lists (here the
    # stdlib without lib-dynload: no zlib, no _json).
    exe = tmp_path / "python3"
    os.symlink(DROPIN, exe)
    import sysconfig
    (tmp_path / "python3._pth").write_text(sysconfig.get_path("stdlib") + "\n")
    code = "import sys, _pypper; print(len(sys.path), _pypper.state())"
    r = run(["-c", code], env=ENABLE, python=str(exe))
    assert (r.returncode, r.stdout, r.stderr) == (0, "1 running\n", "")
    # The exit summary needs the package: it imports without zlib or json.
    r = run(["-c", code], env={**ENABLE, "PYPPER_STATS": "1"}, python=str(exe))
    assert r.returncode == 0 and r.stdout == "1 running\n", r.stderr
    assert "pypper: summary for pid" in r.stderr


def test_package_import_is_lazy():
    r = run(["-c", "import sys, pypper; print('zlib' in sys.modules, 'json' in sys.modules); "
                   "pypper.Snapshot; print('zlib' in sys.modules)"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "False False\nTrue\n"


def test_session_ends_at_exit_without_the_package():
    # The C side registered end() at exit: the threads are joined before finalization.
    code = "import _pypper, sys; print(_pypper.state(), 'pypper' in sys.modules)"
    r = run(["-c", code], env={**ENABLE, "PYPPER_LOG": "info"})
    assert r.returncode == 0
    assert r.stdout == "running False\n"
    assert "tracing session ended" in r.stderr, r.stderr


def test_threads_start_again_once_the_program_settles():
    # After a fork that follows another within a second, the parent's threads start
    # again once the program has gone on PYPPER_FORK_SETTLE_MS (50 ms) without
    # forking, at its next collection (or recorded allocation, or at once on a
    # question to the engine): a program that forks in a loop pays no join and start
    # per fork. A fork on its own starts them at once.
    code = textwrap.dedent("""
        import gc, os, time, _pypper
        before = names()
        started = _pypper.stats()["worker_threads_started"]
        for i in range(10):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        # (Between two forks of the loop the threads did not start: no collection came
        # 50 ms after a fork.)
        time.sleep(0.06)
        gc.collect()
        after = names()
        print(before, after == before, _pypper.stats()["worker_threads_started"] - started)
    """)
    r = run(["-c", PYPPER_THREADS + code], env=ENABLE)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[:2] == ["['pypper-migrate',", "'pypper-sampler']"] and out[2] == "True", r.stdout
    # Started again after the first fork and once after the last (not once per fork):
    # once more when a collection came 50 ms after some fork of the loop (a loaded
    # machine).
    assert 4 <= int(out[3]) <= 6, r.stdout


def test_other_fork_hooks_that_collect_start_no_thread_at_the_wrong_time():
    # Hooks registered before Pypper's: their before-fork hooks run after its own
    # (just before fork()); in the child its own runs first (process_hooks.c), but
    # a collection may come before it (a finalizer as CPython clears threads). A collection
    # there, once the threads are due to start again (forks 0.1 s apart: each follows
    # the last within a second, and the settle time has passed), must start none: the
    # process would fork with Pypper's threads running (CPython's warning, and a thread
    # holding a lock at fork()), or the parent's threads would run in the child.
    code = textwrap.dedent("""
        import gc, os, time, warnings
        os.register_at_fork(before=gc.collect, after_in_child=gc.collect)
        import pypper
        pypper.start()
        warned = 0
        for i in range(5):
            time.sleep(0.1)
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                pid = os.fork()
                if pid == 0:
                    os._exit(0 if names() == [] else 1)
            warned += sum("multi-threaded" in str(x.message) for x in w)
            _, status = os.waitpid(pid, 0)
            assert status == 0, ("Pypper's threads in the child", i)
        assert warned == 0, warned
        pypper.end()
        print("ok")
    """)
    r = run(["-c", PYPPER_THREADS + code], env={})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n", r.stdout
