"""The bundled sample workload of `make demo`: a skewed key-value cache under Pypper.

A cache of 40,000 records, each a small dict whose payload is a 1 KiB bytearray, is
read and updated under a Zipf(1.1) key distribution (the hottest 1% of keys take most
of the requests), while a request log is appended to and never read again. Pypper,
with a fast tier of FAST_BUDGET (make demo: 25% of the heap), is expected to find the
hot records, keep their payloads in fast memory and send the rest, and the log (a
cold allocation site), to slow memory, on whatever backend this machine offers:
numa (two tiers of memory), pageout (swap is on: far memory) or sim (one tier: the
placement is only recorded). It prints what moved and why.

Run it under the drop-in with PYPPER_ENABLE=1 (make demo does: it also writes a heat
trace and turns it into a heatmap PNG), or it starts a session itself.
"""

import bisect
import random
import sys
import time

import pypper

N_KEYS = 40_000
PAYLOAD = 1024
SECONDS = 6.0
ZIPF_S = 1.1


def zipf_cdf(n, s):
    weights = [1.0 / (rank ** s) for rank in range(1, n + 1)]
    total = sum(weights)
    acc, cdf = 0.0, []
    for w in weights:
        acc += w
        cdf.append(acc / total)
    return cdf


def make_record(i, rng):
    return {"id": i, "hits": 0, "payload": bytearray(rng.randbytes(PAYLOAD))}


def log_request(log, key, t):
    # The request log: written once, never read. Its allocation site turns cold.
    log.append([key, t, f"GET /user/{key}"])


def serve(rng, cache, cdf, log, seconds):
    """Zipf requests for `seconds`: read and update the record, log the request."""
    n = len(cache)
    requests = 0
    checksum = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(1000):
            key = min(bisect.bisect_left(cdf, rng.random()), n - 1)
            rec = cache[key]
            rec["hits"] += 1
            payload = rec["payload"]
            payload[rec["hits"] % PAYLOAD] ^= 1
            checksum += payload[0]
            log_request(log, key, requests)
            requests += 1
    return requests, checksum


def mib(n):
    return f"{n / 2**20:.1f} MiB"


def main():
    started_here = pypper.start() if not pypper.is_running() else False
    rng = random.Random(1234)
    cache = [make_record(i, rng) for i in range(N_KEYS)]
    cdf = zipf_cdf(N_KEYS, ZIPF_S)
    log = []
    requests, checksum = serve(rng, cache, cdf, log, SECONDS)
    pypper.migrate_now()            # one more round, so the figures below are current

    cfg = pypper.config()
    m = pypper.migration_stats()
    topo = pypper.topology()
    rep = pypper.relocatable_report()
    hot_keys = range(0, 20)
    cold_keys = range(N_KEYS // 2, N_KEYS // 2 + 2000)   # read well under once each

    placed = dict(pypper.placement_map())

    def payload_tiers(keys):
        # Where the planner left the page holding each payload's data.
        pages = [pypper.where(cache[k]["payload"])["buffer"]["address"] & ~4095 for k in keys]
        return sum(placed.get(p) == "fast" for p in pages), len(pages)

    print(f"sample workload: {N_KEYS} records with {PAYLOAD}-byte payloads, {requests} "
          f"Zipf(s={ZIPF_S}) requests in {SECONDS:.0f} s, {len(log)} log entries "
          f"(checksum {checksum})")
    print(f"pypper {pypper.__version__} ({pypper.MODE}), fast_budget={cfg['fast_budget']}, "
          f"policy={cfg['migrate_policy']}")
    print(f"tiers: fast nodes {topo['fast_nodes']}, slow nodes {topo['slow_nodes']} "
          f"({topo['source']}{'; one tier of memory: tiers are logical' if topo['simulated'] else ''})")
    print(f"backend: {m['backend']}: {m['reason']}")
    if m["backend"] == "sim":
        print("  (sim: nothing below moved for real; these are the moves Pypper would make)")
    print("what moved and why:")
    print(f"  {m['passes']} planning rounds (every {cfg['migrate_interval_ms']} ms)")
    r = m["relocate"]
    print(f"  {r['done']} owned buffers relocated ({mib(r['bytes'])}): cold objects' payloads, "
          f"item arrays and tables to slow-tier arenas, hot ones to fast-tier arenas")
    f_hot, n_hot = payload_tiers(hot_keys)
    f_cold, n_cold = payload_tiers(cold_keys)
    print(f"    payloads of the {n_hot} hottest keys in fast memory: {f_hot}; "
          f"of {n_cold} keys that were hardly ever read: {f_cold}")
    print(f"  {m['demote']['done']} pages demoted, {m['promote']['done']} promoted "
          f"(tried {m['demote']['tried']} / {m['promote']['tried']}): the fast tier holds "
          f"{m['fast_pages']} of {m['fast_pages'] + m['slow_pages']} heap pages, budget "
          f"{m['budget_pages']}")
    print(f"  {m['segregated']} new objects sent straight to the slow tier by cold allocation sites:")
    for site in m["cold_sites"][:5]:
        print(f"    {site}")
    errs = sum(m["errors"].values())
    print(f"  failures: {errs} backend errors {m['errors']}, {m['fallbacks']} fallbacks")
    print(f"relocatable: {mib(rep['movable_buffer_bytes'])} of {mib(rep['heap_bytes'])} heap "
          f"in buffers that may move; object bodies {mib(rep['object_bytes'])} never move")
    if started_here:
        pypper.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
