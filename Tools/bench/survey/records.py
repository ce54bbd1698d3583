"""Lists of short-lived (int, str, dict) records built and dropped in a loop: every
record reaches the oldest GC generation and dies milliseconds later."""


def work(seed):
    acc = 0
    for _ in range(40):
        rows = [(i, str(i), {"k": i}) for i in range(5000 + seed)]
        acc += sum(r[0] for r in rows) + len(rows[-1][1])
    return acc


if __name__ == "__main__":
    print(sum(map(work, range(24))))
