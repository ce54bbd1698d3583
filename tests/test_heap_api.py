"""The tiered heap seen from Python: every object of the drop-in lives in it,
placement scopes put objects in the chosen tier, where() and heap_stats() report real
placement, topology() tells what the machine has."""

import array
import sys
import threading

import pytest

import pypper
from conftest import BUILDINFO, DROPIN, clean_env, run


def test_objects_live_in_the_heap():
    for obj in ([1, 2, 3], {"a": 1}, object(), "x" * 100, b"y" * 5000, bytearray(100000),
                list(range(200000))):
        w = pypper.where(obj)
        assert w["kind"] in ("small", "medium", "large", "huge"), (type(obj), w)
        assert w["allocated"] and w["block"] <= id(obj) < w["block"] + w["size"]
        assert w["page"] == id(obj) & ~4095
    assert pypper.where(None)["kind"] == "foreign"      # a static object of libpython
    assert pypper.where(int)["tier"] is None


def test_where_reports_sizes_and_kinds():
    small, medium, large, huge = bytes(100), bytes(5000), bytes(50000), bytes(5 << 20)
    long_run = bytes(3 << 20)
    assert pypper.where(small)["kind"] == "small"
    w = pypper.where(medium)
    # Medium blocks are runs of 32-byte units (Objects/medium.c).
    assert w["kind"] == "medium" and w["block"] == id(medium) and w["block"] % 32 == 0
    assert w["size"] % 32 == 0 and 5000 < w["size"] < 5000 + 33 + 32 and w["allocated"]
    w = pypper.where(large)
    # A page run's block starts 64*k bytes into its page (k within the run's slack:
    # Objects/large.c) and ends with the run.
    assert w["kind"] == "large" and w["block"] == id(large) and w["block"] % 64 == 0
    assert (w["block"] + w["size"]) % 4096 == 0 and w["size"] >= 50000 and w["allocated"]
    # Up to 4 MiB, a block that realloc does not grow is a page run too, across the
    # edges of adjacent large arenas (Objects/large.c); above, a span of whole arenas.
    w = pypper.where(long_run)
    assert w["kind"] == "large" and w["block"] == id(long_run) and w["size"] >= 3 << 20
    w = pypper.where(huge)
    assert w["kind"] == "huge" and w["size"] >= 5 << 20


def test_node_is_read_back_from_the_kernel():
    obj = [0] * 10
    w = pypper.where(obj)
    nodes = [n["node"] for n in pypper.topology()["nodes"]]
    assert w["node"] in nodes


def test_placement_scope_selects_tier():
    with pypper.placement("slow"):
        cold = [object() for _ in range(100)]
        cold_big = bytearray(200000)
    hot = [object() for _ in range(100)]
    assert all(pypper.where(o)["tier"] == "slow" for o in cold)
    assert pypper.where(cold_big)["tier"] == "slow"
    assert all(pypper.where(o)["tier"] == "fast" for o in hot)
    with pypper.placement("slow"):
        with pypper.placement("fast"):
            inner = object()
        outer = object()
    assert pypper.where(inner)["tier"] == "fast" and pypper.where(outer)["tier"] == "slow"


def test_placement_is_per_thread():
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def other():
        entered.wait()
        seen["other"] = pypper.where(object())["tier"]
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with pypper.placement("slow"):
        entered.set()
        release.wait()
        seen["mine"] = pypper.where(object())["tier"]
    t.join()
    assert seen == {"other": "fast", "mine": "slow"}


def test_placement_rejects_bad_tier():
    with pytest.raises(ValueError, match="'fast', 'slow' or None"):
        with pypper.placement("cxl"):
            pass
    assert pypper.where(object())["tier"] == "fast"


def test_heap_stats_counts_what_we_allocate():
    before = pypper.heap_stats()
    keep = [bytearray(300) for _ in range(10000)]
    after = pypper.heap_stats()
    grown = after["tiers"]["fast"]["blocks_in_use"] - before["tiers"]["fast"]["blocks_in_use"]
    assert grown >= 10000
    assert after["allocator"] == "replace"
    assert after["tiers"]["fast"]["arenas"] >= 1 and after["tiers"]["fast"]["pages"] > 0
    assert after["invalid_frees"] == 0 and after["fallback_allocs"] == 0
    row = next(c for c in after["classes"] if c["size"] == 304)   # bytearray(300): 301 bytes
    assert row["fast"]["blocks"] >= 10000
    del keep


