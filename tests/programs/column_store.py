"""A newcomer's program: a column store of 40 float columns, 3 of them hot.

Queries scan columns 3, 17 and 30 over and over; the other 37 are loaded once and
never read again."""
import random
import sys
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
ROWS = 25_000
HOT = (3, 17, 30)


def load_column(rng):
    return [rng.random() for _ in range(ROWS)]  # columns


def main():
    rng = random.Random(3)
    table = {f"c{i}": load_column(rng) for i in range(40)}
    names = [f"c{i}" for i in HOT]
    total = 0.0
    queries = 0
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        for name in names:
            col = table[name]
            total += sum(col[::5])
        queries += 1
    print("queries", queries, "total", round(total))


if __name__ == "__main__":
    main()
