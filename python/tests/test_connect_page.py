"""Issue 25: the connect page, the embeddable button and re-authorization, end to end in
headless Chromium (Debian's `chromium`, driven by Playwright) against a `connectors serve
--sandbox` whose OAuth flow goes to the emulators' consent and token endpoints.

An "application" is served on 127.0.0.1 (its origin is on the organization's allow-list) and
the same page on localhost (a different origin, not on it). The emulators of `serve --sandbox`
show their providers' consent pages (docs/provider-behaviour.md, "Consent screens"), so the
end user's choices there are real clicks: Google's "Continue" / "Cancel" with a checkbox per
scope, Microsoft's "Accept" / "Cancel" for the whole set.

Without Chromium the tests skip, except in CI (CI=1), where they fail. With
CONNECT_SCREENSHOTS=DIR each state is saved as a PNG there (docs/connect/ holds them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MESSAGE_TYPE = "agent-connectors:connect"

if not (os.path.isfile(CHROMIUM) or shutil.which("chromium")):
    if os.environ.get("CI"):
        pytest.fail(f"Chromium is missing at {CHROMIUM} (.ci/run installs Debian's chromium)", pytrace=False)
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


APP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>App</title>
<script src="{server}/connect/button.js"></script></head>
<body>
<button id="connect" data-agent-connect-url="">Connect your email</button>
<script>
window.results = [];
window.allMessages = [];
if (location.search.indexOf("block=1") >= 0) {{ window.open = function () {{ return null; }}; }}
window.addEventListener("message", function (e) {{ window.allMessages.push(e.data); }});
document.addEventListener("{type}", function (e) {{ window.results.push(e.detail); }});
</script>
</body></html>
"""

FRAME_PAGE = """<!doctype html><html lang="en"><head><title>Framer</title></head>
<body><iframe id="f" title="connect" src="{url}"></iframe></body></html>"""


# A 1x1 blue PNG: the organization's logo.
LOGO_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgqP8PAAKAAX+JMiaCAAAAAElFTkSuQmCC"


class _App(BaseHTTPRequestHandler):
    server_url = ""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urllib.parse.urlparse(self.path)
        if path.path == "/app":
            body = APP_PAGE.format(server=self.server_url, type=MESSAGE_TYPE)
        elif path.path == "/logo.png":
            data = base64.b64decode(LOGO_PNG)
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        elif path.path == "/frame":
            url = urllib.parse.parse_qs(path.query)["url"][0]
            body = FRAME_PAGE.format(url=url)
        else:
            body = "<!doctype html><html lang=\"en\"><title>Back</title><p>Back in the app</p></html>"
        data = body.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


class Env:
    def __init__(self, server: dict[str, Any], app_port: int) -> None:
        self.server = server
        self.base: str = server["server_url"]
        self.app = f"http://127.0.0.1:{app_port}"
        self.other = f"http://localhost:{app_port}"
        self.back = f"{self.app}/back"
        self.token = self._token()

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        headers = {"content-type": "application/json"}
        if auth:
            headers["authorization"] = f"Bearer {self.token}"
            headers["x-organization-id"] = self.server["organization_id"]
        req = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=headers,
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def _token(self) -> str:
        v = self._request(
            "POST",
            "/api/v1/account/applications/token",
            {"client_id": self.server["client_id"], "client_secret": self.server["client_secret"]},
            auth=False,
        )
        token: str = v["access_token"]
        return token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self._request(method, path, body)

    def session(self, types: list[str] | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {"customer_name": "ada", "redirect_url": self.back, **extra}
        if types is not None:
            body["connector_types"] = types
        v = self.call("POST", "/api/v1/integrations/connectors/connect/sessions", body)
        url: str = v["connect_url"]
        assert url.startswith(self.base + "/connect/")
        return url

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(Path(self.server["data_dir"]) / "connectors.db", timeout=10)


@pytest.fixture(scope="module")
def env(server: dict[str, Any]) -> Iterator[Env]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    _App.server_url = server["server_url"]
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    e = Env(server, port)
    settings = e.call("GET", "/api/v1/organization/settings")
    allow = [*settings["redirect_allowlist"], e.back]
    e.call(
        "PUT",
        "/api/v1/organization/settings",
        {"redirect_allowlist": allow, "display_name": "Acme Mail Assistant", "logo_url": f"{e.app}/logo.png"},
    )
    yield e
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM if os.path.isfile(CHROMIUM) else shutil.which("chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()


def shot(page: Page, name: str) -> None:
    out = os.environ.get("CONNECT_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"), full_page=True)


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))


