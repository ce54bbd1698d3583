"""A newcomer's program: an LRU cache (an OrderedDict of records) serving requests
whose keys follow a Zipf law, so a few entries are hot and most are cold.
Argument: scale (default 1.0)."""
import random
import sys
from collections import OrderedDict

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
CAPACITY = int(20000 * SCALE)
KEYS = CAPACITY * 2
REQUESTS = int(200000 * SCALE)


class Record:
    def __init__(self, key):
        self.key = key
        self.name = f"user-{key:08d}"
        self.payload = bytes(200 + key % 400)
        self.tags = [key % 7, key % 11, key % 13]


class LRU:
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key):
        item = self.items.get(key)
        if item is not None:
            self.items.move_to_end(key)
            self.hits += 1
            return item
        self.misses += 1
        item = Record(key)
        self.items[key] = item
        if len(self.items) > self.capacity:
            self.items.popitem(last=False)
        return item


def zipf_keys(rng, n, count, s=1.1):
    weights = [1.0 / (k + 1) ** s for k in range(n)]
    return rng.choices(range(n), weights=weights, k=count)


rng = random.Random(7)
cache = LRU(CAPACITY)
for k in range(CAPACITY):        # warm the cache with every key once
    cache.get(KEYS - 1 - k)
total = 0
for key in zipf_keys(rng, KEYS, REQUESTS):
    total += len(cache.get(key).payload)
print(f"lru: {len(cache.items)} entries, hit rate {cache.hits / (cache.hits + cache.misses):.2f}")
