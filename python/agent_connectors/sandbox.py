"""In-process sandbox emulators of the Gmail and Microsoft Graph APIs, for your own tests.

``sandbox.gmail()`` starts an emulator with the demo mailbox (``ada@example.com``) on
127.0.0.1 and returns a :class:`GmailConnector` bound to it; nothing leaves the machine and no
credentials are needed. The emulator stops when that connector is closed or garbage collected.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Literal

from . import _native
from .auth import GmailAuthConfig, OutlookAuthConfig
from .connectors import GmailConnector, OutlookConnector, RefreshedTokens

__all__ = ["Sandbox", "start", "gmail", "outlook", "DEMO_USER"]

#: The default user of both emulators.
DEMO_USER = "ada@example.com"

Seed = Literal["demo", "empty"] | int


class Sandbox:
    """A running emulator: its URLs, a way to mint refresh tokens, and its request counters."""

    def __init__(
        self,
        kind: Literal["gmail", "outlook"],
        *,
        seed: Seed = "demo",
        latency_ms: int | None = None,
        quotas: bool = True,
        rotate_refresh_tokens: bool | None = None,
        tokens: list[str] | None = None,
    ) -> None:
        self._native = _native.NativeSandbox(
            kind,
            seed=seed,
            latency_ms=latency_ms,
            quotas=quotas,
            rotate_refresh_tokens=rotate_refresh_tokens,
            tokens=tokens,
        )
        # With token rules, only those tokens and the ones the token endpoint issues work.
        self._strict = bool(tokens)

    @property
    def kind(self) -> str:
        return self._native.kind

    @property
    def base_url(self) -> str:
        """Root of the emulated API: pass it as a connector's ``base_url``."""
        return self._native.base_url

    @property
    def token_url(self) -> str:
        """The emulator's OAuth token endpoint."""
        return self._native.token_url

    def issue_refresh_token(self, user: str = DEMO_USER, scopes: list[str] | None = None) -> str:
        """A refresh token the emulator's token endpoint accepts (every scope by default)."""
        return self._native.issue_refresh_token(user, scopes)

    def stats(self) -> dict[str, Any]:
        """Request counters: API calls, token requests, batch parts."""
        stats: dict[str, Any] = json.loads(self._native.stats_json())
        return stats

    def set_quotas(self, on: bool) -> None:
        """Quotas and throttling on (the default) or off."""
        self._native.set_quotas(on)

    def set_latency(self, latency_ms: int | None) -> None:
        """Delay every answer by ``latency_ms`` (``None``: no delay)."""
        self._native.set_latency(latency_ms)

    def mailbox(self, user: str = DEMO_USER, folder: str | None = None) -> dict[str, Any] | None:
        """What the emulator holds for ``user``, to check an agent's effects.

        Gmail: ``{"email", "messages": [{"id", "thread_id", "label_ids", "raw", ...}] (newest
        first), "drafts", "labels", "history_id"}``. Outlook: ``{"email", "folder",
        "messages": [Graph message JSON]}`` for ``folder`` (default ``inbox``, or ``sentitems``...).
        """
        text = self._native.mailbox_json(user, folder)
        if text is None:
            return None
        mailbox: dict[str, Any] = json.loads(text)
        return mailbox

    def expire_access_tokens(self) -> None:
        """Every issued access token stops working (the connector refreshes on 401)."""
        self._native.expire_access_tokens()

    def revoke_refresh_token(self, token: str) -> bool:
        """The refresh token stops working (the next refresh is ``needs_reauth``)."""
        return self._native.revoke_refresh_token(token)

    def inject_fault(
        self,
        method: str,
        path_contains: str,
        *,
        status: int | None = None,
        drop_connection: bool = False,
        lose_response: bool = False,
        times: int = 1,
    ) -> None:
        """The next ``times`` matching requests fail (an HTTP ``status``, a dropped
        connection, or a response lost after the request was handled)."""
        self._native.inject_fault(
            method,
            path_contains,
            status=status,
            drop_connection=drop_connection,
            lose_response=lose_response,
            times=times,
        )

    def throttle_next(self, n: int, retry_after_secs: int) -> None:
        """The next ``n`` API requests answer 429 with ``Retry-After``."""
        self._native.throttle_next(n, retry_after_secs)

    def expire_sync_tokens(self, user: str = DEMO_USER) -> None:
        """Older Gmail history ids / Graph delta tokens expire (the next sync is ``sync_required``)."""
        self._native.expire_sync_tokens(user)

    def close(self) -> None:
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox(kind={self.kind!r}, base_url={self.base_url!r}, closed={self.closed})"

    def connector(
        self,
        *,
        user: str = DEMO_USER,
        refresh: bool = False,
        scopes: list[str] | None = None,
        on_token_refresh: Callable[[RefreshedTokens], None] | None = None,
        timeout: float | None = None,
    ) -> GmailConnector | OutlookConnector:
        """A connector bound to this emulator. With ``refresh=True`` (or ``scopes`` or
        ``on_token_refresh``) it holds a refresh token for ``user`` and gets its access tokens
        from the emulator's token endpoint; otherwise it uses a plain access token, which the
        emulator accepts as the default user with every scope."""
        wants_refresh = refresh or scopes is not None or on_token_refresh is not None
        if wants_refresh or self._strict or user != DEMO_USER:
            tokens: dict[str, Any] = dict(
                refresh_token=self.issue_refresh_token(user, scopes),
                client_id="sandbox-client",
                client_secret="sandbox-secret",
                token_url=self.token_url,
            )
        else:
            tokens = dict(access_token="sandbox-access-token")
        connector: GmailConnector | OutlookConnector
        if self.kind == "gmail":
            connector = GmailConnector(
                GmailAuthConfig(**tokens),
                base_url=self.base_url,
                timeout=timeout,
                on_token_refresh=on_token_refresh,
            )
        else:
            connector = OutlookConnector(
                OutlookAuthConfig(**tokens),
                base_url=self.base_url,
                timeout=timeout,
                on_token_refresh=on_token_refresh,
            )
        connector._keepalive = self
        return connector


