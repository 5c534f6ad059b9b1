"""The same control-surface test against both emulators: every control works for every provider."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agent_connectors import (
    GmailAuthConfig,
    GmailConnector,
    NeedsReauthError,
    OutlookAuthConfig,
    OutlookConnector,
    ProviderUnavailableError,
    RateLimitedError,
    RefreshedTokens,
    sandbox,
)

# A path fragment of each emulator's `profile.get` request, for faults.
PROFILE_PATH = {"gmail": "/profile", "outlook": "/v1.0/me"}


@pytest.fixture(params=["gmail", "outlook"])
def sb(request: pytest.FixtureRequest) -> Iterator[sandbox.Sandbox]:
    started = sandbox.start(request.param, quotas=False)
    yield started
    started.close()


def _connector(
    sb: sandbox.Sandbox, refresh_token: str, seen: list[RefreshedTokens]
) -> GmailConnector | OutlookConnector:
    if sb.kind == "gmail":
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
    return OutlookConnector(
        OutlookAuthConfig(
            refresh_token=refresh_token,
            client_id="sandbox-client",
            client_secret="sandbox-secret",
            token_url=sb.token_url,
        ),
        base_url=sb.base_url,
        on_token_refresh=seen.append,
    )


def test_every_control_works_for_every_emulator(sb: sandbox.Sandbox) -> None:
    seen: list[RefreshedTokens] = []
    token = sb.issue_refresh_token()
    connector = _connector(sb, token, seen)
    assert connector.execute_sync("profile", "get").result
    assert len(seen) == 1 and sb.stats()["token_requests"] == 1

    # Expired access tokens: the next call gets a 401, refreshes once and succeeds.
    sb.expire_access_tokens()
    assert connector.execute_sync("profile", "get").result
    assert len(seen) == 2 and seen[1]["access_token"] != seen[0]["access_token"]
    assert sb.stats()["token_requests"] == 2

    # Latency delays every answer, and goes away again.
    sb.set_latency(300)
    started = time.monotonic()
    connector.execute_sync("profile", "get")
    assert time.monotonic() - started >= 0.3
    sb.set_latency(None)
    started = time.monotonic()
    connector.execute_sync("profile", "get")
    assert time.monotonic() - started < 0.3

    # One injected 5xx is retried away; the fault fired once.
    sb.inject_fault("GET", PROFILE_PATH[sb.kind], status=503)
    assert connector.execute_sync("profile", "get").result
    assert sb.stats()["faults_triggered"] == 1

    # Throttling: the next API requests answer 429 with a Retry-After past the retry budget.
    sb.throttle_next(5, 120)
    with pytest.raises(RateLimitedError) as throttled:
        connector.execute_sync("profile", "get")
    assert throttled.value.retry_after == 120

    # A revoked refresh token (the newest, where refreshes rotate it) needs re-authorization.
    newest = next((t["refresh_token"] for t in reversed(seen) if t["refresh_token"]), token)
    assert sb.revoke_refresh_token(newest)
    assert not sb.revoke_refresh_token(newest), "already revoked"
    sb.expire_access_tokens()
    with pytest.raises(NeedsReauthError):
        connector.execute_sync("profile", "get")

    # A fault that outlasts the retries arrives as its error class.
    fresh = sb.connector()
    sb.inject_fault("GET", PROFILE_PATH[sb.kind], status=503, times=50)
    with pytest.raises(ProviderUnavailableError) as info:
        fresh.execute_sync("profile", "get")
    assert info.value.http_status == 503
