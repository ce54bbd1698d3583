"""The migration plane: backend choice, buffer relocation (what moves, what must not),
temperature-driven relocation and page placement, the ratio and threshold policies,
segregation of cold allocation sites, failure injection, and the stress test that
compares checksums with a run without Pypper."""

import json
import os
import textwrap

import pytest

from conftest import DROPIN, SRCDIR, STOCK, run

STRESS = os.path.join(SRCDIR, "Tools", "stress", "migration_stress.py")


# Sessions of these tests are driven: the sampler thread is parked (so no background
# round runs), the test samples what it touches itself and moves the model's clock past
# the settling time instead of sleeping, then asks for rounds with migrate_now().
DRIVEN = """
import pypper, _pypper

def drive(**options):
    _pypper._test_hold_sampler(True)    # parked from its start: no burst first
    pypper.start(**options)
    _pypper._test_hold_sampler(True)

def settle(ms=2500):
    # Model time `ms` since start: old enough for "no evidence" to mean cold.
    _pypper._test_set_clock(ms)

def touch(objs, rounds=5):
    # Use each object `rounds` times, sampled as the sampler thread would see it.
    for _ in range(rounds):
        for o in objs:
            o[0] = (o[0] + 1) & 255
            _pypper._test_sample()
"""


def check(code, env=None, timeout=180):
    r = run(["-c", DRIVEN + textwrap.dedent(code)], env=env, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def swap_on():
    with open("/proc/swaps") as f:
        return len(f.read().splitlines()) > 1


def two_tiers():
    import pypper
    return not pypper.topology()["simulated"]


def test_auto_backend_says_which_and_why():
    out = check("""
        import pypper
        pypper.start()
        m = pypper.migration_stats()
        pypper.end()
        print(m["backend"], "|", m["reason"])
    """)
    name, reason = out.strip().split(" | ")
    expected = "numa" if two_tiers() else "pageout" if swap_on() else "sim"
    assert name == expected, out
    assert reason.startswith("auto:"), reason


@pytest.mark.skipif("two_tiers()")
def test_numa_backend_on_one_node_is_a_clear_error():
    out = check("""
        import pypper
        try:
            pypper.start(backend="numa")
        except pypper.ConfigError as e:
            print("refused:", e)
        print("running:", pypper.is_running())
    """)
    assert "refused: backend='numa' needs two tiers of memory" in out, out
    assert "running: False" in out


def test_api_misuse():
    import pypper
    with pytest.raises(RuntimeError, match="no pypper session"):
        pypper.migrate_now()
    with pytest.raises(RuntimeError, match="no pypper session"):
        pypper.relocatable_report()
    with pytest.raises(ValueError, match="'fast' or 'slow'"):
        pypper.relocate([1, 2], "medium")
    with pytest.raises(TypeError):
        pypper.relocate([1, 2])
    assert pypper.placement_map() == []
    assert pypper.relocate(12345, "slow") == 0          # owns no buffer
    assert pypper.relocate("text" * 100, "slow") == 0


def test_relocation_keeps_identity_and_contents():
    out = check("""
        import array, pypper
        objs = {
            "list": list(range(1000)),
            "dict": {i: str(i) for i in range(500)},
            "set": set(range(700)),
            "bytearray": bytearray(bytes(range(256)) * 20),
            "array": array.array("d", (i / 3 for i in range(900))),
        }
        del objs["bytearray"][:100]              # ob_start != ob_bytes: must be rebased
        before = {k: (id(v), repr(v)) for k, v in objs.items()}
        for tier in ("slow", "fast", "slow"):
            for k, v in objs.items():
                moved = pypper.relocate(v, tier)
                w = pypper.where(v)["buffer"]
                assert moved > 0 and w["tier"] == tier and w["kind"] == k, (k, tier, moved, w)
                assert pypper.relocate(v, tier) == 0            # already there
                assert (id(v), repr(v)) == before[k], k
        objs["list"].append(1); objs["dict"][-1] = 1; objs["set"].add(-1)
        objs["bytearray"].extend(b"xyz"); objs["array"].append(1.5)
        assert objs["dict"][499] == "499" and 699 in objs["set"]
        assert objs["bytearray"][:2] == bytes([100, 101]) and objs["bytearray"][-3:] == b"xyz"
        print("ok")
    """)
    assert out == "ok\n"


def test_buffers_that_must_not_move():
    out = check("""
        import array, pypper
        # A list being sorted (allocated < 0 while the sort runs).
        l = list(range(200, 0, -1))
        seen = []
        l.sort(key=lambda x: (seen.append(pypper.relocate(l, "slow")), x)[1])
        assert set(seen) == {0} and l == sorted(l), set(seen)
        # Exported buffers.
        b = bytearray(1000)
        with memoryview(b):
            assert pypper.relocate(b, "slow") == 0
        assert pypper.relocate(b, "slow") > 0
        a = array.array("i", range(100))
        with memoryview(a):
            assert pypper.relocate(a, "slow") == 0
        # Dicts that share their keys (an instance's split table).
        class C:
            pass
        objs = [C() for _ in range(3)]
        for o in objs:
            o.x = 1; o.y = 2
        d = objs[0].__dict__
        assert pypper.where(d)["buffer"] is None or not pypper.where(d)["buffer"]["movable"]
        assert pypper.relocate(d, "slow") == 0
        # Small tables inside the object: nothing out of line.
        assert pypper.relocate(set(), "slow") == 0 and pypper.relocate([], "slow") == 0
        print("ok")
    """)
    assert out == "ok\n"


def test_no_fast_budget_limit_means_no_cold_relocation():
    # With FAST_BUDGET=100% and lazy demotion nothing would ever be demoted: cold
    # buffers stay where they are (the work would buy nothing).
    out = check("""
        import gc, pypper
        drive(backend="sim", migrate_interval_ms=100)
        cold = [bytearray(2000) for _ in range(2000)]
        gc.collect()
        settle()
        pypper.migrate_now()
        print([pypper.where(b)["buffer"]["tier"] for b in cold].count("slow"),
              pypper.migration_stats()["relocate"]["done"])
        pypper.end()
    """)
    assert out.split() == ["0", "0"], out


def test_cold_buffers_go_slow_and_hot_ones_stay_fast():
    out = check("""
        import gc, pypper
        drive(backend="sim", migrate_interval_ms=100, sample_hz=1000, fast_budget="50%")
        hot = [bytearray(2000) for _ in range(50)]
        cold = [bytearray(2000) for _ in range(3000)]
        gc.collect()
        settle()
        touch(hot)
        pypper.migrate_now()
        tiers = lambda xs: [pypper.where(x)["buffer"]["tier"] for x in xs]
        cold_slow = tiers(cold).count("slow") / len(cold)
        hot_fast = tiers(hot).count("fast") / len(hot)
        m = pypper.migration_stats()
        rep = pypper.relocatable_report()
        pypper.end()
        print(json.dumps({"cold_slow": cold_slow, "hot_fast": hot_fast,
                          "relocated": m["relocate"]["done"], "movable": rep["movable_buffer_bytes"],
                          "by_kind": rep["by_kind"]}))
    """.replace("import gc", "import json, gc"))
    r = json.loads(out)
    assert r["cold_slow"] >= 0.95, r
    assert r["hot_fast"] >= 0.8, r
    assert r["relocated"] >= 2850, r
    assert r["by_kind"]["bytearray"] >= 3050 * 2000, r


IDLE_ROUNDS = textwrap.dedent("""
    import json, time
    data = [list(range(64)) for _ in range(20000)]
    deadline = time.monotonic() + 60            # rounds are due every 1 ms, spaced by their cost
    while time.monotonic() < deadline:
        _pypper._test_hand_over(1, True)
        m = pypper.migration_stats()
        if m["idle_rounds"] + m["passes"] >= 3:
            break
    pm = pypper.placement_map()
    out = {"idle": m["idle_rounds"], "passes": m["passes"], "pages": len(pm),
           "tiers": sorted({t for _, t in pm}), "walked": m["walked_rounds"]}
    out["now"] = pypper.migrate_now()["pages"]
    out["passes_after"] = pypper.migration_stats()["passes"]
    pypper.end()
    print(json.dumps(out))
""")


def test_rounds_with_nothing_to_place_list_no_pages():
    # An unlimited fast-tier budget with nothing in the slow tier: a background round
    # lists no pages, asks the backend nothing and walks no object (only a PROFILE's
    # site totals need that walk); placement_map() lists and locates the pages itself,
    # and migrate_now() is a whole round.
    r = json.loads(check('drive(backend="sim", migrate_interval_ms=1)\n' + IDLE_ROUNDS))
    assert r["idle"] >= 3 and r["passes"] == 0 and r["walked"] == 0, r
    assert r["pages"] > 2000 and r["tiers"] == ["fast"], r
    assert r["now"] >= r["pages"] - 64 and r["passes_after"] == 1, r


IDLE_PROFILE = textwrap.dedent("""
    import gc, json, time
    settle()                                    # sites are summed once settled
    def make_blobs(n):
        return [bytes(600) for _ in range(n)]   # above 512 bytes: each has its site
    blobs = make_blobs(3000)
    gc.collect()
    deadline = time.monotonic() + 60
    while pypper.migration_stats()["walked_rounds"] < 2 and time.monotonic() < deadline:
        _pypper._test_hand_over(1, True)
    m = pypper.migration_stats()
    del blobs
    gc.collect()
    settled, rows = _pypper.profile_sites()     # what the profile would save now
    made = [r for r in rows if r[3] == "make_blobs"]
    pypper.end()
    print(json.dumps({"idle": m["idle_rounds"], "passes": m["passes"],
                      "walked": m["walked_rounds"], "settled": settled,
                      "objects": made[0][6] if made else 0}))
""")


def test_idle_rounds_walk_the_objects_for_a_profile(tmp_path):
    # With a profile to save, an idle round still walks its slice once the session has
    # settled: the site totals the profile keeps count objects that died before the
    # end (the last pass over the table no longer finds them).
    profile = str(tmp_path / "app.profile")
    r = json.loads(check(f'drive(backend="sim", migrate_interval_ms=1, profile={profile!r})\n'
                         + IDLE_PROFILE))
    assert r["passes"] == 0 and r["walked"] >= 2 and r["walked"] <= r["idle"], r
    assert r["settled"] and r["objects"] >= 3000, r


SPACED_ROUNDS = textwrap.dedent("""
    import json, time
    data = [list(range(64)) for _ in range(20000)]
    def rounds():
        m = pypper.migration_stats()
        return m["idle_rounds"] + m["passes"], m["spaced_rounds"]
    def round_after(n):
        deadline = time.monotonic() + 60
        while rounds()[0] <= n and time.monotonic() < deadline:
            _pypper._test_hand_over(1, True)
        return rounds()
    first, _ = round_after(0)
    cost = pypper.migration_stats()["collect_cpu_ms"]
    _pypper._test_collect_cost(3600e3)          # an hour: the next round waits 20 hours
    time.sleep(0.01)                            # MIGRATE_INTERVAL_MS (1 ms) has passed
    _pypper._test_hand_over(20, True)
    held, spaced = rounds()
    _pypper._test_collect_cost(0)
    after, spaced_after = round_after(held)
    pypper.end()
    print(json.dumps({"first": first, "cost": cost, "held": held, "after": after,
                      "spaced": spaced_after - spaced}))
""")


def test_rounds_are_spaced_by_their_collection_cost():
    # A round's collection runs on the program's thread: the next one waits 20 times
    # its CPU time even when MIGRATE_INTERVAL_MS is shorter, so a slow machine or a
    # large table does not spend the program's time in collections.
    r = json.loads(check('drive(backend="sim", migrate_interval_ms=1)\n' + SPACED_ROUNDS))
    assert r["first"] >= 1 and r["cost"] > 0, r
    assert r["held"] == r["first"], r                   # an hour's cost: no round
    assert r["after"] == r["held"] + 1 and r["spaced"] == 1, r


def test_collect_cost_hook_checks_its_argument():
    out = check("""
        drive(backend="sim")
        for bad in (-1, float("nan"), 1e12, "x"):
            try:
                _pypper._test_collect_cost(bad)
            except (ValueError, TypeError) as e:
                print(type(e).__name__)
        pypper.end()
        try:
            _pypper._test_collect_cost(1)
        except RuntimeError as e:
            print("RuntimeError", "no pypper session" in str(e))
    """)
    assert out.split() == ["ValueError", "ValueError", "ValueError", "TypeError",
                           "RuntimeError", "True"], out


@pytest.mark.parametrize("setup", [
    'drive(backend="sim", migrate_interval_ms=1, fast_budget="50%")',
    'drive(backend="sim", migrate_interval_ms=1)\n'
    'with pypper.placement("slow"):\n    slow = [0] * 1000',
], ids=["budget", "slow-tier-used"])
def test_rounds_with_something_to_place_are_not_idle(setup):
    r = json.loads(check(setup + "\n" + IDLE_ROUNDS))
    assert r["idle"] == 0 and r["pages"] > 2000, r


def test_planner_keeps_the_fast_tier_within_budget_sim():
    out = check("""
        import gc, json, pypper
        drive(backend="sim", fast_budget="25%", migrate_interval_ms=50, aggressiveness=1,
              migrate_mbps=0, promote_mbps=0)
        data = [list(range(64)) for _ in range(20000)]
        gc.collect()
        hot = data[:500]
        settle()
        touch(hot)
        r = pypper.migrate_now()
        r = pypper.migrate_now()
        pm = pypper.placement_map()
        fast = sum(1 for _, t in pm if t == "fast")
        m = pypper.migration_stats()
        pypper.end()
        print(json.dumps({"fast": fast, "pages": len(pm), "budget": r["budget_pages"],
                          "demoted": m["demote"]["done"], "promoted": m["promote"]["done"],
                          "backend": m["backend"]}))
    """)
    r = json.loads(out)
    assert r["backend"] == "sim"
    assert r["pages"] > 0 and abs(r["budget"] - r["pages"] * 0.25) <= 64, r
    assert r["fast"] <= r["budget"] + 64, r
    assert r["demoted"] > 0, r


def test_threshold_policy_sends_large_blocks_slow():
    out = check("""
        import pypper
        pypper.start(backend="sim", migrate_policy="threshold", fast_budget="50%")
        pypper.migrate_now()
        big = bytearray(200000)
        small = [bytearray(100) for _ in range(100)]
        print(pypper.where(big)["buffer"]["tier"], pypper.where(small[-1])["tier"])
        pypper.end()
    """)
    assert out.split() == ["slow", "fast"], out


def test_cold_allocation_site_is_segregated():
    out = check("""
        import gc, json, pypper
        class Rec:
            def __init__(self, i):
                self.i = i
                self.payload = [i] * 4
        def make_cold(n):
            return [Rec(i) for i in range(n)]
        drive(backend="sim", alloc_sample=1, migrate_interval_ms=100, fast_budget="50%")
        archive = make_cold(20000)
        gc.collect()
        settle()
        pypper.migrate_now()
        later = make_cold(5000)
        tiers = [pypper.where(r)["tier"] for r in later]
        m = pypper.migration_stats()
        pypper.end()
        print(json.dumps({"slow": tiers.count("slow") / len(tiers), "segregated": m["segregated"]}))
    """)
    r = json.loads(out)
    assert r["segregated"] > 0 and r["slow"] >= 0.5, r


@pytest.mark.parametrize("backend,every", [("sim", 1), ("pageout", 2)])
def test_injected_failures_are_counted_never_fatal(backend, every):
    out = check(f"""
        import gc, json, pypper
        pypper.start(backend="{backend}", test_fail_every={every}, fast_budget="10%",
                     lazy_demotion=False, aggressiveness=1, migrate_interval_ms=10)
        data = [bytearray(3000) for _ in range(3000)]
        gc.collect()
        for _ in range(40):
            pypper.migrate_now()
        m = pypper.migration_stats()
        s = pypper.stats()
        pypper.end()
        assert sum(len(bytes(b)) for b in data) == 3000 * 3000
        print(json.dumps({{"m": m, "flat": s["injected_failures"]}}))
    """)
    r = json.loads(out)
    m = r["m"]
    assert m["injected"] > 0 and r["flat"] == m["injected"], m
    assert sum(m["errors"].values()) >= m["injected"], m
    for k in ("ENOMEM", "EBUSY", "EACCES"):
        assert m["errors"][k] > 0, m
    assert m["promote"]["failed"] + m["demote"]["failed"] > 0, m


def stress(python, args, env=None, timeout=900):
    r = run([STRESS, *args], python=python, env=env, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


STRESS_ENV = {"PYPPER_MIGRATE_INTERVAL_MS": "1", "PYPPER_SAMPLE_HZ": "1000",
              "PYPPER_AGGRESSIVENESS": "1", "PYPPER_FAST_BUDGET": "50%",
              "PYPPER_MIGRATE_MBPS": "0", "PYPPER_LAZY_DEMOTION": "0"}


def test_stress_checksums_match_a_run_without_pypper():
    ops = os.environ.get("MIGRATION_STRESS_OPS", "2000000")
    ref = stress(STOCK, ["--ops", ops])
    plain = stress(DROPIN, ["--ops", ops])
    moved = stress(DROPIN, ["--ops", ops, "--pypper"], env=STRESS_ENV)
    injected = stress(DROPIN, ["--ops", str(int(ops) // 4), "--pypper"],
                      env=dict(STRESS_ENV, PYPPER_TEST_FAIL_EVERY="3", PYPPER_BACKEND="pageout"))
    ref_small = stress(STOCK, ["--ops", str(int(ops) // 4)])
    assert plain["checksum"] == ref["checksum"]
    assert moved["checksum"] == ref["checksum"], moved
    assert moved["relocations"] > int(ops) // 20 and moved["passes"] > 50, moved
    assert injected["checksum"] == ref_small["checksum"], injected
    assert injected["injected"] > 0, injected


def test_pages_of_numbers_with_heat_are_known_to_the_planner():
    # Floats held by a list have no entry; the list's evidence reaches their pages
    # (page heat), and the planner then knows those pages' heat instead of leaving
    # them unknown. The unused list's float pages stay unknown: no evidence, no move.
    out = check(DRIVEN + """
import random
rng = random.Random(2)
hot = [rng.random() for _ in range(40000)]
cold = [rng.random() for _ in range(40000)]
drive()
settle()
before = pypper.migrate_now()["unknown_pages"]
calls = [0]
def key(x):
    # 20 samples a scan, taken while max() works on the list (on the value stack)
    calls[0] += 1
    if calls[0] % 2000 == 0:
        _pypper._test_sample()
    return x
def scan(col):
    return max(col, key=key)
for _ in range(40):
    scan(hot)
    _pypper._test_hand_over()
after = pypper.migrate_now()["unknown_pages"]
# 40,000 floats of 32 bytes: about 312 pages.
assert before - after >= 250, (before, after)
assert after >= 250, after       # the cold list's float pages
pypper.end()
print("ok")
""")
    assert out == "ok\n"


def test_demoted_pages_promoted_again_are_mistakes_that_slow_demotion():
    # Round 1 demotes untouched pages; then objects on demoted pages become hot and
    # the next rounds bring their pages back: mistakes (Pypper/mistakes.h). Pages that
    # were slow from their allocation (the budget was full) are not mistakes. How the
    # rate sets the pace is tests/c/test_mistakes.c.
    out = check("""
        import gc, json, pypper
        drive(backend="sim", fast_budget="25%", migrate_interval_ms=50, aggressiveness=1,
              migrate_mbps=0, promote_mbps=0)
        data = [list(range(64)) for _ in range(20000)]
        gc.collect()
        settle()
        touch(data[:500])
        r1 = pypper.migrate_now()
        rounds = [r1]
        for k in range(4):
            part = data[10000 + 500 * k: 10500 + 500 * k]
            touch(part, rounds=20)
            rounds.append(pypper.migrate_now())
        s = pypper.stats()
        pypper.end()
        print(json.dumps({"r1_demoted": r1["demoted_pages"], "r1_mistakes": r1["mistakes"],
                          "mistakes": [r["mistakes"] for r in rounds[1:]],
                          "promoted": [r["promoted_pages"] for r in rounds[1:]],
                          "rate": rounds[-1]["mistake_rate"], "scale": rounds[-1]["demote_scale"],
                          "total": s["mistakes"]}))
    """)
    r = json.loads(out)
    assert r["r1_demoted"] > 0 and r["r1_mistakes"] == 0, r
    assert sum(r["mistakes"]) > 0 and r["total"] == sum(r["mistakes"]), r
    assert all(m <= p for m, p in zip(r["mistakes"], r["promoted"])), r
    assert 0 < r["rate"] <= 1.0 and 0 < r["scale"] <= 1.0, r


FIRST_ROUNDS = textwrap.dedent("""
    import gc, json, time
    data = [bytearray(3000) for _ in range(4000)]
    gc.collect()
    settle()
    deadline = time.monotonic() + 60
    while pypper.migration_stats()["passes"] == 0 and time.monotonic() < deadline:
        _pypper._test_hand_over(1, True)
    bg = pypper.migration_stats()["last"]
    now = pypper.migrate_now()
    pypper.end()
    print(json.dumps({"bg": bg, "now": now}))
""")


@pytest.mark.parametrize("backend", ["pageout", "sim"])
def test_far_memory_demotions_start_slow_and_migrate_now_is_not_paced(backend):
    # Under a far-memory backend a demotion that does not stick is a major fault: the
    # first background rounds act on 1/16 of the demotion candidates and earn their
    # pace (Pypper/mistakes.h); the sim backend starts at full pace. A round the
    # program asks for acts on every candidate.
    r = json.loads(check(f'drive(backend="{backend}", fast_budget="25%", migrate_interval_ms=1, '
                         'aggressiveness=1, migrate_mbps=0, promote_mbps=0, relocate=False)\n' + FIRST_ROUNDS))
    bg, now = r["bg"], r["now"]
    # Asked of the backend: moved or refused (without swap, pageout leaves them).
    tried = bg["demoted_pages"] + bg["failed"]
    candidates = tried + bg["held_by_cap"]
    assert candidates > 1000 and bg["promoted_pages"] == 0, r
    assert now["held_by_cap"] == 0, r
    if backend == "pageout":
        assert candidates / 16 - 1 <= tried <= candidates / 16 + 1, r
        assert now["demoted_pages"] + now["failed"] > candidates / 2, r
    else:
        assert tried == candidates, r


@pytest.mark.parametrize("backend", ["pageout", "sim"])
def test_reads_are_checked_only_while_pages_are_placed_slow(backend):
    # The sources ask whether a block may be read (not in far memory) only while the
    # migration plane has pages on the slow tier of a far-memory backend: before the
    # first, asking for every referent the live trace visits was 5% of a record-
    # building loop's instructions. The sim backend's slow tier is not far memory.
    r = json.loads(check(f'''
        import gc, json
        drive(backend="{backend}", fast_budget="25%", migrate_interval_ms=1, aggressiveness=1,
              migrate_mbps=0, promote_mbps=0, relocate=False)
        before = pypper.pressure()["swap_map"]["reads_checked_slow"]
        data = [bytearray(3000) for _ in range(4000)]
        gc.collect()
        settle()
        pypper.migrate_now()
        during = pypper.pressure()["swap_map"]["reads_checked_slow"]
        slow = pypper.migration_stats()["slow_pages"]
        pypper.end()
        after = pypper.pressure()["swap_map"]["reads_checked_slow"]
        print(json.dumps([before, during, slow, after]))
    '''))
    before, during, slow, after = r
    assert slow > 0 and before is False and after is False, r
    assert during == (backend == "pageout"), r