def start(
    kind: Literal["gmail", "outlook"],
    *,
    seed: Seed = "demo",
    latency_ms: int | None = None,
    quotas: bool = True,
    rotate_refresh_tokens: bool | None = None,
    tokens: list[str] | None = None,
) -> Sandbox:
    """Starts an emulator without a connector (use :meth:`Sandbox.connector` for one or more).

    ``seed``: ``"demo"`` (the demo mailbox), ``"empty"`` or a number of generated messages.
    ``latency_ms`` delays every answer. ``quotas=False`` switches throttling off.
    ``rotate_refresh_tokens``: every refresh returns a new refresh token (Outlook always does).
    ``tokens``: accept only these bearer tokens, as ``"TOKEN=user@example.com:scope,scope"``,
    plus those the emulator's token endpoint issues.
    """
    return Sandbox(
        kind,
        seed=seed,
        latency_ms=latency_ms,
        quotas=quotas,
        rotate_refresh_tokens=rotate_refresh_tokens,
        tokens=tokens,
    )


def gmail(
    *,
    seed: Seed = "demo",
    latency_ms: int | None = None,
    quotas: bool = True,
    refresh: bool = False,
    on_token_refresh: Callable[[RefreshedTokens], None] | None = None,
) -> GmailConnector:
    """A :class:`GmailConnector` bound to a fresh in-process Gmail emulator (``.sandbox``)."""
    sb = start("gmail", seed=seed, latency_ms=latency_ms, quotas=quotas)
    c = sb.connector(refresh=refresh, on_token_refresh=on_token_refresh)
    assert isinstance(c, GmailConnector)
    c._owned = sb
    return c


def outlook(
    *,
    seed: Seed = "demo",
    latency_ms: int | None = None,
    quotas: bool = True,
    refresh: bool = False,
    on_token_refresh: Callable[[RefreshedTokens], None] | None = None,
) -> OutlookConnector:
    """An :class:`OutlookConnector` bound to a fresh in-process Graph emulator (``.sandbox``)."""
    sb = start("outlook", seed=seed, latency_ms=latency_ms, quotas=quotas)
    c = sb.connector(refresh=refresh, on_token_refresh=on_token_refresh)
    assert isinstance(c, OutlookConnector)
    c._owned = sb
    return c
