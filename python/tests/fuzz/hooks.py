"""Schemathesis hooks of the API fuzz run (loaded through `SCHEMATHESIS_HOOKS`, see run.py).

Authentication is that of a real client: a bearer token from the token endpoint with the run's
own application (`FUZZ_CLIENT_ID`/`FUZZ_CLIENT_SECRET` of organization `FUZZ_ORG`), sent with
`X-Organization-Id` on the operations the document secures with it (`/metrics` gets the
server's metrics token, `FUZZ_METRICS_TOKEN`); the others (token endpoint,
OAuth callback, push, health, metadata) are called without it. When the fuzzer rotates its own
application's secret, the new secret is kept (as a client would) so that the next 401 fetches a
token with it instead of locking the rest of the run out.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import schemathesis
from schemathesis import Case
from schemathesis.auths import AuthContext
from schemathesis.core.transport import Response
from schemathesis.hooks import HookContext

_lock = threading.Lock()
_creds = {
    "client_id": os.environ["FUZZ_CLIENT_ID"],
    "client_secret": os.environ["FUZZ_CLIENT_SECRET"],
}
ORG = os.environ["FUZZ_ORG"]
BASE = os.environ["FUZZ_BASE_URL"]
METRICS_TOKEN = os.environ["FUZZ_METRICS_TOKEN"]


def _token() -> str:
    """A fresh token; waits out a `429` (the token endpoint's documented rate limit)."""
    deadline = time.monotonic() + 60
    while True:
        with _lock:
            body = json.dumps(_creds).encode()
        req = urllib.request.Request(
            f"{BASE}/api/v1/account/applications/token",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                token: str = json.load(resp)["access_token"]
                return token
        except urllib.error.HTTPError as e:
            if e.code != 429 or time.monotonic() > deadline:
                raise
            time.sleep(float(e.headers.get("Retry-After") or 1))


def _schemes(ctx: AuthContext) -> set[str]:
    """The security schemes the operation asks for (none: it is public)."""
    definition: dict[str, Any] = ctx.operation.definition.raw
    return {name for requirement in definition.get("security") or [] for name in requirement}


@schemathesis.auth(refresh_interval=3000)
class ApplicationToken:
    def get(self, case: Case[Any], ctx: AuthContext) -> str | None:
        return _token()

    def set(self, case: Case[Any], data: str, ctx: AuthContext) -> None:
        schemes = _schemes(ctx)
        if "bearer" in schemes:
            case.headers["Authorization"] = f"Bearer {data}"
            case.headers["X-Organization-Id"] = ORG
        elif "metrics_token" in schemes:
            case.headers["Authorization"] = f"Bearer {METRICS_TOKEN}"


@schemathesis.hook
def after_call(context: HookContext, case: Case[Any], response: Response) -> None:
    """Keeps the run's own secret when the fuzzer rotated it."""
    if response.status_code != 200 or not case.path.endswith("/rotate-secret"):
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        return
    if isinstance(body, dict) and body.get("client_id") == _creds["client_id"]:
        with _lock:
            _creds["client_secret"] = body["client_secret"]


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """Long-polling (`wait`, up to 30 s, on the event feed) is held as documented; the run
    shortens a valid wait to 1 s so that it stays within its time budget. Invalid values
    (negative, over 30, not a number) go out unchanged."""
    query = case.query
    if not isinstance(query, dict):
        return
    wait = query.get("wait")
    seconds = wait if isinstance(wait, int) and not isinstance(wait, bool) else None
    if isinstance(wait, str) and wait.isascii() and wait.isdigit():
        seconds = int(wait)
    if seconds is not None and 1 < seconds <= 30:
        case.query = {**query, "wait": 1}
