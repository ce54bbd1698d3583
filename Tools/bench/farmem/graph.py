"""Graph workload: hot data in relocatable buffers scattered among cold ones.

Build: V vertices, each with an adjacency list stored as an array.array of vertex ids
(its data is a buffer the array owns: what Pypper can relocate), built in vertex
order with a degree that varies from --min-degree to --max-degree (random 64-bit
entries: an entry e names vertex e mod V). Popularity is a random permutation of the
vertices, so the hot adjacency arrays (256 bytes of data on average) lie scattered over
the heap among cold ones, about ten to a page, as in a graph loaded from an edge file. Access: a fixed number of
random walks of --steps steps, each starting at a vertex drawn from a Zipf
distribution over the popularity ranks; a step reads the whole adjacency array (the
sum of its entries, as a scoring pass would) and moves to a popular vertex named by
one of its entries (the rank e mod V/20: the walk stays in the top 5%, the hot
community, which is what makes it skewed). Deterministic for a given seed;
prints one JSON line (see _common.finish) with a checksum of everything read.

--pregather 1 measures what gathering could give at best: at the end of the build it
copies the hot community's arrays (object and data, both fresh, hottest rank first),
so they lie densely on their own pages before the limit applies. Any interpreter runs
it; Pypper can move only the data, never the objects, and only once it has seen them
used (Doc/migration.md, "How far gathering can go").

    python3 graph.py [--vertices 400000] [--walks 30000] [--steps 8] [--alpha 1.0]
                     [--pregather 0|1]
"""

import argparse
import array
import bisect
import itertools
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Phase, finish, ready  # noqa: E402

MASK = (1 << 61) - 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vertices", type=int, default=400000)
    ap.add_argument("--walks", type=int, default=30000)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--min-degree", type=int, default=8)
    ap.add_argument("--max-degree", type=int, default=56)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pregather", type=int, choices=(0, 1), default=0)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    v = a.vertices
    build = Phase().start()
    # Popularity: rank -> vertex, and each vertex's rank.
    by_rank = list(range(v))
    rng.shuffle(by_rank)
    hot_cut = max(1, v // 20)          # the popular community: top 5% of ranks
    adj = []
    for x in range(v):
        d = rng.randrange(a.min_degree, a.max_degree + 1)
        adj.append(array.array("q", rng.randbytes(8 * d)))
    if a.pregather:
        for r in range(hot_cut):
            adj[by_rank[r]] = array.array("q", adj[by_rank[r]])
    build = build.stop()

    cum = list(itertools.accumulate(1.0 / (r + 1) ** a.alpha for r in range(v)))
    total = cum[-1]
    ready()
    access = Phase().start()
    acc = 0
    done = 0
    batch = 5000
    while done < a.walks:
        k = min(batch, a.walks - done)
        starts = [by_rank[bisect.bisect_left(cum, rng.random() * total)] for _ in range(k)]
        for x in starts:
            for _ in range(a.steps):
                nbrs = adj[x]
                acc = (acc * 31 + sum(nbrs)) & MASK
                x = by_rank[nbrs[rng.randrange(len(nbrs))] % hot_cut]
        done += k
    access = access.stop()
    finish("graph", vars(a), acc, build, access)


if __name__ == "__main__":
    main()
