"""The allocation suite's request loop (Tools/bench/programs/request_loop.py: bodies of
16 B-64 KiB and a few of 256 KiB-2 MiB, the last 64 requests kept), after a block of 8
MiB made and freed, as a program that read a file whole first does. Freeing that block
raises glibc's mmap threshold to 8 MiB and its trim threshold to 16 MiB (mallopt(3)),
so stock python3.12 serves every body from its heap and keeps what is freed: 5,700
faults, 0.13-0.17 s, peak 29.0 MB. (Without the block, glibc's layout decides, which
small differences in what the process allocated first change: stock either trims its
heap's top at each large free, 58,700 faults in 0.8 s, or keeps it, 10,200 faults in
0.18 s. Doc/heap.md.) The drop-in, tracing off, measured 2026-12-07: 29,000-29,500
faults, 0.44-0.46 s (3.4x stock's time), peak 29.4-29.6 MB. Open (issue 13): idle
memory given back as fresh memory comes in (the debts, Objects/retain.c) is faulted in
again; tried the same day with a debug build, not kept: no debts at all, 7,300 faults
and 0.15 s but a peak of 35.7 MB (spans of two or three arenas find no idle run long
enough among single idle arenas and the free pages of large arenas, where glibc's one
heap fits a freed body's memory to any size); new large arenas from idle released
arenas before fresh pages in old ones, 8,400-10,000 faults and 0.19 s at 33.1-33.5 MB;
nine more changes, each trading faults for peak (Doc/heap.md)."""
import contextlib
import io
import os
import sys

# The 8 MiB block: glibc then serves the loop's bodies from its heap and trims it
# only above 16 MiB.
_ = bytes(8 << 20)
del _
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "programs"))
out = io.StringIO()
with contextlib.redirect_stdout(out):
    import request_loop  # noqa: F401  (runs the loop)
# Its phase line holds a time; the checksum is the output.
print([line for line in out.getvalue().splitlines() if line.startswith("checksum")][0])
