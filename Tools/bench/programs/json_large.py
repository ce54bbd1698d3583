"""JSON of a large document: a ~3.4 MB document (12 K records with nested lists and
dicts) serialized with json.dumps (its output grows to ~3.4 MB of str, twice: default
and compact separators) and parsed back with json.loads (fresh trees of ~250 K
objects), twice; each result dropped at the next round."""
import json

from _phases import count, phase


def record(i):
    h = i * 2_654_435_761 % 2**32
    return {
        "id": i,
        "name": f"user-{i:06d}",
        "email": f"user{i}@example.org",
        "score": h % 100_000 / 100,
        "active": h % 10 < 7,
        "tags": [f"t{(h >> k) % 500}" for k in range(h % 7 + 1)],
        "history": [{"t": 1_600_000_000 + (h >> k) % 10**7, "v": (h * k) % 10**6}
                    for k in range(h % 6)],
        "address": {"city": f"city{h % 300}", "zip": f"{h % 10**5:05d}"},
    }


def main():
    doc = {"version": 3, "records": [record(i) for i in range(count(12_000))]}
    total = 0
    for _ in range(2):
        with phase("dumps"):
            text = json.dumps(doc)
            compact = json.dumps(doc, separators=(",", ":"))
        with phase("loads"):
            back = json.loads(text)
            back2 = json.loads(compact)
        total += len(text) + len(compact) + len(back["records"]) + back2["records"][-1]["id"]
        del text, compact, back, back2
    print("checksum", total)


main()
