"""buffer_slices.py's loop with buffers of 16 MiB and a page (a program reading large
fixed-size chunks and keeping half of each): every buffer is freed when the next one
is made, each half copy when the next is. Stock python3.12 serves them from glibc's
heap once its mmap threshold has learnt the size (no page fault after the third
iteration). The drop-in, tracing off, took 2.8x stock's time and 3.9x its page faults
until 2026-12-07 (99,000 against 25,500): two spans of near sizes (17 and 9 arenas)
cycled through idle memory that no single idle run held. Since then a span takes the
window of touching idle and purged runs with the most idle arenas, the bound learns
from the window's purges together, and a long span takes the end of an idle run
that fits its block (Doc/heap.md "Spans of near sizes cycling through idle memory"):
26,900 faults, about stock's time. A try not kept: moving idle arenas' pages into
such a span with mremap (no fault, no copy) made 4 MiB buffers 2.6x slower on this
machine kind, whose moved pages cost a hidden fault when first touched."""
from buffer_slices import main

if __name__ == "__main__":
    print(main((16 << 20) + 4096, 40))
