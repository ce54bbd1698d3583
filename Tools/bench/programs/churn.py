"""Object churn: many short-lived small objects (tuples, small instances with and
without __slots__, bound methods, floats) created and dropped in a loop."""
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class SlotPoint:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y


def main():
    acc = 0
    for i in range(int(1_200_000 * SCALE)):
        p = Point(i, i + 1)
        q = SlotPoint(p.y, p.x)
        t = (p.x, q.y, i * 0.5)
        acc += t[0] + q.x + int(t[2])
        if i % 7 == 0:
            acc ^= len(str(i))
    print("checksum", acc)


main()
