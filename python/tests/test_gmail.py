"""Every public call of GmailConnector against the in-process Gmail emulator."""

from __future__ import annotations

import pytest

from agent_connectors import (
    ExecuteResult,
    GmailAuthConfig,
    GmailConnector,
    InvalidParamsError,
    NotFoundError,
    UnknownActionError,
    UnknownEntityError,
    sandbox,
)


def test_execute_sync_lists_the_demo_inbox(gmail: GmailConnector) -> None:
    page = gmail.execute_sync("messages", "list", {"max_results": 5})
    assert isinstance(page, ExecuteResult)
    assert isinstance(page.result, list) and 0 < len(page.result) <= 5
    for summary in page.result:
        assert summary["id"] and summary["thread_id"]
        assert "subject" in summary and "label_ids" in summary
    assert isinstance(page.metadata.get("result_size_estimate"), int)
    assert page.to_dict() == {"result": page.result, "metadata": page.metadata}


async def test_execute_awaits_and_gets_the_listed_message(gmail: GmailConnector) -> None:
    page = await gmail.execute("messages", "list", {"max_results": 1})
    first = page.result[0]
    msg = await gmail.execute("messages", "get", {"message_id": first["id"]})
    assert msg.result["id"] == first["id"]
    assert msg.result["subject"] == first["subject"]
    assert msg.metadata == {}


def test_paging_follows_next_page_token_to_the_end(gmail: GmailConnector) -> None:
    everything = gmail.execute_sync("messages", "list", {"max_results": 500, "ids_only": True}).result
    assert len(everything) >= 3, "the demo mailbox has a few messages"
    seen: list[str] = []
    params: dict[str, object] = {"max_results": 2, "ids_only": True}
    while True:
        page = gmail.execute_sync("messages", "list", params)
        assert len(page.result) <= 2
        seen.extend(page.result)
        token = page.metadata.get("next_page_token")
        if not token:
            break
        params["page_token"] = token
    assert seen == everything


def test_profile_is_the_demo_user(gmail: GmailConnector) -> None:
    profile = gmail.execute_sync("profile", "get").result
    assert profile["email_address"] == sandbox.DEMO_USER


def test_entities_actions_schema_come_from_the_spec() -> None:
    assert {"messages", "labels", "threads", "drafts", "history", "profile"} <= set(GmailConnector.entities())
    assert {"list", "get", "get_many"} <= set(GmailConnector.actions("messages"))
    schema = GmailConnector.schema("messages", "list")
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "max_results" in schema["properties"] and "page_token" in schema["properties"]
    described = GmailConnector.describe("messages", "list")
    assert described["pagination"]["token_param"] == "page_token"
    assert described["idempotent"] is True
    with pytest.raises(UnknownEntityError, match="entities: "):
        GmailConnector.actions("mesages")
    with pytest.raises(UnknownActionError):
        GmailConnector.schema("messages", "lsit")


def test_unknown_entity_and_action_raise_their_classes(gmail: GmailConnector) -> None:
    with pytest.raises(UnknownEntityError) as info:
        gmail.execute_sync("mesages", "list", {})
    assert info.value.code == "unknown_entity"
    with pytest.raises(UnknownActionError) as action_info:
        gmail.execute_sync("messages", "lsit", {})
    assert action_info.value.code == "unknown_action"


async def test_a_typo_in_a_param_name_is_invalid_params(gmail: GmailConnector) -> None:
    with pytest.raises(InvalidParamsError) as info:
        await gmail.execute("messages", "list", {"max_result": 5})
    assert info.value.http_status == 400
    assert "max_result" in str(info.value) + str(info.value.details)


def test_a_missing_message_is_not_found(gmail: GmailConnector) -> None:
    with pytest.raises(NotFoundError) as info:
        gmail.execute_sync("messages", "get", {"message_id": "ffffffffffffffff"})
    assert info.value.details.get("provider_status") == 404


def test_params_must_be_json(gmail: GmailConnector) -> None:
    with pytest.raises(TypeError):
        gmail.execute_sync("messages", "list", {"q": object()})


def test_close_and_context_managers() -> None:
    with sandbox.gmail() as connector:
        assert connector.execute_sync("labels", "list").result
        assert connector.sandbox is not None and not connector.sandbox.closed
        sb = connector.sandbox
    assert connector.closed and sb.closed
    with pytest.raises(RuntimeError, match="closed"):
        connector.execute_sync("labels", "list")


async def test_async_context_manager() -> None:
    async with sandbox.gmail() as connector:
        labels = await connector.execute("labels", "list")
        assert any(label["id"] == "INBOX" for label in labels.result)
    assert connector.closed


def test_an_access_token_connector_pointed_at_the_emulator(gmail_sandbox: sandbox.Sandbox) -> None:
    connector = GmailConnector(
        GmailAuthConfig(access_token="any-token"), base_url=gmail_sandbox.base_url, timeout=10
    )
    assert connector.mode == "local"
    assert connector.execute_sync("profile", "get").result["email_address"] == sandbox.DEMO_USER
    assert gmail_sandbox.stats()["token_requests"] == 0
    connector.close()


def test_sandbox_mailbox_shows_the_state(gmail: GmailConnector) -> None:
    assert gmail.sandbox is not None
    box = gmail.sandbox.mailbox()
    assert box is not None and box["email"] == sandbox.DEMO_USER
    listed = gmail.execute_sync("messages", "list", {"max_results": 500, "ids_only": True}).result
    inbox_ids = [m["id"] for m in box["messages"] if "SPAM" not in m["label_ids"] and "TRASH" not in m["label_ids"]]
    assert listed == inbox_ids
    assert gmail.sandbox.mailbox("nobody@example.com") is None
