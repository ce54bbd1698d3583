"""Key-value store workload: an in-memory cache of records, read mostly.

Build: N records under string keys, each a bytearray (a serialized blob), a list of
ints (a time series) or a dict (a parsed record), in insertion order; popularity is
a random permutation of the keys, so hot records are scattered over the heap as in
a cache filled in arrival order. Access: a fixed number of operations on keys drawn
from a Zipf distribution (--dist zipf, exponent --alpha) or uniformly (--dist
uniform, the control: no skew, nothing to gain from placement); 95% reads that walk
the whole value, 5% in-place updates. Deterministic for a given seed; prints one
JSON line (see _common.finish) with a checksum of everything read.

    python3 kvstore.py [--records 150000] [--ops 300000] [--dist zipf] [--alpha 1.0]
"""

import argparse
import bisect
import itertools
import os
import random
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Phase, finish, ready  # noqa: E402

FIELDS = [f"field_{i}" for i in range(12)]
MASK = (1 << 61) - 1


def make_value(i, rng):
    kind = i % 3
    if kind == 0:
        return bytearray(rng.randbytes(2048))
    if kind == 1:
        base = 1000 + rng.randrange(1 << 20)
        return [base + j * 7 for j in range(48)]
    return {f: 1000 + rng.randrange(1 << 20) for f in FIELDS}


def read_value(v):
    if type(v) is bytearray:
        return zlib.crc32(v)
    if type(v) is list:
        return sum(v)
    return sum(v.values())


def update_value(v, j):
    if type(v) is bytearray:
        v[j % len(v)] = (v[j % len(v)] + 1) & 255
    elif type(v) is list:
        v[j % len(v)] += 1
    else:
        v[FIELDS[j % len(FIELDS)]] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=150000)
    ap.add_argument("--ops", type=int, default=300000)
    ap.add_argument("--dist", choices=("zipf", "uniform"), default="zipf")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--write-share", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    build = Phase().start()
    store = {}
    keys = []
    for i in range(a.records):
        key = f"user:{i:08d}"
        keys.append(key)
        store[key] = make_value(i, rng)
    by_rank = keys[:]
    rng.shuffle(by_rank)
    build = build.stop()

    if a.dist == "zipf":
        cum = list(itertools.accumulate(1.0 / (r + 1) ** a.alpha for r in range(a.records)))
        total = cum[-1]
    ready()
    access = Phase().start()
    acc = 0
    batch = 10000
    done = 0
    while done < a.ops:
        k = min(batch, a.ops - done)
        if a.dist == "zipf":
            ranks = [bisect.bisect_left(cum, rng.random() * total) for _ in range(k)]
        else:
            ranks = [rng.randrange(a.records) for _ in range(k)]
        for r in ranks:
            v = store[by_rank[r]]
            if rng.random() < a.write_share:
                update_value(v, r)
            else:
                acc = (acc * 31 + read_value(v)) & MASK
        done += k
    access = access.stop()
    finish(f"kv-{a.dist}", vars(a), acc, build, access)


if __name__ == "__main__":
    main()
