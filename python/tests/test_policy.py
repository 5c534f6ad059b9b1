"""Send policies and approvals in process (docs/guardrails.md): the same core rules the server
applies, held by `Connector.set_policy`, decided with `approve` / `reject`."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from agent_connectors import (
    ApprovalRequiredError,
    ConflictError,
    GmailConnector,
    InvalidParamsError,
    OutlookConnector,
    PermissionDeniedError,
    RateLimitedError,
)


def _send(to: str, subject: str) -> dict[str, Any]:
    return {"to": [to], "subject": subject, "text": "Quarterly numbers attached."}


def _sent(connector: GmailConnector | OutlookConnector, subject: str) -> int:
    """How many messages with `subject` the emulator holds (Gmail: in its raw MIME; Outlook:
    in Sent Items or still in transit in Drafts/Outbox)."""
    assert connector.sandbox is not None
    if isinstance(connector, GmailConnector):
        box = connector.sandbox.mailbox()
        assert box is not None
        header = re.compile(rf"^Subject: {re.escape(subject)}\r?$", re.MULTILINE)
        return sum(1 for m in box["messages"] if header.search(m["raw"]))
    total = 0
    for folder in ("sentitems", "drafts", "outbox"):
        box = connector.sandbox.mailbox(folder=folder)
        total += sum(1 for m in (box or {}).get("messages", []) if m.get("subject") == subject)
    return total


def test_read_only_refuses_a_send_naming_the_rule_and_none_allows_it_again(gmail: GmailConnector) -> None:
    gmail.set_policy({"mode": "read_only"})
    with pytest.raises(PermissionDeniedError) as info:
        gmail.execute_sync("messages", "send", _send("ada@example.com", "ro"))
    assert info.value.details["rule"] == "mode"
    assert _sent(gmail, "ro") == 0
    # Reads still run.
    gmail.execute_sync("messages", "list", {"max_results": 1})
    gmail.set_policy(None)
    gmail.execute_sync("messages", "send", _send("ada@example.com", "ro"))
    assert _sent(gmail, "ro") == 1


def test_a_bad_policy_names_the_field(gmail: GmailConnector) -> None:
    with pytest.raises(InvalidParamsError) as info:
        gmail.set_policy({"deny_recipients": ["ok.example", "not a domain"]})
    assert "/deny_recipients/1" in str(info.value.details)
    with pytest.raises(InvalidParamsError):
        gmail.set_policy({"mode": "yolo"})


def test_the_deny_list_and_the_hourly_limit_hold(outlook: OutlookConnector) -> None:
    outlook.set_policy({"deny_recipients": ["rival.example"], "max_sends_per_hour": 1})
    with pytest.raises(PermissionDeniedError) as info:
        outlook.execute_sync("messages", "send", _send("spy@Rival.example", "deny"))
    assert info.value.details["rule"] == "deny_recipients"
    outlook.execute_sync("messages", "send", _send("ada@example.com", "first"))
    with pytest.raises(RateLimitedError):
        outlook.execute_sync("messages", "send", _send("ada@example.com", "second"))


async def test_racing_sends_take_exactly_the_places_the_hourly_limit_leaves(gmail: GmailConnector) -> None:
    # Sends gathered at once run on several runtime threads: each checks the limit and counts
    # itself in one step, so no two take the same last place.
    gmail.set_policy({"max_sends_per_hour": 4})
    outcomes = await asyncio.gather(
        *(gmail.execute("messages", "send", _send("ada@example.com", f"race-{i}")) for i in range(16)),
        return_exceptions=True,
    )
    sent = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, RateLimitedError)]
    assert (len(sent), len(refused)) == (4, 12), outcomes
    assert sum(_sent(gmail, f"race-{i}") for i in range(16)) == 4


@pytest.mark.parametrize("kind", ["gmail", "outlook"])
def test_an_approved_send_goes_out_once_and_a_rejected_one_never(
    kind: str, gmail: GmailConnector, outlook: OutlookConnector
) -> None:
    connector: GmailConnector | OutlookConnector = gmail if kind == "gmail" else outlook
    connector.set_policy({"require_approval": "all"})
    message = _send("ada@example.com", f"approve-{kind}")
    with pytest.raises(ApprovalRequiredError) as info:
        connector.execute_sync("messages", "send", message)
    approval_id = info.value.details["approval_id"]
    pending = connector.approval(approval_id)
    assert pending is not None and pending["status"] == "pending"
    assert pending["preview"]["subject"] == f"approve-{kind}"
    assert pending["preview"]["to"] == ["ada@example.com"]
    # A changed message is not covered by the approval.
    connector.approve(approval_id)
    with pytest.raises(ApprovalRequiredError):
        connector.execute_sync("messages", "send", {**message, "text": "Changed after approval."})
    connector.execute_sync("messages", "send", message)
    assert _sent(connector, f"approve-{kind}") == 1
    used = connector.approval(approval_id)
    assert used is not None and used["status"] == "used"
    with pytest.raises(ConflictError):
        connector.execute_sync("messages", "send", message)
    with pytest.raises(ConflictError):
        connector.approve(approval_id)

    rejected = _send("ada@example.com", f"reject-{kind}")
    with pytest.raises(ApprovalRequiredError) as info:
        connector.execute_sync("messages", "send", rejected)
    connector.reject(info.value.details["approval_id"])
    with pytest.raises(PermissionDeniedError):
        connector.execute_sync("messages", "send", rejected)
    assert _sent(connector, f"reject-{kind}") == 0
    assert connector.approval("apr_unknown") is None
