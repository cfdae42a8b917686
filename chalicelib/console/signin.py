"""Sign-in by mail, sign-out, the console's home page and its stylesheet.

The address form answers the same page whether the address is on the staff
list or not (only the mail differs), and counts every request against the
address and the client, listed or not, so neither the answer nor the rate
limit tells who is listed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from chalice.app import Response

from chalicelib import runtime
from chalicelib.console.web import (
    Ctx,
    Refused,
    bp,
    cookie,
    expired_cookie,
    message_page,
    page,
    redirect,
    render,
)
from chalicelib.core import console as rules
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.deskmail import desk_receipt_number
from chalicelib.core.errors import VersionConflict
from chalicelib.core.receipt import JST
from chalicelib.core.timefmt import iso
from chalicelib.http.request import client_id, header

log = logging.getLogger(__name__)

# name → (file under templates/, type): the console's styles and the report charts' styles.
STATIC_FILES = {
    "console.css": ("static/console.css", "text/css; charset=utf-8"),
    "charts.css": ("charts/charts.css", "text/css; charset=utf-8"),
}
MAX_ADDRESS = 254

REASONS = {
    "idle": "しばらく操作がなかったため、サインアウトしました。もう一度サインインしてください。",
    "expired": "サインインの有効時間が過ぎました。もう一度サインインしてください。",
    "signedout": "サインアウトしました。",
    "none": "",
}

LINK_UNUSABLE = (
    "このリンクは使えません",
    "サインイン用のリンクが正しくないか、使用済みか、有効期限が切れています。"
    "サインイン画面でメールアドレスを入力し、新しいリンクを受け取ってください。"
    " / This sign-in link is invalid, used or expired: ask for a new one.",
)


def _pre_token(ctx: Ctx) -> str:
    """The double-submit token of the forms shown before sign-in (set as a cookie if new)."""
    held = rules.cookie_value(header(ctx.request, "cookie"), rules.PRESIGN_COOKIE)
    if held and rules.well_formed(held):
        return held
    fresh = rules.new_secret()
    ctx.cookies.append(cookie(ctx.desk, rules.PRESIGN_COOKIE, fresh, 86400))
    return fresh


def _check_pre_token(ctx: Ctx) -> None:
    held = rules.cookie_value(header(ctx.request, "cookie"), rules.PRESIGN_COOKIE)
    if not rules.same(ctx.get(rules.CSRF_FIELD), held):
        from chalicelib.console.web import CSRF_REFUSED

        raise Refused(403, *CSRF_REFUSED)


@page("/console", summary="管理コンソールのホーム / The console's home page", role="staff")
def home(ctx: Ctx) -> Response:
    return render(ctx, "home")


@page(
    "/console/signin",
    summary="サインイン：メールアドレスの入力 / Sign-in: ask for a link by mail",
    role=None,
)
def signin_form(ctx: Ctx) -> Response:
    reason = REASONS.get(ctx.query("reason"), "")
    return render(ctx, "signin", pre=_pre_token(ctx), reason=reason, error="", address="")


def _valid_address(address: str) -> bool:
    local, at, domain = address.partition("@")
    return bool(at and local and "." in domain and len(address) <= MAX_ADDRESS) and not any(
        ch.isspace() for ch in address
    )


@page(
    "/console/signin",
    method="POST",
    summary=(
        "サインイン用リンクをメールで送る（登録の有無にかかわらず同じ画面） / Mail a one-time "
        "sign-in link (the same answer whether the address is listed or not)"
    ),
    role=None,
    fields=("email", "csrf"),
    statuses=(200, 403, 422, 429),
)
def signin_request(ctx: Ctx) -> Response:
    _check_pre_token(ctx)
    address = rules.normalized_address(ctx.get("email"))
    if not _valid_address(address):
        return render(
            ctx,
            "signin",
            422,
            pre=ctx.get(rules.CSRF_FIELD),
            reason="",
            error="メールアドレスの形式が正しくありません。例: staff-a@example.jp",
            address=ctx.get("email")[:MAX_ADDRESS],
        )
    desk = ctx.desk
    now = desk.now
    hour = now.strftime("%Y-%m-%dT%H")
    keep_until = int((now + timedelta(hours=2)).timestamp())
    store = runtime.console_store()
    client = client_id(ctx.request) or "unknown"
    # Both counted for every request, listed or not: the limit says nothing about the list.
    allowed = store.count_attempt(
        rules.client_rate_key(client), hour, desk.settings.rate_limit_per_hour, keep_until
    ) and store.count_attempt(
        rules.address_rate_key(address),
        hour,
        desk.settings.console_signin_per_hour,
        keep_until,
    )
    if not allowed:
        response = message_page(
            ctx,
            429,
            "しばらく待ってからお試しください",
            "サインイン用のメールの依頼が続いたため、受け付けを一時停止しています。"
            "1時間ほど待ってから、もう一度お試しください。"
            " / Too many sign-in requests: try again in an hour.",
        )
        response.headers["Retry-After"] = "3600"
        return response
    member = rules.member_for(runtime.directory().members, address)
    if member is not None:
        _mail_link(ctx, member.staff_id, member.display_name, member.email)
    return render(ctx, "signin_sent", minutes=desk.settings.console_link_minutes)


def _mail_link(ctx: Ctx, staff_id: str, display_name: str, address: str) -> None:
    desk = ctx.desk
    settings = desk.settings
    now = desk.now
    secret = rules.new_secret()
    minutes = settings.console_link_minutes
    message = OutgoingMessage(
        template="console_signin",
        to=(address,),
        # The secret sits here only until the mail is sent (the outbox then drops the
        # context); the link record keeps only its digest.
        context={
            "url": f"{settings.base_url()}/console/signin/{secret}",
            "minutes": minutes,
            "display_name": display_name,
        },
    )
    runtime.console_store().put_link(
        rules.digest(secret),
        staff_id,
        now=iso(now),
        expires_at=int((now + timedelta(minutes=minutes)).timestamp()),
        message=message,
        receipt_number=desk_receipt_number("signin", now.astimezone(JST).date().isoformat()),
        mail_expires_at=int((now + timedelta(days=settings.mail_retention_days)).timestamp()),
    )
    log.info("console: sign-in link mailed to staff %s", staff_id)


def _usable(ctx: Ctx, token: str) -> bool:
    if not rules.well_formed(token):
        return False
    record = runtime.console_store().link(rules.digest(token))
    return (
        record is not None
        and "used_at" not in record
        and int(record["expires_at"]) > int(ctx.desk.now.timestamp())
    )


@page(
    "/console/signin/{token}",
    summary="メールのサインイン用リンク：ボタンのある確認画面（何も変更しない） / The mailed link: "
    "a page with the sign-in button; changes nothing",
    role=None,
    statuses=(200, 410),
)
def signin_link(ctx: Ctx, token: str) -> Response:
    if not _usable(ctx, token):
        response = message_page(ctx, 410, *LINK_UNUSABLE)
    else:
        response = render(ctx, "signin_link", pre=_pre_token(ctx), token=token)
    # The address holds the secret: it is never sent on as a referrer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@page(
    "/console/signin/{token}",
    method="POST",
    summary="サインインする（リンクは1回だけ有効） / Sign in (each link works once)",
    role=None,
    fields=("csrf",),
    statuses=(303, 403, 410),
)
def signin_use(ctx: Ctx, token: str) -> Response:
    _check_pre_token(ctx)
    if not rules.well_formed(token):
        return message_page(ctx, 410, *LINK_UNUSABLE)
    desk = ctx.desk
    store = runtime.console_store()
    link_digest = rules.digest(token)
    record = store.link(link_digest)
    now_epoch = int(desk.now.timestamp())
    member = (
        rules.member_by_id(runtime.directory().members, str(record["staff_id"])) if record else None
    )
    if member is None:
        return message_page(ctx, 410, *LINK_UNUSABLE)
    session_id = rules.new_secret()
    session = rules.new_session(member.staff_id, now_epoch, desk.settings.console_session_hours)
    try:
        store.use_link(link_digest, rules.digest(session_id), session, now_epoch)
    except VersionConflict:
        return message_page(ctx, 410, *LINK_UNUSABLE)
    log.info("console: staff %s signed in", member.staff_id)
    ctx.cookies.append(
        cookie(desk, rules.SESSION_COOKIE, session_id, desk.settings.console_session_hours * 3600)
    )
    return redirect(ctx, "/console")


@page(
    "/console/signout",
    method="POST",
    summary="サインアウト / Sign out",
    role="staff",
    fields=("csrf",),
    statuses=(303, 403),
)
def signout(ctx: Ctx) -> Response:
    assert ctx.user is not None
    runtime.console_store().end_session(ctx.user.session_digest)
    ctx.cookies.append(expired_cookie(ctx.desk, rules.SESSION_COOKIE))
    return redirect(ctx, "/console/signin", reason="signedout")


@bp.route("/console/static/{name}", methods=["GET"])
def console_static(name: str) -> Response:
    from chalicelib.templating import template_dir

    if name not in STATIC_FILES:
        return Response(
            body="Not found",
            status_code=404,
            headers={
                "Content-Type": "text/plain; charset=utf-8",
                "X-Content-Type-Options": "nosniff",
            },
        )
    return Response(
        body=(template_dir() / STATIC_FILES[name][0]).read_text(encoding="utf-8"),
        status_code=200,
        headers={
            "Content-Type": STATIC_FILES[name][1],
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
