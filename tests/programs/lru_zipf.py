"""A newcomer's program: an LRU cache of records under Zipf-distributed requests.

The hot data: the records of the most requested keys (created at the line marked
HOT in make_record... every record comes from that line; the popular ones stay hot).
The cold data: an access log appended to and never read (the line marked COLD)."""
import bisect
import random
import sys
import time
from collections import OrderedDict

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
N_KEYS = 20_000
CAPACITY = 15_000


def make_record(key, rng):
    return {"key": key, "hits": 0, "payload": bytearray(rng.randbytes(512))}  # records


def main():
    rng = random.Random(7)
    weights = [1.0 / (r ** 1.1) for r in range(1, N_KEYS + 1)]
    total = sum(weights)
    cdf, acc = [], 0.0
    for w in weights:
        acc += w
        cdf.append(acc / total)
    cache = OrderedDict()
    log = []
    misses = 0
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        for _ in range(500):
            key = min(bisect.bisect_left(cdf, rng.random()), N_KEYS - 1)
            rec = cache.get(key)
            if rec is None:
                misses += 1
                rec = cache[key] = make_record(key, rng)
                if len(cache) > CAPACITY:
                    cache.popitem(last=False)
            else:
                cache.move_to_end(key)
            rec["hits"] += 1
            rec["payload"][rec["hits"] % 512] ^= 1
            log.append((key, misses, "GET /item/%d" % key))  # access log
    print("requests", len(log), "misses", misses, "cached", len(cache))


if __name__ == "__main__":
    main()
