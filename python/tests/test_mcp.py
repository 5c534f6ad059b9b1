"""MCP: the official Python MCP client (PyPI `mcp`, pinned in pyproject's `test` extra) against
`connectors mcp` (stdio, sandbox) and `connectors serve --sandbox` (`/mcp`, streamable HTTP).

The server binary comes from `cargo build --bin connectors` (python/ci.sh builds it); set
AGENT_CONNECTORS_SERVER_BIN to use another path.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx2
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from agent_connectors import sandbox
from agent_connectors.errors import ConnectorError
from conftest import REPO, _server_bin

SPECS = REPO / "specs"
ATTACHMENT = b"%PDF-1.4 not really a pdf \x00\x01\x02 but bytes that must survive\n"


# ---------------------------------------------------------------------------------------------
# Sessions


@asynccontextmanager
async def stdio_session(
    *args: str, handshake: str = "initialize", env: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """`connectors mcp ARGS` as a subprocess; `handshake`: `initialize` (2025-11-25) or
    `discover` (2026-07-28)."""
    params = StdioServerParameters(
        command=str(_server_bin()), args=["mcp", *args], env={"RUST_LOG": "warn", **(env or {})}
    )
    with tempfile.TemporaryFile("w+") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await _handshake(session, handshake)
                yield session


@asynccontextmanager
async def http_session(url: str, token: str, handshake: str = "discover") -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await _handshake(session, handshake)
                yield session


async def _handshake(session: ClientSession, handshake: str) -> None:
    if handshake == "initialize":
        result = await session.initialize()
        assert result.protocol_version == "2025-11-25"
    else:
        await session.discover()
        assert session.protocol_version == "2026-07-28"


def _post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json, text/event-stream")
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = text.decode()
        return e.code, dict(e.headers), parsed


def _token(server_url: str, client_id: str, client_secret: str) -> str:
    status, _, body = _post(
        f"{server_url}/api/v1/account/applications/token",
        {"client_id": client_id, "client_secret": client_secret},
        {},
    )
    assert status == 200, body
    token: str = body["access_token"]
    return token


@pytest.fixture(scope="module")
def token(server: dict[str, Any]) -> str:
    return _token(server["server_url"], server["client_id"], server["client_secret"])


# ---------------------------------------------------------------------------------------------
# Results


async def call(session: ClientSession, name: str, args: dict[str, Any], **kw: Any) -> types.CallToolResult:
    """Calls a tool; the client checks structured content against the tool's outputSchema."""
    result = await session.call_tool(name, args, **kw)
    assert isinstance(result, types.CallToolResult), result
    return result


async def ok(session: ClientSession, name: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result = await call(session, name, args, **kw)
    assert not result.is_error, _text(result)
    structured = result.structured_content
    assert isinstance(structured, dict), structured
    # The text the model reads is the same JSON.
    assert json.loads(_text(result)) == structured
    return cast(dict[str, Any], structured)


def _text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def _links(result: types.CallToolResult) -> list[types.ResourceLink]:
    return [c for c in result.content if isinstance(c, types.ResourceLink)]


async def read_blob(session: ClientSession, uri: str) -> bytes:
    read = await session.read_resource(uri)
    assert isinstance(read, types.ReadResourceResult), read
    (contents,) = read.contents
    assert isinstance(contents, types.BlobResourceContents), contents
    return base64.b64decode(contents.blob)


def _specs() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(SPECS.glob("*.json")):
        spec: dict[str, Any] = json.loads(path.read_text())
        out[spec["name"]] = spec
    return out


def _tool_dicts(tools: list[types.Tool]) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools]


# ---------------------------------------------------------------------------------------------
# stdio


