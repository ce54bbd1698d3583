#!/bin/sh
# Tools/setup.sh: installs what building and testing Pypper needs on Debian 12 or
# Ubuntu 24.04, and only what is missing: a C compiler and make, the development files
# of Linux (uapi headers), libpfm4 and zlib, Debian's pytest, valgrind (the access
# oracle is a Valgrind tool built against its headers), and CPython 3.12 with its headers where
# the distribution has it (Ubuntu 24.04: python3.12-dev). Debian 12 has no CPython 3.12
# package: there configure finds a pyenv or /usr/local build, or says what to do.
# Also chromium, for the test that opens `pypper report`'s HTML in a headless browser
# (tests/test_report.py; about 100 MB; when apt cannot install it, setup says so and
# that one test skips, saying why).
# Runs as root, or through sudo.
set -eu

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "setup: run as root or install sudo" >&2; exit 1; fi
fi

want="gcc make libc6-dev linux-libc-dev libpfm4-dev zlib1g-dev python3-pytest valgrind"

have_python312() {
    command -v python3.12-config >/dev/null 2>&1 && python3.12-config --includes >/dev/null 2>&1 && return 0
    for c in /usr/local/bin/python3.12-config /usr/bin/python3.12-config \
             "${PYENV_ROOT:-/nonexistent}"/versions/3.12*/bin/python3.12-config \
             "$HOME"/.pyenv/versions/3.12*/bin/python3.12-config \
             /root/.pyenv/versions/3.12*/bin/python3.12-config; do
        [ -x "$c" ] && return 0
    done
    return 1
}

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
need_py=no
have_python312 || need_py=yes

if [ -n "$missing" ] || [ "$need_py" = yes ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "setup: installing:${missing}$( [ "$need_py" = yes ] && echo ' python3.12-dev (if available)')"
    $SUDO apt-get update -qq
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -qq $missing >/dev/null
    fi
    if [ "$need_py" = yes ]; then
        if apt-cache show python3.12-dev >/dev/null 2>&1; then
            $SUDO apt-get install -y -qq python3.12-dev >/dev/null
        else
            echo "setup: this distribution has no python3.12-dev package; build CPython 3.12" >&2
            echo "setup: (for example with pyenv, --enable-shared) and pass" >&2
            echo "setup: ./configure --with-python-config=/path/to/python3.12-config" >&2
            exit 1
        fi
    fi
fi

# The browser of the report test: optional, installed apart so its absence does not
# stop the build (Debian: chromium; Ubuntu: chromium-browser, a snap shim).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    echo "setup: installing chromium (the report test's headless browser)"
    if ! { $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 ||
           { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; }; }; then
        echo "setup: could not install chromium: tests/test_report.py's browser test will skip" >&2
    fi
fi