def test_a_shrinking_block_of_pages_gives_its_tail_back():
    # tuple(genexpr) grows its tuple by a quarter at a time and shrinks it to its size
    # at the end: a block of pages (large or huge) gives the tail back in place, so the
    # block is no bigger than its pages (a newcomer's 34 tuples of 80,000 floats were
    # 17% above sys.getsizeof when the whole block was kept).
    for n in (20000, 80000):
        t = tuple(float(i) for i in range(n))
        w = pypper.where(t)
        assert w["kind"] in ("large", "huge") and w["block"] <= id(t), w
        end = id(t) + sys.getsizeof(t)
        assert w["block"] + w["size"] - end < 4096 + 64, (n, w, sys.getsizeof(t))
        if w["kind"] == "huge":
            # The pages after it in its arena, zeroed as it grew, are not resident.
            after = (w["block"] + w["size"] + 4095) & ~4095
            assert not any(resident(after + i * 4096) for i in range(16)), (n, w)


def resident(address):
    """Whether the page at address is resident (/proc/self/pagemap, bit 63)."""
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(address // 4096 * 8)
        return bool(int.from_bytes(f.read(8), "little") >> 63)


def test_heap_stats_counts_medium_blocks():
    before = pypper.heap_stats()["tiers"]["fast"]
    keep = [bytearray(3000 + i) for i in range(1000)]
    after = pypper.heap_stats()["tiers"]["fast"]
    assert after["medium_blocks"] - before["medium_blocks"] >= 1000
    assert after["medium_arenas"] >= 3           # 3 MiB of 3 KiB blocks
    del keep


def test_slow_tier_counts():
    with pypper.placement("slow"):
        keep = [str(i) * 3 for i in range(5000)]
    stats = pypper.heap_stats()
    assert stats["tiers"]["slow"]["blocks_in_use"] >= 5000
    del keep


def test_topology_on_this_machine():
    t = pypper.topology()
    assert t["nodes"] and t["fast_nodes"] and t["slow_nodes"]
    if len(t["nodes"]) == 1:
        assert t["simulated"] and t["source"] == "single-node" and not t["bound"]
        assert pypper.heap_stats()["simulated"] is True


def test_arenas_kept_while_tracing_and_returned_after():
    # In a fresh process: the retention bound is learnt from the process's history
    # (Objects/retain.c), and earlier tests in this one can have grown it to 64 MiB,
    # which holds these 28 MiB after the session too. Pool arenas: the list's item
    # array is a span, trimmed under the bound while tracing too.
    code = """
import pypper
def arenas():
    s = pypper.heap_stats()["tiers"]
    return s["fast"]["pool_arenas"] + s["slow"]["pool_arenas"]
with pypper.tracing():
    base = arenas()
    junk = [bytearray(64) for _ in range(200000)]
    grown = arenas()
    del junk
    assert arenas() >= grown > base, (base, grown, arenas())    # retained while tracing
assert arenas() < grown, (grown, arenas())                      # returned when it ended
print("ok")
"""
    r = run(["-c", code])
    assert r.returncode == 0 and r.stdout == "ok\n", r.stdout + r.stderr


def test_fast_budget_sends_new_arenas_to_slow_tier():
    code = ("import pypper; keep = [bytearray(2000) for _ in range(20000)]; "
            "s = pypper.heap_stats(); print(s['default_tier'], s['tiers']['slow']['arenas'] > 0)")
    r = run(["-c", code], env={"PYPPER_FAST_BUDGET": "4M"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "slow True\n"
    r = run(["-c", code])
    assert r.stdout == "fast False\n"


def test_debug_hooks_and_malloc_env():
    code = "import pypper; print(pypper.heap_stats()['allocator'], pypper.where([])['kind'])"
    r = run(["-X", "dev", "-c", code])
    assert r.returncode == 0 and r.stdout == "replace small\n", r.stderr
    for name in ("malloc", "pymalloc", "pymalloc_debug", "malloc_debug"):
        r = run(["-c", code], env={"PYTHONMALLOC": name})
        assert r.stdout == "none foreign\n", name
    r = run(["-c", code], env={"PYTHONMALLOC": "debug"})
    assert r.stdout == "replace small\n"


def test_heap_in_stock_python_wraps(stock):
    # Instances of a fresh class: no free list can hand back an object from before.
    code = ("class C: pass\nearly = C(); import pypper; late = C(); "
            "print(pypper.heap_stats()['allocator'], pypper.where(early)['kind'], "
            "pypper.where(late)['kind']); del early; del late; print('ok')")
    r = stock("-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "wrap foreign small\nok\n"


def test_array_and_containers_survive_churn():
    a = array.array("d", range(100000))
    d = {i: str(i) for i in range(50000)}
    s = set(range(30000))
    for i in range(5):
        a.extend(range(1000))
        for k in range(0, 50000, 7):
            d[k] = d[k] + "x"
        s ^= set(range(i, 30000, 3))
    assert sum(a[:100000]) == sum(range(100000))
    assert d[7].endswith("x" * 5) and d[1] == "1"


def test_sys_allocator_introspection_reports_the_heap():
    import sys
    before = sys.getallocatedblocks()
    keep = [object() for _ in range(20000)]
    assert sys.getallocatedblocks() >= before + 20000
    del keep
    r = run(["-c", "import sys; sys._debugmallocstats()"])
    assert r.returncode == 0
    assert "free PyDictObjects" in r.stderr             # CPython's free lists, as before
    assert "Pypper tiered heap (replace" in r.stderr
    assert "Small block threshold = 512, in 32 size classes" in r.stderr
    assert "fast tier:" in r.stderr and "slow tier:" in r.stderr


def test_sys_allocator_introspection_in_stock_python(stock):
    code = ("import sys; a = sys.getallocatedblocks(); import pypper; b = sys.getallocatedblocks(); "
            "keep = [object() for _ in range(5000)]; print(b >= a, sys.getallocatedblocks() >= b + 5000)")
    r = stock("-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True True\n"


def test_large_calloc_of_reused_memory_is_not_written():
    # bytes(n) is a calloc: from 32 MiB up, memory the heap reuses is zeroed by giving
    # its pages back (zero pages, resident only where touched), as glibc's fresh
    # mappings are. Writing it made bytes(1 << 30) three times 1 GiB resident.
    code = """
import pypper
for _ in range(3):
    b = bytes(1 << 30); del b
    b = bytes(200 << 20); del b
hwm = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
print(hwm < 100 * 1024, pypper.heap_stats()["retention"]["calloc_discards"] > 0, hwm)
"""
    r = run(["-c", code])
    assert r.returncode == 0 and r.stdout.startswith("True True "), r.stdout + r.stderr


def test_freed_large_buffers_go_back_while_tracing():
    # A session keeps emptied arenas, not freed huge blocks: those are trimmed under the
    # retention bound (64 MiB at most) as without a session. (Since 2026-12-07 the bound
    # learns these buffers, each purge refaulted by the next, larger one: 48 MiB stay
    # idle. A sanitizer build's shadow of the buffers adds about 60 MB to its RSS.)
    code = """
import pypper
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
with pypper.tracing():
    before = rss()
    for r in range(6):
        a = bytearray(b"z" * ((100 + 10 * r) << 20))
        del a
    kept = pypper.heap_stats()["retention"]
    print(rss() - before, kept["idle_bytes"] >> 20, kept["bound"] >> 20)
"""
    r = run(["-c", code])
    assert r.returncode == 0, r.stdout + r.stderr
    grown, idle, bound = map(int, r.stdout.split())
    assert idle <= bound <= 64, r.stdout
    if not BUILDINFO["sanitizers"]:
        assert grown < 100, r.stdout                  # (before: 312)


def test_zero_buffers_on_fresh_pages_are_not_written():
    # bytes(n) is a calloc: on fresh pages (page runs of 32-512 KiB included) nothing is
    # written and nothing faults in until the program touches it, as with glibc's fresh
    # mmap'd chunks. 200 of 256 KiB kept took 50 MB more resident when page runs were
    # written with zeros (stock: about none). The content reads as zero either way.
    code = """
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
before = rss()
bufs = [bytes(256 << 10) for _ in range(200)]
grown = rss() - before
print(grown, sum(b.count(0) for b in bufs[::20]) == 10 * (256 << 10))
"""
    r = run(["-c", code])
    assert r.returncode == 0, r.stdout + r.stderr
    grown, zeros = r.stdout.split()
    assert zeros == "True", r.stdout
    assert int(grown) < 16, r.stdout                  # (before: 50)


@pytest.mark.skipif(BUILDINFO["sanitizers"], reason="AddressSanitizer reserves its shadow: "
                    "no process starts under a few GB of RLIMIT_AS")
def test_a_limited_address_space_leaves_cpythons_allocator():
    # Under RLIMIT_AS the heap's reservation (PROT_NONE, but counted) would take address
    # space stock leaves to the program: the heap is off, and a bytearray that stock
    # serves under the limit is served (a bytearray of that size raised MemoryError
    # before).
    import resource
    import subprocess
    code = ("import pypper; b = bytes(2500 << 20); "      # (a calloc: not written)
            "print(pypper.heap_stats()['allocator'], len(b) >> 20)")
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (6_000_000 << 10, resource.RLIM_INFINITY))
    r = subprocess.run([DROPIN, "-c", code], preexec_fn=limit, capture_output=True, text=True,
                       env=clean_env({"PYPPER_LOG": "info"}), timeout=120)
    assert r.returncode == 0 and r.stdout == "none 2500\n", r.stdout + r.stderr
    assert "the address space is limited (RLIMIT_AS" in r.stderr, r.stderr
    r = run(["-c", code])
    assert r.returncode == 0 and r.stdout == "replace 2500\n", r.stdout + r.stderr
