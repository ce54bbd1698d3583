"""A small object-oriented simulation: agents with methods, attribute access and
short-lived vectors moving in a bounded world."""
import random
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y)

    def scale(self, k):
        return Vec(self.x * k, self.y * k)


class Agent:
    def __init__(self, rng, ident):
        self.ident = ident
        self.pos = Vec(rng.random() * 100, rng.random() * 100)
        self.vel = Vec(rng.random() - 0.5, rng.random() - 0.5)
        self.energy = 100.0
        self.history = []

    def step(self):
        self.pos = self.pos + self.vel.scale(0.9)
        if not 0 <= self.pos.x <= 100:
            self.vel = Vec(-self.vel.x, self.vel.y)
        if not 0 <= self.pos.y <= 100:
            self.vel = Vec(self.vel.x, -self.vel.y)
        self.energy -= 0.01
        if len(self.history) > 8:
            self.history.pop(0)
        self.history.append((round(self.pos.x, 2), round(self.pos.y, 2)))


def main():
    rng = random.Random(3)
    agents = [Agent(rng, i) for i in range(500)]
    for _ in range(int(1000 * SCALE)):
        for a in agents:
            a.step()
    print("checksum", round(sum(a.pos.x + a.pos.y + a.energy for a in agents), 4))


main()
