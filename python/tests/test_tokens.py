"""Refresh tokens against the emulator's token endpoint, and the on_token_refresh callback."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agent_connectors import (
    GmailAuthConfig,
    GmailConnector,
    InternalError,
    UnauthenticatedError,
    NeedsReauthError,
    OutlookAuthConfig,
    OutlookConnector,
    RefreshedTokens,
    sandbox,
)


# A token rule switches the emulator to strict mode: only issued (and listed) tokens work.
STRICT = ["listed-token=grace@example.com:gmail.readonly"]


@pytest.fixture
def gmail_sandbox() -> Iterator[sandbox.Sandbox]:
    sb = sandbox.start("gmail", quotas=False, tokens=STRICT)
    yield sb
    sb.close()


def _connector(sb: sandbox.Sandbox, refresh_token: str, seen: list[RefreshedTokens]) -> GmailConnector:
    return GmailConnector(
        GmailAuthConfig(
            refresh_token=refresh_token,
            client_id="sandbox-client",
            client_secret="sandbox-secret",
            token_url=sb.token_url,
        ),
        base_url=sb.base_url,
        on_token_refresh=seen.append,
    )


def test_refresh_token_gets_an_access_token_and_tells_the_callback(gmail_sandbox: sandbox.Sandbox) -> None:
    seen: list[RefreshedTokens] = []
    connector = _connector(gmail_sandbox, gmail_sandbox.issue_refresh_token(), seen)
    assert seen == [], "no refresh before the first call"
    assert connector.execute_sync("profile", "get").result["email_address"] == sandbox.DEMO_USER
    assert len(seen) == 1
    assert seen[0]["access_token"]
    assert seen[0]["expires_at"] is None or seen[0]["expires_at"] > 0
    assert gmail_sandbox.stats()["token_requests"] == 1
    # A second call reuses the token.
    connector.execute_sync("labels", "list")
    assert len(seen) == 1 and gmail_sandbox.stats()["token_requests"] == 1


async def test_a_401_refreshes_once_and_retries(gmail_sandbox: sandbox.Sandbox) -> None:
    seen: list[RefreshedTokens] = []
    connector = _connector(gmail_sandbox, gmail_sandbox.issue_refresh_token(), seen)
    await connector.execute("profile", "get")
    first = seen[-1]["access_token"]
    gmail_sandbox.expire_access_tokens()
    await connector.execute("profile", "get")
    assert len(seen) == 2 and seen[-1]["access_token"] != first


def test_rotated_refresh_tokens_reach_the_callback() -> None:
    sb = sandbox.start("gmail", rotate_refresh_tokens=True, quotas=False, tokens=STRICT)
    original = sb.issue_refresh_token()
    seen: list[RefreshedTokens] = []
    connector = _connector(sb, original, seen)
    connector.execute_sync("profile", "get")
    sb.expire_access_tokens()
    connector.execute_sync("profile", "get")
    rotated = [t["refresh_token"] for t in seen]
    assert len(rotated) == 2 and None not in rotated
    assert len({original, *rotated}) == 3, "each refresh rotated the refresh token"
    # The newest token is the one that works: a new connector built from it runs.
    fresh = _connector(sb, str(rotated[-1]), [])
    assert fresh.execute_sync("profile", "get").result["email_address"] == sandbox.DEMO_USER
    sb.close()


def test_a_revoked_refresh_token_needs_reauth(gmail_sandbox: sandbox.Sandbox) -> None:
    token = gmail_sandbox.issue_refresh_token()
    connector = _connector(gmail_sandbox, token, [])
    connector.execute_sync("profile", "get")
    assert gmail_sandbox.revoke_refresh_token(token)
    gmail_sandbox.expire_access_tokens()
    with pytest.raises(NeedsReauthError) as info:
        connector.execute_sync("profile", "get")
    assert info.value.http_status == 424
    assert token not in str(info.value) and token not in repr(info.value.details)


def test_a_failing_callback_fails_the_refresh_without_leaking_the_token(
    gmail_sandbox: sandbox.Sandbox,
) -> None:
    def reject(tokens: RefreshedTokens) -> None:
        raise OSError(f"disk full while saving {tokens['access_token']}")

    connector = GmailConnector(
        GmailAuthConfig(
            refresh_token=gmail_sandbox.issue_refresh_token(),
            client_id="sandbox-client",
            token_url=gmail_sandbox.token_url,
        ),
        base_url=gmail_sandbox.base_url,
        on_token_refresh=reject,
    )
    with pytest.raises(InternalError) as info:
        connector.execute_sync("profile", "get")
    assert "OSError" in str(info.value)
    assert "disk full" not in str(info.value)


def test_the_callback_runs_once_when_threads_race_to_refresh(gmail_sandbox: sandbox.Sandbox) -> None:
    seen: list[RefreshedTokens] = []
    connector = _connector(gmail_sandbox, gmail_sandbox.issue_refresh_token(), seen)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            connector.execute_sync("profile", "get")
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 1, "single-flight: one refresh for eight callers"
    assert gmail_sandbox.stats()["token_requests"] == 1


def test_outlook_refresh_rotates_tokens_through_the_callback() -> None:
    sb = sandbox.start("outlook", quotas=False)
    seen: list[RefreshedTokens] = []
    original = sb.issue_refresh_token()
    connector = OutlookConnector(
        OutlookAuthConfig(refresh_token=original, client_id="sandbox-client", token_url=sb.token_url),
        base_url=sb.base_url,
        on_token_refresh=seen.append,
    )
    profile = connector.execute_sync("profile", "get").result
    assert sandbox.DEMO_USER in str(profile)
    assert len(seen) == 1 and seen[0]["refresh_token"] not in (None, original)
    connector.close()
    sb.close()


def test_listed_tokens_are_the_only_static_ones(gmail_sandbox: sandbox.Sandbox) -> None:
    listed = GmailConnector(GmailAuthConfig(access_token="listed-token"), base_url=gmail_sandbox.base_url)
    assert listed.execute_sync("profile", "get").result["email_address"] == "grace@example.com"
    other = GmailConnector(GmailAuthConfig(access_token="made-up"), base_url=gmail_sandbox.base_url)
    with pytest.raises(UnauthenticatedError):
        other.execute_sync("profile", "get")


def test_coroutine_callbacks_are_refused(gmail_sandbox: sandbox.Sandbox) -> None:
    async def save(tokens: RefreshedTokens) -> None:
        pass

    auth = GmailAuthConfig(refresh_token="r", client_id="c", token_url=gmail_sandbox.token_url)
    with pytest.raises(TypeError, match="plain function"):
        GmailConnector(auth, base_url=gmail_sandbox.base_url, on_token_refresh=save)  # type: ignore[arg-type]

    # A callable object whose call returns an awaitable is caught when it runs.
    connector = GmailConnector(
        GmailAuthConfig(
            refresh_token=gmail_sandbox.issue_refresh_token(),
            client_id="c",
            token_url=gmail_sandbox.token_url,
        ),
        base_url=gmail_sandbox.base_url,
        on_token_refresh=lambda tokens: save(tokens),  # type: ignore[arg-type]
    )
    with pytest.raises(InternalError, match="plain function"):
        connector.execute_sync("profile", "get")
