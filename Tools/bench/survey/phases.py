"""Phases that each build and drop 600,000 small lists, 300,000 bytes objects and a
dict of 300,000 keys."""
total = 0
for _ in range(6):
    big = [[i, str(i)] for i in range(600_000)]
    total += len(big)
    del big
    small = [bytes(100) for _ in range(300_000)]
    total += len(small)
    del small
    d = {str(i): i for i in range(300_000)}
    total += len(d)
    del d
print(total)
