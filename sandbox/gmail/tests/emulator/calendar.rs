//! Google Calendar v3 on the emulator: every answer validates against its method's response
//! schema from Google's discovery document (unknown fields rejected, the fields clients rely on
//! required), a mutated answer fails, and the behaviours clients depend on hold over HTTP.

use std::collections::{BTreeSet, HashMap};

use jsonschema::Validator;
use sandbox_gmail::{GmailSandbox, SandboxConfig, TokenRule};
use serde_json::{json, Map, Value};

use crate::contract::convert;

static DISCOVERY: &str = include_str!("../../../../tests/contracts/calendar.v3.json");

fn required(name: &str) -> &'static [&'static str] {
    match name {
        "Event" => &["id", "status"],
        "EventAttendee" => &["email", "responseStatus"],
        "EventDateTime" => &[],
        "Events" => &["items", "timeZone"],
        "CalendarList" => &["items"],
        "CalendarListEntry" => &["id", "summary", "accessRole", "timeZone"],
        "FreeBusyResponse" => &["calendars", "timeMin", "timeMax"],
        "FreeBusyCalendar" => &["busy"],
        "TimePeriod" => &["start", "end"],
        _ => &[],
    }
}

struct Contracts {
    defs: Map<String, Value>,
    responses: HashMap<String, Option<String>>,
}

