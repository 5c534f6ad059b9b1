"""Auth configs: what is required, and that secrets never show in a repr."""

from __future__ import annotations

import pytest

from agent_connectors import (
    GmailAuthConfig,
    GmailConnector,
    HostedAuthConfig,
    OutlookAuthConfig,
    OutlookConnector,
)


def test_a_token_is_required() -> None:
    with pytest.raises(ValueError, match="access_token or a refresh_token"):
        GmailAuthConfig()
    with pytest.raises(ValueError, match="access_token or a refresh_token"):
        OutlookAuthConfig(client_id="c")


def test_reprs_redact_secrets() -> None:
    configs: list[object] = [
        GmailAuthConfig(refresh_token="1//rt-secret", client_id="cid", client_secret="gs-secret"),
        OutlookAuthConfig(access_token="eyJ-secret", tenant="contoso"),
        HostedAuthConfig("http://127.0.0.1:1", "app", "app-secret", "org", "cust"),
    ]
    for cfg in configs:
        text = repr(cfg)
        assert "secret" not in text.replace("client_secret=", "").replace("[redacted]", ""), text
        assert "[redacted]" in text
    assert "tenant='contoso'" in repr(configs[1])


def test_outlook_tenant_defaults_to_common() -> None:
    assert OutlookAuthConfig(access_token="t").tenant == "common"


def test_hosted_config_requires_every_field() -> None:
    with pytest.raises(ValueError, match="customer_name"):
        HostedAuthConfig("http://127.0.0.1:1", "app", "secret", "org", "")


def test_wrong_auth_config_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="OutlookAuthConfig or a HostedAuthConfig"):
        OutlookConnector(GmailAuthConfig(access_token="t"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="GmailAuthConfig or a HostedAuthConfig"):
        GmailConnector(OutlookAuthConfig(access_token="t"))  # type: ignore[arg-type]


def test_hosted_mode_takes_no_local_options() -> None:
    cfg = HostedAuthConfig("http://127.0.0.1:1", "app", "secret", "org", "cust")
    with pytest.raises(ValueError, match="in process only"):
        GmailConnector(cfg, base_url="http://127.0.0.1:2")
    connector = GmailConnector(cfg)
    assert connector.mode == "hosted"
    connector.close()
    assert connector.closed
