"""Code that raises audit events at a high rate: a coverage-like line tracer (each
line event reads `frame.f_code`, an "object.__getattr__" event) and frame lookups as
logging makes them (`sys._getframe`, a "sys._getframe" event). Any audit hook in the
process makes every event build its arguments (the drop-in had one until 2026-12-06:
this ran at 1.18x stock's CPU time)."""
import sys

seen = set()


def tracer(frame, event, arg):
    if event == "line":
        seen.add((frame.f_code.co_name, frame.f_lineno))
    return tracer


def work(n):
    table = {}
    for i in range(n):
        table[i % 997] = i if i % 3 else str(i)
    return len(table)


def callers(n):
    depth = 0
    for _ in range(n):
        depth += sys._getframe(0).f_lineno > 0
    return depth


if __name__ == "__main__":
    sys.settrace(tracer)
    total = work(300_000)
    sys.settrace(None)
    total += callers(2_000_000)
    print(total, len(seen))
