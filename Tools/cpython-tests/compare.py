"""Run CPython's regression suite (or part of it) under the drop-in twice, without
and with tracing (PYPPER_ENABLE=1), and compare what each run reports: the tests that
failed, altered the execution environment, were skipped, ran no tests or were
interrupted. Tracing must change nothing (Doc/compatibility.md).

    python3 compare.py [--strict] [--log-dir DIR] -- REGRTEST-ARGS...

Exit status 0 when both runs report the same, 1 when they differ (or, with --strict,
when either run reports a failure), 2 when a run's result cannot be read. Each run's
output is kept in DIR (plain.log, traced.log)."""

import argparse
import os
import re
import subprocess
import sys
import time

# The categories of regrtest's final summary ("== Tests result: ... =="), by the
# words after "N test(s)".
CATEGORIES = {
    "failed": "failed",
    "altered the execution environment": "env changed",
    "skipped": "skipped",
    "skipped (resource denied)": "resource denied",
    "run no tests": "run no tests",
    "failed again": "failed again",
    "re-run tests": "re-run",
    "omitted": "omitted",
    "interrupted": "interrupted",
}
# "2 tests failed:" / "1 test altered the execution environment:" / "3 tests skipped:"
HEADER = re.compile(r"^(\d+) (?:tests?|re-run tests?) (.+?):$")
RESULT = re.compile(r"^== Tests result: (.+) ==$")
# "Total tests: run=38,048 (filtered) failures=3 skipped=1,397": test methods, not files.
TOTALS = re.compile(r"^Total tests: (.*)$")


def parse(text):
    """{category: set of test names} and the overall result, from regrtest's output
    (only the last summary counts: a re-run prints its own)."""
    lines = text.splitlines()
    start = max((i for i, l in enumerate(lines) if RESULT.match(l.strip())), default=None)
    if start is None:
        return None, None
    result = RESULT.match(lines[start].strip()).group(1)
    found = {name: set() for name in [*CATEGORIES.values(), "test methods"]}
    current = None
    for line in lines[start + 1:]:
        m = HEADER.match(line.strip())
        if m and not line.startswith(" "):
            words = m.group(2)
            current = next((v for k, v in CATEGORIES.items() if words == k), None)
            if "re-run" in line.split(":")[0]:
                current = "re-run"
            continue
        if not line.strip():
            current = None
            continue
        if current and line.startswith("    "):
            found[current].update(line.split())
        m = TOTALS.match(line.strip())
        if m:
            found["test methods"] = {m.group(1)}
    return found, result


def skipped_only(plain, traced):
    """Whether two "test methods" totals differ, and only in their skipped= count."""
    def strip(totals):     # {"run=2,207 (filtered) skipped=167"}: its words but skipped=
        return {w for t in totals for w in t.split() if not w.startswith("skipped=")}
    return plain != traced and strip(plain) == strip(traced)


def run(python, args, env, log):
    t0 = time.monotonic()
    with open(log, "w") as out:
        rc = subprocess.call([python, "-m", "test", *args], env=env, stdout=out,
                             stderr=subprocess.STDOUT)
    seconds = time.monotonic() - t0
    with open(log, errors="replace") as f:
        found, result = parse(f.read())
    return rc, found, result, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=os.path.join(os.getcwd(), "python3"))
    ap.add_argument("--log-dir", default="build/cpython-tests")
    ap.add_argument("--strict", action="store_true",
                    help="also fail when a run reports a failed test or changed environment")
    ap.add_argument("regrtest_args", nargs=argparse.REMAINDER)
    opts = ap.parse_args()
    args = opts.regrtest_args[1:] if opts.regrtest_args[:1] == ["--"] else opts.regrtest_args
    os.makedirs(opts.log_dir, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYPPER_")}
    runs = {}
    for name, extra in (("plain", {}), ("traced", {"PYPPER_ENABLE": "1"})):
        log = os.path.join(opts.log_dir, f"{name}.log")
        print(f"cpython-tests: {name} run ({'PYPPER_ENABLE=1 ' if extra else ''}"
              f"python3 -m test {' '.join(args)}), output in {log}", flush=True)
        rc, found, result, seconds = run(opts.python, args, {**base, **extra}, log)
        if found is None:
            print(f"cpython-tests: the {name} run printed no result (exit {rc}); see {log}")
            return 2
        counts = [f"{k} {len(v)}" for k, v in found.items() if v and k != "test methods"]
        print(f"cpython-tests: {name}: {result} in {seconds:.0f} s, exit {rc}; "
              + "; ".join([", ".join(counts), *found["test methods"]]).lstrip("; "), flush=True)
        runs[name] = found
    differ = False
    for category in [*CATEGORIES.values(), "test methods"]:
        plain, traced = runs["plain"][category], runs["traced"][category]
        if category == "test methods" and skipped_only(plain, traced):
            # A few test methods skip themselves depending on the machine's load or
            # timing (seen: 167 against 169 skips of 2,207 on a loaded 2-core VM,
            # not reproduced file by file); the files' results above still must agree.
            print(f"cpython-tests: note: skipped test methods differ: traced "
                  f"{' '.join(sorted(traced - plain))}; plain {' '.join(sorted(plain - traced))}")
            continue
        if plain != traced:
            differ = True
            print(f"cpython-tests: DIFFERENT {category}: only traced: "
                  f"{' '.join(sorted(traced - plain)) or '-'}; only plain: "
                  f"{' '.join(sorted(plain - traced)) or '-'}")
    bad = {n: sorted(r["failed"] | r["env changed"] | r["interrupted"]) for n, r in runs.items()}
    for name, tests in bad.items():
        if tests:
            print(f"cpython-tests: {name} run: failed or changed the environment: {' '.join(tests)}")
    if differ:
        print("cpython-tests: FAILED: tracing changes what the suite reports")
        return 1
    if opts.strict and any(bad.values()):
        print("cpython-tests: FAILED: the runs agree, but tests fail (--strict)")
        return 1
    print("cpython-tests: the same with and without tracing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
