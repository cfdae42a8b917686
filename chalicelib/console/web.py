"""The console's plumbing: one blueprint, the page decorator (session, role, CSRF, headers),
form parsing and rendering. Every console route is declared through `page`.

`page` resolves the session (core/console.py rules), refuses a role that may
not see the page with a Japanese 403 page, refuses a POST whose CSRF token is
missing or wrong before the view runs (so it changes nothing), and gives
every answer the same headers: a CSP without scripts, `Cache-Control:
no-store`, nosniff, no framing. It also records each route for /openapi.json.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from chalice.app import Blueprint, Request, Response

from chalicelib import runtime
from chalicelib.core import access
from chalicelib.core import console as rules
from chalicelib.core.errors import StoreBusy
from chalicelib.core.ports import Desk
from chalicelib.core.staff import StaffMember
from chalicelib.http.request import header, origin_of

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# An uploaded roster CSV of a few hundred rows fits easily, and so does its text posted
# back urlencoded (up to nine bytes a Japanese character) by the apply form.
MAX_FORM_BYTES = 4 * 1_048_576

ROLE_LABELS = {"admin": "管理者 / admin", "staff": "職員 / staff"}
# What a page says after a redirect (`?done=<key>`): fixed texts, never an echo of input.
NOTICES = {
    "created": "登録しました。 / Created.",
    "saved": "保存しました。 / Saved.",
    "unchanged": "変更はありませんでした。 / Nothing changed.",
    "activated": "有効にしました。 / Activated.",
    "deactivated": "無効にしました。 / Deactivated.",
    "applied": "CSVの内容を反映しました。 / The CSV was applied.",
    "cancelled": "取り込みを取り消しました。何も変更されていません。 / Import cancelled.",
    "acted": "操作を実行しました。経過に記録されています。 / Done: see the timeline.",
}


@dataclass(frozen=True)
class PageDoc:
    """What /openapi.json says about one console route."""

    path: str
    method: str
    summary: str
    role: access.Role | None  # None: reachable without a session (sign-in)
    content_type: str | None  # of the request body (POST)
    fields: tuple[str, ...]
    statuses: tuple[int, ...]


PAGES: list[PageDoc] = []


@dataclass(frozen=True)
class ConsoleUser:
    member: StaffMember
    session_digest: str
    csrf: str
    actor: access.Actor

    @property
    def role(self) -> str:
        return self.member.role

    @property
    def is_admin(self) -> bool:
        return access.allows(self.member.role, "admin")


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass
class Ctx:
    """One console request: the request, the invocation's desk, the person, the form."""

    request: Request
    desk: Desk
    user: ConsoleUser | None
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[-1] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def query(self, name: str, default: str = "") -> str:
        params = self.request.query_params
        if params is None or name not in params:
            return default
        values = params.getlist(name)
        return str(values[-1]) if values else default

    @property
    def csrf(self) -> str:
        return self.user.csrf if self.user else ""


class SignedOut(Exception):
    """No usable session: sign in again (the reason decides the message shown)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(Exception):
    """An answer that ends the request with a page (403, 404, 409, 413 ...)."""

    def __init__(self, status: int, heading: str, message: str) -> None:
        super().__init__(heading)
        self.status = status
        self.heading = heading
        self.message = message


NOT_ALLOWED = (
    "この画面を使う権限がありません",
    "この画面は管理者の役割の方だけが使えます。必要な場合は、事務局の管理者に依頼してください。"
    " / Only admins may use this page.",
)
CSRF_REFUSED = (
    "送信を受け付けられませんでした",
    "フォームの確認用の値がないか、一致しませんでした（画面を開いてから時間がたった、別のサイトから送られた等）。"
    "何も変更されていません。画面を開き直してから、もう一度操作してください。"
    " / The form's check value was missing or wrong: nothing was changed.",
)


def security_headers() -> dict[str, str | list[str]]:
    """The form's headers, stricter: no script at all, never framed, never cached."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def root(desk: Desk) -> str:
    """The stage's base path ("/api" behind API Gateway's stage, "" locally): every link,
    redirect and cookie path of the console starts with it."""
    return urlsplit(desk.settings.public_base_url or "").path.rstrip("/")


