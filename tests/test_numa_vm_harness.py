"""Tools/numa-vm/run boots the two-node guest: two NUMA nodes, two memory tiers, node 1
without CPUs, and COMMAND's exit code comes back. One boot (about 5-10 s under TCG).
Skips (loudly) when the VM cannot run here. `make test` prepares the guest
(make numa-vm-setup) before this phase, so a first and a later run test the same; when
that preparation failed, its status file says why and this test skips with it."""

import os
import subprocess

import pytest

from conftest import BUILDDIR, SRCDIR

RUN = os.path.join(SRCDIR, "Tools", "numa-vm", "run")
STATUS = os.path.join(BUILDDIR, "build", "numa-vm", "setup-status")
# The guest's scratch directory is $TMPDIR: a tmpfs on /tmp, or on /run/numavm-tmp when
# the tree is under the host's /tmp (which the guest then shows, read-only).
PROBE = r"""
echo "online=$(cat /sys/devices/system/node/online)"
for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
  echo "tier ${t##*memory_tier} nodes=$(cat $t/nodelist)"
done
echo "cpus1=$(cat /sys/devices/system/node/node1/cpulist)"
echo "cwd=$(pwd)"
echo "tmpdir=$TMPDIR"
touch "$TMPDIR/scratch" && echo "tmp=writable"
grep -q '\[stack\]' /proc/self/maps && echo "proc=ok"
exit 7
"""


def under_host_tmp(path):
    return path == "/tmp" or path.startswith("/tmp/")


def test_vm_boots_two_nodes_two_tiers():
    try:
        with open(STATUS) as f:
            status = f.read().strip()
    except FileNotFoundError:
        status = None            # not prepared by make (make pytest alone): try anyway
    if status is not None and status != "ready":
        pytest.skip(f"numa VM not prepared: {status.removeprefix('skipped: ')} (make numa-vm-setup)")
    r = subprocess.run([RUN, "--mem-fast", "256M", "--mem-slow", "128M", "--timeout", "150",
                        "--", "sh", "-c", PROBE],
                       cwd=BUILDDIR, capture_output=True, text=True, timeout=200)
    if r.returncode == 77:
        reason = [l for l in r.stderr.splitlines() if "SKIPPED" in l] or [r.stderr[-300:]]
        pytest.skip("numa VM cannot run here: " + reason[0].strip("* ")
                    + " (Tools/numa-vm/setup.sh prepares it)")
    assert r.returncode == 7, f"exit code not passed back: {r.returncode}\n{r.stdout}\n{r.stderr}"
    lines = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l and " " not in l)
    tiers = [l for l in r.stdout.splitlines() if l.startswith("tier ")]
    assert lines.get("online") == "0-1", r.stdout
    assert len(tiers) == 2, f"expected two memory tiers:\n{r.stdout}"
    by_node = {t.split("nodes=")[1]: int(t.split()[1]) for t in tiers}
    assert by_node["0"] < by_node["1"], f"node 0 must be the faster tier: {tiers}"
    assert lines.get("cpus1") == "", f"node 1 must have no CPUs: {r.stdout}"
    assert lines.get("cwd") == BUILDDIR, r.stdout
    runs_under_tmp = under_host_tmp(os.path.abspath(os.environ.get("NUMAVM_DIR") or BUILDDIR))
    scratch = "/run/numavm-tmp" if under_host_tmp(BUILDDIR) or runs_under_tmp else "/tmp"
    assert lines.get("tmpdir") == scratch, r.stdout
    assert lines.get("tmp") == "writable", r.stdout
    # /proc and /sys are different file systems in one 9p export (multidevs=remap).
    assert lines.get("proc") == "ok", r.stdout
