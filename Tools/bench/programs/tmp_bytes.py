"""Temporary bytes of 4 KiB to 8 MiB, each dropped at the next iteration: bytes(n)
(zero-filled), then b"ab" * (n / 2) (every page written); a size per phase."""
from _phases import count, phase

# (phase, size, iterations at scale 1): each size takes a similar share of the time.
SIZES = [("4K", 4 << 10, 180_000), ("64K", 64 << 10, 50_000), ("256K", 256 << 10, 14_000),
         ("1M", 1 << 20, 2_500), ("8M", 8 << 20, 70)]


def main():
    total = 0
    for name, size, n in SIZES:
        with phase(name):
            for _ in range(count(n)):
                b = bytes(size)
                total += len(b) + b[-1]
            for i in range(count(n)):
                b = b"ab" * (size >> 1)
                total += len(b) + b[i % size]
    print("checksum", total)


main()
