"""Bytes, bytearray and array.array: buffers appended, sliced, joined and converted."""
import array
import sys
import zlib

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def main():
    total = 0
    for r in range(int(450 * SCALE)):
        ba = bytearray()
        for i in range(600):
            ba += bytes((i + r) % 256 for _ in range(i % 40))
        arr = array.array("i", range(r, r + 20_000))
        arr.extend(arr[:5000])
        chunks = [bytes(ba[i:i + 500]) for i in range(0, len(ba), 500)]
        blob = b"".join(chunks)
        total += zlib.crc32(blob) + sum(arr[::97]) + len(arr.tobytes())
    print("checksum", total)


main()
