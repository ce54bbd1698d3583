"""The heap under load from Python: random operations on lists, dicts, sets,
bytearrays, arrays and strings, with placement scopes and tracing sessions switching
under them, give the same checksum as the stock interpreter; concurrent interpreters
with their own GIL switch the heap to locking; address-space limits fall back, counted."""

import resource
import subprocess
import textwrap

import pytest

from conftest import BUILDINFO, DROPIN, STOCK, clean_env, run

# ASan reserves terabytes of shadow memory at start: it cannot run under RLIMIT_AS.
needs_no_asan = pytest.mark.skipif(BUILDINFO["sanitizers"],
                                   reason="AddressSanitizer cannot start under an RLIMIT_AS")

STRESS = textwrap.dedent("""
    import array, hashlib, random, sys
    try:
        import pypper
    except ImportError:
        pypper = None
    import contextlib
    rng = random.Random(20261124)
    N = int(sys.argv[1])
    slots = [None] * 400
    def make(kind, n):
        if kind == 0: return [rng.random() for _ in range(n)]
        if kind == 1: return {str(i): i * 3 for i in range(n)}
        if kind == 2: return set(range(n, 2 * n))
        if kind == 3: return bytearray(rng.randbytes(n * 16))
        if kind == 4: return array.array("q", range(n))
        return "".join(chr(65 + (i % 26)) for i in range(n * 4))
    def mutate(obj):
        if isinstance(obj, list): obj.extend(obj[: rng.randrange(1, 50)]); obj.sort()
        elif isinstance(obj, dict):
            for i in range(rng.randrange(1, 60)): obj[str(rng.randrange(5000))] = i
            for k in list(obj)[: rng.randrange(0, 20)]: del obj[k]
        elif isinstance(obj, set): obj ^= set(range(rng.randrange(100), rng.randrange(100, 600)))
        elif isinstance(obj, bytearray): obj[rng.randrange(len(obj) + 1):] = bytes(rng.randrange(3000))
        elif isinstance(obj, array.array): obj.extend(range(rng.randrange(1, 3000))); del obj[: rng.randrange(len(obj))]
        return obj
    def digest(obj):
        if isinstance(obj, (dict, set)): obj = sorted(obj.items()) if isinstance(obj, dict) else sorted(obj)
        return repr(obj).encode()
    h = hashlib.sha256()
    for op in range(N):
        scope = contextlib.nullcontext()
        tier = ("fast", "slow")[rng.randrange(2)]      # drawn in both interpreters
        if pypper is not None:
            if op % 500 == 0:
                pypper.end() if pypper.is_running() else pypper.start()
            scope = pypper.placement(tier)
        with scope:
            i = rng.randrange(len(slots))
            r = rng.random()
            if slots[i] is None or r < 0.25:
                kind = rng.randrange(6)
                n = rng.choice([1, 7, 30, 200, 1500, 40000]) if rng.random() < 0.05 else rng.randrange(1, 300)
                slots[i] = make(kind, n)
            elif r < 0.6 and not isinstance(slots[i], str):
                slots[i] = mutate(slots[i])
            elif r < 0.75:
                slots[i] = None
            h.update(digest(slots[i])[:2000])
    for s in slots:
        h.update(digest(s))
    print(h.hexdigest())
""")


def test_random_containers_match_stock(tmp_path):
    script = tmp_path / "stress.py"
    script.write_text(STRESS)
    ours = run([str(script), "6000"])
    stock = run([str(script), "6000"], python=STOCK)
    assert ours.returncode == 0, ours.stderr
    assert stock.returncode == 0, stock.stderr
    assert ours.stdout == stock.stdout and len(ours.stdout) == 65


def test_own_gil_interpreters_switch_heap_to_locking():
    code = textwrap.dedent("""
        import threading, pypper
        import _xxsubinterpreters as si
        assert not pypper.heap_stats()["locking"]
        work = "acc = 0\\nfor i in range(300):\\n    d = {j: [str(j)] * 3 for j in range(200)}\\n    acc += len(d)\\n"
        ids = [si.create(isolated=True) for _ in range(2)]
        assert pypper.heap_stats()["locking"]
        ts = [threading.Thread(target=si.run_string, args=(i, work)) for i in ids]
        for t in ts: t.start()
        for i in range(300):
            d = {j: [str(j)] * 3 for j in range(200)}
        for t in ts: t.join()
        for i in ids: si.destroy(i)
        print("ok", pypper.heap_stats()["invalid_frees"])
    """)
    r = run(["-c", code])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok 0\n"


def limit_address_space(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


@needs_no_asan
def test_small_address_space_is_left_to_cpythons_allocator():
    # 3 GiB of address space: the heap's reservation would count against it (it took 1
    # GiB per tier, and spilled into CPython's allocator when full). It is not installed:
    # the program gets the address space as under stock python3.12, 2 GiB of bytearrays
    # included. (The heap under RLIMIT_AS is tested in C, tests/c/test_retain.c.)
    code = textwrap.dedent("""
        import pypper
        print(pypper.heap_stats()["allocator"])
        keep = [bytearray(8 << 20) for _ in range(256)]
        del keep
        print("alive")
    """)
    r = subprocess.run([DROPIN, "-c", code], env=clean_env(), capture_output=True, text=True,
                       preexec_fn=limit_address_space(3 << 30), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["none", "alive", ""]
    assert r.stderr == ""                   # (the reason is an info line: PYPPER_LOG=info)


@needs_no_asan
def test_a_limit_the_program_sets_itself_does_not_crash_growing_blocks():
    # The limit comes after the heap's reservation (about 130 GiB of address space, over
    # it at once): a list growing past a huge block moved its pages with mremap, which
    # the limit refused after unmapping the destination, and the copy that followed died
    # of SIGSEGV (every run, until 2026-12-06). Under a limit blocks are copied.
    code = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, resource.RLIM_INFINITY))
        items = [str(i) for i in range(2000000)]
        print(len(items), items[-1])
    """)
    r = subprocess.run([DROPIN, "-c", code], env=clean_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2000000 1999999\n"


@needs_no_asan
def test_no_address_space_keeps_cpython_allocator_quietly():
    r = subprocess.run([DROPIN, "-c", "import pypper; print(pypper.heap_stats()['allocator'])"],
                       env=clean_env(), capture_output=True, text=True,
                       preexec_fn=limit_address_space(1 << 30), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "none\n"
    assert r.stderr == "", r.stderr
