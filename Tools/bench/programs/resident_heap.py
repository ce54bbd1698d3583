"""A large resident heap: ~310 MB of mixed objects kept alive (200 K small records of
tuples, str, floats and lists, an index dict, 7 K bytes buffers of 1-64 KiB, lists),
then work on it: passes that read every record, replace a tenth of them (allocation
churn among long-lived objects) and sort a key list; all freed when main returns.
Longer than the other programs (~2.5 s): faulting in 300 MB alone takes ~1.5 s on
this machine kind."""
from _phases import count, phase


def main():
    n = count(200_000)
    with phase("build"):
        records = [(i, f"item{i:07d}", i * 0.5, [i & 255, i & 127]) for i in range(n)]
        index = {rec[1]: rec for rec in records[::4]}
        buffers = [bytes((i & 255,)) * (1024 + (i * 7919) % (63 << 10)) for i in range(n * 7 // 200)]
        tables = [[j & 255 for j in range(20_000)] for _ in range(n // 5_000)]
    total = 0
    with phase("work"):
        for p in range(3):
            total += sum(rec[0] + len(rec[3]) for rec in records)
            for i in range(p, n, 10):
                i2, name, x, lst = records[i]
                records[i] = (i2, name, x + 1.0, [lst[0], lst[1], p])
            keys = sorted(records[i][1] for i in range(0, n, 5))
            total += len(keys) + len(index) + sum(len(b) for b in buffers[p::50])
            total += sum(t[p] for t in tables)
    print("checksum", total)


main()
