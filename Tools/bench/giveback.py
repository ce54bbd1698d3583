"""Give-back check for Tools/bench/alloc_bench.py: builds a ~1 GB structure (many small
objects: tuples, str, floats, small lists and dicts; 1-64 KiB and 256 KiB-4 MiB bytes
buffers; large lists), frees all of it, sleeps, and reports the
resident set (VmRSS of /proc/self/status) at each step. The runner compares the RSS
after the sleep with the stock interpreter's.

    python giveback.py [SCALE [SLEEP_SECONDS]]      (defaults 1 and 5)

Prints `giveback start_kb=N built_kb=N freed_kb=N after_kb=N` and a `checksum` line."""
import gc
import sys
import time

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
SLEEP = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def build(scale):
    """~1 GB at scale 1: ~300 MB of small objects, ~320 MB of 1-64 KiB bytes, ~200 MB of
    256 KiB-4 MiB bytes, ~200 MB of list item arrays (4 MiB each)."""
    def k(n):
        return max(1, int(n * scale))
    small = [(i, f"rec{i:08d}", i * 0.25, [i & 255, i]) for i in range(k(700_000))]
    tables = [{"id": i, "tag": i & 63} for i in range(k(150_000))]
    medium = [bytes((i & 255,)) * (1024 + (i * 7919) % (63 << 10)) for i in range(k(10_000))]
    large = [bytes((i & 255,)) * ((256 << 10) + (i * 104_729) % (15 << 18)) for i in range(k(100))]
    lists = [[i] * 500_000 for i in range(k(50))]
    return {"small": small, "tables": tables, "medium": medium, "large": large, "lists": lists}


def main():
    start = rss_kb()
    data = build(SCALE)
    built = rss_kb()
    total = sum(sum(map(len, v)) if k != "small" else len(v) for k, v in data.items())
    del data
    gc.collect()
    freed = rss_kb()
    time.sleep(SLEEP)
    after = rss_kb()
    print(f"giveback start_kb={start} built_kb={built} freed_kb={freed} after_kb={after}")
    print("checksum", total)


main()
