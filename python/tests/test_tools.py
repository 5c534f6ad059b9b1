"""Tool definitions and the tool_utils decorator."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

from agent_connectors import (
    GmailConnector,
    InvalidParamsError,
    OutlookConnector,
    PayloadTooLargeError,
    UnknownActionError,
)


def _names_and_schemas(tools: list[dict[str, Any]], fmt: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for tool in tools:
        if fmt == "openai":
            assert tool["type"] == "function"
            fn = tool["function"]
            assert fn["description"]
            out[fn["name"]] = fn["parameters"]
        else:
            assert tool["description"]
            out[tool["name"]] = tool["input_schema"]
    return out


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
@pytest.mark.parametrize("cls", [GmailConnector, OutlookConnector])
def test_one_typed_tool_per_action(cls: type[GmailConnector] | type[OutlookConnector], fmt: str) -> None:
    tools = cls.tools(format=fmt)  # type: ignore[arg-type]
    by_name = _names_and_schemas(tools, fmt)
    expected = {(e, a) for e in cls.entities() for a in cls.actions(e)}
    assert len(by_name) == len(expected) == len(tools)
    # Each tool's schema is the action's params schema.
    for entity, action in expected:
        matches = [name for name in by_name if entity in name and action in name]
        assert matches, f"no tool for {entity}.{action}"
    list_tool = next(s for n, s in by_name.items() if n.startswith("messages") and n.endswith("list"))
    assert list_tool["properties"].keys() == cls.schema("messages", "list")["properties"].keys()


def test_unknown_tool_format() -> None:
    with pytest.raises(InvalidParamsError, match="openai"):
        GmailConnector.tools(format="gemini")  # type: ignore[arg-type]


def test_single_execute_tool_carries_the_catalogue() -> None:
    tool = GmailConnector.execute_tool()
    assert set(tool) >= {"name", "description", "input_schema"}
    assert set(tool["input_schema"]["properties"]) >= {"entity", "action", "params"}
    assert "messages" in tool["description"]


def test_tool_utils_appends_the_catalogue_with_paging_rules() -> None:
    @GmailConnector.tool_utils
    async def gmail_tool(entity: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Use my Gmail."""
        return {}

    doc = inspect.getdoc(gmail_tool) or ""
    assert doc.startswith("Use my Gmail.")
    assert GmailConnector.catalogue().strip() in doc
    for entity in GmailConnector.entities():
        assert entity in doc
    assert "page_token" in doc and "next_page_token" in doc
    assert "max_results" in doc
    # The signature and annotations survive for frameworks that read them.
    assert list(inspect.signature(gmail_tool).parameters) == ["entity", "action", "params"]
    assert inspect.iscoroutinefunction(gmail_tool)


async def test_tool_utils_guards_the_output_size(gmail: GmailConnector) -> None:
    @GmailConnector.tool_utils(max_output_chars=300)
    async def gmail_tool(entity: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Gmail."""
        return (await gmail.execute(entity, action, params)).to_dict()

    small = await gmail_tool("messages", "list", {"max_results": 1, "ids_only": True})
    assert len(small["result"]) == 1
    with pytest.raises(PayloadTooLargeError) as info:
        await gmail_tool("messages", "list", {"max_results": 20})
    message = str(info.value)
    assert "over the limit of 300" in message
    assert "`max_results` (for example 5)" in message
    assert "`page_token`" in message and "`q`" in message
    assert info.value.details["limit"] == 300 and info.value.details["size"] > 300
    assert info.value.details["entity"] == "messages"


def test_tool_utils_wraps_sync_functions_and_checks_the_limit() -> None:
    @OutlookConnector.tool_utils(max_output_chars=10)
    def tool(entity: str, action: str, params: dict[str, Any]) -> str:
        return json.dumps(params)

    assert tool("messages", "list", {}) == "{}"
    with pytest.raises(PayloadTooLargeError, match="`top`"):
        tool("messages", "list", {"search": "x" * 20})
    with pytest.raises(ValueError):
        OutlookConnector.tool_utils(max_output_chars=0)


async def test_call_tool_routes_tool_calls_back_to_execute(gmail: GmailConnector) -> None:
    # Per-action tool, arguments as the JSON text a model produces.
    page = await gmail.call_tool("messages_list", '{"max_results": 2, "ids_only": true}')
    assert len(page.result) == 2
    # Entities with underscores route correctly.
    send_as = gmail.call_tool_sync("send_as_list", {})
    assert any(s["send_as_email"] == "ada@example.com" for s in send_as.result)
    # The single execute tool.
    name = GmailConnector.execute_tool()["name"]
    got = gmail.call_tool_sync(name, {"entity": "messages", "action": "get", "params": {"message_id": page.result[0]}})
    assert got.result["id"] == page.result[0]
    with pytest.raises(UnknownActionError):
        gmail.call_tool_sync("messages_lsit", {})
    with pytest.raises(InvalidParamsError):
        gmail.call_tool_sync("messages_list", "{not json")
    with pytest.raises(InvalidParamsError, match="entity"):
        gmail.call_tool_sync(name, {"action": "list"})
    # Every advertised tool name routes.
    for tool in GmailConnector.tools(format="anthropic"):
        GmailConnector._route(tool["name"], {})
