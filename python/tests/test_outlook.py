"""OutlookConnector against the in-process Graph emulator."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from agent_connectors import (
    InvalidParamsError,
    NotFoundError,
    OutlookAuthConfig,
    OutlookConnector,
    RateLimitedError,
    SyncRequiredError,
    sandbox,
)


def test_lists_and_reads_the_inbox(outlook: OutlookConnector) -> None:
    page = outlook.execute_sync("messages", "list", {"folder": "inbox", "top": 2})
    assert len(page.result) == 2
    assert page.metadata["next_page_token"]
    first = outlook.execute_sync("messages", "get", {"message_id": page.result[0]["id"]}).result
    assert first["id"] == page.result[0]["id"] and first["subject"] == page.result[0]["subject"]
    assert outlook.sandbox is not None
    box = outlook.sandbox.mailbox(folder="inbox")
    assert box is not None
    assert page.result[0]["id"] in {m["id"] for m in box["messages"]}


async def test_paging_reaches_every_inbox_message(outlook: OutlookConnector) -> None:
    assert outlook.sandbox is not None
    box = outlook.sandbox.mailbox(folder="inbox")
    assert box is not None
    ids: list[str] = []
    params: dict[str, object] = {"folder": "inbox", "top": 2}
    while True:
        page = await outlook.execute("messages", "list", params)
        ids += [m["id"] for m in page.result]
        if "next_page_token" not in page.metadata:
            break
        params = {"page_token": page.metadata["next_page_token"]}
    assert sorted(ids) == sorted(m["id"] for m in box["messages"])


def test_delta_token_then_expired_is_sync_required(outlook: OutlookConnector) -> None:
    first = outlook.execute_sync("messages", "delta", {"folder": "inbox"})
    token = first.metadata["delta_token"]
    again = outlook.execute_sync("messages", "delta", {"folder": "inbox", "delta_token": token})
    assert again.result == [] and again.metadata["delta_token"]
    assert outlook.sandbox is not None
    outlook.sandbox.expire_sync_tokens()
    with pytest.raises(SyncRequiredError):
        outlook.execute_sync("messages", "delta", {"folder": "inbox", "delta_token": token})


def test_errors(outlook: OutlookConnector) -> None:
    with pytest.raises(InvalidParamsError):
        outlook.execute_sync("messages", "list", {"top": "ten"})
    with pytest.raises(NotFoundError):
        outlook.execute_sync("messages", "get", {"message_id": "AAMkAGI2THVSAAA="})


def test_profile_and_schema(outlook: OutlookConnector) -> None:
    assert outlook.execute_sync("profile", "get").result["email_address"] == sandbox.DEMO_USER
    assert "top" in OutlookConnector.schema("messages", "list")["properties"]
    assert "mail_folders" in OutlookConnector.entities()


def test_graph_mailbox_concurrency_is_capped_at_four() -> None:
    """Graph allows 4 concurrent requests per mailbox: 8 threads run in two waves, not eight."""
    sb = sandbox.start("outlook", latency_ms=100, quotas=False)
    outlook = OutlookConnector(OutlookAuthConfig(access_token="t"), base_url=sb.base_url)
    outlook.execute_sync("profile", "get")
    threads = [threading.Thread(target=outlook.execute_sync, args=("profile", "get")) for _ in range(8)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert 0.2 <= elapsed < 0.6, elapsed
    assert sb.stats()["max_in_flight"] == 4
    sb.close()


async def test_send_lands_in_sent_items_once(outlook: OutlookConnector) -> None:
    params = {"to": ["Grace <grace@example.com>"], "subject": "Status", "text": "All green."}
    sent = await outlook.execute("messages", "send", params, idempotency_key="status-1")
    again = await outlook.execute("messages", "send", params, idempotency_key="status-1")
    assert outlook.sandbox is not None
    # Graph files sent mail after its transport delay (a few seconds): the retry finds the
    # message on its way and does not send it again.
    assert again.result is not None and again.result["status"] in ("in_flight", "already_sent")
    for _ in range(100):
        box = outlook.sandbox.mailbox(folder="sentitems")
        assert box is not None
        if any(m["subject"] == "Status" for m in box["messages"]):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)
    box = outlook.sandbox.mailbox(folder="sentitems")
    assert box is not None
    matching = [m for m in box["messages"] if m["subject"] == "Status"]
    assert len(matching) == 1, "the same idempotency key sent once"
    assert sent.result is not None


def test_throttling_past_the_retry_budget_is_rate_limited_with_retry_after(outlook: OutlookConnector) -> None:
    assert outlook.sandbox is not None
    outlook.sandbox.throttle_next(5, 120)
    with pytest.raises(RateLimitedError) as info:
        outlook.execute_sync("profile", "get")
    assert info.value.retry_after == 120
    assert info.value.http_status == 429


def test_a_short_throttle_is_waited_out(outlook: OutlookConnector) -> None:
    assert outlook.sandbox is not None
    outlook.sandbox.throttle_next(1, 1)
    start = time.perf_counter()
    assert outlook.execute_sync("profile", "get").result["email_address"] == sandbox.DEMO_USER
    assert time.perf_counter() - start >= 1.0


def test_calendar_entities_come_from_the_spec(outlook: OutlookConnector) -> None:
    assert {"calendars", "events", "freebusy"} <= set(OutlookConnector.entities())
    assert "respond" in OutlookConnector.actions("events")
    assert "time_min" in OutlookConnector.schema("events", "list")["properties"]
    made = outlook.execute_sync(
        "events",
        "create",
        {
            "summary": "Planning",
            "start": {"date_time": "2026-10-20T10:00:00", "time_zone": "America/New_York"},
            "end": {"date_time": "2026-10-20T10:30:00", "time_zone": "America/New_York"},
            "attendees": ["grace@example.com"],
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=3"],
        },
    ).result
    listed = outlook.execute_sync(
        "events", "list", {"time_min": "2026-10-01T00:00:00Z", "time_max": "2026-12-01T00:00:00Z"}
    ).result
    # the demo calendar has a weekly sync of its own: keep this series' instances
    mine = [e for e in listed if e["series_id"] == made["id"]]
    assert [e["start"]["date_time"] for e in mine] == [
        "2026-10-20T10:00:00-04:00",
        "2026-10-27T10:00:00-04:00",
        "2026-11-03T10:00:00-05:00",
    ]
    with pytest.raises(InvalidParamsError):
        outlook.execute_sync("events", "list", {"time_min": "2026-10-01T00:00:00Z"})
