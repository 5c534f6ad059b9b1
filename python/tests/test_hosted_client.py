"""The hosted client's protocol, against a scripted stand-in server: token caching and renewal
after a 401, the connector lookup done once, error bodies mapped to exception classes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from agent_connectors import (
    ConflictError,
    GmailConnector,
    HostedAuthConfig,
    NotFoundError,
    ProviderError,
    RateLimitedError,
)


def connector_record(connector_id: str, customer: str) -> dict[str, Any]:
    """A connector as the server lists it (`ConnectorView`)."""
    return {
        "id": connector_id,
        "organization_id": "org-1",
        "customer_name": customer,
        "connector_type": "gmail",
        "definition_id": "gmail-definition",
        "name": f"gmail ({customer})",
        "replication_config": {"include_spam_and_trash": False},
        "status": "active",
        "status_reason": None,
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
    }


class FakeServer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.connectors: list[dict[str, Any]] = [connector_record("conn-1", "acme")]
        self.execute_answer: tuple[int, dict[str, Any] | bytes] | None = None


@pytest.fixture
def fake() -> Iterator[tuple[FakeServer, str]]:
    state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any] | bytes) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            auth = self.headers.get("authorization", "")
            ok = auth.startswith("Bearer ") and auth[7:] in state.valid_tokens
            ok = ok and self.headers.get("x-organization-id") == "org-1"
            if not ok:
                self._send(401, {"error": {"code": "unauthenticated", "message": "bad token", "details": {}}})
            return ok

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            state.calls.append(("GET", url.path, query))
            if not self._authorized():
                return
            if url.path == "/base/api/v1/integrations/connectors":
                found = [c for c in state.connectors if c["customer_name"] == query.get("customer_name")]
                self._send(200, {"data": found})
            else:
                self._send(404, {"error": {"code": "not_found", "message": "no route", "details": {}}})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
            state.calls.append(("POST", url.path, body))
            if url.path == "/base/api/v1/account/applications/token":
                if body != {"client_id": "app-1", "client_secret": "app-secret"}:
                    self._send(401, {"error": {"code": "unauthenticated", "message": "bad client", "details": {}}})
                    return
                state.tokens_issued += 1
                token = f"tok-{state.tokens_issued}"
                state.valid_tokens.add(token)
                self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
                return
            if not self._authorized():
                return
            if url.path == "/base/api/v1/integrations/connectors/conn-1/execute":
                if state.execute_answer:
                    self._send(*state.execute_answer)
                    return
                self._send(
                    200,
                    {
                        "result": [{"echo": body}],
                        "connector_metadata": {"connector_id": "conn-1", "next_page_token": "p2"},
                    },
                )
            else:
                self._send(404, {"error": {"code": "not_found", "message": "no route", "details": {}}})

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/base"
    httpd.shutdown()
    httpd.server_close()


def _connector(url: str, customer: str = "acme", connector_id: str | None = None) -> GmailConnector:
    return GmailConnector(
        HostedAuthConfig(url, "app-1", "app-secret", "org-1", customer, connector_id=connector_id)
    )


async def test_token_and_connector_id_are_fetched_once(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    gmail = _connector(url)
    first = await gmail.execute("messages", "list", {"max_results": 3}, idempotency_key="k1")
    assert first.result == [
        {"echo": {"entity": "messages", "action": "list", "params": {"max_results": 3}, "idempotency_key": "k1"}}
    ]
    assert first.metadata == {"connector_id": "conn-1", "next_page_token": "p2"}
    gmail.execute_sync("labels", "list")
    await gmail.execute("labels", "list")
    paths = [path for _, path, _ in state.calls]
    assert paths.count("/base/api/v1/account/applications/token") == 1
    assert paths.count("/base/api/v1/integrations/connectors") == 1
    lookup = next(q for m, p, q in state.calls if p.endswith("/integrations/connectors"))
    assert lookup == {"customer_name": "acme", "connector_type": "gmail"}
    assert paths.count("/base/api/v1/integrations/connectors/conn-1/execute") == 3


def test_a_revoked_token_is_renewed_once(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    gmail = _connector(url)
    gmail.execute_sync("labels", "list")
    state.valid_tokens.clear()
    gmail.execute_sync("labels", "list")
    assert state.tokens_issued == 2


def test_explicit_connector_id_skips_the_lookup(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    _connector(url, customer="whoever", connector_id="conn-1").execute_sync("labels", "list")
    assert not any(p.endswith("/integrations/connectors") for _, p, _ in state.calls)


def test_customer_without_or_with_several_connectors(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    with pytest.raises(NotFoundError, match="ghost"):
        _connector(url, customer="ghost").execute_sync("labels", "list")
    state.connectors.append(connector_record("conn-2", "acme"))
    with pytest.raises(ConflictError, match="connector_id"):
        _connector(url).execute_sync("labels", "list")


def test_error_bodies_become_their_classes(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    state.execute_answer = (
        429,
        {"error": {"code": "rate_limited", "message": "slow down", "details": {"retry_after": 7}}},
    )
    with pytest.raises(RateLimitedError) as info:
        _connector(url).execute_sync("labels", "list")
    assert info.value.retry_after == 7
    assert info.value.message == "slow down"


def test_an_answer_with_a_renamed_field_is_a_decode_error_naming_it(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    record = state.connectors[0]
    record["type"] = record.pop("connector_type")
    with pytest.raises(ProviderError, match=r"unknown field `type`.*`data\[0\]\.type`") as info:
        _connector(url).execute_sync("labels", "list")
    assert info.value.details == {"path": "data[0].type"}


def test_an_error_body_with_a_renamed_field_is_a_decode_error_naming_it(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    state.execute_answer = (
        404,
        {"error": {"kind": "not_found", "message": "no such message", "details": {}}},
    )
    with pytest.raises(ProviderError, match=r"unknown field `kind`.*`error\.kind`") as info:
        _connector(url).execute_sync("labels", "list")
    assert info.value.details == {"path": "error.kind"}


def test_an_error_page_that_is_not_json_takes_the_code_of_its_status(fake: tuple[FakeServer, str]) -> None:
    state, url = fake
    state.execute_answer = (429, b"<html>slow down</html>")
    with pytest.raises(RateLimitedError, match="HTTP 429"):
        _connector(url).execute_sync("labels", "list")
