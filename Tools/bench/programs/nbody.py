"""An ordinary CPU-bound program with little allocation: n-body float arithmetic on
a fixed set of lists."""
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def main():
    bodies = [[float(i), float(i * 2 % 7), float(i * 3 % 5), 0.01 * i, -0.02 * i, 0.005, 1.0 + i / 10]
              for i in range(5)]
    pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]
    dt = 0.01
    for _ in range(int(180_000 * SCALE)):
        for (b1, b2) in pairs:
            dx, dy, dz = b1[0] - b2[0], b1[1] - b2[1], b1[2] - b2[2]
            mag = dt / ((dx * dx + dy * dy + dz * dz + 0.01) ** 1.5)
            m1, m2 = b1[6] * mag, b2[6] * mag
            b1[3] -= dx * m2; b1[4] -= dy * m2; b1[5] -= dz * m2
            b2[3] += dx * m1; b2[4] += dy * m1; b2[5] += dz * m1
        for b in bodies:
            b[0] += dt * b[3]; b[1] += dt * b[4]; b[2] += dt * b[5]
    print("checksum", round(sum(b[0] + b[1] + b[2] for b in bodies), 6))


main()
