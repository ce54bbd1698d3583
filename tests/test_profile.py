"""Allocation-site profiles (PYPPER_PROFILE, Doc/profile.md): a run saves its per-site
statistics, the next run sends the objects of the sites found cold to slow-tier
arenas from their first allocation; the merge; what a bad path or file does."""

import json
import os
import subprocess
import textwrap

import pytest

from conftest import DROPIN, clean_env

# The allocation sites both runs share: a module, so its code is the same code object
# (same fingerprint) in every process.
SITES = '''
def make_cold(n):
    return [bytes(600) for _ in range(n)]

def make_hot(n):
    return [bytes(601) for _ in range(n)]
'''

# Driven as tests/test_migration.py drives sessions: the sampler thread is parked, the
# test samples what it touches, and the model's clock is moved past the settling time.
LEARN = '''
import gc, json, sys, pypper, _pypper
_pypper._test_hold_sampler(True)    # parked from its start: no burst first
pypper.start(backend="sim", fast_budget="50%", profile=sys.argv[1])
_pypper._test_hold_sampler(True)
import sites
cold = sites.make_cold(2000)
hot = sites.make_hot(200)
gc.collect()
_pypper._test_set_clock(2500)
def touch(objs):
    for _ in range(5):
        for o in objs:
            _pypper._test_sample()      # o is in this frame's slot
touch(hot)
pypper.migrate_now()
pypper.end()
'''

PLACE = '''
import json, sys, pypper, _pypper
{before}
_pypper._test_hold_sampler(True)    # parked from its start: no burst first
pypper.start(backend="sim", fast_budget="50%", profile=sys.argv[1])
_pypper._test_hold_sampler(True)
import sites
cold = sites.make_cold(500)
hot = sites.make_hot(500)
def slow_share(objs):
    return sum(pypper.where(o)["tier"] == "slow" for o in objs) / len(objs)
m = pypper.migration_stats()
print(json.dumps({{"cold": slow_share(cold), "hot": slow_share(hot), "passes": m["passes"],
                  "profile": m["profile"], "segregated": m["segregated"]}}))
pypper.end()
'''


def run_in(folder, code, profile, env=None):
    prog = os.path.join(folder, "prog.py")
    with open(prog, "w") as f:
        f.write(textwrap.dedent(code))
    r = subprocess.run([DROPIN, prog, profile], cwd=folder, env=clean_env(env),
                       capture_output=True, text=True, timeout=120)
    return r


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "sites.py").write_text(SITES)
    return str(tmp_path)


def learn(folder):
    profile = os.path.join(folder, "app.profile")
    r = run_in(folder, LEARN, profile)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == "", r.stderr
    with open(profile) as f:
        return profile, json.load(f)


def site(doc, function):
    rows = [s for s in doc["sites"] if s["function"] == function and s["file"].endswith("sites.py")]
    assert len(rows) == 1, doc["sites"]
    return rows[0]


def test_a_run_saves_its_sites(folder):
    profile, doc = learn(folder)
    assert doc["format"] == "pypper-profile" and doc["version"] == 1 and doc["runs"] == 1
    cold, hot = site(doc, "make_cold"), site(doc, "make_hot")
    # Every block above 512 bytes has its site: all 2000 cold objects, each counted in
    # the round after settling and in the last pass at the end.
    assert cold["objects"] >= 2000 and cold["cold_bytes"] == cold["bytes"] > 0, cold
    assert cold["line"] == 3 and cold["first_line"] == 2, cold
    assert hot["objects"] >= 200 and hot["cold_bytes"] < 0.5 * hot["bytes"], hot


@pytest.mark.parametrize("before", ["", "import sites"], ids=["imported-after-start", "imported-before"])
def test_the_next_run_places_cold_sites_from_the_first_allocation(folder, before):
    profile, _ = learn(folder)
    r = run_in(folder, PLACE.format(before=before), profile)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    # No migration round has run: the allocator placed them so.
    assert out["passes"] == 0, out
    assert out["cold"] == 1.0 and out["hot"] == 0.0, out
    assert out["segregated"] >= 500, out
    assert out["profile"]["matched_sites"] >= 1 and out["profile"]["code_objects"] >= 1, out
    # Without the profile the same run places nothing in the slow tier.
    os.unlink(profile)
    r = run_in(folder, PLACE.format(before=before), profile,
               env={"PYPPER_LOG": "error"})      # the short session's "not updated" line
    out = json.loads(r.stdout)
    assert out["cold"] == 0.0 and out["profile"]["sites"] == 0, out


