"""A newcomer's program: a column store of 40 float columns (lists of about 44,000
floats: ~350 KB of item array each) of which queries read only 3.
Argument: scale (default 1.0)."""
import random
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
ROWS = int(44000 * SCALE)
NCOLS = 40
HOT = (3, 17, 29)


def make_column(rng, rows):
    col = []
    for _ in range(rows):
        col.append(rng.random())
    return col


rng = random.Random(11)
columns = {f"c{i:02d}": make_column(rng, ROWS) for i in range(NCOLS)}
names = list(columns)

total = 0.0
for q in range(int(60 * SCALE) or 1):
    for i in HOT:
        col = columns[names[i]]
        total += sum(col[j] for j in range(q % 7, len(col), 3))
print(f"columns: {NCOLS} x {ROWS} rows, checksum {total:.3f}")
