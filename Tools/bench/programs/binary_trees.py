"""Binary trees: build complete trees of tuples, walk them and drop them, plus one
long-lived tree (the classic allocation benchmark)."""
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def make(depth):
    return (make(depth - 1), make(depth - 1)) if depth else (None, None)


def check(node):
    left, right = node
    return 1 if left is None else 1 + check(left) + check(right)


def main():
    max_depth = 15 if SCALE >= 0.5 else 10
    long_lived = make(max_depth)
    total = 0
    for depth in range(4, max_depth + 1, 2):
        iterations = int((2 ** (max_depth - depth + 4)) * SCALE) or 1
        for _ in range(iterations):
            total += check(make(depth))
    print("checksum", total, check(long_lived))


main()