def provider_button(page: Page, kind: str) -> Any:
    label = {"gmail": "Connect Google (Gmail)", "outlook": "Connect Microsoft (Outlook)"}[kind]
    return page.get_by_role("button", name=label)


def connector(env: Env, cid: str) -> Any:
    return env.call("GET", f"/api/v1/integrations/connectors/{cid}")


# The emulators' consent screens: (heading, accept button) per provider.
CONSENT = {"gmail": ("Sign in with Google", "Continue"), "outlook": ("Permissions requested", "Accept")}


def consent(page: Page, kind: str, accept: bool = True, untick: tuple[str, ...] = (), name: str = "") -> None:
    """The end user on the provider's consent screen: unticks `untick` (Google's granular
    consent), then accepts or cancels."""
    heading, accept_label = CONSENT[kind]
    page.get_by_role("heading", level=1, name=heading).wait_for()
    for scope in untick:
        page.get_by_role("checkbox", name=scope).uncheck()
    if name:
        shot(page, name)
    page.get_by_role("button", name=accept_label if accept else "Cancel", exact=True).click()


def consent_scopes(page: Page) -> list[str]:
    """The scopes the consent screen lists."""
    items: list[str] = page.locator("fieldset li").all_inner_texts()
    return [i.strip() for i in items]


@pytest.mark.parametrize("kind", ["gmail", "outlook"])
def test_redirect_flow_returns_to_the_app_with_a_connector_id(env: Env, page: Page, kind: str) -> None:
    url = env.session(["gmail", "outlook"])
    page.goto(url)
    assert page.get_by_role("heading", level=1).inner_text() == "Connect your email account"
    assert "Acme Mail Assistant" in page.inner_text("header")
    shot(page, "connect-choose")
    provider_button(page, kind).click()
    consent(page, kind, name=f"consent-{kind}")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))
    cid = query(page.url)["connector_id"]
    c = connector(env, cid)
    assert c["connector_type"] == kind and c["customer_name"] == "ada"


def test_the_page_works_with_the_keyboard_alone(env: Env, page: Page) -> None:
    page.goto(env.session(["outlook"]))
    for _ in range(10):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.textContent")
        if focused == "Connect Microsoft (Outlook)":
            break
    else:
        pytest.fail("the provider button is not reachable with Tab")
    page.keyboard.press("Enter")
    consent(page, "outlook")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))


@pytest.mark.parametrize("kind", ["gmail", "outlook"])
def test_popup_flow_reports_the_connector_to_the_opener(env: Env, page: Page, kind: str) -> None:
    page.goto(f"{env.app}/app")
    page.eval_on_selector("#connect", "(b, u) => b.setAttribute('data-agent-connect-url', u)", env.session([kind]))
    with page.expect_popup() as info:
        page.click("#connect")
    popup = info.value
    popup.wait_for_load_state()
    assert "mode=popup" in popup.url
    shot(popup, f"connect-popup-{kind}")
    provider_button(popup, kind).click()
    with popup.expect_event("close"):
        consent(popup, kind)
    page.wait_for_function("window.results.length > 0")
    results = page.evaluate("window.results")
    assert len(results) == 1 and set(results[0]) == {"connector_id"}, results
    assert connector(env, results[0]["connector_id"])["connector_type"] == kind


def test_a_blocked_popup_falls_back_to_the_redirect(env: Env, page: Page) -> None:
    page.goto(f"{env.app}/app?block=1")
    page.eval_on_selector("#connect", "(b, u) => b.setAttribute('data-agent-connect-url', u)", env.session(["gmail"]))
    page.click("#connect")
    page.wait_for_url(re.compile(r"/connect/s/"))
    assert "mode=popup" not in page.url
    provider_button(page, "gmail").click()
    consent(page, "gmail")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))


def test_a_disallowed_opener_gets_no_message(env: Env, page: Page) -> None:
    # The same application page on another origin (localhost), which is not on the allow-list.
    page.goto(f"{env.other}/app")
    page.eval_on_selector("#connect", "(b, u) => b.setAttribute('data-agent-connect-url', u)", env.session(["gmail"]))
    with page.expect_popup() as info:
        page.click("#connect")
    popup = info.value
    provider_button(popup, "gmail").click()
    consent(popup, "gmail")
    popup.wait_for_selector("#result", state="attached")
    assert popup.get_attribute("#result", "data-target-origin") == ""
    assert popup.get_by_role("heading", level=1).inner_text() == "Connected"
    shot(popup, "connect-popup-result-not-posted")
    page.wait_for_timeout(1000)
    assert page.evaluate("window.allMessages") == []
    assert page.evaluate("window.results") == []