async def test_stdio_initialize_lists_tools_and_runs_read_and_write_tools() -> None:
    async with stdio_session("gmail", "--sandbox") as s:
        tools = (await s.list_tools()).tools
        spec = _specs()["gmail"]
        assert len(tools) == sum(len(e["actions"]) for e in spec["entities"].values())
        listed = await ok(s, "gmail_messages_list", {"max_results": 3})
        assert 1 <= len(listed["result"]) <= 3
        assert "next_page_token" in listed["metadata"]

        # Write: send to ourselves with an attachment, then find the attachment as a resource.
        subject = f"mcp stdio {uuid.uuid4()}"
        sent = await ok(
            s,
            "gmail_messages_send",
            {
                "to": ["ada@example.com"],
                "subject": subject,
                "text": "see attachment",
                "attachments": [
                    {
                        "filename": "report.pdf",
                        "mime_type": "application/pdf",
                        "content_base64": base64.b64encode(ATTACHMENT).decode(),
                    }
                ],
            },
        )
        got = await call(s, "gmail_messages_get", {"message_id": sent["result"]["id"]})
        assert not got.is_error, _text(got)
        (link,) = _links(got)
        assert link.name == "report.pdf"
        assert link.mime_type == "application/pdf"
        assert link.uri.startswith("connectors://")
        assert "content_base64" not in _text(got)
        assert await read_blob(s, link.uri) == ATTACHMENT

        # attachments.get returns a resource URI, not the bytes.
        att = (got.structured_content or {})["result"]["attachments"][0]
        fetched = await ok(
            s, "gmail_attachments_get", {"message_id": sent["result"]["id"], "attachment_id": att["attachment_id"]}
        )
        assert fetched["result"]["resource_uri"] == link.uri
        assert "content_base64" not in fetched["result"]


async def test_stdio_discover_and_compact_mode() -> None:
    async with stdio_session("outlook", "--sandbox", "--compact", handshake="discover") as s:
        tools = (await s.list_tools()).tools
        assert [t.name for t in tools] == ["list_actions", "describe_action", "execute"]
        catalogue = await ok(s, "list_actions", {})
        actions = {(a["entity"], a["action"]) for a in catalogue["actions"]}
        spec = _specs()["outlook"]
        assert actions == {(e, a) for e, ent in spec["entities"].items() for a in ent["actions"]}
        described = await ok(s, "describe_action", {"entity": "messages", "action": "send"})
        assert described["annotations"]["readOnlyHint"] is False
        assert described["params"]["properties"]["to"]["type"] == "array"
        listed = await ok(s, "execute", {"entity": "messages", "action": "list", "params": {"top": 2}})
        assert len(listed["result"]) == 2


async def test_tool_errors_carry_the_code_and_the_fix_hint() -> None:
    async with stdio_session("gmail", "--sandbox", "--compact") as s:
        bad = await call(s, "execute", {"entity": "messages", "action": "list", "params": {"max_result": 3}})
        assert bad.is_error
        text = _text(bad)
        assert text.startswith("Error invalid_params:"), text
        assert "What to do: Fix the params named in details.errors" in text
        assert bad.meta is not None and bad.meta["error"]["code"] == "invalid_params"
        missing = await call(s, "execute", {"entity": "messages", "action": "get", "params": {"message_id": "18c2a4f0ffffffff"}})
        assert missing.is_error and _text(missing).startswith("Error not_found:")


