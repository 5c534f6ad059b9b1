"""Exceptions: one class per code of the core error table (``connector-core/src/error.rs``).

Every error a connector raises is a :class:`ConnectorError` with a stable snake_case ``code``,
the ``http_status`` the hosted API uses for it, a ``message`` written for the caller (often an
LLM) and structured ``details``. Catch the subclass you can handle::

    try:
        connector.execute_sync("messages", "get", {"message_id": "nope"})
    except NotFoundError as e:
        ...
    except RateLimitedError as e:
        time.sleep(e.retry_after or 1)
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

__all__ = [
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


class ConnectorError(Exception):
    """Base class of every connector error.

    ``code`` is the stable snake_case code, ``details`` a dict (failing fields, provider status
    and code, missing scopes...), ``retry_after`` seconds to wait when the provider said so.
    """

    #: The code of this class (the base class uses ``code`` from the instance).
    default_code: ClassVar[str] = "internal"
    #: The HTTP status the hosted API answers with for this code.
    http_status: ClassVar[int] = 500

    code: str
    message: str
    details: dict[str, Any]
    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = dict(details or {})
        if retry_after is None and isinstance(self.details.get("retry_after"), (int, float)):
            retry_after = float(self.details["retry_after"])
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """The hosted API's error body: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class UnknownEntityError(ConnectorError):
    """The entity name is not one the connector has."""

    default_code = "unknown_entity"
    http_status = 400


class UnknownActionError(ConnectorError):
    """The action name is not one the entity has."""

    default_code = "unknown_action"
    http_status = 400


class InvalidParamsError(ConnectorError):
    """Params failed validation; ``details["errors"]`` names each failing field by JSON pointer."""

    default_code = "invalid_params"
    http_status = 400


class NotFoundError(ConnectorError):
    """The requested object does not exist (or is not visible to the caller)."""

    default_code = "not_found"
    http_status = 404


class PermissionDeniedError(ConnectorError):
    """The credential lacks a scope; ``details["missing_scopes"]`` names it when known."""

    default_code = "permission_denied"
    http_status = 403


class UnauthenticatedError(ConnectorError):
    """The caller's own credentials (access token, API token) are missing, bad or expired."""

    default_code = "unauthenticated"
    http_status = 401


class NeedsReauthError(ConnectorError):
    """The refresh token was revoked or expired: the end user must authorize again."""

    default_code = "needs_reauth"
    http_status = 424


class RateLimitedError(ConnectorError):
    """The provider throttled the call; ``retry_after`` says how many seconds to wait."""

    default_code = "rate_limited"
    http_status = 429


class ProviderUnavailableError(ConnectorError):
    """The provider could not be reached or kept failing with 5xx."""

    default_code = "provider_unavailable"
    http_status = 503


class ProviderError(ConnectorError):
    """The provider refused the call; its status, code and message are kept in ``details``."""

    default_code = "provider_error"
    http_status = 502


class OutcomeUnknownError(ConnectorError):
    """A non-idempotent call (send) may or may not have happened: retry with the same idempotency key."""

    default_code = "outcome_unknown"
    http_status = 504


class SyncRequiredError(ConnectorError):
    """A sync token (Gmail history id, Graph delta token) expired: run a full sync and start over."""

    default_code = "sync_required"
    http_status = 410


class ApprovalRequiredError(ConnectorError):
    """A send waits for a person's approval: ``details["approval_id"]`` names it and
    ``details["preview"]`` shows the exact message; call again with the same params once approved."""

    default_code = "approval_required"
    http_status = 403


class PayloadTooLargeError(ConnectorError):
    """The request, message or tool output is larger than allowed."""

    default_code = "payload_too_large"
    http_status = 413


class ConflictError(ConnectorError):
    """The request conflicts with current state (idempotency key reuse, duplicate, in progress)."""

    default_code = "conflict"
    http_status = 409


class MethodNotAllowedError(ConnectorError):
    """The hosted API's path exists, but not with this HTTP method (its ``Allow`` header lists them)."""

    default_code = "method_not_allowed"
    http_status = 405


class InternalError(ConnectorError):
    """A bug or unexpected failure on our side."""

    default_code = "internal"
    http_status = 500


_BY_CODE: dict[str, type[ConnectorError]] = {
    cls.default_code: cls
    for cls in (
        UnknownEntityError,
        UnknownActionError,
        InvalidParamsError,
        NotFoundError,
        PermissionDeniedError,
        UnauthenticatedError,
        NeedsReauthError,
        RateLimitedError,
        ProviderUnavailableError,
        ProviderError,
        OutcomeUnknownError,
        SyncRequiredError,
        ApprovalRequiredError,
        PayloadTooLargeError,
        ConflictError,
        MethodNotAllowedError,
        InternalError,
    )
}


def exception_for_code(code: str) -> type[ConnectorError]:
    """The exception class of a code; unknown codes (a newer server) map to the base class."""
    return _BY_CODE.get(code, ConnectorError)


def from_error_body(body: dict[str, Any]) -> ConnectorError:
    """Builds the exception for a hosted API error body ``{"error": {...}}``."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return InternalError("the server answered with an error body that is not understood")
    code = str(err.get("code") or "internal")
    details = err.get("details") if isinstance(err.get("details"), dict) else {}
    return exception_for_code(code)(str(err.get("message") or code), code=code, details=details)


def _from_native(
    code: str, message: str, details_json: str, retry_after: float | None
) -> ConnectorError:
    """Called by the native module to turn a core ``ConnectorError`` into its Python class."""
    try:
        details = json.loads(details_json) if details_json else {}
    except ValueError:
        details = {}
    if not isinstance(details, dict):
        details = {"value": details}
    return exception_for_code(code)(message, code=code, details=details, retry_after=retry_after)
