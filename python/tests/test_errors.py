"""The Python exceptions are one to one with the core error table."""

from __future__ import annotations

import inspect

import pytest

import agent_connectors
from agent_connectors import errors
from agent_connectors._native import _raise_error, error_table

TABLE = error_table()


def _camel(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_")) + "Error"


def test_table_is_the_core_table() -> None:
    codes = [row[0] for row in TABLE]
    assert len(codes) == 17 and len(set(codes)) == 17
    assert {"invalid_params", "needs_reauth", "rate_limited", "sync_required", "outcome_unknown"} <= set(codes)


@pytest.mark.parametrize(("code", "status", "title"), TABLE, ids=[row[0] for row in TABLE])
def test_each_code_has_its_own_exported_class(code: str, status: int, title: str) -> None:
    cls = errors.exception_for_code(code)
    assert cls is not errors.ConnectorError
    assert issubclass(cls, errors.ConnectorError)
    assert cls.default_code == code
    assert cls.http_status == status
    # Named after the code, exported from the package.
    expected = _camel(code)
    assert cls.__name__ == ("ProviderError" if code == "provider_error" else expected)
    assert getattr(agent_connectors, cls.__name__) is cls
    assert cls.__name__ in agent_connectors.__all__


@pytest.mark.parametrize(("code", "status", "title"), TABLE, ids=[row[0] for row in TABLE])
def test_native_errors_arrive_as_their_class(code: str, status: int, title: str) -> None:
    with pytest.raises(errors.ConnectorError) as info:
        _raise_error(code, f"{title}: how to fix it", '{"field": "/max_results"}', None)
    exc = info.value
    assert type(exc) is errors.exception_for_code(code)
    assert exc.code == code
    assert exc.message == f"{title}: how to fix it"
    assert exc.details == {"field": "/max_results"}
    assert str(exc) == f"{code}: {title}: how to fix it"
    assert exc.to_dict()["error"]["code"] == code


def test_no_class_without_a_code() -> None:
    """Every ConnectorError subclass in the module is a row of the table (no strays)."""
    table_codes = {row[0] for row in TABLE}
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.ConnectorError) and obj is not errors.ConnectorError
    ]
    assert sorted(c.default_code for c in classes) == sorted(table_codes)


def test_rate_limited_carries_retry_after_seconds() -> None:
    with pytest.raises(agent_connectors.RateLimitedError) as info:
        _raise_error("rate_limited", "slow down", None, 2.5)
    assert info.value.retry_after == 2.5
    assert info.value.details == {}


def test_unknown_code_from_a_newer_server_maps_to_the_base_class() -> None:
    exc = errors.from_error_body({"error": {"code": "brand_new", "message": "m", "details": {"a": 1}}})
    assert type(exc) is errors.ConnectorError
    assert exc.code == "brand_new" and exc.details == {"a": 1}
    body = errors.from_error_body(
        {"error": {"code": "rate_limited", "message": "m", "details": {"retry_after": 3}}}
    )
    assert isinstance(body, agent_connectors.RateLimitedError) and body.retry_after == 3.0


def test_catch_by_base_class() -> None:
    with pytest.raises(agent_connectors.ConnectorError):
        _raise_error("not_found", "no such message", None, None)
