"""PYPPER_* variables in the drop-in: bad values and unknown names stop the
interpreter with one clear line and status 2 before any user code runs; good values
reach pypper.config() with their source; `python3 -m pypper options` lists them."""

import json

import pytest

BAD_VALUES = [
    ("SAMPLE_HZ", "abc", "an integer from 1 to 100000"),
    ("SAMPLE_HZ", "0", "an integer from 1 to 100000"),
    ("SAMPLE_HZ", "100001", "an integer from 1 to 100000"),
    ("SAMPLE_HZ", "", "an integer"),
    ("SAMPLE_HZ", " 10", "an integer"),
    ("ENABLE", "maybe", "1/0, true/false"),
    ("STATS", "2", "1/0, true/false"),
    ("BACKEND", "cxl", "one of auto, numa, pageout, sim"),
    ("LOG", "verbose", "one of off, error, warn, info, debug"),
    ("FAST_BUDGET", "1.5G", "a size in bytes"),
    ("FAST_BUDGET", "0%", "percentage above 0"),
    ("FAST_BUDGET", "150%", "at most 100"),
    ("FAST_BUDGET", "-1", "a size in bytes"),
    ("FAST_NODES", "0-", "a NUMA node list"),
    ("SLOW_NODES", "1024", "nodes 0 to 1023"),
    ("MIGRATE_INTERVAL_MS", "0", "an integer from 1 to 3600000"),
    ("MIGRATE_MBPS", "-5", "an integer from 0 to 1000000"),
    ("HOT_THRESHOLD", "1.5", "a number from 0 to 1"),
    ("HOT_THRESHOLD", "nan", "a number from 0 to 1"),
    ("TRACE_FILE", "x" * 5000, "shorter than 4096 bytes"),
]


@pytest.mark.parametrize("name,value,accepts", BAD_VALUES)
def test_bad_value_exits_2_with_one_line(dropin, name, value, accepts):
    r = dropin("-c", "print('user code ran')", env={f"PYPPER_{name}": value})
    assert r.returncode == 2
    assert r.stdout == ""                      # no user code ran
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert f"PYPPER_{name}" in lines[0]
    assert accepts in lines[0]
    assert repr(value)[:20].strip("'") in lines[0] or "..." in lines[0]


def test_sample_hz_abc_exact_message(dropin):
    r = dropin("-c", "pass", env={"PYPPER_SAMPLE_HZ": "abc"})
    assert r.returncode == 2
    assert r.stderr == ("pypper: bad value 'abc' for PYPPER_SAMPLE_HZ: "
                        "expected an integer from 1 to 100000\n")


def test_unknown_variable_suggests(dropin):
    r = dropin("-c", "pass", env={"PYPPER_SAMPL_HZ": "10"})
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1
    assert "unknown variable PYPPER_SAMPL_HZ" in r.stderr
    assert "did you mean PYPPER_SAMPLE_HZ?" in r.stderr


def test_unknown_variable_without_close_match(dropin):
    r = dropin("-c", "pass", env={"PYPPER_WHATEVER_THIS_IS": "1"})
    assert r.returncode == 2
    assert "unknown variable PYPPER_WHATEVER_THIS_IS" in r.stderr
    assert "did you mean" not in r.stderr


def test_enum_value_typo_suggests(dropin):
    r = dropin("-c", "pass", env={"PYPPER_BACKEND": "pagout"})
    assert r.returncode == 2
    assert "did you mean pageout?" in r.stderr


def test_bad_value_stops_before_script_runs(dropin, tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "s.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    r = dropin(str(script), env={"PYPPER_LOG": "loud"})
    assert r.returncode == 2
    assert not marker.exists()


def test_similar_prefix_is_not_an_option(dropin):
    r = dropin("-c", "print('ok')", env={"PYPPERX": "1", "XPYPPER_SAMPLE_HZ": "abc"})
    assert r.returncode == 0 and r.stdout == "ok\n"


def test_good_values_reach_config_with_sources(dropin):
    code = ("import pypper, json; c = pypper.config(); "
            "print(json.dumps([c, {o.name: o.source for o in pypper.options()}]))")
    r = dropin("-c", code, env={"PYPPER_SAMPLE_HZ": "250", "PYPPER_FAST_BUDGET": "512M",
                                "PYPPER_BACKEND": "SIM", "PYPPER_HOT_THRESHOLD": "0.75",
                                "PYPPER_ENABLE": "off"})
    assert r.returncode == 0, r.stderr
    config, sources = json.loads(r.stdout)
    assert config["sample_hz"] == 250
    assert config["fast_budget"] == 512 << 20
    assert config["fast_nodes"] == [] and config["slow_nodes"] == []
    assert config["backend"] == "sim"
    assert config["hot_threshold"] == 0.75
    assert config["enable"] is False
    assert sources["sample_hz"] == "env" and sources["log"] == "default"


def test_options_command_lists_every_option_with_source(dropin):
    r = dropin("-m", "pypper", "options", env={"PYPPER_MIGRATE_MBPS": "0"})
    assert r.returncode == 0, r.stderr
    for name in ("ENABLE", "BACKEND", "FAST_NODES", "SLOW_NODES", "FAST_BUDGET", "SAMPLE_HZ",
                 "MIGRATE_INTERVAL_MS", "MIGRATE_MBPS", "HOT_THRESHOLD", "TRACE_FILE", "LOG",
                 "STATS"):
        assert f"PYPPER_{name}" in r.stdout
    line = next(l for l in r.stdout.splitlines() if l.startswith("PYPPER_MIGRATE_MBPS"))
    assert line.split()[1:] == ["0", "(env)"]
    line = next(l for l in r.stdout.splitlines() if l.startswith("PYPPER_SAMPLE_HZ"))
    assert line.split()[1:] == ["100", "(default)"]


def test_options_command_json(dropin):
    r = dropin("-m", "pypper", "options", "--json", env={"PYPPER_LOG": "debug"})
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["log"]["value"] == "debug" and rows["log"]["source"] == "env"
    assert rows["sample_hz"]["type"] == "int" and rows["sample_hz"]["default"] == "100"
    assert all(row["help"] and row["accepts"] for row in rows.values())


def test_docs_document_every_option():
    import os
    import pypper
    from conftest import SRCDIR
    with open(os.path.join(SRCDIR, "Doc", "options.md")) as f:
        readme = f.read()
    for row in pypper.options():
        assert f"| `{row.env}` |" in readme, row.env


def test_node_lists_parse(stock):
    # Parsing only (the extension's config() does not check the machine's nodes).
    r = stock("-c", "import pypper; c = pypper.config(); print(c['fast_nodes'], c['slow_nodes'])",
              env={"PYPPER_FAST_NODES": "0", "PYPPER_SLOW_NODES": "1-2,4"})
    assert r.stdout == "[0] [1, 2, 4]\n", r.stderr


def test_node_override_naming_missing_node_exits_2(dropin):
    import pypper
    missing = max(n["node"] for n in pypper.topology()["nodes"]) + 1
    r = dropin("-c", "print('ran')", env={"PYPPER_SLOW_NODES": str(missing)})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"pypper: PYPPER_SLOW_NODES names node {missing}, but this "
                               "machine's NUMA nodes are: ")
    assert len(r.stderr.splitlines()) == 1
