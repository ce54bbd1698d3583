"""Workloads of the CXL estimate: the accuracy benchmark's workloads (imported from
Tools/bench/accuracy/workloads.py, unchanged) plus one where object-level segregation
has something to work with that page-level placement has not.

site_mix: SiteMix records (__slots__ idx, value, stamp), a random 10% of them hot. The
two kinds come from two allocation sites (make_hot / make_cold below) and are
allocated interleaved, so on the stock heap layout the hot ones are spread over every
page of the registry: a page-granular policy can only keep whole pages, each holding
~10% hot bytes. Phase 0 ("churn") replaces records (each replacement allocates the new
record from its kind's site while the old one dies) and reads them with the skew of
phase 1, so a session started before phase 0 sees the sites' temperatures while most
of the registry is re-allocated; phase 1 (judged) only reads: 90% of the reads go to
the hot 10% (uniformly), 10% to the cold 90% (uniformly).
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ACC_DIR = os.path.join(os.path.dirname(HERE), "accuracy")
if ACC_DIR not in sys.path:
    sys.path.insert(0, ACC_DIR)

import workloads as acc  # noqa: E402


class SiteMixRecord:
    __slots__ = ("idx", "value", "stamp")

    def __init__(self, idx, value):
        self.idx = idx
        self.value = value
        self.stamp = 0


def make_hot(i, value):
    return SiteMixRecord(i, value)


def make_cold(i, value):
    return SiteMixRecord(i, value)


class SiteMix(acc.Workload):
    name = "site_mix"
    objects = 20000
    object_type = "SiteMixRecord: __slots__ (idx, value, stamp); hot/cold from two sites"
    description = "10% hot records from one allocation site interleaved with 90% cold"
    base_ops = (3_000_000, 6_000_000)
    judge_note = "exact access counts of phase 1 (reads only)"
    HOT_FRACTION = 0.10
    P_HOT = 0.90
    REPLACE_EVERY = 4      # phase 0: one replacement every this many operations

    def __init__(self, seed):
        super().__init__(seed)
        rng = acc._rng(self.name, seed, "plan")
        perm = list(range(self.objects))
        rng.shuffle(perm)
        nhot = int(self.objects * self.HOT_FRACTION)
        self.hot = sorted(perm[:nhot])
        self.cold = sorted(perm[nhot:])
        self.is_hot = bytearray(self.objects)
        for i in self.hot:
            self.is_hot[i] = 1

    def expected(self):
        exp = [0.0] * self.objects
        for i in self.hot:
            exp[i] = self.P_HOT / len(self.hot)
        for i in self.cold:
            exp[i] = (1.0 - self.P_HOT) / len(self.cold)
        return exp

    def _new(self, i, value):
        return make_hot(i, value) if self.is_hot[i] else make_cold(i, value)

    def build(self):
        self.registry = [self._new(i, (i * 17) % 1013) for i in range(self.objects)]
        return self.registry

    def run_phase(self, phase, ops):
        rand = acc._rng(self.name, self.seed, "phase%d" % phase).random
        reg = self.registry
        hot = self.hot
        cold = self.cold
        nh = len(hot)
        nc = len(cold)
        p_hot = self.P_HOT
        churn = phase == 0
        every = self.REPLACE_EVERY
        new = self._new
        acc_sum = 0
        for t in range(ops):
            if rand() < p_hot:
                i = hot[int(rand() * nh)]
            else:
                i = cold[int(rand() * nc)]
            if churn and t % every == 0:
                # Replace a uniformly chosen record (hot or cold): the old one dies.
                j = int(rand() * len(reg))
                reg[j] = new(j, reg[j].value)
            acc_sum += reg[i].value
        return acc_sum


WORKLOADS = dict(acc.WORKLOADS)
WORKLOADS[SiteMix.name] = SiteMix


# ---------------------------------------------------------------- one workload's process
# The command line and main() of the processes that run one of these workloads and write
# its result as JSON (run_cxl.py for the CXL estimate, ../advisor_child.py for the
# advisor error).

def child_parser(description, modes):
    """NAME --mode MODE --scale S --seed N --out FILE [--dump-prefix PATH]."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    ap.add_argument("--mode", required=True, choices=modes)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dump-prefix", default=None)
    return ap


def run_child(args, oracle_probe, other_probe, who, **extra):
    """Builds args.workload, then its probe (oracle_probe(dump prefix) in --mode oracle,
    the dumps next to --out unless --dump-prefix says; other_probe() otherwise), runs
    it, and writes its result plus extra to --out. Returns the exit status: 3 when
    --mode oracle ran outside the oracle (no counts), else 0."""
    import run_workload     # (Tools/bench/accuracy) its result writer
    wl = WORKLOADS[args.workload](args.seed)
    if args.mode == "oracle":
        prefix = args.dump_prefix or os.path.splitext(os.path.abspath(args.out))[0]
        probe = oracle_probe(prefix)
    else:
        probe = other_probe()
    result = acc.run(args.workload, args.mode, args.scale, args.seed,
                     probe=probe, workload=wl)
    result.update(extra)
    run_workload.write_result(args.out, result)
    if args.mode == "oracle" and not result.get("oracle_active"):
        print("%s: --mode oracle outside the oracle: no counts" % who, file=sys.stderr)
        return 3
    return 0
