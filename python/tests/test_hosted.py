"""Hosted mode: the same connector through a `connectors serve --sandbox` the test starts.

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

from agent_connectors import (
    GmailConnector,
    HostedAuthConfig,
    InvalidParamsError,
    NotFoundError,
    OutlookConnector,
    UnauthenticatedError,
    UnknownEntityError,
)

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


def _auth(server: dict[str, Any], **overrides: Any) -> HostedAuthConfig:
    fields = dict(
        server_url=server["server_url"],
        client_id=server["client_id"],
        client_secret=server["client_secret"],
        organization_id=server["organization_id"],
        customer_name=server["customer_name"],
    )
    fields.update(overrides)
    return HostedAuthConfig(**fields)


async def test_hosted_gmail_lists_and_reads(server: dict[str, Any]) -> None:
    async with GmailConnector(_auth(server)) as gmail:
        assert gmail.mode == "hosted"
        page = await gmail.execute("messages", "list", {"max_results": 2})
        assert isinstance(page.result, list) and 0 < len(page.result) <= 2
        assert page.metadata["entity"] == "messages" and page.metadata["action"] == "list"
        assert page.metadata["connector_id"] == server["connectors"]["gmail"]
        first = page.result[0]
        msg = gmail.execute_sync("messages", "get", {"message_id": first["id"]})
        assert msg.result["id"] == first["id"] and msg.result["subject"] == first["subject"]


def test_hosted_and_local_errors_are_the_same_classes(server: dict[str, Any]) -> None:
    gmail = GmailConnector(_auth(server))
    with pytest.raises(InvalidParamsError) as info:
        gmail.execute_sync("messages", "list", {"max_result": 5})
    assert info.value.code == "invalid_params"
    with pytest.raises(UnknownEntityError):
        gmail.execute_sync("mesages", "list", {})
    with pytest.raises(NotFoundError):
        gmail.execute_sync("messages", "get", {"message_id": "ffffffffffffffff"})


def test_hosted_connector_id_given_explicitly(server: dict[str, Any]) -> None:
    gmail = GmailConnector(_auth(server, connector_id=server["connectors"]["gmail"]))
    assert gmail.execute_sync("profile", "get").result["email_address"] == "ada@example.com"


def test_a_wrong_client_secret_is_unauthenticated(server: dict[str, Any]) -> None:
    gmail = GmailConnector(_auth(server, client_secret="not-the-secret"))
    with pytest.raises(UnauthenticatedError) as info:
        gmail.execute_sync("profile", "get")
    assert "not-the-secret" not in str(info.value)


def test_an_unknown_customer_is_not_found(server: dict[str, Any]) -> None:
    gmail = GmailConnector(_auth(server, customer_name="nobody"))
    with pytest.raises(NotFoundError, match="nobody"):
        gmail.execute_sync("profile", "get")


def test_hosted_outlook(server: dict[str, Any]) -> None:
    if "outlook" not in server["connectors"]:
        pytest.fail("the server's sandbox has no Outlook connector")
    outlook = OutlookConnector(_auth(server))
    page = outlook.execute_sync("messages", "list", {"top": 2})
    assert 0 < len(page.result) <= 2