impl Contracts {
    fn load() -> Self {
        let doc: Value = serde_json::from_str(DISCOVERY).unwrap();
        let mut defs = Map::new();
        for (name, s) in doc["schemas"].as_object().unwrap() {
            let mut c = convert(s);
            if !required(name).is_empty() {
                c["required"] = json!(required(name));
            }
            defs.insert(name.clone(), c);
        }
        let mut responses = HashMap::new();
        let mut stack = vec![doc["resources"].clone()];
        while let Some(resources) = stack.pop() {
            for res in resources.as_object().into_iter().flatten().map(|(_, r)| r) {
                for m in res["methods"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, m)| m)
                {
                    responses.insert(
                        m["id"].as_str().unwrap().to_string(),
                        m["response"]["$ref"].as_str().map(str::to_string),
                    );
                }
                stack.push(res["resources"].clone());
            }
        }
        Contracts { defs, responses }
    }

    fn validator(&self, method: &str) -> Validator {
        let name = self.responses[method].clone().expect("a response schema");
        // A timed event must have its start and end on the instance (not on a removal).
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": self.defs,
            "allOf": [{"$ref": format!("#/$defs/{name}")}],
        });
        jsonschema::validator_for(&schema).expect("schema compiles")
    }

    fn check(&self, method: &str, v: &Value) -> Result<(), String> {
        let errors: Vec<String> = self
            .validator(method)
            .iter_errors(v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

struct Run {
    sb: GmailSandbox,
    http: reqwest::Client,
    contracts: Contracts,
    checked: BTreeSet<String>,
}

const ADA: &str = "ada@example.com";
const GRACE: &str = "grace@example.com";
const CAL: &str = "/calendar/v3";

impl Run {
    fn new() -> Self {
        let sb = GmailSandbox::start(SandboxConfig {
            quotas: false,
            tokens: vec![
                TokenRule::new("ada", ADA, &["*"]),
                TokenRule::new("grace", GRACE, &["calendar.events", "calendar.freebusy"]),
                TokenRule::new("mail", ADA, &["gmail.readonly"]),
            ],
            ..Default::default()
        })
        .unwrap();
        Run {
            sb,
            http: reqwest::Client::new(),
            contracts: Contracts::load(),
            checked: BTreeSet::new(),
        }
    }

    async fn raw(&self, token: &str, verb: &str, path: &str, body: Option<Value>) -> (u16, String) {
        let mut rb = self
            .http
            .request(
                verb.parse().unwrap(),
                format!("{}{CAL}{path}", self.sb.base_url()),
            )
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Calls as `token` and validates a 2xx answer against `method`'s response schema.
    async fn call(
        &mut self,
        token: &str,
        method: &str,
        verb: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, text) = self.raw(token, verb, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        self.checked.insert(method.to_string());
        if self.contracts.responses[method].is_none() {
            assert!(text.is_empty(), "{method}: {text}");
            return Value::Null;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        if let Err(e) = self.contracts.check(method, &v) {
            panic!("{method} {path}: answer does not match the discovery schema: {e}\n{v:#}");
        }
        v
    }
}

fn meeting() -> Value {
    json!({
        "summary": "Planning", "location": "Room 2",
        "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-16T10:00:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        "attendees": [{"email": GRACE, "displayName": "Grace"}],
        "conferenceData": {"createRequest": {"requestId": "r1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    })
}

#[tokio::test]
async fn every_calendar_answer_matches_its_discovery_schema() {
    let mut r = Run::new();
    r.call(
        "ada",
        "calendar.calendarList.list",
        "GET",
        "/users/me/calendarList",
        None,
    )
    .await;
    let entry = r
        .call(
            "ada",
            "calendar.calendarList.get",
            "GET",
            "/users/me/calendarList/primary",
            None,
        )
        .await;
    assert_eq!(entry["id"], ADA);
    let ev = r
        .call(
            "ada",
            "calendar.events.insert",
            "POST",
            "/calendars/primary/events?conferenceDataVersion=1&sendUpdates=all",
            Some(meeting()),
        )
        .await;
    let id = ev["id"].as_str().unwrap().to_string();
    assert!(ev["hangoutLink"]
        .as_str()
        .unwrap()
        .starts_with("https://meet.google.com/"));
    r.call(
        "ada",
        "calendar.events.get",
        "GET",
        &format!("/calendars/primary/events/{id}"),
        None,
    )
    .await;
    let list = r
        .call("ada", "calendar.events.list", "GET", "/calendars/primary/events?singleEvents=true&orderBy=startTime&timeMin=2026-03-01T00:00:00Z&maxResults=2", None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let next = list["nextPageToken"].as_str().unwrap();
    let last = r
        .call("ada", "calendar.events.list", "GET", &format!("/calendars/primary/events?singleEvents=true&orderBy=startTime&timeMin=2026-03-01T00:00:00Z&maxResults=2&pageToken={next}"), None)
        .await;
    let token = last["nextSyncToken"].as_str().unwrap().to_string();
    let instances = r
        .call(
            "ada",
            "calendar.events.instances",
            "GET",
            &format!("/calendars/primary/events/{id}/instances?timeZone=UTC"),
            None,
        )
        .await;
    assert_eq!(instances["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        instances["items"][2]["start"]["dateTime"],
        "2026-03-30T07:00:00Z"
    );
    let second = instances["items"][1]["id"].as_str().unwrap().to_string();
    // The attendee answers one occurrence on her copy.
    let mine =
        json!({"attendees": [{"email": GRACE, "responseStatus": "tentative", "comment": "maybe"}]});
    let answered = r
        .call(
            "grace",
            "calendar.events.patch",
            "PATCH",
            &format!("/calendars/primary/events/{second}"),
            Some(mine),
        )
        .await;
    assert_eq!(answered["attendees"][0]["self"], true);
    let mut whole = meeting();
    whole.as_object_mut().unwrap().remove("conferenceData");
    whole["summary"] = json!("Planning (renamed)");
    r.call(
        "ada",
        "calendar.events.update",
        "PUT",
        &format!("/calendars/primary/events/{id}"),
        Some(whole),
    )
    .await;
    let changes = r
        .call(
            "ada",
            "calendar.events.list",
            "GET",
            &format!("/calendars/primary/events?syncToken={token}"),
            None,
        )
        .await;
    assert!(!changes["items"].as_array().unwrap().is_empty());
    let fb = r
        .call(
            "grace",
            "calendar.freebusy.query",
            "POST",
            "/freeBusy",
            Some(json!({
            "timeMin": "2026-03-16T00:00:00Z", "timeMax": "2026-03-31T00:00:00Z",
            "items": [{"id": ADA}, {"id": "primary"}, {"id": "nobody@example.com"}]})),
        )
        .await;
    assert_eq!(fb["calendars"][ADA]["busy"].as_array().unwrap().len(), 3);
    assert_eq!(
        fb["calendars"]["nobody@example.com"]["errors"][0]["reason"],
        "notFound"
    );
    r.call(
        "ada",
        "calendar.events.delete",
        "DELETE",
        &format!("/calendars/primary/events/{id}"),
        None,
    )
    .await;
    let expected: BTreeSet<String> = [
        "calendar.calendarList.list",
        "calendar.calendarList.get",
        "calendar.events.insert",
        "calendar.events.get",
        "calendar.events.list",
        "calendar.events.instances",
        "calendar.events.patch",
        "calendar.events.update",
        "calendar.events.delete",
        "calendar.freebusy.query",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(r.checked, expected);
}

#[tokio::test]
async fn the_calendar_validator_rejects_mutated_answers() {
    let mut r = Run::new();
    let good = r
        .call(
            "ada",
            "calendar.events.insert",
            "POST",
            "/calendars/primary/events",
            Some(meeting()),
        )
        .await;
    let c = &r.contracts;
    let m = "calendar.events.get";
    assert!(c.check(m, &good).is_ok());
    let mut unknown = good.clone();
    unknown["surprise"] = json!(1);
    assert!(c.check(m, &unknown).unwrap_err().contains("surprise"));
    let mut nested = good.clone();
    nested["attendees"][0]["extra"] = json!("x");
    assert!(c.check(m, &nested).is_err());
    let mut wrong_type = good.clone();
    wrong_type["sequence"] = json!("3");
    assert!(c.check(m, &wrong_type).is_err());
    let mut missing = good.clone();
    missing["attendees"][0]
        .as_object_mut()
        .unwrap()
        .remove("responseStatus");
    assert!(c.check(m, &missing).unwrap_err().contains("responseStatus"));
    let fb = json!({"kind": "calendar#freeBusy", "timeMin": "a", "timeMax": "b",
        "calendars": {"x": {"busy": [{"start": "s"}]}}});
    assert!(c.check("calendar.freebusy.query", &fb).is_err());
}

#[tokio::test]
async fn calendar_behaviour_clients_rely_on() {
    let r = Run::new();
    // Scopes per method: a mail-only token is refused, naming the calendar scopes.
    let (status, text) = r
        .raw("mail", "GET", "/calendars/primary/events", None)
        .await;
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("insufficientPermissions") && text.contains("auth/calendar"),
        "{text}"
    );
    // A client-chosen id: base32hex only, and once.
    let mut ev = meeting();
    ev["id"] = json!("abcdefg12345");
    assert_eq!(
        r.raw("ada", "POST", "/calendars/primary/events", Some(ev.clone()))
            .await
            .0,
        200
    );
    let (status, text) = r
        .raw("ada", "POST", "/calendars/primary/events", Some(ev.clone()))
        .await;
    assert_eq!(status, 409, "{text}");
    ev["id"] = json!("not_base32hex!");
    assert_eq!(
        r.raw("ada", "POST", "/calendars/primary/events", Some(ev))
            .await
            .0,
        400
    );
    // A recurring event needs a time zone; unknown fields are refused.
    let no_zone = json!({"summary": "x", "start": {"dateTime": "2026-03-16T09:00:00+01:00"},
        "end": {"dateTime": "2026-03-16T10:00:00+01:00"}, "recurrence": ["RRULE:FREQ=DAILY"]});
    let (status, text) = r
        .raw("ada", "POST", "/calendars/primary/events", Some(no_zone))
        .await;
    assert_eq!(status, 400);
    assert!(text.contains("Missing time zone definition"), "{text}");
    let mut unknown = meeting();
    unknown["colour"] = json!("red");
    assert_eq!(
        r.raw("ada", "POST", "/calendars/primary/events", Some(unknown))
            .await
            .0,
        400
    );
    // An attendee may answer, not rename.
    let (status, text) = r
        .raw(
            "grace",
            "PATCH",
            "/calendars/primary/events/abcdefg12345",
            Some(json!({"summary": "mine"})),
        )
        .await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("forbiddenForNonOrganizer"), "{text}");
    // Deleting twice: 410 the second time; an expired sync token: 410 fullSyncRequired.
    let (_, list) = r.raw("ada", "GET", "/calendars/primary/events", None).await;
    let token = serde_json::from_str::<Value>(&list).unwrap()["nextSyncToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        r.raw(
            "ada",
            "DELETE",
            "/calendars/primary/events/abcdefg12345",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        r.raw(
            "ada",
            "DELETE",
            "/calendars/primary/events/abcdefg12345",
            None
        )
        .await
        .0,
        410
    );
    let (status, text) = r
        .raw(
            "ada",
            "GET",
            &format!("/calendars/primary/events?syncToken={token}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let removed = &serde_json::from_str::<Value>(&text).unwrap()["items"][0];
    assert_eq!(removed["status"], "cancelled");
    r.sb.expire_calendar_sync_tokens();
    let (status, text) = r
        .raw(
            "ada",
            "GET",
            &format!("/calendars/primary/events?syncToken={token}"),
            None,
        )
        .await;
    assert_eq!(status, 410);
    assert!(text.contains("fullSyncRequired"), "{text}");
    let (status, _) = r
        .raw(
            "ada",
            "GET",
            &format!("/calendars/primary/events?syncToken={token}&timeMin=2026-01-01T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(status, 400);
}
