"""A pool of zero-filled buffers made ahead and filled lazily: 400 bytes(262144) kept
(calloc: stock's glibc serves each from a fresh mapping, whose pages stay out of memory
until they are touched), then a header written into every tenth of them (bytearray
copies). Until 2026-12-07 the drop-in wrote every page run of 32-512 KiB with zeros:
114 MB resident and 0.33 s against stock's 11 MB and 0.04 s."""
bufs = [bytes(256 << 10) for _ in range(400)]
filled = [bytearray(b[:4096]) for b in bufs[::10]]
for i, f in enumerate(filled):
    f[:8] = i.to_bytes(8, "little")
print(len(bufs), sum(f[0] for f in filled), bufs[-1][-1])
