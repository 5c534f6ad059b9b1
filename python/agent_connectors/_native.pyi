"""The native engine. Private: use the ``agent_connectors`` package."""

from collections.abc import Awaitable, Callable
from typing import Any, final

__all__ = [
    "__version__",
    "NativeConnector",
    "NativeSandbox",
    "_raise_error",
    "catalogue",
    "error_table",
    "execute_tool_json",
    "spec_json",
    "tool_index_json",
    "tools_json",
]
__version__: str

def error_table() -> list[tuple[str, int, str]]: ...
def _raise_error(
    code: str,
    message: str,
    details_json: str | None = None,
    retry_after: float | None = None,
) -> None: ...
def spec_json(kind: str) -> str: ...
def tools_json(kind: str, format: str) -> str: ...
def execute_tool_json(kind: str) -> str: ...
def catalogue(kind: str) -> str: ...
def tool_index_json(kind: str) -> str: ...
@final
class NativeConnector:
    def __new__(
        cls,
        kind: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        tenant: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        on_token_refresh: Callable[[Any], object] | None = None,
    ) -> NativeConnector: ...
    @staticmethod
    def hosted(
        kind: str,
        *,
        server_url: str,
        client_id: str,
        client_secret: str,
        organization_id: str,
        customer_name: str,
        connector_id: str | None = None,
        timeout: float | None = None,
    ) -> NativeConnector: ...
    def execute(
        self, entity: str, action: str, params_json: str, idempotency_key: str | None = None
    ) -> Awaitable[str]: ...
    def execute_sync(
        self, entity: str, action: str, params_json: str, idempotency_key: str | None = None
    ) -> str: ...
    def set_policy(self, policy_json: str | None) -> None: ...
    def decide(self, approval_id: str, approve: bool) -> None: ...
    def approval_json(self, approval_id: str) -> str | None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def kind(self) -> str: ...
    @property
    def mode(self) -> str: ...

@final
class NativeSandbox:
    def __new__(
        cls,
        kind: str,
        *,
        seed: str | int | None = None,
        latency_ms: int | None = None,
        quotas: bool = True,
        rotate_refresh_tokens: bool | None = None,
        tokens: list[str] | None = None,
    ) -> NativeSandbox: ...
    @property
    def kind(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def token_url(self) -> str: ...
    def issue_refresh_token(self, user: str, scopes: list[str] | None = None) -> str: ...
    def stats_json(self) -> str: ...
    def set_quotas(self, on: bool) -> None: ...
    def set_latency(self, latency_ms: int | None = None) -> None: ...
    def mailbox_json(self, user: str, folder: str | None = None) -> str | None: ...
    def expire_access_tokens(self) -> None: ...
    def revoke_refresh_token(self, token: str) -> bool: ...
    def inject_fault(
        self,
        method: str,
        path_contains: str,
        *,
        status: int | None = None,
        drop_connection: bool = False,
        lose_response: bool = False,
        times: int = 1,
    ) -> None: ...
    def throttle_next(self, n: int, retry_after_secs: int) -> None: ...
    def expire_sync_tokens(self, user: str) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
