"""The bundled sample workload of `make demo`: a skewed key-value cache under Pypper.

A cache of 40,000 records, each a small dict whose payload is a 1 KiB bytearray, is
read and updated under a Zipf(1.1) key distribution (the hottest 1% of keys take most
of the requests), while a request log is appended to and never read again. Pypper,
with a fast tier of FAST_BUDGET (make demo: 25% of the heap), is expected to find the
hot records, keep their payloads in fast memory and send the rest, and the log (a
cold allocation site), to slow memory, on whatever backend this machine offers:
numa (two tiers of memory), pageout (swap is on: far memory) or sim (one tier: the
placement is only recorded). `make demo` runs it as any program is run,
`python3 -m pypper run` (the summary at exit, what moved and why, and a capture) and
writes the HTML report; the workload itself adds whether the placement helped,
measured: the same requests timed (and their major faults counted) with Pypper's
placement and with the hottest payloads moved to the slow tier, in the same run.
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


def measure(rng, cache, cdf, hot_keys, requests):
    """Time and major page faults of `requests` Zipf requests (no log)."""
    import resource
    n = len(cache)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
    t = time.perf_counter()
    for _ in range(requests):
        rec = cache[min(bisect.bisect_left(cdf, rng.random()), n - 1)]
        payload = rec["payload"]
        payload[(rec["hits"] + 1) % PAYLOAD] ^= 1
    return (time.perf_counter() - t,
            resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults)


def did_it_help(rng, cache, cdf):
    """A/B in the same run: the same requests with Pypper's placement, then with the
    hottest records' payloads moved to the slow tier (where a placement that ignores
    temperature may leave them), then moved back."""
    m = pypper.migration_stats()
    if m["backend"] == "sim":
        print("did it help? not measurable here: the sim backend moves nothing (one tier "
              "of memory and no swap); on two tiers (numa) or with swap (pageout) this "
              "line compares the same requests with and without Pypper's placement")
        return
    hot = [cache[k]["payload"] for k in range(200)]
    with_pypper = measure(rng, cache, cdf, hot, 200_000)
    moved = sum(pypper.relocate(p, "slow") for p in hot)
    if m["backend"] == "pageout":
        pypper.migrate_now()
    without = measure(rng, cache, cdf, hot, 200_000)
    for p in hot:
        pypper.relocate(p, "fast")
    print(f"did it help? measured on {m['backend']}: 200,000 requests took "
          f"{with_pypper[0]:.3f} s ({with_pypper[1]} major faults) with Pypper's placement, "
          f"{without[0]:.3f} s ({without[1]} major faults) with the 200 hottest payloads "
          f"({mib(moved)}) moved to the slow tier: "
          + ("Pypper's placement was faster" if with_pypper[0] < without[0] else
             "no gain measured (the slow tier is not slower for this working set)"))


def main():
    started_here = pypper.start() if not pypper.is_running() else False
    rng = random.Random(1234)
    cache = [make_record(i, rng) for i in range(N_KEYS)]
    cdf = zipf_cdf(N_KEYS, ZIPF_S)
    log = []
    requests, checksum = serve(rng, cache, cdf, log, SECONDS)
    pypper.migrate_now()            # one more round, so the figures below are current
    print(f"sample workload: {N_KEYS} records with {PAYLOAD}-byte payloads, {requests} "
          f"Zipf(s={ZIPF_S}) requests in {SECONDS:.0f} s, {len(log)} log entries "
          f"(checksum {checksum})")
    did_it_help(rng, cache, cdf)
    if started_here:
        pypper.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
