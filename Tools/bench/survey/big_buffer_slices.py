"""buffer_slices.py's loop with buffers of 16 MiB and a page (a program reading large
fixed-size chunks and keeping half of each): every buffer is freed when the next one
is made, each half copy when the next is. Stock python3.12 serves them from glibc's
heap once its mmap threshold has learnt the size (no page fault after the third
iteration). The drop-in, tracing off, measured 2026-12-07 (`harm_survey.py --rounds 3
--programs big_buffer_slices`): 2.8x stock's time, 3.9x its page faults (99,000
against 25,500), 0.9-1.0x its peak RSS. Two spans of near sizes (17 and 9 arenas)
cycle through idle memory that no single idle run holds, and each iteration gives
back and faults in again about 8 MiB of it (the retention's "two spans cycling at
once", Objects/retain.c; 38 mistakes counted). Open (issue 13). Tried the same day and
not kept: moving idle arenas' pages into such a span with mremap (no fault, no copy):
16 MiB buffers 1.5x stock's time and 30,700 faults, but 4 MiB buffers went from 1.3x
to 2.6x stock's time with fewer faults: on this machine kind a moved page costs a
hidden fault when first touched (the hypervisor's page tables), and the moves then
ran at every iteration where the faults had settled."""
from buffer_slices import main

if __name__ == "__main__":
    print(main((16 << 20) + 4096, 40))
