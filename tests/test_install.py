"""`make install` puts python3-pypper and the pypper package under a prefix without
touching the base interpreter, and the installed drop-in works from there."""

import os
import subprocess

from conftest import BUILDDIR, STOCK, clean_env


def test_make_install_to_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run(["make", "-s", "install", f"prefix={prefix}"], cwd=BUILDDIR,
                       capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r.stderr
    exe = prefix / "bin" / "python3-pypper"
    assert exe.is_file()
    assert (prefix / "lib" / "pypper" / "pypper" / "__init__.py").is_file()
    assert (prefix / "include" / "pypper" / "pypper.h").is_file()
    code = "import sys, pypper; print(sys.executable, pypper.MODE, pypper.__file__)"
    r = subprocess.run([str(exe), "-c", code], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r.stderr
    executable, mode, location = r.stdout.split()
    assert executable == str(exe) and mode == "drop-in"
    assert location.startswith(str(prefix / "lib" / "pypper"))
    # The base interpreter is untouched: no pypper importable there.
    r = subprocess.run([STOCK, "-c", "import pypper"], capture_output=True, text=True,
                       env=clean_env())
    assert r.returncode == 1 and "No module named 'pypper'" in r.stderr
    # DESTDIR staging works too.
    stage = tmp_path / "stage"
    r = subprocess.run(["make", "-s", "install", "prefix=/opt/pp", f"DESTDIR={stage}"],
                       cwd=BUILDDIR, capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(stage / "opt" / "pp" / "bin" / "python3-pypper")
