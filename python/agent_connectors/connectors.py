"""GmailConnector and OutlookConnector: thin Python faces of the native engine."""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, TypedDict, TypeVar, overload

from . import _native
from .auth import GmailAuthConfig, HostedAuthConfig, OutlookAuthConfig
from .errors import InvalidParamsError, UnknownActionError, UnknownEntityError
from .tool_utils import DEFAULT_MAX_OUTPUT_CHARS, make_tool_decorator

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = [
    "ExecuteResult",
    "RefreshedTokens",
    "GmailConnector",
    "OutlookConnector",
    "ToolFormat",
]

ToolFormat = Literal["openai", "anthropic", "mcp"]
F = TypeVar("F", bound=Callable[..., Any])
_C = TypeVar("_C", bound="_Connector")


class RefreshedTokens(TypedDict):
    """What ``on_token_refresh`` receives after every refresh, before the token is used."""

    access_token: str
    #: The new refresh token when the provider rotated it, else ``None`` (keep the old one).
    refresh_token: str | None
    #: Unix time the access token expires, when the provider said.
    expires_at: float | None
    scope: str | None


@dataclass(frozen=True)
class ExecuteResult:
    """What ``execute`` returns: the ``result`` (a record, or a list of records for list
    actions) and its ``metadata`` (``next_page_token``, ``result_size_estimate``, ...)."""

    result: Any
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"result": ..., "metadata": {...}}``: JSON-ready, for returning from a tool."""
        return {"result": self.result, "metadata": self.metadata}


_SPECS: dict[str, dict[str, Any]] = {}
_TOOL_INDEX: dict[str, dict[str, Any]] = {}


def _spec(kind: str) -> dict[str, Any]:
    """The connector's spec, parsed once per process."""
    if kind not in _SPECS:
        _SPECS[kind] = json.loads(_native.spec_json(kind))
    return _SPECS[kind]


def _tool_index(kind: str) -> dict[str, Any]:
    """Tool name -> [entity, action]; the single execute tool's name under ``""``."""
    if kind not in _TOOL_INDEX:
        _TOOL_INDEX[kind] = json.loads(_native.tool_index_json(kind))
    return _TOOL_INDEX[kind]


