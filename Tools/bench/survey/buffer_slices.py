"""A buffer a little over 1 MiB and a copy of its first half, made anew in a loop (as
a program reading fixed-size chunks and keeping part of each does): every buffer is
freed when the next one is made. Until 2026-12-06 the drop-in gave the freed buffer's
memory back to pay for the copy's fresh pages, and the next buffer faulted it in
again: 13-24x stock's time."""

CHUNK = (1 << 20) + 4096


def main(chunk=CHUNK, iterations=600):
    total = 0
    for i in range(iterations):
        buf = bytearray(chunk)
        buf[i % chunk] = 1
        head = bytes(buf[: chunk // 2])
        total += len(head) + head.count(1)
    return total


if __name__ == "__main__":
    print(main())
