"""A capture's sums per (site, type) and per site (_pypper.snapshot_sums: the traced
objects summed in C as they are walked, without a row each) equal the rows of a
snapshot of the same objects summed one by one; bad arguments are one clear error.
(The sums' own cases, made by hand: tests/c/test_group_sums.c.)"""

import textwrap

from conftest import run


def check(code):
    r = run(["-c", textwrap.dedent(code)], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_the_sums_are_a_snapshots_rows_summed():
    out = check("""
        import gc, sys, pypper, _pypper
        from pypper import _capture, _snapshot

        class Item:
            def __init__(self, v):
                self.v = v

        def maker():                        # functions: a machinery type
            def f():
                pass
            return f

        _pypper._test_hold_sampler(True)    # parked from its start: no burst first
        pypper.start()
        _pypper._test_hold_sampler(True)    # no evidence comes in, the clock stands still:
        _pypper._test_set_clock(_pypper._test_set_clock(None))     # the same temperatures twice
        log = [Item(i) for i in range(30000)]
        table = {i: Item(i) for i in range(5000)}
        funcs = [maker() for _ in range(2000)]
        def walk(items):
            for it in items:
                _pypper._test_sample()
        def append(lst):
            lst.append(None)
            _pypper._test_sample()
        gc.collect()
        for _ in range(3):
            walk(log[:300])
            for _ in range(100):
                append(log)
        _pypper._test_hand_over()
        cold = _pypper.session_config()[0]["cold_threshold"]
        gc.disable()                        # the same objects in both
        # Once before (a first call interns the names it makes: a dict's table grows
        # and takes that line for its site).
        del _pypper.snapshot_sums(cold, _capture.MACHINERY)["groups"][:]
        del _pypper.snapshot_data(0.0, True, True)["objects"]
        sums = _pypper.snapshot_sums(cold, _capture.MACHINERY); line = sys._getframe().f_lineno
        data = _pypper.snapshot_data(0.0, True, True)
        objs = _snapshot.ObjectRows(data["objects"])
        splits = {a: (c, w, h) for a, c, w, h, _heat in data["owned_classes"]}
        assert splits, "no owned buffer split by class: that case is not exercised"
        assert any(o.site_kind == "inferred" and o.type == "function" for o in objs)
        # Inference is per type: the two calls' results (dicts, lists, tuples, numbers,
        # str) are seeds the other call did not see, and may make an arena of their
        # type infer nothing (site_infer.h); the rows compared by site are of other types.
        assert {o.type for o in objs if o.site_kind == "inferred"} <= {"Item", "function"}
        # The reference: the rows one by one, but for snapshot_sums' own result (made
        # between the two).
        def ids(x, seen):
            seen.add(id(x))
            for y in (x.values() if isinstance(x, dict) else x if isinstance(x, (list, tuple)) else ()):
                ids(y, seen)
            return seen
        fresh = ids(sums, set())
        want, want_sites = {}, {}
        regrown = f"<string>:{line} (<module>)"
        for o in objs:
            if o.address in fresh:
                continue
            if o.site == regrown and o.site_kind == "buffer":
                # A dict whose table the call regrew after the walk had read it (the
                # walk saw it without a site).
                o = o._replace(site=None, site_kind="not sampled")
            k = ("cold", "warm", "hot").index(o.klass)
            parts = list(splits.get(o.address, (0, 0, 0)))
            parts[k] += o.size if o.address in splits else o.size + o.owned_bytes
            if o.temperature >= cold:
                s = want_sites.setdefault(o.site, [0, 0])
                s[0] += parts[2]
                s[1] += parts[1]
            site = None if o.site_kind == "inferred" and o.type in _capture.MACHINERY else o.site
            g = want.setdefault((site, o.type), [0] * 7 + [0.0, 0.0] + [[0] * 10])
            total = o.size + o.owned_bytes
            for i, v in enumerate((1, o.size, o.owned_bytes, parts[2], parts[1], parts[0],
                                   total if o.tier == "slow" else 0)):
                g[i] += v
            # A body at its object's temperature; a buffer's bytes at their pages',
            # which are the owner's or lower (not in the rows: bounds only).
            g[7] += o.temperature * o.size
            g[8] += o.temperature * total
            g[9][min(int(o.temperature * 10), 9)] += o.size
        have = {}
        for site, t, n, size, owned, hot, warm, cold_b, tsum, slow, hist in sums["groups"]:
            g = have.setdefault((site, t), [0] * 7 + [0.0] + [[0] * 10])
            for i, v in enumerate((n, size, owned, hot, warm, cold_b, slow)):
                g[i] += v
            g[7] += tsum
            g[8] = [a + b for a, b in zip(g[8], hist)]
        def agrees(h, w):
            return (h is not None and w is not None and h[:7] == w[:7]
                    and w[7] - 1e-6 <= h[7] <= w[8] + 1e-6 * max(1.0, w[8])
                    and sum(h[8]) == w[1] + w[2] and all(a >= b for a, b in zip(h[8], w[9])))
        bad = [(k, have.get(k), want.get(k)) for k in have.keys() | want.keys()
               if not agrees(have.get(k), want.get(k))]
        assert not bad, bad[:3]
        assert (None, "function") in have
        have_sites = {}
        for site, hot, warm in sums["sites"]:     # (two site ids may have one text)
            h = have_sites.setdefault(site, [0, 0])
            h[0] += hot
            h[1] += warm
        want_sites = {s: v for s, v in want_sites.items() if v != [0, 0]}
        assert have_sites == want_sites, [(k, have_sites.get(k), want_sites.get(k))
                                          for k in have_sites.keys() | want_sites.keys()
                                          if have_sites.get(k) != want_sites.get(k)][:3]
        assert sums["objects"] == len([o for o in objs if o.address not in fresh]) > 37000
        # Pages and untraced bytes as snapshot_data's, which also has the sums' own
        # result (its tuples and numbers are untraced: 80 KiB here). (Untraced bytes go
        # to the site of their pool's latest recorded block, which the calls' own
        # allocations change: their sites are not compared.)
        # The sums' pages are every page in use (a capture's frame: cold ones at 0),
        # each with its untraced bytes' heat added: snapshot_data's among them, as hot.
        from pypper._snapshot import page_columns
        s_addr, _h, _c, s_heat, _t = page_columns(sums["pages"])
        d_addr, _h, _c, d_heat, _t = page_columns(data["pages"])
        s_pages = dict(zip(s_addr, s_heat))
        missing = [a for a in d_addr if a not in s_pages]
        assert len(missing) <= 8 and len(s_pages) > len(d_addr), (len(missing), len(s_pages), len(d_addr))
        assert all(s_pages[a] >= h - 1e-9 for a, h in zip(d_addr, d_heat) if a in s_pages)
        assert list(s_addr) == sorted(s_addr)
        assert 0 <= data["untraced_bytes"] - sums["untraced_bytes"] <= 256 << 10, \
            (sums["untraced_bytes"], data["untraced_bytes"])
        gc.enable()
        pypper.end()
        print("ok")
    """)
    assert out == "ok\n"


def test_bad_arguments_are_one_clear_error():
    out = check("""
        import pypper, _pypper
        try:
            _pypper.snapshot_sums(0.3, ())
        except RuntimeError as e:
            print("RuntimeError", e)
        pypper.start()
        for args in [(0.3, ["list"]), (0.3, (1,)), ("x", ())]:
            try:
                _pypper.snapshot_sums(*args)
            except TypeError as e:
                print("TypeError", "\\n" in str(e))
        print(_pypper.snapshot_sums(0.3, ())["objects"] > 0)
        pypper.end()
    """)
    assert out.splitlines() == [
        "RuntimeError no tracing session is running: call pypper.start() first",
        "TypeError False", "TypeError False", "TypeError False", "True"]
