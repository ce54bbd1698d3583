"""Temporary bytearrays of 4 KiB to 8 MiB, each dropped at the next iteration:
bytearray(n) grown by a few bytes (a realloc), then a slice copy of it; a size per
phase."""
from _phases import count, phase

# (phase, size, iterations at scale 1): each size takes a similar share of the time.
SIZES = [("4K", 4 << 10, 180_000), ("64K", 64 << 10, 45_000), ("256K", 256 << 10, 11_000),
         ("1M", 1 << 20, 1_500), ("8M", 8 << 20, 20)]


def main():
    total = 0
    for name, size, n in SIZES:
        with phase(name):
            for i in range(count(n)):
                ba = bytearray(size)
                ba[i % size] = 1
                ba += b"tail"
                copy = ba[:]
                total += len(copy) + copy[i % size]
    print("checksum", total)


main()
