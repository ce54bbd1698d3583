"""Pypper's own memory (pypper.own_memory(), stats own_bytes/heap_bytes_in_use): the
parts' resident bytes, the object table's 8-byte slots, the tracked bitmaps, the figures kept at a
session's end, and the trace file's end event."""

import json
import os
import textwrap

from conftest import run


def check(code, **kw):
    r = run(["-c", textwrap.dedent(code)], **kw)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_parts_sum_and_table_size():
    out = check("""
        import pypper, _pypper
        m = pypper.own_memory()
        assert m["at_session_end"] is None and m["uncounted_mappings"] == 0, m
        assert m["parts"]["objtable_entries"] == 0 and m["own_bytes"] == sum(m["parts"].values())
        assert m["parts"]["tracked_bits"] == 0, m
        words = [str(i) * 3 for i in range(200000)]
        _pypper._test_hold_sampler(True)           # no evidence: no entry made by it
        pypper.start()
        m = pypper.own_memory()
        n = pypper.live_trace_stats()["objects"]
        parts = m["parts"]
        assert n >= 200000 and m["own_bytes"] == sum(parts.values()), (n, m)
        assert m["heap_bytes_in_use"] > 200000 * 50
        # The first pass tracks them in the bitmaps beside the heap (24 bytes per KiB
        # of the arenas holding them, 2.3%) and adds no entry but for the few 16-byte
        # objects (bare object() instances: no room for their before bit).
        assert pypper.live_trace_stats()["entries"] < 100, pypper.live_trace_stats()
        assert parts["objtable_entries"] <= 16 << 10 and parts["objtable_states"] == 0, parts
        assert 0 < parts["tracked_bits"] <= m["heap_bytes_in_use"] * 0.024 + (32 << 10), m
        # With an entry each: 8-byte slots, 70% to 85% full (hashed as they came, the
        # table grown in place); a huge page at most at the tail. No model state.
        assert _pypper._test_give_entries(words) == 200000
        parts = pypper.own_memory()["parts"]
        k = 200000
        assert 8 * k / 0.85 <= parts["objtable_entries"] <= 8 * k / 0.7 + (128 << 10) + (2 << 20), parts
        assert parts["objtable_states"] == 0, parts
        assert parts["live_trace"] <= 65536        # the rescan buffer, touched as used
        m = pypper.own_memory()
        assert abs(m["own_per_heap"] - m["own_bytes"] / m["heap_bytes_in_use"]) < 1e-9
        s = pypper.stats()
        assert s["own_bytes"] > 9 * k and s["heap_bytes_in_use"] > 0
        pypper.end()
        end = pypper.own_memory()["at_session_end"]
        assert end["parts"]["objtable_entries"] >= 8 * k / 0.85 and end["own_bytes"] >= 9 * k, end
        assert end["parts"]["tracked_bits"] > 0, end
        now = pypper.own_memory()
        assert now["parts"]["objtable_entries"] == 0 and now["parts"]["objtable_states"] == 0, now
        assert now["parts"]["tracked_bits"] == 0, now          # dropped at the end
        print("ok")
    """)
    assert out == "ok\n"


def test_end_event_carries_own_memory(tmp_path):
    trace = tmp_path / "t.%p"
    check("""
        import pypper
        keep = [[i] for i in range(50000)]
        pypper.start()
        import _pypper
        _pypper._test_give_entries(keep)
        pypper.end()
    """, env={"PYPPER_TRACE_FILE": str(trace)})
    files = os.listdir(tmp_path)
    assert len(files) == 1
    with open(tmp_path / files[0]) as f:
        end = [json.loads(line) for line in f][-1]
    assert end["event"] == "end"
    own = end["own_memory"]
    assert own["parts"]["objtable_entries"] >= 8 * 50000 and own["heap_bytes_in_use"] > 0
    assert own["own_bytes"] == sum(own["parts"].values())
