"""Auth configurations: the user's own OAuth credentials, or a hosted `connectors serve`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GmailAuthConfig", "OutlookAuthConfig", "HostedAuthConfig", "AuthConfig"]


def _redacted(value: str | None) -> str:
    return "None" if value is None else "'[redacted]'"


def _check_tokens(access_token: str | None, refresh_token: str | None) -> None:
    if not access_token and not refresh_token:
        raise ValueError("an access_token or a refresh_token is required")


@dataclass(frozen=True, repr=False)
class GmailAuthConfig:
    """Google OAuth credentials for one mailbox.

    Give an ``access_token`` (used as is, never refreshed), or a ``refresh_token`` with the
    ``client_id`` / ``client_secret`` of the OAuth client that issued it (the access token is
    then fetched from ``token_url`` and refreshed ahead of expiry), or both.
    """

    refresh_token: str | None = None
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    #: Defaults to Google's ``https://oauth2.googleapis.com/token``.
    token_url: str | None = None

    def __post_init__(self) -> None:
        _check_tokens(self.access_token, self.refresh_token)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(refresh_token={_redacted(self.refresh_token)}, "
            f"access_token={_redacted(self.access_token)}, client_id={self.client_id!r}, "
            f"client_secret={_redacted(self.client_secret)}, token_url={self.token_url!r})"
        )


@dataclass(frozen=True, repr=False)
class OutlookAuthConfig:
    """Microsoft identity platform credentials for one mailbox (Microsoft Graph).

    Same rules as :class:`GmailAuthConfig`; ``tenant`` picks the token endpoint
    (``https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token``) unless ``token_url`` is
    given. Microsoft rotates refresh tokens: pass ``on_token_refresh`` to the connector to keep
    the newest one.
    """

    refresh_token: str | None = None
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    tenant: str = "common"

    def __post_init__(self) -> None:
        _check_tokens(self.access_token, self.refresh_token)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(refresh_token={_redacted(self.refresh_token)}, "
            f"access_token={_redacted(self.access_token)}, client_id={self.client_id!r}, "
            f"client_secret={_redacted(self.client_secret)}, token_url={self.token_url!r}, "
            f"tenant={self.tenant!r})"
        )


@dataclass(frozen=True, repr=False)
class HostedAuthConfig:
    """Run the connector through a ``connectors serve`` instance instead of in process.

    The application's ``client_id`` / ``client_secret`` buy an API token (cached until it
    expires); the connector is found by ``customer_name`` once (or given as ``connector_id``).
    """

    server_url: str
    client_id: str
    client_secret: str
    organization_id: str
    customer_name: str
    connector_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("server_url", "client_id", "client_secret", "organization_id", "customer_name"):
            if not getattr(self, name):
                raise ValueError(f"{name} is required")

    def __repr__(self) -> str:
        return (
            f"HostedAuthConfig(server_url={self.server_url!r}, client_id={self.client_id!r}, "
            f"client_secret='[redacted]', organization_id={self.organization_id!r}, "
            f"customer_name={self.customer_name!r}, connector_id={self.connector_id!r})"
        )


AuthConfig = GmailAuthConfig | OutlookAuthConfig | HostedAuthConfig
