"""Rows of small tuples transposed into columns (zip(*rows): 300,000 tuple iterators
made and freed, and five tuples of 300,000), then all dropped, six times. Until
2026-12-07 the drop-in kept the freed small objects' arenas idle under a bound learnt
from the large blocks (up to 64 MiB): 66-71 MB resident between rounds against stock's
13, a peak of 73.4 MB against 66.0 (Objects/retain.c, RETAIN_POOLS_MAX)."""
total = 0
for r in range(6):
    rows = [tuple(range(i % 7, i % 7 + 5)) for i in range(300_000)]
    cols = list(zip(*rows))
    total += len(cols[0]) + cols[4][-1]
    del rows, cols
print(total)
