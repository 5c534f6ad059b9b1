"""Schemathesis against the server's own `/openapi.json` (issue 19's proof): every check,
positive and negative data, the stateful phase along the document's links, a bounded number of
examples, each run with an organization of its own. Zero failures.

The run (tests/fuzz/run.py) starts `connectors serve` on embedded defaults with a fresh data
directory, inside a network namespace of its own (`unshare --net`, only loopback): generated
requests make the server call what they name (webhook URLs, token endpoints of generated
credentials), and none of that may leave the machine. See docs/schemathesis.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import _server_bin

FUZZ = Path(__file__).resolve().parent / "fuzz"


def _isolated() -> list[str]:
    """The command prefix of a private network namespace with loopback up."""
    unshare = shutil.which("unshare")
    ip = shutil.which("ip")
    if unshare is None or ip is None:
        pytest.fail("the API fuzz run needs `unshare` (util-linux) and `ip` (iproute2)")
    probe = subprocess.run([unshare, "--net", ip, "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"cannot make a network namespace for the API fuzz run (run as root): {probe.stderr.strip()}")
    return [unshare, "--net", "sh", "-c", f'"{ip}" link set lo up && exec "$@"', "fuzz"]


def test_schemathesis_finds_nothing_against_the_openapi_document() -> None:
    cmd = [*_isolated(), sys.executable, str(FUZZ / "run.py"), str(_server_bin())]
    env = dict(os.environ)
    env.setdefault("FUZZ_MAX_EXAMPLES", "8")
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    # Both runs ran and generated cases (a failure makes the exit status non-zero).
    assert output.count("=== schemathesis ") == 2, output[-5000:]
    assert output.count(" generated, ") == 2, output[-5000:]