def test_an_edited_function_does_not_match(folder):
    profile, _ = learn(folder)
    with open(os.path.join(folder, "sites.py"), "w") as f:
        f.write(SITES.replace("bytes(600) for _ in range(n)", "bytes(600) for _ in range(n) if n"))
    r = run_in(folder, PLACE.format(before=""), profile)
    out = json.loads(r.stdout)
    # (Other cold sites of the profile, in the standard library's code, may match.)
    assert out["cold"] == 0.0 and out["profile"]["sites"] >= 1, out


def test_merge_weighs_runs_and_drops_stale_sites():
    from pypper import _profile
    row = lambda fp, objects, nbytes, cold: (fp, 10, "f.py", "g", 1, 2, objects, nbytes, cold)
    doc = _profile.merge(None, [row(1, 100, 1000.0, 1000.0), row(2, 10, 100.0, 0.0)])
    assert doc["runs"] == 1 and _profile.cold_sites(doc) == [(1, 10)]
    # A second run sees site 1 warm: the file's half cannot keep it cold.
    doc = _profile.merge(doc, [row(1, 100, 1000.0, 0.0)])
    s1 = [s for s in doc["sites"] if s["fingerprint"] == "%016x" % 1][0]
    assert s1["bytes"] == 1500 and s1["cold_bytes"] == 500 and s1["runs"] == 2
    assert _profile.cold_sites(doc) == []
    # Site 2, unseen since run 1, is dropped after MAX_AGE runs.
    for _ in range(_profile.MAX_AGE - 2):
        doc = _profile.merge(doc, [row(1, 100, 1000.0, 0.0)])
    assert ["%016x" % 2] == [s["fingerprint"] for s in doc["sites"] if s["fingerprint"] != "%016x" % 1]
    doc = _profile.merge(doc, [row(1, 100, 1000.0, 0.0)])
    assert [s["fingerprint"] for s in doc["sites"]] == ["%016x" % 1]
    # Too few objects is no evidence.
    assert _profile.cold_sites(_profile.merge(None, [row(3, 7, 700.0, 700.0)])) == []


def test_a_profile_that_cannot_be_written_is_a_configuration_error(folder):
    bad = os.path.join(folder, "missing", "app.profile")
    r = subprocess.run([DROPIN, "-c", "print('ran')"], env=clean_env({"PYPPER_ENABLE": "1", "PYPPER_PROFILE": bad}),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == "", r
    assert r.stderr == f"pypper: cannot write PYPPER_PROFILE {bad!r}: no such folder\n", r.stderr
    r = subprocess.run([DROPIN, "-c", f"import pypper; pypper.start(profile={bad!r})"], env=clean_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == \
        f"pypper.ConfigError: cannot write profile {bad!r}: no such folder", r.stderr


@pytest.mark.parametrize("content,why", [
    (b"\x1f\x8b\x08binary", "not a Pypper profile (not JSON)"),
    (b'{"format": "other"}', "not a Pypper profile"),
    (b'{"format": "pypper-profile", "version": 99}', "a profile of format version 99, this Pypper reads 1"),
])
def test_a_file_that_is_not_a_profile_is_left_alone(folder, content, why):
    path = os.path.join(folder, "app.profile")
    with open(path, "wb") as f:
        f.write(content)
    r = subprocess.run([DROPIN, "-c", "import _pypper; _pypper._test_set_clock(2500); print('ran')"],
                       env=clean_env({"PYPPER_ENABLE": "1", "PYPPER_PROFILE": path}),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "ran\n", r
    assert r.stderr == f"pypper: warning: PYPPER_PROFILE {path!r}: {why}: not used and not replaced\n", r.stderr
    with open(path, "rb") as f:
        assert f.read() == content


def test_a_short_session_does_not_update_the_profile(folder):
    path = os.path.join(folder, "app.profile")
    r = subprocess.run([DROPIN, "-c", "print('ran')"],
                       env=clean_env({"PYPPER_ENABLE": "1", "PYPPER_PROFILE": path}),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "ran\n", r
    assert "not updated: the session was too short" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert not os.path.exists(path)


def test_a_forked_child_does_not_write_the_profile(folder):
    path = os.path.join(folder, "app.profile")
    code = textwrap.dedent(f'''
        import os, sys, pypper, _pypper
        pypper.start(profile={path!r})
        _pypper._test_set_clock(2500)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)                  # the child's exit handlers run
        os.waitpid(pid, 0)
        assert not os.path.exists({path!r})
    ''')
    r = subprocess.run([DROPIN, "-W", "ignore", "-c", code], env=clean_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    assert os.path.exists(path)          # the parent's, at its exit
