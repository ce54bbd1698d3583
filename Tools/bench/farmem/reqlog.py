"""Request-log workload: a hot per-user index beside an append-only request log.

A service keeps, per user, a small dict of counters (the index, read and updated on
every request) and appends every request to an in-memory log (a list of records:
a tuple with a bytes payload), which is only read now and then (an audit of the
latest entries). Hot and cold data come from different allocation sites but are
allocated interleaved, request after request, so on the kernel's pages they share
pool pages. Build: --history requests replayed into index and log. Access: --ops
more requests (Zipf-popular users, exponent --alpha), each updating the index and
appending to the log; every --audit-every requests the last 64 entries are read.
The log keeps growing during the access phase, as a real one does. Deterministic
for a given seed; prints one JSON line (see _common.finish).

    python3 reqlog.py [--users 80000] [--history 400000] [--ops 250000]
"""

import argparse
import bisect
import itertools
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Phase, finish, ready  # noqa: E402

PATHS = ["/", "/login", "/search", "/cart", "/item", "/checkout", "/api/v1/feed",
         "/api/v1/profile", "/static/app.js", "/help"]
MASK = (1 << 61) - 1


class Service:
    def __init__(self, users, alpha, seed):
        self.rng = random.Random(seed)
        self.users = users
        ids = list(range(users))
        self.rng.shuffle(ids)          # popularity unrelated to user id / arrival
        self.by_rank = ids
        self.cum = list(itertools.accumulate(1.0 / (r + 1) ** alpha for r in range(users)))
        self.index = {}
        self.log = []
        self.clock = 1_700_000_000_000

    def users_batch(self, k):
        rnd, cum, total = self.rng.random, self.cum, self.cum[-1]
        return [self.by_rank[bisect.bisect_left(cum, rnd() * total)] for _ in range(k)]

    def request(self, uid):
        rng = self.rng
        self.clock += 1 + rng.randrange(5)
        path = PATHS[rng.randrange(len(PATHS))]
        size = 200 + rng.randrange(4000)
        status = 200 if rng.random() < 0.97 else 500
        entry = self.index.get(uid)
        if entry is None:
            entry = {"uid": uid, "requests": 0, "bytes": 0, "errors": 0, "last": 0,
                     "paths": {}}
            self.index[uid] = entry
        entry["requests"] += 1
        entry["bytes"] += size
        entry["last"] = self.clock
        if status != 200:
            entry["errors"] += 1
        p = entry["paths"]
        p[path] = p.get(path, 0) + 1
        # the log record: what a request logger keeps (headers, user agent, ...)
        payload = rng.randbytes(96 + rng.randrange(160))
        self.log.append((self.clock, uid, path, status, size, payload))
        return entry["requests"] + entry["bytes"]

    def audit(self, n=64):
        acc = 0
        for rec in self.log[-n:]:
            acc = (acc * 131 + rec[0] + rec[4] + len(rec[5]) + rec[5][0]) & MASK
        return acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=80000)
    ap.add_argument("--history", type=int, default=400000)
    ap.add_argument("--ops", type=int, default=250000)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--audit-every", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    svc = Service(a.users, a.alpha, a.seed)
    build = Phase().start()
    # every user has been seen once (accounts created), then the history replays
    for uid in range(a.users):
        svc.request(uid)
    done = 0
    while done < a.history:
        k = min(10000, a.history - done)
        for uid in svc.users_batch(k):
            svc.request(uid)
        done += k
    build = build.stop()

    ready()
    access = Phase().start()
    acc = 0
    done = 0
    while done < a.ops:
        k = min(10000, a.ops - done)
        for uid in svc.users_batch(k):
            acc = (acc * 31 + svc.request(uid)) & MASK
            if len(svc.log) % a.audit_every == 0:
                acc = (acc * 31 + svc.audit()) & MASK
        done += k
    access = access.stop()
    params = dict(vars(a), log_entries=len(svc.log), index_entries=len(svc.index))
    finish("reqlog", params, acc, build, access)


if __name__ == "__main__":
    main()