async def test_stdio_with_credentials_reaches_the_provider_and_refreshes_its_token() -> None:
    """`connectors mcp gmail --credentials` (here from the environment, as a desktop client's
    config would pass them) against an emulator: reads, and a refresh after the access token
    expires, with no sandbox of the server's own."""
    sb = sandbox.start("gmail", quotas=False)
    try:
        creds = {
            "refresh_token": sb.issue_refresh_token(),
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        }
        env = {"CONNECTORS_MCP_CREDENTIALS": json.dumps(creds)}
        args = ("gmail", "--base-url", sb.base_url, "--token-url", sb.token_url)
        async with stdio_session(*args, env=env) as s:
            profile = await ok(s, "gmail_profile_get", {})
            assert profile["result"]["email_address"] == "ada@example.com"
            first = sb.stats()["token_requests"]
            assert first >= 1, "the access token came from the refresh token"
            sb.expire_access_tokens()
            listed = await ok(s, "gmail_messages_list", {"max_results": 2})
            assert len(listed["result"]) == 2
            assert sb.stats()["token_requests"] > first, "refreshed after the token expired"
        # Wrong credentials: the tool error says what the user must do.
        sb.revoke_refresh_token(creds["refresh_token"])
        async with stdio_session(*args, env=env) as s:
            bad = await call(s, "gmail_profile_get", {})
            assert bad.is_error
            assert bad.meta is not None and bad.meta["error"]["code"] in ("needs_reauth", "unauthenticated"), _text(bad)
    finally:
        sb.close()


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in records]


async def test_mcp_and_the_python_bindings_share_one_execute_path() -> None:
    """The same calls through MCP (stdio, sandbox) and through the Python bindings (in
    process, sandbox): the same records, and the same validation errors word for word."""
    py = sandbox.gmail(quotas=False)
    async with stdio_session("gmail", "--sandbox") as s:
        via_mcp = await ok(s, "gmail_messages_list", {"max_results": 5, "label_ids": ["INBOX"]})
        via_py = await py.execute("messages", "list", {"max_results": 5, "label_ids": ["INBOX"]})
        assert _ids(via_mcp["result"]) == _ids(via_py.result), "same mailbox, same records"
        for bad_params in ({"max_result": 3}, {"max_results": "many"}, {"max_results": 5.5}):
            mcp_err = await call(s, "gmail_messages_list", bad_params)
            assert mcp_err.is_error and mcp_err.meta is not None
            with pytest.raises(ConnectorError) as py_err:
                await py.execute("messages", "list", bad_params)
            assert mcp_err.meta["error"]["code"] == py_err.value.code == "invalid_params", bad_params
            assert mcp_err.meta["error"]["message"] == py_err.value.message, bad_params


def _brief(schema: dict[str, Any]) -> dict[str, Any]:
    """The vocabulary of a brief output schema: a type, an object's property names each with a
    type only, an array's item type only (a part whose type the spec leaves open is `{}`)."""
    assert set(schema) <= {"type", "properties", "items"}, schema
    for part in [*schema.get("properties", {}).values(), *([schema["items"]] if "items" in schema else [])]:
        assert set(part) <= {"type"}, part
    return schema


async def test_annotations_and_schemas_come_from_the_spec_for_every_action() -> None:
    for name, spec in _specs().items():
        async with stdio_session(name, "--sandbox") as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
        async with stdio_session(name, "--sandbox", "--output-schemas", "full") as s:
            complete = {t.name: t for t in (await s.list_tools()).tools}
        expected = {f"{name}_{e}_{a}" for e, ent in spec["entities"].items() for a in ent["actions"]}
        assert set(tools) == expected
        assert set(complete) == expected
        for entity, ent in spec["entities"].items():
            for action, a in ent["actions"].items():
                tool = tools[f"{name}_{entity}_{action}"]
                effect = a["effect"]
                hints = tool.annotations
                assert hints is not None, tool.name
                assert hints.read_only_hint is (effect == "read"), tool.name
                assert hints.destructive_hint is (effect in ("update", "delete")), tool.name
                assert hints.idempotent_hint is a["idempotent"], tool.name
                assert hints.open_world_hint is True, tool.name
                params = {k: v for k, v in a["params"].items() if k not in ("$schema", "$id")}
                assert tool.input_schema == params, tool.name
                assert tool.description and tool.description.startswith(a["description"].strip()[:40])
                # With output_schemas=full the tool is the same but for the complete result schema.
                whole = complete[tool.name]
                assert (whole.description, whole.input_schema) == (tool.description, tool.input_schema)
                assert whole.output_schema is not None and tool.output_schema is not None
                result = whole.output_schema["properties"]["result"]
                props = list(a["result"].get("properties", {}))
                if "content_base64" in props:
                    assert "resource_uri" in result["properties"], tool.name
                    props = [p for p in props if p != "content_base64"] + ["resource_uri"]
                else:
                    assert result == {k: v for k, v in a["result"].items() if k != "$schema"}, tool.name
                # By default: the result's top-level shape only.
                assert tool.output_schema["required"] == ["result", "metadata"], tool.name
                brief = _brief(tool.output_schema["properties"]["result"])
                assert brief["type"] == a["result"]["type"], tool.name
                assert sorted(brief.get("properties", {})) == sorted(props), tool.name
                if "type" in a["result"].get("items", {}):
                    assert brief["items"] == {"type": a["result"]["items"]["type"]}, tool.name


