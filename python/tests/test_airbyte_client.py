"""Airbyte's own Gmail agent connector (PyPI `airbyte-agent-gmail`, hosted mode) against our
server, unchanged: it names actions its way (`messages.create` to send, `messages.update` for
labels, `messages_trash.create`, `drafts_send.create`, ...), sends Gmail's camelCase params and
reads results through its own pydantic models. The mapping lives in specs/gmail.json (`compat`)
and docs/airbyte-compatibility.md.

The package declares Python >= 3.13 but runs on 3.10+; python/ci.sh installs it with
`--ignore-requires-python`. It is imported through importlib so that `mypy --strict` on these
tests does not type-check Airbyte's package.
"""

from __future__ import annotations

import base64
import importlib
from typing import Any

import pytest

from agent_connectors import GmailConnector, HostedAuthConfig


def _raw(subject: str, to: str = "ada@example.com", extra: str = "") -> str:
    text = f"To: {to}\r\nSubject: {subject}\r\n{extra}\r\nSent by Airbyte's client.\r\n"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def airbyte(server: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    # The client's documented switch for a local backend (cloud_utils/client.py).
    monkeypatch.setenv("SDK_DEV_ADP_API_HOST", server["server_url"])
    # No analytics calls to Segment from a test (telemetry/config.py).
    monkeypatch.setenv("AIRBYTE_TELEMETRY_MODE", "disabled")
    ab = importlib.import_module("airbyte_agent_gmail")
    return ab.GmailConnector(
        auth_config=ab.AirbyteAuthConfig(
            airbyte_client_id=server["client_id"],
            airbyte_client_secret=server["client_secret"],
            organization_id=server["organization_id"],
            connector_id=server["connectors"]["gmail"],
        )
    )


def _ours(server: dict[str, Any]) -> GmailConnector:
    return GmailConnector(
        HostedAuthConfig(
            server_url=server["server_url"],
            client_id=server["client_id"],
            client_secret=server["client_secret"],
            organization_id=server["organization_id"],
            customer_name=server["customer_name"],
        )
    )


async def test_airbyte_client_lists_and_reads(airbyte: Any, server: dict[str, Any]) -> None:
    health = await airbyte.check()
    assert health.status == "healthy" and health.checked_entity == "profile", health

    page = await airbyte.messages.list(max_results=2, label_ids="INBOX")
    assert 0 < len(page.data) <= 2
    first = page.data[0]
    # Their MessageRef model reads `threadId` or `thread_id`: the thread must arrive.
    assert first.id and first.thread_id
    assert page.meta is not None and page.meta.next_page_token
    nxt = await airbyte.messages.list(max_results=2, label_ids="INBOX", page_token=page.meta.next_page_token)
    assert {m.id for m in nxt.data}.isdisjoint({m.id for m in page.data})

    msg = await airbyte.messages.get(message_id=first.id)
    assert msg["id"] == first.id and msg["thread_id"] == first.thread_id
    assert "INBOX" in msg["label_ids"]

    thread = await airbyte.threads.get(thread_id=first.thread_id)
    assert first.id in [m["id"] for m in thread["messages"]]
    labels = await airbyte.labels.list()
    assert "INBOX" in [label.id for label in labels.data]


async def test_airbyte_client_sends_labels_and_trashes(airbyte: Any, server: dict[str, Any]) -> None:
    ours = _ours(server)
    sent = await airbyte.messages.create(raw=_raw("from airbyte's messages.create"))
    got = ours.execute_sync("messages", "get", {"message_id": sent["id"]}).result
    assert got["subject"] == "from airbyte's messages.create"
    assert "SENT" in got["label_ids"]

    label = await airbyte.labels.create(
        name="Airbyte test", color={"textColor": "#000000", "backgroundColor": "#16a766"}
    )
    assert label["name"] == "Airbyte test"
    await airbyte.messages.update(message_id=sent["id"], add_label_ids=[label["id"]])
    got = ours.execute_sync("messages", "get", {"message_id": sent["id"]}).result
    assert label["id"] in got["label_ids"]

    renamed = await airbyte.labels.update(label_id=label["id"], id=label["id"], name="Airbyte renamed")
    assert renamed["name"] == "Airbyte renamed"

    await airbyte.messages_trash.create(message_id=sent["id"])
    got = ours.execute_sync("messages", "get", {"message_id": sent["id"]}).result
    assert "TRASH" in got["label_ids"]
    await airbyte.messages_untrash.create(message_id=sent["id"])
    got = ours.execute_sync("messages", "get", {"message_id": sent["id"]}).result
    assert "TRASH" not in got["label_ids"]


async def test_airbyte_client_drafts_and_replies_in_thread(airbyte: Any, server: dict[str, Any]) -> None:
    ours = _ours(server)
    inbox = await airbyte.messages.list(max_results=1, label_ids="INBOX")
    original = ours.execute_sync("messages", "get", {"message_id": inbox.data[0].id}).result
    subject = original["subject"] or ""
    reply_subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    headers = f"In-Reply-To: {original['message_id']}\r\nReferences: {original['message_id']}\r\n"
    draft = await airbyte.drafts.create(
        message={"raw": _raw(reply_subject, extra=headers), "threadId": original["thread_id"]}
    )
    sent = await airbyte.drafts_send.create(id=draft["id"])
    got = ours.execute_sync("messages", "get", {"message_id": sent["id"]}).result
    assert got["subject"] == reply_subject
    assert got["thread_id"] == original["thread_id"]
    assert "SENT" in got["label_ids"]


async def test_airbyte_names_keep_our_errors(airbyte: Any) -> None:
    # A name neither ours nor Airbyte's is still refused, naming the nearest of ours.
    with pytest.raises(Exception) as info:
        await airbyte.execute("messages", "list", {"maxResutls": 5})
    assert "max_results" in str(info.value)
