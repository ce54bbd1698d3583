"""Dict and list building: containers of varied sizes built and discarded, including
many medium ones (0.5-8 KiB item arrays and tables) and some large (> 64 KiB)."""
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def main():
    acc = 0
    keep = []
    for round_ in range(int(180 * SCALE)):
        small = [{"k": i, "v": [i, i + 1]} for i in range(2000)]
        medium = [list(range(n % 900)) for n in range(round_, round_ + 400)]
        tables = [{j: j * 2 for j in range(n % 200)} for n in range(300)]
        big = list(range(20_000 + round_))
        index = {str(i): i for i in range(5_000)}
        acc += len(small) + sum(map(len, medium)) + sum(map(len, tables)) + big[-1] + index["42"]
        keep.append(medium[round_ % len(medium)])
        if len(keep) > 150:
            keep.pop(0)
    print("checksum", acc, sum(map(len, keep)))


main()
