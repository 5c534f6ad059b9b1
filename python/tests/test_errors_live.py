"""Provider failures, produced by the emulator, arrive as their exception classes."""

from __future__ import annotations

import pytest

from agent_connectors import (
    GmailConnector,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitedError,
    SyncRequiredError,
    sandbox,
)


def test_persistent_5xx_is_provider_unavailable(gmail: GmailConnector) -> None:
    assert gmail.sandbox is not None
    gmail.sandbox.inject_fault("GET", "/profile", status=503, times=20)
    with pytest.raises(ProviderUnavailableError) as info:
        gmail.execute_sync("profile", "get")
    assert info.value.http_status == 503


def test_persistent_429_is_rate_limited(gmail: GmailConnector) -> None:
    assert gmail.sandbox is not None
    gmail.sandbox.inject_fault("GET", "/profile", status=429, times=20)
    with pytest.raises(RateLimitedError) as info:
        gmail.execute_sync("profile", "get")
    assert info.value.code == "rate_limited"


def test_a_lost_send_response_is_outcome_unknown(gmail: GmailConnector) -> None:
    assert gmail.sandbox is not None
    gmail.sandbox.inject_fault("POST", "/messages/send", lose_response=True)
    with pytest.raises(OutcomeUnknownError):
        gmail.execute_sync(
            "messages", "send", {"to": ["grace@example.com"], "subject": "lost", "text": "?"}
        )
    # It was sent (the emulator handled it before dropping the connection): never retried.
    box = gmail.sandbox.mailbox()
    assert box is not None
    assert sum("Subject: lost" in m["raw"] for m in box["messages"]) == 1


def test_an_expired_history_id_is_sync_required(gmail: GmailConnector) -> None:
    assert gmail.sandbox is not None
    history_id = gmail.execute_sync("profile", "get").result["history_id"]
    gmail.sandbox.expire_sync_tokens()
    with pytest.raises(SyncRequiredError) as info:
        gmail.execute_sync("history", "list", {"start_history_id": str(int(history_id) - 1)})
    assert info.value.http_status == 410


def test_a_missing_scope_is_permission_denied() -> None:
    sb = sandbox.start("gmail", quotas=False)
    readonly = sb.connector(scopes=["https://www.googleapis.com/auth/gmail.readonly"])
    assert readonly.execute_sync("labels", "list").result
    with pytest.raises(PermissionDeniedError) as info:
        readonly.execute_sync("messages", "send", {"to": ["grace@example.com"], "subject": "s", "text": "t"})
    assert info.value.http_status == 403
    sb.close()


def test_retrying_with_the_idempotency_key_sends_exactly_once(gmail: GmailConnector) -> None:
    assert gmail.sandbox is not None
    gmail.sandbox.inject_fault("POST", "/messages/send", lose_response=True)
    params = {"to": ["grace@example.com"], "subject": "exactly once", "text": "hello"}
    with pytest.raises(OutcomeUnknownError):
        gmail.execute_sync("messages", "send", params, idempotency_key="report-42")
    again = gmail.execute_sync("messages", "send", params, idempotency_key="report-42")
    assert again.metadata.get("deduplicated") is True
    box = gmail.sandbox.mailbox()
    assert box is not None
    matching = [m for m in box["messages"] if "Subject: exactly once" in m["raw"]]
    assert [m["id"] for m in matching] == [again.result["id"]]


def test_timeout_bounds_each_attempt() -> None:
    sb = sandbox.start("gmail", latency_ms=400, quotas=False)
    connector = sb.connector(timeout=0.1)
    # A read is retried (each attempt cut at 0.1 s), then reported unavailable.
    with pytest.raises(ProviderUnavailableError, match="timed out"):
        connector.execute_sync("profile", "get")
    # A send is never retried once it may have reached the provider.
    with pytest.raises(OutcomeUnknownError):
        connector.execute_sync("messages", "send", {"to": ["grace@example.com"], "subject": "t", "text": "t"})
    sb.close()