async def test_structured_content_conforms_to_the_brief_and_the_complete_output_schemas() -> None:
    """The client validates structured content against the listed outputSchema on every call
    (the brief one here); the same results are checked again against the complete schemas."""
    for name in ("gmail", "outlook"):
        async with (
            stdio_session(name, "--sandbox") as s,
            stdio_session(name, "--sandbox", "--output-schemas", "full") as full,
        ):
            await s.list_tools()
            await full.list_tools()
            listed = await call(s, f"{name}_messages_list", {})
            assert not listed.is_error, _text(listed)
            first = (listed.structured_content or {})["result"][0]["id"]
            calls: list[tuple[str, dict[str, Any]]] = [
                ("profile_get", {}),
                ("messages_list", {}),
                ("messages_get", {"message_id": first}),
                ("messages_get_many", {"message_ids": [first]}),
                ("events_list", {"time_min": "2026-01-01T00:00:00Z", "time_max": "2027-01-01T00:00:00Z"}),
            ]
            for action, args in calls:
                tool = f"{name}_{action}"
                result = await call(s, tool, args)
                assert not result.is_error, _text(result)
                await s.validate_tool_result(tool, result)
                await full.validate_tool_result(tool, result)


async def _follow(session: ClientSession, tool: str, args: dict[str, Any], token_param: str) -> tuple[list[str], int]:
    """Every record id, following metadata.next_page_token; and how many results were cut."""
    ids: list[str] = []
    cut = 0
    params = dict(args)
    for _ in range(200):
        page = await ok(session, tool, params)
        ids.extend(r["id"] for r in page["result"])
        if "truncated" in page["metadata"]:
            cut += 1
            assert page["metadata"]["next_page_token"].startswith("mcp1.")
        token = page["metadata"].get("next_page_token")
        if not token:
            return ids, cut
        params = {**args, token_param: token}
    raise AssertionError("paging did not end")


async def test_stdio_an_oversized_result_is_paged_and_every_record_comes_once() -> None:
    args = {"max_results": 4}
    async with stdio_session("gmail", "--sandbox") as s:
        whole, cut = await _follow(s, "gmail_messages_list", args, "page_token")
        assert cut == 0
    async with stdio_session("gmail", "--sandbox", "--max-output-chars", "700") as s:
        paged, cut = await _follow(s, "gmail_messages_list", args, "page_token")
        first = await ok(s, "gmail_messages_list", args)
        assert len(json.dumps(first["result"])) <= 700 or len(first["result"]) == 1
    assert cut > 0
    # The mailbox spans several provider pages, and the budget cut inside them.
    assert len(whole) > 4
    assert paged == whole
    assert len(set(paged)) == len(paged)


# ---------------------------------------------------------------------------------------------
# Streamable HTTP