def test_cancel_on_the_consent_screen_is_a_clear_error_in_the_popup_and_the_redirect(env: Env, page: Page) -> None:
    # Google's screen, in the popup: the opener gets access_denied.
    page.goto(f"{env.app}/app")
    page.eval_on_selector("#connect", "(b, u) => b.setAttribute('data-agent-connect-url', u)", env.session(["gmail"]))
    with page.expect_popup() as info:
        page.click("#connect")
    popup = info.value
    provider_button(popup, "gmail").click()
    with popup.expect_event("close"):
        consent(popup, "gmail", accept=False)
    page.wait_for_function("window.results.length > 0")
    assert page.evaluate("window.results")[0]["error"] == "access_denied"

    # Microsoft's screen, in the redirect flow.
    page.goto(env.session(["outlook"]))
    provider_button(page, "outlook").click()
    consent(page, "outlook", accept=False)
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?error=access_denied"))
    assert "AADSTS65004" in query(page.url)["error_description"]
    shot(page, "connect-denied-back-in-the-app")


def test_unticking_a_needed_permission_is_a_clear_error(env: Env, page: Page) -> None:
    page.goto(env.session(["gmail"]))
    provider_button(page, "gmail").click()
    consent(page, "gmail", untick=("https://mail.google.com/",), name="consent-gmail-unticked")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?error=insufficient_scopes"))
    assert "https://mail.google.com/" in query(page.url)["error_description"]


def test_a_session_asks_only_the_capabilities_it_names(env: Env, page: Page) -> None:
    # Read-only mail plus the calendar: the page says just that, the consent asks just that,
    # and unticking the calendar (asked) fails while the grant of both succeeds.
    url = env.session(["gmail", "outlook"], capabilities=["read", "calendar"])
    page.goto(url)
    gmail = page.get_by_role("region", name="Google (Gmail)")
    assert gmail.get_by_role("listitem").all_inner_texts() == [
        "Read your email and labels",
        "See, create and change your calendars and events",
    ]
    assert "Send email as you" not in page.inner_text("main")
    shot(page, "connect-choose-read-and-calendar")
    provider_button(page, "gmail").click()
    page.get_by_role("heading", level=1, name="Sign in with Google").wait_for()
    assert consent_scopes(page) == [
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/calendar",
    ]
    consent(page, "gmail", untick=("https://www.googleapis.com/auth/calendar",))
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?error=insufficient_scopes"))
    assert "https://www.googleapis.com/auth/calendar" in query(page.url)["error_description"]

    # Without `calendar` (the default) no calendar scope is asked at all.
    page.goto(env.session(["outlook"]))
    assert "calendar" not in page.inner_text("main")
    provider_button(page, "outlook").click()
    page.get_by_role("heading", level=1, name="Permissions requested").wait_for()
    assert not [s for s in consent_scopes(page) if "Calendars" in s], consent_scopes(page)
    consent(page, "outlook")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))


def test_a_used_or_expired_session_sends_the_user_back_with_a_clear_error(env: Env, page: Page) -> None:
    url = env.session(["gmail"])
    page.goto(url)
    provider_button(page, "gmail").click()
    consent(page, "gmail")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))
    page.goto(url)
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?error=session_used"))

    url = env.session(["gmail"])
    token = url.rsplit("/", 1)[1]
    page.goto(url)
    with env.db() as db:
        # Expire this session (the test cannot wait 15 minutes); the server keeps only the
        # SHA-256 of `connect:<token>`.
        digest = hashlib.sha256(f"connect:{token}".encode()).hexdigest()
        done = db.execute("UPDATE connect_sessions SET expires_at = 0 WHERE token_hash = ?", (digest,))
        assert done.rowcount == 1
    provider_button(page, "gmail").click()
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?error=session_expired"))
    assert token not in page.url
    # In a popup the expired link is reported to the opener.
    page.goto(f"{env.app}/app")
    page.eval_on_selector("#connect", "(b, u) => b.setAttribute('data-agent-connect-url', u)", url)
    with page.expect_popup() as info:
        page.click("#connect")
    page.wait_for_function("window.results.length > 0")
    assert page.evaluate("window.results")[0]["error"] == "session_expired"
    assert info.value.is_closed()


