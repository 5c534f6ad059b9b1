"""The ``@GmailConnector.tool_utils`` decorator: catalogue in the docstring, output-size guard."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from typing import Any, Callable, TypeVar

from .errors import PayloadTooLargeError

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "make_tool_decorator", "output_size"]

#: Characters of JSON a tool may return before the guard asks the model to narrow the call.
DEFAULT_MAX_OUTPUT_CHARS = 50_000

F = TypeVar("F", bound=Callable[..., Any])


def _to_jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def output_size(value: Any) -> int:
    """Characters of the JSON a framework would hand the model for ``value``."""
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(_to_jsonable(value), default=str, ensure_ascii=False))


def _narrowing_hints(spec: dict[str, Any], entity: Any, action: Any, params: Any) -> str:
    """How to make this call smaller, from what the spec says about the action."""
    action_spec = (
        spec.get("entities", {}).get(str(entity), {}).get("actions", {}).get(str(action))
    )
    if not isinstance(action_spec, dict):
        return "Call a narrower action or pass params that select less data."
    hints: list[str] = []
    props = action_spec.get("params", {}).get("properties", {})
    pagination = action_spec.get("pagination") or {}
    size_param = pagination.get("size_param")
    if size_param:
        current = params.get(size_param) if isinstance(params, dict) else None
        smaller = max(1, int(current) // 4) if isinstance(current, int) and current > 1 else 10
        hints.append(
            f"ask for fewer records with `{size_param}` (for example {smaller}) and fetch the "
            f"rest with `{pagination.get('token_param', 'page_token')}` from "
            f"`metadata.{pagination.get('next_token_metadata', 'next_page_token')}`"
        )
    for name in ("q", "query", "filter", "search"):
        if name in props:
            hints.append(f"filter with `{name}`")
            break
    fmt = props.get("format", {})
    if isinstance(fmt, dict) and isinstance(fmt.get("enum"), list):
        light = [f for f in ("metadata", "minimal") if f in fmt["enum"]]
        if light:
            hints.append(f"pass `format: \"{light[0]}\"` to leave bodies out")
    for name in ("select", "fields", "metadata_headers"):
        if name in props:
            hints.append(f"request fewer fields with `{name}`")
            break
    if not hints:
        hints.append("pass params that select less data, or get one record at a time")
    return "To narrow the call: " + "; ".join(hints) + "."


def make_tool_decorator(
    kind: str, spec: dict[str, Any], catalogue: str, max_output_chars: int
) -> Callable[[F], F]:
    if max_output_chars < 1:
        raise ValueError("max_output_chars must be positive")

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        def guard(out: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            size = output_size(out)
            if size <= max_output_chars:
                return out
            try:
                bound = signature.bind_partial(*args, **kwargs).arguments
            except TypeError:
                bound = {}
            entity, action = bound.get("entity", "?"), bound.get("action", "?")
            raise PayloadTooLargeError(
                f"The result of {kind} {entity}.{action} is {size} characters of JSON, over the "
                f"limit of {max_output_chars}. "
                + _narrowing_hints(spec, entity, action, bound.get("params")),
                details={"size": size, "limit": max_output_chars, "entity": entity, "action": action},
            )

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return guard(await fn(*args, **kwargs), args, kwargs)

            wrapper: Callable[..., Any] = async_wrapper
        else:

            @functools.wraps(fn)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                return guard(fn(*args, **kwargs), args, kwargs)

            wrapper = sync_wrapper

        own = inspect.cleandoc(fn.__doc__ or "")
        wrapper.__doc__ = (own + "\n\n" if own else "") + catalogue
        return wrapper  # type: ignore[return-value]

    return decorate
