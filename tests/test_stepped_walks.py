"""The live trace's walks in steps (Python/live_trace.c): a container with many
referents is walked a chunk at a time by the budgeted walks (its rest waits in the
pending queue), and a delayed start's first pass leaves the oldest GC generation to
the promoted walk's steps, marking what existed before the session as it goes.
Driven deterministically: the sampler is held from the session's start (no hand-over
runs but the test's own, _pypper._test_hand_over()), the GC is disabled once the data
is in the oldest generation, and _pypper._test_live_trace_progress() looks without
walking what is left (every other question about the live set walks it first)."""

import textwrap

from conftest import run

# The environment's session, armed by the program once its data is in place (as the
# drop-in arms it at start-up with PYPPER_ENABLE=1), due 1 ms later.
SOON = {"PYPPER_START_DELAY_MS": "1"}

# Steps until nothing is left of the first pass or the pending queue (at most 10,000).
STEP_UNTIL_DONE = textwrap.dedent("""
    def step_until_done(probe):
        steps = 0
        p = _pypper._test_live_trace_progress(probe)
        while (p["first_pass_open"] or p["pending"]) and steps < 10000:
            _pypper._test_hand_over()
            steps += 1
            p = _pypper._test_live_trace_progress(probe)
        return steps, p
""")


# A session started by the program, its sampler held and the GC disabled.
HELD_SESSION = textwrap.dedent("""
    import gc, _pypper, pypper
    gc.disable()
    _pypper._test_hold_sampler(True)
    pypper.start()
    P = _pypper._test_live_trace_progress
""")


# Data in the oldest generation, the GC disabled, and a start due 1 ms later (SOON),
# waited for: the first pass then goes in steps (the freeze tests' start).
STARTED_LATE = textwrap.dedent("""
    import gc, time, _pypper
    _pypper._test_hold_sampler(True)
    data = [{"k": i, "v": str(i) + "v"} for i in range(40000)]
    gc.collect()
    gc.disable()
    assert _pypper._start_later() is False
    deadline = time.monotonic() + 60
    while _pypper.state() != "running" and time.monotonic() < deadline:
        pass
""")


