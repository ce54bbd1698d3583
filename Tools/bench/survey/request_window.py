"""The allocation suite's request loop (Tools/bench/programs/request_loop.py: bodies of
16 B-64 KiB and a few of 256 KiB-2 MiB, the last 64 requests kept), after a block of 8
MiB made and freed, as a program that read a file whole first does. Freeing that block
raises glibc's mmap threshold to 8 MiB and its trim threshold to 16 MiB (mallopt(3)),
so stock python3.12 serves every body from its heap and keeps what is freed: 5,500
faults, 0.13 s, peak 28.0-28.2 MB. (Without the block, glibc's layout decides, which
small differences in what the process allocated first change: stock either trims its
heap's top at each large free, 58,700 faults in 0.8 s, or keeps it, 10,200 faults in
0.18 s. Doc/heap.md.) The drop-in, tracing off, made 29,500-33,400 faults in 0.46-0.64
s (3.4x stock's time) until 2026-12-07: freed bodies of 1-2 MiB (spans of whole
arenas) went back to pay for the fresh pages of page runs, and the next bodies faulted
them in again. With one heap of pages across arena edges (Objects/page_runs.c): 5,900
faults, 0.14-0.21 s, peak 29.1 MB (Doc/heap.md, "One heap of pages")."""
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
