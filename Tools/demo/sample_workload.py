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
placement and with the hottest payloads moved to the slow tier, in the same run, the
two alternated (three rounds: a pass also warms what the next one reads), a verdict
only when every round agrees. A first pass alone, right after Pypper's placement,
shows what its mistakes cost (on pageout: pages in swap that the requests still use),
and on pageout the line says how much of the program was in swap (VmSwap, the
kernel's own swapping included): far memory does not make a resident page slower, it
makes a page that is out cost a fault, so there the verdict rests on the faults, on
numa on the times (the slow node's latency).
"""

import bisect
import random
import sys
import time
from statistics import median

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


def measure(rng, cache, cdf, requests):
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


def swapped_bytes():
    """This process's bytes in swap (VmSwap), 0 when unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSwap:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def send(buffers, tier, backend):
    """Relocate the buffers to tier; on pageout a migration round then sends the
    slow tier's pages out. Returns the bytes moved."""
    moved = sum(pypper.relocate(b, tier) for b in buffers)
    if backend == "pageout":
        pypper.migrate_now()
    return moved


def verdict(backend, first, placed, moved, hot_bytes, swapped):
    """The "did it help?" line from the measurements: first, (seconds, major faults)
    of the first pass right after Pypper's placement; placed[i] and moved[i], round
    i's pass with its placement and then with the hottest payloads (hot_bytes) sent to
    the slow tier; swapped, the process's bytes in swap before them. A verdict only
    when every round agrees (rounds, not medians: the migration thread keeps working
    between passes)."""
    def cell(runs):
        return (f"{median([r[0] for r in runs]):.3f} s ({median([r[1] for r in runs]):.0f} "
                f"major faults)")
    line = (f"did it help? measured on {backend}, {REQUESTS:,} requests a pass, "
            f"{len(placed)} rounds (medians): {cell(placed)} with Pypper's placement, "
            f"{cell(moved)} with the {HOT_KEYS} hottest payloads ({mib(hot_bytes)}) moved "
            f"to the slow tier")
    pairs = list(zip(placed, moved))
    if backend == "pageout":
        line += (f"; {mib(swapped)} of the program was in swap (VmSwap: what Pypper's "
                 f"slow tier sent there, and whatever the kernel swapped), and the first pass "
                 f"after its placement took {first[0]:.3f} s with {first[1]} major faults "
                 f"(pages in swap that the requests still used)")
        if swapped > 0 and all(m[1] > p[1] for p, m in pairs):
            return line + (": its placement helped (memory out of RAM, fewer faults than "
                           "with the hot data out, in every round)")
        return line + ": no gain measured (the rounds disagree or nothing is in swap)"
    if all(p[0] < m[0] for p, m in pairs):
        return line + ": Pypper's placement was faster in every round"
    if all(p[0] > m[0] for p, m in pairs):
        return line + ": Pypper's placement was slower in every round"
    return line + ": no difference measured (the rounds disagree)"


HOT_KEYS = 200
REQUESTS = 200_000
ROUNDS = 3


def did_it_help(rng, cache, cdf):
    """A/B in the same run: the same requests with Pypper's placement and with the
    hottest records' payloads moved to the slow tier (where a placement that ignores
    temperature may leave them), alternated (a first pass alone: the one that pays
    for Pypper's mistakes), then moved back."""
    m = pypper.migration_stats()
    if m["backend"] == "sim":
        print("did it help? not measurable here: the sim backend moves nothing (one tier "
              "of memory and no swap); on two tiers (numa) or with swap (pageout) this "
              "line compares the same requests with and without Pypper's placement")
        return
    hot = [cache[k]["payload"] for k in range(HOT_KEYS)]
    swapped = swapped_bytes()
    first = measure(rng, cache, cdf, REQUESTS)
    placed, moved, hot_bytes = [], [], 0
    for _ in range(ROUNDS):
        placed.append(measure(rng, cache, cdf, REQUESTS))
        hot_bytes = max(hot_bytes, send(hot, "slow", m["backend"]))
        moved.append(measure(rng, cache, cdf, REQUESTS))
        send(hot, "fast", m["backend"])
    print(verdict(m["backend"], first, placed, moved, hot_bytes, swapped))


def main():
    started_here = pypper.start() if not pypper.is_running() else False
    rng = random.Random(1234)
    cache = [make_record(i, rng) for i in range(N_KEYS)]
    cdf = zipf_cdf(N_KEYS, ZIPF_S)
    log = []
    # (An argument: seconds of requests, for tests/test_demo.py's shorter run.)
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS
    requests, checksum = serve(rng, cache, cdf, log, seconds)
    pypper.migrate_now()            # one more round, so the figures below are current
    print(f"sample workload: {N_KEYS} records with {PAYLOAD}-byte payloads, {requests} "
          f"Zipf(s={ZIPF_S}) requests in {seconds:g} s, {len(log)} log entries "
          f"(checksum {checksum})")
    did_it_help(rng, cache, cdf)
    if started_here:
        pypper.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
