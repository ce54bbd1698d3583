"""A known slow case of the tiered heap (Doc/heap.md, "Fast paths"): random replacement of
medium blocks (0.6-6.6 KB) in a heap of 400,000 of them (about 0.5 GB). Prints the
seconds of the build phase and of the replacement phase, and the peak RSS in KiB, so
the stock interpreter and ./python3 can be compared:

    python3.12 Tools/bench/medium_replace.py; ./python3 Tools/bench/medium_replace.py
"""
import random
import time


def main():
    t0 = time.perf_counter()
    blocks = [bytes(1000 + (i % 7) * 300) for i in range(400_000)]
    t1 = time.perf_counter()
    rng = random.Random(1)
    for r in range(3):
        for i in rng.sample(range(len(blocks)), 100_000):
            blocks[i] = bytes(600 + (i * r) % 6000)
    t2 = time.perf_counter()
    with open("/proc/self/status") as f:
        hwm = next(line.split()[1] for line in f if line.startswith("VmHWM"))
    print(f"build {t1 - t0:.2f} s  replace {t2 - t1:.2f} s  peak RSS {hwm} KiB")


main()