def check(code, env=None, held=False):
    prelude = STEP_UNTIL_DONE + (HELD_SESSION if held else "")
    r = run(["-c", prelude + textwrap.dedent(code)], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_delayed_start_walks_the_oldest_generation_in_steps():
    out = check("""
        import gc, time, _pypper
        _pypper._test_hold_sampler(True)        # no hand-over but the test's own
        data = [{"k": i, "v": str(i) + "v"} for i in range(40000)]
        gc.collect()                            # the list in the oldest generation
        gc.disable()
        assert _pypper._start_later() is False  # pending
        deadline = time.monotonic() + 60        # the pending start needs bytecode to run
        while _pypper.state() != "running" and time.monotonic() < deadline:
            pass
        probe = data[-1]["v"]                   # reached only through the list's chunks
        p = _pypper._test_live_trace_progress(probe)
        print(_pypper.state(), p["stepped"], p["first_pass_open"], p["tracks"])
        late = [str(i) + "late" for i in range(50)]     # made after the start ...
        gc.collect(1)                           # ... and promoted after the first pass's end
        steps, p = step_until_done(probe)
        print(steps > 3, p["tracks"], p["before"], p["chunked"] >= 1)
        q = _pypper._test_live_trace_progress(late[7])
        print(q["tracks"], q["before"])
        s = _pypper.live_trace_stats()
        print(s["first_pass_stepped"], s["first_pass_steps"] == steps, s["chunked_containers"] >= 1)
        print(all(_pypper.live_trace_knows(d["v"]) for d in data[::997]))
    """, env=SOON)
    assert out.splitlines() == ["running True True False", "True True True True",
                                "True False", "True True True", "True"]


def test_a_freeze_during_a_delayed_start_keeps_what_existed_before():
    # A delayed start's first pass marks what it walks before `first_end` as existing
    # before the session. A freeze moves the anchor and first_end together: the walk of
    # what the young lists held (made after the start) does not mark it, and the steps
    # still mark the oldest list's objects (the review of the first version: the data
    # lost its mark, and with a full collection the young objects got one).
    for extra in ("", "gc.collect()"):
        out = check(STARTED_LATE + textwrap.dedent("""
            late = [[str(i) + "late"] for i in range(50)]   # generation 0
            gc.freeze()
            %s
            probe = data[-1]["v"]
            steps, p = step_until_done(probe)
            q = _pypper._test_live_trace_progress(late[7][0])
            print(p["tracks"], p["before"], q["tracks"], q["before"])
            gc.unfreeze()
        """ % extra), env=SOON)
        assert out.splitlines() == ["True True True False"], extra
    # More young objects than a step's budget (a third review: the anchor went where
    # that walk stopped, and the steps marked 33,621 of 50,000 lists made after the
    # start as existing before it).
    out = check(STARTED_LATE + textwrap.dedent("""
        new = [[str(i) + "new"] for i in range(50000)]     # made after the start
        gc.freeze()
        steps, p = step_until_done(data[-1]["v"])
        P = _pypper._test_live_trace_progress
        print(sum(P(x)["before"] for x in new), sum(P(x)["tracks"] for x in new),
              sum(P(d["v"])["before"] for d in data))
        gc.unfreeze()
    """), env=SOON)
    assert out.splitlines() == ["0 50000 40000"]


def test_explicit_start_walks_everything_at_once():
    out = check("""
        import gc, _pypper, pypper
        data = [{"k": i, "v": str(i) + "v"} for i in range(40000)]
        gc.collect()
        gc.disable()
        _pypper._test_hold_sampler(True)
        pypper.start()
        p = _pypper._test_live_trace_progress(data[-1]["v"])
        print(p["stepped"], p["first_pass_open"], p["pending"], p["tracks"], p["before"])
        pypper.end()
    """)
    assert out == "False False 0 True True\n"


def test_a_large_promoted_container_is_walked_in_chunks():
    out = check("""
        big = [str(i) + "x" for i in range(30000)]
        gc.collect(1)                           # to the oldest generation, after the anchor
        _pypper._test_hand_over()               # takes its first chunk
        p = _pypper._test_live_trace_progress(None)
        some = sum(_pypper._test_live_trace_progress(x)["tracks"] for x in big[::100])
        print(p["chunked"], p["pending"], 0 < some < 300)
        steps, p = step_until_done(big[-1])
        print(steps >= 1, p["tracks"], p["before"], p["pending"])
        # A container freed while it waits for its next chunk is dropped from the queue.
        gone = [str(i) + "y" for i in range(30000)]
        gc.collect(1)
        _pypper._test_hand_over()
        print(_pypper._test_live_trace_progress(None)["pending"])
        del gone
        _pypper._test_hand_over()
        print(_pypper._test_live_trace_progress(None)["pending"])
        # Whoever asks about the live set has the rest walked first.
        more = [str(i) + "z" for i in range(30000)]
        gc.collect(1)
        _pypper._test_hand_over()
        print(_pypper.live_trace_knows(more[-1]), _pypper._test_live_trace_progress(None)["pending"])
        pypper.end()
    """, held=True)
    assert out.splitlines() == ["1 1 True", "True True False 0", "1", "0", "True 0"]


def test_a_large_dict_is_walked_in_chunks_by_entry():
    out = check("""
        table = {i: str(i) + "d" for i in range(30000)}     # int keys: keys walked too
        table[-1] = []                          # a container in it: the GC tracks it
        gc.collect(1)
        _pypper._test_hand_over()
        p = _pypper._test_live_trace_progress(None)
        some = sum(_pypper._test_live_trace_progress(table[i])["tracks"] for i in range(0, 30000, 100))
        print(p["chunked"], p["pending"], 0 < some < 300)
        steps, p = step_until_done(None)
        print(all(_pypper._test_live_trace_progress(table[i])["tracks"] for i in range(0, 30000, 7)))
        pypper.end()
    """, held=True)
    assert out.splitlines() == ["1 1 True", "True"]


def test_the_rescan_takes_a_large_list_over_several_steps():
    # Strings stored into an old list after it was walked are found by the rescans,
    # which take 65,536 items of a list a step, from where the last step stopped.
    out = check("""
        big = [str(i) + "r" for i in range(200000)]
        gc.collect(1)
        print(_pypper.live_trace_knows(big[-1]))          # walked: the rest at once
        for i in range(150000, 150010):
            big[i] = str(i) + "new"                       # not tracked yet
        print(P(big[150005])["tracks"])
        inside = False
        steps = 0
        while not P(big[150005])["tracks"] and steps < 2000:
            _pypper._test_hand_over()
            inside = inside or P(None)["rescan_inside"]
            steps += 1
        print(P(big[150005])["tracks"], inside, steps > 1)
        pypper.end()
    """, held=True)
    assert out.splitlines() == ["True", "False", "True True True"]


def test_a_large_untracked_dict_is_queued_from_what_holds_it():
    # A dict of strings only is not tracked by the GC: the walk of the container
    # holding it (here a list) meets it and queues it instead of walking it at once.
    out = check("""
        atoms = {str(i): str(i) + "a" for i in range(30000)}
        holder = [atoms]
        gc.collect(1)
        print(gc.is_tracked(atoms), gc.is_tracked(holder))
        _pypper._test_hand_over()
        some = sum(P(v)["tracks"] for v in list(atoms.values())[::100])
        print(P(atoms)["tracks"], P(None)["pending"], some < 300)
        steps, p = step_until_done(None)
        print(all(P(v)["tracks"] for v in list(atoms.values())[::7]))
        pypper.end()
    """, held=True)
    assert out.splitlines() == ["False True", "True 1 True", "True"]


def test_a_large_untracked_dict_found_by_a_rescan_is_queued():
    # Stored into a container walked before, it is found by a rescan, which queues it
    # for the walks' chunks rather than taking its items at once.
    out = check("""
        old = [None] * 10
        gc.collect(1)
        _pypper._test_hand_over()               # walks old
        print(P(old)["tracks"])
        old[3] = {str(i): str(i) + "q" for i in range(30000)}
        steps = 0
        while not P(old[3])["tracks"] and steps < 2000:
            _pypper._test_hand_over()
            steps += 1
        values = list(old[3].values())
        print(P(old[3])["tracks"], P(None)["pending"], sum(P(v)["tracks"] for v in values[::100]) < 300)
        steps, p = step_until_done(None)
        print(all(P(v)["tracks"] for v in values[::7]))
        pypper.end()
    """, held=True)
    assert out.splitlines() == ["True", "True 1 True", "True"]


def test_a_rescan_whose_buffer_fills_goes_on_where_it_stopped():
    # 30,000 dicts of atoms (untracked by the GC) appended to a list walked before:
    # a rescan step collects at most 8,192 objects, and the next step starts at the
    # first it did not take. Before 2026-12-06 the step passed over the rest of the
    # list, and those dicts waited for later rounds of the rescan over the whole heap.
    out = check("""
        old = []
        gc.collect(1)
        _pypper._test_hand_over()               # walks old, empty
        print(P(old)["tracks"])
        old.extend([{"n": i} for i in range(30000)])
        # (no list of probes: a young list holding them would have them walked)
        tracked = lambda: all(P(old[i])["tracks"] for i in range(0, 30000, 97))
        found = lambda: pypper.live_trace_stats()["rescan_found"]
        start = found()
        steps, after_first = 0, None
        while not tracked() and steps < 2000:
            before = found()
            _pypper._test_hand_over()
            steps += 1
            if after_first is not None:
                after_first += 1
            elif found() > before:
                after_first = 0
        print(tracked(), found() - start >= 29000, after_first is not None and after_first <= 4)
        pypper.end()
    """, held=True)
    assert out.splitlines() == ["True", "True True True"]


def test_what_only_a_local_variable_holds_is_traced():
    # A dict of strings and numbers is not tracked by the GC, and no container holds
    # it: only its function's frame. The steps take the frames' locals (a text
    # pipeline's 30,000-word vocabulary was missing from the report by type before).
    out = check("""
        def main():
            vocab = {i: str(i) + "w" for i in range(5000)}    # untracked by the GC
            text = "x" * 100000
            print(gc.is_tracked(vocab), P(vocab)["tracks"], P(text)["tracks"])
            _pypper._test_hand_over()
            print(P(vocab)["tracks"], P(text)["tracks"], P(None)["pending"])
            step_until_done(None)               # its items: queued, in chunks
            print(P(vocab[4321])["tracks"], pypper.live_trace_stats()["frame_locals_found"] >= 2)
        main()
        pypper.end()
    """, held=True)
    assert out.splitlines() == ["False False False", "True True 1", "True True"]
