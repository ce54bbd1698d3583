"""A column store loaded with tuple(genexpr): CPython grows each tuple a quarter at a
time, zeroing as it goes, and shrinks it to its length at the end (34 columns of
80,000 floats, a newcomer's pattern). Then bytes joined and cut the same way. The
shrinks' tails must go back to the kernel as stock's realloc gives them back (the
drop-in kept 4.6 MB more resident until 2026-12-06)."""
import random

rng = random.Random(1)
cols = [tuple(rng.random() for _ in range(80000)) for _ in range(34)]
blobs = [bytes(b for b in range(200) for _ in range(3000))[:500000 + i] for i in range(20)]
print(sum(len(c) for c in cols), sum(len(b) for b in blobs))