class _Connector:
    """Shared by both connectors. Safe to share across threads and asyncio tasks."""

    kind: ClassVar[str]
    _auth_type: ClassVar[type[GmailAuthConfig] | type[OutlookAuthConfig]]

    def __init__(
        self,
        auth_config: Any,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        on_token_refresh: Callable[[RefreshedTokens], None] | None = None,
    ) -> None:
        if isinstance(auth_config, HostedAuthConfig):
            if base_url is not None or on_token_refresh is not None:
                raise ValueError(
                    "base_url and on_token_refresh apply in process only: the server keeps the tokens"
                )
            self._native = _native.NativeConnector.hosted(
                self.kind,
                server_url=auth_config.server_url,
                client_id=auth_config.client_id,
                client_secret=auth_config.client_secret,
                organization_id=auth_config.organization_id,
                customer_name=auth_config.customer_name,
                connector_id=auth_config.connector_id,
                timeout=timeout,
            )
        elif isinstance(auth_config, self._auth_type):
            if on_token_refresh is not None and inspect.iscoroutinefunction(on_token_refresh):
                raise TypeError(
                    "on_token_refresh must be a plain function (it runs on a worker thread "
                    "before the new token is used), not a coroutine function"
                )
            self._native = _native.NativeConnector(
                self.kind,
                access_token=auth_config.access_token,
                refresh_token=auth_config.refresh_token,
                client_id=auth_config.client_id,
                client_secret=auth_config.client_secret,
                token_url=auth_config.token_url,
                tenant=getattr(auth_config, "tenant", None),
                base_url=base_url,
                timeout=timeout,
                on_token_refresh=on_token_refresh,
            )
        else:
            raise TypeError(
                f"auth_config must be a {self._auth_type.__name__} or a HostedAuthConfig, "
                f"not {type(auth_config).__name__}"
            )
        # The sandbox this connector is bound to, if any; `_owned` is closed with the connector.
        self._keepalive: Sandbox | None = None
        self._owned: Sandbox | None = None

    # -- calls -------------------------------------------------------------------------------

    async def execute(
        self,
        entity: str,
        action: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> ExecuteResult:
        """Runs one action; raises a :class:`~agent_connectors.ConnectorError` subclass on failure."""
        text = await self._native.execute(entity, action, json.dumps(params or {}), idempotency_key)
        return _result(text)

    def execute_sync(
        self,
        entity: str,
        action: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> ExecuteResult:
        """Blocking :meth:`execute`; the GIL is released while it waits on the network."""
        text = self._native.execute_sync(entity, action, json.dumps(params or {}), idempotency_key)
        return _result(text)

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> ExecuteResult:
        """Runs a tool call an LLM made with one of :meth:`tools` (``messages_list``...) or the
        :meth:`execute_tool` (``gmail_execute``). ``arguments`` may be the JSON text the model
        produced."""
        entity, action, params = self._route(name, arguments)
        return await self.execute(entity, action, params, idempotency_key=idempotency_key)

    def call_tool_sync(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> ExecuteResult:
        """Blocking :meth:`call_tool`."""
        entity, action, params = self._route(name, arguments)
        return self.execute_sync(entity, action, params, idempotency_key=idempotency_key)

    @classmethod
    def _route(
        cls, name: str, arguments: Mapping[str, Any] | str | None
    ) -> tuple[str, str, dict[str, Any]]:
        if isinstance(arguments, str):
            try:
                decoded = json.loads(arguments or "{}")
            except ValueError as e:
                raise InvalidParamsError(f"tool arguments are not JSON: {e}") from None
            if not isinstance(decoded, dict):
                raise InvalidParamsError("tool arguments must be a JSON object")
            args: dict[str, Any] = decoded
        else:
            args = dict(arguments or {})
        index = _tool_index(cls.kind)
        if name == index[""]:
            entity, action = args.get("entity"), args.get("action")
            if not isinstance(entity, str) or not isinstance(action, str):
                raise InvalidParamsError(f"`{name}` needs `entity` and `action` strings and a `params` object")
            params = args.get("params") or {}
            if not isinstance(params, dict):
                raise InvalidParamsError("`params` must be an object")
            return entity, action, params
        if name not in index:
            raise UnknownActionError(
                f"no {cls.kind} tool named `{name}`: use a name from tools() or `{index['']}`"
            )
        entity, action = index[name]
        return entity, action, args

    # -- what the connector offers --------------------------------------------------------

    @classmethod
    def entities(cls) -> list[str]:
        """Entity names (``messages``, ``labels``, ...)."""
        return sorted(_spec(cls.kind)["entities"])

    @classmethod
    def actions(cls, entity: str) -> list[str]:
        """Action names of an entity."""
        return sorted(cls._entity(entity)["actions"])

    @classmethod
    def schema(cls, entity: str, action: str) -> dict[str, Any]:
        """The JSON Schema of the action's params."""
        params: dict[str, Any] = cls._action(entity, action)["params"]
        return params

    @classmethod
    def describe(cls, entity: str, action: str) -> dict[str, Any]:
        """The action's spec: ``description``, ``params``, ``result`` schemas, ``scopes``,
        ``idempotent`` and ``pagination``."""
        return dict(cls._action(entity, action))

    @classmethod
    def tools(cls, format: ToolFormat = "openai") -> list[dict[str, Any]]:
        """One typed tool definition per action, named ``{entity}_{action}``."""
        tools: list[dict[str, Any]] = json.loads(_native.tools_json(cls.kind, format))
        return tools

    @classmethod
    def execute_tool(cls) -> dict[str, Any]:
        """The single ``execute(entity, action, params)`` tool with the generated catalogue."""
        tool: dict[str, Any] = json.loads(_native.execute_tool_json(cls.kind))
        return tool

    @classmethod
    def catalogue(cls) -> str:
        """Entities, actions and params with the pagination rules, as text for an LLM."""
        return _native.catalogue(cls.kind)

    @overload
    @classmethod
    def tool_utils(cls, fn: F, /) -> F: ...

    @overload
    @classmethod
    def tool_utils(
        cls, fn: None = None, /, *, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    ) -> Callable[[F], F]: ...

    @classmethod
    def tool_utils(
        cls, fn: Any = None, /, *, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    ) -> Any:
        """Decorates ``async def tool(entity, action, params)``: appends the catalogue to its
        docstring and guards the output size (over ``max_output_chars`` characters of JSON it
        raises :class:`~agent_connectors.PayloadTooLargeError` saying how to narrow the call)."""
        decorate: Callable[[Any], Any] = make_tool_decorator(
            cls.kind, _spec(cls.kind), cls.catalogue(), max_output_chars
        )
        return decorate if fn is None else decorate(fn)

    @classmethod
    def _entity(cls, entity: str) -> dict[str, Any]:
        entities = _spec(cls.kind)["entities"]
        if entity not in entities:
            raise UnknownEntityError(
                f"`{entity}` is not an entity of {cls.kind}; entities: {', '.join(sorted(entities))}"
            )
        found: dict[str, Any] = entities[entity]
        return found

    @classmethod
    def _action(cls, entity: str, action: str) -> dict[str, Any]:
        actions = cls._entity(entity)["actions"]
        if action not in actions:
            raise UnknownActionError(
                f"`{action}` is not an action of {entity}; actions: {', '.join(sorted(actions))}"
            )
        found: dict[str, Any] = actions[action]
        return found

    # -- guardrails (in process; docs/guardrails.md) --------------------------------------

    def set_policy(self, policy: dict[str, Any] | None) -> None:
        """Holds this in-process connector to a send policy (``mode``, ``allow_recipients``,
        ``deny_recipients``, ``max_sends_per_hour``, ``require_approval``, ...; see
        docs/guardrails.md), or removes it with ``None``. A refused call raises
        PermissionDeniedError (or RateLimitedError for the send limits) naming the rule; a send
        that needs a person raises ApprovalRequiredError whose ``details["approval_id"]``
        :meth:`approve` or :meth:`reject` decide. A hosted connector's policy lives on the
        server (``PUT /api/v1/integrations/connectors/{id}/policy``): this raises
        InvalidParamsError there."""
        self._native.set_policy(None if policy is None else json.dumps(policy))

    def approve(self, approval_id: str) -> None:
        """Approves a pending send: the same message, sent again, goes out once."""
        self._native.decide(approval_id, True)

    def reject(self, approval_id: str) -> None:
        """Rejects a pending send: sending that message again is refused."""
        self._native.decide(approval_id, False)

    def approval(self, approval_id: str) -> dict[str, Any] | None:
        """``{"id", "status", "preview"}`` of an approval (``pending``, ``approved``,
        ``rejected``, ``expired`` or ``used``; the exact message), or None when unknown."""
        text = self._native.approval_json(approval_id)
        if text is None:
            return None
        found: dict[str, Any] = json.loads(text)
        return found

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def mode(self) -> Literal["local", "hosted"]:
        """``local`` (the engine runs in this process) or ``hosted`` (through a server)."""
        return "hosted" if self._native.mode == "hosted" else "local"

    @property
    def closed(self) -> bool:
        return self._native.closed

    @property
    def sandbox(self) -> Sandbox | None:
        """The in-process emulator this connector is bound to (see ``agent_connectors.sandbox``)."""
        return self._keepalive

    def close(self) -> None:
        """Releases the engine (and the sandbox it started); calls already running finish,
        later ones raise RuntimeError."""
        self._native.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r}, closed={self.closed})"



def _result(text: str) -> ExecuteResult:
    body = json.loads(text)
    return ExecuteResult(result=body.get("result"), metadata=body.get("metadata") or {})


class GmailConnector(_Connector):
    """Gmail: ``GmailConnector(auth_config=GmailAuthConfig(refresh_token=..., client_id=...,
    client_secret=...))``, or a :class:`HostedAuthConfig`."""

    kind = "gmail"
    _auth_type = GmailAuthConfig

    def __init__(
        self,
        auth_config: GmailAuthConfig | HostedAuthConfig,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        on_token_refresh: Callable[[RefreshedTokens], None] | None = None,
    ) -> None:
        super().__init__(
            auth_config, base_url=base_url, timeout=timeout, on_token_refresh=on_token_refresh
        )


class OutlookConnector(_Connector):
    """Outlook (Microsoft Graph): ``OutlookConnector(auth_config=OutlookAuthConfig(...))``, or
    a :class:`HostedAuthConfig`."""

    kind = "outlook"
    _auth_type = OutlookAuthConfig

    def __init__(
        self,
        auth_config: OutlookAuthConfig | HostedAuthConfig,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        on_token_refresh: Callable[[RefreshedTokens], None] | None = None,
    ) -> None:
        super().__init__(
            auth_config, base_url=base_url, timeout=timeout, on_token_refresh=on_token_refresh
        )
