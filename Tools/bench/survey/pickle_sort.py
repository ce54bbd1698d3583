"""A list of 250,000 records pickled and loaded back, and 500,000 strings sorted."""
import pickle

records = [{"id": i, "name": "user%d" % i, "score": i * 0.5} for i in range(250_000)]
blob = pickle.dumps(records)
back = pickle.loads(blob)
words = ["w%07d" % ((i * 7919) % 500_000) for i in range(500_000)]
words.sort()
print(len(blob) > 0, back[-1]["id"], words[0], words[-1])
