"""Microsoft's own Graph client, msgraph-sdk, unmodified against the calendar emulator: list,
get, create, update, delete, respond and delta. Only the base URL and the token source are
the test's (as for any Graph tenant); every request and answer goes through the SDK's own
request builders and model (de)serializers."""

from __future__ import annotations

import datetime
import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from agent_connectors import sandbox

# Imported as modules (typed Any): type-checking the whole generated SDK would take minutes.
kiota_auth: Any = importlib.import_module("kiota_abstractions.authentication")
kiota_config: Any = importlib.import_module("kiota_abstractions.base_request_configuration")
msgraph: Any = importlib.import_module("msgraph")
models: Any = importlib.import_module("msgraph.generated.models.event")
dttz: Any = importlib.import_module("msgraph.generated.models.date_time_time_zone")
attendee_mod: Any = importlib.import_module("msgraph.generated.models.attendee")
email_mod: Any = importlib.import_module("msgraph.generated.models.email_address")
body_mod: Any = importlib.import_module("msgraph.generated.models.item_body")
body_type: Any = importlib.import_module("msgraph.generated.models.body_type")
rec_mod: Any = importlib.import_module("msgraph.generated.models.patterned_recurrence")
pattern_mod: Any = importlib.import_module("msgraph.generated.models.recurrence_pattern")
range_mod: Any = importlib.import_module("msgraph.generated.models.recurrence_range")
ptype: Any = importlib.import_module("msgraph.generated.models.recurrence_pattern_type")
rtype: Any = importlib.import_module("msgraph.generated.models.recurrence_range_type")
dow: Any = importlib.import_module("msgraph.generated.models.day_of_week")
response_type: Any = importlib.import_module("msgraph.generated.models.response_type")
accept_mod: Any = importlib.import_module(
    "msgraph.generated.users.item.events.item.accept.accept_post_request_body"
)
decline_mod: Any = importlib.import_module(
    "msgraph.generated.users.item.events.item.decline.decline_post_request_body"
)
view_mod: Any = importlib.import_module(
    "msgraph.generated.users.item.calendar_view.calendar_view_request_builder"
)
delta_mod: Any = importlib.import_module(
    "msgraph.generated.users.item.calendar_view.delta.delta_request_builder"
)
schedule_mod: Any = importlib.import_module(
    "msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body"
)

GRACE = "grace@example.com"
WINDOW = {"start_date_time": "2026-10-01T00:00:00Z", "end_date_time": "2026-12-01T00:00:00Z"}


class _Token(kiota_auth.AccessTokenProvider):  # type: ignore[misc]
    """Any bearer token is the demo user (ada) with every scope in the sandbox."""

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return "sdk-token"

    def get_allowed_hosts_validator(self) -> Any:
        return kiota_auth.AllowedHostsValidator([])


@pytest.fixture
def graph() -> Iterator[tuple[Any, sandbox.Sandbox]]:
    sb = sandbox.start("outlook", seed="empty")
    adapter = msgraph.GraphRequestAdapter(kiota_auth.BaseBearerTokenAuthenticationProvider(_Token()))
    adapter.base_url = sb.base_url
    yield msgraph.GraphServiceClient(request_adapter=adapter), sb
    sb.close()


def _time(s: str, zone: str) -> Any:
    return dttz.DateTimeTimeZone(date_time=s, time_zone=zone)


def _meeting(subject: str) -> Any:
    who = attendee_mod.Attendee(email_address=email_mod.EmailAddress(address=GRACE, name="Grace"))
    return models.Event(
        subject=subject,
        body=body_mod.ItemBody(content_type=body_type.BodyType.Html, content="<p>Agenda</p>"),
        start=_time("2026-10-20T10:00:00", "Eastern Standard Time"),
        end=_time("2026-10-20T10:45:00", "Eastern Standard Time"),
        attendees=[who],
        is_online_meeting=True,
        transaction_id=f"sdk-{subject}",
    )


def _view_config(**extra: Any) -> Any:
    q = view_mod.CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(**WINDOW, **extra)
    return kiota_config.RequestConfiguration(query_parameters=q)


async def test_create_get_list_update_delete(graph: tuple[Any, sandbox.Sandbox]) -> None:
    client, _ = graph
    made = await client.me.events.post(_meeting("Planning"))
    assert made.id and made.subject == "Planning" and made.is_organizer
    assert made.online_meeting.join_url.startswith("https://teams.microsoft.com/")
    assert made.attendees[0].status.response == response_type.ResponseType.None_
    # the same transactionId again: Graph answers with the event it already made
    again = await client.me.events.post(_meeting("Planning"))
    assert again.id == made.id

    got = await client.me.events.by_event_id(made.id).get()
    assert got.start.date_time.startswith("2026-10-20T14:00:00") and got.start.time_zone == "UTC"
    assert got.original_start_time_zone == "Eastern Standard Time"

    cals = await client.me.calendars.get()
    assert cals.value[0].is_default_calendar
    listed = await client.me.events.get()
    assert [e.id for e in listed.value] == [made.id]

    changed = await client.me.events.by_event_id(made.id).patch(models.Event(subject="Planning v2"))
    assert changed.subject == "Planning v2"
    await client.me.events.by_event_id(made.id).delete()
    assert (await client.me.events.get()).value == []