async def test_http_discover_and_initialize_list_tools_in_both_modes(server: dict[str, Any], token: str) -> None:
    base = f"{server['server_url']}/mcp/customers/{server['customer_name']}"
    async with http_session(base, token, handshake="initialize") as s:
        full = (await s.list_tools()).tools
    async with http_session(base + "?mode=compact", token) as s:
        compact = (await s.list_tools()).tools
    specs = _specs()
    assert len(full) == sum(len(e["actions"]) for spec in specs.values() for e in spec["entities"].values())
    assert [t.name for t in compact] == ["list_actions", "describe_action", "execute"]


async def test_http_read_and_write_tools_and_an_attachment_resource(server: dict[str, Any], token: str) -> None:
    outlook = server["connectors"]["outlook"]
    async with http_session(f"{server['server_url']}/mcp/connectors/{outlook}", token) as s:
        listed = await ok(s, "outlook_messages_list", {"top": 2})
        assert len(listed["result"]) == 2
        assert listed["metadata"]["connector_id"] == outlook
        draft = await ok(
            s,
            "outlook_messages_create_draft",
            {
                "to": ["grace@example.com"],
                "subject": f"mcp http {uuid.uuid4()}",
                "text": "draft with a file",
                "attachments": [{"filename": "notes.bin", "content_base64": base64.b64encode(ATTACHMENT).decode()}],
            },
        )
        got = await call(s, "outlook_messages_get", {"message_id": draft["result"]["id"]})
        assert not got.is_error, _text(got)
        (link,) = _links(got)
        assert link.name == "notes.bin"
        assert await read_blob(s, link.uri) == ATTACHMENT


async def test_http_idempotency_keys_apply_to_mcp_calls(server: dict[str, Any], token: str) -> None:
    gmail = server["connectors"]["gmail"]
    key = f"mcp-{uuid.uuid4()}"
    message = {"to": ["grace@example.com"], "subject": f"once {key}", "text": "exactly once"}
    async with http_session(f"{server['server_url']}/mcp/connectors/{gmail}", token) as s:
        meta = cast(types.RequestParamsMeta, {"idempotency_key": key})
        first = await ok(s, "gmail_messages_send", message, meta=meta)
        again = await ok(s, "gmail_messages_send", message, meta=meta)
        assert again["result"]["id"] == first["result"]["id"]
        assert again["metadata"].get("idempotent_replayed") is True
        other = await call(s, "gmail_messages_send", {**message, "text": "changed"}, meta=meta)
        assert other.is_error and _text(other).startswith("Error conflict:")


async def test_http_an_oversized_result_is_paged_and_every_record_comes_once(
    server: dict[str, Any], token: str
) -> None:
    url = f"{server['server_url']}/mcp/connectors/{server['connectors']['outlook']}"
    args = {"top": 10, "folder": "inbox"}
    async with http_session(url, token) as s:
        whole, cut = await _follow(s, "outlook_messages_list", args, "page_token")
        assert cut == 0
    async with http_session(url + "?max_output_chars=1500", token) as s:
        paged, cut = await _follow(s, "outlook_messages_list", args, "page_token")
    assert cut > 0
    assert paged == whole
    assert len(set(paged)) == len(paged)


def test_http_without_a_token_is_401_with_the_resource_metadata(server: dict[str, Any]) -> None:
    url = f"{server['server_url']}/mcp"
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    status, headers, body = _post(url, init, {})
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"
    challenge = {k.lower(): v for k, v in headers.items()}["www-authenticate"]
    match = re.fullmatch(r'Bearer resource_metadata="([^"]+)"', challenge)
    assert match, challenge
    with urllib.request.urlopen(match.group(1), timeout=10) as resp:
        metadata = json.loads(resp.read())
    assert metadata["resource"] == url
    assert metadata["bearer_methods_supported"] == ["header"]
    assert metadata["authorization_servers"] == [server["server_url"]]


