"""A newcomer's program: breadth-first searches over a dict of adjacency lists whose
every 25th node forms a hot community. The graph is built by picking neighbours with
random.choice from two lists of node ids; the list of the 48,000 others (`rest`) is
read only while the graph is built, never after.
Arguments: nodes (default 50,000), seconds of searching (default 4)."""
import random
import sys
import time
from collections import deque

NODES = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
DEGREE = 8
STRIDE = 25


def build():
    rng = random.Random(3)
    community = list(range(0, NODES, STRIDE))
    rest = [v for v in range(NODES) if v % STRIDE]                  # cold after the build
    graph = {}
    for v in range(NODES):
        pool = community if v % STRIDE == 0 else rest
        graph[v] = [rng.choice(pool) for _ in range(DEGREE)]
    return graph


def bfs(graph, start):
    seen = {start}
    queue = deque([start])
    while queue:
        for w in graph[queue.popleft()]:
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return len(seen)


def main():
    graph = build()
    end = time.monotonic() + SECONDS
    searches = reached = 0
    while time.monotonic() < end:
        reached += bfs(graph, 0)
        searches += 1
    print(f"bfs: {searches} searches, {reached // max(searches, 1)} of {len(graph)} nodes reached")


if __name__ == "__main__":
    main()
