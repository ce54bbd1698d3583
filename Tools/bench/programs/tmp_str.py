"""Temporary str of 4 KiB to 8 MiB built by concatenation, each dropped at the next
iteration: "x" * n + "y" (two strings of n), then "".join of two halves; a size per
phase."""
from _phases import count, phase

# (phase, size, iterations at scale 1): each size takes a similar share of the time.
SIZES = [("4K", 4 << 10, 170_000), ("64K", 64 << 10, 35_000), ("256K", 256 << 10, 9_000),
         ("1M", 1 << 20, 1_000), ("8M", 8 << 20, 16)]


def main():
    total = 0
    half = {size: "ab" * (size >> 2) for _, size, _ in SIZES}
    for name, size, n in SIZES:
        h = half[size]
        with phase(name):
            for i in range(count(n)):
                s = "x" * size + "y"
                total += len(s) + (s[i % size] == "x")
            for i in range(count(n)):
                s = "".join((h, str(i), h))
                total += len(s)
    print("checksum", total)


main()