class _MemoryTokens:
    """The token storage the SDK's OAuth providers ask for, in memory."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.client: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.client

    async def set_client_info(self, client_info: Any) -> None:
        self.client = client_info


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
async def test_http_the_official_client_discovers_how_to_authenticate_from_the_401(
    server: dict[str, Any], auth_method: str
) -> None:
    """Given only the application's client id and secret, the SDK follows the 401's resource
    metadata to this server's authorization-server metadata and gets a token through the
    client_credentials grant (RFC 9728 -> RFC 8414 -> RFC 6749 4.4)."""
    from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

    base = server["server_url"]
    url = f"{base}/mcp/connectors/{server['connectors']['gmail']}"
    storage = _MemoryTokens()
    auth = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=storage,
        client_id=server["client_id"],
        client_secret=server["client_secret"],
        token_endpoint_auth_method=auth_method,  # type: ignore[arg-type]
        issuer=base,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=60) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                profile = await ok(session, "gmail_profile_get", {})
    assert profile["result"]["email_address"] == "ada@example.com", profile
    assert storage.tokens is not None and storage.tokens.access_token, "the SDK obtained a token itself"

    # A wrong secret: the token endpoint refuses with RFC 6749's invalid_client, and the SDK stops.
    wrong = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=_MemoryTokens(),
        client_id=server["client_id"],
        client_secret="wrong-" + server["client_secret"],
        token_endpoint_auth_method=auth_method,  # type: ignore[arg-type]
        issuer=base,
    )
    with pytest.raises(Exception):
        async with httpx2.AsyncClient(auth=wrong, timeout=60) as client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()


def test_http_initialize_accepts_both_protocol_revisions(server: dict[str, Any], token: str) -> None:
    url = f"{server['server_url']}/mcp/connectors/{server['connectors']['gmail']}"
    auth = {"Authorization": f"Bearer {token}"}
    for version in ("2025-11-25", "2026-07-28"):
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        }
        status, _, body = _post(url, init, auth)
        assert status == 200, body
        # 2026-07-28 has no handshake (clients use server/discover): the answer is the newest
        # revision that has one.
        assert body["result"]["protocolVersion"] == "2025-11-25", body


def _cli(server: dict[str, Any], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(_server_bin()), *args, "--data-dir", server["data_dir"]],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    parsed: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return parsed


@pytest.fixture(scope="module")
def other_org(server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A second organization with its own application, token and Gmail connector."""
    name = f"other-{uuid.uuid4().hex[:8]}"
    org = _cli(server, "orgs", "create", name)
    app = _cli(server, "apps", "create", "--org", org["organization_id"])
    token = _token(server["server_url"], app["client_id"], app["client_secret"])
    status, _, created = _post(
        f"{server['server_url']}/api/v1/integrations/connectors",
        {"customer_name": "bob", "connector_type": "gmail", "credentials": {"access_token": "bob-token"}},
        {"Authorization": f"Bearer {token}", "X-Organization-Id": org["organization_id"]},
    )
    assert status == 201, created
    yield {"organization_id": org["organization_id"], "token": token, "connector_id": created["id"]}


async def test_http_an_organization_cannot_list_or_call_another_organizations_connectors(
    server: dict[str, Any], token: str, other_org: dict[str, Any]
) -> None:
    base = server["server_url"]
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    auth = {"Authorization": f"Bearer {token}"}
    status, _, body = _post(f"{base}/mcp/connectors/{other_org['connector_id']}", init, auth)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _, body = _post(f"{base}/mcp/customers/bob", init, auth)
    assert status == 404
    status, _, body = _post(f"{base}/mcp", init, {**auth, "X-Organization-Id": other_org["organization_id"]})
    assert status == 403

    ours = set(server["connectors"].values())
    async with http_session(f"{base}/mcp?mode=compact", token) as s:
        listed = await ok(s, "list_actions", {})
        assert {c["connector_id"] for c in listed["connectors"]} == ours
    async with http_session(f"{base}/mcp", token) as s:
        for selector in (other_org["connector_id"], "bob"):
            r = await call(s, "gmail_profile_get", {"connector": selector})
            assert r.is_error and _text(r).startswith("Error not_found:"), _text(r)
        mine = await ok(s, "gmail_profile_get", {"connector": server["customer_name"]})
        assert mine["result"]["email_address"] == "ada@example.com"
    async with http_session(f"{base}/mcp?mode=compact", other_org["token"]) as s:
        listed = await ok(s, "list_actions", {})
        assert [c["connector_id"] for c in listed["connectors"]] == [other_org["connector_id"]]


