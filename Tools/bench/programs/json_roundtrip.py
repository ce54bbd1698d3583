"""JSON round trips: nested documents serialized with json.dumps and parsed back."""
import json
import random
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def document(rng, depth):
    if depth == 0:
        return rng.choice([rng.random(), rng.randrange(10**6), "s%d" % rng.randrange(999), None, True])
    if rng.random() < 0.5:
        return [document(rng, depth - 1) for _ in range(rng.randrange(1, 6))]
    return {"k%d" % i: document(rng, depth - 1) for i in range(rng.randrange(1, 6))}


def main():
    rng = random.Random(7)
    docs = [document(rng, 5) for _ in range(200)]
    total = 0
    for _ in range(int(18 * SCALE)):
        for d in docs:
            text = json.dumps(d, sort_keys=True)
            back = json.loads(text)
            total += len(text) + len(json.dumps(back, sort_keys=True))
    print("checksum", total)


main()
