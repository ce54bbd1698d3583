"""How well page write heat alone ranks objects, beside the frame sampler's
temperatures: the workloads of Tools/bench/accuracy, each in a fresh ./python3
process, a session started before the measured phase (as accuracy_bench.py does); right
after the phase one synchronous write-tracking scan (_pypper._test_wt_scan), then every
registry object's page history (the page holding its header) and its temperature.

Truth here is the workload generator's access probabilities of the judged phase
(workloads.expected(): what an ideal estimator could know; no Valgrind run), so the
figures are cheap to reproduce and comparable between estimators, not the oracle's
exact counts. Per estimator: capture@10% (truth mass of its top 10% over the true top
10%'s), recall of the true top 10%, Spearman. Estimators: frames (temperature()),
page heat (written in k of the last 8 scans; ties broken by the most recent scans:
the history as a number), a page-level ideal (each object scored by its page's total
truth: the best any page-granular signal can do), and random.

    ./python3 Tools/bench/wt_accuracy.py [--scale 0.3] [--workloads a,b]
        [--option NAME=VALUE]... [--json FILE]
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ACC = os.path.join(HERE, "accuracy")
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ACC)

import metrics  # noqa: E402

CHILD = r"""
import json, sys
sys.path.insert(0, %(acc)r)
import workloads, _pypper

class Probe(workloads.PypperProbe):
    def finish(self, registry):
        # The sampler parked first: reading every object from a Python frame would
        # show it to the sampler; map() keeps them out of the frames.
        _pypper._test_hold_sampler(True)
        _pypper._test_wt_scan()            # the pages written up to the phase's end
        hist = list(map(_pypper.page_history, registry))
        pages = [a >> 12 for a in map(id, registry)]
        wt = _pypper.write_tracking_stats()
        out = super().finish(registry)
        out.update(histories=hist, pages=pages, wt=wt)
        return out

name, scale, opts = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
wl = workloads.WORKLOADS[name](1)
res = workloads.run(name, "pypper", scale, 1, probe=Probe(opts), workload=wl)
res["expected"] = wl.expected()
res.pop("timeline", None)
json.dump(res, sys.stdout)
"""


def judge(truth, scores):
    return {"capture": round(metrics.capture(truth, scores) or 0.0, 3),
            "recall": round(metrics.recall(truth, scores), 3),
            "spearman": round(metrics.spearman(truth, scores) or 0.0, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--workloads", default="zipf_kv,graph_walk,phase_shift,lru_scan")
    ap.add_argument("--option", action="append", default=[])
    ap.add_argument("--json")
    args = ap.parse_args()
    opts = {"write_tracking": "on", **dict(o.split("=", 1) for o in args.option)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPPER_")}
    env["PYTHONHASHSEED"] = "0"
    report = {}
    for name in args.workloads.split(","):
        r = subprocess.run([os.path.join(ROOT, "python3"), "-c", CHILD % {"acc": ACC}, name,
                            str(args.scale), json.dumps(opts)],
                           capture_output=True, text=True, env=env, timeout=1800)
        if r.returncode != 0:
            raise SystemExit(f"{name}: {r.stderr}")
        res = json.loads(r.stdout)
        truth = res["expected"]
        temps = [t if t is not None else -1.0 for t in res["temperatures"]]
        hist = [h if h is not None else -1 for h in res["histories"]]
        heat = [bin(h).count("1") * 256 + int("{:08b}".format(h)[::-1], 2) if h >= 0 else -1
                for h in hist]
        page_truth = {}
        for p, t in zip(res["pages"], truth):
            page_truth[p] = page_truth.get(p, 0.0) + t
        page_ideal = [page_truth[p] for p in res["pages"]]
        rnd = random.Random(1)
        row = {"frames": judge(truth, temps), "page_heat": judge(truth, heat),
               "page_ideal": judge(truth, page_ideal),
               "random": judge(truth, [rnd.random() for _ in truth]),
               "scans": res["wt"]["scans"], "signal": res["wt"]["signal"],
               "pages_all_written": sum(1 for h in hist if h == 255),
               "pages_tracked": len(set(p for p, h in zip(res["pages"], hist) if h >= 0)),
               "measured_seconds": round(res["measured_seconds"], 2)}
        report[name] = row
        print(name, json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