def cookie(desk: Desk, name: str, value: str, max_age: int) -> str:
    return rules.set_cookie(
        name, value, max_age=max_age, secure=secure_cookies(desk), root=root(desk)
    )


def expired_cookie(desk: Desk, name: str) -> str:
    return rules.clear_cookie(name, secure=secure_cookies(desk), root=root(desk))


def secure_cookies(desk: Desk) -> bool:
    """Secure cookies everywhere but plain-http local stacks (a browser would drop them)."""
    return desk.settings.public_base_url.lower().startswith("https://")


def render(ctx: Ctx, template: str, status: int = 200, **context: Any) -> Response:
    # Imported here: only console requests render these pages (cold start).
    from chalicelib.templating import environment, label_lookup

    context.setdefault("notice", NOTICES.get(ctx.query("done"), ""))
    body = (
        environment()
        .get_template(f"console/{template}.html")
        .render(
            desk={"name": ctx.desk.settings.desk_name},
            root=root(ctx.desk),
            user=ctx.user,
            csrf=ctx.csrf,
            role_labels=ROLE_LABELS,
            label=label_lookup(ctx.desk.deployment),
            path=ctx.request.context.get("resourcePath", "") if ctx.request.context else "",
            **context,
        )
    )
    return Response(body=body, status_code=status, headers=security_headers())


def redirect(ctx: Ctx, location: str, **query: str) -> Response:
    target = root(ctx.desk) + location + ("?" + urlencode(query) if query else "")
    headers: dict[str, str | list[str]] = {**security_headers(), "Location": target}
    return Response(body="", status_code=303, headers=headers)


def message_page(ctx: Ctx, status: int, heading: str, message: str) -> Response:
    return render(ctx, "message", status, heading=heading, message=message)


# -- sessions ---------------------------------------------------------------------


def load_user(request: Request, desk: Desk) -> ConsoleUser:
    """The signed-in person, or SignedOut (no cookie, unknown, idle, expired, deactivated)."""
    value = rules.cookie_value(header(request, "cookie"), rules.SESSION_COOKIE)
    if not value or not rules.well_formed(value):
        raise SignedOut("none")
    session_digest = rules.digest(value)
    store = runtime.console_store()
    record = store.session(session_digest)
    if record is None:
        raise SignedOut("none")
    now_epoch = int(desk.now.timestamp())
    state = rules.session_state(record, now_epoch, desk.settings.console_idle_minutes)
    if state != "active":
        store.end_session(session_digest)
        raise SignedOut(state)
    member = rules.member_by_id(runtime.directory().members, record.staff_id)
    if member is None:
        store.end_session(session_digest)
        raise SignedOut("none")
    if rules.needs_touch(record, now_epoch):
        store.touch(session_digest, now_epoch)
    request_id = str((request.context or {}).get("requestId") or uuid.uuid4().hex)
    return ConsoleUser(
        member=member,
        session_digest=session_digest,
        csrf=record.csrf,
        actor=rules.actor_of(member, request_id),
    )


def _unsaved_page(ctx: Ctx, reason: str) -> Response:
    """A form sent after the session ended (idle over lunch, say) changes nothing, and the
    person gets back what they typed to copy after signing in again: never a bare redirect
    that throws their work away. Tokens are left out; a chosen file must be chosen again."""
    try:
        fields, files = parse_form(ctx.request)
    except Refused:
        fields, files = {}, {}
    typed = [
        (name, value)
        for name, values in fields.items()
        if name != rules.CSRF_FIELD and not name.endswith("token")
        for value in values
        if value.strip()
    ]
    return render(
        ctx,
        "unsaved",
        401,
        reason=reason,
        typed=typed,
        files=sorted(files),
    )


# -- forms ------------------------------------------------------------------------


