"""Google's own client, google-api-python-client (unmodified, its bundled calendar.v3 discovery
document), against the calendar emulator of the in-process Gmail sandbox: list, get, insert,
update, patch (an attendee's answer), delete and incremental sync with a sync token; and the
calendar entities of our own Gmail connector in process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.oauth2.credentials import Credentials  # type: ignore[import-untyped,unused-ignore]
from googleapiclient.discovery import build  # type: ignore[import-untyped,unused-ignore]
from googleapiclient.errors import HttpError  # type: ignore[import-untyped,unused-ignore]

from agent_connectors import sandbox

ADA = "ada@example.com"
GRACE = "grace@example.com"
BOB = "bob@example.com"


@pytest.fixture
def calendar_sandbox() -> Iterator[sandbox.Sandbox]:
    sb = sandbox.start(
        "gmail",
        quotas=False,
        tokens=[
            f"ada-token={ADA}:calendar",
            f"grace-token={GRACE}:calendar.events",
            f"bob-token={BOB}:calendar.events",
        ],
    )
    yield sb
    sb.close()


def service(sb: sandbox.Sandbox, token: str) -> Any:
    return build(
        "calendar",
        "v3",
        credentials=Credentials(token),  # type: ignore[no-untyped-call,unused-ignore]
        client_options={"api_endpoint": f"{sb.base_url}/calendar/v3/"},
        static_discovery=True,
        cache_discovery=False,
    )


def meeting() -> dict[str, Any]:
    return {
        "summary": "Quarterly review",
        "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-16T10:00:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        "attendees": [{"email": GRACE}, {"email": BOB}],
    }


def test_googles_client_lists_creates_gets_updates_and_deletes(calendar_sandbox: sandbox.Sandbox) -> None:
    ada = service(calendar_sandbox, "ada-token")
    calendars = ada.calendarList().list().execute()
    assert [c["id"] for c in calendars["items"]] == [ADA]
    assert ada.calendarList().get(calendarId="primary").execute()["primary"] is True

    created = ada.events().insert(calendarId="primary", body=meeting(), sendUpdates="all").execute()
    assert created["organizer"] == {"email": ADA, "self": True}
    got = ada.events().get(calendarId="primary", eventId=created["id"]).execute()
    assert got["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=4"]

    # Instances across Berlin's change to summer time (2026-03-29), two per page.
    starts: list[str] = []
    request = ada.events().list(
        calendarId="primary",
        singleEvents=True,
        orderBy="startTime",
        timeMin="2026-03-01T00:00:00Z",
        timeMax="2026-05-01T00:00:00Z",
        maxResults=2,
    )
    while request is not None:
        page = request.execute()
        starts += [e["start"]["dateTime"] for e in page["items"]]
        request = ada.events().list_next(request, page)
    assert starts == [
        "2026-03-16T09:00:00+01:00",
        "2026-03-23T09:00:00+01:00",
        "2026-03-30T09:00:00+02:00",
        "2026-04-06T09:00:00+02:00",
    ]

    body = meeting()
    body["summary"] = "Quarterly review (moved)"
    updated = ada.events().update(calendarId="primary", eventId=created["id"], body=body).execute()
    assert updated["summary"] == "Quarterly review (moved)"
    assert ada.events().delete(calendarId="primary", eventId=created["id"]).execute() == ""
    with pytest.raises(HttpError) as gone:
        ada.events().delete(calendarId="primary", eventId=created["id"]).execute()
    assert gone.value.resp.status == 410


def test_attendees_answer_with_patch_and_the_organizer_sees_it(calendar_sandbox: sandbox.Sandbox) -> None:
    ada = service(calendar_sandbox, "ada-token")
    single = meeting()
    del single["recurrence"]
    event = ada.events().insert(calendarId="primary", body=single).execute()
    for token, email, answer in [("grace-token", GRACE, "accepted"), ("bob-token", BOB, "declined")]:
        attendee = service(calendar_sandbox, token)
        mine = attendee.events().get(calendarId="primary", eventId=event["id"]).execute()
        people = mine["attendees"]
        me = next(a for a in people if a.get("self"))
        assert me["email"] == email and me["responseStatus"] == "needsAction"
        me["responseStatus"] = answer
        attendee.events().patch(calendarId="primary", eventId=event["id"], body={"attendees": people}).execute()
    organizers = ada.events().get(calendarId="primary", eventId=event["id"]).execute()
    answers = {a["email"]: a["responseStatus"] for a in organizers["attendees"]}
    assert answers == {GRACE: "accepted", BOB: "declined"}


def test_sync_tokens_give_changes_and_410_once_expired(calendar_sandbox: sandbox.Sandbox) -> None:
    ada = service(calendar_sandbox, "ada-token")
    first = ada.events().insert(calendarId="primary", body=meeting()).execute()
    full = ada.events().list(calendarId="primary").execute()
    token = full["nextSyncToken"]
    assert [e["id"] for e in full["items"]] == [first["id"]]
    second = ada.events().insert(calendarId="primary", body=meeting()).execute()
    changes = ada.events().list(calendarId="primary", syncToken=token).execute()
    assert [e["id"] for e in changes["items"]] == [second["id"]]
    calendar_sandbox.expire_sync_tokens(ADA)
    with pytest.raises(HttpError) as expired:
        ada.events().list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()
    assert expired.value.resp.status == 410


def test_the_gmail_connector_lists_calendar_events_in_process(gmail_sandbox: sandbox.Sandbox) -> None:
    gmail = gmail_sandbox.connector()
    created = gmail.execute_sync(
        "events",
        "create",
        {
            "summary": "Standup",
            "start": {"date_time": "2026-04-01T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-04-01T09:15:00", "time_zone": "Europe/Berlin"},
            "attendees": [GRACE],
        },
    ).result
    listed = gmail.execute_sync(
        "events", "list", {"time_min": "2026-04-01T00:00:00Z", "time_max": "2026-04-02T00:00:00Z"}
    ).result
    assert [e["id"] for e in listed] == [created["id"]]
    assert listed[0]["start"] == {"date_time": "2026-04-01T09:00:00+02:00", "time_zone": "Europe/Berlin"}
    assert listed[0]["attendees"][0]["response_status"] == "needs_action"
    gmail.close()
