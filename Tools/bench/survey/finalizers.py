"""Objects with weakref callbacks, __del__ and weakref.finalize, made and dropped."""
import weakref

count = [0]


class Node:
    def __init__(self, i):
        self.i = i
        self.data = [i] * 4

    def __del__(self):
        count[0] += 1


def gone(_ref):
    count[0] += 1


for rnd in range(30):
    nodes = [Node(i) for i in range(10000)]
    refs = [weakref.ref(n, gone) for n in nodes[::2]]
    for n in nodes[::5]:
        weakref.finalize(n, gone, None)
    del nodes, refs
print(count[0] > 0)
