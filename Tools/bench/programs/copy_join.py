"""Copies between blocks of 16 KiB to 1 MiB: "".join((h, str(i), h)) of two halves
(the copy of the second half lands a few bytes off the source's offset in a page),
bytes concatenation, slicing and bytearray copies; a size per phase. Page-aligned
blocks would put source and destination at the same offset in every page, and a
destination a few bytes ahead of its source modulo 4 KiB stalls the copy (4K
aliasing); the allocator's blocks must sit at varied offsets, as glibc's do."""
from _phases import count, phase

# (phase, size, iterations at scale 1): each size takes a similar share of the time.
SIZES = [("16K", 16 << 10, 60_000), ("64K", 64 << 10, 20_000), ("256K", 256 << 10, 4_000),
         ("1M", 1 << 20, 800)]


def main():
    total = 0
    for name, size, n in SIZES:
        half = "ab" * (size >> 2)
        data = b"cd" * (size >> 1)
        buf = bytearray(data)
        with phase(name):
            for i in range(count(n)):
                s = "".join((half, str(i), half))
                b = data[i & 7:] + b"y"
                c = bytearray(buf)
                total += len(s) + len(b) + c[i % size]
    print("checksum", total)


main()
