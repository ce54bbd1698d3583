"""Relocation and migration must never change a program's results.

Runs a deterministic stream of random operations on lists, dicts, sets, bytearrays
and array.arrays (a main thread and a worker thread, each on its own containers,
both reading a shared set of them), and prints one checksum over everything the
operations read plus the final contents. Under Pypper (--pypper) it also relocates
random containers' buffers between the tiers every few operations (including from
inside a running list.sort() key function, and while a memoryview is exported) and
runs a migration round every --round-every operations, on top of the background
rounds (PYPPER_MIGRATE_INTERVAL_MS). The checksum must equal that of a run without
Pypper (python3.12, or ./python3 without --pypper).

    ./python3 Tools/stress/migration_stress.py --ops 2000000 --pypper
"""
import argparse
import array
import json
import random
import sys
import threading
import zlib

try:
    import pypper
except ImportError:          # a stock python3.12: the reference run
    pypper = None


class Stream:
    """The operations of one thread over its own containers (and shared ones)."""

    def __init__(self, seed, shared, mover):
        self.rng = random.Random(seed)
        self.crc = 0
        self.mover = mover
        r = self.rng
        self.lists = [[r.randrange(1000) for _ in range(r.randrange(40))] for _ in range(64)]
        self.dicts = [{r.randrange(500): r.randrange(1000) for _ in range(r.randrange(40))}
                      for _ in range(64)]
        self.sets = [set(r.randrange(500) for _ in range(r.randrange(40))) for _ in range(64)]
        self.bufs = [bytearray(r.randbytes(r.randrange(200))) for _ in range(64)]
        self.arrays = [array.array("q", (r.randrange(1 << 40) for _ in range(r.randrange(40))))
                       for _ in range(64)]
        self.shared = shared

    def note(self, value):
        self.crc = zlib.crc32(repr(value).encode(), self.crc)

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def step(self):
        r = self.rng
        kind = r.randrange(5)
        op = r.randrange(8)
        if kind == 0:
            l = self.pick(self.lists)
            if op == 0:
                l.append(r.randrange(1000))
            elif op == 1 and l:
                self.note(l.pop(r.randrange(len(l))))
            elif op == 2:
                l.insert(r.randrange(len(l) + 1), r.randrange(1000))
            elif op == 3:
                i = r.randrange(len(l) + 1)
                l[i:i + r.randrange(4)] = [r.randrange(1000) for _ in range(r.randrange(6))]
            elif op == 4:
                mover = self.mover

                def key(x, l=l):
                    if mover:            # mid-sort: must be refused (a sort runs)
                        mover(l)
                    return (x * 7919) % 1009
                l.sort(key=key)
            elif op == 5:
                l.extend(range(r.randrange(30)))
            elif op == 6 and len(l) > 50:
                del l[r.randrange(len(l)):]
            else:
                self.note(sum(l) if l else -1)
        elif kind == 1:
            d = self.pick(self.dicts)
            k = r.randrange(500)
            if op < 3:
                d[k] = r.randrange(1000)
            elif op == 3:
                self.note(d.pop(k, None))
            elif op == 4:
                d.update({r.randrange(500): i for i in range(r.randrange(20))})
            elif op == 5 and len(d) > 60:
                for key in list(d)[: len(d) // 2]:
                    del d[key]
            elif op == 6:
                d.setdefault(str(k), k)
            else:
                self.note(d.get(k))
        elif kind == 2:
            s = self.pick(self.sets)
            k = r.randrange(500)
            if op < 3:
                s.add(k)
            elif op == 3:
                s.discard(k)
            elif op == 4:
                s.update(r.randrange(500) for _ in range(r.randrange(20)))
            elif op == 5 and len(s) > 60:
                for x in list(s)[: len(s) // 2]:
                    s.discard(x)
            else:
                self.note(k in s)
        elif kind == 3:
            b = self.pick(self.bufs)
            if op == 0:
                b.extend(r.randbytes(r.randrange(50)))
            elif op == 1 and b:
                del b[: r.randrange(len(b) + 1)]
            elif op == 2:
                b.insert(r.randrange(len(b) + 1), r.randrange(256))
            elif op == 3 and b:
                i = r.randrange(len(b))
                b[i] = (b[i] + 1) & 255
            elif op == 4:
                with memoryview(b) as m:     # exported: must not move
                    if self.mover:
                        self.mover(b)
                    self.note(bytes(m[:4]))
            elif op == 5 and len(b) > 400:
                del b[200:]
            else:
                self.note(zlib.crc32(b))
        else:
            a = self.pick(self.arrays)
            if op == 0:
                a.append(r.randrange(1 << 40))
            elif op == 1 and a:
                self.note(a.pop())
            elif op == 2:
                a.extend(r.randrange(1 << 40) for _ in range(r.randrange(20)))
            elif op == 3 and len(a) > 80:
                del a[40:]
            elif op == 4 and a:
                a[r.randrange(len(a))] = r.randrange(1 << 40)
            else:
                self.note(sum(a) & 0xFFFFFFFF)
        # Read the shared containers (the other thread may be moving them).
        if op == 7:
            sl = self.shared[r.randrange(len(self.shared))]
            self.note(len(sl) if not isinstance(sl, list) else sum(sl))

    def final(self):
        for group in (self.lists, self.dicts, self.sets, self.bufs, self.arrays):
            for c in group:
                self.note(sorted(c) if isinstance(c, set) else
                          list(c.items()) if isinstance(c, dict) else
                          bytes(c) if isinstance(c, bytearray) else list(c))
        return self.crc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=1_000_000, help="operations in all (both threads)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pypper", action="store_true", help="relocate and migrate while running")
    ap.add_argument("--relocate-every", type=int, default=7)
    ap.add_argument("--round-every", type=int, default=5000)
    args = ap.parse_args()
    if args.pypper and pypper is None:
        sys.exit("--pypper needs the Pypper interpreter (./python3)")

    moves = [0, 0]
    tiers = ("fast", "slow")
    mover = None
    if args.pypper:
        if not pypper.is_running():
            pypper.start()

        def mover(obj, _n=[0]):
            _n[0] += 1
            moved = pypper.relocate(obj, tiers[_n[0] & 1])
            moves[0] += moved > 0
            return moved

    shared = [list(range(i, i + 30)) for i in range(16)] + [set(range(i)) for i in range(16)]
    main_stream = Stream(args.seed, shared, mover)
    worker_stream = Stream(args.seed + 1, shared, mover)
    half = args.ops // 2

    def run(stream, n, rounds):
        everything = (stream.lists, stream.dicts, stream.sets, stream.bufs, stream.arrays)
        for i in range(n):
            stream.step()
            if mover and i % args.relocate_every == 0:
                group = everything[i % 5]
                mover(group[(i // 5) % len(group)])
                if i % (args.relocate_every * 11) == 0:
                    mover(shared[i % len(shared)])
            if rounds and i % args.round_every == 0:
                pypper.migrate_now()
                moves[1] += 1

    worker = threading.Thread(target=run, args=(worker_stream, half, False))
    worker.start()
    run(main_stream, args.ops - half, args.pypper)
    worker.join()
    crc = zlib.crc32(str((main_stream.final(), worker_stream.final())).encode())
    for s in shared:
        crc = zlib.crc32(repr(sorted(s)).encode(), crc)
    out = {"checksum": crc, "ops": args.ops, "relocations": moves[0], "rounds": moves[1]}
    if args.pypper:
        ms = pypper.migration_stats()
        out.update(backend=ms["backend"], passes=ms["passes"],
                   relocated=ms["relocate"]["done"], relocate_failed=ms["relocate"]["failed"],
                   promoted=ms["promote"]["done"], demoted=ms["demote"]["done"],
                   errors=ms["errors"], injected=ms["injected"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
