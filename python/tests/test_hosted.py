"""Hosted mode: the same connector through a `connectors serve --sandbox` the test starts
(the `server` fixture, in conftest.py)."""

from __future__ import annotations

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
