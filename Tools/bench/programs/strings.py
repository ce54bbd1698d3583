"""String processing: split, join, format, replace, encode/decode and regular
expressions over generated text."""
import re
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
WORD = re.compile(r"[a-z]+(\d+)")


def main():
    lines = ["alpha%d beta gamma%d delta,epsilon;zeta%d" % (i, i * 3, i * 7) for i in range(3000)]
    total = 0
    for _ in range(int(60 * SCALE)):
        for line in lines:
            parts = line.replace(",", " ").replace(";", " ").split()
            joined = "-".join(p.upper() for p in parts)
            total += len(joined.encode("utf-8").decode("utf-8"))
            total += sum(int(m.group(1)) for m in WORD.finditer(line)) % 1000
            total += len(f"{parts[0]:>20}|{len(parts):04d}")
    print("checksum", total)


main()
