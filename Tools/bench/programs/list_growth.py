"""List growth: lists built by append to 1 K, 100 K and 1 M items (scaled) (the item array
reallocated as it grows, up to 8 MiB), by extend in chunks, and by comprehension;
each dropped once built."""
from _phases import count, phase


def grow(n, base):
    lst = []
    append = lst.append
    for j in range(n):
        append(base + (j & 255))
    return lst


def main():
    total = 0
    with phase("append-1K"):
        for i in range(count(1_500)):
            total += len(grow(1_000, i))
    with phase("append-100K"):
        for i in range(count(12)):
            total += grow(100_000, i)[-1]
    with phase("append-1M"):
        total += len(grow(count(1_000_000), 1))
    chunk = list(range(1_000))
    with phase("extend"):
        for _ in range(count(30)):
            lst = []
            for _ in range(1_000):
                lst.extend(chunk)
            total += len(lst)
    with phase("comprehension"):
        for i in range(count(6)):
            total += len([j + i for j in range(100_000)]) + len([None for _ in range(10_000)])
    print("checksum", total)


main()
