"""Temporary lists of 4 KiB to 8 MiB of item pointers, each dropped at the next
iteration: [0] * k, then a copy one longer (lst + [i]); a size per phase."""
from _phases import count, phase

# (phase, size in bytes of the item array, iterations at scale 1).
SIZES = [("4K", 4 << 10, 55_000), ("64K", 64 << 10, 5_500), ("256K", 256 << 10, 1_200),
         ("1M", 1 << 20, 250), ("8M", 8 << 20, 10)]


def main():
    total = 0
    for name, size, n in SIZES:
        k = size >> 3
        with phase(name):
            for i in range(count(n)):
                lst = [0] * k
                lst[i % k] = i
                longer = lst + [i]
                total += len(longer) + longer[i % k]
    print("checksum", total)


main()
