"""Six buffers of 100-150 MiB written and dropped; then the resident memory left after
a second of sleep (METRIC rss_after_mb on stderr)."""
import sys
import time

for r in range(6):
    a = bytearray(b"z" * ((100 + 10 * r) << 20))
    del a
x = [1] * 10                    # an allocation after the frees: slow paths run
time.sleep(1.0)
x = [2] * 10
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
print("ok")
print("METRIC rss_after_mb", rss, file=sys.stderr)
