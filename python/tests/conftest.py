"""Shared fixtures: in-process sandbox emulators (no network, no credentials)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_connectors import GmailConnector, OutlookConnector, sandbox


@pytest.fixture
def gmail() -> Iterator[GmailConnector]:
    connector = sandbox.gmail(quotas=False)
    yield connector
    connector.close()


@pytest.fixture
def outlook() -> Iterator[OutlookConnector]:
    connector = sandbox.outlook(quotas=False)
    yield connector
    connector.close()


@pytest.fixture
def gmail_sandbox() -> Iterator[sandbox.Sandbox]:
    sb = sandbox.start("gmail", quotas=False)
    yield sb
    sb.close()
