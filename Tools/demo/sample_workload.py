"""The bundled sample workload of `make demo`: a key-value cache read under a skewed
(Zipf-like) key distribution, with a cold archive alongside, run under Pypper.

It prints what Pypper was configured to do, where the heap put the hot cache and the
cold archive (the archive is allocated under `pypper.placement("slow")`), and the
session's counters. Run it under the drop-in with PYPPER_ENABLE=1 (make demo does), or
it starts a session itself.
"""

import bisect
import random
import sys
import time

import pypper

N_KEYS = 50_000
N_COLD = 100_000
N_LOOKUPS = 400_000
ZIPF_S = 1.1


def zipf_cdf(n, s):
    weights = [1.0 / (rank ** s) for rank in range(1, n + 1)]
    total = sum(weights)
    acc, cdf = 0.0, []
    for w in weights:
        acc += w
        cdf.append(acc / total)
    return cdf


def build(rng):
    cache = {f"user:{i}": {"id": i, "name": f"name-{i}", "score": rng.random(), "tags": [i % 7, i % 11]}
             for i in range(N_KEYS)}
    # The archive is known to be cold: allocate it in the slow tier from the start.
    with pypper.placement("slow"):
        archive = [(i, f"old-record-{i}", bytes(32)) for i in range(N_COLD)]
    return cache, archive


def run(rng, cache, cdf):
    keys = list(cache)
    hits = [0] * len(keys)
    total = 0.0
    for _ in range(N_LOOKUPS):
        rank = bisect.bisect_left(cdf, rng.random())
        rank = min(rank, len(keys) - 1)
        entry = cache[keys[rank]]
        total += entry["score"]
        hits[rank] += 1
    return total, hits


def main():
    started_here = pypper.start() if not pypper.is_running() else False
    rng = random.Random(1234)
    t0 = time.perf_counter()
    cache, archive = build(rng)
    cdf = zipf_cdf(N_KEYS, ZIPF_S)
    t1 = time.perf_counter()
    total, hits = run(rng, cache, cdf)
    t2 = time.perf_counter()

    top = sum(sorted(hits, reverse=True)[: N_KEYS // 100])
    cfg = pypper.config()
    print(f"sample workload: {N_KEYS} cached records, {len(archive)} archived, "
          f"{N_LOOKUPS} Zipf(s={ZIPF_S}) lookups")
    print(f"  build {t1 - t0:.2f} s, lookups {t2 - t1:.2f} s; the hottest 1% of keys took "
          f"{100.0 * top / N_LOOKUPS:.1f}% of lookups (checksum {total:.3f})")
    print(f"pypper {pypper.__version__} ({pypper.MODE}): session "
          f"{'running' if pypper.is_running() else 'not running'}, backend={cfg['backend']}, "
          f"fast_budget={cfg['fast_budget']}, sample_hz={cfg['sample_hz']}")
    topo = pypper.topology()
    heap = pypper.heap_stats()
    print(f"tiers: fast nodes {topo['fast_nodes']}, slow nodes {topo['slow_nodes']} "
          f"({topo['source']}{', simulated: one tier of memory on this machine' if topo['simulated'] else ''})")
    for tier in ("fast", "slow"):
        t = heap["tiers"][tier]
        print(f"  {tier}: {t['arenas']} arenas, {t['bytes_in_use'] / 2**20:.1f} MiB in "
              f"{t['blocks_in_use']} blocks")
    # Strings: no CPython free list hands them back from earlier allocations.
    hot = pypper.where(cache["user:0"]["name"])
    cold = pypper.where(archive[0][1])
    print(f"  a cached record's name lives in the {hot['tier']} tier (page {hot['page']:#x}), "
          f"an archived one's in the {cold['tier']} tier (page {cold['page']:#x})")
    print("  object temperatures and page migration are not part of this build yet")
    if not cfg["stats"]:        # with PYPPER_STATS=1 the summary comes at exit
        for key, value in pypper.stats().items():
            print(f"  {key:<24} {value}")
    if started_here:
        pypper.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
