"""Dict growth: dicts filled by insertion to 10, 1 K, 100 K and 500 K keys (the table
resized as it grows), int and str keys, by comprehension and by update; each dropped
once built."""
from _phases import count, phase


def main():
    total = 0
    keys = [f"key{j}" for j in range(100_000)]
    with phase("small"):
        for i in range(count(120_000)):
            d = {}
            for j in range(10):
                d[j] = i
            total += len(d)
    with phase("1K-str"):
        for i in range(count(1_500)):
            d = {}
            for k in keys[:1_000]:
                d[k] = i
            total += len(d)
    with phase("100K-int"):
        for i in range(count(2)):
            d = {}
            for j in range(100_000):
                d[j * 7] = j
            total += len(d)
    with phase("500K-int"):
        d = {j: j for j in range(count(500_000))}
        total += len(d) + d[0]
        del d
    with phase("update"):
        for i in range(count(8)):
            d = dict.fromkeys(keys[:50_000], i)
            d.update(zip(keys[50_000:], range(50_000)))
            total += len(d)
    print("checksum", total)


main()
