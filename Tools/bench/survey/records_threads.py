"""records.py's loop in a pool of 6 threads while the main thread waits for them."""
from concurrent.futures import ThreadPoolExecutor


def work(seed):
    acc = 0
    for _ in range(40):
        rows = [(i, str(i), {"k": i}) for i in range(5000 + seed)]
        acc += sum(r[0] for r in rows) + len(rows[-1][1])
    return acc


with ThreadPoolExecutor(max_workers=6) as pool:
    print(sum(pool.map(work, range(24))))
