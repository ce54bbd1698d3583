"""A newcomer's program: breadth-first searches over a graph with a hot community.

Nodes 0..1999 form a densely linked community where every search starts and
stays; the other 30,000 nodes hang off it and are visited rarely."""
import random
import sys
import time
from collections import deque

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
HOT_NODES = 2_000
COLD_NODES = 30_000


def build(rng):
    graph = {}
    for n in range(HOT_NODES):
        graph[n] = [rng.randrange(HOT_NODES) for _ in range(8)]  # hot community
    for n in range(HOT_NODES, HOT_NODES + COLD_NODES):
        graph[n] = [rng.randrange(HOT_NODES, HOT_NODES + COLD_NODES) for _ in range(4)]  # cold
    return graph


def bfs(graph, start, limit):
    seen = {start}
    queue = deque([start])
    while queue and len(seen) < limit:
        node = queue.popleft()
        for nxt in graph[node]:
            if nxt < HOT_NODES and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return len(seen)


def main():
    rng = random.Random(5)
    graph = build(rng)
    visited = searches = 0
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        visited += bfs(graph, rng.randrange(HOT_NODES), 500)
        searches += 1
    print("searches", searches, "visited", visited)


if __name__ == "__main__":
    main()