def _body(request: Request) -> bytes:
    declared = header(request, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise Refused(
            413,
            "ファイルが大きすぎます",
            f"{MAX_FORM_BYTES // 1_048_576} MB までにしてください。何も変更されていません。",
        )
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_FORM_BYTES:
        raise Refused(
            413,
            "ファイルが大きすぎます",
            f"{MAX_FORM_BYTES // 1_048_576} MB までにしてください。何も変更されていません。",
        )
    return raw


def parse_form(request: Request) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    """The posted fields (urlencoded or multipart) and uploaded files."""
    raw = _body(request)
    content_type = header(request, "content-type") or ""
    if content_type.split(";")[0].strip().lower() != MULTIPART:
        text = raw.decode("utf-8", errors="replace")
        return parse_qs(text, keep_blank_values=True), {}
    # The standard library's MIME parser reads multipart/form-data (RFC 7578 is MIME).
    # Imported here: only uploads need it (cold start of every function).
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, list[str]] = {}
    files: dict[str, Upload] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = Upload(filename=str(filename), data=data)
        else:
            fields.setdefault(name, []).append(data.decode("utf-8", errors="replace"))
    return fields, files


def _same_origin(request: Request, desk: Desk) -> bool:
    """A post from the console's own pages (or a browser hiding the origin: `null`, none)."""
    sent = header(request, "origin")
    if sent is None or sent == "null":
        return True
    return origin_of(sent, bare=True) == origin_of(desk.settings.public_base_url or "")


# -- the decorator ----------------------------------------------------------------


def page(
    path: str,
    *,
    method: str = "GET",
    summary: str,
    role: access.Role | None,
    fields: tuple[str, ...] = (),
    content_type: str | None = None,
    statuses: tuple[int, ...] = (200,),
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Declare a console route: its role (None: before sign-in), CSRF on POST, headers, doc."""
    if not path.startswith("/console"):
        raise ValueError(f"console pages live under /console: {path}")
    body_type = content_type or (FORM if method == "POST" else None)
    PAGES.append(PageDoc(path, method.lower(), summary, role, body_type, fields, statuses))

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def handle(*args: Any, **kwargs: Any) -> Response:
            request = bp.current_request
            desk = runtime.desk()
            ctx = Ctx(request=request, desk=desk, user=None)
            try:
                if role is not None:
                    ctx.user = load_user(request, desk)
                if method == "POST":
                    ctx.fields, ctx.files = parse_form(request)
                    if role is not None and (
                        not _same_origin(request, desk)
                        or not rules.same(ctx.get(rules.CSRF_FIELD), ctx.csrf)
                    ):
                        log.info("console: refused a post without a valid CSRF token")
                        raise Refused(403, *CSRF_REFUSED)
                if role is not None and ctx.user and not access.allows(ctx.user.role, role):
                    raise Refused(403, *NOT_ALLOWED)
                response = view(ctx, *args, **kwargs)
            except SignedOut as exc:
                if method == "POST":
                    response = _unsaved_page(ctx, exc.reason)
                else:
                    reason = {"reason": exc.reason} if exc.reason != "none" else {}
                    response = redirect(ctx, "/console/signin", **reason)
                response.headers["Set-Cookie"] = expired_cookie(desk, rules.SESSION_COOKIE)
                response.headers["Cache-Control"] = "no-store"
                return response
            except Refused as exc:
                response = message_page(ctx, exc.status, exc.heading, exc.message)
            except StoreBusy:
                response = message_page(
                    ctx,
                    503,
                    "ただいま混み合っています",
                    "何も変更されていません。少し待ってから、もう一度お試しください。",
                )
            if ctx.cookies:
                response.headers["Set-Cookie"] = (
                    ctx.cookies[0] if len(ctx.cookies) == 1 else list(ctx.cookies)
                )
            for name, value in security_headers().items():
                response.headers.setdefault(name, value)
            response.headers["Cache-Control"] = "no-store"
            return response

        options: dict[str, Any] = {"methods": [method]}
        if body_type:
            options["content_types"] = [body_type]
        bp.route(path, **options)(handle)
        return view

    return decorate
