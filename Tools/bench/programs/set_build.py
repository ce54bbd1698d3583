"""Set construction: sets of 10 to 1 M ints and of str built from ranges, lists with
duplicates and comprehensions, plus unions and intersections (new sets); each dropped
once built. Only sizes and sums are checked: a set of str iterates in hash order."""
from _phases import count, phase


def main():
    total = 0
    words = [f"w{j % 60_000}" for j in range(100_000)]
    with phase("small"):
        for i in range(count(150_000)):
            total += len({i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7})
    with phase("range-100K"):
        for i in range(count(8)):
            total += len(set(range(i, i + 100_000)))
    with phase("range-1M"):
        s = set(range(count(1_000_000)))
        total += len(s)
        del s
    with phase("str-dups"):
        for _ in range(count(25)):
            total += len(set(words))
    with phase("ops"):
        a = set(range(0, 200_000, 2))
        b = set(range(0, 200_000, 3))
        for _ in range(count(8)):
            total += len(a | b) + len(a & b) + len(a - b) + sum({x >> 4 for x in range(50_000)})
    print("checksum", total)


main()
