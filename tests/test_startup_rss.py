"""The executable's code a run makes resident: one 64 KiB window with tracing off, two
with a session (Makefile.pre.in: the link gathers the functions of
Tools/text_order.txt first; Doc/heap.md, "Start-up RSS").

The kernel maps a file's pages 64 KiB at a time (aligned) around a fault, so which
windows hold a page present is what the layout decides. Counted from the process's
own /proc/self/pagemap (the present bit, readable by any process), over the
executable's code mapping. These fail when Tools/text_order.txt has gone stale (rerun
Tools/text_order.py) or the link no longer applies it."""

import pytest

from conftest import BUILDINFO, run

# The list and its windows are measured for the default build (configure's -g -O2,
# GNU ld): other flags make other code (-O3, frame pointers), and a linker whose
# default script Tools/text_order_ld.sh does not know leaves the default layout.
pytestmark = [
    pytest.mark.skipif(bool(BUILDINFO["sanitizers"]),
                       reason="a sanitizer build's code is instrumented and laid out by its "
                              "own runtime"),
    pytest.mark.skipif(not BUILDINFO.get("code_ordered"),
                       reason="the link did not order the code (Tools/text_order_ld.sh "
                              "warned why)"),
    pytest.mark.skipif(BUILDINFO.get("cflags", "-g -O2") not in ("-g -O2", "-O2 -g"),
                       reason="built with CFLAGS other than the default -g -O2"),
]

# Prints the 64 KiB windows of the executable's code that hold a present page, and
# the present pages, after running WORK.
PROBE = r"""
import os, struct, sys
{work}
exe = os.path.realpath(sys.executable)
windows, pages = set(), 0
with open('/proc/self/maps') as maps, open('/proc/self/pagemap', 'rb') as pm:
    for line in maps:
        f = line.split()
        if len(f) < 6 or f[5] != exe or 'x' not in f[1]:
            continue
        lo, hi = (int(x, 16) for x in f[0].split('-'))
        offset = int(f[2], 16)
        pm.seek(lo // 4096 * 8)
        data = pm.read((hi - lo) // 4096 * 8)
        for i in range(len(data) // 8):
            if struct.unpack_from('<Q', data, i * 8)[0] >> 63:
                pages += 1
                windows.add((offset + i * 4096) // 65536)
print(len(windows), pages)
"""

# A program of its own (not one Tools/text_order.py runs): records in dicts and
# slotted objects, a set, JSON out and back, regular expressions, a growing
# bytearray and blocks of every size the heap serves, freed, and a collection.
WORK = """
import gc, json, re
class Point:
    __slots__ = ("x", "y")
    def __init__(self, x, y):
        self.x, self.y = x, y
rows = [{"id": i, "name": "n%d" % i, "tags": [i % 7, i % 11]} for i in range(15000)]
points = [Point(i, -i) for i in range(15000)]
seen = {r["name"] for r in rows if r["id"] % 3}
text = json.dumps(rows[:3000])
back = json.loads(text)
found = sum(len(m.group(0)) for m in re.finditer(r"n\\d+", text))
buf = bytearray()
for i in range(3000):
    buf += b"x" * (i % 300)
blobs = [bytes(n) for n in (700, 9000, 90000, 500000, 3 << 20)]
del rows, points, seen, back, blobs
gc.collect()
"""


def code_windows(env, work=WORK):
    r = run(["-c", PROBE.format(work=work)], env=env)
    assert r.returncode == 0, r.stderr
    windows, pages = (int(x) for x in r.stdout.split())
    return windows, pages


@pytest.mark.parametrize("env", [{}, {"PYPPER_ENABLE": "0"}], ids=["no-options", "enable-0"])
def test_a_run_without_tracing_maps_one_window_of_code(env):
    windows, pages = code_windows(env)
    assert windows == 1, f"{windows} windows ({pages} pages) of code resident"


def test_a_session_maps_two_windows_of_code():
    # Started at once, the sampler and a hand-over driven by the test hook.
    work = WORK + """
import _pypper
_pypper._test_hand_over()
"""
    windows, pages = code_windows({"PYPPER_ENABLE": "1", "PYPPER_START_DELAY_MS": "0"}, work)
    assert windows <= 2, f"{windows} windows ({pages} pages) of code resident"
