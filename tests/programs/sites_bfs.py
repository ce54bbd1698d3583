"""A newcomer's program: breadth-first searches over a graph (a dict of adjacency
lists) where most searches start in a small, dense community, so its nodes are hot.
Argument: scale (default 1.0)."""
import random
import sys
from collections import deque

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
NODES = int(60000 * SCALE)
COMMUNITY = max(NODES // 50, 10)


class Node:
    def __init__(self, ident):
        self.ident = ident
        self.label = f"node{ident}"
        self.edges = []


def build(rng):
    graph = {i: Node(i) for i in range(NODES)}
    for i in range(NODES):
        for _ in range(4):
            graph[i].edges.append(rng.randrange(NODES))
    for i in range(COMMUNITY):       # the community: dense, and joined to it by few edges
        for _ in range(12):
            graph[i].edges.append(rng.randrange(COMMUNITY))
    return graph


def bfs(graph, start, limit):
    seen = {start}
    queue = deque([start])
    while queue and len(seen) < limit:
        for nxt in graph[queue.popleft()].edges:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return len(seen)


rng = random.Random(5)
graph = build(rng)
reached = 0
for q in range(int(400 * SCALE) or 1):
    start = rng.randrange(COMMUNITY) if q % 10 else rng.randrange(NODES)
    reached += bfs(graph, start, 300)
print(f"bfs: {NODES} nodes, {reached} reached")
