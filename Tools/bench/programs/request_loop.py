"""A request loop: each request allocates a mix of sizes (a small header dict and
strings; most carry a 1-64 KiB body, a few 256 KiB-2 MiB) and builds a response from
them; the last 64 requests are kept (a rolling window, like a server's recent-request
log), older ones are freed. Sizes come from a seeded generator, the same each run.
Stock's figures depend on glibc's layout, which small differences in what the process
allocated first decide (sys.argv, the environment, this docstring's length): it either
trims its heap's top at each large free, 49,900-58,700 faults in 0.7-0.8 s, or keeps
it, 10,200 in 0.18 s (2026-12-07; the drop-in 29,000-35,000 and 0.44-0.51 s either way
until its page runs became one heap of pages that day, 6,300 and 0.15 s since;
Doc/heap.md)."""
import random
from collections import deque

from _phases import count, phase

WINDOW = 64


def handle(rng, i):
    headers = {"id": str(i), "path": f"/api/v1/items/{i % 997}", "agent": "bench/1.0",
               "accept": "application/json", "n": i}
    r = rng.random()
    if r < 0.30:
        size = rng.randrange(16, 1024)
    elif r < 0.98:
        size = rng.randrange(1 << 10, 64 << 10)
    else:
        size = rng.randrange(256 << 10, 2 << 20)
    body = bytes((i & 255,)) * size
    parts = [f"{k}: {v}".encode() for k, v in headers.items()]
    head = b"\r\n".join(parts)
    response = b"".join((head, b"\r\n\r\n", body[: size // 2], body[size // 2:]))
    return {"headers": headers, "body": body, "response": response,
            "summary": (i, size, len(response))}


def main():
    rng = random.Random(5)
    recent = deque(maxlen=WINDOW)
    total = 0
    with phase("requests"):
        for i in range(count(6_000)):
            req = handle(rng, i)
            recent.append(req)
            total += req["summary"][2] + req["response"][-1]
    total += sum(r["summary"][1] for r in recent)
    print("checksum", total)


main()
