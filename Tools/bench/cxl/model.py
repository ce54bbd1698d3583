"""The CXL latency model now lives in the pypper package (Lib/pypper/_advisor.py), where
`python3 -m pypper report` uses it for its tiering advisor; this name stays for the
benchmark's tests."""
from pypper._advisor import *  # noqa: F401,F403
from pypper._advisor import _pack, _density_order, _objects  # noqa: F401
