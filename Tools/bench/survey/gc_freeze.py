"""500,000 dicts built, frozen with gc.freeze(), then read by passes that make
temporary lists and collect."""
import gc

data = [{"id": i, "name": "n%d" % i, "tags": [i, i + 1]} for i in range(500_000)]
gc.freeze()
total = 0
for _ in range(5):
    tmp = [[d["id"], d["tags"]] for d in data[::3]]
    total += len(tmp)
    gc.collect()
print(total, gc.get_freeze_count() > 0)