def test_reconnect_keeps_the_connector_id(env: Env, page: Page) -> None:
    page.goto(env.session(["gmail"]))
    provider_button(page, "gmail").click()
    consent(page, "gmail")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))
    cid = query(page.url)["connector_id"]
    env.call("PATCH", f"/api/v1/integrations/connectors/{cid}", {"name": "Ada's mail"})
    env.call("PUT", f"/api/v1/integrations/connectors/{cid}/policy", {"policy": {"mode": "read_only"}})
    with env.db() as db:
        db.execute("UPDATE connectors SET status = 'needs_reauth', status_reason = 'revoked' WHERE id = ?", (cid,))
    url = env.session(reconnect_connector_id=cid)
    page.goto(url)
    assert page.get_by_role("heading", level=1).inner_text() == "Reconnect your account"
    shot(page, "connect-reconnect")
    page.get_by_role("button", name="Reconnect Google (Gmail)").click()
    consent(page, "gmail")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))
    assert query(page.url)["connector_id"] == cid
    c = connector(env, cid)
    assert c["name"] == "Ada's mail" and c["status"] == "active"
    assert env.call("GET", f"/api/v1/integrations/connectors/{cid}/policy")["policy"]["mode"] == "read_only"


def test_the_page_cannot_be_framed_by_another_origin(env: Env, page: Page) -> None:
    url = env.session(["gmail"])
    page.goto(f"{env.app}/frame?url=" + urllib.parse.quote(url, safe=""))
    page.wait_for_timeout(500)
    frame = page.frame_locator("#f")
    assert frame.get_by_role("button", name="Connect Google (Gmail)").count() == 0
    # ...and the framing did not use the session up.
    page.goto(url)
    assert provider_button(page, "gmail").is_visible()


def test_axe_core_finds_no_serious_violation(env: Env, page: Page) -> None:
    axe = (resources.files("axe_playwright_python") / "axe.min.js").read_text()
    url = env.session(["gmail", "outlook"])
    denied = urllib.parse.urlencode({"error": "access_denied", "error_description": "the end user denied access"})
    for name, target in [
        ("connect-page-axe", url),
        ("connect-finished-error", f"{env.base}/connect/finished?{denied}"),
        ("connect-unknown-link", f"{env.base}/connect/s/{'A' * 43}"),
    ]:
        page.goto(target)
        shot(page, name)
        # The page's CSP forbids injected scripts; evaluate runs axe through the debugger.
        page.evaluate(axe)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], bad


def test_serve_sandbox_prints_a_connect_url_that_ends_in_a_connector(env: Env, page: Page) -> None:
    log = (Path(env.server["data_dir"]) / "server.log").read_text()
    m = re.search(r"Connect page[^:]*: (http://\S+)", log)
    assert m, log
    page.goto(m.group(1))
    shot(page, "connect-sandbox")
    provider_button(page, "gmail").click()
    consent(page, "gmail")
    page.wait_for_url(re.compile(r"/connect/finished\?connector_id="))
    shot(page, "connect-finished")
    cid = page.inner_text("#connector-id")
    assert connector(env, cid)["connector_type"] == "gmail"


def test_a_reconnect_link_from_the_api_reconnects_and_ends_on_the_close_this_window_page(
    env: Env, page: Page
) -> None:
    page.goto(env.session(["outlook"]))
    provider_button(page, "outlook").click()
    consent(page, "outlook")
    page.wait_for_url(re.compile(re.escape(env.back) + r"\?connector_id="))
    cid = query(page.url)["connector_id"]
    with env.db() as db:
        db.execute("UPDATE connectors SET status = 'needs_reauth', status_reason = 'revoked' WHERE id = ?", (cid,))
    link = env.call("POST", f"/api/v1/integrations/connectors/{cid}/reconnect_link")
    url: str = link["reconnect_url"]
    assert url.startswith(env.base + "/connect/r/") and link["expires_in"] == 7 * 86400
    page.goto(url)
    assert page.get_by_role("heading", level=1).inner_text() == "Reconnect your account"
    shot(page, "connect-reconnect-link")
    page.get_by_role("button", name="Reconnect Microsoft (Outlook)").click()
    consent(page, "outlook")
    page.wait_for_url(re.compile(r"/connect/finished\?connector_id="))
    assert page.inner_text("#connector-id") == cid
    assert "You can close this window" in page.inner_text("main")
    shot(page, "connect-reconnected")
    assert connector(env, cid)["status"] == "active"
    # Active again: the link is void.
    page.goto(url)
    assert page.get_by_role("heading", level=1).inner_text() == "Link not valid"