async def test_weekly_series_expands_across_dst_in_the_calendar_view(
    graph: tuple[Any, sandbox.Sandbox],
) -> None:
    client, _ = graph
    series = models.Event(
        subject="Weekly",
        start=_time("2026-10-20T10:00:00", "Eastern Standard Time"),
        end=_time("2026-10-20T10:30:00", "Eastern Standard Time"),
        recurrence=rec_mod.PatternedRecurrence(
            pattern=pattern_mod.RecurrencePattern(
                type=ptype.RecurrencePatternType.Weekly, interval=1, days_of_week=[dow.DayOfWeek.Tuesday]
            ),
            range=range_mod.RecurrenceRange(
                type=rtype.RecurrenceRangeType.Numbered,
                start_date=datetime.date(2026, 10, 20),
                number_of_occurrences=4,
            ),
        ),
    )
    made = await client.me.events.post(series)
    assert made.recurrence.pattern.type == ptype.RecurrencePatternType.Weekly
    view = await client.me.calendar_view.get(_view_config())
    assert [e.start.date_time[:16] for e in view.value] == [
        "2026-10-20T14:00",
        "2026-10-27T14:00",
        "2026-11-03T15:00",
        "2026-11-10T15:00",
    ]
    assert {e.series_master_id for e in view.value} == {made.id}
    instances = await client.me.events.by_event_id(made.id).instances.get(
        kiota_config.RequestConfiguration(
            query_parameters=type(client.me.events.by_event_id(made.id).instances)
            .InstancesRequestBuilderGetQueryParameters(**WINDOW)
        )
    )
    assert len(instances.value) == 4


async def test_attendee_responses_reach_the_organizer(graph: tuple[Any, sandbox.Sandbox]) -> None:
    client, _ = graph
    made = await client.me.events.post(_meeting("Review"))
    grace = client.users.by_user_id(GRACE)
    theirs = (await grace.events.get()).value
    assert len(theirs) == 1 and theirs[0].i_cal_u_id == made.i_cal_u_id
    await grace.events.by_event_id(theirs[0].id).accept.post(
        accept_mod.AcceptPostRequestBody(comment="See you", send_response=True)
    )
    mine = await client.me.events.by_event_id(made.id).get()
    assert mine.attendees[0].status.response == response_type.ResponseType.Accepted
    await grace.events.by_event_id(theirs[0].id).decline.post(
        decline_mod.DeclinePostRequestBody(comment="Sorry", send_response=True)
    )
    mine = await client.me.events.by_event_id(made.id).get()
    assert mine.attendees[0].status.response == response_type.ResponseType.Declined

    body = schedule_mod.GetSchedulePostRequestBody(
        schedules=[GRACE, sandbox.DEMO_USER],
        start_time=_time("2026-10-20T00:00:00", "UTC"),
        end_time=_time("2026-10-21T00:00:00", "UTC"),
        availability_view_interval=60,
    )
    free_busy = await client.me.calendar.get_schedule.post(body)
    by_id = {s.schedule_id: s for s in free_busy.value}
    assert by_id[sandbox.DEMO_USER].availability_view[14] == "2"
    assert set(by_id[GRACE].availability_view) == {"0"}, "declined: free"


async def test_delta_rounds_and_an_expired_token(graph: tuple[Any, sandbox.Sandbox]) -> None:
    client, sb = graph
    for n in range(3):
        await client.me.events.post(_meeting(f"M{n}"))
    q = delta_mod.DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(**WINDOW)
    page = await client.me.calendar_view.delta.get(kiota_config.RequestConfiguration(query_parameters=q))
    seen = list(page.value)
    while page.odata_next_link:
        page = await client.me.calendar_view.delta.with_url(page.odata_next_link).get()
        seen += page.value
    assert len(seen) == 3 and page.odata_delta_link
    await client.me.events.by_event_id(seen[0].id).delete()
    changes = await client.me.calendar_view.delta.with_url(page.odata_delta_link).get()
    assert [e.id for e in changes.value] == [seen[0].id]
    assert "@removed" in changes.value[0].additional_data
    sb.expire_sync_tokens()
    api_error: Any = importlib.import_module("kiota_abstractions.api_error")
    with pytest.raises(api_error.APIError) as gone:
        await client.me.calendar_view.delta.with_url(changes.odata_delta_link).get()
    assert gone.value.response_status_code == 410
