"""Gmail and Outlook connectors for AI agents, on a Rust engine.

::

    from agent_connectors import GmailConnector, GmailAuthConfig

    gmail = GmailConnector(auth_config=GmailAuthConfig(refresh_token=..., client_id=..., client_secret=...))
    page = await gmail.execute("messages", "list", {"q": "is:unread", "max_results": 10})
    page.result, page.metadata["next_page_token"]

Run it in process with your own OAuth credentials, through a hosted ``connectors serve``
(:class:`HostedAuthConfig`), or against the built-in emulators (:mod:`agent_connectors.sandbox`).
"""

from . import sandbox
from ._native import __version__, error_table
from .auth import GmailAuthConfig, HostedAuthConfig, OutlookAuthConfig
from .connectors import ExecuteResult, GmailConnector, OutlookConnector, RefreshedTokens
from .errors import (
    ApprovalRequiredError,
    ConflictError,
    ConnectorError,
    InternalError,
    InvalidParamsError,
    MethodNotAllowedError,
    NeedsReauthError,
    NotFoundError,
    OutcomeUnknownError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    SyncRequiredError,
    UnauthenticatedError,
    UnknownActionError,
    UnknownEntityError,
    exception_for_code,
)

__all__ = [
    "__version__",
    "error_table",
    "sandbox",
    "GmailConnector",
    "OutlookConnector",
    "GmailAuthConfig",
    "OutlookAuthConfig",
    "HostedAuthConfig",
    "ExecuteResult",
    "RefreshedTokens",
    "ConnectorError",
    "UnknownEntityError",
    "UnknownActionError",
    "InvalidParamsError",
    "NotFoundError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "NeedsReauthError",
    "RateLimitedError",
    "ProviderUnavailableError",
    "ProviderError",
    "OutcomeUnknownError",
    "SyncRequiredError",
    "ApprovalRequiredError",
    "PayloadTooLargeError",
    "ConflictError",
    "MethodNotAllowedError",
    "InternalError",
    "exception_for_code",
]