# ---------------------------------------------------------------------------------------------
# Size of tools/list, and the README's client configuration


def _approx_tokens(tools: list[types.Tool]) -> int:
    """Tokens of `tools/list` as JSON, approximated as characters / 4 (no tokenizer download)."""
    return len(json.dumps(_tool_dicts(tools), separators=(",", ":"))) // 4


async def test_tools_list_size_matches_docs(server: dict[str, Any], token: str) -> None:
    """docs/mcp.md states the size of tools/list per mode; it stays right (within 10%)."""
    measured: dict[str, int] = {}
    base = f"{server['server_url']}/mcp/customers/{server['customer_name']}"
    queries = {"full": "mode=full", "compact": "mode=compact", "full, output_schemas=full": "output_schemas=full"}
    for name in ("gmail", "outlook"):
        url = f"{server['server_url']}/mcp/connectors/{server['connectors'][name]}"
        for mode, query in queries.items():
            async with http_session(f"{url}?{query}", token) as s:
                measured[f"{name} {mode}"] = _approx_tokens((await s.list_tools()).tools)
    for mode, query in queries.items():
        async with http_session(f"{base}?{query}", token) as s:
            measured[f"gmail+outlook {mode}"] = _approx_tokens((await s.list_tools()).tools)
    doc = (REPO / "docs" / "mcp.md").read_text()
    wrong = []
    for key, value in measured.items():
        found = re.search(rf"^\| {re.escape(key)} \| [\d,]+ \| ~([\d,]+) \|", doc, flags=re.M)
        documented = int(found.group(1).replace(",", "")) if found else -1
        if abs(documented - value) > value / 10:
            wrong.append(f"{key}: documented ~{documented}, measured ~{value}")
    assert not wrong, "docs/mcp.md is off: " + "; ".join(wrong)
    assert measured["gmail+outlook compact"] * 10 < measured["gmail+outlook full"]


def _readme_config() -> dict[str, Any]:
    readme = (REPO / "README.md").read_text()
    found = re.search(r"<!-- mcp-config -->\s*```json\n(.*?)```", readme, flags=re.S)
    assert found, "README.md lost its MCP client configuration block"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def test_readme_mcp_client_config_works(server: dict[str, Any], token: str) -> None:
    servers = _readme_config()["mcpServers"]
    stdio = next(v for v in servers.values() if "command" in v)
    http = next(v for v in servers.values() if "url" in v)
    assert stdio["command"] == "connectors"
    params = StdioServerParameters(command=str(_server_bin()), args=stdio["args"], env={"RUST_LOG": "warn"})
    with tempfile.TemporaryFile("w+") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                assert (await s.list_tools()).tools
    # The snippet's URL on this test's server; its header with this test's token.
    url = re.sub(r"^http://[^/]+", server["server_url"], http["url"])
    headers = {k: v.replace("${CONNECTORS_TOKEN}", token) for k, v in http["headers"].items()}
    assert http["type"] == "http"
    async with httpx2.AsyncClient(headers=headers, timeout=60) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as s:
                await s.discover()
                assert (await s.list_tools()).tools


def test_readme_config_names_real_paths() -> None:
    http = next(v for v in _readme_config()["mcpServers"].values() if "url" in v)
    assert re.fullmatch(r"http://127\.0\.0\.1:8080/mcp/customers/demo-customer(\?.*)?", http["url"]), http["url"]
    assert Path(REPO / "docs" / "mcp.md").is_file()
