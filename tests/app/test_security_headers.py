"""Every page the API serves carries its security headers: routes taken from the app's route table.

Each route (but /admin, whose pages are checked with the admin API) is
called through one or more recipes: the form's steps with good and bad
input, action links valid, used, refused, expired, tampered and foreign,
error pages, HEAD. A route without a recipe is still called with
placeholder values, so a new route cannot slip by unchecked; what comes
back as JSON or as a redirect is API, not a page, and is skipped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib import runtime
from chalicelib.core import actiontoken
from chalicelib.core.actiontoken import link_for
from chalicelib.core.lifecycle import Action
from chalicelib.intake import formtoken
from chalicelib.runtime import get_settings
from tests.conftest import local_stage_env, valid_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}
SKIPPED_PREFIXES = ("/admin",)


@dataclass
class Context:
    """What the recipes need: a stored case, links to it, a form token."""

    receipt: str
    links: dict[str, str] = field(default_factory=dict)


Recipe = Callable[[Any, Context], Any]


def form_token(age_seconds: int = 10) -> str:
    key_id, keys = get_settings().form_keys()
    return formtoken.sign(keys, key_id, int(time.time()) - age_seconds)


def form_body(payload: dict[str, Any], **control: str) -> str:
    pairs: list[tuple[str, str]] = []
    for name, value in payload.items():
        if isinstance(value, list):
            pairs.extend((name, v) for v in value)
        elif value is True:
            pairs.append((name, "true"))
        elif value not in (None, False):
            pairs.append((name, str(value)))
    return urlencode([*pairs, *control.items()])


def action_path(ctx: Context, action: Action, staff: str = "staff-a@dx-desk.example.jp") -> str:
    url = link_for(
        get_settings(),
        action=action,
        receipt_number=ctx.receipt,
        recipient=staff,
        now=runtime.now(),
    )
    return "/actions/" + url.rsplit("/", 1)[1]


def expired_path(ctx: Context) -> str:
    key_id, keys = get_settings().link_keys()
    token = actiontoken.sign(
        keys,
        key_id,
        purpose="case:take",
        receipt_number=ctx.receipt,
        recipient=actiontoken.recipient_id("staff-a@dx-desk.example.jp", keys[key_id]),
        expires_at=int((runtime.now() - timedelta(minutes=1)).timestamp()),
    )
    return f"/actions/{token}"


def get(path: str, **headers: str) -> Recipe:
    return lambda client, ctx: client.http.get(path, headers=headers)


def post_form(path: str, body: Callable[[], str], **headers: str) -> Recipe:
    return lambda client, ctx: client.http.post(path, headers={**FORM, **headers}, body=body())


def on_link(method: str, pick: Callable[[Context], str], **headers: str) -> Recipe:
    def call(client: Any, ctx: Context) -> Any:
        path = pick(ctx)
        if method == "POST":
            return client.http.post(path, headers={**FORM, **headers}, body="note=")
        return getattr(client.http, method.lower())(path, headers=headers)

    return call


def valid_form(**control: str) -> Callable[[], str]:
    return lambda: form_body(valid_payload(), form_token=form_token(), website="", **control)


RECIPES: dict[tuple[str, str], dict[str, Recipe]] = {
    ("/health", "GET"): {"health": get("/health")},
    ("/consultations", "POST"): {
        "bad json": lambda c, ctx: c.http.post("/consultations", headers=JSON, body="{"),
    },
    ("/consultations", "OPTIONS"): {},  # chalice.test crashes on OPTIONS (PLATFORM.md); JSON
    ("/form", "GET"): {"redirect": get("/form")},
    ("/form/input", "GET"): {
        "ja": get("/form/input"),
        "en": get("/form/input?lang=en"),
        "embedded": get("/form/input?embed=1"),
    },
    ("/form/confirm", "POST"): {
        "valid": post_form("/form/confirm", valid_form()),
        "invalid fields": post_form("/form/confirm", lambda: form_body({"name": "x"})),
        "no token": post_form("/form/confirm", lambda: form_body(valid_payload())),
        "non-ASCII token": post_form(
            "/form/confirm", lambda: form_body(valid_payload(), form_token="v1.local1.1.é.x")
        ),
        "foreign origin": post_form("/form/confirm", valid_form(), Origin="https://evil.example"),
        "too large": post_form("/form/confirm", lambda: "message=" + "x" * 140_000),
        "unreadable": post_form("/form/confirm", lambda: "%ff%fe=%ff"),
    },
    ("/form/submit", "POST"): {
        "done": post_form("/form/submit", valid_form(action="send")),
        "back": post_form("/form/submit", valid_form(action="back")),
        "bot": post_form(
            "/form/submit",
            lambda: form_body(valid_payload(), form_token=form_token(0), website="spam"),
        ),
        "expired token": post_form(
            "/form/submit",
            lambda: form_body(valid_payload(), form_token=form_token(10**6), website=""),
        ),
    },
    ("/form/check", "POST"): {
        "check": lambda c, ctx: c.http.post("/form/check", headers=JSON, body="{}"),
    },
    ("/form/static/{name}", "GET"): {
        "css": get("/form/static/form.css"),
        "js": get("/form/static/form.js"),
        "embed": get("/form/static/embed.js"),
        "unknown": get("/form/static/nope.html"),
    },
    ("/actions/{token}", "GET"): {
        "confirm": on_link("GET", lambda ctx: ctx.links["take"]),
        "refused transition": on_link("GET", lambda ctx: ctx.links["close"]),
        "tampered": on_link("GET", lambda ctx: ctx.links["take"][:-3] + "AAA"),
        "non-ASCII": on_link("GET", lambda ctx: "/actions/a1.local1.é.x"),
        "garbage": on_link("GET", lambda ctx: "/actions/not-a-token"),
        "expired": on_link("GET", expired_path),
    },
    ("/actions/{token}", "HEAD"): {
        "confirm": on_link("HEAD", lambda ctx: ctx.links["take"]),
        "tampered": on_link("HEAD", lambda ctx: ctx.links["take"][:-3] + "AAA"),
    },
    ("/actions/{token}", "POST"): {
        "acted": on_link("POST", lambda ctx: ctx.links["hearing"]),
        "already used": on_link("POST", lambda ctx: ctx.links["hearing"]),
        "illegal now": on_link("POST", lambda ctx: ctx.links["spam"]),
        "foreign origin": on_link(
            "POST", lambda ctx: ctx.links["take"], Origin="https://evil.example"
        ),
        "tampered": on_link("POST", lambda ctx: ctx.links["take"][:-3] + "AAA"),
        "expired": on_link("POST", expired_path),
    },
}
# Paths no route matches: answered by API Gateway (Chalice mimics it), never by a page of ours.
UNROUTED = {"unknown path": get("/no/such/page"), "unknown form page": get("/form/nope")}


def routes() -> list[tuple[str, str]]:
    from app import app

    return sorted(
        (path, method)
        for path, methods in app.routes.items()
        for method in methods
        if not path.startswith(SKIPPED_PREFIXES)
    )


def placeholder_call(path: str, method: str) -> Recipe:
    """A call for a route nobody wrote a recipe for: placeholders and an empty body."""
    from app import app

    concrete = re.sub(r"\{[^}]+\}", "placeholder", path)
    content_type = app.routes[path][method].content_types[0]

    def call(client: Any, ctx: Context) -> Any:
        if method in ("GET", "HEAD", "DELETE"):
            return getattr(client.http, method.lower())(concrete)
        return getattr(client.http, method.lower())(
            concrete, headers={"Content-Type": content_type}, body=""
        )

    return call


def directives(csp: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            found[words[0].lower()] = words[1:]
    return found


def is_page(response: Any) -> bool:
    """An HTML document (not JSON, plain text, a script, a style or a redirect)."""
    content_type = response.headers.get("Content-Type", "")
    return content_type.startswith("text/html") and not 300 <= response.status_code < 400


def is_json(response: Any) -> bool:
    return str(response.headers.get("Content-Type", "")).startswith("application/json")


def page_problems(path: str, method: str, response: Any) -> list[str]:
    problems: list[str] = []
    headers = response.headers
    csp = headers.get("Content-Security-Policy")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    if not csp:
        return [*problems, "no Content-Security-Policy"]
    policy = directives(csp)
    scripts = policy.get("script-src", policy.get("default-src"))
    if scripts is None:
        problems.append("neither script-src nor default-src")
    else:
        hashed = any(s.startswith(("'sha256-", "'sha384-", "'sha512-", "'nonce-")) for s in scripts)
        if "'unsafe-inline'" in scripts and not hashed:
            problems.append("script-src allows 'unsafe-inline'")
        if "'unsafe-eval'" in scripts:
            problems.append("script-src allows 'unsafe-eval'")
    for name, sources in policy.items():
        if name in ("frame-ancestors", "form-action"):
            continue
        foreign = [
            s
            for s in sources
            if s not in ("'self'", "'none'", "data:") and not s.startswith("'sha")
        ]
        if foreign:
            problems.append(f"{name} allows {foreign} (third-party or inline resources)")
    ancestors = set(policy.get("frame-ancestors", []))
    if path.startswith("/form"):
        allowed = {"'self'", *filter(None, local_stage_env()["ALLOWED_ORIGINS"].split(","))}
        if ancestors != allowed:
            problems.append(f"form frame-ancestors {sorted(ancestors)}, not {sorted(allowed)}")
        if headers.get("Referrer-Policy") not in ("no-referrer", "same-origin"):
            problems.append(f"form Referrer-Policy {headers.get('Referrer-Policy')!r}")
    elif ancestors not in ({"'none'"}, {"'self'"}):
        problems.append(f"frame-ancestors {sorted(ancestors)} (expected 'none')")
    if path.startswith("/actions") and headers.get("Referrer-Policy") != "no-referrer":
        problems.append(f"action page Referrer-Policy {headers.get('Referrer-Policy')!r}")
    if "no-store" not in headers.get("Cache-Control", ""):
        problems.append(f"Cache-Control {headers.get('Cache-Control')!r}, not no-store")
    body = response.body.decode("utf-8", "replace") if response.body else ""
    if method == "HEAD" and body:
        problems.append("HEAD answered with a body")
    if headers.get("Content-Type", "").startswith("text/html") and method != "HEAD":
        problems += markup_problems(body)
    return problems


def markup_problems(body: str) -> list[str]:
    problems = []
    for tag in re.findall(r"<script\b[^>]*>", body, re.I):
        if "src=" not in tag:
            problems.append("inline <script> (CSP would block it)")
    if re.search(r"<[^>]+\son[a-z]+\s*=", body, re.I):
        problems.append("inline event handler attribute")
    if re.search(r"<[^>]+\sstyle\s*=", body, re.I):
        problems.append("inline style attribute (CSP would drop it)")
    if re.search(r"javascript:", body, re.I):
        problems.append("javascript: URL")
    for url in re.findall(r"<(?:script|link|img|iframe)\b[^>]*\s(?:src|href)=\"([^\"]*)\"", body):
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//", url, re.I) and not url.startswith("data:"):
            problems.append(f"resource from elsewhere: {url}")
    return problems


@pytest.fixture
def context(client: Any) -> Context:
    import json

    response = client.http.post("/consultations", headers=JSON, body=json.dumps(valid_payload()))
    assert response.status_code == 201
    ctx = Context(receipt=response.json_body["receipt_number"])
    ctx.links = {
        "take": action_path(ctx, Action.TAKE),
        "hearing": action_path(ctx, Action.START_HEARING),
        "spam": action_path(ctx, Action.MARK_SPAM),
        "close": action_path(ctx, Action.CLOSE),
    }
    return ctx


def test_every_page_of_every_route_carries_the_security_headers(
    client: Any, context: Context
) -> None:
    from app import app

    problems: list[str] = []
    pages = 0
    for path, method in routes():
        recipes = RECIPES.get((path, method))
        if recipes is None:
            recipes = {"placeholders": placeholder_call(path, method)}
        for name, recipe in recipes.items():
            response = recipe(client, context)
            assert response.status_code < 500, (path, method, name, response.status_code)
            if is_page(response):
                pages += 1
                problems += [
                    f"{method} {path} ({name}, {response.status_code}): {problem}"
                    for problem in page_problems(path, method, response)
                ]
            elif (
                response.body
                and not is_json(response)
                and response.headers.get("X-Content-Type-Options") != "nosniff"
            ):
                # Plain-text errors, scripts and styles: never sniffed into something else.
                problems.append(f"{method} {path} ({name}): no nosniff")
    for name, recipe in UNROUTED.items():
        response = recipe(client, context)
        assert not is_page(response), (name, response.status_code, response.headers)
        assert response.status_code in (403, 404), (name, response.status_code)
    assert problems == [], "\n".join(problems)
    assert pages >= 25, pages  # the walk reached the pages, not only error answers
    assert {(p, m) for p, m in routes()} <= {
        (p, m) for p, methods in app.routes.items() for m in methods
    }


def test_the_recipes_name_only_routes_that_exist() -> None:
    """A recipe for a renamed or removed route would test nothing: the table must follow the app."""
    assert set(RECIPES) <= set(routes())


def test_the_checks_catch_what_they_look_for() -> None:
    """The checker itself: a page with each fault is reported."""

    class Page:
        status_code = 200

        def __init__(self, headers: dict[str, str], body: str = "<p>x</p>") -> None:
            self.headers = {"Content-Type": "text/html; charset=utf-8", **headers}
            self.body = body.encode()

    good = {
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    assert page_problems("/actions/{token}", "GET", Page(good)) == []
    faults = {
        "no Content-Security-Policy": {"Content-Security-Policy": ""},
        "'unsafe-inline'": {
            "Content-Security-Policy": "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        },
        "third-party": {
            "Content-Security-Policy": "default-src 'none'; script-src https://cdn.example; frame-ancestors 'none'"
        },
        "frame-ancestors": {"Content-Security-Policy": "default-src 'none'; frame-ancestors *"},
        "nosniff": {"X-Content-Type-Options": ""},
        "no-store": {"Cache-Control": "max-age=60"},
        "Referrer-Policy": {"Referrer-Policy": "origin"},
    }
    for expected, change in faults.items():
        found = page_problems("/actions/{token}", "GET", Page({**good, **change}))
        assert any(expected in problem for problem in found), (expected, found)
    markup = {
        "inline <script>": "<script>alert(1)</script>",
        "event handler": '<img src="a.png" onerror="x()">',
        "inline style": '<p style="color:red">',
        "elsewhere": '<script src="https://cdn.example/x.js"></script>',
    }
    for expected, body in markup.items():
        found = page_problems("/actions/{token}", "GET", Page(good, body))
        assert any(expected in problem for problem in found), (expected, found)


def test_tokens_in_links_never_reach_the_logs(
    client: Any, context: Context, caplog: pytest.LogCaptureFixture
) -> None:
    """A token in a log line would let whoever reads the logs act as the staff member."""
    import logging

    from infra.local.resources import load_template

    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="chalicelib")
    tokens = [context.links["take"], context.links["hearing"], expired_path(context)]
    for path in tokens:
        client.http.get(path)
        client.http.head(path)
        client.http.post(path, headers=FORM, body="note=")
        client.http.post(path, headers=FORM, body="note=")  # used already
        client.http.get(path[:-3] + "AAA")  # tampered
    assert caplog.records, "the walk logged nothing: the check would prove nothing"
    logged = caplog.text
    for path in tokens:
        token = path.rsplit("/", 1)[1]
        for part in (token, *token.split(".")[2:]):
            assert part not in logged
    # API Gateway must not write request paths (which hold tokens) to its own logs either.
    for resource in load_template()["Resources"].values():
        properties = resource.get("Properties", {})
        for setting in properties.get("MethodSettings", []):
            assert not setting.get("DataTraceEnabled"), setting
        access_log = str(properties.get("AccessLogSetting", {}).get("Format", ""))
        assert "$context.path" not in access_log and "$context.resourcePath" not in access_log


def every_route_once(client: Any, context: Context, admin: dict[str, str]) -> list[Any]:
    """One answer from every route of the app (admin routes with an admin token), and an error."""
    from app import app

    answers = []
    for path, methods in sorted(app.routes.items()):
        for method in methods:
            if method == "OPTIONS":
                continue  # chalice.test cannot send it (PLATFORM.md)
            recipes = RECIPES.get((path, method))
            if recipes:
                answers.append(next(iter(recipes.values()))(client, context))
                continue
            concrete = re.sub(r"\{[^}]+\}", "placeholder", path)
            headers = {**admin} if path.startswith("/admin") else dict(JSON)
            body = "{}" if method in ("POST", "PUT") else ""
            answers.append(client.http.request(method, concrete, headers=headers, body=body))
    answers.append(client.http.request("PATCH", "/health", headers=JSON, body=""))  # a 405
    return answers


def test_https_stages_send_hsts_on_every_answer_and_local_http_does_not(
    client: Any,
    context: Context,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # make dev and these tests: plain http, where HSTS means nothing and would only mislead.
    local = every_route_once(client, context, admin_headers)
    assert [a.headers.get("Strict-Transport-Security") for a in local] == [None] * len(local)
    # A deployed stage: PUBLIC_BASE_URL is https (infra/resources.yaml requires it).
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://desk.example.jp/api")
    deployed = every_route_once(client, context, admin_headers)
    assert len(deployed) >= 40
    missing = [
        (a.status_code, a.headers.get("Content-Type"))
        for a in deployed
        if a.headers.get("Strict-Transport-Security") != "max-age=31536000"
    ]
    assert missing == []
    # Framing is controlled by CSP frame-ancestors (it can list several origins); the
    # older X-Frame-Options cannot, and is not sent (docs/api.md "The consultation form").
    form = client.http.get("/form/input")
    assert "frame-ancestors 'self' http://127.0.0.1:8000" in form.headers["Content-Security-Policy"]
    assert all("X-Frame-Options" not in a.headers for a in [*deployed, form])
