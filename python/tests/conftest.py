"""Shared fixtures: in-process sandbox emulators (no network, no credentials), and a
`connectors serve --sandbox` started once per test module for the hosted-mode tests.

The server binary comes from `cargo build --bin connectors` (python/ci.sh builds it); set
AGENT_CONNECTORS_SERVER_BIN to use another path.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_connectors import GmailConnector, OutlookConnector, sandbox


@pytest.fixture
def gmail() -> Iterator[GmailConnector]:
    connector = sandbox.gmail(quotas=False)
    yield connector
    connector.close()


@pytest.fixture
def outlook() -> Iterator[OutlookConnector]:
    connector = sandbox.outlook(quotas=False)
    yield connector
    connector.close()


@pytest.fixture
def gmail_sandbox() -> Iterator[sandbox.Sandbox]:
    sb = sandbox.start("gmail", quotas=False)
    yield sb
    sb.close()


REPO = Path(__file__).resolve().parents[2]


def _server_bin() -> Path:
    env = os.environ.get("AGENT_CONNECTORS_SERVER_BIN")
    candidates = [Path(env)] if env else []
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        candidates.append(Path(target) / "debug" / "connectors")
    candidates.append(REPO / "target" / "debug" / "connectors")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail(
        "the `connectors` binary is missing: run `cargo build --bin connectors` "
        "or set AGENT_CONNECTORS_SERVER_BIN"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("connectors-data")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(_server_bin()), "serve", "--sandbox", "--bind", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"connectors serve exited: {(data_dir / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                    if resp.status == 200 and (data_dir / "sandbox.json").exists():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("connectors serve did not become healthy in 60 s")
            time.sleep(0.1)
        info: dict[str, Any] = json.loads((data_dir / "sandbox.json").read_text())
        info["server_url"] = url
        yield info
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
